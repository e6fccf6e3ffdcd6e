// holdgate as a transparent MCP proxy, proven with the official SDK client
// (@modelcontextprotocol/sdk) against real upstreams:
//   1. over Streamable HTTP and over stdio (`holdgate stdio`), to server-everything as a stdio AND
//      an HTTP upstream: the same initialize answer, tool list (names, schemas, annotations) and
//      results (echo, get-sum, get-structured-content, get-tiny-image, resources, prompts) as
//      talking to server-everything directly; tools/list pagination passes through (demo upstream);
//   2. progress notifications of a long-running tool arrive (and are not crossed between agents);
//   3. a client-side timeout's notifications/cancelled reaches the upstream (demo counters);
//   4. elicitation and sampling requests from the upstream reach the client's handlers and the
//      answers go back; an agent without the capability is refused with -32601;
//   5. the agent's bearer token never goes upstream; no / a wrong key gets 401;
//   6. @modelcontextprotocol/conformance server scenarios: holdgate passes every scenario
//      server-everything passes on its own, plus dns-rebinding-protection;
//   7. bad input over real HTTP (malformed JSON, wrong shapes, unknown session, foreign Origin,
//      oversized body, upstream killed mid-call), the gateway still serving afterwards;
//   8. the scripts/run.sh demo: list jobs, start one, cancel it: cancel_job is held by the demo
//      policy, a reviewer approves it through the review API, and the job really gets cancelled.
// Every process is started through lib/ helpers and stopped in after()/t.after(), so a failing
// assertion still cleans up; waiting is on conditions, never fixed sleeps.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  DEMO_POLICY, E2E_DIR, EVERYTHING_FULL_CAPS, EVERYTHING_TOOL_COUNT_BASIC, EVERYTHING_TOOL_COUNT_FULL, HOLDGATE_BIN,
  connectHttp, connectStdio, demoJson, demoStdioCommand, everythingBaseline, everythingStdioCommand, everythingToolNames,
  holdgateStdioCommand, listAllTools, makeOutputDir, runConformanceServer, startDemoHttp, startEverythingHttp,
  startHoldgateServe, textOf, waitFor,
} from './lib/index.mjs';
import { SignJWT } from 'jose';
import { reviewApi } from './lib/review-api.mjs';

const REQUEST_TIMEOUT = -32001;  // the SDK's McpError code for a client-side timeout
const SAMPLING_REPLY = 'stub sampling reply from the e2e client';
const ELICITATION_REPLY = { name: 'Ada Lovelace', check: true, integer: 7 };

// ---- small helpers ------------------------------------------------------------------------------

function writeJson(dir, name, value) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

function sha256Hex(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

// Connects the SDK client to holdgate: over HTTP to a running `holdgate serve`, or over stdio by
// spawning `holdgate stdio` with the same upstream. Returns { client, close() }; the close runs on
// test end whatever happened.
async function connectGateway(t, downstream, { serve, upstreamCmd, upstreamUrl, capabilities = {}, headers, name }) {
  let conn;
  if (downstream === 'http') {
    conn = await connectHttp(serve.mcp, { capabilities, headers });
  } else {
    const cmd = holdgateStdioCommand({ upstreamCmd, upstreamUrl, name: name ?? 'holdgate-stdio' });
    conn = await connectStdio(cmd.command, cmd.args, {
      capabilities, stderrFile: path.join(cmd.outDir, 'holdgate-stdio.log'),
    });
  }
  t.after(() => conn.close().catch(() => {}));
  return conn;
}

// Installs client handlers for the upstream's sampling and elicitation requests; records them.
function installClientHandlers(client) {
  const seen = { sampling: [], elicitation: [] };
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    seen.sampling.push(request.params);
    return { model: 'e2e-stub-model', role: 'assistant', content: { type: 'text', text: SAMPLING_REPLY } };
  });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    seen.elicitation.push(request.params);
    return { action: 'accept', content: ELICITATION_REPLY };
  });
  return seen;
}

// What server-everything answers to a fixed set of calls, in a form deepStrictEqual can compare
// between a direct connection and one through holdgate.
async function everythingAnswers(client) {
  const baseline = await everythingBaseline(client);  // lib/baseline.mjs: waits for the 16 tools
  const { tools } = await listAllTools(client);
  const { resources } = await client.listResources();
  const { resourceTemplates } = await client.listResourceTemplates();
  const { prompts } = await client.listPrompts();
  const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    baseline,
    serverVersion: client.getServerVersion(),
    instructions: client.getInstructions(),
    capabilities: client.getServerCapabilities(),
    tools: [...tools].sort(byName),
    echo: await client.callTool({ name: 'echo', arguments: { message: 'hello gateway' } }),
    sum: await client.callTool({ name: 'get-sum', arguments: { a: 40, b: 2 } }),
    structured: await client.callTool({ name: 'get-structured-content', arguments: { location: 'Chicago' } }),
    image: await client.callTool({ name: 'get-tiny-image', arguments: {} }),
    resources,
    resourceTemplates,
    firstResource: await client.readResource({ uri: resources[0].uri }),
    prompts: [...prompts].sort(byName),
    simplePrompt: await client.getPrompt({ name: 'simple-prompt' }),
    argsPrompt: await client.getPrompt({ name: 'args-prompt', arguments: { city: 'Lyon', state: 'Rhone' } }),
  };
}

// The elicitation and sampling round trips (client handlers must be installed).
async function everythingServerRequests(client) {
  return {
    sampling: await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi gateway', maxTokens: 10 } }),
    elicitation: await client.callTool({ name: 'trigger-elicitation-request', arguments: {} }),
  };
}

