// @modelcontextprotocol/server-everything, the reference MCP server: over Streamable HTTP (bound to
// 127.0.0.1 by the bind-localhost.cjs preload, PORT from a free port) or as a stdio command.
import { BIND_LOCALHOST_CJS, EVERYTHING_JS } from './paths.mjs';
import { freePort, waitForPort } from './ports.mjs';
import { makeOutputDir, startProcess } from './process.mjs';

// Client capabilities with which server-everything lists all its 16 tools (13 without them).
export const EVERYTHING_FULL_CAPS = Object.freeze({ sampling: {}, roots: {}, elicitation: {} });
export const EVERYTHING_TOOL_COUNT_FULL = 16;
export const EVERYTHING_TOOL_COUNT_BASIC = 13;

function preloadEnv() {
  const existing = process.env.NODE_OPTIONS ? `${process.env.NODE_OPTIONS} ` : '';
  return { NODE_OPTIONS: `${existing}--require ${BIND_LOCALHOST_CJS}` };
}

// Starts server-everything over Streamable HTTP. Returns { url, port, proc, stop() }.
export async function startEverythingHttp({ name = 'everything-http', outDir } = {}) {
  const port = await freePort();
  const proc = startProcess(name, process.execPath, [EVERYTHING_JS, 'streamableHttp'], {
    env: { ...preloadEnv(), PORT: String(port) },
    outDir: outDir ?? makeOutputDir(name),
  });
  await waitForPort(port, { proc });
  return { url: `http://127.0.0.1:${port}/mcp`, port, proc, stop: () => proc.stop() };
}

// server-everything as a stdio server: { command, args, env, commandLine }.
export function everythingStdioCommand() {
  return {
    command: process.execPath,
    args: [EVERYTHING_JS, 'stdio'],
    env: {},
    commandLine: `${process.execPath} ${EVERYTHING_JS} stdio`,
  };
}
