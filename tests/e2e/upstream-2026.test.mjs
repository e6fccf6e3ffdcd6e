// holdgate as a client of a 2026-07-28 MCP server (the v2 SDK's createMcpHandler, lib/server-2026.mjs),
// in 2026-only mode (`reject`: initialize gets -32022) and dual-era mode (`stateless`):
// - holdgate starts (it negotiates with server/discover instead of failing on initialize);
// - 2025 agents (the v1 SDK client, and the v2 client in its default legacy mode) list and call tools;
// - the upstream sees each agent's own clientInfo and capabilities in the per-request envelope, the
//   MCP-Protocol-Version / Mcp-Method / Mcp-Name headers, no session id, no credentials and no tasks;
// - a tools/list_changed announced on the upstream's subscriptions/listen stream reaches the agent;
// - multi round-trip input requests reach the agent's own elicitation and sampling handlers, two
//   rounds, with the requestState echoed exactly;
// - a held call, approved through the review API, runs once and returns the upstream's result;
// - the upstream going away gives the agent a clear error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { makeOutputDir, waitFor } from './lib/process.mjs';
import { startHoldgateServe } from './lib/holdgate.mjs';
import { startServer2026 } from './lib/upstream-2026.mjs';
import { connectAnsweringAgent, connectHttp, listAllTools, textOf } from './lib/mcp-client.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';

const TOOLS = ['ask_twice', 'cancel_job', 'change_tools', 'deploy', 'echo', 'stats', 'whoami'];

// A 2025 agent: the v1 SDK client with elicitation and sampling handlers that record what they saw.
async function agentV1(url, name, t) {
  const agent = await connectAnsweringAgent(url, name, { extensions: { 'io.modelcontextprotocol/tasks': {} } });
  t.after(() => agent.close().catch(() => {}));
  return agent;
}

const json = (result) => JSON.parse(textOf(result));

