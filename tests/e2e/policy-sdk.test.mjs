// The policy as an agent sees it through the official SDK client, over HTTP and over stdio:
// hidden tools are absent from every tools/list page and unknown on call, denied calls return the
// policy's reason as an isError result, shadow rules let calls through, and a policy rewrite is
// picked up without reconnecting (the client is told the tool list changed).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startHoldgateServe, holdgateStdioCommand, connectHttp, connectStdio, listAllTools, textOf,
  DEMO_UPSTREAM_BIN, makeOutputDir, waitFor,
} from './lib/index.mjs';

const SECRET = 'e2e-secret-0123456789abcdef0123456789abcdef';
const outDir = makeOutputDir('policy-sdk');
const policyFile = path.join(outDir, 'policy.json');
const POLICY = {
  version: '1', default: 'allow', hide: ['cancel_job', 'noop_*'],
  tools: {
    start_job: { action: 'deny', reason: 'Jobs are started by the scheduler, not by agents' },
    slow_echo: { action: 'deny', reason: 'would be denied', shadow: true },
  },
};
fs.writeFileSync(policyFile, JSON.stringify(POLICY));
const upstreamCmd = `${DEMO_UPSTREAM_BIN} --stdio --page-size 2 --extra-tools 3`;

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function checkPolicy(client) {
  const names = (await listAllTools(client)).tools.map((t) => t.name);
  assert.ok(names.includes('list_jobs'), names.join(','));
  assert.ok(!names.includes('cancel_job'), 'hidden tool listed');
  assert.ok(!names.some((n) => n.startsWith('noop_')), 'hidden glob listed');
  await assert.rejects(client.callTool({ name: 'cancel_job', arguments: { job_id: 'x' } }),
    (e) => e.code === -32602 && /Unknown tool: cancel_job/.test(e.message));
  const denied = await client.callTool({ name: 'start_job', arguments: { duration_ms: 10 } });
  assert.equal(denied.isError, true);
  assert.match(textOf(denied), /Jobs are started by the scheduler/);
  const shadowed = await client.callTool({ name: 'slow_echo', arguments: { message: 'through', delay_ms: 1 } });
  assert.notEqual(shadowed.isError, true);
  assert.match(textOf(shadowed), /through/);
}

test('policy through the SDK client over HTTP, and a rewrite applies to the same session', async () => {
  const hg = await startHoldgateServe({ name: 'policy-sdk-http', upstreamCmd, policy: policyFile, outDir,
    env: { HOLDGATE_JWT_SECRET: SECRET } });
  cleanups.push(() => hg.stop());
  const { client, close } = await connectHttp(hg.mcp);
  cleanups.push(close);
  await checkPolicy(client);
  let changed = false;
  const { ToolListChangedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed = true; });
  fs.writeFileSync(policyFile, JSON.stringify({ ...POLICY, hide: ['list_jobs'] }));
  await waitFor(async () => {
    const names = (await listAllTools(client)).tools.map((t) => t.name);
    return !names.includes('list_jobs') && names.includes('cancel_job');
  }, { timeoutMs: 15000, intervalMs: 100, what: 'the rewritten policy to take effect' });
  await waitFor(() => changed, { timeoutMs: 5000, what: 'notifications/tools/list_changed' });
  assert.ok(changed, 'no notifications/tools/list_changed');
  fs.writeFileSync(policyFile, JSON.stringify(POLICY));
});

test('policy through the SDK client over stdio (holdgate stdio)', async () => {
  const stdioPolicy = path.join(outDir, 'policy-stdio.json');
  fs.writeFileSync(stdioPolicy, JSON.stringify(POLICY));
  const cmd = holdgateStdioCommand({ name: 'policy-sdk-stdio', upstreamCmd, policy: stdioPolicy });
  const { client, close } = await connectStdio(cmd.command, cmd.args, { env: { HOLDGATE_JWT_SECRET: SECRET } });
  cleanups.push(close);
  await checkPolicy(client);
});
