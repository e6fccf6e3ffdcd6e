// MCP 2026-07-28 on holdgate's agent side, with the v2 SDK (@modelcontextprotocol/client 2.4.0)
// and raw JSON-RPC over fetch:
//   1. a pinned 2026-07-28 client, an `auto` client and a legacy (2025) v2 client list and call
//      tools through holdgate in front of the demo upstream (a 2025 server), and a held call from a
//      pinned client is approved through the review API and returns its result;
//   2. the HTTP rules of the revision: -32020 on header/body disagreement, -32022 with
//      data.supported, removed methods -32601 (with the request's id), tasks/* without the
//      extension -32021, resultType "complete" on what holdgate answers itself;
//   3. a held call as a task (io.modelcontextprotocol/tasks), polled by raw tasks/get: working ->
//      completed with the tool result; rejected -> completed + isError with the reason; tasks/cancel
//      withdraws the approval; the task survives a holdgate restart;
//   4. a 2025-11-25 agent sees execution.taskSupport "optional" on held tools;
//   5. a pinned 2026 client through holdgate in front of server-everything (a 2025 server).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  DEMO_POLICY, connectHttp, demoJson, demoStdioCommand, makeOutputDir, startEverythingHttp, startHoldgateServe, waitFor,
} from './lib/index.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';
import { TASKS, V2026, raw } from './lib/raw-2026.mjs';

// The demo policy, with a hold long enough that an approval in a test always beats the deferral.
function writePolicy(dir) {
  const policy = {
    version: '1',
    default: 'deny',
    tools: {
      start_job: {},
      list_jobs: {},
      check_job_status: {},
      cancel_job: {
        action: 'require_approval',
        reason: 'Cancelling a job cannot be undone.',
        approval: { approvers: 1, timeout: '10m', hold: '40s', on_timeout: 'reject' },
      },
    },
  };
  const file = path.join(dir, 'policy-2026.json');
  fs.writeFileSync(file, JSON.stringify(policy));
  return file;
}

