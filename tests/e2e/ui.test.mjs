// The approval page (approval-ui/, embedded in build/holdgate) in headless Debian Chromium driven
// by playwright-core, against a real `holdgate serve` with the demo upstream and the official MCP
// SDK client as the agent:
//   - a held call appears without reload; a reviewer approves it with the keyboard (j/k, a) and
//     the waiting agent receives the upstream result;
//   - reject with a reason (preset + text, keyboard only) reaches the agent;
//   - markup in arguments and reasons is shown as text and runs nothing;
//   - sign-in states: no token, expired token (stored, pasted, and expiring while open),
//     role-less token, sign-out, auditor (read-only);
//   - the agent-left flag, comments, the help overlay and Esc;
//   - argument editing with a diff (editable rule), votes and who may still decide (quorum of two),
//     history and audit review (filters, paging, verify, export), a lost connection;
//   - the UI files carry no inline code and are served under the strict CSP;
//   - remembered approvals: made in the approve dialog (the identical call then runs at once),
//     listed and revoked on the Grants page (the call is held again); the admin's "what if" box;
//     integers beyond 2^53 shown and edited exactly;
//   - screenshots of sign-in, queue, detail, dialogs, history and audit in
//     tests/e2e/output/ui-screens/ (a failing test leaves FAILED-*.png there); the README's
//     screenshots of the new states are refreshed in docs/screenshots/ with
//     HOLDGATE_UPDATE_DOC_SCREENSHOTS=1.
// Waiting is always on a condition (playwright's waitFor / waitForFunction, lib waitFor), never a
// fixed sleep.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  DEMO_POLICY, OUTPUT_DIR, REPO_ROOT, connectHttp, demoJson, demoStdioCommand, makeOutputDir, startHoldgateServe, textOf, waitFor,
} from './lib/index.mjs';
import { launchChromium, newWatchedPage, seriousProblems } from './lib/browser.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';
import { pendingApprovals, rejectAllPending, reviewApi } from './lib/review-api.mjs';
import { heldCall } from './lib/mcp-client.mjs';

const SCREEN_DIR = path.join(OUTPUT_DIR, 'ui-screens');
const XSS_IMG = '<img src=x onerror=window.__xss=1>';
const XSS_SCRIPT = '</script><script>window.__xss=2</script>';

// ---- helpers ------------------------------------------------------------------------------------

// The review API from the test's side (for setup, cleanup and checking what the page did).
const api = reviewApi;

// Waits until a pending approval matches `pred`; returns it.
function waitForPending(base, token, pred, what) {
  return waitFor(async () => (await pendingApprovals(base, token)).find(pred), { timeoutMs: 10000, what });
}


async function startJob(client, label) {
  const result = await client.callTool({ name: 'start_job', arguments: { duration_ms: 600000, label } });
  assert.ok(!result.isError, textOf(result));
  const job = demoJson(result);
  assert.equal(typeof job.job_id, 'string');
  return job.job_id;
}

let lastPage = null;  // screenshotted when a test fails

// it() whose failure leaves a screenshot of the last page opened: output/ui-screens/FAILED-*.png.
function uiTest(name, fn) {
  return it(name, async (t) => {
    lastPage = null;
    try {
      await fn(t);
    } catch (error) {
      if (lastPage && !lastPage.isClosed()) {
        await screenshot(lastPage, `FAILED-${name.slice(0, 40).replace(/[^A-Za-z0-9]+/g, '-')}`).catch(() => {});
      }
      throw error;
    }
  });
}

async function openSignedIn(context, base, token, hash = '') {
  const page = await newWatchedPage(context);
  lastPage = page;
  await page.goto(`${base}/${hash}`);
  await page.locator('#token-input').waitFor();
  await page.locator('#token-input').fill(token);
  await page.keyboard.press('Enter');
  await page.locator('#shell').waitFor({ state: 'visible' });
  await page.locator('#conn[data-state="live"]').waitFor();
  return page;
}

// Counts page loads after this point (a reload would be one; hash changes are not) and marks the
// current document, so a test can check later that the page was never reloaded.
async function watchReloads(page) {
  const counter = { loads: 0 };
  page.on('load', () => { counter.loads += 1; });
  await page.evaluate(() => { window.__sameDocument = true; });
  counter.check = async () => {
    assert.equal(counter.loads, 0, 'no page load');
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the same document');
  };
  return counter;
}

async function selectedItemText(page) {
  return page.locator('.qitem[aria-selected="true"]').innerText();
}

