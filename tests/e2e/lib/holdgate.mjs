// holdgate itself (build/holdgate): `serve` as a managed process on free ports (its --ready-file
// gives {"mcp": URL, "review": URL}), or `stdio` as a command for an SDK StdioClientTransport.
import fs from 'node:fs';
import path from 'node:path';
import { HOLDGATE_BIN } from './paths.mjs';
import { makeOutputDir, startProcess } from './process.mjs';

export function assertHoldgateBuilt() {
  if (!fs.existsSync(HOLDGATE_BIN)) {
    throw new Error(`${HOLDGATE_BIN} is missing: build it first (scripts/build.sh) or set HOLDGATE_BUILD_DIR`);
  }
}

// Flags shared by serve and stdio. upstreamCmd: one string ("CMD ARGS…"); upstreamUrl: a URL.
function commonArgs({ upstreamCmd, upstreamUrl, policy, db, config, reviewListen = '127.0.0.1:0' }, outDir) {
  const args = [];
  if (config) args.push('--config', config);
  if (upstreamCmd) args.push('--upstream-cmd', upstreamCmd);
  if (upstreamUrl) args.push('--upstream-url', upstreamUrl);
  if (policy) args.push('--policy', policy);
  args.push('--db', db ?? path.join(outDir, 'holdgate.db'));
  if (reviewListen) args.push('--review-listen', reviewListen);
  return args;
}

// Starts `holdgate serve` with both listeners on free loopback ports.
// options: upstreamCmd | upstreamUrl, policy, db, config, extraArgs [], env {}, name, outDir.
// Returns { mcp, review, proc, outDir, db, stop() }.
export async function startHoldgateServe(options = {}) {
  assertHoldgateBuilt();
  const name = options.name ?? 'holdgate-serve';
  const outDir = options.outDir ?? makeOutputDir(name);
  const readyFile = path.join(outDir, `${name}.ready.json`);
  const db = options.db ?? path.join(outDir, 'holdgate.db');
  const args = ['serve', '--mcp-listen', options.mcpListen ?? '127.0.0.1:0',
    ...commonArgs({ ...options, db }, outDir), '--ready-file', readyFile, ...(options.extraArgs ?? [])];
  const proc = startProcess(name, HOLDGATE_BIN, args, { env: options.env ?? {}, outDir });
  const ready = await proc.waitForJsonFile(readyFile, { timeoutMs: options.readyTimeoutMs ?? 20000 });
  return { mcp: ready.mcp, review: ready.review, proc, outDir, db, stop: () => proc.stop() };
}

// `holdgate stdio …` as { command, args, outDir, db } for connectStdio().
export function holdgateStdioCommand(options = {}) {
  assertHoldgateBuilt();
  const outDir = options.outDir ?? makeOutputDir(options.name ?? 'holdgate-stdio');
  const db = options.db ?? path.join(outDir, 'holdgate.db');
  const args = ['stdio', ...commonArgs({ ...options, db }, outDir), ...(options.extraArgs ?? [])];
  return { command: HOLDGATE_BIN, args, outDir, db };
}