function checkServerRequestResults(results, seen) {
  assert.equal(seen.sampling.length, 1, 'the sampling request reached the client handler once');
  assert.equal(seen.sampling[0].messages[0].content.text, 'Resource trigger-sampling-request context: hi gateway');
  assert.equal(seen.sampling[0].maxTokens, 10);
  assert.ok(!results.sampling.isError, JSON.stringify(results.sampling));
  assert.match(textOf(results.sampling), new RegExp(SAMPLING_REPLY), 'the client reply came back to the upstream');
  assert.match(textOf(results.sampling), /e2e-stub-model/);

  assert.equal(seen.elicitation.length, 1, 'the elicitation request reached the client handler once');
  assert.equal(seen.elicitation[0].requestedSchema.type, 'object');
  assert.deepEqual(seen.elicitation[0].requestedSchema.required, ['name']);
  assert.ok(!results.elicitation.isError, JSON.stringify(results.elicitation));
  const text = results.elicitation.content.map((c) => c.text).join('\n');
  assert.match(text, /User provided the requested information/);
  assert.match(text, /- Name: Ada Lovelace/);
  assert.match(text, /- Favorite Integer: 7/);
}

// The JSON server-everything embeds in its sampling/elicitation result texts, parsed, so results
// compare by value: holdgate re-serialises messages (nlohmann::json sorts object keys), so the
// client's reply reaches the upstream with its keys in another order, which JSON allows.
function parsedServerRequestResults(results) {
  const parse = (block) => {
    const m = block.type === 'text' && block.text.match(/^(\n?Raw result: |LLM sampling result: \n)([\s\S]*)$/);
    return m ? { ...block, text: m[1], json: JSON.parse(m[2]) } : block;
  };
  return Object.fromEntries(Object.entries(results).map(([k, r]) => [k, { ...r, content: r.content.map(parse) }]));
}

// Progress of trigger-long-running-operation (3 steps over `seconds`): { progress: [[progress,
// total], ...] seen by onprogress, late: [...] progress the SDK dropped, text }.
// SDK 1.32 quirk: Protocol runs notification handlers in a microtask but handles responses
// synchronously, so when the last progress notification and the response arrive in the same read
// (stdio; it happens directly to server-everything too), the response wins and the SDK reports
// the progress through onerror as "for an unknown token". Those are collected in `late`.
async function longRunningProgress(client, seconds = 0.6) {
  const progress = [];
  const late = [];
  const previous = client.onerror;
  client.onerror = (error) => {
    const m = /progress notification for an unknown token: (\{.*\})$/s.exec(error?.message ?? '');
    if (m) late.push(JSON.parse(m[1]).params);
    else previous?.(error);
  };
  try {
    const result = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: seconds, steps: 3 } },
      undefined, { onprogress: (p) => progress.push([p.progress, p.total]) });
    return { progress, late, text: textOf(result) };
  } finally {
    client.onerror = previous;
  }
}

