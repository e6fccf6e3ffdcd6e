// A 2026-07-28 MCP server written with the v2 SDK (`createMcpHandler` + zod) for the upstream-era
// tests: `reject` mode serves 2026-07-28 only (initialize gets -32022), `stateless` serves both eras
// per request without sessions.
//
// Tools:
//   echo {message}            -> "echo: <message>"
//   whoami {}                 -> JSON: the request's `_meta` envelope (protocolVersion, clientInfo,
//                                clientCapabilities) and the headers it came with (MCP-Protocol-Version,
//                                Mcp-Method, Mcp-Name, whether an Authorization header arrived)
//   ask_twice {topic}         -> multi round-trip: round 1 asks an elicitation ("confirm") and a
//                                sampling ("sample"), round 2 an elicitation ("name"); every retry must
//                                echo the requestState minted for the previous round exactly (single
//                                use); the result is JSON {confirmed, sample, name, rounds}
//   deploy {topic}            -> ask_twice under another name (for a policy to hold)
//   cancel_job {job_id}       -> "cancelled <job_id>" (the critical tool held by policy)
//   change_tools {}           -> announces notifications/tools/list_changed on every subscriptions/listen stream
//   stats {}                  -> JSON {cancel_job_calls, tools_call_total, bad_request_state, asked_completed}
//
// Run: `node server-2026.mjs reject|stateless PORT` (http://127.0.0.1:PORT/mcp).
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { McpServer, createMcpHandler, inputRequired, inputResponse, acceptedContent } from '@modelcontextprotocol/server';
import { z } from 'zod';

const mode = process.argv[2] ?? 'reject';
const port = Number(process.argv[3] ?? 0);
if (mode !== 'reject' && mode !== 'stateless') {
  console.error('usage: server-2026.mjs reject|stateless PORT');
  process.exit(2);
}

const stats = { cancel_job_calls: 0, tools_call_total: 0, bad_request_state: 0, asked_completed: 0 };
// requestState minted and not yet used: value -> the round it leads to. A value with characters a
// re-encoding could change (unicode, '/', '+', '=', quotes) shows whether the client echoes exactly.
const minted = new Map();
function mint(round) {
  const state = `r${round}/${randomBytes(9).toString('base64')}+é"ü=`;
  minted.set(state, round);
  return state;
}

function text(value) {
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value) }] };
}

function buildServer(ctx) {
  const server = new McpServer({ name: 'server-2026', version: '1.0.0' },
    { capabilities: { tools: {} }, instructions: 'a 2026-07-28 test server' });
  const headers = ctx.requestInfo?.headers;

  server.registerTool('echo', { description: 'Echoes the message', inputSchema: z.object({ message: z.string() }) },
    async ({ message }) => { stats.tools_call_total++; return text(`echo: ${message}`); });

  server.registerTool('whoami', { description: 'The envelope and headers this request carried', inputSchema: z.object({}) },
    async (_args, c) => {
      stats.tools_call_total++;
      const env = c.mcpReq.envelope ?? {};
      return text({
        protocolVersion: env['io.modelcontextprotocol/protocolVersion'] ?? null,
        clientInfo: env['io.modelcontextprotocol/clientInfo'] ?? null,
        clientCapabilities: env['io.modelcontextprotocol/clientCapabilities'] ?? null,
        headers: {
          protocolVersion: headers?.get('mcp-protocol-version') ?? null,
          method: headers?.get('mcp-method') ?? null,
          name: headers?.get('mcp-name') ?? null,
          authorization: headers?.has('authorization') ?? false,
          sessionId: headers?.get('mcp-session-id') ?? null,
        },
      });
    });

  const askTwice = async ({ topic }, c) => {
      const state = c.mcpReq.requestState();
      const responses = c.mcpReq.inputResponses;
      if (state === undefined) {
        return inputRequired({
          inputRequests: {
            confirm: inputRequired.elicit({ message: `Go ahead with ${topic}?`,
              requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }),
            sample: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: `say something about ${topic}` } }],
              maxTokens: 50 }),
          },
          requestState: mint(2),
        });
      }
      const round = minted.get(state);
      minted.delete(state);
      if (round === undefined) {
        stats.bad_request_state++;
        throw new Error(`requestState not recognized (not echoed exactly, or used twice): ${JSON.stringify(state)}`);
      }
      if (round === 2) {
        const confirm = acceptedContent(responses, 'confirm');
        const sample = inputResponse(responses, 'sample');
        if (!confirm || sample.kind !== 'sampling') throw new Error(`round 2 lacks its answers: ${JSON.stringify(responses)}`);
        const carried = JSON.stringify({ ok: confirm.ok, sample: sample.result.content?.text ?? null });
        const next = mint(3);
        carriedByState.set(next, carried);
        return inputRequired({
          inputRequests: { name: inputRequired.elicit({ message: 'Your name?',
            requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } }) },
          requestState: next,
        });
      }
      const name = acceptedContent(responses, 'name');
      if (!name) throw new Error(`round 3 lacks its answer: ${JSON.stringify(responses)}`);
      const earlier = JSON.parse(carriedByState.get(state) ?? '{}');
      carriedByState.delete(state);
      stats.tools_call_total++;
      stats.asked_completed++;
      return text({ confirmed: earlier.ok, sample: earlier.sample, name: name.name, rounds: 3 });
  };
  server.registerTool('ask_twice', { description: 'Asks the client twice (multi round-trip)', inputSchema: z.object({ topic: z.string() }) },
    askTwice);
  server.registerTool('deploy', { description: 'Asks the client twice, then deploys (critical: held by policy)',
    inputSchema: z.object({ topic: z.string() }) }, askTwice);

  server.registerTool('cancel_job', { description: 'Cancels a job (critical: no undo)', inputSchema: z.object({ job_id: z.string() }) },
    async ({ job_id }) => { stats.tools_call_total++; stats.cancel_job_calls++; return text(`cancelled ${job_id}`); });

  server.registerTool('stats', { description: 'Call counters', inputSchema: z.object({}) },
    async () => text(stats));

  server.registerTool('change_tools', { description: 'Announces tools/list_changed to every subscription', inputSchema: z.object({}) },
    async () => { handler.notify.toolsChanged(); return text('announced'); });
  return server;
}
const carriedByState = new Map();

const handler = createMcpHandler((ctx) => buildServer(ctx), { legacy: mode });

// node:http <-> fetch Request/Response.
const httpServer = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (Array.isArray(v)) v.forEach((x) => headers.append(k, x)); else if (v !== undefined) headers.set(k, v);
    }
    const request = new Request(`http://127.0.0.1:${port}${req.url}`, {
      method: req.method, headers, body: ['GET', 'HEAD'].includes(req.method) ? undefined : body,
    });
    const response = await handler.fetch(request);
    res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
    if (response.body) {
      const reader = response.body.getReader();
      req.on('close', () => reader.cancel().catch(() => {}));
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        res.write(value);
      }
    }
    res.end();
  } catch (error) {
    console.error(error);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
});
httpServer.listen(port, '127.0.0.1', () => {
  console.error(`server-2026 (${mode}) on http://127.0.0.1:${httpServer.address().port}/mcp`);
});
