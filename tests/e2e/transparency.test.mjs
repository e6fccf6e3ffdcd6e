// Transparent pass-through (issue 16): with upstream.sessions "per_agent" every agent session gets
// an upstream session of its own, initialized with the agent's own clientInfo, capabilities and
// protocol version, so an agent sees through holdgate what it would see directly.
//   1. tools/list, prompts/list, resources/list through holdgate equal what the same SDK client,
//      declaring no, some and all capabilities, gets directly: server-everything over HTTP and over
//      stdio, the demo upstream over HTTP and over stdio;
//   2. the upstream sees the agent's own clientInfo and capabilities (asking-server's whoami);
//   3. the conformance suite's server→client scenarios (sampling, elicitation, SEP-1034 defaults,
//      SEP-1330 enums) pass through holdgate as they pass directly, all four run at once (several
//      sessions open) against an HTTP and a stdio upstream;
//   4. two agents sampling at once each get their own request and their own answer back;
//   5. a held call's sampling request reaches its own agent after the release, and a retry from a
//      new session of the same principal finds the approval and is asked through that session;
//   6. ending the agent session (DELETE, idle expiry) ends its upstream session (HTTP DELETE, the
//      stdio child exits); beyond upstream.max_sessions an agent is refused, naming the setting.
// Real parts only: the SDK client, server-everything, the demo upstream, asking-server (an SDK
// server written for these tests), holdgate serve on loopback ports.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  E2E_DIR, EVERYTHING_TOOL_COUNT_BASIC, connectHttp, connectStdio, demoStdioCommand, everythingStdioCommand,
  freePort, listAllTools, makeOutputDir, runConformanceServer, startDemoHttp, startEverythingHttp, startHoldgateServe,
  startProcess, textOf, waitFor, waitForPort,
} from './lib/index.mjs';
import { mintToken, newJwtSecret } from './lib/reviewer-tokens.mjs';

const ASKING_SERVER_JS = path.join(E2E_DIR, 'lib', 'asking-server.mjs');
const CAPABILITY_SETS = {
  none: {},
  some: { sampling: {} },
  all: { sampling: {}, roots: { listChanged: true }, elicitation: {} },
};
// server-everything adds one tool per declared capability among these three.
const everythingToolCount = (caps) =>
  EVERYTHING_TOOL_COUNT_BASIC + ['sampling', 'roots', 'elicitation'].filter((c) => c in caps).length;

async function startAskingServerHttp(name) {
  const port = await freePort();
  const proc = startProcess(name, process.execPath, [ASKING_SERVER_JS, 'http', String(port)], { outDir: makeOutputDir(name) });
  await waitForPort(port, { proc });
  return { url: `http://127.0.0.1:${port}/mcp`, stop: () => proc.stop() };
}
const askingServerCommandLine = () => `${process.execPath} ${ASKING_SERVER_JS} stdio`;

// Live child processes of `pid` (any of its threads may have forked one).
function childPids(pid) {
  const pids = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      pids.push(...fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean));
    } catch { /* the thread ended meanwhile */ }
  }
  return pids;
}

// What a client sees of the three lists; an error (the demo has no prompts or resources) is kept
// as its code and message, so "refused the same way" compares equal too.
async function lists(client, { toolCount } = {}) {
  const attempt = async (fn) => {
    try { return await fn(); } catch (e) { return { error: { code: e.code, message: e.message } }; }
  };
  let tools;
  if (toolCount !== undefined) {
    // server-everything registers capability-dependent tools once initialized; wait for them.
    await waitFor(async () => (tools = (await listAllTools(client)).tools).length >= toolCount,
      { timeoutMs: 5000, what: `${toolCount} tools (got ${tools?.length})` });
  } else {
    tools = (await listAllTools(client)).tools;
  }
  return {
    tools,
    prompts: await attempt(() => client.listPrompts()),
    resources: await attempt(() => client.listResources()),
  };
}

// Opens a client with `caps` to `target` ({ url } or { command, args }) and returns its lists.
async function listsOf(target, caps, options) {
  const conn = target.url
    ? await connectHttp(target.url, { capabilities: caps })
    : await connectStdio(target.command, target.args, { capabilities: caps });
  try {
    return await lists(conn.client, options);
  } finally {
    await conn.close().catch(() => {});
  }
}

