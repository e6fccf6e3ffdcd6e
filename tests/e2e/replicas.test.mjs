// Three holdgate replicas on one PostgreSQL database behind HAProxy (round robin; 2025 sessions
// sticky by Mcp-Session-Id, as the README's "Running several replicas" configures it), with the
// real SDK clients and the reviewer CLI:
//   1. a v1 SDK client's held call through the balancer is approved by `holdgate approve` on a
//      replica other than the one holding it, and runs once (the demo upstream counts calls);
//   2. a replica holding calls is killed with SIGKILL during a decide storm (API and CLI
//      reviewers through the balancer; its own calls are decided after the kill): every approval
//      is decided once, every call runs at most once, the cut-off agents' identical retries
//      through the balancer get an answer, and `holdgate audit verify --db postgresql://…` passes;
//   3. `holdgate audit archive --db postgresql://…` while the replicas run, then `audit verify
//      --archive` passes, and a plain DELETE on audit_events still fails;
//   4. a 2026-07-28 task-held call is polled with tasks/get that lands on different replicas.
// Needs haproxy on PATH and the test PostgreSQL (HOLDGATE_TEST_PG_URL, started by scripts/test.sh);
// FAILS without either. One demo upstream serves all replicas, so its counters count every run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import {
  HOLDGATE_BIN, connectHttp, demoJson, freePort, heldCall, makeOutputDir, startDemoHttp, startHoldgateServe,
  startProcess, textOf, waitFor,
} from './lib/index.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';
import { reviewApi } from './lib/review-api.mjs';
import { raw } from './lib/raw-2026.mjs';

const run = promisify(execFile);
const REPLICAS = 3;
const REPLICA_HEADER = 'x-holdgate-replica';  // set by the balancer: which replica answered

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const file = path.join(dir || '.', name);
    try { fs.accessSync(file, fs.constants.X_OK); return file; } catch { /* next */ }
  }
  return undefined;
}

// The test server's URL with its database name replaced by `db`.
function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

