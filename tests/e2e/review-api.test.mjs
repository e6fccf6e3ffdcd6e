// The review API and the reviewer CLI against a running `holdgate serve` with the demo upstream:
// tokens minted by npm `jose` (HS256 with the configured secret, RS256 from a JWKS file) are
// accepted, forged ones refused; a reviewer approving a held call releases it to the waiting agent,
// a rejection reaches the agent with its reason — through the API and through `holdgate approve`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import {
  E2E_DIR, HOLDGATE_BIN, REPO_ROOT, connectHttp, demoJson, demoStdioCommand, makeOutputDir, startHoldgateServe, textOf, waitFor,
} from './lib/index.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';

const run = promisify(execFile);

// cancel_job is held for up to 60 s (so the agent is still waiting when the reviewer decides).
const POLICY = {
  version: '1',
  default: 'deny',
  tools: {
    start_job: {},
    check_job_status: {},
    cancel_job: {
      action: 'require_approval',
      reason: 'irreversible',
      approval: { approvers: 1, timeout: '10m', hold: '60s', on_timeout: 'reject' },
    },
  },
};

async function rs256Token(privateKey, kid, claims, ttlSeconds = 600) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuedAt(now).setExpirationTime(now + ttlSeconds).sign(privateKey);
}

async function api(base, token, method, urlPath, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

async function pendingFor(base, token, tool) {
  let found;
  await waitFor(async () => {
    const r = await api(base, token, 'GET', `/api/approvals?state=pending&tool=${tool}`);
    found = r.json?.approvals?.[0];
    return found !== undefined;
  }, { timeoutMs: 15000, what: `a pending ${tool} approval` });
  return found;
}


describe('review API and CLI against holdgate serve', { timeout: 180000 }, () => {
  let hg; let mcp; let demo; let secret; let rsKey; let otherKey; let outDir;

  const startServe = () => startHoldgateServe({
    name: 'review-api-holdgate', outDir, upstreamCmd: demo.commandLine,
    policy: path.join(outDir, 'policy.json'), config: path.join(outDir, 'holdgate.json'),
  });

  before(async () => {
    outDir = makeOutputDir('review-api');
    secret = newJwtSecret();
    rsKey = await generateKeyPair('RS256');
    otherKey = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(rsKey.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    fs.writeFileSync(path.join(outDir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    fs.writeFileSync(path.join(outDir, 'policy.json'), JSON.stringify(POLICY));
    fs.writeFileSync(path.join(outDir, 'holdgate.json'), JSON.stringify({
      review: { auth: { jwt_secret: secret, jwks_file: 'jwks.json' } },
    }));
    demo = demoStdioCommand({ name: 'review-api-demo', outDir });
    hg = await startServe();
    mcp = await connectHttp(hg.mcp);
  });

  after(async () => {
    if (mcp) await mcp.close().catch(() => {});
    if (hg) await hg.stop();
  });

  it('accepts jose HS256 and RS256 (JWKS) tokens and refuses forged ones with 401', async () => {
    const hs = await mintToken(secret, { sub: 'alice', role: 'reviewer' });
    let r = await api(hg.review, hs, 'GET', '/api/me');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.sub, r.json.role], ['alice', 'reviewer']);

    const rs = await rs256Token(rsKey.privateKey, 'idp-1', { sub: 'ivy', role: 'admin' });
    r = await api(hg.review, rs, 'GET', '/api/me');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.sub, r.json.role], ['ivy', 'admin']);

    const forged = [
      ['RS256 from an unknown key', await rs256Token(otherKey.privateKey, 'idp-1', { sub: 'eve', role: 'admin' })],
      ['expired', await mintToken(secret, { sub: 'eve', role: 'admin', ttlSeconds: -3600 })],
      ['wrong secret', await mintToken(newJwtSecret(), { sub: 'eve', role: 'admin' })],
      ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({
        sub: 'eve', role: 'admin', exp: Math.floor(Date.now() / 1000) + 600,
      })).toString('base64url')}.`],
    ];
    for (const [name, token] of forged) {
      r = await api(hg.review, token, 'GET', '/api/approvals');
      assert.equal(r.status, 401, name);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/, name);
    }
    r = await api(hg.review, forged[1][1], 'GET', '/api/me');
    assert.equal(r.json.error, 'token_expired');
    const auditor = await mintToken(secret, { sub: 'carl', role: 'auditor' });
    r = await api(hg.review, auditor, 'POST', '/api/approvals/apr_x/approve', {});
    assert.equal(r.status, 403);
  });

  it('approve through the API releases the held call to the waiting agent', async () => {
    const started = demoJson(await mcp.client.callTool({ name: 'start_job', arguments: { duration_ms: 600000 } }));
    const call = mcp.client.callTool({ name: 'cancel_job', arguments: { job_id: started.job_id } }, undefined,
      { timeout: 120000 });
    const reviewer = await rs256Token(rsKey.privateKey, 'idp-1', { sub: 'ivy', role: 'reviewer' });
    const approval = await pendingFor(hg.review, reviewer, 'cancel_job');
    assert.deepEqual(approval.arguments, { job_id: started.job_id });
    const r = await api(hg.review, reviewer, 'POST', `/api/approvals/${approval.id}/approve`, { reason: 'e2e' });
    assert.equal(r.status, 200, r.text);
    const result = await call;
    assert.notEqual(result.isError, true, textOf(result));
    await demo.counters.waitFor((c) => c.jobs_cancelled >= 1, 'the job cancelled upstream');
    const detail = await api(hg.review, reviewer, 'GET', `/api/approvals/${approval.id}`);
    assert.ok(['approved', 'executing', 'completed'].includes(detail.json.state), detail.json.state);
  });

  it('reject through the API reaches the agent with the reason', async () => {
    const started = demoJson(await mcp.client.callTool({ name: 'start_job', arguments: { duration_ms: 600000 } }));
    const call = mcp.client.callTool({ name: 'cancel_job', arguments: { job_id: started.job_id } }, undefined,
      { timeout: 120000 });
    const reviewer = await mintToken(secret, { sub: 'bob', role: 'reviewer' });
    const approval = await pendingFor(hg.review, reviewer, 'cancel_job');
    let r = await api(hg.review, reviewer, 'POST', `/api/approvals/${approval.id}/reject`, {});
    assert.equal(r.status, 400);  // a reason is required
    r = await api(hg.review, reviewer, 'POST', `/api/approvals/${approval.id}/reject`, { reason: 'job still needed' });
    assert.equal(r.status, 200, r.text);
    const result = await call;
    assert.equal(result.isError, true);
    assert.match(textOf(result), /job still needed/);
    r = await api(hg.review, reviewer, 'POST', `/api/approvals/${approval.id}/approve`, {});
    assert.equal(r.status, 409);
  });

  it('the CLI approves a held call and rejects another (exit codes)', async () => {
    const token = await mintToken(secret, { sub: 'carol', role: 'reviewer' });
    const env = { ...process.env, HOLDGATE_URL: hg.review, HOLDGATE_TOKEN: token };
    const started = demoJson(await mcp.client.callTool({ name: 'start_job', arguments: { duration_ms: 600000 } }));
    const call = mcp.client.callTool({ name: 'cancel_job', arguments: { job_id: started.job_id } }, undefined,
      { timeout: 120000 });
    const approval = await pendingFor(hg.review, token, 'cancel_job');
    const listed = JSON.parse((await run(HOLDGATE_BIN, ['list', '--json'], { env })).stdout);
    assert.ok(listed.some((a) => a.id === approval.id));
    await run(HOLDGATE_BIN, ['approve', approval.id, '--reason', 'from the CLI'], { env });
    const result = await call;
    assert.notEqual(result.isError, true, textOf(result));
    // Deciding again: exit 4 (conflict) for another reviewer.
    const other = { ...env, HOLDGATE_TOKEN: await mintToken(secret, { sub: 'dave', role: 'reviewer' }) };
    await assert.rejects(run(HOLDGATE_BIN, ['reject', approval.id, '--reason', 'late'], { env: other }),
      (e) => e.code === 4);

    const started2 = demoJson(await mcp.client.callTool({ name: 'start_job', arguments: { duration_ms: 600000 } }));
    const call2 = mcp.client.callTool({ name: 'cancel_job', arguments: { job_id: started2.job_id } }, undefined,
      { timeout: 120000 });
    const approval2 = await pendingFor(hg.review, token, 'cancel_job');
    await run(HOLDGATE_BIN, ['reject', approval2.id, '--reason', 'not from the CLI'], { env });
    const result2 = await call2;
    assert.equal(result2.isError, true);
    assert.match(textOf(result2), /not from the CLI/);
    await assert.rejects(run(HOLDGATE_BIN, ['show', 'apr_nope'], { env }), (e) => e.code === 3);
    await assert.rejects(run(HOLDGATE_BIN, ['list'], { env: { ...env, HOLDGATE_TOKEN: 'x' } }), (e) => e.code === 5);
  });

  it('a key added to the JWKS file is accepted without a restart (an unknown kid re-reads the file)', async () => {
    const rotated = await generateKeyPair('RS256');
    const token = await rs256Token(rotated.privateKey, 'idp-2', { sub: 'ivy', role: 'reviewer' });
    let r = await api(hg.review, token, 'GET', '/api/me');
    assert.equal(r.status, 401, `not yet in the JWKS file: ${r.text}`);
    const keys = JSON.parse(fs.readFileSync(path.join(outDir, 'jwks.json'), 'utf8')).keys;
    keys.push({ ...(await exportJWK(rotated.publicKey)), kid: 'idp-2', alg: 'RS256', use: 'sig' });
    fs.writeFileSync(path.join(outDir, 'jwks.json'), JSON.stringify({ keys }));
    // Re-read at most every 10 s on an unknown kid.
    await waitFor(async () => (await api(hg.review, token, 'GET', '/api/me')).status === 200,
      { timeoutMs: 15000, what: 'the rotated key accepted' });
    r = await api(hg.review, await rs256Token(otherKey.privateKey, 'idp-3', { sub: 'eve', role: 'admin' }), 'GET', '/api/me');
    assert.equal(r.status, 401);
  });
});

describe('remembered approvals through the CLI against holdgate serve', { timeout: 180000 }, () => {
  let hg; let mcp; let demo; let secret; let outDir; let starts = 0;
  // A new name per start: a restart must not read the previous start's ready file.
  const startServe = () => startHoldgateServe({
    name: `grants-holdgate-${++starts}`, outDir, upstreamCmd: demo.commandLine, policy: path.join(outDir, 'policy.json'),
    db: path.join(outDir, 'holdgate.db'), env: { HOLDGATE_JWT_SECRET: secret },
  });

  before(async () => {
    outDir = makeOutputDir('review-api-grants');
    secret = newJwtSecret();
    fs.writeFileSync(path.join(outDir, 'policy.json'), JSON.stringify(POLICY));
    demo = demoStdioCommand({ name: 'grants-demo', outDir });
    hg = await startServe();
    mcp = await connectHttp(hg.mcp);
  });

  after(async () => {
    if (mcp) await mcp.close().catch(() => {});
    if (hg) await hg.stop();
  });

  it('approve --remember: the identical call runs at once, changed arguments are held, revoke holds again, a restart keeps grants', async () => {
    const token = await mintToken(secret, { sub: 'carol', role: 'reviewer' });
    const env = () => ({ ...process.env, HOLDGATE_URL: hg.review, HOLDGATE_TOKEN: token });
    const jobId = demoJson(await mcp.client.callTool({ name: 'start_job', arguments: { duration_ms: 600000 } })).job_id;
    const held = (id) => mcp.client.callTool({ name: 'cancel_job', arguments: { job_id: id } }, undefined, { timeout: 120000 });
    const grantUses = async () => (await api(hg.review, token, 'GET', '/api/audit?type=grant.used')).json.events.length;
    const noPending = async () => assert.deepEqual((await api(hg.review, token, 'GET', '/api/approvals?state=pending')).json.approvals, []);

    const first = held(jobId);
    const approval = await pendingFor(hg.review, token, 'cancel_job');
    const out = await run(HOLDGATE_BIN, ['approve', approval.id, '--remember', '30m'], { env: env() });
    assert.match(out.stdout, /Remembered as grt_/);
    assert.notEqual((await first).isError, true);
    const grants = JSON.parse((await run(HOLDGATE_BIN, ['grants', '--json'], { env: env() })).stdout);
    assert.equal(grants.length, 1);

    // Identical call: no approval, one grant use.
    const again = await held(jobId);
    assert.doesNotMatch(textOf(again), /apr_/);
    await noPending();
    assert.equal(await grantUses(), 1);

    // Changed arguments: held.
    const other = held('job_other');
    const otherApproval = await pendingFor(hg.review, token, 'cancel_job');
    assert.deepEqual(otherApproval.arguments, { job_id: 'job_other' });
    await run(HOLDGATE_BIN, ['reject', otherApproval.id, '--reason', 'not this one'], { env: env() });
    assert.equal((await other).isError, true);

    // A restart keeps the grant.
    await mcp.close();
    await hg.stop();
    hg = await startServe();
    mcp = await connectHttp(hg.mcp);
    await held(jobId);
    await noPending();
    assert.equal(await grantUses(), 2);

    // Revoked: held again.
    await run(HOLDGATE_BIN, ['revoke', grants[0].id], { env: env() });
    await assert.rejects(run(HOLDGATE_BIN, ['revoke', grants[0].id], { env: env() }), (e) => e.code === 4);
    const third = held(jobId);
    const thirdApproval = await pendingFor(hg.review, token, 'cancel_job');
    await run(HOLDGATE_BIN, ['reject', thirdApproval.id, '--reason', 'revoked'], { env: env() });
    assert.match(textOf(await third), /revoked/);
    assert.equal(await grantUses(), 2);
  });
});

describe('the review API description', () => {
  it('schema/openapi.yaml passes redocly lint (recommended rules)', async () => {
    const redocly = path.join(E2E_DIR, 'node_modules', '.bin', 'redocly');
    // Run from schema/ so its .redocly.lint-ignore.yaml applies.
    const { stdout, stderr } = await run(redocly, ['lint', 'openapi.yaml'], { cwd: path.join(REPO_ROOT, 'schema') });
    const out = `${stdout}${stderr}`;
    assert.match(out, /Your API description is valid/);
    assert.doesNotMatch(out, /You have \d+ warning/);
  });
});