async function screenshot(page, name) {
  fs.mkdirSync(SCREEN_DIR, { recursive: true });
  const file = path.join(SCREEN_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

function assertClean(page) {
  assert.deepEqual(seriousProblems(page), [], 'no CSP violations or script errors on the page');
}

// ---- the files themselves: nothing a CSP without 'unsafe-inline' would block, no HTML from strings --

describe('approval-ui files', () => {
  const UI_DIR = path.join(REPO_ROOT, 'approval-ui');
  const files = fs.readdirSync(UI_DIR, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(UI_DIR, f)).isFile());

  it('has no inline scripts, styles or handlers, and builds no HTML from strings', () => {
    assert.ok(files.includes('index.html') && files.some((f) => f.endsWith('.js')), files.join(', '));
    for (const f of files) {
      const text = fs.readFileSync(path.join(UI_DIR, f), 'utf8');
      if (f.endsWith('.html')) {
        for (const m of text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
          assert.match(m[1], /\bsrc=/, `${f}: every script is a file`);
          assert.equal(m[2].trim(), '', `${f}: no inline script`);
        }
        assert.doesNotMatch(text, /<style\b/i, `${f}: no <style>`);
        assert.doesNotMatch(text, /\sstyle\s*=/i, `${f}: no style attributes`);
        assert.doesNotMatch(text, /\son[a-z]+\s*=/i, `${f}: no inline event handlers`);
        assert.doesNotMatch(text, /(src|href)\s*=\s*"(https?:)?\/\//i, `${f}: nothing from another origin`);
      }
      if (f.endsWith('.js')) {
        assert.doesNotMatch(text, /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, `${f}: no HTML or code from strings`);
        assert.doesNotMatch(text, /\.style\.|setAttribute\(\s*'style'/, `${f}: no inline styles`);
      }
    }
  });
});

// ---- the demo policy: cancel_job requires approval ------------------------------------------------

describe('approval page with the demo policy', { timeout: 180000 }, () => {
  let hg;
  let demo;
  let browser;
  let secret;
  let alice;
  let admin;
  let agent;

  before(async () => {
    const outDir = makeOutputDir('ui-demo');
    secret = newJwtSecret();
    // Zero leeway so a token that expires during a test is refused at once.
    const config = path.join(outDir, 'holdgate.json');
    fs.writeFileSync(config, JSON.stringify({ review: { auth: { leeway: '0s' } } }));
    demo = demoStdioCommand({ name: 'ui-demo-upstream', outDir });
    hg = await startHoldgateServe({
      name: 'ui-holdgate', outDir, upstreamCmd: demo.commandLine, policy: DEMO_POLICY, config,
      env: { HOLDGATE_JWT_SECRET: secret },
    });
    alice = await mintToken(secret, { sub: 'alice', role: 'reviewer' });
    admin = await mintToken(secret, { sub: 'root', role: 'admin' });
    agent = await connectHttp(hg.mcp, { name: 'ui-test-agent' });
    browser = await launchChromium(outDir);
  });

  after(async () => {
    if (hg && admin) await rejectAllPending(hg.review, admin).catch(() => {});
    await browser?.close();
    await agent?.close().catch(() => {});
    await hg?.stop();
  });

  it('is served with a strict Content-Security-Policy and the right content types', async () => {
    for (const [p, type] of [['/', 'text/html'], ['/js/app.js', 'text/javascript'], ['/css/app.css', 'text/css'], ['/favicon.svg', 'image/svg+xml']]) {
      const res = await fetch(new URL(p, hg.review));
      assert.equal(res.status, 200, p);
      assert.ok(res.headers.get('content-type').startsWith(type), `${p}: ${res.headers.get('content-type')}`);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      await res.arrayBuffer();
    }
  });

  uiTest('shows a held call live and approves it with the keyboard; the agent gets the result', async (t) => {
    t.after(() => rejectAllPending(hg.review, admin));
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    await page.locator('#queue-empty').waitFor({ state: 'visible' });
    assert.equal(await page.title(), 'holdgate');
    const reloads = await watchReloads(page);

    const jobA = await startJob(agent.client, 'nightly-train');
    const jobB = await startJob(agent.client, 'backfill-2024');
    // The page shows the held call within a second of the approval existing (SSE, no polling).
    const callA = heldCall(agent.client, 'cancel_job', { job_id: jobA });
    const [inApi, onPage] = await Promise.all([
      waitForPending(hg.review, alice, (a) => a.arguments.job_id === jobA, 'the held call in the API').then(() => Date.now()),
      page.locator('.qitem', { hasText: jobA }).waitFor({ timeout: 5000 }).then(() => Date.now()),
    ]);
    const latencyA = onPage - inApi;
    assert.ok(latencyA < 1000, `shown ${latencyA} ms after it was held`);
    const callB = heldCall(agent.client, 'cancel_job', { job_id: jobB });
    await page.locator('.qitem', { hasText: jobB }).waitFor({ timeout: 5000 });
    t.diagnostic(`first held call on the page ${latencyA} ms after the API listed it`);

    // Both are critical, so the newest (B) is on top; the title counts them.
    await page.waitForFunction(() => document.title === '(2) holdgate');
    const items = page.locator('.qitem');
    assert.equal(await items.count(), 2);
    assert.match(await items.nth(0).innerText(), new RegExp(jobB));
    assert.match(await items.nth(0).innerText(), /critical/i);
    assert.match(await items.nth(0).innerText(), /rule (tools\.)?cancel_job/);
    assert.match(await items.nth(0).locator('.countdown').innerText(), /^\d+:\d\d$/);

    // j/k move the selection (the first arrival, A, was selected automatically).
    assert.match(await selectedItemText(page), new RegExp(jobA));
    await page.keyboard.press('k');
    await page.waitForFunction((id) => document.querySelector('.qitem[aria-selected="true"]')?.textContent.includes(id), jobB);
    await page.keyboard.press('j');
    await page.waitForFunction((id) => document.querySelector('.qitem[aria-selected="true"]')?.textContent.includes(id), jobA);
    await page.keyboard.press('k');
    await page.waitForFunction((id) => document.querySelector('.qitem[aria-selected="true"]')?.textContent.includes(id), jobB);
    await page.locator('pre.json-args', { hasText: jobB }).waitFor();
    await page.locator('.agent-message', { hasText: 'Held for human approval' }).waitFor();
    assert.ok(await page.locator('#approve-button').isEnabled());
    assert.match(await page.evaluate(() => location.hash), /^#\/approvals\/apr_/);

    // ? shows the shortcuts, Esc closes; r opens the reject dialog, Esc closes it without deciding.
    await page.keyboard.press('?');
    await page.locator('#help-dialog[open]').waitFor();
    await screenshot(page, 'help');
    await page.keyboard.press('Escape');
    await page.locator('#help-dialog:not([open])').waitFor({ state: 'attached' });
    await page.keyboard.press('r');
    await page.locator('#reject-dialog[open]').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('#reject-dialog:not([open])').waitFor({ state: 'attached' });

    // a → the approve dialog (reason optional) → Enter.
    await page.keyboard.press('a');
    await page.locator('#approve-dialog[open]').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'approve-reason');
    await page.keyboard.type('expected: the backfill was started twice');
    await page.keyboard.press('Enter');

    const resultB = await callB;
    assert.ok(!resultB.isError, textOf(resultB));
    const outB = demoJson(resultB);
    assert.equal(outB.job_id, jobB);
    assert.equal(outB.cancelled, true);
    await demo.counters.waitFor((c) => c.jobs_cancelled === 1, 'one job cancelled upstream');

    // The page moved on to A; B left the queue; nothing reloaded.
    await page.waitForFunction(() => document.title === '(1) holdgate');
    await page.waitForFunction((id) => document.querySelector('.qitem[aria-selected="true"]')?.textContent.includes(id), jobA);
    await page.locator('.toast', { hasText: /approved/i }).waitFor();
    await reloads.check();

    // Recorded as alice's decision via the UI, with her reason.
    const all = await api(hg.review, admin, 'GET', '/api/approvals?state=all&limit=50');
    const decided = all.body.approvals.find((a) => a.arguments.job_id === jobB);
    assert.equal(decided.decided_by, 'alice');
    assert.equal(decided.decided_via, 'ui');
    assert.equal(decided.votes[0].reason, 'expected: the backfill was started twice');
    assert.ok(['approved', 'executing', 'completed'].includes(decided.state), decided.state);

    await rejectAllPending(hg.review, admin);
    const resultA = await callA;
    assert.ok(resultA.isError);
    assertClean(page);
  });

  uiTest('rejects with a preset and a reason, keyboard only; the agent is told the reason', async (t) => {
    t.after(() => rejectAllPending(hg.review, admin));
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    const job = await startJob(agent.client, 'quarterly-report');
    const countersBefore = demo.counters.read();
    const call = heldCall(agent.client, 'cancel_job', { job_id: job });
    await page.locator('.qitem[aria-selected="true"]', { hasText: job }).waitFor({ timeout: 5000 });
    await page.locator('#reject-button:not([disabled])').waitFor();

    await page.keyboard.press('r');
    await page.locator('#reject-dialog[open]').waitFor();
    assert.ok(await page.locator('#reject-submit').isDisabled(), 'reject needs a reason first');
    // Tab from the reason field to the presets: "Not expected", then "Wrong target".
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.preset), 'Wrong target');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'reject-reason');
    await page.keyboard.type(': that job belongs to team B');
    await screenshot(page, 'reject-dialog');
    await page.keyboard.press('Enter');

    const reason = 'Wrong target: that job belongs to team B';
    const result = await call;
    assert.ok(result.isError, 'a rejected call is an error result');
    assert.ok(textOf(result).includes(reason), `the agent is told the reason: ${textOf(result)}`);
    assert.equal(demo.counters.read().cancel_job_calls, countersBefore.cancel_job_calls, 'cancel_job never ran');

    await page.waitForFunction(() => document.title === 'holdgate');
    await page.locator('#queue-empty').waitFor({ state: 'visible' });

    // History (key 2) lists it as rejected, with the reason and who decided.
    await page.keyboard.press('2');
    const row = page.locator('#history-table tbody tr', { hasText: reason });
    await row.waitFor();
    assert.match(await row.innerText(), /Rejected/);
    assert.match(await row.innerText(), /alice/);
    // j focuses the first row, Enter opens it (deep link), with the rejection shown.
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await page.locator('.status-banner', { hasText: reason }).waitFor();
    assert.match(await page.evaluate(() => location.hash), /^#\/approvals\/apr_/);
    await page.locator('.back-link').waitFor();
    assertClean(page);
  });

  uiTest('renders markup in arguments and reasons as text and runs none of it', async (t) => {
    t.after(() => rejectAllPending(hg.review, admin));
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    const args = { job_id: XSS_IMG, note: XSS_SCRIPT, [XSS_IMG]: `${XSS_SCRIPT}${XSS_IMG}` };
    const call = heldCall(agent.client, 'cancel_job', args);
    await page.locator('.qitem', { hasText: XSS_IMG }).waitFor({ timeout: 5000 });
    const argsBlock = page.locator('pre.json-args');
    await argsBlock.waitFor();
    const shown = await argsBlock.innerText();
    assert.equal(JSON.parse(shown).job_id, XSS_IMG, 'the exact arguments, pretty-printed');
    assert.deepEqual(JSON.parse(shown), args);
    assert.ok(shown.includes(XSS_SCRIPT));
    assert.ok((await page.locator('.qitem-args').innerText()).includes(XSS_IMG));

    // Reject with markup in the reason: shown as text too.
    const reason = `<b>no</b>${XSS_IMG}`;
    await page.keyboard.press('r');
    await page.locator('#reject-dialog[open]').waitFor();
    await page.keyboard.type(reason);
    await page.keyboard.press('Enter');
    const result = await call;
    assert.ok(result.isError);
    assert.ok(textOf(result).includes(reason));
    await page.locator('.toast', { hasText: /rejected/i }).waitFor();

    // Open it in a new tab by deep link (#/approvals/<id>, as agents are told): after sign-in the
    // approval is shown, the reason literally in the status, the votes and the timeline.
    const all = await api(hg.review, admin, 'GET', '/api/approvals?state=rejected&limit=50');
    const rejected = all.body.approvals.find((a) => a.arguments.job_id === XSS_IMG);
    const linked = await openSignedIn(browser.context, hg.review, alice, `#/approvals/${rejected.id}`);
    t.after(() => linked.close());
    await linked.locator('.status-banner', { hasText: reason }).waitFor();
    await linked.locator('.vote-reason', { hasText: reason }).waitFor();
    assert.ok((await linked.locator('pre.json-args').innerText()).includes(XSS_SCRIPT));
    for (const p of [page, linked]) {
      assert.equal(await p.evaluate(() => window.__xss), undefined, 'no injected code ran');
      assert.equal(await p.locator('img[src="x"]').count(), 0, 'no <img> element was created from data');
      assert.equal(await p.locator('b', { hasText: 'no' }).count(), 0, 'no <b> element was created from data');
      assert.equal(await p.evaluate(() => [...document.scripts].filter((s) => s.textContent.includes('__xss')).length), 0);
      assertClean(p);
    }
  });

  uiTest('shows clear sign-in states: no token, expired, role-less, and a token that expires while open', async (t) => {
    // No token: the sign-in form, focused, no notice.
    const page = await newWatchedPage(browser.context);
    t.after(() => page.close());
    await page.goto(`${hg.review}/`);
    await page.locator('#signin').waitFor({ state: 'visible' });
    assert.ok(await page.locator('#signin-notice').isHidden());
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'token-input');
    await screenshot(page, 'signin');

    // A pasted expired token.
    const expired = await mintToken(secret, { sub: 'alice', role: 'reviewer', ttlSeconds: -120 });
    await page.locator('#token-input').fill(expired);
    await page.keyboard.press('Enter');
    await page.locator('#signin-notice[data-reason="expired"]').waitFor();
    assert.match(await page.locator('#signin-notice').innerText(), /token expired/i);
    assert.ok(await page.locator('#shell').isHidden());

    // A token without a holdgate role: 403, explained.
    const roleless = await mintToken(secret, { sub: 'mallory', role: 'guest' });
    await page.locator('#token-input').fill(roleless);
    await page.keyboard.press('Enter');
    await page.locator('#signin-notice[data-reason="forbidden"]').waitFor();
    assert.match(await page.locator('#signin-notice').innerText(), /no holdgate role/i);

    // An expired token already in this tab's storage (a reload after expiry) lands on sign-in.
    const stale = await newWatchedPage(browser.context);
    t.after(() => stale.close());
    await stale.goto(`${hg.review}/`);
    await stale.evaluate((tok) => sessionStorage.setItem('holdgate.token', tok), expired);
    await stale.reload();
    await stale.locator('#signin-notice[data-reason="expired"]').waitFor();
    assert.equal(await stale.evaluate(() => sessionStorage.getItem('holdgate.token')), null, 'the stale token is dropped');

    // Signed in with a token that expires a few seconds later: back to sign-in, "expired".
    const short = await mintToken(secret, { sub: 'alice', role: 'reviewer', ttlSeconds: 6 });
    const live = await openSignedIn(browser.context, hg.review, short);
    t.after(() => live.close());
    assert.equal(await live.evaluate(() => sessionStorage.getItem('holdgate.token')), short);
    assert.equal(await live.evaluate((tok) => location.href.includes(tok)), false, 'the token is never in the URL');
    await live.locator('#signin-notice[data-reason="expired"]').waitFor({ timeout: 15000 });
    assert.match(await live.locator('#signin-notice').innerText(), /token expired/i);
    assert.ok(await live.locator('#shell').isHidden());
    assert.equal(await live.evaluate(() => sessionStorage.getItem('holdgate.token')), null);
    await screenshot(live, 'signin-expired');

    // Sign-out clears the token.
    const out = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => out.close());
    await out.locator('#signout-button').focus();
    await out.keyboard.press('Enter');
    await out.locator('#signin-notice[data-reason="signedout"]').waitFor();
    assert.equal(await out.evaluate(() => sessionStorage.getItem('holdgate.token')), null);
    for (const p of [page, stale, live, out]) assertClean(p);
  });

  uiTest('flags an approval whose agent stopped waiting', async (t) => {
    t.after(() => rejectAllPending(hg.review, admin));
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    const quitter = await connectHttp(hg.mcp, { name: 'ui-quitter', terminate: false });
    const job = await startJob(quitter.client, 'left-behind');
    heldCall(quitter.client, 'cancel_job', { job_id: job }).catch(() => {});
    await page.locator('.qitem', { hasText: job }).waitFor({ timeout: 5000 });
    assert.equal(await page.locator('.qitem .flag-left').count(), 0);
    await quitter.close();  // the held request's connection goes away
    await page.locator('.qitem .flag-left', { hasText: 'agent left' }).waitFor({ timeout: 15000 });
    await page.locator('.agent-left', { hasText: 'stopped waiting' }).waitFor();
    assert.ok(await page.locator('#approve-button').isEnabled(), 'a decision is still possible');
    assertClean(page);
  });

  uiTest('gives an auditor a read-only view', async (t) => {
    t.after(() => rejectAllPending(hg.review, admin));
    const auditor = await mintToken(secret, { sub: 'carol', role: 'auditor' });
    const page = await openSignedIn(browser.context, hg.review, auditor);
    t.after(() => page.close());
    await page.locator('.role-chip', { hasText: 'read-only' }).waitFor();
    const job = await startJob(agent.client, 'audit-me');
    const call = heldCall(agent.client, 'cancel_job', { job_id: job });
    await page.locator('.qitem', { hasText: job }).waitFor({ timeout: 5000 });
    await page.locator('.readonly-note').waitFor();
    assert.equal(await page.locator('#approve-button').count(), 0);
    await page.keyboard.press('a');
    await page.locator('.toast', { hasText: /read-only/i }).waitFor();
    assert.ok(await page.locator('#approve-dialog').evaluate((d) => !d.open));
    await rejectAllPending(hg.review, admin);
    assert.ok((await call).isError);
    // The audit log and its verification are open to auditors.
    await page.keyboard.press('3');
    await page.locator('#audit-table').waitFor();
    assertClean(page);
  });
});

