// The 2026-07-28 test server (server-2026.mjs) as a managed process on a free loopback port.
import { BIND_LOCALHOST_CJS } from './paths.mjs';
import { freePort, waitForPort } from './ports.mjs';
import { makeOutputDir, startProcess } from './process.mjs';

const SERVER_JS = new URL('./server-2026.mjs', import.meta.url).pathname;

// mode: 'reject' (2026-07-28 only) or 'stateless' (both eras). Returns { url, proc, stop() }.
export async function startServer2026(mode, name) {
  const port = await freePort();
  const proc = startProcess(name, process.execPath, [SERVER_JS, mode, String(port)], {
    env: { NODE_OPTIONS: `--require ${BIND_LOCALHOST_CJS}` }, outDir: makeOutputDir(name),
  });
  await waitForPort(port, { proc });
  return { url: `http://127.0.0.1:${port}/mcp`, proc, stop: () => proc.stop() };
}
