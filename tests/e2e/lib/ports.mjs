// Free loopback ports and waiting for a port to accept connections.
import net from 'node:net';
import { waitFor } from './process.mjs';

// A port that was free a moment ago: bind 127.0.0.1:0, read the port, close.
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

// True when something accepts a TCP connection on host:port.
export function canConnect(port, host = '127.0.0.1') {
  return new Promise((resolveConn) => {
    const socket = net.connect({ port, host });
    const done = (ok) => { socket.destroy(); resolveConn(ok); };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// Waits until host:port accepts connections; `proc` (optional) fails the wait early if it exits.
export async function waitForPort(port, { host = '127.0.0.1', timeoutMs = 15000, proc } = {}) {
  await waitFor(() => canConnect(port, host), {
    timeoutMs,
    what: `${host}:${port} to accept connections`,
    failIf: proc ? () => proc.failureReason() : undefined,
  });
}