for (const mode of ['reject', 'stateless']) {
  describe(`holdgate in front of a 2026-07-28 server (${mode})`, { timeout: 120000 }, () => {
    let server;
    let hg;
    let secret;
    before(async () => {
      server = await startServer2026(mode, `up2026-server-${mode}`);
      const outDir = makeOutputDir(`up2026-hg-${mode}`);
      const policy = path.join(outDir, 'policy.json');
      fs.writeFileSync(policy, JSON.stringify({
        version: '1', default: 'allow',
        tools: {
          cancel_job: { action: 'require_approval', approval: { approvers: 1, hold: '60s' } },
          deploy: { action: 'require_approval', approval: { approvers: 1, hold: '60s' } },
        },
      }));
      secret = newJwtSecret();
      hg = await startHoldgateServe({
        name: `up2026-hg-${mode}`, outDir, policy, upstreamUrl: server.url, env: { HOLDGATE_JWT_SECRET: secret },
      });
    });
    after(async () => {
      await hg?.stop();
      await server?.stop();
    });

    it('a 2025 agent (v1 SDK) lists and calls tools; results are 2025-shaped', async (t) => {
      const a = await agentV1(hg.mcp, 'agent-v1', t);
      const { tools } = await listAllTools(a.client);
      assert.deepEqual(tools.map((tool) => tool.name).sort(), TOOLS);
      const page = await a.client.listTools();
      assert.equal(page.resultType, undefined, 'no 2026 result members');
      assert.equal(page.ttlMs, undefined, 'no 2026 cache hints');
      const echoed = await a.client.callTool({ name: 'echo', arguments: { message: 'héllo' } });
      assert.equal(textOf(echoed), 'echo: héllo');
      assert.equal(echoed.resultType, undefined, JSON.stringify(echoed));
      assert.equal(a.client.getServerVersion()?.name, 'server-2026');
      assert.equal(a.client.getInstructions(), 'a 2026-07-28 test server');
    });

    it('the upstream sees the agent\'s own clientInfo and capabilities, the 2026 headers, no tasks, no credentials', async (t) => {
      const a = await agentV1(hg.mcp, 'agent-whoami', t);
      const seen = json(await a.client.callTool({ name: 'whoami', arguments: {} }));
      assert.equal(seen.protocolVersion, '2026-07-28');
      assert.equal(seen.clientInfo?.name, 'agent-whoami', JSON.stringify(seen));
      assert.ok(seen.clientCapabilities?.elicitation, JSON.stringify(seen));
      assert.ok(seen.clientCapabilities?.sampling, JSON.stringify(seen));
      assert.equal(seen.clientCapabilities?.tasks, undefined);
      assert.equal(seen.clientCapabilities?.extensions?.['io.modelcontextprotocol/tasks'], undefined, JSON.stringify(seen));
      assert.deepEqual(seen.headers, {
        protocolVersion: '2026-07-28', method: 'tools/call', name: 'whoami', authorization: false, sessionId: null,
      });
    });

    it('a tools/list_changed the upstream announces on subscriptions/listen reaches the agent', async (t) => {
      const a = await agentV1(hg.mcp, 'agent-listen', t);
      let changed = 0;
      a.client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed += 1; });
      // The agent's upstream session opens its listen stream in the background: announce until one
      // announcement made after it was open arrives.
      await waitFor(async () => {
        await a.client.callTool({ name: 'change_tools', arguments: {} });
        return changed > 0;
      }, { timeoutMs: 10000, intervalMs: 200, what: 'notifications/tools/list_changed at the agent' });
    });

    it('the v2 client in its default (legacy) mode lists and calls tools through holdgate', async (t) => {
      const client = new ClientV2({ name: 'agent-v2', version: '2.0.0' }, { capabilities: {} });
      await client.connect(new TransportV2(new URL(hg.mcp)));
      t.after(() => client.close().catch(() => {}));
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((tool) => tool.name).sort(), TOOLS);
      const r = await client.callTool({ name: 'echo', arguments: { message: 'from v2' } });
      assert.equal(r.content[0].text, 'echo: from v2');
      const seen = JSON.parse((await client.callTool({ name: 'whoami', arguments: {} })).content[0].text);
      assert.equal(seen.clientInfo?.name, 'agent-v2');
    });

    it('multi round-trip: two rounds of input requests reach the agent\'s own handlers; the final result comes back', async (t) => {
      const a = await agentV1(hg.mcp, 'agent-mrtr', t);
      const bystander = await agentV1(hg.mcp, 'bystander', t);
      const before = json(await a.client.callTool({ name: 'stats', arguments: {} }));
      const result = await a.client.callTool({ name: 'ask_twice', arguments: { topic: 'deploy' } });
      assert.equal(result.isError, undefined, JSON.stringify(result));
      assert.deepEqual(json(result), { confirmed: true, sample: 'sampled by agent-mrtr', name: 'agent-mrtr-name', rounds: 3 });
      assert.deepEqual(a.asked, { elicit: ['Go ahead with deploy?', 'Your name?'], sample: ['say something about deploy'] });
      assert.deepEqual(bystander.asked, { elicit: [], sample: [] });
      const after = json(await a.client.callTool({ name: 'stats', arguments: {} }));
      assert.equal(after.bad_request_state, before.bad_request_state, 'every requestState came back exactly');
    });

    it('an agent without elicitation gets the upstream\'s own -32021 error from a multi round-trip tool', async (t) => {
      const conn = await connectHttp(hg.mcp, { name: 'agent-plain', capabilities: {} });
      t.after(() => conn.close().catch(() => {}));
      const r = await conn.client.callTool({ name: 'ask_twice', arguments: { topic: 'x' } }).catch((e) => e);
      // The upstream's own MissingRequiredClientCapability error, handed on as it is.
      assert.ok(r instanceof Error, JSON.stringify(r));
      assert.equal(r.code, -32021, r.message);
      assert.match(r.message, /do not declare the required capability/);
    });

    it('a held call (require_approval) is approved through the review API and returns the upstream result once', async (t) => {
      const a = await agentV1(hg.mcp, 'agent-held', t);
      const token = await mintToken(secret, { sub: 'alice' });
      const api = async (method, p, body) => {
        const res = await fetch(new URL(p, hg.review), {
          method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await res.json().catch(() => null) };
      };
      const before = json(await a.client.callTool({ name: 'stats', arguments: {} }));
      const call = a.client.callTool({ name: 'cancel_job', arguments: { job_id: `job-${mode}` } }, undefined,
        { onprogress: () => {}, resetTimeoutOnProgress: true, timeout: 60000 });
      const approval = await waitFor(async () => {
        const r = await api('GET', '/api/approvals?state=pending&tool=cancel_job');
        return r.body?.approvals?.[0];
      }, { timeoutMs: 10000, what: 'a pending cancel_job approval' });
      assert.equal(json(await a.client.callTool({ name: 'stats', arguments: {} })).cancel_job_calls, before.cancel_job_calls,
        'nothing ran before the decision');
      assert.equal((await api('POST', `/api/approvals/${approval.id}/approve`, { reason: 'e2e' })).status, 200);
      const result = await call;
      assert.equal(textOf(result), `cancelled job-${mode}`, JSON.stringify(result));
      const after = json(await a.client.callTool({ name: 'stats', arguments: {} }));
      assert.equal(after.cancel_job_calls, before.cancel_job_calls + 1, 'the approved call ran exactly once');
    });

    it('a held multi round-trip call: after approval its input requests reach the agent and the final result returns', async (t) => {
      const a = await agentV1(hg.mcp, 'agent-held-mrtr', t);
      const token = await mintToken(secret, { sub: 'alice' });
      const api = async (method, p, body) => {
        const res = await fetch(new URL(p, hg.review), {
          method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await res.json().catch(() => null) };
      };
      const before = json(await a.client.callTool({ name: 'stats', arguments: {} }));
      const call = a.client.callTool({ name: 'deploy', arguments: { topic: `prod-${mode}` } }, undefined,
        { onprogress: () => {}, resetTimeoutOnProgress: true, timeout: 60000 });
      const approval = await waitFor(async () => {
        const r = await api('GET', '/api/approvals?state=pending&tool=deploy');
        return r.body?.approvals?.[0];
      }, { timeoutMs: 10000, what: 'a pending deploy approval' });
      assert.deepEqual(a.asked, { elicit: [], sample: [] }, 'nothing asked before the decision');
      assert.equal((await api('POST', `/api/approvals/${approval.id}/approve`, { reason: 'e2e' })).status, 200);
      const result = await call;
      assert.equal(result.isError, undefined, JSON.stringify(result));
      assert.deepEqual(json(result), { confirmed: true, sample: 'sampled by agent-held-mrtr', name: 'agent-held-mrtr-name', rounds: 3 });
      assert.deepEqual(a.asked, { elicit: [`Go ahead with prod-${mode}?`, 'Your name?'], sample: [`say something about prod-${mode}`] });
      const after = json(await a.client.callTool({ name: 'stats', arguments: {} }));
      assert.equal(after.asked_completed, before.asked_completed + 1, 'the released call completed once');
      assert.equal(after.bad_request_state, before.bad_request_state);
    });
  });
}

