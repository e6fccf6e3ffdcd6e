// Both protocol eras on both sides at once, the way issue 17's "done when" reads: holdgate in front
// of a 2026-07-28-only server (the v2 SDK's createMcpHandler with legacy: "reject"):
//   - a pinned 2026-07-28 client (v2 SDK) lists and calls tools, and a multi round-trip tool's
//     input requests reach its own handlers across both hops (upstream input_required -> holdgate
//     -> the agent's input_required, requestState echoed exactly upstream);
//   - a 2025-11-25 client (v1 SDK) lists and calls the same tools;
//   - a critical call from each is held, approved by a reviewer in headless Chromium, and returns
//     the upstream's result, run exactly once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { BIND_LOCALHOST_CJS } from './lib/paths.mjs';
import { freePort, waitForPort } from './lib/ports.mjs';
import { makeOutputDir, startProcess, waitFor } from './lib/process.mjs';
import { startHoldgateServe } from './lib/holdgate.mjs';
import { connectAnsweringAgent, listAllTools, textOf } from './lib/mcp-client.mjs';
import { assertChromiumInstalled, launchChromium, newWatchedPage } from './lib/browser.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';

const SERVER_JS = new URL('./lib/server-2026.mjs', import.meta.url).pathname;
const V2026 = '2026-07-28';
const TOOLS = ['ask_twice', 'cancel_job', 'change_tools', 'deploy', 'echo', 'stats', 'whoami'];
const json = (result) => JSON.parse(textOf(result));

