// The policy editor: the policy as a form (per tool: action, reason, risk, conditions on
// arguments, rate limits, approval settings) beside its JSON text, kept in step both ways. Every
// change is checked by the server's own parser (POST /api/policy/validate, the same check as
// `holdgate policy check`); a dry run re-decides the last audited calls under the draft
// (POST /api/policy/dry-run); Save (a reason is required) writes the file atomically, keeps a
// version and reloads (POST /api/policy); versions can be compared and rolled back
// (GET /api/policy/versions, POST /api/policy/versions/{id}/rollback).
//
// Admins only may change anything: for other roles every control is disabled and the server
// refuses the writes (403). Arguments shown in the dry run come from agents: text only (dom.js).
import { $, h, replace } from './dom.js';
import { preview, when } from './format.js';
import { lineDiff } from './json-view.js';

const RULE_ACTIONS = [
  ['allow', 'allow'],
  ['deny', 'deny'],
  ['require_approval', 'require approval'],
  ['rate_limit', 'rate limit (allow with limits)'],
];
const OPS = ['eq', 'ne', 'in', 'not_in', 'lt', 'le', 'gt', 'ge', 'matches', 'exists', 'contains'];
const RISKS = ['', 'low', 'medium', 'high', 'critical'];
const SCOPES = ['grant', 'principal', 'session', 'global'];
const TONE = { allow: 'ok', deny: 'bad', hide: 'neutral', hold: 'warn', rate_limited: 'neutral' };

// A condition's value as typed: JSON when it parses (true, 42, "x", ["a"]), else the text itself.
function parseValue(text) {
  try { return JSON.parse(text); } catch { return text; }
}
function showValue(v) {
  return v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}
function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
// Sets obj[key], or deletes it when `value` is '' / undefined.
function setOrDelete(obj, key, value) {
  if (value === '' || value === undefined || value === null) delete obj[key];
  else obj[key] = value;
}

// An /api/policy path for the policy file `target` names: an upstream's own, or ('') the top-level one.
export function policyPath(path, target) {
  return target ? `${path}?upstream=${encodeURIComponent(target)}` : path;
}

export class PolicyEditor {
  constructor(ctx) {
    this.ctx = ctx;
    this.root = $('#policy-editor');
    this.formEl = $('#pe-form');
    this.json = $('#pe-json');
    this.status = $('#pe-status');
    this.dryResult = $('#pe-dryrun-result');
    this.versionsEl = $('#pe-versions');
    this.diffEl = $('#pe-diff');
    this.doc = null;
    this.loadedText = '';
    this.baseHash = '';
    this.readOnly = true;
    this.validateTimer = null;
    this.jsonTimer = null;
    this.validateSeq = 0;
    this.tools = [];
    this.target = '';
    this.json.addEventListener('input', () => {
      clearTimeout(this.jsonTimer);
      this.jsonTimer = setTimeout(() => this.fromJson(), 250);
    });
    $('#pe-dryrun').addEventListener('click', () => this.dryRun());
    $('#pe-save-form').addEventListener('submit', (e) => { e.preventDefault(); this.save(); });
    $('#pe-revert').addEventListener('click', () => this.setText(this.loadedText, true));
    $('#pe-add-tool-form').addEventListener('submit', (e) => { e.preventDefault(); this.addTool(); });
    $('#pe-rollback-form').addEventListener('submit', (e) => { e.preventDefault(); this.rollback(); });
    $('#pe-rollback-cancel').addEventListener('click', () => { $('#pe-rollback-form').hidden = true; });
  }

  reset() {
    this.doc = null;
    replace(this.formEl);
    replace(this.status);
    replace(this.dryResult);
    replace(this.versionsEl);
    replace(this.diffEl);
    this.json.value = '';
  }

  // `tools`: the upstream's tools ({name, annotations}) from the catalogue, for the tool-name
  // suggestions and for the check (a rule naming no listed tool is a warning). `target`: the
  // upstream whose own policy file is edited ('' for the top-level policy).
  async load(tools = [], target = this.target) {
    this.target = target;
    this.readOnly = this.ctx.me?.role !== 'admin';
    this.root.dataset.readonly = this.readOnly ? 'true' : 'false';
    this.tools = tools;
    replace($('#pe-tool-names'), tools.map((t) => h('option', { value: t.name })));
    for (const el of this.root.querySelectorAll('[data-admin]')) el.hidden = this.readOnly;
    $('#pe-readonly').hidden = !this.readOnly;
    this.json.readOnly = this.readOnly;
    try {
      const p = await this.ctx.api.get(policyPath('/api/policy', this.target));
      this.baseHash = p.hash;
      this.loadedText = typeof p.text === 'string' ? p.text : `${JSON.stringify(p.policy, null, 2)}\n`;
      this.setText(this.loadedText, false);
    } catch (e) {
      if (e.status !== 401) replace(this.status, h('p', { class: 'notice notice-error' }, `Could not load the policy: ${e.message}`));
      return;
    }
    this.loadVersions();
  }

