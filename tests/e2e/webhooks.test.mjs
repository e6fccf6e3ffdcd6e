// Signed webhook deliveries of a real `holdgate serve`, verified with the npm `standardwebhooks`
// library (the Standard Webhooks reference implementation for JavaScript).
//
// holdgate runs the demo policy (cancel_job is held, notify ["webhook:demo"]) in front of the demo
// upstream, with notify.webhooks = [{name: "demo", url: <a Node receiver on 127.0.0.1:0>,
// secret: [two whsec_ secrets: rotation]}]. The official MCP SDK client starts a job and cancels
// it; the call is held; the receiver gets approval.created (the first attempt is answered 500, so
// it is retried with the same webhook-id); a reviewer approves through the review API; the
// receiver gets approved, executing, completed, in that order. Every delivery must pass
// `new Webhook(secret).verify(rawBody, headers)` for each active secret and fail for another one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { SignJWT } from 'jose';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import {
  DEMO_POLICY, connectHttp, demoJson, demoStdioCommand, makeOutputDir, startHoldgateServe, waitFor,
} from './lib/index.mjs';
import { reviewApi } from './lib/review-api.mjs';

const newSecret = () => `whsec_${crypto.randomBytes(32).toString('base64')}`;

// A webhook receiver on a free loopback port that keeps the raw bytes of every request.
// `failFirst` requests are answered 500.
function startReceiver({ failFirst = 0 } = {}) {
  const deliveries = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const status = deliveries.length < failFirst ? 500 : 200;
      deliveries.push({ method: req.method, url: req.url, headers: req.headers, raw: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'try again');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}/holdgate/webhook`,
      deliveries,
      close: () => new Promise((r) => server.close(() => r())),
    }));
  });
}

async function reviewerToken(secret, sub) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub, role: 'reviewer' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(new TextEncoder().encode(secret));
}

describe('webhooks from holdgate serve, verified with npm standardwebhooks', { timeout: 90000 }, () => {
  const secrets = [newSecret(), newSecret()];
  const jwtSecret = crypto.randomBytes(32).toString('hex');
  let receiver;
  let serve;
  let conn;

  before(async () => {
    receiver = await startReceiver({ failFirst: 1 });
    const outDir = makeOutputDir('webhooks');
    const config = path.join(outDir, 'holdgate.config.json');
    fs.writeFileSync(config, JSON.stringify({
      notify: { webhooks: [{ name: 'demo', url: receiver.url, secret: secrets }] },
    }, null, 2));
    const upstream = demoStdioCommand({ name: 'webhooks-demo' });
    serve = await startHoldgateServe({
      name: 'webhooks-holdgate', outDir, config, policy: DEMO_POLICY, upstreamCmd: upstream.commandLine,
      env: { HOLDGATE_JWT_SECRET: jwtSecret },
    });
    conn = await connectHttp(serve.mcp);
  });
  after(async () => {
    if (conn) await conn.close().catch(() => {});
    if (serve) await serve.stop();
    if (receiver) await receiver.close();
  });

  // Verifies one delivery with every active secret; returns the parsed payload.
  function verified(d) {
    let payload;
    for (const s of secrets) payload = new Webhook(s).verify(d.raw, d.headers);
    assert.throws(() => new Webhook(newSecret()).verify(d.raw, d.headers), WebhookVerificationError);
    assert.throws(() => new Webhook(secrets[0]).verify(`${d.raw} `, d.headers), WebhookVerificationError);
    return payload;
  }

  it('every delivery of a held cancel_job verifies; retries keep the webhook-id; order holds', async (t) => {
    const { client } = conn;
    const started = demoJson(await client.callTool({ name: 'start_job', arguments: { duration_ms: 600000, label: 'webhooks' } }));
    const jobId = started.job_id;
    assert.ok(jobId);

    // Held (demo policy): the request stays open with progress heartbeats until the decision.
    const call = client.callTool({ name: 'cancel_job', arguments: { job_id: jobId } }, undefined, {
      onprogress: () => {}, resetTimeoutOnProgress: true, timeout: 60000,
    });
    const settled = call.then((r) => ({ result: r }), (e) => ({ error: e }));

    // approval.created: first attempt answered 500, retried (after ~5 s) with the same webhook-id.
    await waitFor(() => receiver.deliveries.length >= 2, { timeoutMs: 30000, what: 'approval.created and its retry' });
    const [first, retry] = receiver.deliveries;
    assert.equal(first.status, 500);
    assert.equal(retry.status, 200);
    assert.equal(first.method, 'POST');
    assert.equal(first.url, '/holdgate/webhook');
    assert.match(first.headers['content-type'], /^application\/json/);
    assert.match(first.headers['webhook-id'], /^msg_[0-9a-f]{32}$/);
    assert.equal(retry.headers['webhook-id'], first.headers['webhook-id'], 'retries keep the webhook-id');
    assert.equal(first.raw, retry.raw, 'retries send the same body');
    assert.equal(first.headers['webhook-signature'].split(' ').length, 2, 'one signature per active secret');
    const created = verified(first);
    verified(retry);
    t.diagnostic(`webhook-id ${first.headers['webhook-id']}, timestamps ${first.headers['webhook-timestamp']} / ${retry.headers['webhook-timestamp']}`);
    assert.equal(created.type, 'approval.created');
    assert.equal(created.data.tool, 'cancel_job');
    assert.equal(created.data.state, 'pending');
    assert.deepEqual(created.data.arguments, { job_id: jobId });
    assert.equal(created.data.principal, 'local');
    assert.equal(created.data.risk.level, 'critical');
    assert.ok(created.data.review_url.startsWith(serve.review), created.data.review_url);
    assert.ok(created.data.review_url.endsWith(`/#/approvals/${created.data.id}`));
    assert.ok(!Number.isNaN(Date.parse(created.timestamp)));

    // A reviewer approves; the call runs; approved, executing and completed follow, in order.
    const token = await reviewerToken(jwtSecret, 'alice');
    const decided = await reviewApi(serve.review, token, 'POST', `/api/approvals/${created.data.id}/approve`,
      { reason: 'webhook e2e' });
    assert.equal(decided.status, 200, decided.text);
    const { result, error } = await settled;
    assert.ifError(error);
    assert.ok(!result.isError, JSON.stringify(result));
    assert.equal(demoJson(result).cancelled, true);

    await waitFor(() => receiver.deliveries.length >= 5, { timeoutMs: 30000, what: 'approved, executing, completed' });
    const later = receiver.deliveries.slice(2).map((d) => ({ d, payload: verified(d) }));
    assert.deepEqual(later.map((x) => x.payload.type), ['approval.approved', 'approval.executing', 'approval.completed']);
    for (const { d, payload } of later) {
      assert.equal(d.status, 200);
      assert.equal(payload.data.id, created.data.id);
      assert.notEqual(d.headers['webhook-id'], first.headers['webhook-id'], 'each event has its own webhook-id');
    }
    const approved = later[0].payload;
    assert.equal(approved.data.decided_by, 'alice');
    assert.equal(approved.data.reason, 'webhook e2e');
    assert.equal(new Set(receiver.deliveries.map((d) => d.headers['webhook-id'])).size, 4);
  });
});

