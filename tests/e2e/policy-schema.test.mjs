// schema/policy.schema.json checked with a real validator (ajv, draft 2020-12): our example
// policies and PolicyLayer's documented examples validate; malformed documents do not. The C++
// loader (holdgate policy check) must agree on the same documents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { BUILD_DIR, REPO_ROOT } from './lib/paths.mjs';

const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'schema/policy.schema.json'), 'utf8'));
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);

const policyLayerExamples = [
  { version: '1', default: 'deny', hide: ['delete_account'], all_tools: { limits: [] },
    tools: { create_charge: { require: [], deny_if: [], limits: [] } } },
  { version: '1', default: 'deny', tools: { format_time_series: { limits: [
    { counter: 'format_time_series_rate', window: 'minute', max: 30, scope: 'grant' }] } } },
  { version: '1', default: 'deny', tools: { list_jobs: {} } },
  { version: '1', default: 'deny', hide: ['cancel_job'] },
];

const bad = [
  { version: '1' },                                                    // no default
  { version: '1', default: 'maybe' },
  { version: '1', default: 'allow', tools: { x: { action: 'explode' } } },
  { version: '1', default: 'allow', tools: { x: { limits: [{ counter: 'c', window: 'minute', max: -1 }] } } },
  { version: '1', default: 'allow', colour: 'blue' },
];

function holdgateAccepts(doc) {
  const dir = mkdtempSync(join(tmpdir(), 'hg-schema-'));
  const file = join(dir, 'p.json');
  writeFileSync(file, JSON.stringify(doc));
  try {
    execFileSync(join(BUILD_DIR, 'holdgate'), ['policy', 'check', file], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

test('example policies in schema/policies validate and load', () => {
  const dir = join(REPO_ROOT, 'schema/policies');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    assert.ok(validate(doc), `${f}: ${ajv.errorsText(validate.errors)}`);
    assert.ok(holdgateAccepts(doc), `${f} refused by holdgate policy check`);
  }
});

test("PolicyLayer's documented examples validate unchanged and load", () => {
  for (const doc of policyLayerExamples) {
    assert.ok(validate(doc), `${JSON.stringify(doc)}: ${ajv.errorsText(validate.errors)}`);
    assert.ok(holdgateAccepts(doc), `${JSON.stringify(doc)} refused by holdgate`);
  }
});

test('malformed policies fail both the schema and holdgate', () => {
  for (const doc of bad) {
    assert.equal(validate(doc), false, `schema accepted ${JSON.stringify(doc)}`);
    assert.equal(holdgateAccepts(doc), false, `holdgate accepted ${JSON.stringify(doc)}`);
  }
});