// A reviewer token: `holdgate token` when the CLI has it, else HS256 minted with npm jose using
// the secret holdgate runs with (HOLDGATE_JWT_SECRET). Returns { token, via }.
async function reviewerToken(secret, sub) {
  const r = spawnSync(HOLDGATE_BIN, ['token', '--sub', sub, '--role', 'reviewer'], {
    env: { ...process.env, HOLDGATE_JWT_SECRET: secret }, encoding: 'utf8', timeout: 15000,
  });
  if (r.status === 0) {
    const jwt = (r.stdout ?? '').split(/\s+/).find((w) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(w));
    if (jwt) return { token: jwt, via: 'holdgate token' };
  }
  const token = await new SignJWT({ sub, role: 'reviewer' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
  return { token, via: 'jose (holdgate token unavailable)' };
}

// ---- raw Streamable HTTP ------------------------------------------------------------------------

const RAW_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

function rawPost(url, body, headers = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { ...RAW_HEADERS, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const initializeBody = (id = 1) => ({
  jsonrpc: '2.0', id, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw-e2e', version: '0' } },
});

// Reads a response that is either one JSON body or an SSE stream; returns the JSON-RPC messages.
async function rpcMessages(res) {
  const text = await res.text();
  if (/^application\/json/.test(res.headers.get('content-type') ?? '')) return [JSON.parse(text)];
  return text.split(/\r?\n\r?\n/)
    .map((ev) => ev.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n'))
    .filter((d) => d.length > 0)
    .map((d) => JSON.parse(d));
}

async function rawSession(url, headers = {}) {
  const init = await rawPost(url, initializeBody(), headers);
  assert.equal(init.status, 200, await init.clone().text());
  const sid = init.headers.get('mcp-session-id');
  assert.ok(sid, 'initialize answered with an Mcp-Session-Id');
  const [msg] = await rpcMessages(init);
  const session = { ...headers, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': msg.result.protocolVersion };
  assert.equal((await rawPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status, 202);
  return session;
}

// ---- 1, 2, 4: server-everything through holdgate ------------------------------------------------

describe('holdgate in front of server-everything (SDK client, HTTP and stdio)', { timeout: 180000 }, () => {
  let everythingHttp;
  const direct = {};          // upstream transport -> answers of server-everything directly
  const directRequests = {};  // upstream transport -> sampling/elicitation results directly
  const upstreams = {};       // upstream transport -> { upstreamCmd | upstreamUrl }
  const serves = {};          // upstream transport -> holdgate serve

  before(async () => {
    everythingHttp = await startEverythingHttp({ name: 'gw-everything-http' });
    const stdioCmd = everythingStdioCommand();
    upstreams.stdio = { upstreamCmd: stdioCmd.commandLine };
    upstreams.http = { upstreamUrl: everythingHttp.url };

    // The baselines: the same client straight to server-everything over each transport.
    const viaStdio = await connectStdio(stdioCmd.command, stdioCmd.args, {
      capabilities: EVERYTHING_FULL_CAPS,
      stderrFile: path.join(makeOutputDir('gw-everything-stdio-direct'), 'everything.log'),
    });
    try {
      const seen = installClientHandlers(viaStdio.client);
      direct.stdio = await everythingAnswers(viaStdio.client);
      directRequests.stdio = await everythingServerRequests(viaStdio.client);
      checkServerRequestResults(directRequests.stdio, seen);
    } finally {
      await viaStdio.close();
    }
    const viaHttp = await connectHttp(everythingHttp.url, { capabilities: EVERYTHING_FULL_CAPS });
    try {
      const seen = installClientHandlers(viaHttp.client);
      direct.http = await everythingAnswers(viaHttp.client);
      directRequests.http = await everythingServerRequests(viaHttp.client);
      checkServerRequestResults(directRequests.http, seen);
    } finally {
      await viaHttp.close();
    }

    serves.stdio = await startHoldgateServe({ name: 'gw-serve-everything-stdio', ...upstreams.stdio });
    serves.http = await startHoldgateServe({ name: 'gw-serve-everything-http', ...upstreams.http });
  });

  // One `holdgate stdio` agent (full capabilities) per upstream, shared by the stdio tests that
  // need nothing else; spawned on first use.
  const sharedStdio = {};
  after(async () => {
    for (const conn of Object.values(sharedStdio)) await conn.then((c) => c.close()).catch(() => {});
    for (const serve of Object.values(serves)) await serve.stop();
    if (everythingHttp) await everythingHttp.stop();
  });

  it('the direct baselines agree with each other', () => {
    assert.equal(direct.stdio.tools.length, EVERYTHING_TOOL_COUNT_FULL);
    assert.deepEqual(direct.http, direct.stdio);
    assert.deepEqual(parsedServerRequestResults(directRequests.http), parsedServerRequestResults(directRequests.stdio));
  });

  for (const upstream of ['stdio', 'http']) {
    for (const downstream of ['http', 'stdio']) {
      const label = `agent --${downstream}--> holdgate --${upstream}--> server-everything`;
      const connect = (t, options = {}) => connectGateway(t, downstream, {
        serve: serves[upstream], ...upstreams[upstream], capabilities: EVERYTHING_FULL_CAPS,
        name: `gw-stdio-everything-${upstream}`, ...options,
      });
      // HTTP: a new session per test. stdio: the shared `holdgate stdio` agent.
      const connectShared = (t) => {
        if (downstream === 'http') return connect(t);
        sharedStdio[upstream] ??= connectGateway({ after: () => {} }, 'stdio', {
          ...upstreams[upstream], capabilities: EVERYTHING_FULL_CAPS, name: `gw-stdio-everything-${upstream}`,
        });
        return sharedStdio[upstream];
      };

      it(`${label}: the same initialize answer, tool list and results as directly`, async (t) => {
        const { client } = await connectShared(t);
        const answers = await everythingAnswers(client);
        assert.equal(answers.tools.length, EVERYTHING_TOOL_COUNT_FULL);
        assert.equal(textOf(answers.echo), 'Echo: hello gateway');
        assert.deepEqual(answers.structured.structuredContent, { temperature: 36, conditions: 'Light rain / drizzle', humidity: 82 });
        assert.equal(answers.image.content.find((c) => c.type === 'image')?.mimeType, 'image/png');
        // Field by field first for a readable failure, then the whole thing.
        for (const key of Object.keys(direct[upstream])) {
          assert.deepEqual(answers[key], direct[upstream][key], `${key} differs from server-everything directly`);
        }
        assert.deepEqual(answers, direct[upstream]);
      });

      it(`${label}: progress notifications of a long-running tool arrive`, async (t) => {
        const { client } = await connectShared(t);
        const expected = [[1, 3], [2, 3], [3, 3]];
        if (downstream === 'http') {
          // Two agents at once, both using progress token = their request id: each sees only its own.
          const { client: other } = await connect(t);
          const [a, b] = await Promise.all([longRunningProgress(client), longRunningProgress(other)]);
          for (const run of [a, b]) {
            assert.deepEqual(run.progress, expected);
            assert.deepEqual(run.late, []);
            assert.match(run.text, /Long running operation completed/);
          }
        } else {
          const run = await longRunningProgress(client);
          assert.match(run.text, /Long running operation completed/);
          // Every notification reached the client, in order and with the client's own token;
          // the SDK may have dropped the last one (see longRunningProgress).
          assert.ok(run.progress.length >= 2, `progress while the call ran: ${JSON.stringify(run)}`);
          assert.deepEqual([...run.progress, ...run.late.map((p) => [p.progress, p.total])], expected);
        }
      });

      it(`${label}: elicitation and sampling requests reach the client and the answers go back`, async (t) => {
        const { client } = await connectShared(t);
        const seen = installClientHandlers(client);
        await everythingToolNames(client);  // as the baseline does (see the initialize-race test)
        const results = await everythingServerRequests(client);
        checkServerRequestResults(results, seen);
        assert.deepEqual(parsedServerRequestResults(results), parsedServerRequestResults(directRequests[upstream]),
          'the same results as directly');
      });

      // HTTP upstream: each agent has its own upstream session (upstream.sessions per_agent, the
      // default for a URL), so an agent without the capability sees what it would see directly: no
      // trigger-sampling-request tool at all. stdio upstream: one shared session, initialized with
      // every capability, lists the tool to everyone; holdgate answers the sampling request -32601
      // on the agent's behalf.
      if (upstream === 'http') {
        it(`${label}: an agent without the sampling capability is not offered the sampling tool, as directly`, async (t) => {
          const { client } = await connect(t, { capabilities: {} });
          const names = await everythingToolNames(client, { expectedCount: EVERYTHING_TOOL_COUNT_BASIC });
          assert.equal(names.length, EVERYTHING_TOOL_COUNT_BASIC, names.join(' '));
          assert.ok(!names.includes('trigger-sampling-request'));
          const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'x', maxTokens: 5 } });
          assert.equal(result.isError, true, JSON.stringify(result));
          assert.match(textOf(result), /Tool trigger-sampling-request not found/);
        });
      } else {
        it(`${label}: an agent without the sampling capability is refused with -32601`, async (t) => {
          const { client } = await connect(t, { capabilities: {} });
          await everythingToolNames(client);
          const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'x', maxTokens: 5 } });
          assert.equal(result.isError, true, JSON.stringify(result));
          assert.match(textOf(result), /-32601/);
          assert.match(textOf(result), /sampling/);
        });
      }
    }

    // server-everything registers its capability-dependent tools when notifications/initialized
    // arrives. Straight to it, the SDK client's connect() resolves only after that notification
    // was accepted (202), so the first call finds the tools. Through holdgate with an HTTP
    // upstream, the agent's own upstream session is initialized (initialize answered and
    // notifications/initialized accepted) before holdgate answers the agent's initialize, so the
    // agent's first request cannot overtake it. (With one shared session, started before any agent,
    // it failed in 4 of 6 fresh `holdgate stdio` runs.)
    if (upstream === 'http') {
      it('agent --stdio--> holdgate --http--> server-everything: the very first tools/list after connect lists all tools', async (t) => {
        for (let attempt = 0; attempt < 3; attempt++) {
          const cmd = holdgateStdioCommand({ ...upstreams.http, name: 'gw-stdio-first-call' });
          const conn = await connectStdio(cmd.command, cmd.args, {
            capabilities: EVERYTHING_FULL_CAPS, stderrFile: path.join(cmd.outDir, 'holdgate-stdio.log'),
          });
          t.after(() => conn.close().catch(() => {}));
          const { tools } = await conn.client.listTools(undefined, { timeout: 10000 });
          assert.equal(tools.length, EVERYTHING_TOOL_COUNT_FULL, `attempt ${attempt}: the first tools/list saw ${tools.length} tools`);
          await conn.close();
        }
      });
    }

    // Several agents share holdgate's one upstream connection. Over an HTTP upstream each
    // sampling request comes on the SSE stream of the call that caused it, so it is routed
    // exactly. Over a stdio upstream nothing on the wire links them: holdgate attributes a
    // request only when every call in flight belongs to one agent and refuses it otherwise, so
    // a concurrent agent may get a refusal but never another agent's prompt. (A first version
    // guessed "the newest call" and showed 21 of 80 requests to the wrong agent.)
    it(`agents --http--> holdgate --${upstream}--> server-everything: concurrent agents each get their own sampling requests`,
      async (t) => {
        const agents = [];
        for (const who of ['A', 'B', 'C', 'D']) {
          const conn = await connectHttp(serves[upstream].mcp, { capabilities: EVERYTHING_FULL_CAPS });
          t.after(() => conn.close().catch(() => {}));
          const { client } = conn;
          const agent = { who, client, saw: [] };
          client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
            agent.saw.push(request.params.messages[0].content.text);
            return { model: 'e2e', role: 'assistant', content: { type: 'text', text: `reply from agent ${who}` } };
          });
          agents.push(agent);
        }
        for (let round = 0; round < 5; round++) {
          const results = await Promise.all(agents.map((a) => a.client.callTool({
            name: 'trigger-sampling-request', arguments: { prompt: `prompt of agent ${a.who}`, maxTokens: 5 } })));
          results.forEach((r, i) => {
            if (r.isError) return;  // a refusal is acceptable; another agent's answer is not
            assert.match(textOf(r), new RegExp(`reply from agent ${agents[i].who}`),
              `round ${round}: agent ${agents[i].who}'s call got another agent's answer`);
          });
        }
        for (const a of agents) {
          const foreign = a.saw.filter((text) => !text.endsWith(`prompt of agent ${a.who}`));
          assert.deepEqual(foreign, [], `agent ${a.who} was shown other agents' sampling requests`);
          if (upstream === 'http') assert.ok(a.saw.length > 0, `agent ${a.who} got no sampling request`);
        }
      });
  }

  // server-everything keeps resource subscriptions per upstream session; holdgate shares one
  // upstream session, so it keeps subscriptions per agent and forwards
  // notifications/resources/updated only to subscribers, as a direct connection would.
  it('agents --http--> holdgate --stdio--> server-everything: resource updates go only to the agent that subscribed', async (t) => {
    const a = await connectHttp(serves.stdio.mcp);
    t.after(() => a.close().catch(() => {}));
    const b = await connectHttp(serves.stdio.mcp);
    t.after(() => b.close().catch(() => {}));
    const got = { a: [], b: [] };
    a.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => got.a.push(n.params.uri));
    b.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => got.b.push(n.params.uri));
    const { resources } = await a.client.listResources();
    await a.client.subscribeResource({ uri: resources[0].uri });
    await a.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    t.after(() => a.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} }).catch(() => {}));
    await waitFor(() => got.a.length > 0, { timeoutMs: 12000, what: 'a resource update for the subscribed agent' });
    // Absence cannot be awaited: B's copy of a broadcast would arrive with A's; allow it 1 s.
    await waitFor(() => got.b.length > 0, { timeoutMs: 1000, what: 'an update for B' }).catch(() => {});
    assert.deepEqual(got.b, [], 'the agent that never subscribed received updates');
  });
});

