// Single sign-on for reviewers (review.oidc) end to end: a real `oidc-provider` (npm, Node 22) as
// the identity provider, `holdgate serve` configured against it with the demo upstream, the MCP
// SDK client as the agent and headless Chromium as the reviewer:
//   - "Sign in with SSO" → the provider's login and consent pages → the queue; a held call is
//     approved on the page and the audit log names the SSO user (approval and auth.login);
//   - a state-changing request with the session cookie but without the CSRF token is refused 403
//     (from the page's own origin and from outside) and changes nothing;
//   - sign out ends the session on the server (audited): the old cookie is refused 401;
//   - a user whose groups map to no role is refused with a clear notice, and no session is made;
//   - against a fake issuer: a forged (other key), expired, wrong-audience, wrong-issuer or
//     wrong-nonce ID token, and a callback whose state is not bound to the browser, are refused;
//   - a session survives a restart of holdgate (sessions are in the store);
//   - a config with an http:// issuer and no allow_insecure_issuer is refused at start.
// Waiting is on conditions, never fixed sleeps.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  DEMO_POLICY, HOLDGATE_BIN, OUTPUT_DIR, REPO_ROOT, connectHttp, demoJson, demoStdioCommand, freePort, makeOutputDir,
  startHoldgateServe, textOf, waitFor,
} from './lib/index.mjs';
import { launchChromium, newWatchedPage, seriousProblems } from './lib/browser.mjs';
import { SSO_ROLE_MAP, startFakeIssuer, startOidcIssuer } from './lib/oidc-issuer.mjs';
import { rejectAllPending } from './lib/review-api.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';
import { heldCall } from './lib/mcp-client.mjs';
import { startJob } from './lib/demo.mjs';

const SCREEN_DIR = path.join(OUTPUT_DIR, 'sso-screens');
const DOCS_SCREEN_DIR = path.join(REPO_ROOT, 'docs', 'screenshots');

async function screenshot(page, name, { docs = false } = {}) {
  fs.mkdirSync(SCREEN_DIR, { recursive: true });
  const file = path.join(SCREEN_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  // The README's copy only with HOLDGATE_UPDATE_DOC_SCREENSHOTS=1 (as ui.test.mjs does).
  if (docs && process.env.HOLDGATE_UPDATE_DOC_SCREENSHOTS === '1') {
    fs.mkdirSync(DOCS_SCREEN_DIR, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS_SCREEN_DIR, `${name}.png`));
  }
}

