// The MCP conformance suite (server scenarios) straight against the two upstreams the gateway
// fronts in tests: what each passes on its own is the floor a gateway in front of it must reach.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  EVERYTHING_CONFORMANCE_PASSING, runConformanceServer, startDemoHttp, startEverythingHttp,
} from './lib/index.mjs';

describe('conformance baseline', { timeout: 180000 }, () => {
  it('server-everything passes its known scenarios and fails DNS rebinding', async (t) => {
    const everything = await startEverythingHttp({ name: 'everything-conformance' });
    t.after(() => everything.stop());
    const run = await runConformanceServer(everything.url, { name: 'conformance-everything' });
    assert.deepEqual(run.passed, [...EVERYTHING_CONFORMANCE_PASSING].sort(), `log: ${run.logFile}`);
    // It does not validate Host/Origin: the gateway must add that.
    assert.ok(run.failed.includes('dns-rebinding-protection'));
    assert.equal(run.exitCode, 1);
  });

  it('the demo upstream passes the protocol scenarios that apply to it', async (t) => {
    const demo = await startDemoHttp({ name: 'demo-conformance' });
    t.after(() => demo.stop());
    const run = await runConformanceServer(demo.url, { name: 'conformance-demo' });
    for (const scenario of ['server-initialize', 'ping', 'tools-list', 'server-sse-multiple-streams', 'dns-rebinding-protection']) {
      assert.ok(run.passed.includes(scenario), `${scenario} passes (log: ${run.logFile})`);
    }
    // Every other failure is a fixture or feature the demo does not have, never a protocol error.
    for (const name of run.failed) {
      for (const failure of run.scenarios[name].failures) {
        assert.match(failure, /Unknown tool: test_|Method not found: (completion|logging|prompts|resources)\//, `${name}: ${failure}`);
      }
    }
  });
});