  // Puts `text` in the JSON box and the form (and validates it when it differs from the file).
  setText(text, validate) {
    this.json.value = text;
    this.fromJson(validate);
  }

  fromJson(validate = true) {
    const text = this.json.value;
    let doc;
    try { doc = JSON.parse(text); } catch (e) { doc = undefined; }
    if (isObject(doc)) {
      this.doc = doc;
      this.renderForm();
    } else {
      replace(this.formEl, h('p', { class: 'notice notice-warn' }, 'The JSON does not parse as an object: fix it on the right; the form returns when it does.'));
    }
    this.markDirty();
    if (validate) this.scheduleValidate();
    else this.showValid(null);
  }

  // The form changed this.doc: rewrite the JSON (insertion order kept) and re-check.
  sync() {
    this.json.value = `${JSON.stringify(this.doc, null, 2)}\n`;
    this.markDirty();
    this.scheduleValidate();
  }

  markDirty() {
    const dirty = this.json.value !== this.loadedText;
    this.root.dataset.dirty = dirty ? 'true' : 'false';
    $('#pe-dirty').hidden = !dirty;
  }

  scheduleValidate() {
    if (this.readOnly) return;
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => this.validate(), 200);
  }

  async validate() {
    const seq = ++this.validateSeq;
    const text = this.json.value;
    try {
      const body = { text };
      if (this.tools.length) body.tools = { tools: this.tools };
      const r = await this.ctx.api.post(policyPath('/api/policy/validate', this.target), body);
      if (seq !== this.validateSeq) return;
      this.showValid(r);
    } catch (e) {
      if (seq === this.validateSeq && e.status !== 401) {
        replace(this.status, h('p', { class: 'notice notice-error' }, `Could not check the draft: ${e.message}`));
      }
    }
  }

  showValid(r) {
    if (!r) { replace(this.status); return; }
    this.status.dataset.valid = r.ok ? 'true' : 'false';
    replace(this.status,
      r.ok
        ? h('p', { class: 'status-banner tone-ok pe-valid' }, h('strong', null, 'Valid'),
          h('span', { class: 'muted' }, r.warnings.length ? ` · ${r.warnings.length} warning(s)` : ' · checked by holdgate’s policy parser'))
        : h('div', { class: 'status-banner tone-bad pe-invalid' }, h('strong', null, `${r.errors.length} error(s): not saveable`)),
      r.errors.length ? h('ul', { class: 'pe-errors' }, r.errors.map((e) => h('li', null, h('code', null, e)))) : null,
      r.warnings.length ? h('ul', { class: 'pe-warnings' }, r.warnings.map((w) => h('li', null, w))) : null);
  }

  // ---- the form ------------------------------------------------------------------------------

  renderForm() {
    const d = this.doc;
    const ro = this.readOnly;
    if (!isObject(d.tools)) d.tools = d.tools ?? {};
    const top = h('div', { class: 'pe-top' },
      h('label', { class: 'filter' }, h('span', null, 'Tools no rule names'),
        this.select(['deny', 'allow'], d.default ?? 'deny', (v) => { d.default = v; this.sync(); }, { id: 'pe-default' })),
      h('label', { class: 'filter pe-wide' }, h('span', null, 'Hidden tools (comma-separated; globs allowed)'),
        h('input', {
          type: 'text', id: 'pe-hide', spellcheck: 'false', disabled: ro,
          value: Array.isArray(d.hide) ? d.hide.join(', ') : '',
          onchange: (e) => {
            const names = e.target.value.split(',').map((s) => s.trim()).filter(Boolean);
            if (names.length) d.hide = names; else delete d.hide;
            this.sync();
          },
        })));
    const cards = Object.keys(d.tools).map((name) => this.toolCard(name, d.tools[name]));
    replace(this.formEl, top, cards.length ? cards : h('p', { class: 'muted' }, 'No tool rules yet.'));
  }

  toolCard(name, rule) {
    const ro = this.readOnly;
    if (!isObject(rule)) {
      return h('section', { class: 'pe-card', dataset: { tool: name } },
        h('h4', null, h('code', null, name)), h('p', { class: 'muted' }, 'Not an object: edit it in the JSON.'));
    }
    const holds = rule.action === 'require_approval' || (Array.isArray(rule.cases) && rule.cases.some((c) => c?.action === 'require_approval'));
    const risk = isObject(rule.risk) ? rule.risk : {};
    const setRisk = (key, v) => {
      const r = isObject(rule.risk) ? rule.risk : {};
      setOrDelete(r, key, v);
      if (Object.keys(r).length) rule.risk = r; else delete rule.risk;
      this.sync();
    };
    return h('section', { class: 'pe-card', dataset: { tool: name } },
      h('div', { class: 'pe-card-head' },
        h('h4', null, h('code', null, name)),
        ro ? null : h('button', { type: 'button', class: 'btn btn-small btn-ghost pe-remove-tool', onclick: () => { delete this.doc.tools[name]; this.sync(); this.renderForm(); } }, 'Remove rule')),
      h('div', { class: 'pe-row' },
        h('label', { class: 'filter' }, h('span', null, 'Action'),
          this.select(RULE_ACTIONS, rule.action ?? 'allow', (v) => {
            if (v === 'allow') delete rule.action; else rule.action = v;
            this.sync();
            this.renderForm();
          }, { class: 'pe-action' })),
        h('label', { class: 'filter pe-wide' }, h('span', null, 'Reason (the agent is told)'),
          this.input(rule.reason ?? '', (v) => { setOrDelete(rule, 'reason', v); this.sync(); }, { class: 'pe-reason' })),
        h('label', { class: 'filter' }, h('span', null, 'Risk level'),
          this.select(RISKS.map((r) => [r, r || '—']), risk.level ?? '', (v) => setRisk('level', v), { class: 'pe-risk' })),
        h('label', { class: 'filter' }, h('span', null, 'Risk category'),
          this.input(risk.category ?? '', (v) => setRisk('category', v), { class: 'pe-risk-category', placeholder: 'Destructive' }))),
      holds ? this.approvalRow(rule) : null,
      this.conditionList('Deny if', 'deny_if', rule, true),
      this.casesEditor(rule),
      this.limitsEditor(rule));
  }

  approvalRow(rule) {
    const a = isObject(rule.approval) ? rule.approval : {};
    const set = (key, v) => {
      const obj = isObject(rule.approval) ? rule.approval : {};
      setOrDelete(obj, key, v);
      if (Object.keys(obj).length) rule.approval = obj; else delete rule.approval;
      this.sync();
    };
    return h('div', { class: 'pe-row pe-approval' },
      h('span', { class: 'pe-label' }, 'Approval'),
      h('label', { class: 'filter' }, h('span', null, 'Approvers'),
        this.input(a.approvers ?? '', (v) => set('approvers', v === '' ? '' : Number(v)), { type: 'number', min: '1', class: 'pe-approvers', placeholder: '1' })),
      h('label', { class: 'filter' }, h('span', null, 'Expires after'),
        this.input(a.timeout ?? '', (v) => set('timeout', v), { class: 'pe-timeout', placeholder: '30m' })),
      h('label', { class: 'filter' }, h('span', null, 'Hold the call open'),
        this.input(a.hold ?? '', (v) => set('hold', v), { class: 'pe-hold', placeholder: '50s' })),
      h('label', { class: 'filter pe-wide' }, h('span', null, 'Reviewers (roles or names, comma-separated)'),
        this.input(Array.isArray(a.reviewers) ? a.reviewers.join(', ') : '', (v) => {
          const list = v.split(',').map((s) => s.trim()).filter(Boolean);
          set('reviewers', list.length ? list : '');
        }, { class: 'pe-reviewers' })));
  }

  // A list of conditions rule[key] (deny_if / require / a case's when).
  conditionList(label, key, owner, withReason) {
    const ro = this.readOnly;
    const list = Array.isArray(owner[key]) ? owner[key] : [];
    const rows = list.map((c, i) => {
      if (!isObject(c)) return h('div', { class: 'muted' }, 'Not an object: edit it in the JSON.');
      return h('div', { class: 'pe-cond', dataset: { index: String(i) } },
        this.input(c.path ?? '', (v) => { c.path = v; this.sync(); }, { class: 'pe-cond-path', placeholder: 'args.delete', 'aria-label': 'Argument path' }),
        this.select(OPS, c.op ?? 'eq', (v) => { c.op = v; this.sync(); }, { class: 'pe-cond-op', 'aria-label': 'Operator' }),
        this.input(showValue(c.value), (v) => { if (v === '') delete c.value; else c.value = parseValue(v); this.sync(); },
          { class: 'pe-cond-value', placeholder: 'true', 'aria-label': 'Value (JSON or text)' }),
        withReason ? this.input(c.reason ?? '', (v) => { setOrDelete(c, 'reason', v); this.sync(); }, { class: 'pe-cond-reason', placeholder: 'reason (optional)', 'aria-label': 'Reason' }) : null,
        ro ? null : h('button', {
          type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': 'Remove condition',
          onclick: () => { list.splice(i, 1); if (!list.length) delete owner[key]; this.sync(); this.renderForm(); },
        }, '×'));
    });
    return h('div', { class: 'pe-conds', dataset: { key } },
      h('span', { class: 'pe-label' }, label),
      rows.length ? rows : h('span', { class: 'muted' }, 'none'),
      ro ? null : h('button', {
        type: 'button', class: 'btn btn-small pe-add-cond',
        onclick: () => {
          if (!Array.isArray(owner[key])) owner[key] = [];
          owner[key].push({ path: '', op: 'eq', value: true });
          this.sync();
          this.renderForm();
        },
      }, '+ condition'));
  }

  casesEditor(rule) {
    const ro = this.readOnly;
    const cases = Array.isArray(rule.cases) ? rule.cases : [];
    const items = cases.map((c, i) => {
      if (!isObject(c)) return h('div', { class: 'muted' }, 'Not an object: edit it in the JSON.');
      return h('div', { class: 'pe-case', dataset: { index: String(i) } },
        this.conditionList(`Case ${i + 1}: when every condition holds`, 'when', c, false),
        h('div', { class: 'pe-row' },
          h('label', { class: 'filter' }, h('span', null, 'then'),
            this.select(RULE_ACTIONS, c.action ?? rule.action ?? 'allow', (v) => { c.action = v; this.sync(); this.renderForm(); }, { class: 'pe-case-action' })),
          h('label', { class: 'filter pe-wide' }, h('span', null, 'Reason'),
            this.input(c.reason ?? '', (v) => { setOrDelete(c, 'reason', v); this.sync(); }, { class: 'pe-case-reason' })),
          ro ? null : h('button', {
            type: 'button', class: 'btn btn-small btn-ghost',
            onclick: () => { cases.splice(i, 1); if (!cases.length) delete rule.cases; this.sync(); this.renderForm(); },
          }, 'Remove case')));
    });
    return h('div', { class: 'pe-cases' },
      h('span', { class: 'pe-label' }, 'Depending on arguments'),
      items.length ? items : h('span', { class: 'muted' }, ' the same for every call'),
      ro ? null : h('button', {
        type: 'button', class: 'btn btn-small pe-add-case',
        onclick: () => {
          if (!Array.isArray(rule.cases)) rule.cases = [];
          rule.cases.push({ when: [{ path: '', op: 'eq', value: true }], action: 'require_approval' });
          this.sync();
          this.renderForm();
        },
      }, '+ case'));
  }

  limitsEditor(rule) {
    const ro = this.readOnly;
    const limits = Array.isArray(rule.limits) ? rule.limits : [];
    const rows = limits.map((l, i) => (isObject(l) ? h('div', { class: 'pe-limit' },
      this.input(l.counter ?? '', (v) => { setOrDelete(l, 'counter', v); this.sync(); }, { placeholder: 'counter', 'aria-label': 'Counter' }),
      this.input(l.max ?? '', (v) => { l.max = v === '' ? 0 : Number(v); this.sync(); }, { type: 'number', min: '0', placeholder: 'max', 'aria-label': 'Max calls' }),
      h('span', { class: 'muted' }, 'per'),
      this.input(l.window ?? 'minute', (v) => { l.window = v; this.sync(); }, { placeholder: 'minute', 'aria-label': 'Window' }),
      this.select(SCOPES, l.scope ?? 'grant', (v) => { l.scope = v; this.sync(); }, { 'aria-label': 'Scope' }),
      ro ? null : h('button', {
        type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': 'Remove limit',
        onclick: () => { limits.splice(i, 1); if (!limits.length) delete rule.limits; this.sync(); this.renderForm(); },
      }, '×')) : h('div', { class: 'muted' }, 'Not an object: edit it in the JSON.')));
    return h('div', { class: 'pe-limits' },
      h('span', { class: 'pe-label' }, 'Rate limits'),
      rows.length ? rows : h('span', { class: 'muted' }, ' none'),
      ro ? null : h('button', {
        type: 'button', class: 'btn btn-small pe-add-limit',
        onclick: () => {
          if (!Array.isArray(rule.limits)) rule.limits = [];
          rule.limits.push({ window: 'minute', max: 10, scope: 'grant' });
          this.sync();
          this.renderForm();
        },
      }, '+ limit'));
  }

  select(options, value, onchange, props = {}) {
    const opts = options.map((o) => (Array.isArray(o) ? o : [o, o]));
    if (!opts.some(([v]) => v === value)) opts.push([value, value]);
    return h('select', { ...props, disabled: this.readOnly, onchange: (e) => onchange(e.target.value) },
      opts.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
  }

  input(value, onchange, props = {}) {
    return h('input', { type: 'text', spellcheck: 'false', ...props, value: String(value), disabled: this.readOnly, onchange: (e) => onchange(e.target.value) });
  }

  addTool() {
    const input = $('#pe-add-tool');
    const name = input.value.trim();
    if (!name || !this.doc) return;
    if (!isObject(this.doc.tools)) this.doc.tools = {};
    if (!Object.hasOwn(this.doc.tools, name)) {
      Object.defineProperty(this.doc.tools, name, { value: {}, enumerable: true, writable: true, configurable: true });
    }
    input.value = '';
    this.sync();
    this.renderForm();
  }

  // ---- dry run, save, versions ---------------------------------------------------------------

  async dryRun() {
    const limit = Number($('#pe-dryrun-limit').value) || 200;
    replace(this.dryResult, h('p', { class: 'muted' }, 'Re-deciding the last audited calls…'));
    try {
      const r = await this.ctx.api.post(policyPath('/api/policy/dry-run', this.target), { text: this.json.value, limit });
      this.renderDryRun(r);
    } catch (e) {
      if (e.status === 401) return;
      replace(this.dryResult, h('div', { class: 'notice notice-error pe-dryrun-error' }, 'The draft cannot be tried: ',
        h('pre', { class: 'pe-error-text' }, e.message)));
    }
  }

  renderDryRun(r) {
    const transitions = Object.entries(r.by_transition ?? {});
    const summary = h('p', { class: `status-banner tone-${r.changed ? 'warn' : 'ok'} pe-dryrun-summary`, dataset: { changed: String(r.changed) } },
      h('strong', null, r.changed ? `${r.changed} of ${r.compared} recent calls would be decided differently` : `No change for the last ${r.compared} audited calls`),
      transitions.map(([k, n]) => h('span', { class: 'muted' }, ` · ${k}: ${n}`)));
    if (!r.changes?.length) { replace(this.dryResult, summary); return; }
    const rows = r.changes.map((c) => h('tr', { dataset: { tool: c.tool, was: c.was, draft: c.draft } },
      h('td', null, when(c.at)),
      h('td', null, h('code', null, c.tool)),
      h('td', null, c.principal || '—'),
      h('td', { class: 'pe-args' }, c.arguments_recorded ? preview(c.arguments, 120) : h('span', { class: 'muted' }, 'not recorded')),
      h('td', null, h('span', { class: `state-chip tone-${TONE[c.was] ?? 'neutral'}` }, c.was), ' → ',
        h('span', { class: `state-chip tone-${TONE[c.draft] ?? 'neutral'}` }, c.draft)),
      h('td', null, h('code', null, c.draft_rule))));
    replace(this.dryResult, summary,
      h('div', { class: 'table-wrap' }, h('table', { class: 'table pe-dryrun-table' },
        h('thead', null, h('tr', null, ['When', 'Tool', 'Principal', 'Arguments', 'Was → draft', 'Draft rule'].map((x) => h('th', null, x)))),
        h('tbody', null, rows))));
  }

  async save() {
    const why = $('#pe-why').value.trim();
    const err = $('#pe-save-error');
    err.hidden = true;
    if (!why) { err.textContent = 'Say why the policy changes: it is kept with the version and in the audit log.'; err.hidden = false; return; }
    const button = $('#pe-save');
    button.disabled = true;
    try {
      const r = await this.ctx.api.post(policyPath('/api/policy', this.target), { text: this.json.value, why, base_hash: this.baseHash });
      $('#pe-why').value = '';
      this.ctx.toast(`Policy saved as version ${r.version?.number ?? '?'} and loaded (${String(r.hash).slice(0, 12)}).`, 'ok');
      replace(this.dryResult);
      await this.load(this.tools);
      this.ctx.policy?.load();
    } catch (e) {
      if (e.status !== 401) { err.textContent = e.message; err.hidden = false; }
    } finally {
      button.disabled = false;
    }
  }

  async loadVersions() {
    try {
      const r = await this.ctx.api.get(policyPath('/api/policy/versions', this.target));
      this.renderVersions(r);
    } catch (e) {
      if (e.status !== 401) replace(this.versionsEl, h('p', { class: 'muted' }, `Versions: ${e.message}`));
    }
  }

  renderVersions(r) {
    const versions = r.versions ?? [];
    if (!versions.length) {
      replace(this.versionsEl, h('p', { class: 'muted' }, 'No saved versions yet: the first save keeps the current file as version 1.'));
      return;
    }
    const rows = versions.map((v) => {
      const current = v.hash === r.current_hash;
      return h('tr', { dataset: { version: v.id } },
        h('td', null, `#${v.number}`, current ? h('span', { class: 'state-chip tone-ok pe-current' }, ' current') : null),
        h('td', null, when(v.at)),
        h('td', null, v.by),
        h('td', null, v.why, v.rollback_of ? h('span', { class: 'muted' }, ` (rollback of ${v.rollback_of})`) : null),
        h('td', null, h('code', { title: v.hash }, String(v.hash).slice(0, 12))),
        h('td', { class: 'pe-version-actions' },
          h('button', { type: 'button', class: 'btn btn-small pe-diff', onclick: () => this.showDiff(v) }, 'Diff'),
          this.readOnly || current ? null : h('button', { type: 'button', class: 'btn btn-small btn-reject pe-rollback', onclick: () => this.askRollback(v) }, 'Roll back')));
    });
    replace(this.versionsEl, h('table', { class: 'table pe-versions-table' },
      h('thead', null, h('tr', null, ['Version', 'Saved', 'By', 'Why', 'Hash', ''].map((x) => h('th', null, x)))),
      h('tbody', null, rows)));
  }

  async showDiff(v) {
    try {
      const r = await this.ctx.api.get(policyPath(`/api/policy/versions/${encodeURIComponent(v.id)}`, this.target));
      const rows = lineDiff(r.text, this.loadedText);
      replace(this.diffEl,
        h('p', { class: 'muted' }, `Version #${v.number} → the policy file now (`, h('span', { class: 'd-del' }, 'removed'), ', ', h('span', { class: 'd-add' }, 'added'), ')'),
        h('pre', { class: 'diff pe-diff-block' }, rows.map(({ op, line }) => h('span', {
          class: op === '+' ? 'd-add' : op === '-' ? 'd-del' : 'd-same',
        }, h('span', { class: 'd-op', 'aria-hidden': 'true' }, op), line, '\n'))));
    } catch (e) {
      if (e.status !== 401) replace(this.diffEl, h('p', { class: 'notice notice-error' }, e.message));
    }
  }

  askRollback(v) {
    const form = $('#pe-rollback-form');
    form.dataset.version = v.id;
    replace($('#pe-rollback-target'), `Roll back to version #${v.number} (${v.why})`);
    $('#pe-rollback-why').value = '';
    $('#pe-rollback-error').hidden = true;
    form.hidden = false;
    this.showDiff(v);
    $('#pe-rollback-why').focus();
  }

  async rollback() {
    const form = $('#pe-rollback-form');
    const why = $('#pe-rollback-why').value.trim();
    const err = $('#pe-rollback-error');
    if (!why) { err.textContent = 'Say why you roll back.'; err.hidden = false; return; }
    try {
      const r = await this.ctx.api.post(policyPath(`/api/policy/versions/${encodeURIComponent(form.dataset.version)}/rollback`, this.target), { why });
      form.hidden = true;
      replace(this.diffEl);
      this.ctx.toast(`Rolled back: version ${r.version?.number ?? '?'} is the policy now.`, 'ok');
      await this.load(this.tools);
      this.ctx.policy?.load();
    } catch (e) {
      if (e.status !== 401) { err.textContent = e.message; err.hidden = false; }
    }
  }
}
