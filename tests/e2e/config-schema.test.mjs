// schema/config.schema.json checked with a real validator (ajv, draft 2020-12): the packaged
// default config and a full example validate, malformed configs do not, and `holdgate config
// check` agrees with the schema on every one of them (and names each error's JSON path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { BUILD_DIR, REPO_ROOT } from './lib/paths.mjs';

const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'schema/config.schema.json'), 'utf8'));
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);
const dir = mkdtempSync(join(tmpdir(), 'hg-config-schema-'));
writeFileSync(join(dir, 'policy.json'), JSON.stringify({ version: '1', default: 'allow' }));

function configCheck(doc) {
  const file = join(dir, `c-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(doc));
  const r = spawnSync(join(BUILD_DIR, 'holdgate'), ['config', 'check', '--config', file, '--json'], { encoding: 'utf8' });
  return { status: r.status, report: JSON.parse(r.stdout) };
}

const upstream = { command: 'holdgate-demo-upstream --stdio' };
const full = {
  $comment: 'every section',
  mcp: { listen: '127.0.0.1:0', path: '/mcp', allowed_origins: ['https://a.example'], allowed_hosts: ['gw.example'],
         max_body_bytes: 1048576, agent_keys: [{ name: 'ci', principal: 'ci-bot', sha256: 'ab'.repeat(32) }] },
  review: { listen: '[::1]:8081', public_url: 'https://holdgate.example.com', threads: 16, max_sse_clients: 8,
            auth: { jwt_secret: 'x'.repeat(40), issuer: 'holdgate', max_token_lifetime: '8h' },
            oidc: { issuer: 'https://login.example.com', client_id: 'holdgate', client_secret: 'shh',
                    scopes: ['openid', 'email', 'groups'], subject_claim: 'email', role_claim: 'groups',
                    role_map: { 'hg-reviewers': 'reviewer', 'hg-admins': 'admin' }, allowed_domains: ['example.com'],
                    leeway: '30s', session_idle: '20m', session_absolute: '8h' } },
  upstream: { url: 'http://127.0.0.1:3001/mcp', client_capabilities: { sampling: {} }, sessions: 'per_agent', max_sessions: 200 },
  policy: join(dir, 'policy.json'),
  db: '/var/lib/holdgate/holdgate.db',
  log_level: 'warn',
  hold: { default_hold: '50s', progress_interval: 5 },
  audit: { all_calls: true, checkpoint: { key: 'k'.repeat(40), every: '1h' } },
  notify: { webhooks: [{ name: 'ops', url: 'http://127.0.0.1:9/hook', secret: 'whsec_' + Buffer.from('s'.repeat(32)).toString('base64'), events: ['*'] }],
            reminders: { after: '10m', every: '10m' }, delivery: { give_up_after: '24h' } },
};

// [document, JSON paths holdgate config check must name]
const bad = [
  [{ upstream, colour: 'blue' }, ['colour']],
  [{ upstream, mcp: { listen: 'nowhere' } }, ['mcp.listen']],
  [{ upstream, mcp: { agent_keys: [{ name: 'ci', sha256: 'short' }] } }, ['mcp.agent_keys[0].sha256']],
  [{ upstream, hold: { default_hold: 'soon' }, log_level: 'loud' }, ['hold.default_hold', 'log_level']],
  [{ upstream: { command: 'a', url: 'http://b/mcp' } }, ['upstream']],
  [{ upstream, audit: { all_calls: 'yes' }, review: { listen: 8081 } }, ['audit.all_calls', 'review.listen']],
  [{ upstream, notify: { webhooks: [{ name: 'ops' }] } }, ['notify.webhooks[0].url']],
  [{ upstream: { ...upstream, sessions: 'per-agent', max_sessions: 0 } }, ['upstream.sessions', 'upstream.max_sessions']],
  [{ upstream, review: { oidc: { issuer: 'https://login.example.com', role_map: { g: 'root' } } } }, ['review']],
  [{ upstream, review: { oidc: { issuer: 'https://login.example.com', client_id: 'hg', secret: 'x' } } }, ['review.oidc.secret']],
  [{ upstreams: [{ name: 'a b', url: 'ftp://x' }, { name: 'b', command: 'c', url: 'http://d/mcp' }] },
    ['upstreams[0].name', 'upstreams[0].url', 'upstreams[1]']],
  [{ upstreams: [{ name: 'a', command: 'x', colour: 1 }] }, ['upstreams[0].colour']],
];

// Several upstreams: the schema and config check accept the list (each with its own policy file).
const several = {
  upstream: { request_timeout: '1m', list_timeout: '5s', health_interval: '2s' },
  upstreams: [
    { name: 'sktime', command: 'sktime-mcp', policy: join(dir, 'policy.json') },
    { name: 'everything', url: 'http://127.0.0.1:3001/mcp', prefix: 'ev_', request_timeout: '30s', client_capabilities: {} },
    { name: 'plain', url: 'http://127.0.0.1:3002/mcp', prefix: '' },
  ],
};

test('the packaged default config and a full example validate, and holdgate accepts them', () => {
  const packaged = JSON.parse(readFileSync(join(REPO_ROOT, 'scripts/packaging/holdgate.json'), 'utf8'));
  for (const doc of [packaged, full, several]) {
    assert.ok(validate(doc), ajv.errorsText(validate.errors));
  }
  // The packaged policy path exists only once installed; the rest is checked here.
  const r = configCheck({ ...packaged, policy: join(dir, 'policy.json') });
  assert.equal(r.status, 0, JSON.stringify(r.report));
  const f = configCheck(full);
  assert.equal(f.status, 0, JSON.stringify(f.report));
  const m = configCheck(several);
  assert.equal(m.status, 0, JSON.stringify(m.report));
});

test('malformed configs fail the schema and holdgate config check, which names every error path', () => {
  for (const [doc, paths] of bad) {
    assert.equal(validate(doc), false, `schema accepted ${JSON.stringify(doc)}`);
    const r = configCheck(doc);
    assert.equal(r.status, 1, `config check accepted ${JSON.stringify(doc)}`);
    const named = r.report.errors.map((e) => e.path);
    for (const p of paths) assert.ok(named.includes(p), `${JSON.stringify(doc)}: ${p} not in ${JSON.stringify(named)}`);
  }
});
