// The approval page's multi-select (approval-ui/js/bulk.js) in headless Debian Chromium, against a
// real `holdgate serve` with the demo upstream and the official MCP SDK client as the agent:
//   - rows are ticked with the mouse (the box), with x and with Space on the focused row; the
//     option's aria-checked follows;
//   - "Approve selected" sends ONE POST /api/approvals/decide with exactly the ticked ids, keyboard
//     only (Tab to the button, Enter, Enter in the dialog); every held agent gets its upstream
//     result; the per-id results are shown, including a refusal (an id the server does not know,
//     added to the request on its way out, comes back not_found and is listed as refused);
//   - "Select all" then "Reject selected" needs a reason; the agents are told it; one request;
//   - an auditor (read-only) sees no ticks and no bulk bar.
// Waiting is always on a condition, never a fixed sleep.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  DEMO_POLICY, OUTPUT_DIR, connectHttp, demoJson, demoStdioCommand, makeOutputDir, startHoldgateServe, textOf, waitFor,
} from './lib/index.mjs';
import { launchChromium, newWatchedPage, seriousProblems } from './lib/browser.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';
import { pendingApprovals, rejectAllPending, reviewApi } from './lib/review-api.mjs';
import { heldCall } from './lib/mcp-client.mjs';
import { startJob } from './lib/demo.mjs';

const SCREEN_DIR = path.join(OUTPUT_DIR, 'ui-screens');

const api = reviewApi;


async function openSignedIn(context, base, token) {
  const page = await newWatchedPage(context);
  await page.goto(`${base}/`);
  await page.locator('#token-input').waitFor();
  await page.locator('#token-input').fill(token);
  await page.keyboard.press('Enter');
  await page.locator('#shell').waitFor({ state: 'visible' });
  await page.locator('#conn[data-state="live"]').waitFor();
  return page;
}

// Records every POST /api/approvals/decide the page sends (its parsed body).
function recordBulkRequests(page) {
  const bodies = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && new URL(req.url()).pathname === '/api/approvals/decide') bodies.push(JSON.parse(req.postData()));
  });
  return bodies;
}

const row = (page, job) => page.locator('.qitem', { hasText: job });

