// The tool catalogue and the policy built in the browser (headless Chromium via playwright-core)
// against a real `holdgate serve` in front of the demo upstream, with the official MCP SDK client
// as the agent:
//   - the Tools tab lists every upstream tool with its decision, the rule, the risk and where it
//     comes from (policy or annotations), and the audited calls of the last 24 h;
//   - an admin builds "cancel_job: require approval when delete is true" in the form, sees the
//     dry run flag the earlier delete call (allow → hold), saves it with a reason; the next
//     matching call is held and a non-matching one runs; a reviewer sees the form disabled and
//     the API refuses their writes (403); a broken draft is refused with the parser's message and
//     the file is untouched; a rollback restores the previous file;
//   - `holdgate tools` prints the same catalogue;
//   - with two upstreams (the demo upstream and a 2026-07-28 server, each with its own policy
//     file, under a top-level policy whose default the 2026 server's file takes), the Tools tab
//     shows both, and the admin picks the demo upstream's file, builds the same rule on its
//     unprefixed cancel_job, sees the dry run (that upstream's calls only), saves it; the next
//     demo_cancel_job with delete is held, the other upstream's file is untouched; every surface
//     (API, page, CLI) names the upstream; the other upstream's file changed on disk is re-read
//     alone (a broken one refused naming it).
// The README's catalogue and editor screenshots are refreshed in docs/screenshots/ with
// HOLDGATE_UPDATE_DOC_SCREENSHOTS=1. Waiting is always on a condition, never a fixed sleep.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  DEMO_POLICY, HOLDGATE_BIN, OUTPUT_DIR, REPO_ROOT, connectHttp, demoJson, demoStdioCommand, makeOutputDir,
  startHoldgateServe, textOf, waitFor,
} from './lib/index.mjs';
import { launchChromium, newWatchedPage, seriousProblems } from './lib/browser.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';
import { pendingApprovals, rejectAllPending, reviewApi } from './lib/review-api.mjs';
import { heldCall } from './lib/mcp-client.mjs';
import { startJob } from './lib/demo.mjs';
import { startServer2026 } from './lib/upstream-2026.mjs';

const run = promisify(execFile);
const SCREEN_DIR = path.join(OUTPUT_DIR, 'ui-screens');
const DOCS_SCREEN_DIR = path.join(REPO_ROOT, 'docs', 'screenshots');

const api = reviewApi;