// ---- 1 (pagination), 3: the demo upstream ------------------------------------------------------

// Starts the demo upstream (stdio: as holdgate's child; http: its own process) and the
// holdgate(s) in front. Returns { serve, counters, upstreamCmd | upstreamUrl }.
async function demoBehindHoldgate(t, upstream, { name, demoOptions = {}, serveOptions = {}, serve = true } = {}) {
  let counters;
  const target = {};
  if (upstream === 'stdio') {
    const cmd = demoStdioCommand({ name: `${name}-demo`, ...demoOptions });
    counters = cmd.counters;
    target.upstreamCmd = cmd.commandLine;
  } else {
    const demo = await startDemoHttp({ name: `${name}-demo`, ...demoOptions });
    t.after(() => demo.stop());
    counters = demo.counters;
    target.upstreamUrl = demo.url;
  }
  let hg;
  if (serve) {
    hg = await startHoldgateServe({ name: `${name}-serve`, ...target, ...serveOptions });
    t.after(() => hg.stop());
  }
  return { serve: hg, counters, ...target };
}

describe('holdgate in front of the demo upstream', { timeout: 120000 }, () => {
  const DEMO_OPTIONS = { pageSize: 2, extraTools: 5 };  // 7 demo tools + 5 no-ops, 2 per page
  for (const upstream of ['stdio', 'http']) {
    describe(`demo upstream over ${upstream}`, () => {
      // One demo upstream (its counters are shared by the tests, which compare before/after) and
      // one `holdgate serve` in front of it; `holdgate stdio` is spawned per test. A stdio
      // upstream is holdgate's own child, so `holdgate stdio` gets a second demo with its own counters.
      const cleanups = [];
      let serveTarget;
      let directTools;
      before(async () => {
        serveTarget = await demoBehindHoldgate({ after: (fn) => cleanups.push(fn) }, upstream,
          { name: `gw-demo-${upstream}`, demoOptions: DEMO_OPTIONS });
        // The same demo, directly, for the pagination comparison.
        let conn;
        if (upstream === 'stdio') {
          const cmd = demoStdioCommand({ name: 'gw-page-direct', ...DEMO_OPTIONS });
          conn = await connectStdio(cmd.command, cmd.args);
        } else {
          conn = await connectHttp(serveTarget.upstreamUrl);
        }
        try {
          directTools = await listAllTools(conn.client);
        } finally {
          await conn.close();
        }
      });
      after(async () => {
        for (const fn of cleanups.reverse()) await fn();
      });

      const stdioTarget = () => {
        if (upstream === 'http') return { upstreamUrl: serveTarget.upstreamUrl, counters: serveTarget.counters };
        const cmd = demoStdioCommand({ name: 'gw-demo-stdio-child', ...DEMO_OPTIONS });
        return { upstreamCmd: cmd.commandLine, counters: cmd.counters };
      };

      for (const downstream of ['http', 'stdio']) {
        const label = `agent --${downstream}--> holdgate --${upstream}--> demo`;
        const connect = async (t) => {
          const target = downstream === 'http' ? serveTarget : stdioTarget();
          const { client } = await connectGateway(t, downstream, { ...target, name: `gw-demo-stdio-${upstream}` });
          return { client, counters: target.counters };
        };

        it(`${label}: tools/list pagination passes through (the SDK client follows nextCursor)`, async (t) => {
          const { client } = await connect(t);
          const first = await client.listTools();
          assert.equal(first.tools.length, 2);
          assert.equal(typeof first.nextCursor, 'string');
          const all = await listAllTools(client);
          assert.equal(all.pages, 6);
          assert.equal(new Set(all.tools.map((tool) => tool.name)).size, 12);
          assert.deepEqual(all, directTools);
        });

        it(`${label}: a client-side timeout's cancellation reaches the upstream`, async (t) => {
          const { client, counters } = await connect(t);
          const before = counters.read() ?? { requests_cancelled: 0, slow_echo_completed: 0 };
          await assert.rejects(
            client.callTool({ name: 'slow_echo', arguments: { message: 'too late', delay_ms: 30000 } }, undefined, { timeout: 400 }),
            (error) => error.code === REQUEST_TIMEOUT);
          const c = await counters.waitFor((v) => v.requests_cancelled === before.requests_cancelled + 1,
            `requests_cancelled = ${before.requests_cancelled + 1}`);
          assert.equal(c.slow_echo_completed, before.slow_echo_completed);
          const stats = demoJson(await client.callTool({ name: 'stats', arguments: {} }));
          assert.equal(stats.requests_cancelled, before.requests_cancelled + 1);
          assert.equal(stats.slow_echo_completed, before.slow_echo_completed);
          // The session and the upstream still work.
          const echo = demoJson(await client.callTool({ name: 'slow_echo', arguments: { message: 'hi', delay_ms: 10 } }));
          assert.equal(echo.echo, 'hi');
          assert.equal(counters.read().slow_echo_completed, before.slow_echo_completed + 1);
          assert.equal(counters.read().requests_cancelled, before.requests_cancelled + 1);
        });

        // The spec (2025-11-25 cancellation): the receiver of notifications/cancelled SHOULD NOT
        // send a response for the cancelled request. The demo upstream sends none; holdgate answers
        // the agent with an error after forwarding the cancel, which the SDK reports through
        // onerror as "Received a response for an unknown message ID".
        if (upstream === 'stdio') {
          it(`${label}: no response follows the agent's cancellation`, {
            todo: 'gateway bug: holdgate sends the agent a -32001 error response for a request the agent cancelled',
          }, async (t) => {
            const { client, counters } = await connect(t);
            const before = counters.read() ?? { requests_cancelled: 0 };
            const errors = [];
            client.onerror = (error) => errors.push(error.message);
            await assert.rejects(
              client.callTool({ name: 'slow_echo', arguments: { message: 'too late', delay_ms: 30000 } }, undefined, { timeout: 400 }),
              (error) => error.code === REQUEST_TIMEOUT);
            await counters.waitFor((v) => v.requests_cancelled === before.requests_cancelled + 1, 'the cancel to arrive');
            // A later round trip on the same connection: whatever holdgate sent about the cancelled
            // request (on stdio, or on the POST stream the SDK still reads) has been processed by then.
            await client.callTool({ name: 'stats', arguments: {} });
            assert.deepEqual(errors.filter((m) => /unknown message ID/.test(m)), []);
          });
        }
      }
    });
  }
});

