// Policy: the active policy's hash and when it was loaded (GET /api/policy, every role), the
// editor (policy-editor.js: admins change, other roles read), and for admins a "what if" box that
// asks what the policy would do with a call (POST /api/policy/check: nothing is held, counted or
// run; the check is audited) and a reload (POST /api/policy/reload). With several upstreams the
// "Policy file" picker (GET /api/policies) chooses which file all of these are about: the
// top-level policy or an upstream's own (?upstream=NAME, its tools by their unprefixed names).
import { $, h, replace } from './dom.js';
import { PolicyEditor, policyPath } from './policy-editor.js';
import { when } from './format.js';
import { parseExact } from './json-exact.js';
import { jsonBlock } from './json-view.js';

const ACTIONS = {
  allow: ['ok', 'Allowed: it runs at once'],
  deny: ['bad', 'Denied: the agent gets the reason'],
  hide: ['bad', 'Hidden: the agent is told the tool does not exist'],
  hold: ['warn', 'Held for approval'],
};

export class PolicyView {
  constructor(ctx) {
    this.ctx = ctx;
    this.info = $('#policy-info');
    this.form = $('#whatif-form');
    this.result = $('#whatif-result');
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.check(); });
    $('#policy-reload').addEventListener('click', () => this.reload());
    this.picker = $('#policy-target');
    this.picker.addEventListener('change', () => this.open(this.picker.value));
    this.editor = new PolicyEditor(ctx);
    this.target = '';
    this.catalogue = null;
  }

  async activate() {
    const admin = this.ctx.me?.role === 'admin';
    $('#policy-reload').hidden = !admin;
    this.form.hidden = !admin;
    if (!admin) this.result.hidden = true;
    const [files, catalogue] = await Promise.all([
      this.ctx.api.get('/api/policies').then((r) => r.policies ?? [], () => []),
      this.ctx.tools?.fetchCatalogue(),
    ]);
    this.catalogue = catalogue;
    const targets = files.map((f) => f.upstream ?? '');
    if (!targets.includes(this.target)) this.target = targets[0] ?? '';
    replace(this.picker, files.map((f) => h('option', { value: f.upstream ?? '' },
      f.upstream ? `upstream ${f.upstream} (its tools as ${f.prefix}…)` : 'top-level policy')));
    this.picker.value = this.target;
    $('#policy-target-wrap').hidden = files.length < 2 && !files.some((f) => f.upstream);
    this.open(this.target);
  }

  // Shows the policy file of `target` (an upstream's name, or '' for the top-level policy).
  open(target) {
    this.target = target;
    replace(this.result);
    this.result.hidden = true;
    this.load();
    this.editor.reset();
    this.editor.load(this.toolsFor(target), target);
  }

  // The tools a policy file names: for an upstream's own file its tools without the prefix,
  // else every tool by the name agents call it.
  toolsFor(target) {
    const upstreams = this.catalogue?.upstreams ?? [];
    if (!target) return upstreams.flatMap((u) => (u.tools ?? []).map((t) => ({ name: t.name, annotations: t.annotations })));
    const u = upstreams.find((x) => x.name === target);
    const prefix = u?.prefix ?? '';
    return (u?.tools ?? []).map((t) => ({
      name: t.name.startsWith(prefix) ? t.name.slice(prefix.length) : t.name, annotations: t.annotations,
    }));
  }

  reset() {
    replace(this.info);
    replace(this.result);
    this.editor.reset();
  }

  async load() {
    try {
      const p = await this.ctx.api.get(policyPath('/api/policy', this.target));
      replace(this.info,
        h('span', null, p.upstream ? `Upstream ${p.upstream}'s policy ` : 'Active policy ',
          h('code', { title: p.hash }, String(p.hash).slice(0, 12))),
        h('span', { class: 'muted' }, ` · loaded ${when(p.loaded_at)} by ${p.loaded_by} (${p.trigger}) from `),
        h('code', null, p.path));
    } catch (e) {
      if (e.status !== 401) replace(this.info, h('span', { class: 'muted' }, e.message));
    }
  }

  async check() {
    const f = new FormData(this.form);
    const body = { tool: String(f.get('tool') ?? '').trim() };
    const argsText = String(f.get('arguments') ?? '').trim();
    const principal = String(f.get('principal') ?? '').trim();
    if (!body.tool) { this.show(h('p', { class: 'form-error' }, 'Name a tool.')); return; }
    if (argsText) {
      try {
        body.arguments = parseExact(argsText);
      } catch (e) {
        this.show(h('p', { class: 'form-error' }, `Arguments are not valid JSON: ${e.message}`));
        return;
      }
      if (!body.arguments || typeof body.arguments !== 'object' || Array.isArray(body.arguments)) {
        this.show(h('p', { class: 'form-error' }, 'Arguments must be a JSON object.'));
        return;
      }
    }
    if (principal) body.principal = principal;
    try {
      const v = await this.ctx.api.post(policyPath('/api/policy/check', this.target), body);
      const [tone, label] = ACTIONS[v.action] ?? ['info', v.action];
      this.show(
        h('div', { class: `status-banner tone-${tone}`, 'data-action': v.action },
          h('strong', null, label), h('span', { class: 'muted' }, ` · rule ${v.rule || '—'}`)),
        v.reason ? h('p', { class: 'whatif-reason' }, v.reason) : null,
        v.grant ? h('p', { class: 'notice notice-info whatif-grant' },
          `But grant ${v.grant.id} by ${v.grant.created_by} covers this call until ${when(v.grant.expires_at)}: it would run at once.`) : null,
        v.approval ? h('p', { class: 'muted' },
          `${v.approval.approvers} approver(s), expires after ${v.approval.timeout}, `,
          v.approval.remember ? `rememberable for up to ${v.approval.remember.max}` : 'not rememberable') : null,
        h('details', null, h('summary', null, 'Full answer'), jsonBlock(v)));
    } catch (e) {
      if (e.status !== 401) this.show(h('p', { class: 'form-error' }, e.message));
    }
  }

  show(...children) {
    replace(this.result, ...children);
    this.result.hidden = false;
  }

  async reload() {
    try {
      const p = await this.ctx.api.post(policyPath('/api/policy/reload', this.target), {});
      this.ctx.toast(`Policy reloaded (${String(p.hash).slice(0, 12)}).`, 'ok');
    } catch (e) {
      if (e.status !== 401) this.ctx.toast(`Reload refused: ${e.message}`, 'error', 15000);
    }
    this.load();
  }
}
