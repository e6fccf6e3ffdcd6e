// Child processes for tests: each runs in its own process group with stdout/stderr in a log file,
// and is killed (the whole group) when the test stops it, and again on exit of the test process
// whatever happened (failed assertion, uncaught error, SIGINT/SIGTERM from the runner).
// Waiting is by polling a condition against a deadline, never by fixed sleeps.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { OUTPUT_DIR } from './paths.mjs';

const liveGroups = new Set();  // pids of process-group leaders we started
const livePids = new Set();    // pids of processes started by others (e.g. the SDK's stdio transport)

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try { process.kill(pid, signal); return true; } catch { return false; }
  }
}

function killAllNow() {
  for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  for (const pid of livePids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  liveGroups.clear();
  livePids.clear();
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAllNow();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

// Makes sure `pid` (a process someone else spawned) is killed when the test process exits.
export function trackPid(pid) {
  if (pid) livePids.add(pid);
  return pid;
}
export function untrackPid(pid) {
  livePids.delete(pid);
}

let dirCounter = 0;
// A fresh directory under tests/e2e/output/ for one test's logs, ready files and counters.
export function makeOutputDir(name) {
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  const safe = String(name).replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60);
  const dir = path.join(OUTPUT_DIR, `${safe}-${process.pid}-${++dirCounter}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// Polls `condition` (sync or async) until it returns a truthy value, which is returned. Throws when
// `timeoutMs` passes or when `failIf()` returns a truthy value (a reason string or true).
export async function waitFor(condition, { timeoutMs = 10000, intervalMs = 20, what = 'condition', failIf } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    const failure = failIf ? failIf() : undefined;
    if (failure) throw new Error(`gave up waiting for ${what}: ${failure === true ? 'fail condition met' : failure}`);
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastError ? ` (last error: ${lastError.message})` : ''));
    }
    await delay(intervalMs);
  }
}

// Reads and parses a JSON file; undefined when it is absent or not yet complete.
export function readJsonFile(file) {
  let text;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return undefined; }
  try { return JSON.parse(text); } catch { return undefined; }
}

export class ManagedProcess {
  constructor(name, child, logFile) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.logFile = logFile;
    this.exitCode = null;
    this.signal = null;
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        liveGroups.delete(this.pid);
        resolveExit({ code, signal });
      });
    });
    this.spawnError = null;
    child.once('error', (error) => { this.spawnError = error; });
  }

  get running() {
    return this.exitCode === null && this.signal === null && !this.spawnError;
  }

  // Last `lines` lines of the process's combined output.
  logTail(lines = 30) {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '';
    }
  }

  // A reason string once the process has died (for waitFor's failIf), else undefined.
  failureReason() {
    if (this.spawnError) return `${this.name} failed to start: ${this.spawnError.message}`;
    if (this.running) return undefined;
    return `${this.name} exited (code ${this.exitCode}, signal ${this.signal}); log ${this.logFile}:\n${this.logTail()}`;
  }

  // Waits until `file` holds complete JSON (written atomically by the process) and returns it.
  async waitForJsonFile(file, { timeoutMs = 15000 } = {}) {
    return waitFor(() => readJsonFile(file), {
      timeoutMs,
      what: `${this.name} to write ${file}`,
      failIf: () => this.failureReason(),
    });
  }

  // SIGTERM to the process group, SIGKILL after `graceMs`. Resolves once the leader has exited.
  async stop({ graceMs = 3000 } = {}) {
    this.child.ref();  // keep the event loop alive until the exit is seen
    if (!this.running) {
      killGroup(this.pid, 'SIGKILL');  // stragglers of the group, if any
      return this.exited;
    }
    killGroup(this.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(this.pid, 'SIGKILL'), graceMs);
    const result = await this.exited;
    clearTimeout(timer);
    killGroup(this.pid, 'SIGKILL');
    return result;
  }

  kill(signal = 'SIGKILL') {
    killGroup(this.pid, signal);
  }

  // Resolves when the process exits by itself (keeps the event loop alive meanwhile).
  waitForExit() {
    this.child.ref();
    return this.exited;
  }
}

// Starts `command args` in its own process group, output appended to `<outDir>/<name>.log`.
// options: env (merged over process.env), cwd, outDir, stdin ('ignore' | 'pipe').
export function startProcess(name, command, args = [], { env = {}, cwd, outDir, stdin = 'ignore' } = {}) {
  const dir = outDir ?? makeOutputDir(name);
  const logFile = path.join(dir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: [stdin, fd, fd],
    detached: true,  // own process group, so stop() reaches grandchildren too
  });
  fs.closeSync(fd);
  if (child.pid) liveGroups.add(child.pid);
  child.unref();  // a process a test forgot to stop must not keep the runner alive; exit kills it
  return new ManagedProcess(name, child, logFile);
}
