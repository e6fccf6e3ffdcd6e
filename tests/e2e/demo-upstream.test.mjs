// The demo upstream on its own, driven by the official MCP SDK client over Streamable HTTP and over
// stdio: its tools, real background jobs that really get cancelled (seen in the counters file),
// progress notifications, and cancellation of a timed-out call.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import {
  DEMO_TOOL_NAMES, connectHttp, connectStdio, demoJson, demoStdioCommand, listAllTools, startDemoHttp,
} from './lib/index.mjs';

const REQUEST_TIMEOUT = -32001;  // the SDK's McpError code for a client-side timeout

// Each transport starts a fresh demo upstream (fresh counters) and connects an SDK client to it.
// Returns { client, counters, url? }; everything is closed when the test ends, pass or fail.
const transports = {
  http: async (t, options = {}) => {
    const demo = await startDemoHttp({ name: 'demo-http', ...options });
    let conn;
    t.after(async () => {
      if (conn) await conn.close().catch(() => {});
      await demo.stop();
    });
    conn = await connectHttp(demo.url, { headers: options.headers });
    return { client: conn.client, counters: demo.counters, url: demo.url, demo };
  },
  stdio: async (t, options = {}) => {
    const cmd = demoStdioCommand({ name: 'demo-stdio', ...options });
    const conn = await connectStdio(cmd.command, cmd.args, { stderrFile: path.join(cmd.outDir, 'demo-stdio.log') });
    t.after(() => conn.close());
    return { client: conn.client, counters: cmd.counters, pid: conn.pid };
  },
};

