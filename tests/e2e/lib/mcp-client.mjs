// The official MCP SDK client (@modelcontextprotocol/sdk) over Streamable HTTP or stdio, wrapped
// so a test gets { client, transport, close() } and the close also runs on test failure when
// registered with the test's after()/t.after().
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { trackPid, untrackPid } from './process.mjs';

function newClient(name, capabilities) {
  return new Client({ name, version: '0.0.0' }, { capabilities });
}

// Connects to a Streamable HTTP endpoint. options: capabilities, headers (sent on every request),
// name, terminate (DELETE the session on close; default true), fetch (the transport's fetch, e.g.
// to look at response headers), reconnect (resume a broken stream; default true).
export async function connectHttp(url, {
  capabilities = {}, headers, name = 'holdgate-e2e', terminate = true, fetch, reconnect = true,
} = {}) {
  const client = newClient(name, capabilities);
  const options = {};
  if (headers) options.requestInit = { headers };
  if (fetch) options.fetch = fetch;
  if (!reconnect) {
    options.reconnectionOptions = { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 };
  }
  const transport = new StreamableHTTPClientTransport(new URL(url), options);
  await client.connect(transport);
  return {
    client,
    transport,
    async close() {
      if (terminate) {
        try { await transport.terminateSession(); } catch { /* server may refuse; closing is enough */ }
      }
      await client.close();
    },
  };
}

// Spawns `command args` and connects over stdio. options: env (added to the SDK's default
// environment), capabilities, name, stderrFile (child's stderr appended there; default: ignored).
export async function connectStdio(command, args = [], { env = {}, capabilities = {}, name = 'holdgate-e2e', stderrFile, cwd } = {}) {
  const client = newClient(name, capabilities);
  let stderr = 'ignore';
  let fd;
  if (stderrFile) {
    fs.mkdirSync(path.dirname(stderrFile), { recursive: true });
    fd = fs.openSync(stderrFile, 'a');
    stderr = fd;
  }
  const transport = new StdioClientTransport({ command, args, env: { ...getDefaultEnvironment(), ...env }, stderr, cwd });
  try {
    await client.connect(transport);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const pid = trackPid(transport.pid);
  return {
    client,
    transport,
    pid,
    async close() {
      await client.close();
      untrackPid(pid);
    },
  };
}

// Every tool of the server, following nextCursor; also returns how many pages it took.
// A 2025 agent (v1 SDK over HTTP) declaring elicitation and sampling (plus `extraCapabilities`)
// whose handlers record what it was asked: elicitations whose message mentions a name are answered
// {name: `${name}-name`}, others {ok: true}; samplings `sampled by ${name}`. Returns connectHttp's
// {client, transport, close()} and `asked: {elicit: [messages], sample: [first message texts]}`.
export async function connectAnsweringAgent(url, name, extraCapabilities = {}) {
  const conn = await connectHttp(url, { name, capabilities: { sampling: {}, elicitation: {}, ...extraCapabilities } });
  const asked = { elicit: [], sample: [] };
  conn.client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.elicit.push(request.params.message);
    if (/name/i.test(request.params.message)) return { action: 'accept', content: { name: `${name}-name` } };
    return { action: 'accept', content: { ok: true } };
  });
  conn.client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    asked.sample.push(request.params.messages[0].content.text);
    return { model: 'e2e', role: 'assistant', content: { type: 'text', text: `sampled by ${name}` } };
  });
  return { ...conn, asked };
}

// A tools/call sent with a progress token (so holdgate holds it open with progress heartbeats)
// and a 5-minute timeout that progress resets: it stays open until the reviewer decides, or until
// `signal` (optional AbortSignal) aborts it.
export function heldCall(client, name, args, { signal } = {}) {
  return client.callTool({ name, arguments: args }, undefined, {
    onprogress: () => {}, resetTimeoutOnProgress: true, timeout: 300000, signal,
  });
}

export async function listAllTools(client, { maxPages = 100 } = {}) {
  const tools = [];
  let cursor;
  let pages = 0;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
    pages += 1;
    if (pages > maxPages) throw new Error(`more than ${maxPages} pages of tools`);
  } while (cursor);
  return { tools, pages };
}

// The text of the first text block of a tool result.
export function textOf(result) {
  const block = result?.content?.find((c) => c.type === 'text');
  if (!block) throw new Error(`no text content in ${JSON.stringify(result)}`);
  return block.text;
}
