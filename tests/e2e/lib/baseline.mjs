// The baseline scenario against server-everything, run the same way directly and through
// holdgate so the two answers can be compared with deepStrictEqual.
import { EVERYTHING_TOOL_COUNT_FULL } from './everything.mjs';
import { textOf } from './mcp-client.mjs';
import { waitFor } from './process.mjs';

// Tool names (sorted) once the server has registered its capability-dependent tools; pass
// expectedCount (16 for a client with EVERYTHING_FULL_CAPS, 13 without) to wait for them.
export async function everythingToolNames(client, { expectedCount = EVERYTHING_TOOL_COUNT_FULL, timeoutMs = 5000 } = {}) {
  let names = [];
  await waitFor(async () => {
    const { tools } = await client.listTools();
    names = tools.map((t) => t.name).sort();
    return names.length >= expectedCount;
  }, { timeoutMs, what: `server-everything to list ${expectedCount} tools (got ${names.length})` });
  return names;
}

// { toolNames, echo, sum, sumResult }: what the baseline calls answered.
export async function everythingBaseline(client, { expectedCount = EVERYTHING_TOOL_COUNT_FULL } = {}) {
  const toolNames = await everythingToolNames(client, { expectedCount });
  const echoResult = await client.callTool({ name: 'echo', arguments: { message: 'hello gateway' } });
  const sumResult = await client.callTool({ name: 'get-sum', arguments: { a: 40, b: 2 } });
  return { toolNames, echo: textOf(echoResult), sum: textOf(sumResult), sumResult };
}
