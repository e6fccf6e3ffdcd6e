// History: decided approvals with filters (state, tool, principal, reviewer, time) and cursor
// paging over GET /api/approvals. The API has no reviewer filter, so "Reviewer" is matched here
// against decided_by and the votes, reading further pages until a page is full (bounded).
import { $, h, replace } from './dom.js';
import {
  duration, fullTime, localInputToIso, parseTime, riskLevel, stateLabel, stateTone, when,
} from './format.js';
import { CursorPager, formValues } from './paging.js';

const PAGE_SIZE = 25;
const MAX_SCAN_PAGES = 20;

export class HistoryView {
  constructor(ctx) {
    this.ctx = ctx;
    this.form = $('#history-filters');
    this.body = $('#history-body');
    this.pageText = $('#history-page');
    this.newerButton = $('#history-newer');
    this.olderButton = $('#history-older');
    this.pager = new CursorPager();
    this.loadedOnce = false;
    this.seq = 0;
    this.staleTimer = null;
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.pager.reset(); this.load(); });
    this.form.addEventListener('reset', () => setTimeout(() => { this.pager.reset(); this.load(); }, 0));
    this.newerButton.addEventListener('click', () => { if (this.pager.newer()) this.load(); });
    this.olderButton.addEventListener('click', () => { if (this.pager.older()) this.load(); });
  }

  activate() {
    if (!this.loadedOnce) this.load();
  }

  reset() {
    this.loadedOnce = false;
    this.pager.reset();
    replace(this.body);
  }

  // An approval changed: the first page is reloaded (debounced) when it is on screen.
  onChange() {
    if (!this.loadedOnce || this.pager.page !== 0 || this.ctx.view !== 'history') return;
    clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => this.load(), 400);
  }

  query() {
    const f = formValues(this.form);
    return {
      state: f.state ?? '',
      tool: f.tool ?? '',
      principal: f.principal ?? '',
      since: localInputToIso(f.since ?? ''),
      until: localInputToIso(f.until ?? ''),
      reviewer: f.reviewer ?? '',
    };
  }

  async load() {
    const seq = ++this.seq;
    const q = this.query();
    this.body.setAttribute('aria-busy', 'true');
    try {
      let rows = [];
      let cursor = this.pager.cursor;
      let next = null;
      let scanned = 0;
      for (let i = 0; i < (q.reviewer ? MAX_SCAN_PAGES : 1); i++) {
        const res = await this.ctx.api.get('/api/approvals', {
          state: q.state, tool: q.tool, principal: q.principal, since: q.since, until: q.until,
          limit: q.reviewer ? 100 : PAGE_SIZE, cursor,
        });
        const page = res?.approvals ?? [];
        scanned += page.length;
        rows.push(...(q.reviewer ? page.filter((a) => decidedBy(a, q.reviewer)) : page));
        next = res?.next_cursor ?? null;
        if (!next || rows.length >= PAGE_SIZE) break;
        cursor = next;
      }
      if (seq !== this.seq) return;
      this.pager.loaded(next);
      this.loadedOnce = true;
      this.render(rows, q, scanned);
    } catch (e) {
      if (seq !== this.seq || e.status === 401) return;
      replace(this.body, h('div', { class: 'notice notice-error', role: 'alert' }, `Could not load the history: ${e.message}`));
    } finally {
      if (seq === this.seq) this.body.removeAttribute('aria-busy');
    }
  }

  render(rows, q, scanned) {
    this.newerButton.disabled = !this.pager.hasNewer;
    this.olderButton.disabled = !this.pager.hasOlder;
    this.pageText.textContent = `Page ${this.pager.page + 1}${q.reviewer ? ` · ${scanned} approvals scanned for reviewer “${q.reviewer}”` : ''}`;
    if (rows.length === 0) {
      replace(this.body, h('div', { class: 'empty' },
        h('p', { class: 'empty-title' }, 'No approvals match'),
        h('p', { class: 'empty-text' }, 'Change the filters, or wait for reviewers to decide some calls.')));
      return;
    }
    const table = h('table', { class: 'table', id: 'history-table' },
      h('thead', null, h('tr', null,
        ['Requested', 'Tool', 'Principal', 'Risk', 'Outcome', 'Decided by', 'Reason', 'Took'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows.map((a) => this.row(a))));
    replace(this.body, table);
  }

  row(a) {
    const level = riskLevel(a);
    const took = parseTime(a.decided_at) - parseTime(a.created_at);
    const open = () => {
      this.ctx.returnTo = '#/history';
      this.ctx.navigate(`#/approvals/${encodeURIComponent(a.id)}`);
    };
    return h('tr', {
      class: 'row-link', tabindex: '0', dataset: { id: a.id },
      onclick: open,
      onkeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); open(); } },
    },
    h('td', { class: 'nowrap', title: fullTime(a.created_at) }, when(a.created_at)),
    h('td', null, h('span', { class: 'mono' }, a.tool), a.upstream ? h('span', { class: 'muted' }, ` @${a.upstream}`) : null),
    h('td', null, a.principal),
    h('td', null, h('span', { class: `risk-badge risk-${level}` }, level === 'unknown' ? '—' : level)),
    h('td', null, h('span', { class: `state-chip tone-${stateTone(a.state)}` }, stateLabel(a.state))),
    h('td', null, a.decided_by || '—', a.decided_via ? h('span', { class: 'muted' }, ` via ${a.decided_via}`) : null),
    h('td', { class: 'cell-reason' }, a.reason || ''),
    h('td', { class: 'nowrap muted' }, Number.isFinite(took) && took >= 0 ? duration(took) : '—'));
  }
}

function decidedBy(a, reviewer) {
  const r = reviewer.toLowerCase();
  if (String(a.decided_by ?? '').toLowerCase() === r) return true;
  return (a.votes ?? []).some((v) => String(v.reviewer ?? '').toLowerCase() === r);
}
