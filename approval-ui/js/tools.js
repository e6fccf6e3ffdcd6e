// Tools: the upstream's catalogue as holdgate treats it (GET /api/tools): every tool with its
// description and MCP annotations, the risk holdgate assigns (from the policy's rule, else from the
// annotations, said which), the decision for a typical call with the rule that makes it ("depends
// on arguments" when a rule looks at them), and its audited calls, denials and holds in the last
// 24 hours. Every role may read it. Tool names, descriptions and annotations come from the
// upstream: they are shown as text only (dom.js).
import { $, h, replace } from './dom.js';
import { when } from './format.js';

const DECISIONS = {
  allow: ['ok', 'allow'],
  deny: ['bad', 'deny'],
  hide: ['neutral', 'hide'],
  hold: ['warn', 'hold for approval'],
};
const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'];

export class ToolsView {
  constructor(ctx) {
    this.ctx = ctx;
    this.body = $('#tools-body');
    this.info = $('#tools-info');
    this.seq = 0;
    this.names = [];  // the last catalogue's tool names (the policy editor offers them)
    $('#tools-refresh').addEventListener('click', () => this.load(true));
  }

  activate() {
    this.load(false);
  }

  reset() {
    replace(this.body);
    replace(this.info);
    this.names = [];
  }

  // The catalogue, for other views (the policy editor); null when it cannot be had.
  async fetchCatalogue(refresh = false) {
    try {
      return await this.ctx.api.get('/api/tools', refresh ? { refresh: '1' } : undefined);
    } catch (e) {
      return null;
    }
  }

  async load(refresh) {
    const seq = ++this.seq;
    this.body.setAttribute('aria-busy', 'true');
    try {
      const res = await this.ctx.api.get('/api/tools', refresh ? { refresh: '1' } : undefined);
      if (seq !== this.seq) return;
      this.render(res);
    } catch (e) {
      if (seq !== this.seq || e.status === 401) return;
      replace(this.body, h('p', { class: 'notice notice-error' }, `Could not load the tools: ${e.message}`));
    } finally {
      if (seq === this.seq) this.body.removeAttribute('aria-busy');
    }
  }

  render(res) {
    const upstreams = res?.upstreams ?? [];
    const tools = upstreams.flatMap((u) => u.tools ?? []);
    this.names = tools.map((t) => t.name);
    const fetched = upstreams[0]?.fetched_at;
    replace(this.info,
      `${tools.length} tool${tools.length === 1 ? '' : 's'}`,
      upstreams.length > 1 ? ` from ${upstreams.length} upstreams` : '',
      fetched ? h('span', { class: 'muted' }, ` · listed ${when(fetched)}`) : null,
      res?.policy_hash ? h('span', { class: 'muted' }, ' · policy ', h('code', { title: res.policy_hash }, String(res.policy_hash).slice(0, 12))) : h('span', { class: 'muted' }, ' · no policy: every call is allowed'));
    if (tools.length === 0) {
      replace(this.body, h('div', { class: 'empty' },
        h('p', { class: 'empty-title' }, 'The upstream lists no tools')));
      return;
    }
    const rows = tools.map((t) => this.row(t, upstreams.length > 1));
    const down = upstreams.filter((u) => u.available === false).map((u) =>
      h('p', { class: 'notice notice-warn tools-down', dataset: { upstream: u.name } },
        `Upstream ${u.name} is not available (its tools are not listed): ${u.error ?? 'down'}`));
    replace(this.body,
      down,
      h('table', { class: 'table tools-table' },
        h('thead', null, h('tr', null,
          ['Tool', upstreams.length > 1 ? 'Upstream' : null, 'Annotations', 'Risk', 'Decision (typical call)', 'Calls 24 h', 'Denied', 'Held']
            .filter(Boolean).map((x) => h('th', null, x)))),
        h('tbody', null, rows)),
      res?.counts_note ? h('p', { class: 'hint tools-note' }, `Counts: ${res.counts_note}.`) : null);
  }

  row(t, showUpstream) {
    const d = t.decision ?? {};
    const risk = t.risk ?? {};
    const n = t.last_24h ?? {};
    const [tone, label] = DECISIONS[d.action] ?? ['neutral', String(d.action ?? '?')];
    const annotations = t.annotations ?? {};
    const hints = HINTS.filter((k) => typeof annotations[k] === 'boolean')
      .map((k) => h('span', { class: `hint-chip ${annotations[k] ? 'on' : 'off'}`, title: `${k}: ${annotations[k]}` },
        `${k.replace(/Hint$/, '')}${annotations[k] ? '' : ': no'}`));
    return h('tr', { dataset: { tool: t.name } },
      h('td', { class: 'tool-cell' },
        h('code', { class: 'tool-name' }, t.name),
        t.title ? h('div', { class: 'tool-title' }, t.title) : null,
        t.description ? h('div', { class: 'tool-desc muted' }, t.description) : null),
      showUpstream ? h('td', { class: 'upstream-cell' }, t.upstream ?? '') : null,
      h('td', null, hints.length ? hints : h('span', { class: 'muted' }, 'none')),
      h('td', { class: 'risk-cell' },
        h('span', { class: `risk-badge risk-${risk.level ?? 'unknown'}` }, risk.level ?? 'unknown'),
        h('div', { class: 'muted risk-source', 'data-source': risk.source ?? '', title: risk.note ?? '' },
          risk.source === 'policy' ? 'from policy' : 'from annotations')),
      h('td', { class: 'decision-cell' },
        h('span', { class: `state-chip tone-${tone}`, 'data-action': d.action ?? '' }, label),
        d.shadow ? h('span', { class: 'muted' }, ' (shadow: observed, not enforced)') : null,
        h('div', { class: 'muted' }, 'rule ', h('code', null, d.rule || '—')),
        d.depends_on_arguments ? h('div', { class: 'depends' }, 'depends on arguments') : null),
      h('td', { class: 'num' }, String(n.calls ?? 0)),
      h('td', { class: 'num' }, String(n.denied ?? 0)),
      h('td', { class: 'num' }, String(n.held ?? 0)));
  }
}
