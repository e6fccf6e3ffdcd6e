// The demo upstream (build/holdgate-demo-upstream): started over Streamable HTTP as a managed
// process, or described as a stdio command for a client or for `holdgate --upstream-cmd`.
import fs from 'node:fs';
import path from 'node:path';
import { DEMO_UPSTREAM_BIN } from './paths.mjs';
import { makeOutputDir, readJsonFile, startProcess, waitFor } from './process.mjs';

export const DEMO_TOOL_NAMES = Object.freeze(
  ['start_job', 'list_jobs', 'check_job_status', 'cancel_job', 'slow_echo', 'whoami', 'stats']);

function demoArgs({ countersFile, pageSize, extraTools, sse, logLevel } = {}) {
  const args = [];
  if (countersFile) args.push('--counters-file', countersFile);
  if (pageSize) args.push('--page-size', String(pageSize));
  if (extraTools) args.push('--extra-tools', String(extraTools));
  if (sse) args.push('--sse', sse);
  if (logLevel) args.push('--log-level', logLevel);
  return args;
}

export function assertDemoBuilt() {
  if (!fs.existsSync(DEMO_UPSTREAM_BIN)) {
    throw new Error(`${DEMO_UPSTREAM_BIN} is missing: build it first (scripts/build.sh) or set HOLDGATE_BUILD_DIR`);
  }
}

// Counters of a demo upstream, read from its --counters-file.
export class DemoCounters {
  constructor(file) { this.file = file; }
  read() { return readJsonFile(this.file); }
  // Waits until predicate(counters) holds; returns the counters.
  async waitFor(predicate, what = 'counters', timeoutMs = 10000) {
    return waitFor(() => { const c = this.read(); return c && predicate(c) ? c : undefined; },
      { timeoutMs, what: `${what} in ${this.file} (now ${JSON.stringify(this.read())})` });
  }
}

// Starts the demo upstream over HTTP on a free port. Returns
// { url, pid, proc, counters: DemoCounters, countersFile, outDir, stop() }.
// options: pageSize, extraTools, sse ('auto'|'always'|'never'), logLevel, outDir, name.
export async function startDemoHttp(options = {}) {
  assertDemoBuilt();
  const name = options.name ?? 'demo-upstream-http';
  const outDir = options.outDir ?? makeOutputDir(name);
  const readyFile = path.join(outDir, `${name}.ready.json`);
  const countersFile = options.countersFile ?? path.join(outDir, `${name}.counters.json`);
  const args = ['--http', '127.0.0.1:0', '--ready-file', readyFile, ...demoArgs({ ...options, countersFile })];
  const proc = startProcess(name, DEMO_UPSTREAM_BIN, args, { outDir });
  const ready = await proc.waitForJsonFile(readyFile);
  return {
    url: ready.url,
    pid: ready.pid,
    proc,
    outDir,
    countersFile,
    counters: new DemoCounters(countersFile),
    stop: () => proc.stop(),
  };
}

// The demo upstream as a stdio server: { command, args, countersFile, counters, outDir, commandLine }.
// `commandLine` is the single string for `holdgate serve --upstream-cmd`.
export function demoStdioCommand(options = {}) {
  assertDemoBuilt();
  const outDir = options.outDir ?? makeOutputDir(options.name ?? 'demo-upstream-stdio');
  const countersFile = options.countersFile ?? path.join(outDir, 'demo-upstream-stdio.counters.json');
  const args = ['--stdio', ...demoArgs({ ...options, countersFile })];
  const quote = (s) => (/^[A-Za-z0-9_./:=@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return {
    command: DEMO_UPSTREAM_BIN,
    args,
    outDir,
    countersFile,
    counters: new DemoCounters(countersFile),
    commandLine: [DEMO_UPSTREAM_BIN, ...args].map(quote).join(' '),
  };
}

// The JSON a demo tool returned (its one text block holds pretty-printed JSON).
export function demoJson(result) {
  const block = result?.content?.find((c) => c.type === 'text');
  if (!block) throw new Error(`no text content in ${JSON.stringify(result)}`);
  return JSON.parse(block.text);
}

// Starts a 10-minute demo job labelled `label` through `client`; returns its job_id. `tool`: the
// name start_job has for that client (with an upstream's prefix behind several upstreams).
export async function startJob(client, label, tool = 'start_job') {
  const result = await client.callTool({ name: tool, arguments: { duration_ms: 600000, label } });
  if (result.isError) throw new Error(`start_job failed: ${JSON.stringify(result)}`);
  return demoJson(result).job_id;
}