async function v2Client(url, negotiation) {
  const options = negotiation ? { versionNegotiation: negotiation } : {};
  const client = new Client({ name: 'e2e-v2', version: '2.4.0' }, options);
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function reviewApi(base, token, method, p, body) {
  const res = await fetch(new URL(p, base), {
    method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, text };
}

describe('MCP 2026-07-28 agents through holdgate (demo upstream, a 2025 server)', { timeout: 180000 }, () => {
  let dir, policy, secret, token, demo, hg;
  const cleanups = [];

  async function startGateway(name, db) {
    const server = await startHoldgateServe({
      name, upstreamCmd: demo.commandLine, policy, db, outDir: dir, env: { HOLDGATE_JWT_SECRET: secret },
    });
    cleanups.push(() => server.stop());
    return server;
  }
  const approvals = (q) => reviewApi(hg.review, token, 'GET', `/api/approvals?${q}`);
  const pendingFor = (jobId) => waitFor(async () => {
    const r = await approvals('state=pending&tool=cancel_job');
    assert.equal(r.status, 200, r.text);
    return r.body.approvals.find((a) => a.arguments?.job_id === jobId);
  }, { timeoutMs: 15000, what: `a pending approval for job ${jobId}` });
  const decide = (id, verb, reason) => reviewApi(hg.review, token, 'POST', `/api/approvals/${id}/${verb}`, { reason });
  async function startJob(label) {
    const r = await raw(hg.mcp, 'tools/call', { name: 'start_job', arguments: { duration_ms: 600000, label } });
    assert.equal(r.status, 200);
    assert.equal(r.json.result.resultType, 'complete');
    return demoJson(r.json.result).job_id;
  }

  before(async () => {
    dir = makeOutputDir('mcp-2026');
    policy = writePolicy(dir);
    secret = newJwtSecret();
    token = await mintToken(secret, { sub: 'alice', role: 'reviewer' });
    demo = demoStdioCommand({ name: 'mcp2026-demo' });
    hg = await startGateway('mcp2026-serve', path.join(dir, 'holdgate.db'));
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  });

  it('a pinned 2026-07-28 client lists and calls tools; auto negotiates 2026; legacy and v1 clients get 2025', async (t) => {
    const pinned = await v2Client(hg.mcp, { mode: { pin: V2026 } });
    t.after(() => pinned.close());
    assert.equal(pinned.getNegotiatedProtocolVersion(), V2026);
    const tools = (await pinned.listTools()).tools.map((x) => x.name);
    for (const n of ['start_job', 'list_jobs', 'cancel_job']) assert.ok(tools.includes(n), `${n} in ${tools}`);
    const listed = demoJson(await pinned.callTool({ name: 'list_jobs', arguments: {} }));
    assert.ok(Array.isArray(listed.jobs));
    const denied = await pinned.callTool({ name: 'slow_echo', arguments: { message: 'x' } });
    assert.equal(denied.isError, true, 'the policy still denies what it does not name');

    const auto = await v2Client(hg.mcp, { mode: 'auto' });
    t.after(() => auto.close());
    assert.equal(auto.getNegotiatedProtocolVersion(), V2026);
    assert.ok((await auto.listTools()).tools.length >= 3);

    const legacy = await v2Client(hg.mcp);
    t.after(() => legacy.close());
    assert.equal(legacy.getNegotiatedProtocolVersion(), '2025-11-25');
    assert.ok(Array.isArray(demoJson(await legacy.callTool({ name: 'list_jobs', arguments: {} })).jobs));

    const v1 = await connectHttp(hg.mcp);
    t.after(() => v1.close());
    const v1Tools = (await v1.client.listTools()).tools;
    const cancel = v1Tools.find((x) => x.name === 'cancel_job');
    assert.equal(cancel.execution?.taskSupport, 'optional', 'a held tool is marked task-capable for 2025-11-25');
    assert.equal(v1Tools.find((x) => x.name === 'list_jobs').execution?.taskSupport, undefined);
  });

  it('a held call from a pinned 2026 client is approved through the review API and returns its result', async () => {
    const pinned = await v2Client(hg.mcp, { mode: { pin: V2026 } });
    try {
      const jobId = await startJob('pinned-held');
      const call = pinned.callTool({ name: 'cancel_job', arguments: { job_id: jobId } })
        .then((r) => ({ r }), (e) => ({ e }));
      const approval = await pendingFor(jobId);
      const d = await decide(approval.id, 'approve', 'e2e 2026');
      assert.equal(d.status, 200, d.text);
      const { r, e } = await call;
      assert.ifError(e);
      assert.ok(!r.isError, JSON.stringify(r));
      assert.equal(demoJson(r).cancelled, true);
    } finally {
      await pinned.close();
    }
  });

  it('a held call from a legacy (2025-11-25) v2 client is approved and returns its result too', async () => {
    const legacy = await v2Client(hg.mcp);
    try {
      assert.equal(legacy.getNegotiatedProtocolVersion(), '2025-11-25');
      const jobId = await startJob('legacy-held');
      const call = legacy.callTool({ name: 'cancel_job', arguments: { job_id: jobId } }).then((r) => ({ r }), (e) => ({ e }));
      const approval = await pendingFor(jobId);
      assert.equal((await decide(approval.id, 'approve', 'e2e 2025')).status, 200);
      const { r, e } = await call;
      assert.ifError(e);
      assert.equal(demoJson(r).cancelled, true);
    } finally {
      await legacy.close();
    }
  });

  it('a 2025-11-25 v1 client task-augments the held tool on its own (taskSupport) and gets the result', async () => {
    const v1 = await connectHttp(hg.mcp);
    try {
      await v1.client.listTools();  // the client learns which tools support tasks
      const jobId = await startJob('v1-task');
      const seen = [];
      let approved = false;
      for await (const message of v1.client.experimental.tasks.callToolStream({ name: 'cancel_job', arguments: { job_id: jobId } })) {
        seen.push(message.type);
        if (message.type === 'taskCreated' && !approved) {
          const approval = await pendingFor(jobId);
          assert.equal((await decide(approval.id, 'approve', 'v1 task')).status, 200);
          approved = true;
        }
        if (message.type === 'error') assert.fail(JSON.stringify(message.error));
        if (message.type === 'result') assert.equal(demoJson(message.result).cancelled, true);
      }
      assert.equal(seen[0], 'taskCreated', seen.join(','));
      assert.equal(seen.at(-1), 'result', seen.join(','));
    } finally {
      await v1.close();
    }
  });

  it('header/body disagreements, unsupported versions and removed methods get the revision\'s errors', async () => {
    // Mcp-Name disagrees with params.name: -32020, HTTP 400, the request's id.
    let r = await raw(hg.mcp, 'tools/call', { name: 'list_jobs', arguments: {} }, { headers: { 'Mcp-Name': 'cancel_job' }, id: 'n1' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32020);
    assert.equal(r.json.id, 'n1');
    // Mcp-Method disagrees with the body.
    r = await raw(hg.mcp, 'tools/list', {}, { headers: { 'Mcp-Method': 'prompts/list' } });
    assert.equal(r.json.error.code, -32020);
    // MCP-Protocol-Version missing.
    r = await raw(hg.mcp, 'tools/list', {}, { headers: { 'MCP-Protocol-Version': undefined } });
    assert.equal(r.json.error.code, -32020);
    // A future revision: -32022 naming what holdgate serves.
    const body = { jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: {
      'io.modelcontextprotocol/protocolVersion': '2027-01-01', 'io.modelcontextprotocol/clientCapabilities': {} } } };
    const res = await fetch(hg.mcp, { method: 'POST', body: JSON.stringify(body), headers: {
      'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2027-01-01', 'Mcp-Method': 'tools/list' } });
    const j = await res.json();
    assert.equal(res.status, 400);
    assert.equal(j.error.code, -32022);
    assert.equal(j.id, 7);
    assert.ok(j.error.data.supported.includes(V2026) && j.error.data.supported.includes('2025-11-25'));
    // Removed methods: -32601 with the id.
    for (const m of ['ping', 'initialize', 'logging/setLevel', 'resources/subscribe', 'tasks/list', 'tasks/result']) {
      r = await raw(hg.mcp, m, m.startsWith('tasks/') ? { taskId: 'x' } : {}, { capabilities: { extensions: { [TASKS]: {} } }, id: `m-${m}` });
      assert.equal(r.json.error?.code, -32601, `${m}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.id, `m-${m}`);
    }
    // initialize (no envelope) with a 2026 header: -32020.
    r = await raw(hg.mcp, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      { envelope: false, headers: { 'MCP-Protocol-Version': V2026 } });
    assert.equal(r.json.error.code, -32020);
    // tasks/* without the extension: -32021.
    r = await raw(hg.mcp, 'tasks/get', { taskId: 'apr_x' });
    assert.equal(r.json.error.code, -32021);
    // server/discover: versions, the tasks extension, serverInfo, resultType.
    r = await raw(hg.mcp, 'server/discover', {});
    assert.equal(r.json.result.resultType, 'complete');
    assert.ok(r.json.result.supportedVersions.includes(V2026));
    assert.deepEqual(r.json.result.capabilities.extensions[TASKS], {});
    assert.equal(r.json.result.capabilities.tasks, undefined);
    assert.ok(r.json.result._meta['io.modelcontextprotocol/serverInfo'].name);
    // tools/list: resultType and the cache fields.
    r = await raw(hg.mcp, 'tools/list', {});
    assert.equal(r.json.result.resultType, 'complete');
    assert.equal(r.json.result.ttlMs, 0);
    assert.equal(r.json.result.cacheScope, 'private');
    assert.ok(r.json.result.tools.every((x) => x.execution === undefined));
  });

  it('a held call as a task: working with the approval named, then completed with the tool result', async () => {
    const caps = { extensions: { [TASKS]: {} } };
    const jobId = await startJob('task-approve');
    const created = await raw(hg.mcp, 'tools/call', { name: 'cancel_job', arguments: { job_id: jobId } }, { capabilities: caps });
    assert.equal(created.status, 200);
    const task = created.json.result;
    assert.equal(task.resultType, 'task', JSON.stringify(task));
    assert.equal(task.status, 'working');
    for (const k of ['taskId', 'statusMessage', 'createdAt', 'lastUpdatedAt', 'pollIntervalMs']) assert.ok(task[k], k);
    assert.ok('ttlMs' in task);
    const approval = await pendingFor(jobId);
    assert.equal(task.taskId, approval.id, 'the task is the approval');
    assert.match(task.statusMessage, new RegExp(approval.id));
    assert.match(task.statusMessage, /reviewer/);
    assert.match(task.statusMessage, /http:\/\//, 'names the review link');

    let got = await raw(hg.mcp, 'tasks/get', { taskId: task.taskId }, { capabilities: caps });
    assert.equal(got.json.result.status, 'working');
    assert.equal(got.json.result.resultType, 'complete');
    assert.equal(got.json.result.result, undefined);
    // Another principal cannot see it; here: an unknown id is -32602.
    got = await raw(hg.mcp, 'tasks/get', { taskId: 'apr_nope' }, { capabilities: caps });
    assert.equal(got.json.error.code, -32602);

    const d = await decide(approval.id, 'approve', 'task e2e');
    assert.equal(d.status, 200, d.text);
    const done = await waitFor(async () => {
      const g = await raw(hg.mcp, 'tasks/get', { taskId: task.taskId }, { capabilities: caps });
      return g.json.result?.status === 'completed' ? g.json.result : undefined;
    }, { timeoutMs: 15000, what: 'the task to complete' });
    assert.ok(!done.result.isError, JSON.stringify(done));
    assert.equal(demoJson(done.result).cancelled, true);
    assert.equal(demo.counters.read().cancel_job_calls >= 1, true);
    // Cancel after completion: the same empty ack.
    const ack = await raw(hg.mcp, 'tasks/cancel', { taskId: task.taskId }, { capabilities: caps });
    assert.deepEqual(ack.json.result, { resultType: 'complete' });
  });

  it('a rejected task completes with isError and the reviewer\'s reason; tasks/cancel withdraws the approval', async () => {
    const caps = { extensions: { [TASKS]: {} } };
    const before = demo.counters.read().cancel_job_calls;
    const jobA = await startJob('task-reject');
    const a = (await raw(hg.mcp, 'tools/call', { name: 'cancel_job', arguments: { job_id: jobA } }, { capabilities: caps })).json.result;
    assert.equal(a.resultType, 'task');
    await pendingFor(jobA);
    assert.equal((await decide(a.taskId, 'reject', 'not this one')).status, 200);
    const rejected = await waitFor(async () => {
      const g = await raw(hg.mcp, 'tasks/get', { taskId: a.taskId }, { capabilities: caps });
      return g.json.result?.status === 'completed' ? g.json.result : undefined;
    }, { what: 'the rejected task to complete' });
    assert.equal(rejected.result.isError, true);
    assert.match(rejected.result.content[0].text, /not this one/);

    const jobB = await startJob('task-cancel');
    const b = (await raw(hg.mcp, 'tools/call', { name: 'cancel_job', arguments: { job_id: jobB } }, { capabilities: caps })).json.result;
    await pendingFor(jobB);
    const ack = await raw(hg.mcp, 'tasks/cancel', { taskId: b.taskId }, { capabilities: caps });
    assert.deepEqual(ack.json.result, { resultType: 'complete' });
    const again = await raw(hg.mcp, 'tasks/cancel', { taskId: b.taskId }, { capabilities: caps });
    assert.deepEqual(again.json.result, { resultType: 'complete' }, 'idempotent');
    const cancelled = await waitFor(async () => {
      const g = await raw(hg.mcp, 'tasks/get', { taskId: b.taskId }, { capabilities: caps });
      return g.json.result?.status === 'cancelled' ? g.json.result : undefined;
    }, { what: 'the task to be cancelled' });
    assert.equal(cancelled.taskId, b.taskId);
    const row = await reviewApi(hg.review, token, 'GET', `/api/approvals/${b.taskId}`);
    assert.equal(row.body.state, 'cancelled');
    assert.equal(demo.counters.read().cancel_job_calls, before, 'neither call ran');
  });

  it('a task survives a holdgate restart: approved afterwards, polled to completion', async () => {
    const caps = { extensions: { [TASKS]: {} } };
    const jobId = await startJob('task-restart');
    const task = (await raw(hg.mcp, 'tools/call', { name: 'cancel_job', arguments: { job_id: jobId } }, { capabilities: caps })).json.result;
    assert.equal(task.resultType, 'task');
    await pendingFor(jobId);
    // The demo upstream is holdgate's child: a restart restarts it too, so the job is gone with it.
    // What must survive is the task: same id, approved after the restart, run once, completed.
    await hg.stop();
    hg = await startGateway('mcp2026-serve-2', path.join(dir, 'holdgate.db'));
    // The new process resumed the task's held call at start: approved now, it runs without any poll.
    assert.equal((await decide(task.taskId, 'approve', 'after restart')).status, 200);
    await waitFor(async () => {
      const row = await reviewApi(hg.review, token, 'GET', `/api/approvals/${task.taskId}`);
      return row.body.state === 'completed' ? row.body : undefined;
    }, { timeoutMs: 15000, what: 'the resumed task to run before any tasks/get' });
    const done = await waitFor(async () => {
      const g = await raw(hg.mcp, 'tasks/get', { taskId: task.taskId }, { capabilities: caps });
      return g.json.result?.status === 'completed' ? g.json.result : undefined;
    }, { timeoutMs: 15000, what: 'the task to complete after the restart' });
    // The restarted demo upstream does not know the job: the tool ran and said so.
    assert.ok(done.result.content?.length > 0, JSON.stringify(done));
    const row = await reviewApi(hg.review, token, 'GET', `/api/approvals/${task.taskId}`);
    assert.equal(row.body.state, 'completed');
  });
});

describe('a pinned 2026 client through holdgate in front of server-everything', { timeout: 90000 }, () => {
  it('discovers, lists and calls tools (the upstream stays 2025)', async (t) => {
    const everything = await startEverythingHttp();
    t.after(() => everything.stop());
    const hg = await startHoldgateServe({ name: 'mcp2026-everything', upstreamUrl: everything.url });
    t.after(() => hg.stop());
    const client = await v2Client(hg.mcp, { mode: { pin: V2026 } });
    t.after(() => client.close());
    assert.equal(client.getNegotiatedProtocolVersion(), V2026);
    const names = (await client.listTools()).tools.map((x) => x.name);
    assert.ok(names.includes('echo') && names.includes('get-sum'), names.join(','));
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'hi 2026' } });
    assert.equal(echo.content[0].text, 'Echo: hi 2026');
    const sum = await client.callTool({ name: 'get-sum', arguments: { a: 40, b: 2 } });
    assert.match(sum.content[0].text, /42/);
  });
});

describe('MRTR: an upstream question during a 2026 agent\'s call becomes input_required', { timeout: 90000 }, () => {
  let hg;
  before(async () => {
    const asking = path.join(path.dirname(new URL(import.meta.url).pathname), 'lib', 'asking-server.mjs');
    hg = await startHoldgateServe({ name: 'mcp2026-mrtr', upstreamCmd: `${process.execPath} ${asking} stdio` });
  });
  after(async () => { await hg?.stop(); });

  it('the v2 client answers the elicitation through its handler and the same upstream call completes', async (t) => {
    const client = new Client({ name: 'e2e-mrtr', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: V2026 } }, capabilities: { elicitation: {} } });
    const asked = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.push(request.params);
      return { action: 'accept', content: { username: 'ada', email: 'ada@example.org' } };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(hg.mcp)));
    t.after(() => client.close());
    const r = await client.callTool({ name: 'test_elicitation', arguments: { message: 'who are you?' } });
    assert.equal(asked.length, 1);
    assert.equal(asked[0].message, 'who are you?');
    assert.match(r.content[0].text, /action=accept/);
    assert.match(r.content[0].text, /ada@example.org/);
  });

  it('an upstream question the request did not declare the capability for is -32021 (HTTP 400)', async () => {
    const r = await raw(hg.mcp, 'tools/call', { name: 'test_elicitation', arguments: { message: 'no caps' } }, { id: 'nocap' });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.error.code, -32021);
    assert.equal(r.json.id, 'nocap');
    assert.deepEqual(r.json.error.data.requiredCapabilities, { elicitation: {} });
  });

  it('requestState is single use, bound to the request, and a forged one is refused', async () => {
    const caps = { elicitation: {} };
    const first = await raw(hg.mcp, 'tools/call', { name: 'test_elicitation', arguments: { message: 'm1' } }, { capabilities: caps });
    const ir = first.json.result;
    assert.equal(ir.resultType, 'input_required', JSON.stringify(first.json));
    const [key] = Object.keys(ir.inputRequests);
    assert.equal(ir.inputRequests[key].method, 'elicitation/create');
    assert.equal(typeof ir.requestState, 'string');
    const answer = { [key]: { action: 'decline' } };
    // Another request (other arguments) cannot use it.
    let r = await raw(hg.mcp, 'tools/call', { name: 'test_elicitation', arguments: { message: 'other' }, inputResponses: answer, requestState: ir.requestState }, { capabilities: caps });
    assert.equal(r.json.error?.code, -32602, JSON.stringify(r.json));
    // A tampered state is refused.
    r = await raw(hg.mcp, 'tools/call', { name: 'test_elicitation', arguments: { message: 'm1' }, inputResponses: answer, requestState: ir.requestState.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }, { capabilities: caps });
    assert.equal(r.json.error?.code, -32602);
    // A missing answer is refused and loses nothing: the right retry still works afterwards.
    r = await raw(hg.mcp, 'tools/call', { name: 'test_elicitation', arguments: { message: 'm1' }, inputResponses: {}, requestState: ir.requestState }, { capabilities: caps });
    assert.equal(r.json.error?.code, -32602);
    r = await raw(hg.mcp, 'tools/call', { name: 'test_elicitation', arguments: { message: 'm1' }, inputResponses: answer, requestState: ir.requestState }, { capabilities: caps, id: 'retry-1' });
    assert.equal(r.json.id, 'retry-1');
    assert.equal(r.json.result.resultType, 'complete');
    assert.match(r.json.result.content[0].text, /action=decline/);
    // Used once: a replay is refused.
    r = await raw(hg.mcp, 'tools/call', { name: 'test_elicitation', arguments: { message: 'm1' }, inputResponses: answer, requestState: ir.requestState }, { capabilities: caps });
    assert.equal(r.json.error?.code, -32602);
  });
});

describe('a 2026 agent without the tasks extension: deferral, then the identical retry runs once', { timeout: 90000 }, () => {
  it('the deferral and the retry\'s result carry resultType "complete"', async (t) => {
    const secret = newJwtSecret();
    const token = await mintToken(secret, { sub: 'bob', role: 'reviewer' });
    const demo = demoStdioCommand({ name: 'mcp2026-defer-demo' });
    // The demo policy holds cancel_job for 5 s before deferring.
    const hg = await startHoldgateServe({ name: 'mcp2026-defer', upstreamCmd: demo.commandLine, policy: DEMO_POLICY,
      env: { HOLDGATE_JWT_SECRET: secret } });
    t.after(() => hg.stop());
    const started = await raw(hg.mcp, 'tools/call', { name: 'start_job', arguments: { duration_ms: 600000, label: 'defer' } });
    const jobId = demoJson(started.json.result).job_id;
    const deferred = await raw(hg.mcp, 'tools/call', { name: 'cancel_job', arguments: { job_id: jobId } }, { id: 'd1' });
    assert.equal(deferred.json.id, 'd1');
    assert.equal(deferred.json.result.resultType, 'complete');
    assert.equal(deferred.json.result.isError, true);
    const text = deferred.json.result.content[0].text;
    const approvalId = /apr_[0-9a-f]+/.exec(text)?.[0];
    assert.ok(approvalId, text);
    assert.equal(demo.counters.read().cancel_job_calls, 0);
    const d = await reviewApi(hg.review, token, 'POST', `/api/approvals/${approvalId}/approve`, { reason: 'retry ok' });
    assert.equal(d.status, 200, d.text);
    const retry = await raw(hg.mcp, 'tools/call', { name: 'cancel_job', arguments: { job_id: jobId } }, { id: 'd2' });
    assert.equal(retry.json.result.resultType, 'complete');
    assert.equal(demoJson(retry.json.result).cancelled, true);
    assert.equal(demo.counters.read().cancel_job_calls, 1, 'ran exactly once');
  });
});
