// The baseline the gateway tests compare against: the SDK client straight to server-everything,
// over Streamable HTTP and over stdio, with the capabilities that unlock all 16 tools.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  EVERYTHING_FULL_CAPS, EVERYTHING_TOOL_COUNT_FULL, connectHttp, connectStdio, everythingBaseline,
  everythingStdioCommand, makeOutputDir, startEverythingHttp,
} from './lib/index.mjs';
import path from 'node:path';

function checkBaseline(baseline) {
  assert.equal(baseline.toolNames.length, EVERYTHING_TOOL_COUNT_FULL);
  for (const name of ['echo', 'get-sum', 'trigger-long-running-operation', 'trigger-sampling-request',
    'trigger-elicitation-request', 'get-roots-list']) {
    assert.ok(baseline.toolNames.includes(name), `${name} is listed`);
  }
  assert.equal(baseline.echo, 'Echo: hello gateway');
  assert.equal(baseline.sum, 'The sum of 40 and 2 is 42.');
}

describe('server-everything directly (baseline)', { timeout: 60000 }, () => {
  const results = {};

  it('over Streamable HTTP', async (t) => {
    const everything = await startEverythingHttp();
    let conn;
    t.after(async () => {
      if (conn) await conn.close().catch(() => {});
      await everything.stop();
    });
    conn = await connectHttp(everything.url, { capabilities: EVERYTHING_FULL_CAPS });
    results.http = await everythingBaseline(conn.client);
    checkBaseline(results.http);
  });

  it('over stdio', async (t) => {
    const cmd = everythingStdioCommand();
    const conn = await connectStdio(cmd.command, cmd.args, {
      capabilities: EVERYTHING_FULL_CAPS,
      stderrFile: path.join(makeOutputDir('everything-stdio'), 'everything-stdio.log'),
    });
    t.after(() => conn.close());
    results.stdio = await everythingBaseline(conn.client);
    checkBaseline(results.stdio);
  });

  it('answers the same over both transports', () => {
    assert.ok(results.http && results.stdio, 'both runs completed');
    assert.deepEqual(results.stdio, results.http);
  });
});