// ---- 5: the agent's credentials stay at the gateway ------------------------------------------------

describe('agent API keys', { timeout: 60000 }, () => {
  it('the bearer token never reaches the upstream; no key or a wrong key gets 401', async (t) => {
    const key = `hg_e2e_${crypto.randomBytes(24).toString('hex')}`;
    const outDir = makeOutputDir('gw-agent-keys');
    const config = writeJson(outDir, 'holdgate.json', {
      mcp: { agent_keys: [{ name: 'ci', principal: 'ci-bot', sha256: sha256Hex(key) }] },
    });
    const target = await demoBehindHoldgate(t, 'http', { name: 'gw-keys', serveOptions: { config, outDir } });
    const url = target.serve.mcp;

    // The demo upstream itself does see an Authorization header when one is sent to it directly.
    const directConn = await connectHttp(target.upstreamUrl, { headers: { Authorization: `Bearer ${key}` } });
    t.after(() => directConn.close().catch(() => {}));
    const directWho = demoJson(await directConn.client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(directWho.authorization_present, true, 'whoami can see a token when one arrives');

    const conn = await connectHttp(url, { headers: { Authorization: `Bearer ${key}`, 'X-Agent-Note': 'e2e' } });
    t.after(() => conn.close().catch(() => {}));
    const who = demoJson(await conn.client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(who.transport, 'http');
    assert.equal(who.authorization_present, false, `the upstream saw ${JSON.stringify(who)}`);
    assert.equal(who.authorization_sha256, null);
    assert.ok(!who.header_names.includes('authorization'));
    assert.ok(!JSON.stringify(who).includes(key), 'the key appears nowhere upstream');
    assert.notEqual(who.headers['mcp-session-id'], conn.transport.sessionId, 'holdgate has its own upstream session');

    // No key, a wrong key, a key without the Bearer scheme: 401 with a WWW-Authenticate challenge.
    for (const [what, headers] of [
      ['no key', {}],
      ['a wrong key', { Authorization: `Bearer ${key}x` }],
      ['the key without Bearer', { Authorization: key }],
    ]) {
      const res = await rawPost(url, initializeBody(), headers);
      assert.equal(res.status, 401, what);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/, what);
      await res.body?.cancel();
    }
    // A session opened with the right key is not usable without it.
    const session = await rawSession(url, { Authorization: `Bearer ${key}` });
    const noKey = { ...session };
    delete noKey.Authorization;
    assert.equal((await rawPost(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, noKey)).status, 401);
    // And the SDK client with a wrong key cannot connect.
    await assert.rejects(connectHttp(url, { headers: { Authorization: 'Bearer wrong' } }), /401|Unauthorized/i);
  });
});

// ---- 7: bad input over real HTTP --------------------------------------------------------------------

describe('bad input over real HTTP', { timeout: 60000 }, () => {
  let target;
  let url;
  const MAX_BODY = 64 * 1024;

  before(async () => {
    const outDir = makeOutputDir('gw-bad-input');
    const config = writeJson(outDir, 'holdgate.json', { mcp: { max_body_bytes: MAX_BODY } });
    const cleanups = [];
    target = await demoBehindHoldgate({ after: (fn) => cleanups.push(fn) }, 'stdio',
      { name: 'gw-bad', serveOptions: { config, outDir } });
    target.cleanups = cleanups;
    url = target.serve.mcp;
  });
  after(async () => {
    for (const fn of (target?.cleanups ?? []).reverse()) await fn();
  });

  it('malformed JSON, wrong JSON-RPC shapes, unknown or missing session, foreign Origin, oversized body', async () => {
    const session = await rawSession(url);

    const garbled = await rawPost(url, '{"jsonrpc": "2.0", "id": ', session);
    assert.equal(garbled.status, 400);
    const garbledBody = await garbled.json();
    assert.equal(garbledBody.error.code, -32700);
    assert.equal(garbledBody.id, null);

    for (const [what, body] of [
      ['jsonrpc 1.0', { jsonrpc: '1.0', id: 3, method: 'ping' }],
      ['no method', { jsonrpc: '2.0', id: 4 }],
      ['method not a string', { jsonrpc: '2.0', id: 5, method: 42 }],
      ['a bare array of numbers', [1, 2, 3]],
    ]) {
      const res = await rawPost(url, body, session);
      assert.equal(res.status, 400, what);
      assert.equal((await res.json()).error.code, -32600, what);
    }

    const unknown = await rawPost(url, { jsonrpc: '2.0', id: 6, method: 'tools/list' },
      { ...session, 'Mcp-Session-Id': crypto.randomBytes(16).toString('hex') });
    assert.equal(unknown.status, 404, 'unknown session id');
    await unknown.body?.cancel();
    const missing = { ...session };
    delete missing['Mcp-Session-Id'];
    const noSession = await rawPost(url, { jsonrpc: '2.0', id: 7, method: 'tools/list' }, missing);
    assert.equal(noSession.status, 400, 'no session id');
    await noSession.body?.cancel();

    const foreign = await rawPost(url, { jsonrpc: '2.0', id: 8, method: 'tools/list' }, { ...session, Origin: 'http://evil.example.com' });
    assert.equal(foreign.status, 403, 'foreign Origin');
    await foreign.body?.cancel();
    const foreignInit = await rawPost(url, initializeBody(), { Origin: 'https://attacker.example' });
    assert.equal(foreignInit.status, 403, 'foreign Origin on initialize');
    await foreignInit.body?.cancel();
    const local = await rawPost(url, { jsonrpc: '2.0', id: 9, method: 'ping' }, { ...session, Origin: 'http://localhost:5173' });
    assert.equal(local.status, 200, 'a loopback Origin is fine');
    assert.deepEqual((await rpcMessages(local))[0].result, {});

    const big = JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'tools/call',
      params: { name: 'slow_echo', arguments: { message: 'x'.repeat(MAX_BODY + 1024) } } });
    const tooBig = await rawPost(url, big, session);
    assert.equal(tooBig.status, 413, 'oversized body');
    await tooBig.body?.cancel();

    const version = await rawPost(url, { jsonrpc: '2.0', id: 11, method: 'ping' }, { ...session, 'MCP-Protocol-Version': '1999-01-01' });
    assert.equal(version.status, 400, 'unsupported MCP-Protocol-Version');
    await version.body?.cancel();

    // The gateway is still up and the raw session still works.
    const list = await rawPost(url, { jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 'list_jobs', arguments: {} } }, session);
    assert.equal(list.status, 200);
    const [answer] = await rpcMessages(list);
    assert.equal(answer.id, 12);
    assert.deepEqual(demoJson(answer.result).jobs, []);
    assert.ok(target.serve.proc.running);
  });

  it('an upstream that dies mid-call: the agent gets an error, the upstream is restarted, the gateway stays up', async (t) => {
    const conn = await connectHttp(url);
    t.after(() => conn.close().catch(() => {}));
    const first = demoJson(await conn.client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(first.transport, 'stdio');
    const callsBefore = target.counters.read().tools_call_total;  // rewritten before whoami answered
    const inFlight = conn.client.callTool(
      { name: 'slow_echo', arguments: { message: 'doomed', delay_ms: 60000 } }, undefined, { timeout: 30000 });
    const outcome = inFlight.then((r) => ({ result: r }), (e) => ({ error: e }));
    // Kill the upstream once the call has reached it (the demo counts calls before answering).
    await target.counters.waitFor((c) => c.tools_call_total > callsBefore, 'slow_echo to reach the upstream');
    process.kill(first.pid, 'SIGKILL');
    const { result, error } = await outcome;
    t.diagnostic(`the agent got: ${error ? `error ${error.code} ${error.message}` : JSON.stringify(result)}`);
    if (error) {
      assert.notEqual(error.code, REQUEST_TIMEOUT, `the gateway answered before the client gave up: ${error.message}`);
      assert.match(error.message, /upstream|exited|died|closed|restart/i);
    } else {
      assert.equal(result.isError, true, JSON.stringify(result));
    }
    // A new child answers; its pid differs.
    const second = await waitFor(async () => {
      const r = await conn.client.callTool({ name: 'whoami', arguments: {} });
      return r.isError ? undefined : demoJson(r);
    }, { timeoutMs: 15000, what: 'the restarted upstream to answer whoami' });
    assert.notEqual(second.pid, first.pid);
    assert.ok(target.serve.proc.running);
  });
});

