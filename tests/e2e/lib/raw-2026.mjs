// One raw MCP 2026-07-28 request over fetch (no SDK): the _meta envelope and the standard headers
// (MCP-Protocol-Version, Mcp-Method, Mcp-Name) made from the body unless overridden; an SSE answer
// is reduced to the response with the request's id. Returns {status, json, headers}.
const V2026 = '2026-07-28';

let nextId = 1;
export async function raw(url, method, params = {}, { capabilities = {}, headers = {}, id = nextId++, envelope = true } = {}) {
  const meta = envelope ? {
    'io.modelcontextprotocol/protocolVersion': V2026,
    'io.modelcontextprotocol/clientInfo': { name: 'raw-e2e', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  } : {};
  const body = { jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...(params._meta ?? {}), ...meta } } };
  const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  if (envelope) {
    h['MCP-Protocol-Version'] = V2026;
    h['Mcp-Method'] = method;
    const name = params.name ?? params.uri ?? params.taskId;
    if (name !== undefined && ['tools/call', 'prompts/get', 'resources/read', 'tasks/get', 'tasks/cancel', 'tasks/update'].includes(method)) {
      h['Mcp-Name'] = name;
    }
  }
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete h[k]; else h[k] = v;
  }
  const res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify(body) });
  const text = await res.text();
  let json;
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const datas = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    json = datas.find((m) => m.id === id && (m.result || m.error));
  } else {
    json = text ? JSON.parse(text) : undefined;
  }
  return { status: res.status, json, headers: res.headers };
}