function psql(url, sql) {
  const r = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql ${sql}: ${r.error?.message ?? ''} ${r.stderr}`);
}

// The README's configuration with loopback ports, plus a response header naming the replica.
function haproxyConfig(replicas, mcpPort, reviewPort) {
  const servers = (port, check) => replicas.map((r, i) =>
    `  server r${i} 127.0.0.1:${port(r)} check${check(r)} inter 300 fall 2 rise 2\n`).join('');
  return 'global\n  maxconn 4096\n'
    + 'defaults\n  mode http\n  timeout connect 2s\n  timeout client 10m\n  timeout server 10m\n'
    + '  option redispatch\n  retries 3\n  retry-on conn-failure\n'
    + `frontend mcp\n  bind 127.0.0.1:${mcpPort}\n  default_backend holdgate_mcp\n`
    + `frontend review\n  bind 127.0.0.1:${reviewPort}\n  default_backend holdgate_review\n`
    + 'backend holdgate_mcp\n  balance roundrobin\n  option httpchk GET /healthz\n'
    + '  stick-table type string len 128 size 100k expire 1h\n'
    + '  stick on req.hdr(mcp-session-id)\n  stick store-response res.hdr(mcp-session-id)\n'
    + `  http-response set-header X-Holdgate-Replica %[srv_name]\n`
    + servers((r) => r.mcpPort, (r) => ` port ${r.reviewPort}`)
    + 'backend holdgate_review\n  balance roundrobin\n  option httpchk GET /healthz\n'
    + `  http-response set-header X-Holdgate-Replica %[srv_name]\n`
    + servers((r) => r.reviewPort, () => '');
}

function portOf(url) {
  return Number(new URL(url).port);
}

// holdgate_holds_open of one replica (its /metrics is public).
async function holdsOpen(review) {
  const text = await (await fetch(new URL('/metrics', review))).text();
  const line = text.split('\n').find((l) => l.startsWith('holdgate_holds_open '));
  return line ? Number(line.split(' ')[1]) : 0;
}

// An agent through the balancer: a v1 SDK client whose fetch notes the replica that answered.
async function lbAgent(url, name) {
  const agent = { replica: undefined };
  const conn = await connectHttp(url, {
    name,
    reconnect: false,  // a stream cut by a dead replica ends the call; the agent retries it itself
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      agent.replica = res.headers.get(REPLICA_HEADER) ?? agent.replica;
      return res;
    },
  });
  return Object.assign(agent, conn);
}

describe('three replicas on PostgreSQL behind HAProxy', { timeout: 120000 }, () => {
  const cleanups = [];
  let dir, dbUrl, secret, admin, demo, lb;
  const replicas = [];

  const lbApi = (method, p, body) => reviewApi(lb.review, admin, method, p, body);
  async function pendingFor(jobId) {
    return waitFor(async () => {
      const r = await lbApi('GET', '/api/approvals?state=pending&tool=cancel_job&limit=500');
      assert.equal(r.status, 200, r.text);
      return r.body.approvals.find((a) => a.arguments?.job_id === jobId);
    }, { timeoutMs: 10000, what: `a pending approval for job ${jobId}` });
  }
  async function startJob(client, label) {
    const r = await client.callTool({ name: 'start_job', arguments: { duration_ms: 600000, label } });
    assert.notEqual(r.isError, true, JSON.stringify(r));
    return demoJson(r).job_id;
  }
  async function cli(args, token) {
    try {
      await run(HOLDGATE_BIN, [...args, `--token=${token}`], { timeout: 20000 });
      return 0;
    } catch (e) {
      return typeof e.code === 'number' ? e.code : -1;
    }
  }

  before(async () => {
    const haproxy = findOnPath('haproxy');
    assert.ok(haproxy, 'haproxy is not on PATH: this test runs three replicas behind it (scripts/deps.sh --test installs it)');
    const server = process.env.HOLDGATE_TEST_PG_URL;
    assert.ok(server, 'HOLDGATE_TEST_PG_URL is not set: this test runs against PostgreSQL '
      + '(scripts/test.sh starts a throwaway server with scripts/pg_throwaway.sh and exports it)');
    const dbName = `hg_e2e_${process.pid}_${Date.now()}`;
    psql(server, `CREATE DATABASE ${dbName}`);
    cleanups.push(() => psql(server, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
    dbUrl = withDatabase(server, dbName);
    // The schema made beforehand, as an owner role would (README, "Least privilege").
    const migrated = spawnSync(HOLDGATE_BIN, ['db', 'migrate', '--db', dbUrl], { encoding: 'utf8' });
    assert.equal(migrated.status, 0, migrated.stdout + migrated.stderr);
    assert.match(migrated.stdout, /schema of the database is current/);

    dir = makeOutputDir('replicas');
    const policy = path.join(dir, 'policy.json');
    fs.writeFileSync(policy, JSON.stringify({
      version: '1',
      default: 'deny',
      tools: {
        start_job: {},
        cancel_job: {
          action: 'require_approval',
          reason: 'Cancelling a job cannot be undone.',
          approval: { approvers: 1, timeout: '10m', hold: '60s', on_timeout: 'reject' },
        },
      },
    }));
    // A short lease: a call left `executing` by the killed replica is failed by the survivors in
    // seconds, so an agent's retry attached to it gets its answer within the test.
    const config = path.join(dir, 'holdgate.json');
    fs.writeFileSync(config, JSON.stringify({ database: { executing_lease: '2s', change_poll: '200ms' } }));
    secret = newJwtSecret();
    admin = await mintToken(secret, { sub: 'root', role: 'admin' });

    demo = await startDemoHttp({ name: 'replicas-demo', outDir: dir });
    cleanups.push(() => demo.stop());
    const started = await Promise.all(Array.from({ length: REPLICAS }, (_, i) => startHoldgateServe({
      name: `replica-${i}`, outDir: dir, upstreamUrl: demo.url, policy, config, db: dbUrl,
      env: { HOLDGATE_JWT_SECRET: secret },
    })));
    for (const r of started) {
      replicas.push(r);
      cleanups.push(() => r.stop());
    }
    const mcpPort = await freePort();
    const reviewPort = await freePort();
    const cfg = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(cfg, haproxyConfig(
      replicas.map((r) => ({ mcpPort: portOf(r.mcp), reviewPort: portOf(r.review) })), mcpPort, reviewPort));
    const proc = startProcess('haproxy', haproxy, ['-db', '-f', cfg], { outDir: dir });
    cleanups.push(() => proc.stop());
    lb = { mcp: `http://127.0.0.1:${mcpPort}/mcp`, review: `http://127.0.0.1:${reviewPort}` };
    // Every replica in both rotations (the health checks passed twice).
    await waitFor(async () => {
      const seen = new Set();
      for (let i = 0; i < 2 * REPLICAS; ++i) {
        const res = await fetch(new URL('/healthz', lb.review));
        if (res.status === 200) seen.add(res.headers.get(REPLICA_HEADER));
      }
      return seen.size === REPLICAS;
    }, { timeoutMs: 10000, what: 'every replica behind the balancer', failIf: () => proc.failureReason() });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('a held call through the balancer, approved by the CLI on another replica, runs once', async (t) => {
    const agent = await lbAgent(lb.mcp, 'lb-agent');
    t.after(() => agent.close());
    const before = demo.counters.read()?.cancel_job_calls ?? 0;
    const jobId = await startJob(agent.client, 'cli-elsewhere');
    const call = heldCall(agent.client, 'cancel_job', { job_id: jobId });
    const approval = await pendingFor(jobId);
    const holder = await waitFor(async () => {
      const open = await Promise.all(replicas.map((r) => holdsOpen(r.review)));
      const i = open.findIndex((n) => n === 1);
      return i >= 0 && open.reduce((a, b) => a + b, 0) === 1 ? { i } : undefined;
    }, { what: 'the replica holding the call' });
    assert.equal(`r${holder.i}`, agent.replica, 'the sticky session holds the call');
    const other = replicas[(holder.i + 1) % REPLICAS];
    const token = await mintToken(secret, { sub: 'carol', role: 'reviewer' });
    assert.equal(await cli(['approve', approval.id, '--reason', 'from another replica', `--url=${other.review}`], token), 0);
    const result = await call;
    assert.notEqual(result.isError, true, textOf(result));
    assert.match(textOf(result), /cancelled/);
    await demo.counters.waitFor((c) => c.cancel_job_calls === before + 1, 'one cancel_job call');
    const detail = await lbApi('GET', `/api/approvals/${approval.id}`);
    assert.equal(detail.body.state, 'completed');
  });

  it('a replica holding calls is killed during a decide storm: nothing is decided twice', async (t) => {
    const JOBS = 6;
    const beforeCalls = demo.counters.read()?.cancel_job_calls ?? 0;
    const agents = [];
    for (let i = 0; i < JOBS; ++i) {
      const agent = await lbAgent(lb.mcp, `storm-agent-${i}`);
      agents.push(agent);
      t.after(() => agent.close().catch(() => {}));
      agent.job = await startJob(agent.client, `storm-${i}`);
      agent.abort = new AbortController();
      agent.call = heldCall(agent.client, 'cancel_job', { job_id: agent.job }, { signal: agent.abort.signal });
      agent.call.then((r) => { agent.result = r; }, () => {});  // one cut off by the kill is retried below
    }
    const ids = new Map();  // approval id -> job
    for (const agent of agents) ids.set((await pendingFor(agent.job)).id, agent.job);
    const victim = agents[0].replica;
    assert.ok(victim);
    const cutOff = agents.filter((a) => a.replica === victim);

    // Three reviewers per approval at once through the balancer: one with the CLI, two with the
    // API. One whose request died with the replica tries again (a repeated vote changes nothing).
    let decided = 0;
    const storm = [];
    const reviewersOf = (id) => {
      for (let j = 0; j < 3; ++j) {
        storm.push((async () => {
          const token = await mintToken(secret, { sub: `storm-${id}-${j}`, role: 'reviewer' });
          for (let attempt = 0; attempt < 50; ++attempt) {
            let status;
            if (j === 0) {
              const code = await cli(['approve', id, '--reason', 'storm', `--url=${lb.review}`], token);
              status = code === 0 ? 200 : code === 4 ? 409 : 500;
            } else {
              status = await reviewApi(lb.review, token, 'POST', `/api/approvals/${id}/approve`, { reason: 'storm' })
                .then((r) => r.status, () => 0);
            }
            if (status === 200) { decided += 1; return; }
            if (status === 409) return;
            await delay(100);  // until the balancer has taken the dead replica out
          }
          throw new Error(`reviewer ${j} of ${id} got no answer`);
        })());
        storm.at(-1).catch(() => {});  // reported by Promise.all below, not as unhandled
      }
    };
    // The victim's approvals are decided once it is dead, while the storm on the others goes on:
    // its agents are cut off while their calls are held.
    const victimIds = [...ids].filter(([, job]) => cutOff.some((a) => a.job === job)).map(([id]) => id);
    for (const id of ids.keys()) if (!victimIds.includes(id)) reviewersOf(id);
    await waitFor(() => decided >= 2, { timeoutMs: 15000, what: 'two approvals decided' });
    replicas[Number(victim.slice(1))].proc.kill('SIGKILL');
    for (const id of victimIds) reviewersOf(id);
    await Promise.all(storm);

    // The agents cut off retry the identical call through the balancer: it re-attaches to the
    // approval (and runs it, or answers with its outcome). When the killed replica had completed
    // the call before the kill, the identical call is a new request: a new approval, rejected here.
    let retried = 0;
    const answers = agents.map((agent) => {
      const answer = cutOff.includes(agent) && !agent.result ? (async () => {
        retried += 1;
        agent.abort.abort();
        const retry = await lbAgent(lb.mcp, `retry-${agent.job}`);
        t.after(() => retry.close().catch(() => {}));
        return heldCall(retry.client, 'cancel_job', { job_id: agent.job });
      })() : agent.call;
      return answer.finally(() => { agent.settled = true; });
    });
    let rejectedRetries = 0;
    const deadline = Date.now() + 60000;  // a call left executing answers after the 2 s lease
    for (;;) {
      assert.ok(Date.now() < deadline, `agents still without an answer: ${agents.filter((a) => !a.settled).map((a) => a.job)}`);
      const listed = await lbApi('GET', '/api/approvals?state=pending&limit=500');
      assert.equal(listed.status, 200, listed.text);
      for (const a of listed.body.approvals) {
        assert.ok(!ids.has(a.id), `${a.id} is still pending after the storm`);
        assert.ok(cutOff.some((c) => c.job === a.arguments.job_id), `${a.id} is not a cut-off agent's retry`);
        const r = await lbApi('POST', `/api/approvals/${a.id}/reject`, { reason: 'ran before the kill' });
        assert.equal(r.status, 200, r.text);
        rejectedRetries += 1;
      }
      if (agents.every((a) => a.settled)) break;
      await delay(100);
    }
    for (const [i, answer] of (await Promise.all(answers)).entries()) assert.ok(answer?.content, `agent ${i} got an answer`);
    assert.equal(retried, cutOff.length, 'the victim held its calls when it was killed');
    assert.ok(rejectedRetries <= cutOff.length);
    t.diagnostic(`killed ${victim} holding ${cutOff.length} calls; ${retried} retried, ${rejectedRetries} of them as new approvals`);

    // Each approval was decided once, each call ran at most once, and ran when it completed.
    let completed = 0;
    for (const [id] of ids) {
      const detail = (await lbApi('GET', `/api/approvals/${id}`)).body;
      assert.equal(detail.votes.length, 1, JSON.stringify(detail));
      assert.ok(['completed', 'failed'].includes(detail.state), detail.state);
      completed += detail.state === 'completed';
    }
    const calls = demo.counters.read().cancel_job_calls - beforeCalls;
    assert.ok(calls >= completed && calls <= JOBS, `${calls} cancel_job calls for ${completed} completed approvals`);
    const verify = spawnSync(HOLDGATE_BIN, ['audit', 'verify', '--db', dbUrl], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });

  it('audit archive --db postgresql://… while the replicas run; audit verify --archive passes', async () => {
    const archive = path.join(dir, 'audit-1.jsonl');
    const archived = spawnSync(HOLDGATE_BIN, ['audit', 'archive', '--db', dbUrl, '--through-seq', '10', '--out', archive,
      '--json'], { encoding: 'utf8' });
    assert.equal(archived.status, 0, archived.stdout + archived.stderr);
    const report = JSON.parse(archived.stdout);
    assert.equal(report.first_seq, 1);
    assert.equal(report.last_seq, 10);
    // The replicas go on appending to the one chain after the audit.archived event.
    const agent = await lbAgent(lb.mcp, 'after-archive');
    try {
      await startJob(agent.client, 'after-archive');
    } finally {
      await agent.close();
    }
    const verify = spawnSync(HOLDGATE_BIN, ['audit', 'verify', '--db', dbUrl, '--archive', archive], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /starts after archive anchor seq 10/);
    // Everything else stays append-only.
    assert.throws(() => psql(dbUrl, 'DELETE FROM audit_events WHERE seq = 11'), /append-only/);
  });

  it('a 2026-07-28 task-held call is polled on different replicas and completes', async () => {
    const caps = { extensions: { 'io.modelcontextprotocol/tasks': {} } };
    const started = await raw(lb.mcp, 'tools/call', { name: 'start_job', arguments: { duration_ms: 600000, label: 'task' } });
    const jobId = demoJson(started.json.result).job_id;
    const created = await raw(lb.mcp, 'tools/call', { name: 'cancel_job', arguments: { job_id: jobId } }, { capabilities: caps });
    const task = created.json.result;
    assert.equal(task.resultType, 'task', JSON.stringify(task));
    const answeredBy = new Set();
    for (let i = 0; i < 4; ++i) {
      const got = await raw(lb.mcp, 'tasks/get', { taskId: task.taskId }, { capabilities: caps });
      assert.equal(got.json.result?.status, 'working', JSON.stringify(got.json));
      answeredBy.add(got.headers.get(REPLICA_HEADER));
    }
    assert.ok(answeredBy.size >= 2, `tasks/get answered by ${[...answeredBy]}`);
    const d = await lbApi('POST', `/api/approvals/${task.taskId}/approve`, { reason: 'task on any replica' });
    assert.equal(d.status, 200, d.text);
    const done = await waitFor(async () => {
      const g = await raw(lb.mcp, 'tasks/get', { taskId: task.taskId }, { capabilities: caps });
      return g.json.result?.status === 'completed' ? g.json.result : undefined;
    }, { what: 'the task completed' });
    assert.match(textOf(done.result), /cancelled/);
  });
});