describe('a 2026 and a 2025 agent through holdgate in front of a 2026-only server', { timeout: 180000 }, () => {
  let server;
  let hg;
  let browser;
  let alice;

  before(async () => {
    assertChromiumInstalled();
    const outDir = makeOutputDir('eras');
    const port = await freePort();
    const proc = startProcess('eras-server-2026', process.execPath, [SERVER_JS, 'reject', String(port)], {
      env: { NODE_OPTIONS: `--require ${BIND_LOCALHOST_CJS}` }, outDir,
    });
    server = { url: `http://127.0.0.1:${port}/mcp`, stop: () => proc.stop() };
    await waitForPort(port, { proc });
    const policy = path.join(outDir, 'policy.json');
    fs.writeFileSync(policy, JSON.stringify({
      version: '1', default: 'allow',
      tools: { cancel_job: { action: 'require_approval', reason: 'No undo', approval: { approvers: 1, hold: '120s' } } },
    }));
    const secret = newJwtSecret();
    hg = await startHoldgateServe({
      name: 'eras-holdgate', outDir, policy, upstreamUrl: server.url, env: { HOLDGATE_JWT_SECRET: secret },
    });
    alice = await mintToken(secret, { sub: 'alice', role: 'reviewer' });
    browser = await launchChromium(outDir);
  });

  after(async () => {
    await browser?.close();
    await hg?.stop();
    await server?.stop();
  });

  async function pinnedClient(t, name) {
    const client = new ClientV2({ name, version: '2.4.0' },
      { versionNegotiation: { mode: { pin: V2026 } }, capabilities: { elicitation: {}, sampling: {} } });
    const asked = { elicit: [], sample: [] };
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.elicit.push(request.params.message);
      if (/name/i.test(request.params.message)) return { action: 'accept', content: { name: `${name}-name` } };
      return { action: 'accept', content: { ok: true } };
    });
    client.setRequestHandler('sampling/createMessage', async (request) => {
      asked.sample.push(request.params.messages[0].content.text);
      return { model: 'e2e', role: 'assistant', content: { type: 'text', text: `sampled by ${name}` } };
    });
    await client.connect(new TransportV2(new URL(hg.mcp)));
    t.after(() => client.close().catch(() => {}));
    assert.equal(client.getNegotiatedProtocolVersion(), V2026);
    return { client, asked };
  }

  async function v1Client(t, name) {
    const agent = await connectAnsweringAgent(hg.mcp, name);
    t.after(() => agent.close().catch(() => {}));
    return agent;
  }

  // Opens the review page signed in with a token and approves the held call naming `jobId`.
  async function approveInBrowser(t, jobId) {
    const page = await newWatchedPage(browser.context);
    t.after(() => page.close());
    await page.goto(`${hg.review}/`);
    await page.locator('#token-input').waitFor();
    await page.locator('#token-input').fill(alice);
    await page.keyboard.press('Enter');
    await page.locator('#shell').waitFor({ state: 'visible' });
    await page.locator('.qitem', { hasText: jobId }).click();
    await page.locator('pre.json-args', { hasText: jobId }).waitFor();
    await page.locator('#approve-button').click();
    await page.locator('#approve-dialog[open]').waitFor();
    await page.locator('#approve-reason').fill(`approved ${jobId} in the browser`);
    await page.locator('#approve-submit').click();
    await page.locator('.toast', { hasText: /approved/i }).waitFor();
  }

  it('a pinned 2026-07-28 client lists and calls tools, and answers a multi round-trip across both hops', async (t) => {
    const { client, asked } = await pinnedClient(t, 'agent-2026');
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((x) => x.name).sort(), TOOLS);
    const echoed = await client.callTool({ name: 'echo', arguments: { message: 'modern' } });
    assert.equal(echoed.content[0].text, 'echo: modern');
    const seen = JSON.parse((await client.callTool({ name: 'whoami', arguments: {} })).content[0].text);
    assert.equal(seen.protocolVersion, V2026);
    assert.equal(seen.clientInfo?.name, 'agent-2026', 'the upstream sees the agent, not holdgate');
    assert.equal(seen.headers.authorization, false);

    const before = JSON.parse((await client.callTool({ name: 'stats', arguments: {} })).content[0].text);
    const r = await client.callTool({ name: 'ask_twice', arguments: { topic: 'both hops' } });
    assert.equal(r.isError, undefined, JSON.stringify(r));
    assert.deepEqual(JSON.parse(r.content[0].text),
      { confirmed: true, sample: 'sampled by agent-2026', name: 'agent-2026-name', rounds: 3 });
    assert.deepEqual(asked, { elicit: ['Go ahead with both hops?', 'Your name?'], sample: ['say something about both hops'] });
    const afterStats = JSON.parse((await client.callTool({ name: 'stats', arguments: {} })).content[0].text);
    assert.equal(afterStats.bad_request_state, before.bad_request_state, 'the upstream got its requestState back exactly');
  });

  it('a 2025 client lists and calls the same tools', async (t) => {
    const { client } = await v1Client(t, 'agent-2025');
    const { tools } = await listAllTools(client);
    assert.deepEqual(tools.map((x) => x.name).sort(), TOOLS);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'legacy' } })), 'echo: legacy');
    assert.equal(json(await client.callTool({ name: 'whoami', arguments: {} })).clientInfo?.name, 'agent-2025');
  });

  for (const era of ['2026-07-28', '2025-11-25']) {
    it(`a critical call from a ${era} client is held, approved in the browser, and returns its result once`, async (t) => {
      const agent = era === V2026 ? await pinnedClient(t, 'held-2026') : await v1Client(t, 'held-2025');
      const jobId = `job-${era}`;
      const stats = async () => json(await agent.client.callTool({ name: 'stats', arguments: {} }));
      const before = await stats();
      const params = { name: 'cancel_job', arguments: { job_id: jobId } };
      const options = { onprogress: () => {}, resetTimeoutOnProgress: true, timeout: 120000 };
      // The v2 client takes (params, options); the v1 client (params, resultSchema, options).
      const call = (era === V2026 ? agent.client.callTool(params, options) : agent.client.callTool(params, undefined, options))
        .then((r) => ({ r }), (e) => ({ e }));
      await waitFor(async () => (await stats()).cancel_job_calls === before.cancel_job_calls &&
        (await fetch(new URL('/api/approvals?state=pending&tool=cancel_job', hg.review),
          { headers: { Authorization: `Bearer ${alice}` } }).then((x) => x.json())).approvals
          ?.some((a) => a.arguments.job_id === jobId),
      { timeoutMs: 15000, what: `a pending approval for ${jobId}, nothing run yet` });
      await approveInBrowser(t, jobId);
      const { r, e } = await call;
      assert.ifError(e);
      assert.equal(r.isError, undefined, JSON.stringify(r));
      assert.equal(textOf(r), `cancelled ${jobId}`);
      assert.equal((await stats()).cancel_job_calls, before.cancel_job_calls + 1, 'run exactly once');
    });
  }
});