// ---- 6: conformance ---------------------------------------------------------------------------------

const EXPECTED_FAILURES_FILE = path.join(E2E_DIR, 'conformance-expected-failures.yml');

// The scenarios server-everything is expected to fail (the committed list).
function expectedFailures() {
  return fs.readFileSync(EXPECTED_FAILURES_FILE, 'utf8').split('\n')
    .map((l) => l.match(/^\s*-\s*([A-Za-z0-9_.-]+)\s*$/)?.[1]).filter(Boolean);
}

// The conformance CLI's own verdict per scenario: it fails on any FAILURE *or WARNING* check
// (lib/conformance.mjs's `ok` ignores warnings; this is stricter).
function passedScenarios(run) {
  return new Set(Object.entries(run.scenarios)
    .filter(([, r]) => r.failed === 0 && r.warnings === 0 && r.passed > 0).map(([name]) => name));
}

function logTail(file, lines = 45) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return ''; }
}

describe('@modelcontextprotocol/conformance server scenarios (active suite)', { timeout: 240000 }, () => {
  it('holdgate passes every scenario server-everything passes, plus dns-rebinding-protection', async (t) => {
    const everything = await startEverythingHttp({ name: 'gw-conf-everything' });
    t.after(() => everything.stop());
    const hgStdio = await startHoldgateServe({ name: 'gw-conf-serve-stdio', upstreamCmd: everythingStdioCommand().commandLine });
    t.after(() => hgStdio.stop());
    const hgHttp = await startHoldgateServe({ name: 'gw-conf-serve-http', upstreamUrl: everything.url });
    t.after(() => hgHttp.stop());

    // Directly, with the committed expected-failures list: the CLI exits 0 only if server-everything
    // fails exactly those scenarios (a stale or missing entry fails the run).
    const baseline = await runConformanceServer(everything.url, {
      name: 'gw-conf-direct', suite: 'active', expectedFailures: EXPECTED_FAILURES_FILE, timeoutMs: 150000,
    });
    const basePassed = passedScenarios(baseline);
    assert.ok(Object.keys(baseline.scenarios).length >= 30, `ran the active suite (log ${baseline.logFile})\n${logTail(baseline.logFile)}`);
    assert.deepEqual(Object.keys(baseline.scenarios).filter((n) => !basePassed.has(n)).sort(), [...expectedFailures()].sort(),
      `server-everything fails exactly the scenarios in ${path.basename(EXPECTED_FAILURES_FILE)}`);
    assert.equal(baseline.exitCode, 0, `conformance against server-everything with the expected-failures list\n${logTail(baseline.logFile)}`);
    assert.ok(!basePassed.has('dns-rebinding-protection'), 'server-everything itself has no DNS-rebinding protection');

    const required = new Set([...basePassed, 'dns-rebinding-protection']);
    for (const [label, hg] of [['stdio upstream', hgStdio], ['HTTP upstream', hgHttp]]) {
      const run = await runConformanceServer(hg.mcp, {
        name: `gw-conf-holdgate-${label.split(' ')[0].toLowerCase()}`, suite: 'active', timeoutMs: 150000,
      });
      const passed = passedScenarios(run);
      const missing = [...required].filter((name) => !passed.has(name));
      t.diagnostic(`holdgate (${label}): ${passed.size} of ${Object.keys(run.scenarios).length} scenarios passed; `
        + `server-everything alone: ${basePassed.size}`);
      assert.deepEqual(missing, [], `holdgate (${label}) fails scenarios server-everything passes: ${
        JSON.stringify(Object.fromEntries(missing.map((m) => [m, run.scenarios[m]?.failures])))} (log ${run.logFile})`);
      assert.ok(hg.proc.running, `holdgate (${label}) is still up`);
    }
  });
});