// The review API with a bearer token or a cookie (+ optional CSRF token).
async function api(base, { token, cookie, csrf, origin }, method, p, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (cookie) headers.Cookie = cookie;
  if (csrf) headers['X-CSRF-Token'] = csrf;
  if (origin) headers.Origin = origin;
  const res = await fetch(new URL(p, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json, text, headers: res.headers };
}

async function pendingWith(base, admin, jobId) {
  return waitFor(async () => {
    const r = await api(base, { token: admin }, 'GET', '/api/approvals?state=pending&limit=500');
    return r.body?.approvals?.find((a) => a.arguments?.job_id === jobId);
  }, { timeoutMs: 10000, what: `the held call for ${jobId}` });
}


async function auditEvents(base, admin, query) {
  const r = await api(base, { token: admin }, 'GET', `/api/audit?${new URLSearchParams({ limit: '500', ...query })}`);
  assert.equal(r.status, 200, r.text);
  return r.body.events;
}

// Clicks "Sign in with SSO" and completes the provider's development login and consent pages.
async function ssoSignIn(page, base, login) {
  await page.goto(`${base}/`);
  await page.locator('#sso-button').waitFor({ state: 'visible' });
  await page.locator('#sso-button').click();
  await page.locator('input[name="login"]').waitFor();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  // The consent page (first time for this account), then back to holdgate.
  const consent = page.locator('button[type="submit"]', { hasText: 'Continue' });
  await Promise.race([
    consent.waitFor({ timeout: 15000 }).then(() => consent.click()),
    page.waitForURL((u) => u.href.startsWith(base), { timeout: 15000 }),
  ]);
  await page.waitForURL((u) => u.href.startsWith(base), { timeout: 15000 });
}

function sessionCookieHeader(cookies) {
  const c = cookies.find((x) => x.name === 'holdgate_session');
  assert.ok(c, `a holdgate_session cookie (have ${cookies.map((x) => x.name).join(', ')})`);
  assert.equal(c.httpOnly, true, 'HttpOnly');
  assert.equal(c.sameSite, 'Lax', 'SameSite=Lax');
  assert.equal(c.path, '/');
  assert.match(c.value, /^[0-9a-f]{64}$/, '256 random bits');
  return `holdgate_session=${c.value}`;
}

describe('single sign-on with a real oidc-provider', { timeout: 240000 }, () => {
  let issuer;
  let hg;
  let demo;
  let browser;
  let admin;
  let agent;
  let outDir;

  before(async () => {
    outDir = makeOutputDir('sso');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    issuer = await startOidcIssuer({ redirectUris: [`${base}/auth/callback`], outDir });
    const secret = newJwtSecret();
    const config = path.join(outDir, 'holdgate.json');
    fs.writeFileSync(config, JSON.stringify({
      review: {
        oidc: {
          issuer: issuer.issuer, client_id: issuer.clientId, scopes: ['openid', 'profile', 'email', 'groups'],
          role_claim: 'groups', role_map: SSO_ROLE_MAP, allow_insecure_issuer: true,
        },
      },
    }));
    demo = demoStdioCommand({ name: 'sso-demo-upstream', outDir });
    hg = await startHoldgateServe({
      name: 'sso-holdgate', outDir, upstreamCmd: demo.commandLine, policy: DEMO_POLICY, config,
      reviewListen: `127.0.0.1:${port}`,
      env: { HOLDGATE_JWT_SECRET: secret, HOLDGATE_OIDC_CLIENT_SECRET: issuer.clientSecret },
    });
    assert.equal(hg.review.replace(/\/$/, ''), base);
    admin = await mintToken(secret, { sub: 'root-token', role: 'admin' });
    agent = await connectHttp(hg.mcp, { name: 'sso-test-agent' });
    browser = await launchChromium(outDir);
  });

  after(async () => {
    if (hg && admin) await rejectAllPending(hg.review, admin).catch(() => {});
    await browser?.close();
    await agent?.close().catch(() => {});
    await hg?.stop();
    await issuer?.stop();
  });

  it('reports SSO on /auth/session and offers the button beside the token box', async () => {
    const r = await api(hg.review, {}, 'GET', '/auth/session');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { sso: true, bearer: true, signed_in: false });
    const page = await newWatchedPage(browser.context);
    try {
      await page.goto(`${hg.review}/`);
      await page.locator('#sso-button').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#sso-button').innerText(), 'Sign in with SSO');
      assert.ok(await page.locator('#token-input').isVisible(), 'the token box stays (bearer keys are configured)');
      await screenshot(page, 'sso-sign-in', { docs: true });
      assert.deepEqual(seriousProblems(page), []);
    } finally {
      await page.close();
    }
  });

  it('signs in, approves a held call on the page, refuses a CSRF-less POST, signs out', async (t) => {
    t.after(() => rejectAllPending(hg.review, admin));
    await browser.context.clearCookies();
    const page = await newWatchedPage(browser.context);
    t.after(() => page.close());
    await ssoSignIn(page, hg.review, 'alice');
    await page.locator('#shell').waitFor({ state: 'visible' });
    await page.locator('#conn[data-state="live"]').waitFor();
    assert.match(await page.locator('#whoami').innerText(), /Alice Example/);
    assert.match(await page.locator('#whoami').innerText(), /reviewer/);
    assert.equal(new URL(page.url()).search, '', 'no code or state left in the address bar');
    const cookie = sessionCookieHeader(await browser.context.cookies(hg.review));

    // The session works for the API exactly like a reviewer token named alice.
    const me = await api(hg.review, { cookie }, 'GET', '/api/me');
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.sub, 'alice');
    assert.equal(me.body.role, 'reviewer');
    const logins = await auditEvents(hg.review, admin, { type: 'auth.login', actor: 'alice' });
    assert.equal(logins.length, 1);
    assert.equal(logins[0].detail.method, 'oidc');
    assert.equal(logins[0].detail.issuer, issuer.issuer);

    // A held call appears live; approve it on the page.
    const job = await startJob(agent.client, 'sso-train');
    const call = heldCall(agent.client, 'cancel_job', { job_id: job });
    const held = await pendingWith(hg.review, admin, job);
    await page.locator('.qitem', { hasText: job }).waitFor({ timeout: 10000 });
    await page.locator('.qitem', { hasText: job }).click();
    await page.locator('pre.json-args', { hasText: job }).waitFor();
    await page.keyboard.press('a');
    await page.locator('#approve-dialog[open]').waitFor();
    await page.keyboard.type('approved after SSO');
    await page.keyboard.press('Enter');
    const result = await call;
    assert.ok(!result.isError, textOf(result));
    assert.equal(demoJson(result).cancelled, true);
    const decided = await api(hg.review, { token: admin }, 'GET', `/api/approvals/${held.id}`);
    assert.equal(decided.body.decided_by, 'alice');
    assert.equal(decided.body.decided_via, 'ui');
    const approvedRows = await auditEvents(hg.review, admin, { approval_id: held.id, type: 'approval.' });
    assert.ok(approvedRows.some((e) => e.type === 'approval.approved' && e.actor === 'alice' && e.via === 'ui'),
      JSON.stringify(approvedRows.map((e) => [e.type, e.actor, e.via])));

    // CSRF: the cookie alone cannot change anything, from the page's origin or from outside.
    const job2 = await startJob(agent.client, 'sso-csrf');
    const call2 = heldCall(agent.client, 'cancel_job', { job_id: job2 });
    const held2 = await pendingWith(hg.review, admin, job2);
    const fromPage = await page.evaluate(async (id) => {
      const res = await fetch(`api/approvals/${id}/approve`, {
        method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: '{}',
      });
      return { status: res.status, body: await res.json() };
    }, held2.id);
    assert.equal(fromPage.status, 403, JSON.stringify(fromPage));
    assert.equal(fromPage.body.error, 'csrf');
    const outside = await api(hg.review, { cookie }, 'POST', `/api/approvals/${held2.id}/approve`, {});
    assert.equal(outside.status, 403, outside.text);
    const wrong = await api(hg.review, { cookie, csrf: 'f'.repeat(64) }, 'POST', `/api/approvals/${held2.id}/approve`, {});
    assert.equal(wrong.status, 403, wrong.text);
    const foreign = await api(hg.review, { cookie, origin: 'http://evil.example' }, 'POST', `/api/approvals/${held2.id}/approve`, {});
    assert.equal(foreign.status, 403, foreign.text);
    assert.equal(foreign.body.error, 'forbidden_origin');
    const still = await api(hg.review, { token: admin }, 'GET', `/api/approvals/${held2.id}`);
    assert.equal(still.body.state, 'pending', 'nothing changed');
    assert.deepEqual(still.body.votes ?? [], []);
    // Bearer callers are unaffected by CSRF: the admin token rejects it without a CSRF header.
    const rejected = await api(hg.review, { token: admin }, 'POST', `/api/approvals/${held2.id}/reject`, { reason: 'csrf test done' });
    assert.equal(rejected.status, 200, rejected.text);
    const result2 = await call2;
    assert.ok(result2.isError, 'the agent learns of the rejection');

    // Sign out: the server session ends (audited) and the old cookie is refused.
    await page.locator('#signout-button').click();
    await page.locator('#signin').waitFor({ state: 'visible' });
    await page.locator('#signin-notice[data-reason="sso_signedout"]').waitFor();
    const after = await api(hg.review, { cookie }, 'GET', '/api/approvals?state=pending');
    assert.equal(after.status, 401, after.text);
    assert.equal(after.body.error, 'session_ended');
    const session = await api(hg.review, { cookie }, 'GET', '/auth/session');
    assert.equal(session.body.signed_in, false);
    const logouts = await auditEvents(hg.review, admin, { type: 'auth.logout', actor: 'alice' });
    assert.equal(logouts.length, 1);
    const verify = await api(hg.review, { token: admin }, 'GET', '/api/audit/verify');
    assert.equal(verify.status, 200, verify.text);
    assert.equal(verify.body.ok, true, verify.text);
    assert.deepEqual(seriousProblems(page), []);
  });

  it('refuses a user whose groups grant no role, and makes no session', async (t) => {
    await browser.context.clearCookies();
    const page = await newWatchedPage(browser.context);
    t.after(() => page.close());
    await ssoSignIn(page, hg.review, 'mallory');
    await page.locator('#signin-notice[data-reason="sso_no_role"]').waitFor();
    assert.match(await page.locator('#signin-notice').innerText(), /no holdgate role/);
    assert.equal(new URL(page.url()).search, '', 'the error code is removed from the address bar');
    const cookies = await browser.context.cookies(hg.review);
    assert.ok(!cookies.some((c) => c.name === 'holdgate_session' && c.value), 'no session cookie');
    const failed = await auditEvents(hg.review, admin, { type: 'auth.failed' });
    assert.ok(failed.some((e) => e.detail?.reason === 'sso' && /mallory/.test(e.detail?.why)), JSON.stringify(failed.map((e) => e.detail)));
  });

  it('maps an auditor to a read-only session', async (t) => {
    await browser.context.clearCookies();
    const page = await newWatchedPage(browser.context);
    t.after(() => page.close());
    await ssoSignIn(page, hg.review, 'audrey');
    await page.locator('#shell').waitFor({ state: 'visible' });
    assert.match(await page.locator('#whoami').innerText(), /auditor · read-only/);
    const cookie = sessionCookieHeader(await browser.context.cookies(hg.review));
    const session = await api(hg.review, { cookie }, 'GET', '/auth/session');
    assert.equal(session.body.role, 'auditor');
    // With the right CSRF token an auditor still may not decide (403 for the role, not CSRF).
    const r = await api(hg.review, { cookie, csrf: session.body.csrf_token }, 'POST', '/api/approvals/apr_none/approve', {});
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error, 'forbidden');
  });
});