describe('per-agent upstream sessions: lists equal direct for none/some/all capabilities', { timeout: 180000 }, () => {
  const cleanup = [];
  const rigs = {};  // label -> { direct: {url}|{command,args}, holdgate: url, everything: bool }

  before(async () => {
    const everything = await startEverythingHttp({ name: 'tr-everything-http' });
    cleanup.push(() => everything.stop());
    const evStdio = everythingStdioCommand();
    const demo = await startDemoHttp({ name: 'tr-demo-http', pageSize: 3, extraTools: 2 });
    cleanup.push(() => demo.stop());
    const demoStdio = demoStdioCommand({ name: 'tr-demo-stdio', pageSize: 3, extraTools: 2 });
    const serve = async (name, upstream) => {
      const hg = await startHoldgateServe({ name, ...upstream, extraArgs: ['--upstream-sessions', 'per_agent'] });
      cleanup.push(() => hg.stop());
      return hg.mcp;
    };
    rigs['server-everything over HTTP'] = {
      direct: { url: everything.url }, holdgate: await serve('tr-hg-everything-http', { upstreamUrl: everything.url }), everything: true,
    };
    rigs['server-everything over stdio'] = {
      direct: { command: evStdio.command, args: evStdio.args },
      holdgate: await serve('tr-hg-everything-stdio', { upstreamCmd: evStdio.commandLine }), everything: true,
    };
    rigs['the demo upstream over HTTP'] = {
      direct: { url: demo.url }, holdgate: await serve('tr-hg-demo-http', { upstreamUrl: demo.url }),
    };
    rigs['the demo upstream over stdio'] = {
      direct: { command: demoStdio.command, args: demoStdio.args },
      holdgate: await serve('tr-hg-demo-stdio', { upstreamCmd: demoStdio.commandLine }),
    };
  });
  after(async () => {
    for (const stop of cleanup.reverse()) await stop();
  });

  for (const label of ['server-everything over HTTP', 'server-everything over stdio', 'the demo upstream over HTTP',
    'the demo upstream over stdio']) {
    for (const [capsName, caps] of Object.entries(CAPABILITY_SETS)) {
      it(`${label}, client declaring ${capsName} capabilities`, async () => {
        const rig = rigs[label];
        const options = rig.everything ? { toolCount: everythingToolCount(caps) } : {};
        const direct = await listsOf(rig.direct, caps, options);
        const via = await listsOf({ url: rig.holdgate }, caps, options);
        if (rig.everything) assert.equal(direct.tools.length, everythingToolCount(caps), 'the direct baseline');
        assert.deepEqual(via.tools.map((t) => t.name).sort(), direct.tools.map((t) => t.name).sort(), 'tool names');
        assert.deepEqual(via, direct);
      });
    }
  }
});

