// Preload (NODE_OPTIONS="--require .../bind-localhost.cjs") that makes every net/http server listen on
// 127.0.0.1 unless the caller names a host. server-everything has no host option and would otherwise
// bind all interfaces.
'use strict';
const net = require('node:net');

const HOST = process.env.BIND_HOST || '127.0.0.1';
const originalListen = net.Server.prototype.listen;

net.Server.prototype.listen = function listen(...args) {
  const first = args[0];
  if (args.length === 0 || typeof first === 'function') {
    // listen() / listen(cb): an ephemeral port.
    return originalListen.call(this, 0, HOST, ...args);
  }
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb])
    if (typeof args[1] !== 'string') return originalListen.call(this, first, HOST, ...args.slice(1));
    return originalListen.apply(this, args);
  }
  if (first && typeof first === 'object' && !Array.isArray(first) &&
      first.path === undefined && first.fd === undefined && first.handle === undefined &&
      first._handle === undefined && first.host === undefined) {
    // listen({port, ...}[, cb])
    return originalListen.call(this, { ...first, host: HOST }, ...args.slice(1));
  }
  return originalListen.apply(this, args);
};