// ---- a richer policy: every risk level, an editable rule, a quorum of two --------------------------

describe('approval page with editable rules, quorum, history and audit', { timeout: 180000 }, () => {
  let hg;
  let outDir;
  let browser;
  let secret;
  let alice;
  let bob;
  let agent;
  const calls = [];

  const policy = {
    version: '1',
    default: 'deny',
    tools: {
      cancel_job: {
        action: 'require_approval',
        reason: 'Cancelling a job cannot be undone.',
        risk: { category: 'Destructive', level: 'critical' },
        approval: { approvers: 2, timeout: '20m' },
      },
      slow_echo: {
        action: 'require_approval',
        risk: { category: 'Write', level: 'high' },
        approval: { editable: true, timeout: '15m' },
      },
      start_job: {
        action: 'require_approval',
        risk: { category: 'Write', level: 'medium' },
        approval: { timeout: '30m' },
      },
      check_job_status: {
        action: 'require_approval',
        risk: { category: 'Read', level: 'low' },
        approval: { timeout: '8m' },
      },
    },
  };

  let starts = 0;
  async function startServer(reviewListen) {
    starts += 1;
    return startHoldgateServe({
      name: `ui-showcase-${starts}`, outDir, upstreamCmd: demoStdioCommand({ name: 'ui-showcase-upstream', outDir }).commandLine,
      policy: path.join(outDir, 'showcase-policy.json'), db: path.join(outDir, 'holdgate.db'),
      env: { HOLDGATE_JWT_SECRET: secret }, reviewListen,
    });
  }

  before(async () => {
    outDir = makeOutputDir('ui-showcase');
    fs.writeFileSync(path.join(outDir, 'showcase-policy.json'), JSON.stringify(policy, null, 2));
    secret = newJwtSecret();
    hg = await startServer();
    alice = await mintToken(secret, { sub: 'alice', role: 'reviewer' });
    bob = await mintToken(secret, { sub: 'bob', role: 'reviewer' });
    agent = await connectHttp(hg.mcp, { name: 'ui-showcase-agent' });
    browser = await launchChromium(outDir);
  });

  after(async () => {
    if (hg && alice) await rejectAllPending(hg.review, alice).catch(() => {});
    await Promise.allSettled(calls);
    await browser?.close();
    await agent?.close().catch(() => {});
    await hg?.stop();
  });

  uiTest('edits arguments with a diff before approving; the agent gets the edited call’s result', async (t) => {
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());

    const hold = (name, args) => { const p = heldCall(agent.client, name, args); calls.push(p.catch(() => {})); return p; };
    hold('check_job_status', { job_id: 'job_4c1e' });
    hold('start_job', { duration_ms: 900000, label: 'retrain-forecaster-eu', steps: 5 });
    const echo = hold('slow_echo', { message: 'Publish the weekly forecast to #ops', delay_ms: 0 });
    hold('cancel_job', { job_id: 'job_7f3a9c', delete: true });
    await page.waitForFunction(() => document.querySelectorAll('.qitem').length === 4, null, { timeout: 10000 });

    // Highest risk first: critical, high, medium, low.
    const order = await page.locator('.qitem .qitem-tool').allInnerTexts();
    assert.deepEqual(order, ['cancel_job', 'slow_echo', 'start_job', 'check_job_status']);
    const badges = await page.locator('.qitem .risk-badge').allInnerTexts();
    assert.deepEqual(badges.map((b) => b.toLowerCase()), ['critical', 'high', 'medium', 'low']);

    // Select the critical one (top) with k from wherever the first arrival put the selection.
    for (let i = 0; i < 4; i++) await page.keyboard.press('k');
    await page.locator('.detail-tool', { hasText: 'cancel_job' }).waitFor();
    await page.locator('.quorum', { hasText: '0 of 2' }).waitFor();
    await page.locator('.may-decide', { hasText: 'any reviewer' }).waitFor();
    await screenshot(page, 'queue-detail');

    // Move to slow_echo (second) with j, open the editor with e, change the message.
    await page.keyboard.press('j');
    await page.locator('.detail-tool', { hasText: 'slow_echo' }).waitFor();
    await page.locator('.tag', { hasText: 'editable rule' }).waitFor();
    await page.keyboard.press('e');
    const editor = page.locator('#args-editor');
    await editor.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'args-editor');
    const edited = { message: 'Publish the weekly forecast to #ops-review', delay_ms: 0 };
    await page.keyboard.press('Control+A');
    await page.keyboard.type(JSON.stringify(edited, null, 2));
    await page.locator('.editor-diff .d-add', { hasText: '#ops-review' }).waitFor();
    await page.locator('.editor-diff .d-del', { hasText: '"Publish the weekly forecast to #ops"' }).waitFor();
    await screenshot(page, 'detail-edit-diff');

    // Invalid JSON blocks approval with a clear message.
    await page.keyboard.type('}');
    await page.locator('.editor-status.form-error', { hasText: 'Not valid JSON' }).waitFor();
    await page.keyboard.press('Backspace');
    await page.locator('.editor-diff .d-add').first().waitFor();

    await page.keyboard.press('Escape');  // leave the editor; shortcuts work again
    await page.keyboard.press('a');
    await page.locator('#approve-dialog[open]').waitFor();
    await page.locator('#approve-edit-note', { hasText: 'edited the arguments' }).waitFor();
    await page.keyboard.press('Enter');
    const result = await echo;
    assert.ok(!result.isError, textOf(result));
    // The agent is told that a reviewer edited its call, before the upstream's own result.
    assert.match(result.content[0].text, /edited the arguments/);
    assert.deepEqual(result._meta['io.holdgate/edited_arguments'].ran_with, edited);
    assert.equal(demoJson({ content: result.content.slice(1) }).echo, edited.message,
                 'the upstream ran the edited arguments');

    const all = await api(hg.review, alice, 'GET', '/api/approvals?state=all&tool=slow_echo');
    const decided = all.body.approvals[0];
    assert.deepEqual(decided.edited_arguments, edited);
    assert.equal(decided.arguments.message, 'Publish the weekly forecast to #ops', 'the original is kept');
    assertClean(page);
  });

  uiTest('shows the votes so far and who may still decide (quorum of two)', async (t) => {
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    const cancel = await waitForPending(hg.review, alice, (a) => a.tool === 'cancel_job', 'the held cancel_job');
    await page.evaluate((id) => { location.hash = `#/approvals/${id}`; }, cancel.id);
    await page.locator('.quorum', { hasText: '0 of 2' }).waitFor();

    // bob approves through the API: one of two. The page follows live.
    const vote = await api(hg.review, bob, 'POST', `/api/approvals/${cancel.id}/approve`, { reason: 'job is stuck since Friday' });
    assert.equal(vote.status, 200, vote.text);
    assert.equal(vote.body.outcome.state, 'pending', `one approval of two must not decide: ${vote.text}`);
    await page.locator('.vote', { hasText: 'bob' }).waitFor();
    await page.locator('.quorum', { hasText: '1 of 2' }).waitFor();
    assert.match(await page.locator('.may-decide').innerText(), /not .*bob/);
    assert.ok(await page.locator('#approve-button').isEnabled(), 'alice may still approve');

    // c → the comment box; Ctrl+Enter sends; the comment shows (as text) for every reviewer.
    await page.keyboard.press('c');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'comment-input');
    await page.keyboard.type('Checked with the owner: <i>ok</i> to cancel once a second reviewer agrees.');
    await page.keyboard.press('Control+Enter');
    await page.locator('.comment-body', { hasText: '<i>ok</i> to cancel' }).waitFor();
    assert.equal(await page.locator('.comment-body i').count(), 0);
    await page.keyboard.press('Escape');
    await page.locator('.qitem[aria-selected="true"]').focus();
    await page.locator('#detail').evaluate((el) => { el.scrollTop = 0; });
    await screenshot(page, 'queue-detail-votes');
    assertClean(page);
  });

  uiTest('reviews history and the audit log: filters, paging, verify, export', async (t) => {
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    // Decide the rest so the history has several outcomes.
    for (const a of await pendingApprovals(hg.review, alice)) {
      if (a.tool === 'start_job') await api(hg.review, alice, 'POST', `/api/approvals/${a.id}/approve`, {});
      else await api(hg.review, alice, 'POST', `/api/approvals/${a.id}/reject`, { reason: a.tool === 'cancel_job' ? 'Needs a ticket' : 'Not expected' });
    }
    await page.locator('#queue-empty').waitFor({ state: 'visible' });

    const decidedAll = (await api(hg.review, alice, 'GET', '/api/approvals?state=all&limit=500')).body.approvals;
    const rejectedCount = decidedAll.filter((a) => a.state === 'rejected').length;
    assert.ok(rejectedCount >= 2, `rejected approvals: ${rejectedCount}`);

    await page.keyboard.press('2');
    await page.locator('#history-table').waitFor();
    await page.waitForFunction((n) => document.querySelectorAll('#history-table tbody tr').length === n, decidedAll.length);
    await screenshot(page, 'history');

    // Filter by state: only rejected rows.
    await page.locator('#history-filters select[name="state"]').selectOption('rejected');
    await page.locator('#history-filters button[type="submit"]').click();
    await page.waitForFunction((n) => {
      const rows = [...document.querySelectorAll('#history-table tbody tr')];
      return rows.length === n && rows.every((r) => r.textContent.includes('Rejected'));
    }, rejectedCount);
    // Reviewer filter (matched on decided_by and votes), any outcome: bob voted on the cancel only.
    await page.locator('#history-filters select[name="state"]').selectOption({ label: 'All decided' });
    await page.locator('#history-filters input[name="reviewer"]').fill('bob');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#history-table tbody tr')];
      return rows.length === 1 && rows[0].textContent.includes('cancel_job');
    });

    // Audit: newest first, filters, paging over more than one page, verify, export.
    await page.keyboard.press('Escape');
    await page.keyboard.press('3');
    await page.locator('#audit-table').waitFor();
    const seqs = (await page.locator('#audit-table tbody tr td:first-child').allInnerTexts()).map(Number);
    assert.ok(seqs.length >= 10, `events listed: ${seqs.length}`);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => y - x), 'newest first');
    await page.locator('#audit-verify').click();
    await page.locator('.verdict-ok', { hasText: 'Chain intact' }).waitFor();
    await screenshot(page, 'audit');

    await page.locator('#audit-filters input[name="type"]').fill('approval.rejected');
    await page.keyboard.press('Enter');
    await page.waitForFunction((n) => {
      const rows = [...document.querySelectorAll('#audit-table tbody tr')];
      return rows.length === n && rows.every((r) => r.textContent.includes('Rejected'));
    }, rejectedCount);
    const [jsonl] = await Promise.all([page.waitForEvent('download'), page.locator('#audit-export-jsonl').click()]);
    assert.match(jsonl.suggestedFilename(), /^holdgate-audit-.*\.jsonl$/);
    const lines = fs.readFileSync(await jsonl.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, rejectedCount);
    assert.ok(lines.every((e) => e.type === 'approval.rejected' && e.hash && e.prev_hash !== undefined));
    const [csv] = await Promise.all([page.waitForEvent('download'), page.locator('#audit-export-csv').click()]);
    const csvText = fs.readFileSync(await csv.path(), 'utf8');
    assert.match(csvText, /^seq,ts,type,approval_id/);
    assert.equal(csvText.trim().split('\r\n').length, rejectedCount + 1, 'a header and one row per event');

    // Paging (50 events a page): older, then back to newer. Comments are audit events too: enough
    // of them for two pages.
    const commented = (await api(hg.review, alice, 'GET', '/api/approvals?state=all&tool=start_job')).body.approvals[0];
    for (let i = 1; i <= 50; i++) {
      const c = await api(hg.review, alice, 'POST', `/api/approvals/${commented.id}/comments`, { body: `note ${i}` });
      assert.equal(c.status, 201, c.text);
    }
    await page.locator('#audit-filters button[type="reset"]').click();
    await page.waitForFunction((n) => document.querySelectorAll('#audit-table tbody tr').length > n, rejectedCount);
    await page.locator('#audit-older:not([disabled])').waitFor();
    const page1 = (await page.locator('#audit-table tbody tr td:first-child').allInnerTexts()).map(Number);
    assert.equal(page1.length, 50);
    await page.locator('#audit-older').click();
    await page.locator('#audit-page', { hasText: 'Page 2' }).waitFor();
    await page.waitForFunction((min) => Number(document.querySelector('#audit-table tbody tr td')?.textContent) < min, Math.min(...page1));
    await page.locator('#audit-newer').click();
    await page.locator('#audit-page', { hasText: 'Page 1' }).waitFor();
    await page.waitForFunction((s) => Number(document.querySelector('#audit-table tbody tr td')?.textContent) === s, page1[0]);
    assertClean(page);
  });

  uiTest('shows a lost connection, reconnects by itself, and catches up', async (t) => {
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    const reviewPort = new URL(hg.review).port;
    await agent.close().catch(() => {});
    agent = null;
    await hg.stop();
    await page.locator('#banner', { hasText: 'Live updates paused' }).waitFor({ timeout: 15000 });
    assert.equal(await page.locator('#conn').getAttribute('data-state'), 'reconnecting');
    // Never "All clear" beside the offline banner: an empty queue is not known to be empty.
    assert.equal(await page.locator('.empty-title', { hasText: 'All clear' }).count(), 0);
    assert.equal(await page.locator('.empty-title', { hasText: 'Nothing is waiting for you' }).count(), 0);
    await screenshot(page, 'connection-lost');

    hg = await startServer(`127.0.0.1:${reviewPort}`);
    assert.equal(hg.review, `http://127.0.0.1:${reviewPort}`);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 20000 });
    assert.ok(await page.locator('#banner').isHidden());

    // Live again: a new held call shows up without reload.
    agent = await connectHttp(hg.mcp, { name: 'ui-showcase-agent-2' });
    const p = heldCall(agent.client, 'check_job_status', { job_id: 'job_after_restart' });
    calls.push(p.catch(() => {}));
    await page.locator('.qitem', { hasText: 'job_after_restart' }).waitFor({ timeout: 5000 });

    // Dark mode, for the record.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.locator('.detail-tool', { hasText: 'check_job_status' }).waitFor();
    await screenshot(page, 'queue-dark');
    assertClean(page);
  });
});

