// A small MCP server, written for these tests with the SDK, whose tools ask the client back: the
// fixture tools of the conformance suite's server→client scenarios (tools-call-sampling,
// tools-call-elicitation, elicitation-sep1034-defaults, elicitation-sep1330-enums), built from the
// requirements the suite itself states, plus `whoami` (the clientInfo and capabilities this
// session was initialized with), `ask-sampling` (samples with the given prompt and returns the
// reply) and, over HTTP, `open-sessions` (how many sessions the server holds open). server-everything has none of the suite's fixtures, so this is the server the suite can
// run those scenarios against, directly and through holdgate.
//
// Run as a program: `node asking-server.mjs stdio` or `node asking-server.mjs http PORT`
// (Streamable HTTP on 127.0.0.1:PORT/mcp, a session per initialize, DELETE ends it).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema, CreateMessageResultSchema, ElicitResultSchema, ListToolsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

const NO_ARGS = { type: 'object', properties: {}, required: [] };
const TOOLS = [
  { name: 'whoami', description: 'The clientInfo and capabilities this session was initialized with', inputSchema: NO_ARGS },
  { name: 'open-sessions', description: 'How many sessions the server holds open (HTTP only)', inputSchema: NO_ARGS },
  { name: 'ask-sampling', description: 'Samples with the prompt; returns the reply',
    inputSchema: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] } },
  { name: 'test_sampling', description: 'Requests LLM sampling from the client',
    inputSchema: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] } },
  { name: 'test_elicitation', description: 'Requests user input from the client',
    inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } },
  { name: 'test_elicitation_sep1034_defaults', description: 'Elicitation with defaults (SEP-1034)', inputSchema: NO_ARGS },
  { name: 'test_elicitation_sep1330_enums', description: 'Elicitation with enum schemas (SEP-1330)', inputSchema: NO_ARGS },
];

const SEP1034_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'User name', default: 'John Doe' },
    age: { type: 'integer', description: 'User age', default: 30 },
    score: { type: 'number', description: 'User score', default: 95.5 },
    status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
    verified: { type: 'boolean', description: 'Verification status', default: true },
  },
  required: [],
};

const SEP1330_SCHEMA = {
  type: 'object',
  properties: {
    untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    titledSingle: { type: 'string', oneOf: [
      { const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' },
      { const: 'value3', title: 'Third Option' }] },
    legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
    untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
    titledMulti: { type: 'array', items: { anyOf: [
      { const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' },
      { const: 'value3', title: 'Third Choice' }] } },
  },
  required: [],
};

function text(t, isError = false) {
  return { content: [{ type: 'text', text: t }], ...(isError ? { isError: true } : {}) };
}

export function makeAskingServer({ openSessions = () => null } = {}) {
  const server = new Server({ name: 'holdgate-e2e-asking-server', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const args = request.params.arguments ?? {};
    const caps = server.getClientCapabilities() ?? {};
    const sample = (prompt) => extra.sendRequest({
      method: 'sampling/createMessage',
      params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 },
    }, CreateMessageResultSchema);
    const elicit = (message, requestedSchema) => extra.sendRequest({
      method: 'elicitation/create', params: { message, requestedSchema },
    }, ElicitResultSchema);
    switch (request.params.name) {
      case 'whoami':
        return text(JSON.stringify({ clientInfo: server.getClientVersion(), capabilities: caps }));
      case 'open-sessions':
        return text(String(openSessions()));
      case 'ask-sampling':
      case 'test_sampling': {
        if (!caps.sampling) return text('the client does not support sampling', true);
        const reply = await sample(String(args.prompt ?? ''));
        return text(`LLM response: ${reply.content?.text ?? JSON.stringify(reply.content)}`);
      }
      case 'test_elicitation': {
        if (!caps.elicitation) return text('the client does not support elicitation', true);
        const answer = await elicit(String(args.message ?? ''), {
          type: 'object',
          properties: {
            username: { type: 'string', description: "User's response" },
            email: { type: 'string', description: "User's email address" },
          },
          required: ['username', 'email'],
        });
        return text(`User response: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`);
      }
      case 'test_elicitation_sep1034_defaults':
      case 'test_elicitation_sep1330_enums': {
        if (!caps.elicitation) return text('the client does not support elicitation', true);
        const schema = request.params.name.endsWith('defaults') ? SEP1034_SCHEMA : SEP1330_SCHEMA;
        const answer = await elicit('Please review the fields', schema);
        return text(`Elicitation completed: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`);
      }
      default:
        return text(`Unknown tool: ${request.params.name}`, true);
    }
  });
  return server;
}

async function serveHttp(port) {
  const sessions = new Map();  // session id -> transport
  const httpServer = http.createServer(async (req, res) => {
    if (!req.url.startsWith('/mcp')) {
      res.writeHead(404).end();
      return;
    }
    const sid = req.headers['mcp-session-id'];
    let transport = sid ? sessions.get(sid) : undefined;
    if (!transport) {
      if (sid || req.method !== 'POST') {
        res.writeHead(sid ? 404 : 400, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'unknown or missing session' }, id: null }));
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => sessions.set(id, transport),
      });
      const t = transport;
      t.onclose = () => { if (t.sessionId) sessions.delete(t.sessionId); };
      await makeAskingServer({ openSessions: () => sessions.size }).connect(t);
    }
    await transport.handleRequest(req, res);
  });
  await new Promise((resolve) => httpServer.listen(port, '127.0.0.1', resolve));
  process.stderr.write(`asking-server listening on http://127.0.0.1:${httpServer.address().port}/mcp\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, port] = process.argv.slice(2);
  if (mode === 'http') {
    await serveHttp(Number(port ?? 0));
  } else {
    await makeAskingServer().connect(new StdioServerTransport());
  }
}