// ---- 8: the scripts/run.sh demo ------------------------------------------------------------------------

describe('the scripts/run.sh demo end to end', { timeout: 90000 }, () => {
  let target;
  let secret;
  let reviewer;
  const cleanups = [];

  before(async () => {
    secret = crypto.randomBytes(32).toString('hex');  // 64 characters, above the 32-byte minimum
    // As scripts/run.sh starts it: demo policy, demo upstream over stdio with a counters file.
    target = await demoBehindHoldgate({ after: (fn) => cleanups.push(fn) }, 'stdio', {
      name: 'gw-demo', serveOptions: { policy: DEMO_POLICY, env: { HOLDGATE_JWT_SECRET: secret } },
    });
    reviewer = await reviewerToken(secret, 'alice');
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  async function startJob(client, label) {
    const started = demoJson(await client.callTool({ name: 'start_job', arguments: { duration_ms: 600000, label } }));
    assert.equal(started.success, true);
    assert.equal(started.status, 'running');
    return started.job_id;
  }

  function waitForPending(jobId) {
    return waitFor(async () => {
      const r = await reviewApi(target.serve.review, reviewer.token, 'GET', '/api/approvals?state=pending&tool=cancel_job');
      assert.equal(r.status, 200, r.text);
      return r.body.approvals.find((a) => a.arguments?.job_id === jobId);
    }, { timeoutMs: 15000, what: `a pending cancel_job approval for job ${jobId}` });
  }

  it('list jobs, start one, cancel it: held until a reviewer approves, then the job is really cancelled', async (t) => {
    t.diagnostic(`reviewer token minted with ${reviewer.via}`);
    const conn = await connectHttp(target.serve.mcp);
    t.after(() => conn.close().catch(() => {}));
    const { client } = conn;

    const tools = (await listAllTools(client)).tools.map((tool) => tool.name);
    for (const name of ['start_job', 'list_jobs', 'check_job_status', 'cancel_job']) assert.ok(tools.includes(name), name);
    assert.deepEqual(demoJson(await client.callTool({ name: 'list_jobs', arguments: {} })).jobs, []);

    const jobId = await startJob(client, 'demo-e2e');
    const listed = demoJson(await client.callTool({ name: 'list_jobs', arguments: {} }));
    assert.deepEqual(listed.jobs.map((j) => [j.job_id, j.status]), [[jobId, 'running']]);

    // cancel_job is held (demo policy). With a progress token the request stays open, with
    // heartbeats, until the decision.
    const progress = [];
    const cancelCall = client.callTool({ name: 'cancel_job', arguments: { job_id: jobId } }, undefined, {
      onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true, timeout: 60000,
    });
    const settled = cancelCall.then((r) => ({ result: r }), (e) => ({ error: e }));
    const approval = await waitForPending(jobId);
    assert.equal(approval.tool, 'cancel_job');
    assert.equal(approval.state, 'pending');
    assert.equal(approval.principal, 'local');
    await waitFor(() => progress.length > 0, { what: 'a progress heartbeat for the held call' });
    assert.match(progress[0].message, new RegExp(approval.id), 'the heartbeat names the approval');

    // Held means not forwarded: the upstream has not seen cancel_job, the job still runs.
    let c = target.counters.read();
    assert.equal(c.cancel_job_calls, 0);
    assert.equal(c.jobs_cancelled, 0);
    assert.equal(demoJson(await client.callTool({ name: 'check_job_status', arguments: { job_id: jobId } })).status, 'running');

    const decided = await reviewApi(target.serve.review, reviewer.token, 'POST', `/api/approvals/${approval.id}/approve`,
      { reason: 'e2e: fine to cancel' });
    assert.equal(decided.status, 200, decided.text);
    assert.equal(decided.body.outcome.changed, true);

    const { result, error } = await settled;
    assert.ifError(error);
    assert.ok(!result.isError, JSON.stringify(result));
    const cancelled = demoJson(result);
    assert.equal(cancelled.success, true);
    assert.equal(cancelled.cancelled, true);

    c = target.counters.read();
    assert.equal(c.cancel_job_calls, 1, 'the approved call ran exactly once');
    assert.equal(c.jobs_cancelled, 1);
    const status = demoJson(await client.callTool({ name: 'check_job_status', arguments: { job_id: jobId } }));
    assert.equal(status.status, 'cancelled');
    const running = demoJson(await client.callTool({ name: 'list_jobs', arguments: { status: 'running' } }));
    assert.deepEqual(running.jobs, []);

    const record = await waitFor(async () => {
      const r = await reviewApi(target.serve.review, reviewer.token, 'GET', `/api/approvals/${approval.id}`);
      return r.status === 200 && r.body.state === 'completed' ? r.body : undefined;
    }, { what: `approval ${approval.id} to be completed` });
    assert.equal(record.tool, 'cancel_job');

    // Tools the demo policy does not name are denied.
    const denied = await client.callTool({ name: 'slow_echo', arguments: { message: 'no' } });
    assert.equal(denied.isError, true);
    assert.equal(target.counters.read().slow_echo_completed, 0);
  });
});