describe('single sign-on refusals (fake issuer)', { timeout: 120000 }, () => {
  let fake;
  let hg;
  let admin;
  let start;

  before(async () => {
    const outDir = makeOutputDir('sso-fake');
    fake = await startFakeIssuer();
    const secret = newJwtSecret();
    const secretFile = path.join(outDir, 'client-secret.txt');
    fs.writeFileSync(secretFile, `${fake.clientSecret}\n`);
    const config = path.join(outDir, 'holdgate.json');
    fs.writeFileSync(config, JSON.stringify({
      review: {
        oidc: {
          issuer: fake.issuer, client_id: fake.clientId, client_secret_file: 'client-secret.txt',
          role_claim: 'groups', role_map: SSO_ROLE_MAP, allow_insecure_issuer: true,
        },
      },
    }));
    const demo = demoStdioCommand({ name: 'sso-fake-upstream', outDir });
    start = (name = 'sso-fake-holdgate') => startHoldgateServe({
      name, outDir, upstreamCmd: demo.commandLine, policy: DEMO_POLICY, config,
      db: path.join(outDir, 'holdgate.db'), env: { HOLDGATE_JWT_SECRET: secret },
    });
    hg = await start();
    admin = await mintToken(secret, { sub: 'root-token', role: 'admin' });
  });

  after(async () => {
    await hg?.stop();
    await fake?.stop();
  });

  const base = () => hg.review.replace(/\/$/, '');

  // Runs the redirect dance with fetch: login → issuer → callback. Returns the callback's answer.
  async function login({ bindState = true } = {}) {
    const start = await fetch(new URL('/auth/login', hg.review), { redirect: 'manual' });
    assert.equal(start.status, 302);
    const loginCookie = (start.headers.get('set-cookie') ?? '').split(';')[0];
    assert.match(loginCookie, /^holdgate_login=[0-9a-f]{64}$/);
    const authorize = new URL(start.headers.get('location'));
    assert.equal(authorize.origin, fake.issuer);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.match(authorize.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.ok(authorize.searchParams.get('nonce'));
    const back = await fetch(authorize, { redirect: 'manual' });
    assert.equal(back.status, 302);
    const callback = back.headers.get('location');
    const res = await fetch(callback, { redirect: 'manual', headers: bindState ? { Cookie: loginCookie } : {} });
    const setCookies = res.headers.getSetCookie?.() ?? [res.headers.get('set-cookie') ?? ''];
    const session = setCookies.map((c) => c.split(';')[0]).find((c) => /^holdgate_session=[0-9a-f]{64}$/.test(c));
    return { status: res.status, location: res.headers.get('location'), session };
  }

  it('accepts a good ID token (the control for the refusals below)', async () => {
    fake.setMode('ok');
    const r = await login();
    assert.equal(r.status, 302);
    assert.equal(r.location, `${base()}/`);
    assert.ok(r.session, 'a session cookie');
    const me = await api(hg.review, { cookie: r.session }, 'GET', '/api/me');
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.sub, 'alice');
    // Sessions are in the store: the cookie still works after holdgate restarts.
    await hg.stop();
    hg = await start('sso-fake-holdgate-restarted');
    const again = await api(hg.review, { cookie: r.session }, 'GET', '/auth/session');
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.signed_in, true);
    assert.equal(again.body.sub, 'alice');
  });

  for (const mode of ['forged', 'expired', 'wrong_aud', 'wrong_iss', 'wrong_nonce']) {
    it(`refuses a ${mode} ID token with a clear error and no session`, async () => {
      fake.setMode(mode);
      const before = (await auditEvents(hg.review, admin, { type: 'auth.failed' })).length;
      const r = await login();
      assert.equal(r.status, 302);
      assert.equal(r.location, `${base()}/?sso_error=token`);
      assert.equal(r.session, undefined);
      const failed = await auditEvents(hg.review, admin, { type: 'auth.failed' });
      assert.equal(failed.length, before + 1);
      const why = failed.map((e) => e.detail?.why).join(' | ');
      const expected = { forged: /bad signature/, expired: /expired/, wrong_aud: /audience/, wrong_iss: /issuer/, wrong_nonce: /nonce/ }[mode];
      assert.match(why, expected);
    });
  }

  it('refuses a callback whose state is not bound to this browser', async () => {
    fake.setMode('ok');
    const r = await login({ bindState: false });
    assert.equal(r.location, `${base()}/?sso_error=state`);
    assert.equal(r.session, undefined);
  });

  it('refuses to start with an http issuer unless allow_insecure_issuer is set', () => {
    const dir = makeOutputDir('sso-bad-config');
    const config = path.join(dir, 'holdgate.json');
    fs.writeFileSync(config, JSON.stringify({ review: { oidc: { issuer: 'http://idp.example.com', client_id: 'holdgate' } } }));
    const r = spawnSync(HOLDGATE_BIN, ['config', 'check', '--config', config], { encoding: 'utf8', timeout: 20000 });
    assert.notEqual(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /review\.oidc: issuer must use https/);
  });
});
