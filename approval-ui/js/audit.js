// Audit log review over #8's API: events with filters and paging (newest first), the chain's
// verification, and exports (JSON lines / CSV, with the same filters) as downloads.
import { stringifyExact } from './json-exact.js';
import { $, h, icon, replace } from './dom.js';
import { eventLabel, fullTime, localInputToIso, when } from './format.js';
import { CursorPager, formValues } from './paging.js';

const PAGE_SIZE = 50;

export class AuditView {
  constructor(ctx) {
    this.ctx = ctx;
    this.form = $('#audit-filters');
    this.body = $('#audit-body');
    this.pageText = $('#audit-page');
    this.newerButton = $('#audit-newer');
    this.olderButton = $('#audit-older');
    this.verdict = $('#audit-verdict');
    this.pager = new CursorPager();
    this.loadedOnce = false;
    this.seq = 0;
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.pager.reset(); this.load(); });
    this.form.addEventListener('reset', () => setTimeout(() => { this.pager.reset(); this.load(); }, 0));
    this.newerButton.addEventListener('click', () => { if (this.pager.newer()) this.load(); });
    this.olderButton.addEventListener('click', () => { if (this.pager.older()) this.load(); });
    $('#audit-verify').addEventListener('click', () => this.verify());
    $('#audit-export-jsonl').addEventListener('click', () => this.exportAs('jsonl'));
    $('#audit-export-csv').addEventListener('click', () => this.exportAs('csv'));
  }

  activate() {
    if (!this.loadedOnce) this.load();
  }

  reset() {
    this.loadedOnce = false;
    this.pager.reset();
    replace(this.body);
    this.verdict.hidden = true;
  }

  filters() {
    const f = formValues(this.form);
    return {
      type: f.type ?? '', tool: f.tool ?? '', principal: f.principal ?? '', actor: f.actor ?? '',
      approval_id: f.approval_id ?? '', since: localInputToIso(f.since ?? ''), until: localInputToIso(f.until ?? ''),
    };
  }

  async load() {
    const seq = ++this.seq;
    this.body.setAttribute('aria-busy', 'true');
    try {
      const res = await this.ctx.api.get('/api/audit', { ...this.filters(), order: 'desc', limit: PAGE_SIZE, cursor: this.pager.cursor });
      if (seq !== this.seq) return;
      this.pager.loaded(res?.next_cursor ?? null);
      this.loadedOnce = true;
      this.render(res?.events ?? []);
    } catch (e) {
      if (seq !== this.seq || e.status === 401) return;
      replace(this.body, h('div', { class: 'notice notice-error', role: 'alert' }, `Could not load the audit log: ${e.message}`));
    } finally {
      if (seq === this.seq) this.body.removeAttribute('aria-busy');
    }
  }

  render(events) {
    this.newerButton.disabled = !this.pager.hasNewer;
    this.olderButton.disabled = !this.pager.hasOlder;
    this.pageText.textContent = `Page ${this.pager.page + 1}`;
    if (events.length === 0) {
      replace(this.body, h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, 'No events match'),
        h('p', { class: 'empty-text' }, 'Change the filters to see more of the log.')));
      return;
    }
    replace(this.body, h('table', { class: 'table table-audit', id: 'audit-table' },
      h('thead', null, h('tr', null,
        ['#', 'Time', 'Event', 'Actor', 'Principal', 'Tool', 'Decision', 'Details', 'Hash'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, events.map((e) => this.row(e)))));
  }

  row(e) {
    const detailText = e.detail === null || e.detail === undefined ? '' : stringifyExact(e.detail);
    const short = detailText.length > 110 ? `${detailText.slice(0, 109)}…` : detailText;
    const open = e.approval_id ? () => {
      this.ctx.returnTo = '#/audit';
      this.ctx.navigate(`#/approvals/${encodeURIComponent(e.approval_id)}`);
    } : null;
    return h('tr', {
      class: open ? 'row-link' : '', tabindex: '0', dataset: { seq: String(e.seq) },
      onclick: open ?? undefined,
      onkeydown: open ? (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); open(); } } : undefined,
    },
    h('td', { class: 'mono muted' }, String(e.seq)),
    h('td', { class: 'nowrap', title: fullTime(e.ts) }, when(e.ts)),
    h('td', null, h('span', { class: 'event-type', title: e.type }, eventLabel(e.type))),
    h('td', null, e.actor || '—', e.via ? h('span', { class: 'muted' }, ` via ${e.via}`) : null),
    h('td', null, e.principal || ''),
    h('td', null, h('span', { class: 'mono' }, e.tool || ''), e.upstream ? h('span', { class: 'muted' }, ` @${e.upstream}`) : null),
    h('td', null, e.decision || ''),
    h('td', { class: 'cell-detail mono', title: detailText }, short),
    h('td', { class: 'mono muted', title: `hash ${e.hash}\nprev ${e.prev_hash}` }, String(e.hash ?? '').slice(0, 10)));
  }

  async verify() {
    const button = $('#audit-verify');
    button.disabled = true;
    this.verdict.hidden = false;
    this.verdict.className = 'verdict';
    replace(this.verdict, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Verifying the hash chain…');
    try {
      const v = await this.ctx.api.get('/api/audit/verify');
      if (v.ok) {
        this.verdict.className = 'verdict verdict-ok';
        replace(this.verdict, icon('check', 18), h('strong', null, 'Chain intact.'),
          ` ${Number(v.rows_checked).toLocaleString()} events checked; head #${v.head_seq} `,
          h('code', { title: v.head_hash }, `${String(v.head_hash ?? '').slice(0, 16)}…`));
      } else {
        this.verdict.className = 'verdict verdict-bad';
        replace(this.verdict, icon('alert', 18), h('strong', null, `Chain broken at event #${v.broken_seq}.`), ` ${v.why ?? ''}`,
          ` (${Number(v.rows_checked).toLocaleString()} events checked)`);
      }
    } catch (e) {
      if (e.status === 401) return;
      this.verdict.className = 'verdict verdict-bad';
      replace(this.verdict, icon('alert', 18), `Could not verify: ${e.message}`);
    } finally {
      button.disabled = false;
    }
  }

  async exportAs(format) {
    const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, '');
    try {
      const size = await this.ctx.api.download('/api/audit/export', { ...this.filters(), format },
        `holdgate-audit-${stamp}.${format}`);
      this.ctx.toast(`Exported ${format === 'csv' ? 'CSV' : 'JSON lines'} (${size.toLocaleString()} bytes).`, 'ok');
    } catch (e) {
      if (e.status !== 401) this.ctx.toast(`Export failed: ${e.message}`, 'error');
    }
  }
}