describe('per-agent upstream sessions: server→client requests', { timeout: 240000 }, () => {
  const cleanup = [];
  let asking;
  const holdgates = {};  // upstream transport -> holdgate serve

  before(async () => {
    asking = await startAskingServerHttp('tr-asking-http');
    cleanup.push(() => asking.stop());
    holdgates.http = await startHoldgateServe({ name: 'tr-hg-asking-http', upstreamUrl: asking.url });
    cleanup.push(() => holdgates.http.stop());
    holdgates.stdio = await startHoldgateServe({
      name: 'tr-hg-asking-stdio', upstreamCmd: askingServerCommandLine(), extraArgs: ['--upstream-sessions', 'per_agent'],
    });
    cleanup.push(() => holdgates.stdio.stop());
  });
  after(async () => {
    for (const stop of cleanup.reverse()) await stop();
  });

  for (const upstream of ['http', 'stdio']) {
    it(`${upstream} upstream: it sees the agent's own clientInfo and capabilities, as directly`, async (t) => {
      const whoami = async (conn) => {
        t.after(() => conn.close().catch(() => {}));
        return JSON.parse(textOf(await conn.client.callTool({ name: 'whoami', arguments: {} })));
      };
      for (const [capsName, caps] of Object.entries(CAPABILITY_SETS)) {
        const name = `agent-${capsName}`;
        const via = await whoami(await connectHttp(holdgates[upstream].mcp, { capabilities: caps, name }));
        const direct = await whoami(upstream === 'http'
          ? await connectHttp(asking.url, { capabilities: caps, name })
          : await connectStdio(process.execPath, [ASKING_SERVER_JS, 'stdio'], { capabilities: caps, name }));
        assert.deepEqual(via.clientInfo, { name, version: '0.0.0' });
        assert.deepEqual(Object.keys(via.capabilities).sort(), Object.keys(caps).sort(), capsName);
        assert.deepEqual(via, direct, `${capsName}: what the upstream was told`);
      }
    });

    it(`${upstream} upstream: two agents sampling at once each get their own request`, async (t) => {
      const agents = [];
      for (const who of ['A', 'B']) {
        const conn = await connectHttp(holdgates[upstream].mcp, { capabilities: { sampling: {} } });
        t.after(() => conn.close().catch(() => {}));
        const agent = { who, client: conn.client, saw: [], release: null };
        // Each agent holds its sampling request open until both have one: they really overlap.
        agent.answered = new Promise((resolve) => { agent.release = resolve; });
        conn.client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
          agent.saw.push(request.params.messages[0].content.text);
          await agent.answered;
          return { model: 'e2e', role: 'assistant', content: { type: 'text', text: `reply from agent ${who}` } };
        });
        agents.push(agent);
      }
      const calls = agents.map((a) => a.client.callTool({ name: 'ask-sampling', arguments: { prompt: `prompt of agent ${a.who}` } }));
      await waitFor(() => agents.every((a) => a.saw.length > 0), { timeoutMs: 10000, what: 'both agents to be asked' });
      for (const a of agents) a.release();
      const results = await Promise.all(calls);
      agents.forEach((a, i) => {
        assert.deepEqual(a.saw, [`prompt of agent ${a.who}`], `agent ${a.who} saw only its own request`);
        assert.equal(results[i].isError, undefined, JSON.stringify(results[i]));
        assert.equal(textOf(results[i]), `LLM response: reply from agent ${a.who}`);
      });
    });
  }

  it('conformance: the sampling and elicitation scenarios pass through holdgate as directly, all at once', async (t) => {
    const scenarios = ['tools-call-sampling', 'tools-call-elicitation', 'elicitation-sep1034-defaults', 'elicitation-sep1330-enums'];
    // Bystanders: sessions open on each holdgate during the runs, declaring every capability.
    for (const hg of Object.values(holdgates)) {
      for (let i = 0; i < 2; i++) {
        const conn = await connectHttp(hg.mcp, { capabilities: CAPABILITY_SETS.all });
        t.after(() => conn.close().catch(() => {}));
        conn.client.setRequestHandler(CreateMessageRequestSchema, async () => {
          throw new Error('a bystander was asked to sample');
        });
      }
    }
    const targets = { direct: asking.url, 'holdgate, HTTP upstream': holdgates.http.mcp, 'holdgate, stdio upstream': holdgates.stdio.mcp };
    const runs = await Promise.all(Object.entries(targets).flatMap(([label, url]) => scenarios.map(async (scenario) => ({
      label, scenario, run: await runConformanceServer(url, { scenario, name: `tr-conf-${label.replace(/\W+/g, '-')}-${scenario}`, timeoutMs: 90000 }),
    }))));
    for (const { label, scenario, run } of runs) {
      const result = run.scenarios[scenario];
      assert.ok(result, `${label}: ${scenario} ran (log ${run.logFile})`);
      assert.deepEqual(result.failures, [], `${label}: ${scenario}`);
      assert.ok(result.passed > 0 && result.warnings === 0, `${label}: ${scenario}: ${JSON.stringify(result)}`);
      assert.equal(run.exitCode, 0, `${label}: ${scenario} exit code (log ${run.logFile})`);
    }
  });
});