for (const [transport, connect] of Object.entries(transports)) {
  describe(`demo upstream over ${transport}`, { timeout: 60000 }, () => {
    it('lists its tools with input schemas and annotations', async (t) => {
      const { client } = await connect(t);
      const { tools, pages } = await listAllTools(client);
      assert.equal(pages, 1);
      assert.deepEqual(tools.map((tool) => tool.name).sort(), [...DEMO_TOOL_NAMES].sort());
      const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
      for (const tool of tools) {
        assert.equal(tool.inputSchema.type, 'object', `${tool.name} inputSchema`);
        assert.equal(typeof tool.description, 'string');
      }
      assert.equal(byName.cancel_job.annotations.destructiveHint, true);
      assert.equal(byName.cancel_job.annotations.readOnlyHint, false);
      assert.equal(byName.list_jobs.annotations.readOnlyHint, true);
      assert.equal(byName.check_job_status.annotations.readOnlyHint, true);
      assert.deepEqual(byName.cancel_job.inputSchema.required, ['job_id']);
      assert.deepEqual(byName.start_job.inputSchema.required, ['duration_ms']);
    });

    it('pages tools/list with --page-size', async (t) => {
      const { client } = await connect(t, { pageSize: 2, extraTools: 3 });
      const first = await client.listTools();
      assert.equal(first.tools.length, 2);
      assert.equal(typeof first.nextCursor, 'string');
      const { tools, pages } = await listAllTools(client);
      assert.equal(pages, 5);  // 7 tools + 3 no-ops, 2 per page
      assert.equal(new Set(tools.map((tool) => tool.name)).size, 10);
      await assert.rejects(client.listTools({ cursor: 'not-a-cursor' }), (e) => e.code === -32602);
    });

    it('start_job → list_jobs → cancel_job stops the job once, as the counters file shows', async (t) => {
      const { client, counters } = await connect(t);
      const started = demoJson(await client.callTool({ name: 'start_job', arguments: { duration_ms: 60000, label: 'e2e' } }));
      assert.equal(started.success, true);
      assert.equal(started.status, 'running');
      assert.match(started.job_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

      const listed = demoJson(await client.callTool({ name: 'list_jobs', arguments: {} }));
      const job = listed.jobs.find((j) => j.job_id === started.job_id);
      assert.ok(job, 'the started job is listed');
      assert.equal(job.status, 'running');
      assert.equal(job.label, 'e2e');

      const cancelled = demoJson(await client.callTool({ name: 'cancel_job', arguments: { job_id: started.job_id } }));
      assert.equal(cancelled.success, true);
      assert.equal(cancelled.cancelled, true);
      assert.match(cancelled.message, /cancelled/);

      // The file is rewritten before the response is sent, so it is already current.
      const c = counters.read();
      assert.equal(c.cancel_job_calls, 1);
      assert.equal(c.jobs_cancelled, 1);
      assert.equal(c.jobs_started, 1);
      assert.equal(c.jobs_completed, 0);
      assert.equal(c.tools_call_total, 3);

      const status = demoJson(await client.callTool({ name: 'check_job_status', arguments: { job_id: started.job_id } }));
      assert.equal(status.status, 'cancelled');
      assert.ok(status.end_time);
      const running = demoJson(await client.callTool({ name: 'list_jobs', arguments: { status: 'running' } }));
      assert.equal(running.jobs.length, 0);
    });

    it('cancel_job of a finished or unknown job says so and cancels nothing', async (t) => {
      const { client, counters } = await connect(t);
      const done = demoJson(await client.callTool({ name: 'start_job', arguments: { duration_ms: 0, wait: true } }));
      assert.equal(done.status, 'completed');
      const again = demoJson(await client.callTool({ name: 'cancel_job', arguments: { job_id: done.job_id } }));
      assert.equal(again.success, false);
      assert.equal(again.cancelled, false);
      assert.match(again.error, /already 'completed'/);
      const unknown = demoJson(await client.callTool({ name: 'cancel_job', arguments: { job_id: 'no-such-job' } }));
      assert.equal(unknown.success, false);
      assert.equal(unknown.not_found, true);
      const removed = demoJson(await client.callTool({ name: 'cancel_job', arguments: { job_id: done.job_id, delete: true } }));
      assert.equal(removed.removed, true);
      const c = counters.read();
      assert.equal(c.cancel_job_calls, 3);
      assert.equal(c.jobs_cancelled, 0);
      assert.equal(c.jobs_completed, 1);
    });

    it('start_job with wait sends progress notifications to onprogress', async (t) => {
      const { client } = await connect(t);
      const progress = [];
      const result = await client.callTool(
        { name: 'start_job', arguments: { duration_ms: 300, steps: 3, wait: true, label: 'progress' } },
        undefined, { onprogress: (p) => progress.push(p) });
      const job = demoJson(result);
      assert.equal(job.status, 'completed');
      assert.equal(job.completed_steps, 3);
      // The SDK (1.32.2) drops a request's progress handler as soon as its response is read, and runs
      // notification handlers a microtask later: when step 3's notification and the result arrive
      // in one read, step 3 never reaches onprogress. Steps 1 and 2 come 100 ms before the result.
      const seen = progress.map((p) => p.progress);
      assert.ok(seen.length >= 2, `progress: ${JSON.stringify(seen)}`);
      assert.deepEqual(seen, [1, 2, 3].slice(0, seen.length));
      assert.ok(progress.every((p) => p.total === 3));
    });

    it('a client-side timeout on slow_echo sends notifications/cancelled and the server stops it', async (t) => {
      const { client, counters } = await connect(t);
      await assert.rejects(
        client.callTool({ name: 'slow_echo', arguments: { message: 'too late', delay_ms: 30000 } }, undefined, { timeout: 300 }),
        (error) => error.code === REQUEST_TIMEOUT);
      await counters.waitFor((c) => c.requests_cancelled === 1, 'requests_cancelled = 1');
      const stats = demoJson(await client.callTool({ name: 'stats', arguments: {} }));
      assert.equal(stats.requests_cancelled, 1);
      assert.equal(stats.slow_echo_completed, 0);
      // The server is still fine and a short echo answers.
      const echo = demoJson(await client.callTool({ name: 'slow_echo', arguments: { message: 'hi', delay_ms: 10 } }));
      assert.equal(echo.echo, 'hi');
      assert.equal(counters.read().slow_echo_completed, 1);
    });

    it('a timed-out start_job with wait cancels the job itself', async (t) => {
      const { client, counters } = await connect(t);
      await assert.rejects(
        client.callTool({ name: 'start_job', arguments: { duration_ms: 60000, wait: true } }, undefined, { timeout: 300 }),
        (error) => error.code === REQUEST_TIMEOUT);
      const c = await counters.waitFor((v) => v.jobs_cancelled === 1 && v.requests_cancelled === 1,
        'jobs_cancelled = 1 and requests_cancelled = 1');
      assert.equal(c.jobs_completed, 0);
      const listed = demoJson(await client.callTool({ name: 'list_jobs', arguments: {} }));
      assert.equal(listed.jobs[0].status, 'cancelled');
    });

    it('refuses an unknown tool and bad arguments', async (t) => {
      const { client } = await connect(t);
      await assert.rejects(client.callTool({ name: 'run_command', arguments: { command: 'true' } }),
        (error) => error.code === -32602 && /Unknown tool/.test(error.message));
      const bad = await client.callTool({ name: 'start_job', arguments: { duration_ms: 'soon' } });
      assert.equal(bad.isError, true);
      assert.match(bad.content[0].text, /Input validation error/);
    });
  });
}

describe('demo upstream HTTP specifics', { timeout: 60000 }, () => {
  it('whoami reports the Authorization header it received, by hash only', async (t) => {
    const token = 'Bearer agent-secret-token';
    const { client } = await transports.http(t, { headers: { Authorization: token, 'X-Test': '1' } });
    const who = demoJson(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(who.transport, 'http');
    assert.equal(who.authorization_present, true);
    assert.equal(who.authorization_scheme, 'Bearer');
    assert.equal(who.authorization_sha256, crypto.createHash('sha256').update(token).digest('hex'));
    assert.ok(!JSON.stringify(who).includes('agent-secret-token'), 'the token value is never echoed');
    assert.ok(who.header_names.includes('x-test'));
    assert.match(who.headers['mcp-session-id'], /^[0-9a-f]{32}$/);
  });

  it('whoami without credentials says none arrived', async (t) => {
    const { client } = await transports.http(t);
    const who = demoJson(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(who.authorization_present, false);
    assert.equal(who.authorization_sha256, null);
  });

  it('speaks Streamable HTTP: sessions, 202, JSON or SSE, DELETE, and the spec errors', async (t) => {
    const demo = await startDemoHttp({ name: 'demo-http-raw' });
    t.after(() => demo.stop());
    const base = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const post = (body, headers = {}) => fetch(demo.url, {
      method: 'POST', headers: { ...base, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
    assert.equal(init.status, 200);
    assert.match(init.headers.get('content-type'), /^application\/json/);
    const sid = init.headers.get('mcp-session-id');
    assert.match(sid, /^[0-9a-f]{32}$/);
    assert.equal((await init.json()).result.protocolVersion, '2025-06-18');
    const session = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-06-18' };

    // An unknown protocol version is answered with the server's latest.
    const other = await post({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
    assert.equal((await other.json()).result.protocolVersion, '2025-11-25');

    const note = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    assert.equal(note.status, 202);
    assert.equal(await note.text(), '');

    const list = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_jobs', arguments: {} } }, session);
    assert.equal(list.status, 200);
    assert.match(list.headers.get('content-type'), /^application\/json/);
    assert.equal((await list.json()).id, 2);

    // A call with a progressToken is streamed as SSE: progress first, then the response.
    const sse = await post({ jsonrpc: '2.0', id: 3, method: 'tools/call',
      params: { name: 'start_job', arguments: { duration_ms: 50, steps: 2, wait: true }, _meta: { progressToken: 'p3' } } }, session);
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get('content-type'), /^text\/event-stream/);
    const events = (await sse.text()).split('\n\n').filter((e) => e.startsWith('event: message'))
      .map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data: ')).slice(6)));
    assert.deepEqual(events.map((e) => e.method ?? 'response'),
      ['notifications/progress', 'notifications/progress', 'response']);
    assert.equal(events[2].id, 3);

    const ping = await post({ jsonrpc: '2.0', id: 4, method: 'ping' }, session);
    assert.deepEqual((await ping.json()).result, {});

    assert.equal((await post({ jsonrpc: '2.0', id: 5, method: 'tools/list' })).status, 400, 'no session id');
    assert.equal((await post({ jsonrpc: '2.0', id: 5, method: 'tools/list' }, { 'Mcp-Session-Id': 'f'.repeat(32) })).status, 404,
      'unknown session id');
    assert.equal((await post({ jsonrpc: '2.0', id: 5, method: 'tools/list' }, { ...session, 'MCP-Protocol-Version': '1999-01-01' })).status, 400,
      'unsupported MCP-Protocol-Version');
    assert.equal((await post({ jsonrpc: '2.0', id: 5, method: 'tools/list' }, { ...session, Origin: 'http://evil.example.com' })).status, 403,
      'foreign Origin');
    for (const origin of ['http://127.0.0.1.evil.example.com', 'http://127.0.0.1@evil.example.com', 'http://[::1]evil.example.com',
      'http://localhost.evil.example.com:80', 'null']) {
      assert.equal((await post({ jsonrpc: '2.0', id: 5, method: 'tools/list' }, { ...session, Origin: origin })).status, 403, origin);
    }
    for (const origin of ['http://localhost:3000', 'http://127.0.0.1', 'http://[::1]:8080']) {
      assert.equal((await post({ jsonrpc: '2.0', id: 5, method: 'tools/list' }, { ...session, Origin: origin })).status, 200, origin);
    }

    const garbled = await post('{"jsonrpc": "2.0", "id": ', session);
    assert.equal(garbled.status, 400);
    assert.equal((await garbled.json()).error.code, -32700);
    const shape = await post({ jsonrpc: '1.0', id: 6, method: 'ping' }, session);
    assert.equal(shape.status, 400);
    assert.equal((await shape.json()).error.code, -32600);
    const unknownMethod = await post({ jsonrpc: '2.0', id: 7, method: 'resources/list' }, session);
    assert.equal((await unknownMethod.json()).error.code, -32601);

    assert.equal((await fetch(demo.url, { headers: { Accept: 'text/event-stream', ...session } })).status, 405);
    const del = await fetch(demo.url, { method: 'DELETE', headers: session });
    assert.equal(del.status, 200);
    assert.equal((await post({ jsonrpc: '2.0', id: 8, method: 'ping' }, session)).status, 404, 'deleted session');
    assert.equal((await fetch(demo.url, { method: 'DELETE', headers: session })).status, 404);
  });

  it('a foreign Host/Origin initialize is refused (DNS rebinding)', async (t) => {
    const demo = await startDemoHttp({ name: 'demo-http-origin' });
    t.after(() => demo.stop());
    const res = await fetch(demo.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Origin: 'http://evil.example.com' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }),
    });
    assert.equal(res.status, 403);
  });
});

describe('demo upstream stdio specifics', { timeout: 30000 }, () => {
  it('whoami says stdio and names the process', async (t) => {
    const { client, pid } = await transports.stdio(t);
    const who = demoJson(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(who.transport, 'stdio');
    assert.equal(who.pid, pid);
    assert.equal(who.authorization_present, undefined);
  });
});
