// Several MCP servers behind one holdgate ("upstreams" in the config): server-everything (over stdio), the demo
// upstream (with its own policy: cancel_job is held) and a 2026-07-28-only server
// (lib/server-2026.mjs reject; its cancel_job held by the top-level policy). The v1 SDK client
// sees every tool with its upstream's prefix; a held call on one upstream is approved while the
// others keep serving; a 2026-07-28 agent's held calls on either era's upstream are holdgate's
// tasks; killing one upstream leaves the others working and its tools leave the list; a name
// collision refuses to start.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DEMO_POLICY, HOLDGATE_BIN } from './lib/paths.mjs';
import { makeOutputDir, waitFor } from './lib/process.mjs';
import { startHoldgateServe } from './lib/holdgate.mjs';
import { startServer2026 } from './lib/upstream-2026.mjs';
import { startDemoHttp, demoJson } from './lib/demo.mjs';
import { everythingStdioCommand, startEverythingHttp } from './lib/everything.mjs';
import { connectHttp, listAllTools, textOf } from './lib/mcp-client.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';
import { TASKS, raw } from './lib/raw-2026.mjs';

async function api(base, token, method, p, body) {
  const r = await fetch(base + p, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed = null;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body: parsed, text };
}

function writeConfig(dir, doc) {
  const file = path.join(dir, 'holdgate.json');
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

describe('several upstreams behind one holdgate', { timeout: 180000 }, () => {
  const cleanups = [];
  let demo;
  let modern;
  let serve;
  let secret;
  let reviewer;

  before(async () => {
    demo = await startDemoHttp({ name: 'mu-demo' });
    cleanups.push(() => demo.stop());
    modern = await startServer2026('reject', 'mu-2026');
    cleanups.push(() => modern.stop());
    const outDir = makeOutputDir('mu-holdgate');
    // The top-level policy decides the upstreams without a policy of their own (prefixed names).
    const top = path.join(outDir, 'top-policy.json');
    fs.writeFileSync(top, JSON.stringify({ version: '1', default: 'allow', tools: { modern_cancel_job: { action: 'require_approval' } } }));
    const config = writeConfig(outDir, {
      policy: top,
      upstreams: [
        { name: 'everything', command: everythingStdioCommand().commandLine, prefix: 'ev_' },
        { name: 'demo', url: demo.url, policy: DEMO_POLICY },
        { name: 'modern', url: modern.url },
      ],
    });
    secret = newJwtSecret();
    serve = await startHoldgateServe({ name: 'mu-holdgate', outDir, config, env: { HOLDGATE_JWT_SECRET: secret } });
    cleanups.push(() => serve.stop());
    reviewer = await mintToken(secret, { sub: 'alice' });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('an SDK client sees every upstream\'s tools with its prefix and calls each of them', async (t) => {
    const conn = await connectHttp(serve.mcp);
    t.after(() => conn.close().catch(() => {}));
    const { client } = conn;
    const names = (await listAllTools(client)).tools.map((tool) => tool.name);
    for (const n of ['ev_echo', 'ev_get-sum', 'demo_start_job', 'demo_cancel_job', 'demo_list_jobs', 'modern_echo',
      'modern_whoami']) {
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    }
    assert.ok(!names.includes('echo'), 'no unprefixed names');
    assert.equal(new Set(names).size, names.length, 'no duplicates');

    const ev = await client.callTool({ name: 'ev_echo', arguments: { message: 'hi everything' } });
    assert.match(textOf(ev), /hi everything/);
    const m = await client.callTool({ name: 'modern_echo', arguments: { message: 'hi 2026' } });
    assert.ok(!m.isError, JSON.stringify(m));
    assert.match(textOf(m), /hi 2026/);
    assert.deepEqual(demoJson(await client.callTool({ name: 'demo_list_jobs', arguments: {} })).jobs, []);
    // The demo upstream's own policy decides its tools: stats is not named there (default deny).
    const denied = await client.callTool({ name: 'demo_stats', arguments: {} });
    assert.equal(denied.isError, true);

    // The catalogue lists each upstream under its name.
    const cat = await api(serve.review, reviewer, 'GET', '/api/tools?refresh=1');
    assert.equal(cat.status, 200, cat.text);
    assert.deepEqual(cat.body.upstreams.map((u) => [u.name, u.prefix, u.available]),
      [['everything', 'ev_', true], ['demo', 'demo_', true], ['modern', 'modern_', true]]);
    const demoTools = cat.body.upstreams[1].tools;
    const cancel = demoTools.find((x) => x.name === 'demo_cancel_job');
    assert.equal(cancel.decision.action, 'hold');
    assert.match(cancel.decision.rule, /^upstreams\.demo: tools\.cancel_job/);

    // The what-if (no ?upstream) answers as a call is decided: by the upstream's own policy.
    const admin = await mintToken(secret, { sub: 'root', role: 'admin' });
    const whatIf = await api(serve.review, admin, 'POST', '/api/policy/check', { tool: 'demo_cancel_job', arguments: { job_id: 'x' } });
    assert.equal(whatIf.status, 200, whatIf.text);
    assert.equal(whatIf.body.action, 'hold');
    assert.match(whatIf.body.rule, /^upstreams\.demo: tools\.cancel_job/);
  });

  it('a held call on one upstream is approved while the others keep serving', async (t) => {
    const conn = await connectHttp(serve.mcp);
    t.after(() => conn.close().catch(() => {}));
    const { client } = conn;
    const started = demoJson(await client.callTool({ name: 'demo_start_job', arguments: { duration_ms: 600000 } }));
    const jobId = started.job_id;
    const progress = [];
    const held = client.callTool({ name: 'demo_cancel_job', arguments: { job_id: jobId } }, undefined, {
      onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true, timeout: 60000,
    }).then((r) => ({ result: r }), (e) => ({ error: e }));
    const approval = await waitFor(async () => {
      const r = await api(serve.review, reviewer, 'GET', '/api/approvals?state=pending');
      assert.equal(r.status, 200, r.text);
      return r.body.approvals.find((a) => a.arguments?.job_id === jobId);
    }, { timeoutMs: 15000, what: 'the pending demo_cancel_job approval' });
    assert.equal(approval.tool, 'demo_cancel_job', 'the approval names the prefixed tool the agent called');

    // While it is held, the other upstreams answer (and the demo upstream's other tools too).
    const ev = await client.callTool({ name: 'ev_get-sum', arguments: { a: 2, b: 3 } });
    assert.match(textOf(ev), /5/);
    const m = await client.callTool({ name: 'modern_echo', arguments: { message: 'still here' } });
    assert.match(textOf(m), /still here/);
    assert.equal(demo.counters.read().cancel_job_calls, 0, 'held means not forwarded');

    const decided = await api(serve.review, reviewer, 'POST', `/api/approvals/${approval.id}/approve`, { reason: 'ok' });
    assert.equal(decided.status, 200, decided.text);
    const { result, error } = await held;
    assert.ifError(error);
    assert.ok(!result.isError, JSON.stringify(result));
    assert.equal(demoJson(result).cancelled, true);
    await demo.counters.waitFor((c) => c.cancel_job_calls === 1, 'the approved cancel_job ran once upstream');

    const detail = await api(serve.review, reviewer, 'GET', `/api/approvals/${approval.id}`);
    assert.equal(detail.status, 200, detail.text);
    assert.match(JSON.stringify(detail.body), /upstreams\.demo/, 'the approval records the upstream\'s rule');
  });

  it('a 2026-07-28 agent\'s held calls on a 2025 and a 2026 upstream are holdgate\'s tasks: get, approve, cancel', async () => {
    const caps = { extensions: { [TASKS]: {} } };
    const pendingFor = (pred, what) => waitFor(async () => {
      const r = await api(serve.review, reviewer, 'GET', '/api/approvals?state=pending');
      assert.equal(r.status, 200, r.text);
      return r.body.approvals.find(pred);
    }, { timeoutMs: 15000, what });
    const taskGet = async (id) => (await raw(serve.mcp, 'tasks/get', { taskId: id }, { capabilities: caps })).json;
    const completed = (id) => waitFor(async () => {
      const g = await taskGet(id);
      return g.result?.status === 'completed' ? g.result : undefined;
    }, { timeoutMs: 15000, what: `task ${id} completed` });

    // The demo upstream (2025 era), held by its own policy: approved, it runs there.
    const started = await raw(serve.mcp, 'tools/call', { name: 'demo_start_job', arguments: { duration_ms: 600000 } });
    const jobId = demoJson(started.json.result).job_id;
    const onDemo = await raw(serve.mcp, 'tools/call', { name: 'demo_cancel_job', arguments: { job_id: jobId } }, { capabilities: caps });
    assert.equal(onDemo.json.result?.resultType, 'task', JSON.stringify(onDemo.json));
    const demoApproval = await pendingFor((a) => a.arguments?.job_id === jobId, 'the demo task\'s approval');
    assert.equal(onDemo.json.result.taskId, demoApproval.id, 'the task is holdgate\'s approval');
    assert.equal(demoApproval.upstream, 'demo');
    assert.equal((await taskGet(demoApproval.id)).result.status, 'working');
    const before = demo.counters.read().cancel_job_calls;
    assert.equal((await api(serve.review, reviewer, 'POST', `/api/approvals/${demoApproval.id}/approve`, { reason: 'task' })).status, 200);
    const demoDone = await completed(demoApproval.id);
    assert.ok(!demoDone.result.isError, JSON.stringify(demoDone));
    assert.equal(demoJson(demoDone.result).cancelled, true);
    assert.equal(demo.counters.read().cancel_job_calls, before + 1);

    // The 2026-only upstream, held by the top-level policy: approved, it runs there.
    const onModern = await raw(serve.mcp, 'tools/call', { name: 'modern_cancel_job', arguments: { job_id: 'm-1' } }, { capabilities: caps });
    assert.equal(onModern.json.result?.resultType, 'task', JSON.stringify(onModern.json));
    const modernApproval = await pendingFor((a) => a.arguments?.job_id === 'm-1', 'the 2026 upstream task\'s approval');
    assert.equal(onModern.json.result.taskId, modernApproval.id);
    assert.equal(modernApproval.upstream, 'modern');
    assert.equal((await api(serve.review, reviewer, 'POST', `/api/approvals/${modernApproval.id}/approve`, { reason: 'task' })).status, 200);
    const modernDone = await completed(modernApproval.id);
    assert.ok(!modernDone.result.isError, JSON.stringify(modernDone));
    assert.match(textOf(modernDone.result), /cancelled m-1/);

    // tasks/cancel withdraws a held call on the 2026 upstream; it never runs there.
    const cancelMe = await raw(serve.mcp, 'tools/call', { name: 'modern_cancel_job', arguments: { job_id: 'm-2' } }, { capabilities: caps });
    const id = cancelMe.json.result.taskId;
    assert.ok(id, JSON.stringify(cancelMe.json));
    assert.deepEqual((await raw(serve.mcp, 'tasks/cancel', { taskId: id }, { capabilities: caps })).json.result, { resultType: 'complete' });
    const row = await waitFor(async () => {
      const r = await api(serve.review, reviewer, 'GET', `/api/approvals/${id}`);
      return r.body.state === 'cancelled' ? r.body : undefined;
    }, { timeoutMs: 10000, what: 'the cancelled task\'s approval' });
    assert.equal(row.upstream, 'modern');
    assert.equal((await taskGet(id)).result.status, 'cancelled');
  });

  it('one upstream killed leaves the others working; its tools leave the list', async (t) => {
    const conn = await connectHttp(serve.mcp);
    t.after(() => conn.close().catch(() => {}));
    const { client } = conn;
    let changed = 0;
    client.setNotificationHandler((await import('@modelcontextprotocol/sdk/types.js')).ToolListChangedNotificationSchema,
      () => { changed += 1; });
    await demo.stop();

    const failed = await client.callTool({ name: 'demo_list_jobs', arguments: {} }).then(
      (r) => ({ result: r }), (e) => ({ error: e }));
    const text = failed.error ? failed.error.message : JSON.stringify(failed.result);
    assert.ok(failed.error || failed.result.isError, `a call to the dead upstream fails: ${text}`);
    assert.match(text, /demo/, 'the error names the upstream');

    assert.match(textOf(await client.callTool({ name: 'ev_echo', arguments: { message: 'alive' } })), /alive/);
    assert.match(textOf(await client.callTool({ name: 'modern_echo', arguments: { message: 'alive too' } })), /alive too/);

    await waitFor(() => changed > 0, { timeoutMs: 20000, what: 'tools/list_changed after the upstream died' });
    const names = (await listAllTools(client)).tools.map((tool) => tool.name);
    assert.ok(!names.some((n) => n.startsWith('demo_')), names.join(', '));
    assert.ok(names.includes('ev_echo') && names.includes('modern_echo'));

    const ready = await fetch(`${serve.review}/readyz`).then(async (r) => ({ status: r.status, body: await r.json() }));
    assert.equal(ready.body.ready, true, 'still ready: the other upstreams are up');
    assert.equal(ready.body.checks.upstreams.everything, 'ok');
    assert.notEqual(ready.body.checks.upstreams.demo, 'ok');

    const cat = await api(serve.review, reviewer, 'GET', '/api/tools?refresh=1');
    assert.equal(cat.status, 200, cat.text);
    const d = cat.body.upstreams.find((u) => u.name === 'demo');
    assert.equal(d.available, false);
    assert.deepEqual(d.tools, []);
  });
});

describe('several upstreams: bad configs refuse to start', { timeout: 60000 }, () => {
  it('a tool name two upstreams would share refuses to start, naming both', async (t) => {
    const everything = await startEverythingHttp({ name: 'mu-collide-everything' });
    t.after(() => everything.stop());
    const modern = await startServer2026('reject', 'mu-collide-2026');
    t.after(() => modern.stop());
    const dir = makeOutputDir('mu-collide');
    // everything's "echo" (empty prefix) begins with the other upstream's prefix "ec".
    const config = writeConfig(dir, {
      upstreams: [{ name: 'everything', url: everything.url, prefix: '' }, { name: 'modern', url: modern.url, prefix: 'ec' }],
    });
    const r = spawnSync(HOLDGATE_BIN, ['serve', '--config', config, '--db', path.join(dir, 'h.db'),
      '--mcp-listen', '127.0.0.1:0', '--review-listen', '127.0.0.1:0'], {
      encoding: 'utf8', timeout: 30000, env: { ...process.env, HOLDGATE_JWT_SECRET: newJwtSecret() },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /name collision/);
    assert.match(r.stderr, /"echo"/);
    assert.match(r.stderr, /everything/);
    assert.match(r.stderr, /modern/);
  });

  it('a bad upstreams entry is refused with its JSON path', () => {
    const dir = makeOutputDir('mu-badconfig');
    const config = writeConfig(dir, { upstreams: [{ name: 'a', url: 'ftp://x' }, { name: 'a', command: 'y' }] });
    const r = spawnSync(HOLDGATE_BIN, ['serve', '--config', config], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /upstreams\[0\]\.url/);
    assert.match(r.stderr, /upstreams\[1\]\.name/);
  });
});

describe('several upstreams with per-agent upstream sessions', { timeout: 120000 }, () => {
  it('each agent gets its own session on every upstream, initialized with its own clientInfo', async (t) => {
    const everything = await startEverythingHttp({ name: 'mu-pa-everything' });
    t.after(() => everything.stop());
    const modern = await startServer2026('reject', 'mu-pa-2026');
    t.after(() => modern.stop());
    const outDir = makeOutputDir('mu-pa-holdgate');
    const config = writeConfig(outDir, {
      upstream: { sessions: 'per_agent' },
      upstreams: [{ name: 'everything', url: everything.url, prefix: 'ev_' }, { name: 'modern', url: modern.url }],
    });
    const serve = await startHoldgateServe({ name: 'mu-pa-holdgate', outDir, config,
      env: { HOLDGATE_JWT_SECRET: newJwtSecret() } });
    t.after(() => serve.stop());
    for (const name of ['agent-one', 'agent-two']) {
      const conn = await connectHttp(serve.mcp, { name });
      t.after(() => conn.close().catch(() => {}));
      const names = (await listAllTools(conn.client)).tools.map((tool) => tool.name);
      assert.ok(names.includes('ev_echo') && names.includes('modern_whoami'), names.join(', '));
      const who = JSON.parse(textOf(await conn.client.callTool({ name: 'modern_whoami', arguments: {} })));
      assert.equal(who.clientInfo?.name, name, 'the 2026 upstream sees this agent\'s clientInfo');
      assert.equal(who.headers.authorization, false, 'no token goes upstream');
      assert.match(textOf(await conn.client.callTool({ name: 'ev_echo', arguments: { message: name } })), new RegExp(name));
    }
  });
});