describe('per-agent upstream sessions: held calls', { timeout: 120000 }, () => {
  for (const upstream of ['http', 'stdio']) {
    it(`${upstream} upstream: a released call asks its own agent; a retry from a new session finds the approval`, async (t) => {
      const outDir = makeOutputDir(`tr-held-${upstream}`);
      const policy = path.join(outDir, 'policy.json');
      fs.writeFileSync(policy, JSON.stringify({
        version: '1',
        default: 'allow',
        tools: {
          'ask-sampling': { action: 'require_approval', approval: { approvers: 1, hold: '60s' } },
          test_sampling: { action: 'require_approval', approval: { approvers: 1, hold: '1s' } },
        },
      }));
      const secret = newJwtSecret();
      let asking;
      if (upstream === 'http') {
        asking = await startAskingServerHttp(`tr-held-asking-${upstream}`);
        t.after(() => asking.stop());
      }
      const hg = await startHoldgateServe({
        name: `tr-held-hg-${upstream}`, outDir, policy, env: { HOLDGATE_JWT_SECRET: secret },
        ...(upstream === 'http' ? { upstreamUrl: asking.url } : { upstreamCmd: askingServerCommandLine() }),
        extraArgs: ['--upstream-sessions', 'per_agent'],
      });
      t.after(() => hg.stop());
      const token = await mintToken(secret, { sub: 'alice' });
      const api = async (method, p, body) => {
        const res = await fetch(new URL(p, hg.review), {
          method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await res.json().catch(() => null) };
      };
      const pending = (tool) => waitFor(async () => {
        const r = await api('GET', `/api/approvals?state=pending&tool=${tool}`);
        return r.body?.approvals?.[0];
      }, { timeoutMs: 10000, what: `a pending ${tool} approval` });
      const agent = async (who) => {
        const conn = await connectHttp(hg.mcp, { capabilities: { sampling: {} } });
        t.after(() => conn.close().catch(() => {}));
        const saw = [];
        conn.client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
          saw.push(request.params.messages[0].content.text);
          return { model: 'e2e', role: 'assistant', content: { type: 'text', text: `reply from ${who}` } };
        });
        return { ...conn, saw };
      };

      // Held open (progress keeps the client waiting), approved, released: the upstream's sampling
      // request goes to the agent whose call it is, not to the bystander.
      const a = await agent('A');
      const bystander = await agent('bystander');
      const call = a.client.callTool({ name: 'ask-sampling', arguments: { prompt: 'held prompt' } }, undefined,
        { onprogress: () => {}, resetTimeoutOnProgress: true, timeout: 60000 });
      const approval = await pending('ask-sampling');
      assert.deepEqual(a.saw, [], 'nothing ran before the decision');
      assert.equal((await api('POST', `/api/approvals/${approval.id}/approve`, { reason: 'e2e' })).status, 200);
      const result = await call;
      assert.equal(textOf(result), 'LLM response: reply from A', JSON.stringify(result));
      assert.deepEqual(a.saw, ['held prompt']);

      // Deferred (hold 1 s), the agent session ends; after approval, the identical call from a new
      // session of the same principal runs once, and its sampling request goes to the new session.
      const first = await agent('first');
      const deferred = await first.client.callTool({ name: 'test_sampling', arguments: { prompt: 'retried prompt' } });
      assert.equal(deferred.isError, true, JSON.stringify(deferred));
      assert.match(textOf(deferred), /retry the identical call/);
      await first.close();
      const later = await pending('test_sampling');
      assert.equal((await api('POST', `/api/approvals/${later.id}/approve`, { reason: 'e2e' })).status, 200);
      const second = await agent('second');
      const retried = await second.client.callTool({ name: 'test_sampling', arguments: { prompt: 'retried prompt' } });
      assert.equal(textOf(retried), 'LLM response: reply from second', JSON.stringify(retried));
      assert.deepEqual(second.saw, ['retried prompt']);
      assert.deepEqual(first.saw, []);
      assert.deepEqual(bystander.saw, [], 'the bystander was never asked');
    });
  }
});