describe('approval page: multi-select on the bulk endpoint', { timeout: 180000 }, () => {
  let hg;
  let demo;
  let browser;
  let alice;
  let admin;
  let auditor;
  let agent;

  before(async () => {
    const outDir = makeOutputDir('ui-bulk');
    const secret = newJwtSecret();
    demo = demoStdioCommand({ name: 'ui-bulk-upstream', outDir });
    hg = await startHoldgateServe({
      name: 'ui-bulk-holdgate', outDir, upstreamCmd: demo.commandLine, policy: DEMO_POLICY,
      env: { HOLDGATE_JWT_SECRET: secret },
    });
    alice = await mintToken(secret, { sub: 'alice', role: 'reviewer' });
    admin = await mintToken(secret, { sub: 'root', role: 'admin' });
    auditor = await mintToken(secret, { sub: 'audra', role: 'auditor' });
    agent = await connectHttp(hg.mcp, { name: 'ui-bulk-agent' });
    browser = await launchChromium(outDir);
  });

  after(async () => {
    if (hg && admin) await rejectAllPending(hg.review, admin).catch(() => {});
    await browser?.close();
    await agent?.close().catch(() => {});
    await hg?.stop();
  });

  it('ticks rows by mouse and keyboard, approves the ticked ones in one request, rejects the rest with a reason', async (t) => {
    t.after(() => rejectAllPending(hg.review, admin));
    const page = await openSignedIn(browser.context, hg.review, alice);
    t.after(() => page.close());
    const bulkBodies = recordBulkRequests(page);
    await page.locator('#queue-empty').waitFor({ state: 'visible' });
    assert.ok(await page.locator('#bulk-bar').isHidden(), 'no bulk bar while nothing is pending');

    const jobs = [];
    for (const label of ['bulk-a', 'bulk-b', 'bulk-c', 'bulk-d']) jobs.push(await startJob(agent.client, label));
    const calls = jobs.map((job) => heldCall(agent.client, 'cancel_job', { job_id: job }));
    await page.waitForFunction(() => document.querySelectorAll('.qitem').length === 4, null, { timeout: 10000 });
    await page.locator('#bulk-bar').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#bulk-count').innerText(), 'none selected');
    assert.ok(await page.locator('#bulk-approve').isDisabled());
    const [jobA, jobB, jobC, jobD] = jobs;

    // A: the box, with the mouse. Clicking the box ticks without changing the opened approval.
    const openedBefore = await page.locator('.qitem[aria-selected="true"]').getAttribute('data-id');
    await row(page, jobA).locator('.qitem-check').click();
    await page.waitForFunction((id) => document.querySelector(`.qitem[aria-checked="true"]`)?.textContent.includes(id), jobA);
    assert.equal(await page.locator('.qitem[aria-selected="true"]').getAttribute('data-id'), openedBefore);
    // B: focus the row, x. C: focus the row, Space.
    await row(page, jobB).focus();
    await page.keyboard.press('x');
    await row(page, jobC).focus();
    await page.keyboard.press(' ');
    await page.waitForFunction(() => document.querySelectorAll('.qitem[aria-checked="true"]').length === 3);
    assert.equal(await row(page, jobD).getAttribute('aria-checked'), 'false');
    assert.equal(await page.locator('#bulk-count').innerText(), '3 selected');
    // x again unticks, and once more ticks: a toggle.
    await page.keyboard.press('x');
    await page.waitForFunction(() => document.querySelectorAll('.qitem[aria-checked="true"]').length === 2);
    await page.keyboard.press('x');
    await page.waitForFunction(() => document.querySelectorAll('.qitem[aria-checked="true"]').length === 3);
    assert.equal(await page.evaluate(() => document.getElementById('bulk-all').indeterminate), true);

    // One id the server does not know rides along (added on the wire), so a refusal comes back.
    await page.route('**/api/approvals/decide', async (route) => {
      const body = JSON.parse(route.request().postData());
      body.ids.push('apr_does_not_exist');
      await route.continue({ postData: JSON.stringify(body) });
    });
    // Keyboard only: focus "Approve selected", Enter opens the dialog, Enter confirms.
    await page.locator('#bulk-approve').focus();
    await page.keyboard.press('Enter');
    await page.locator('#bulk-dialog[open]').waitFor();
    assert.equal(await page.locator('#bulk-title').innerText(), 'Approve 3 approvals?');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'bulk-reason');
    assert.equal(await page.locator('#bulk-list li').count(), 3);
    await page.keyboard.type('expected clean-up');
    fs.mkdirSync(SCREEN_DIR, { recursive: true });
    await page.screenshot({ path: path.join(SCREEN_DIR, 'bulk-approve-dialog.png') });
    await page.keyboard.press('Enter');

    // The three agents get the upstream result; D is still held.
    for (const [i, job] of [jobA, jobB, jobC].entries()) {
      const result = await calls[i];
      assert.ok(!result.isError, textOf(result));
      assert.equal(demoJson(result).job_id, job);
    }
    await demo.counters.waitFor((c) => c.jobs_cancelled === 3, 'three jobs cancelled upstream');
    assert.equal(bulkBodies.length, 1, 'one bulk request');
    assert.equal(bulkBodies[0].approve, true);
    assert.equal(bulkBodies[0].reason, 'expected clean-up');
    const pendingIds = new Map((await api(hg.review, admin, 'GET', '/api/approvals?state=all&limit=50')).body.approvals
      .map((a) => [a.arguments.job_id, a.id]));
    assert.deepEqual([...bulkBodies[0].ids].sort(), [jobA, jobB, jobC].map((j) => pendingIds.get(j)).sort());

    // Per-id results: three decided, the unknown id refused as not_found.
    await page.locator('#bulk-results').waitFor({ state: 'visible' });
    assert.match(await page.locator('.bulk-results-head').innerText(), /3 decided, 1 refused/);
    assert.equal(await page.locator('.bulk-results-list li.bulk-ok').count(), 3);
    const refused = page.locator('.bulk-results-list li.bulk-refused');
    assert.equal(await refused.count(), 1);
    assert.equal(await refused.getAttribute('data-outcome'), 'not_found');
    assert.match(await refused.innerText(), /apr_does_not_exist/);
    for (const job of [jobA, jobB, jobC]) {
      assert.equal(await page.locator(`.bulk-results-list li.bulk-ok[data-id="${pendingIds.get(job)}"]`).count(), 1, job);
    }
    await page.waitForFunction(() => document.querySelectorAll('.qitem').length === 1);
    assert.equal(await page.locator('#bulk-count').innerText(), 'none selected');
    await page.unroute('**/api/approvals/decide');

    // Select all (keyboard: focus the box, Space), then Reject selected: the reason is required.
    const five = await startJob(agent.client, 'bulk-e');
    const callE = heldCall(agent.client, 'cancel_job', { job_id: five });
    await page.waitForFunction(() => document.querySelectorAll('.qitem').length === 2, null, { timeout: 10000 });
    await page.locator('#bulk-all').focus();
    await page.keyboard.press(' ');
    await page.waitForFunction(() => document.querySelectorAll('.qitem[aria-checked="true"]').length === 2);
    assert.equal(await page.locator('#bulk-count').innerText(), '2 selected');
    await page.locator('#bulk-reject').focus();
    await page.keyboard.press('Enter');
    await page.locator('#bulk-dialog[open]').waitFor();
    assert.equal(await page.locator('#bulk-title').innerText(), 'Reject 2 approvals?');
    await page.keyboard.press('Enter');  // empty reason: refused on the page, nothing sent
    await page.locator('#bulk-error').waitFor({ state: 'visible' });
    assert.equal(bulkBodies.length, 1);
    await page.keyboard.type('Wrong target: nightly jobs stay');
    await page.keyboard.press('Enter');
    for (const call of [calls[3], callE]) {
      const result = await call;
      assert.ok(result.isError);
      assert.match(textOf(result), /Wrong target: nightly jobs stay/);
    }
    assert.equal(bulkBodies.length, 2, 'one request per bulk decision');
    assert.equal(bulkBodies[1].approve, false);
    assert.equal(bulkBodies[1].ids.length, 2);
    // The panel still shows the first decision until the page has the answer to this one.
    await page.locator('.bulk-results-head', { hasText: '2 decided, 0 refused' }).waitFor();
    await page.locator('#queue-empty').waitFor({ state: 'visible' });
    assert.ok(await page.locator('#bulk-bar').isHidden());
    assert.equal(demo.counters.read().jobs_cancelled, 3, 'the rejected calls never ran');
    assert.deepEqual(seriousProblems(page), []);
  });

  it('shows an auditor no ticks and no bulk bar', async (t) => {
    t.after(() => rejectAllPending(hg.review, admin));
    const job = await startJob(agent.client, 'bulk-audit');
    const call = heldCall(agent.client, 'cancel_job', { job_id: job });
    await waitFor(async () => (await pendingApprovals(hg.review, admin)).length === 1, { timeoutMs: 10000, what: 'held' });
    const page = await openSignedIn(browser.context, hg.review, auditor);
    t.after(() => page.close());
    await row(page, job).waitFor({ timeout: 5000 });
    assert.ok(await page.locator('#bulk-bar').isHidden());
    assert.equal(await page.locator('.qitem-check').count(), 0);
    assert.equal(await row(page, job).getAttribute('aria-checked'), null);
    await rejectAllPending(hg.review, admin);
    assert.ok((await call).isError);
    assert.deepEqual(seriousProblems(page), []);
  });
});