// One request on a connection of its own. A request the review listener refuses before routing
// (403) leaves its body unread, so the next request on a kept-alive connection can be misread.
function apiOwnConnection(base, token, method, p, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(new URL(p, base), {
      method, agent: false,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

// docs: a tall viewport scrolled to the top of the view, so the README shows the whole view.
async function screenshot(page, name, docs = false, scrollTo = null) {
  fs.mkdirSync(SCREEN_DIR, { recursive: true });
  const file = path.join(SCREEN_DIR, `${name}.png`);
  const size = page.viewportSize();
  if (docs) {
    await page.setViewportSize({ width: size.width, height: 1500 });
    await page.evaluate((sel) => {
      for (const v of document.querySelectorAll('main.view')) v.scrollTop = 0;
      if (sel) document.querySelector(sel)?.scrollIntoView({ block: 'start' });
    }, scrollTo);
  }
  await page.screenshot({ path: file });
  if (docs) await page.setViewportSize(size);
  if (docs && process.env.HOLDGATE_UPDATE_DOC_SCREENSHOTS === '1') {
    fs.mkdirSync(DOCS_SCREEN_DIR, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS_SCREEN_DIR, `${name}.png`));
  }
}

async function openSignedIn(context, base, token, hash = '') {
  const page = await newWatchedPage(context);
  await page.goto(`${base}/${hash}`);
  await page.locator('#token-input').fill(token);
  await page.keyboard.press('Enter');
  await page.locator('#shell').waitFor({ state: 'visible' });
  return page;
}

// Rejects what a describe left pending, then stops its agent, browser and processes.
async function tearDown({ hg, admin, calls, browser, agent, others = [] }) {
  if (hg && admin) await rejectAllPending(hg.review, admin).catch(() => {});
  await Promise.allSettled(calls);
  await browser?.close();
  await agent?.close().catch(() => {});
  await hg?.stop();
  for (const o of others) await o?.stop();
}

describe('tool catalogue and policy editor', { timeout: 240000 }, () => {
  let hg;
  let browser;
  let agent;
  let admin;
  let alice;
  let policyFile;
  let originalText;
  const calls = [];

  before(async () => {
    const outDir = makeOutputDir('policy-editor');
    const secret = newJwtSecret();
    // The demo policy, but cancel_job runs without approval: the editor adds the hold.
    const demo = JSON.parse(fs.readFileSync(DEMO_POLICY, 'utf8'));
    demo.tools.cancel_job = { risk: { category: 'Destructive', level: 'critical' } };
    delete demo.$schema;
    originalText = `${JSON.stringify(demo, null, 2)}\n`;
    policyFile = path.join(outDir, 'policy.json');
    fs.writeFileSync(policyFile, originalText);
    const config = path.join(outDir, 'holdgate.json');
    fs.writeFileSync(config, JSON.stringify({ audit: { all_calls: true } }));
    const upstream = demoStdioCommand({ name: 'policy-editor-demo', outDir });
    hg = await startHoldgateServe({
      name: 'policy-editor-holdgate', outDir, upstreamCmd: upstream.commandLine, policy: policyFile, config,
      env: { HOLDGATE_JWT_SECRET: secret },
    });
    admin = await mintToken(secret, { sub: 'root', role: 'admin' });
    alice = await mintToken(secret, { sub: 'alice', role: 'reviewer' });
    agent = await connectHttp(hg.mcp, { name: 'policy-editor-agent' });
    browser = await launchChromium(outDir);
  });

  after(() => tearDown({ hg, admin, calls, browser, agent }));

  it('catalogue, form-built rule, dry run, save, enforcement, read-only reviewers and rollback', async (t) => {
    // Calls the dry run will re-decide: a delete that ran, and one without delete.
    const jobA = await startJob(agent.client, 'to-delete');
    const deleted = await agent.client.callTool({ name: 'cancel_job', arguments: { job_id: jobA, delete: true } });
    assert.ok(!deleted.isError, textOf(deleted));
    const jobB = await startJob(agent.client, 'to-cancel');
    const cancelled = await agent.client.callTool({ name: 'cancel_job', arguments: { job_id: jobB } });
    assert.ok(!cancelled.isError, textOf(cancelled));
    const denied = await agent.client.callTool({ name: 'whoami', arguments: {} });
    assert.ok(denied.isError, 'whoami is denied by the default');

    // ---- the catalogue ----------------------------------------------------------------------
    const cat = await api(hg.review, alice, 'GET', '/api/tools');
    assert.equal(cat.status, 200, cat.text);
    assert.equal(cat.body.upstreams.length, 1);
    assert.equal(cat.body.upstreams[0].name, 'default');
    const byName = Object.fromEntries(cat.body.upstreams[0].tools.map((x) => [x.name, x]));
    assert.equal(byName.cancel_job.decision.action, 'allow');
    assert.equal(byName.cancel_job.risk.level, 'critical');
    assert.equal(byName.cancel_job.risk.source, 'policy');
    assert.deepEqual(byName.cancel_job.last_24h, { calls: 2, denied: 0, held: 0 });
    assert.equal(byName.whoami.decision.action, 'deny');
    assert.equal(byName.whoami.decision.rule, 'default');
    assert.equal(byName.whoami.risk.source, 'annotations');
    assert.equal(byName.whoami.risk.level, 'low');  // readOnlyHint
    assert.equal(byName.whoami.last_24h.denied, 1);

    const page = await openSignedIn(browser.context, hg.review, admin, '#/tools');
    t.after(() => page.close());
    const row = page.locator('.tools-table tr[data-tool="cancel_job"]');
    await row.waitFor();
    assert.match(await row.innerText(), /critical/i);
    assert.match(await row.innerText(), /from policy/);
    const whoRow = page.locator('.tools-table tr[data-tool="whoami"]');
    assert.match(await whoRow.innerText(), /from annotations/);
    assert.match(await whoRow.innerText(), /deny/);
    await screenshot(page, 'tools-catalogue-one-upstream');

    // ---- build the rule in the form ---------------------------------------------------------
    await page.locator('#tab-policy').click();
    const card = page.locator('.pe-card[data-tool="cancel_job"]');
    await card.waitFor();
    await card.locator('.pe-add-case').click();
    const kase = page.locator('.pe-card[data-tool="cancel_job"] .pe-case').first();
    await kase.locator('.pe-cond-path').fill('delete');
    await kase.locator('.pe-cond-path').press('Tab');
    await kase.locator('.pe-cond-op').selectOption('eq');
    await kase.locator('.pe-cond-value').fill('true');
    await kase.locator('.pe-cond-value').press('Tab');
    assert.equal(await kase.locator('.pe-case-action').inputValue(), 'require_approval');
    await page.locator('.pe-card[data-tool="cancel_job"] .pe-case .pe-case-reason').fill('Deleting a job loses its results: a human must agree.');
    await page.locator('.pe-card[data-tool="cancel_job"] .pe-case .pe-case-reason').press('Tab');
    // The JSON beside the form follows it, and the server's parser accepts it.
    await page.waitForFunction(() => {
      try {
        const d = JSON.parse(document.querySelector('#pe-json').value);
        const c = d.tools.cancel_job.cases?.[0];
        return c && c.when[0].path === 'delete' && c.when[0].value === true && c.action === 'require_approval';
      } catch { return false; }
    });
    await page.locator('#pe-status .pe-valid').waitFor();

    // ---- dry run: the earlier delete would have been held ----------------------------------
    await page.locator('#pe-dryrun').click();
    await page.locator('.pe-dryrun-summary[data-changed="1"]').waitFor();
    const change = page.locator('.pe-dryrun-table tbody tr');
    assert.equal(await change.count(), 1);
    assert.equal(await change.getAttribute('data-was'), 'allow');
    assert.equal(await change.getAttribute('data-draft'), 'hold');
    assert.match(await change.innerText(), new RegExp(jobA));
    assert.match(await change.innerText(), /tools\.cancel_job\.cases\[0\]/);
    await screenshot(page, 'policy-editor', true, '.pe-card[data-tool="cancel_job"]');

    // ---- save with a reason ----------------------------------------------------------------
    await page.locator('#pe-save').click();
    await page.locator('#pe-save-error', { hasText: 'Say why' }).waitFor();
    await page.locator('#pe-why').fill('hold job deletions (e2e)');
    await page.locator('#pe-save').click();
    await page.locator('.pe-versions-table tbody tr').nth(1).waitFor();
    assert.equal(await page.locator('.pe-versions-table tbody tr').count(), 2);
    const saved = fs.readFileSync(policyFile, 'utf8');
    assert.equal(JSON.parse(saved).tools.cancel_job.cases[0].action, 'require_approval');
    const audit = (await api(hg.review, admin, 'GET', '/api/audit?type=policy.saved')).body.events;
    assert.equal(audit.length, 1);
    assert.equal(audit[0].actor, 'root');
    assert.equal(audit[0].detail.why, 'hold job deletions (e2e)');
    const versions = (await api(hg.review, admin, 'GET', '/api/policy/versions')).body.versions;
    assert.equal(versions.length, 2);
    assert.equal(versions[0].why, 'hold job deletions (e2e)');

    // ---- the next matching call is held; a non-matching one runs ----------------------------
    const jobC = await startJob(agent.client, 'delete-after-save');
    const held = heldCall(agent.client, 'cancel_job', { job_id: jobC, delete: true });
    calls.push(held.catch(() => {}));
    const approval = await waitFor(async () => (await pendingApprovals(hg.review, admin)).find((a) => a.arguments.job_id === jobC),
      { timeoutMs: 10000, what: 'the delete call held' });
    assert.equal(approval.rule, 'tools.cancel_job.cases[0]');
    const jobD = await startJob(agent.client, 'cancel-after-save');
    const plain = await agent.client.callTool({ name: 'cancel_job', arguments: { job_id: jobD } });
    assert.ok(!plain.isError, textOf(plain));
    await api(hg.review, admin, 'POST', `/api/approvals/${approval.id}/reject`, { reason: 'not now' });
    const heldResult = await held;
    assert.ok(heldResult.isError);
    assert.match(textOf(heldResult), /not now/);

    // ---- reviewers read, never write -------------------------------------------------------
    const reviewerPage = await openSignedIn(browser.context, hg.review, alice, '#/policy');
    t.after(() => reviewerPage.close());
    await reviewerPage.locator('.pe-card[data-tool="cancel_job"]').waitFor();
    await reviewerPage.locator('#pe-readonly').waitFor({ state: 'visible' });
    assert.ok(await reviewerPage.locator('.pe-card[data-tool="cancel_job"] .pe-action').isDisabled());
    assert.equal(await reviewerPage.locator('#pe-json').getAttribute('readonly'), '');
    assert.ok(await reviewerPage.locator('#pe-save').isHidden());
    assert.ok(await reviewerPage.locator('#whatif-form').isHidden());
    await screenshot(reviewerPage, 'policy-editor-readonly');
    await reviewerPage.locator('.pe-versions-table tbody tr').first().waitFor();
    assert.equal(await reviewerPage.locator('.pe-versions-table .pe-rollback').count(), 0, 'no rollback buttons for reviewers');
    for (const [method, p, body] of [
      ['POST', '/api/policy', { text: originalText, why: 'x' }],
      ['POST', '/api/policy/dry-run', { text: originalText }],
      ['POST', '/api/policy/validate', { text: originalText }],
      ['POST', `/api/policy/versions/${versions[1].id}/rollback`, { why: 'x' }],
    ]) {
      const refused = await apiOwnConnection(hg.review, alice, method, p, body);
      assert.equal(refused.status, 403, `${p}: ${refused.text}`);
    }

    // ---- a broken draft is refused with the parser's message; the file is untouched --------
    const broken = await api(hg.review, admin, 'POST', '/api/policy',
      { text: saved.replace('"require_approval"', '"require_aproval"'), why: 'typo' });
    assert.equal(broken.status, 422, broken.text);
    assert.match(broken.body.message, /tools\.cancel_job\.cases\[0\]\.action/);
    assert.equal(fs.readFileSync(policyFile, 'utf8'), saved);
    const noWhy = await api(hg.review, admin, 'POST', '/api/policy', { text: originalText });
    assert.equal(noWhy.status, 400);
    assert.equal(fs.readFileSync(policyFile, 'utf8'), saved);

    // ---- rollback in the browser restores the previous file ---------------------------------
    const first = page.locator(`.pe-versions-table tr[data-version="${versions[1].id}"]`);
    await first.locator('.pe-rollback').click();
    await page.locator('#pe-diff .d-add').first().waitFor();
    await page.locator('#pe-rollback-why').fill('deletions are fine again (e2e)');
    await page.locator('#pe-rollback-confirm').click();
    await page.locator('.pe-versions-table tbody tr').nth(2).waitFor();
    assert.equal(fs.readFileSync(policyFile, 'utf8'), originalText);
    const jobE = await startJob(agent.client, 'delete-after-rollback');
    const afterRollback = await agent.client.callTool({ name: 'cancel_job', arguments: { job_id: jobE, delete: true } });
    assert.ok(!afterRollback.isError, textOf(afterRollback));
    const rolled = (await api(hg.review, admin, 'GET', '/api/audit?type=policy.saved')).body.events;
    assert.equal(rolled.length, 2);
    assert.equal(rolled[1].decision, 'rollback');
    assert.equal(rolled[1].detail.rollback_of, versions[1].id);

    assert.deepEqual(seriousProblems(page), [], 'no CSP violations or script errors (admin page)');
    assert.deepEqual(seriousProblems(reviewerPage), [], 'no CSP violations or script errors (reviewer page)');
  });

  it('`holdgate tools` prints the catalogue', async (t) => {
    const { stdout } = await run(HOLDGATE_BIN, ['tools', '--url', hg.review, '--token', admin]);
    for (const line of stdout.split('\n')) t.diagnostic(line);
    assert.match(stdout, /upstream default: 7 tools/);
    assert.match(stdout, /cancel_job\s+allow \(depends on arguments\)|cancel_job\s+allow/);
    assert.match(stdout, /whoami\s+deny\s+default\s+low \(from annotations\)/);
    const json = JSON.parse((await run(HOLDGATE_BIN, ['tools', '--json', '--url', hg.review, '--token', admin])).stdout);
    assert.equal(json.upstreams[0].tools.length, 7);
  });
});

describe('policy editor with two upstreams', { timeout: 180000 }, () => {
  let hg;
  let browser;
  let agent;
  let admin;
  let modern;
  let files;
  let secret;
  const calls = [];

  before(async () => {
    const outDir = makeOutputDir('policy-editor-two');
    secret = newJwtSecret();
    modern = await startServer2026('reject', 'policy-editor-two-2026');
    const demo = JSON.parse(fs.readFileSync(DEMO_POLICY, 'utf8'));
    demo.tools.cancel_job = { risk: { category: 'Destructive', level: 'critical' } };
    delete demo.$schema;
    files = {
      top: path.join(outDir, 'top.json'),
      demo: path.join(outDir, 'demo-policy.json'),
      modern: path.join(outDir, 'modern-policy.json'),
    };
    fs.writeFileSync(files.top, `${JSON.stringify({ version: '1', default: 'deny' }, null, 2)}\n`);
    fs.writeFileSync(files.demo, `${JSON.stringify(demo, null, 2)}\n`);
    // No "default": the 2026 server's tools it does not name take the top-level default (deny).
    fs.writeFileSync(files.modern, `${JSON.stringify({ version: '1', tools: { echo: {}, whoami: {} } }, null, 2)}\n`);
    const config = path.join(outDir, 'holdgate.json');
    const upstream = demoStdioCommand({ name: 'policy-editor-two-demo', outDir });
    fs.writeFileSync(config, JSON.stringify({
      audit: { all_calls: true },
      policy: files.top,
      upstreams: [
        { name: 'demo', command: upstream.commandLine, policy: files.demo },
        { name: 'modern', url: modern.url, policy: files.modern },
      ],
    }));
    hg = await startHoldgateServe({ name: 'policy-editor-two-holdgate', outDir, config, env: { HOLDGATE_JWT_SECRET: secret } });
    admin = await mintToken(secret, { sub: 'root', role: 'admin' });
    agent = await connectHttp(hg.mcp, { name: 'policy-editor-two-agent' });
    browser = await launchChromium(outDir);
  });

  after(() => tearDown({ hg, admin, calls, browser, agent, others: [modern] }));

  it('edits one upstream\'s own policy in the browser; the next matching prefixed call is held', async (t) => {
    const modernText = fs.readFileSync(files.modern, 'utf8');
    const topText = fs.readFileSync(files.top, 'utf8');
    // Calls the dry run may see: a demo delete that ran, and calls on the other upstream.
    const jobA = await startJob(agent.client, 'two-delete', 'demo_start_job');
    const deleted = await agent.client.callTool({ name: 'demo_cancel_job', arguments: { job_id: jobA, delete: true } });
    assert.ok(!deleted.isError, textOf(deleted));
    assert.match(textOf(await agent.client.callTool({ name: 'modern_echo', arguments: { message: 'hi' } })), /hi/);
    const modernCancel = await agent.client.callTool({ name: 'modern_cancel_job', arguments: { job_id: 'x', delete: true } });
    assert.ok(modernCancel.isError, 'the 2026 server\'s cancel_job is denied by the top-level default it inherits');

    // The policy files the editor can open.
    const list = await api(hg.review, admin, 'GET', '/api/policies');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.policies.map((p) => [p.upstream, p.path]),
      [[null, files.top], ['demo', files.demo], ['modern', files.modern]]);
    const unknown = await api(hg.review, admin, 'GET', '/api/policy?upstream=nope');
    assert.equal(unknown.status, 404, unknown.text);
    // Reviewers read an upstream's file; every change stays admin-only.
    const reviewer = await mintToken(secret, { sub: 'alice', role: 'reviewer' });
    const read = await api(hg.review, reviewer, 'GET', '/api/policy?upstream=demo');
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.upstream, 'demo');
    assert.equal(read.body.prefix, 'demo_');
    for (const p of ['/api/policy?upstream=demo', '/api/policy/dry-run?upstream=demo', '/api/policy/reload?upstream=demo']) {
      const refused = await apiOwnConnection(hg.review, reviewer, 'POST', p, { text: read.body.text, why: 'x' });
      assert.equal(refused.status, 403, `${p}: ${refused.text}`);
    }
    const cat = await api(hg.review, admin, 'GET', '/api/tools');
    const modernTools = Object.fromEntries(cat.body.upstreams[1].tools.map((x) => [x.name, x]));
    assert.equal(modernTools.modern_cancel_job.decision.action, 'deny');
    assert.equal(modernTools.modern_cancel_job.decision.rule, 'upstreams.modern: default');

    // The Tools tab with both upstreams (the README's screenshot).
    const page = await openSignedIn(browser.context, hg.review, admin, '#/tools');
    t.after(() => page.close());
    await page.locator('.tools-table tr[data-tool="demo_cancel_job"]').waitFor();
    await page.locator('.tools-table tr[data-tool="modern_echo"]').waitFor();
    assert.match(await page.locator('.tools-table tr[data-tool="modern_cancel_job"]').innerText(), /upstreams\.modern: default/);
    await screenshot(page, 'tools-catalogue', true);

    // Pick the demo upstream's own file and build the rule on its unprefixed cancel_job.
    await page.locator('#tab-policy').click();
    await page.locator('#policy-target-wrap').waitFor({ state: 'visible' });
    await page.locator('#policy-target').selectOption('demo');
    await page.locator('#policy-info', { hasText: 'Upstream demo' }).waitFor();
    const card = page.locator('.pe-card[data-tool="cancel_job"]');
    await card.waitFor();
    await card.locator('.pe-add-case').click();
    const kase = page.locator('.pe-card[data-tool="cancel_job"] .pe-case').first();
    await kase.locator('.pe-cond-path').fill('delete');
    await kase.locator('.pe-cond-path').press('Tab');
    await kase.locator('.pe-cond-op').selectOption('eq');
    await kase.locator('.pe-cond-value').fill('true');
    await kase.locator('.pe-cond-value').press('Tab');
    assert.equal(await kase.locator('.pe-case-action').inputValue(), 'require_approval');
    await page.locator('#pe-status .pe-valid').waitFor();

    // The dry run re-decides this upstream's calls only: the demo delete, not modern_cancel_job.
    await page.locator('#pe-dryrun').click();
    await page.locator('.pe-dryrun-summary[data-changed="1"]').waitFor();
    const change = page.locator('.pe-dryrun-table tbody tr');
    assert.equal(await change.count(), 1);
    assert.equal(await change.getAttribute('data-tool'), 'demo_cancel_job');
    assert.equal(await change.getAttribute('data-was'), 'allow');
    assert.equal(await change.getAttribute('data-draft'), 'hold');
    assert.match(await change.innerText(), /tools\.cancel_job\.cases\[0\]/);

    await page.locator('#pe-why').fill('hold demo job deletions (e2e)');
    await page.locator('#pe-save').click();
    await page.locator('.pe-versions-table tbody tr').nth(1).waitFor();
    assert.equal(JSON.parse(fs.readFileSync(files.demo, 'utf8')).tools.cancel_job.cases[0].action, 'require_approval');
    assert.equal(fs.readFileSync(files.modern, 'utf8'), modernText, 'the other upstream\'s file is untouched');
    assert.equal(fs.readFileSync(files.top, 'utf8'), topText, 'the top-level file is untouched');
    assert.ok(!fs.existsSync(`${files.modern}.versions`) && !fs.existsSync(`${files.top}.versions`));
    const saved = (await api(hg.review, admin, 'GET', '/api/audit?type=policy.saved')).body.events;
    assert.equal(saved.length, 1);
    assert.equal(saved[0].detail.upstream, 'demo');
    assert.equal(saved[0].detail.why, 'hold demo job deletions (e2e)');
    const versions = await api(hg.review, admin, 'GET', '/api/policy/versions?upstream=demo');
    assert.equal(versions.body.versions.length, 2);
    assert.equal((await api(hg.review, admin, 'GET', '/api/policy/versions?upstream=modern')).body.versions.length, 0);

    // The next matching prefixed call is held by the demo upstream's new rule.
    const jobB = await startJob(agent.client, 'two-delete-after-save', 'demo_start_job');
    const held = heldCall(agent.client, 'demo_cancel_job', { job_id: jobB, delete: true });
    calls.push(held.catch(() => {}));
    const approval = await waitFor(async () => (await pendingApprovals(hg.review, admin)).find((a) => a.arguments.job_id === jobB),
      { timeoutMs: 10000, what: 'the demo delete call held' });
    assert.equal(approval.tool, 'demo_cancel_job');
    assert.equal(approval.rule, 'upstreams.demo: tools.cancel_job.cases[0]');
    assert.match(textOf(await agent.client.callTool({ name: 'modern_echo', arguments: { message: 'still' } })), /still/);

    // Every surface names the upstream: the approval JSON, the page's queue and detail, the audit
    // log, `holdgate list` / `show` and `holdgate tools`.
    assert.equal(approval.upstream, 'demo');
    const created = (await api(hg.review, admin, 'GET', `/api/audit?type=approval.created&approval_id=${approval.id}`)).body.events;
    assert.equal(created.length, 1);
    assert.equal(created[0].upstream, 'demo');
    const denials = (await api(hg.review, admin, 'GET', '/api/audit?type=call.denied')).body.events;
    assert.ok(denials.some((e) => e.tool === 'modern_cancel_job' && e.upstream === 'modern'), JSON.stringify(denials));
    await page.goto(`${hg.review}/#/approvals/${approval.id}`);
    await page.locator(`.qitem[data-id="${approval.id}"] .qitem-upstream`, { hasText: '@demo' }).waitFor();
    await page.locator('.detail-upstream', { hasText: 'upstream demo' }).waitFor();
    const cli = async (...args) => (await run(HOLDGATE_BIN, [...args, '--url', hg.review, '--token', admin])).stdout;
    const listed = await cli('list');
    assert.match(listed.split('\n')[0], /UPSTREAM/);
    assert.match(listed, new RegExp(`${approval.id}.*demo_cancel_job.*\\bdemo\\b`));
    assert.match(await cli('show', approval.id), /upstream:\s+demo/);
    assert.match(await cli('audit', '--type', 'approval.created'), /demo_cancel_job @demo/);
    const reloaded = await cli('policy', 'reload', '--upstream', 'modern');
    assert.match(reloaded, /Policy reloaded: hash [0-9a-f]{64} \(.*modern-policy\.json, upstream modern\)/);
    const tools = await cli('tools');
    assert.match(tools, /TOOL\s+UPSTREAM\s+DECISION/);
    assert.match(tools, /modern_cancel_job\s+modern\s+deny\s+upstreams\.modern: default/);
    await page.locator('#tab-tools').click();
    await page.locator('.tools-table th', { hasText: 'Upstream' }).waitFor();
    assert.equal(await page.locator('.tools-table tr[data-tool="modern_echo"] .upstream-cell').innerText(), 'modern');
    await api(hg.review, admin, 'POST', `/api/approvals/${approval.id}/reject`, { reason: 'not now' });
    assert.ok((await held).isError);

    // An upstream's file changed on disk is re-read by itself: a broken one is refused naming the
    // upstream (its previous version stays), a good one takes effect for the next call.
    fs.writeFileSync(files.modern, '{"version": "1", "tools": {"echo": {"action": "explode"}}}');
    const failed = await waitFor(async () => (await api(hg.review, admin, 'GET', '/api/audit?type=policy.reload_failed'))
      .body.events.find((e) => e.upstream === 'modern'), { timeoutMs: 10000, what: 'the broken file refused' });
    assert.match(failed.detail.error, /tools\.echo\.action/);
    assert.match(textOf(await agent.client.callTool({ name: 'modern_echo', arguments: { message: 'kept' } })), /kept/);
    fs.writeFileSync(files.modern, JSON.stringify({ version: '1', default: 'allow' }));
    const ran = await waitFor(async () => {
      const r = await agent.client.callTool({ name: 'modern_cancel_job', arguments: { job_id: 'z' } });
      return r.isError ? undefined : r;
    }, { timeoutMs: 10000, what: 'the changed file in force' });
    assert.match(textOf(ran), /cancelled z/);
    assert.deepEqual(seriousProblems(page), [], 'no CSP violations or script errors');
  });
});