describe('per-agent upstream sessions: lifetime', { timeout: 60000 }, () => {
  it('stdio upstream: a child per agent session, ended when the agent session ends', async (t) => {
    const hg = await startHoldgateServe({
      name: 'tr-hg-lifetime', upstreamCmd: askingServerCommandLine(), extraArgs: ['--upstream-sessions', 'per_agent'],
    });
    t.after(() => hg.stop());
    const children = () => childPids(hg.proc.pid).length;
    const shared = children();  // the shared session (older agents, readiness)
    assert.equal(shared, 1);
    const a = await connectHttp(hg.mcp);
    const b = await connectHttp(hg.mcp);
    t.after(() => b.close().catch(() => {}));
    assert.equal(children(), shared + 2, 'one child per agent session');
    await a.close();  // DELETE ends the session
    await waitFor(() => children() === shared + 1, { timeoutMs: 10000, what: "the closed session's child to exit" });
    const { tools } = await b.client.listTools();
    assert.ok(tools.some((tool) => tool.name === 'whoami'), 'the other agent is still served');
  });

  it('HTTP upstream: ending the agent session ends its upstream session (DELETE)', async (t) => {
    const asking = await startAskingServerHttp('tr-lifetime-asking');
    t.after(() => asking.stop());
    const hg = await startHoldgateServe({ name: 'tr-hg-lifetime-http', upstreamUrl: asking.url });
    t.after(() => hg.stop());
    const openSessions = async (client) => Number(textOf(await client.callTool({ name: 'open-sessions', arguments: {} })));
    const a = await connectHttp(hg.mcp);
    t.after(() => a.close().catch(() => {}));
    const b = await connectHttp(hg.mcp);
    assert.equal(await openSessions(a.client), 3, "holdgate's shared session, A's and B's");
    await b.close();  // DELETE
    await waitFor(async () => (await openSessions(a.client)) === 2, { timeoutMs: 10000, what: "B's upstream session to end" });
  });

  it('stdio upstream: an agent session that idles out takes its child with it', async (t) => {
    const outDir = makeOutputDir('tr-hg-idle');
    const config = path.join(outDir, 'holdgate.json');
    fs.writeFileSync(config, JSON.stringify({ mcp: { session_idle_timeout: '1s' }, upstream: { sessions: 'per_agent' } }));
    const hg = await startHoldgateServe({ name: 'tr-hg-idle', outDir, config, upstreamCmd: askingServerCommandLine() });
    t.after(() => hg.stop());
    // A raw client that opens no GET stream (the SDK client keeps one open, which keeps a session alive).
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const init = await fetch(hg.mcp, { method: 'POST', headers, body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) });
    assert.equal(init.status, 200);
    await init.text();
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid);
    assert.equal(childPids(hg.proc.pid).length, 2, 'the shared child and the agent\'s');
    await waitFor(() => childPids(hg.proc.pid).length === 1, { timeoutMs: 15000, what: "the idle session's child to exit" });
    const after = await fetch(hg.mcp, { method: 'POST', headers: { ...headers, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    assert.equal(after.status, 404, 'the session is gone');
  });

  it('stdio upstream: beyond upstream.max_sessions an agent is refused, naming the setting, until a slot frees', async (t) => {
    const outDir = makeOutputDir('tr-hg-cap');
    const config = path.join(outDir, 'holdgate.json');
    fs.writeFileSync(config, JSON.stringify({ upstream: { sessions: 'per_agent', max_sessions: 1 } }));
    const hg = await startHoldgateServe({ name: 'tr-hg-cap', outDir, config, upstreamCmd: askingServerCommandLine() });
    t.after(() => hg.stop());
    const a = await connectHttp(hg.mcp);
    await assert.rejects(connectHttp(hg.mcp), /upstream\.max_sessions/);
    assert.equal(childPids(hg.proc.pid).length, 2, 'the shared child and agent A\'s');
    await a.close();
    let c;
    await waitFor(async () => {
      c = await connectHttp(hg.mcp).catch(() => null);
      return c !== null;
    }, { timeoutMs: 10000, what: "a session once A's slot is free" });
    t.after(() => c.close().catch(() => {}));
    assert.ok((await c.client.listTools()).tools.length > 0);
  });
});