describe('a 2026-07-28 upstream on the shared session', { timeout: 60000 }, () => {
  it('carries holdgate\'s own identity; input requests still go to the agent whose call it is', async (t) => {
    const server = await startServer2026('reject', 'up2026-shared-server');
    t.after(() => server.stop());
    const hg = await startHoldgateServe({ name: 'up2026-shared-hg', upstreamUrl: server.url, extraArgs: ['--upstream-sessions', 'shared'] });
    t.after(() => hg.stop());
    const a = await agentV1(hg.mcp, 'agent-shared', t);
    const bystander = await agentV1(hg.mcp, 'bystander-shared', t);
    const seen = json(await a.client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(seen.clientInfo?.name, 'holdgate', JSON.stringify(seen));
    assert.equal(seen.protocolVersion, '2026-07-28');
    const result = await a.client.callTool({ name: 'ask_twice', arguments: { topic: 'shared' } });
    assert.deepEqual(json(result), { confirmed: true, sample: 'sampled by agent-shared', name: 'agent-shared-name', rounds: 3 });
    assert.equal(a.asked.elicit.length, 2);
    assert.deepEqual(bystander.asked, { elicit: [], sample: [] });
  });
});

describe('a 2026-07-28 upstream that goes away', { timeout: 60000 }, () => {
  it('gives the agent a clear error', async (t) => {
    const server = await startServer2026('reject', 'up2026-gone-server');
    t.after(() => server.stop());
    const hg = await startHoldgateServe({ name: 'up2026-gone-hg', upstreamUrl: server.url });
    t.after(() => hg.stop());
    const conn = await connectHttp(hg.mcp, { name: 'agent-gone' });
    t.after(() => conn.close().catch(() => {}));
    assert.equal(textOf(await conn.client.callTool({ name: 'echo', arguments: { message: 'x' } })), 'echo: x');
    await server.stop();
    const r = await conn.client.callTool({ name: 'echo', arguments: { message: 'y' } }).catch((e) => e);
    const text = r instanceof Error ? r.message : JSON.stringify(r);
    assert.match(text, /upstream MCP server unreachable/, text);
  });
});