// ---- remembered approvals, the what-if box, exact big integers -----------------------------------

const DOCS_SCREEN_DIR = path.join(REPO_ROOT, 'docs', 'screenshots');

// The README's screenshots: always in output/ui-screens/; copied over the committed ones in
// docs/screenshots/ only when HOLDGATE_UPDATE_DOC_SCREENSHOTS=1, so an ordinary run changes no
// tracked file.
async function docsScreenshot(page, name) {
  const file = await screenshot(page, name);
  if (process.env.HOLDGATE_UPDATE_DOC_SCREENSHOTS !== '1') return;
  fs.mkdirSync(DOCS_SCREEN_DIR, { recursive: true });
  fs.copyFileSync(file, path.join(DOCS_SCREEN_DIR, `${name}.png`));
}

// A raw MCP session over fetch, so a tools/call can carry integers JavaScript numbers cannot hold.
async function rawMcpSession(mcpUrl) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  const init = await fetch(mcpUrl, {
    method: 'POST', headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw-bigint', version: '1' } } }),
  });
  const sid = init.headers.get('mcp-session-id');
  const initText = await init.text();
  assert.ok(sid, 'a session id');
  const version = /"protocolVersion"\s*:\s*"([^"]+)"/.exec(initText)?.[1] ?? '2025-06-18';
  const sessionHeaders = { ...headers, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': version };
  const note = await fetch(mcpUrl, { method: 'POST', headers: sessionHeaders,
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  await note.text();
  // `body` is sent as written (a string), digits and all.
  return { post: (body) => fetch(mcpUrl, { method: 'POST', headers: sessionHeaders, body }) };
}

describe('remembered approvals, the policy what-if box and exact big integers', { timeout: 180000 }, () => {
  let hg;
  let outDir;
  let browser;
  let secret;
  let alice;
  let root;
  let agent;
  const calls = [];

  const policy = {
    version: '1',
    default: 'allow',
    tools: {
      slow_echo: {
        action: 'require_approval',
        reason: 'Echoes reach the ops channel; a reviewer checks the text first.',
        risk: { category: 'Write', level: 'high' },
        approval: { editable: true, timeout: '15m', remember: { max: '1h' } },
      },
      cancel_job: {
        action: 'require_approval',
        reason: 'Cancelling a job cannot be undone.',
        risk: { category: 'Destructive', level: 'critical' },
        approval: { timeout: '20m' },
      },
    },
  };

  before(async () => {
    outDir = makeOutputDir('ui-grants');
    fs.writeFileSync(path.join(outDir, 'grants-policy.json'), JSON.stringify(policy, null, 2));
    secret = newJwtSecret();
    hg = await startHoldgateServe({
      name: 'ui-grants', outDir, upstreamCmd: demoStdioCommand({ name: 'ui-grants-upstream', outDir }).commandLine,
      policy: path.join(outDir, 'grants-policy.json'), db: path.join(outDir, 'holdgate.db'),
      env: { HOLDGATE_JWT_SECRET: secret },
    });
    alice = await mintToken(secret, { sub: 'alice', role: 'reviewer' });
    root = await mintToken(secret, { sub: 'root', role: 'admin' });
    agent = await connectHttp(hg.mcp, { name: 'ui-grants-agent' });
    browser = await launchChromium(outDir);
  });

  after(async () => {
    if (hg && alice) await rejectAllPending(hg.review, alice).catch(() => {});
    await Promise.allSettled(calls);
    await browser?.close();
    await agent?.close().catch(() => {});
    await hg?.stop();
  });

  uiTest('a remembered approval made in the dialog lets the identical call run; revoked on the page, it is held again', async (t) => {
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    const args = { message: 'Deploy note for #ops', delay_ms: 0 };
    const first = heldCall(agent.client, 'slow_echo', args);
    calls.push(first.catch(() => {}));
    await page.locator('.qitem', { hasText: 'slow_echo' }).waitFor({ timeout: 10000 });
    await page.locator('.detail-tool', { hasText: 'slow_echo' }).waitFor();
    // The rule's reason is shown with the approval.
    await page.locator('.rule-reason', { hasText: 'a reviewer checks the text first' }).waitFor();

    await page.keyboard.press('a');
    await page.locator('#approve-dialog[open]').waitFor();
    assert.ok(await page.locator('#approve-remember').isVisible(), 'the rule allows remembering');
    assert.ok(await page.locator('#remember-any-wrap').isHidden(), 'identical arguments only');
    await page.locator('#remember-on').check();
    await page.locator('#remember-for').selectOption('30m');
    await docsScreenshot(page, 'approve-remember');
    await page.locator('#approve-submit').click();
    const result = await first;
    assert.ok(!result.isError, textOf(result));

    // The grant exists; the identical call runs at once, without a new approval.
    const grants = (await api(hg.review, alice, 'GET', '/api/grants')).body.grants;
    assert.equal(grants.length, 1);
    assert.equal(grants[0].created_by, 'alice');
    assert.equal(grants[0].arguments, 'same');
    const again = await agent.client.callTool({ name: 'slow_echo', arguments: args });
    assert.ok(!again.isError, textOf(again));
    assert.deepEqual(await pendingApprovals(hg.review, alice), []);
    assert.equal((await api(hg.review, alice, 'GET', '/api/audit?type=grant.used')).body.events.length, 1);

    // Changed arguments are held.
    const changed = heldCall(agent.client, 'slow_echo', { ...args, message: 'Another note' });
    calls.push(changed.catch(() => {}));
    await waitForPending(hg.review, alice, (a) => a.arguments.message === 'Another note', 'the changed call held');
    await rejectAllPending(hg.review, alice);

    // The Grants page lists it; Revoke ends it.
    await page.locator('#tab-grants').click();
    const row = page.locator('.grants-table tbody tr', { hasText: 'slow_echo' });
    await row.waitFor();
    assert.match(await row.innerText(), /alice/);
    await docsScreenshot(page, 'grants');
    await row.locator('button', { hasText: 'Revoke' }).click();
    await page.locator('#grants-body .empty-title', { hasText: 'No remembered approvals' }).waitFor();
    const revoked = (await api(hg.review, alice, 'GET', '/api/grants?all=1')).body.grants[0];
    assert.equal(revoked.state, 'revoked');
    assert.equal(revoked.revoked_by, 'alice');

    // Held again.
    const held = heldCall(agent.client, 'slow_echo', args);
    calls.push(held.catch(() => {}));
    await waitForPending(hg.review, alice, (a) => a.arguments.message === args.message, 'the identical call held again');
    await rejectAllPending(hg.review, alice);
    assertClean(page);
  });

  uiTest('the admin’s what-if box says what the policy would do; reviewers read the policy without it', async (t) => {
    const reviewerPage = await openSignedIn(browser.context, hg.review, alice);
    await reviewerPage.locator('#tab-policy').click();
    await reviewerPage.locator('#pe-readonly').waitFor({ state: 'visible' });
    assert.ok(await reviewerPage.locator('#whatif-form').isHidden());
    assert.ok(await reviewerPage.locator('#policy-reload').isHidden());
    await reviewerPage.close();

    const page = await openSignedIn(browser.context, hg.review, root, '#/policy');
    t.after(() => page.close());
    await page.locator('#tab-policy').click();
    await page.locator('#policy-info', { hasText: 'Active policy' }).waitFor();
    await page.locator('#whatif-tool').fill('cancel_job');
    await page.locator('#whatif-arguments').fill('{"job_id": "job_7f3a9c"}');
    await page.locator('#whatif-principal').fill('ml-agent');
    await page.locator('#whatif-submit').click();
    await page.locator('#whatif-result [data-action="hold"]', { hasText: 'Held for approval' }).waitFor();
    await page.locator('.whatif-reason', { hasText: 'Cancelling a job cannot be undone.' }).waitFor();
    await page.locator('#whatif-result', { hasText: 'not rememberable' }).waitFor();
    await docsScreenshot(page, 'policy-what-if');

    await page.locator('#whatif-tool').fill('list_jobs');
    await page.locator('#whatif-arguments').fill('');
    await page.locator('#whatif-submit').click();
    await page.locator('#whatif-result [data-action="allow"]').waitFor();
    // Bad JSON is caught on the page.
    await page.locator('#whatif-arguments').fill('{nope');
    await page.locator('#whatif-submit').click();
    await page.locator('#whatif-result .form-error', { hasText: 'not valid JSON' }).waitFor();
    // Checks are audited.
    const checked = (await api(hg.review, root, 'GET', '/api/audit?type=policy.checked')).body.events;
    assert.equal(checked.length, 2);
    assertClean(page);
  });

  uiTest('integers beyond 2^53 are shown and edited exactly', async (t) => {
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    const raw = await rawMcpSession(hg.mcp);
    // 2^53 + 1 and a 64-bit id: JSON.parse would turn them into ...992 and ...000.
    const pendingCall = raw.post('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow_echo",' +
      '"arguments":{"message":"bigint","delay_ms":0,"ref":9007199254740993,"ids":[12345678901234567891]}}}');
    calls.push(pendingCall.then((r) => r.text()).catch(() => {}));
    const held = await waitForPending(hg.review, alice, (a) => a.arguments.message === 'bigint', 'the big-integer call');
    await page.locator('.qitem', { hasText: 'bigint' }).click();
    await page.locator('.detail-tool', { hasText: 'slow_echo' }).waitFor();
    const shown = await page.locator('.json-args').innerText();
    assert.match(shown, /9007199254740993/);
    assert.match(shown, /12345678901234567891/);
    assert.doesNotMatch(shown, /9007199254740992/);

    // Edit only the message; the big integers must reach holdgate digit for digit.
    await page.keyboard.press('e');
    const editor = page.locator('#args-editor');
    await editor.waitFor();
    const text = await editor.inputValue();
    assert.match(text, /9007199254740993/);
    await editor.fill(text.replace('"bigint"', '"bigint edited"').replace('9007199254740993', '9007199254740995'));
    await page.locator('.editor-diff .d-add', { hasText: '9007199254740995' }).waitFor();
    await docsScreenshot(page, 'bigint-edit');
    await page.keyboard.press('Escape');
    await page.keyboard.press('a');
    await page.locator('#approve-dialog[open]').waitFor();
    assert.ok(await page.locator('#approve-remember').isHidden(), 'an edited approval is not rememberable');
    await page.locator('#approve-submit').click();
    await page.locator('#approve-dialog').waitFor({ state: 'hidden' });

    // The stored edit, read as text (not through JSON.parse).
    const res = await fetch(new URL(`/api/approvals/${held.id}`, hg.review), { headers: { Authorization: `Bearer ${alice}` } });
    const body = await res.text();
    const edited = body.slice(body.indexOf('"edited_arguments"'));
    assert.match(edited, /"ref":9007199254740995/);
    assert.match(edited, /"ids":\[12345678901234567891\]/);
    assert.match(edited, /"message":"bigint edited"/);
    assertClean(page);
  });
});