// holdgate killed (SIGKILL) right after a failed delivery: the outbox row is in SQLite, so the
// next holdgate on the same database delivers it, with the same webhook-id.
describe('a notification outlives a killed holdgate', { timeout: 150000 }, () => {
  const secret = newSecret();
  let receiver;
  const serves = [];
  let conn;

  before(async () => {
    receiver = await startReceiver({ failFirst: 1 });
  });
  after(async () => {
    if (conn) await conn.close().catch(() => {});
    for (const s of serves) await s.stop();
    if (receiver) await receiver.close();
  });

  it('delivers after a restart what was not delivered before the kill', async (t) => {
    const outDir = makeOutputDir('webhooks-kill');
    const config = path.join(outDir, 'holdgate.config.json');
    fs.writeFileSync(config, JSON.stringify({ notify: { webhooks: [{ name: 'demo', url: receiver.url, secret }] } }));
    const db = path.join(outDir, 'holdgate.db');
    const upstream = demoStdioCommand({ name: 'webhooks-kill-demo' });
    const options = { outDir, config, db, policy: DEMO_POLICY, upstreamCmd: upstream.commandLine };

    const first = await startHoldgateServe({ ...options, name: 'webhooks-kill-1' });
    serves.push(first);
    conn = await connectHttp(first.mcp);
    const held = conn.client.callTool({ name: 'cancel_job', arguments: { job_id: 'job-kill' } });
    held.catch(() => {});  // the connection dies with holdgate

    await waitFor(() => receiver.deliveries.length >= 1, { timeoutMs: 20000, what: 'the first (failing) delivery' });
    first.proc.kill('SIGKILL');
    await first.proc.waitForExit();
    await conn.close().catch(() => {});
    conn = undefined;
    assert.equal(receiver.deliveries.length, 1, 'nothing more was sent before the kill');

    const second = await startHoldgateServe({ ...options, name: 'webhooks-kill-2' });
    serves.push(second);
    // Due ~5 s after the first attempt (or, had the kill hit mid-delivery, after the 60 s claim lease).
    await waitFor(() => receiver.deliveries.length >= 2, { timeoutMs: 90000, what: 'the redelivery after restart' });
    const [lost, redelivered] = receiver.deliveries;
    assert.equal(lost.status, 500);
    assert.equal(redelivered.status, 200);
    assert.equal(redelivered.headers['webhook-id'], lost.headers['webhook-id']);
    const payload = new Webhook(secret).verify(redelivered.raw, redelivered.headers);
    assert.equal(payload.type, 'approval.created');
    assert.deepEqual(payload.data.arguments, { job_id: 'job-kill' });
    t.diagnostic(`redelivered ${Number(redelivered.headers['webhook-timestamp']) - Number(lost.headers['webhook-timestamp'])} s after the first attempt`);
  });
});
