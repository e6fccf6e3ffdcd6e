// The queue: pending approvals, kept live from the event stream. Order: highest risk first
// (critical, high, medium, low, unknown); within a risk level the newest first, so a burst of
// new critical holds is on top. Selection follows the approval id, not the position, so new
// arrivals never move the reviewer to a different call. Each row also carries a tick for bulk
// decisions (bulk.js); the option's aria-checked says whether it is ticked.
import { $, h, icon, replace } from './dom.js';
import { ago, countdown, preview, riskLevel, riskRank } from './format.js';

export class QueueView {
  constructor(ctx) {
    this.ctx = ctx;
    this.list = $('#queue-list');
    this.empty = $('#queue-empty');
    this.count = $('#queue-count');
    this.loaded = false;
  }

  reset() {
    this.ctx.pending.clear();
    this.loaded = false;
    this.render();
  }

  // Replaces the queue with a fresh listing.
  setAll(approvals) {
    this.ctx.pending.clear();
    for (const a of approvals) if (a.state === 'pending') this.ctx.pending.set(a.id, a);
    this.loaded = true;
  }

  // One approval changed (from the event stream).
  apply(approval) {
    if (!approval?.id) return;
    if (approval.state === 'pending') this.ctx.pending.set(approval.id, approval);
    else this.ctx.pending.delete(approval.id);
  }

  sorted() {
    return [...this.ctx.pending.values()].sort((x, y) =>
      riskRank(y) - riskRank(x) ||
      String(y.created_at ?? '').localeCompare(String(x.created_at ?? '')) ||
      String(x.id).localeCompare(String(y.id)));
  }

  ids() {
    return this.sorted().map((a) => a.id);
  }

  render() {
    const items = this.sorted();
    const n = items.length;
    this.count.textContent = String(n);
    this.count.dataset.zero = n === 0 ? 'true' : 'false';
    document.title = n > 0 ? `(${n}) holdgate` : 'holdgate';
    const focusedId = document.activeElement?.closest?.('.qitem')?.dataset.id;
    const selected = this.ctx.selectedId;
    const selectedIsPending = items.some((a) => a.id === selected);
    replace(this.list, items.map((a, i) => this.item(a, a.id === selected || (!selectedIsPending && i === 0 && !selected))));
    // Empty and current: "Nothing is waiting". Empty while live updates are paused: say so
    // instead, never "all clear" beside the offline banner.
    this.empty.hidden = !(this.loaded && n === 0);
    this.empty.dataset.stale = this.ctx.live ? 'false' : 'true';
    const title = this.empty.querySelector('.empty-title');
    const text = this.empty.querySelector('.empty-text');
    if (title && text) {
      title.textContent = this.ctx.live ? 'Nothing is waiting for you' : 'Nothing known to be waiting';
      text.textContent = this.ctx.live
        ? 'Held calls appear here the moment an agent makes them.'
        : 'Live updates are paused, so calls held since then are not shown yet.';
    }
    this.list.hidden = n === 0;
    this.ctx.bulk?.sync();
    if (focusedId) this.list.querySelector(`[data-id="${CSS.escape(focusedId)}"]`)?.focus();
  }

  item(a, isCurrent) {
    const level = riskLevel(a);
    const cd = countdown(a.expires_at);
    const votes = a.approvals_needed > 1 ? h('span', { class: 'qitem-votes', title: 'approvals so far' },
      `${a.approvals_so_far ?? 0}/${a.approvals_needed}`) : null;
    const ticked = Boolean(this.ctx.bulk?.has(a.id));
    const canDecide = Boolean(this.ctx.me?.can_decide);
    // The visible box is for the mouse; keyboard and screen readers use the option's
    // aria-checked (x or Space toggles it), so no second focus stop sits inside the option.
    const tick = canDecide ? h('input', {
      type: 'checkbox', class: 'qitem-check', tabindex: '-1', 'aria-hidden': 'true', checked: ticked,
      title: 'Tick for a bulk decision',
      onclick: (e) => { e.stopPropagation(); this.ctx.bulk.toggle(a.id, e.target.checked); },
    }) : null;
    const li = h('li', {
      class: `qitem risk-${level}`,
      role: 'option',
      id: `q-${a.id}`,
      'aria-selected': a.id === this.ctx.selectedId ? 'true' : 'false',
      'aria-checked': canDecide ? (ticked ? 'true' : 'false') : null,
      tabindex: isCurrent ? '0' : '-1',
      dataset: { id: a.id },
      onclick: () => this.select(a.id, { focus: true }),
    },
    h('div', { class: 'qitem-top' },
      tick,
      h('span', { class: `risk-badge risk-${level}` }, level === 'unknown' ? 'risk ?' : level),
      h('span', { class: 'qitem-tool' }, a.tool),
      a.upstream ? h('span', { class: 'qitem-upstream muted', title: 'the upstream MCP server' }, `@${a.upstream}`) : null,
      h('span', { class: 'qitem-expiry', title: 'time left to decide' }, icon('clock', 13),
        h('span', { class: `countdown cd-${cd.level}`, dataset: { expires: a.expires_at ?? '' } }, cd.text))),
    h('div', { class: 'qitem-meta' },
      h('span', { class: 'qitem-principal' }, a.principal),
      h('span', { class: 'sep', 'aria-hidden': 'true' }, '·'),
      h('span', { class: 'qitem-rule' }, a.rule ? `rule ${a.rule}` : 'no rule'),
      h('span', { class: 'sep', 'aria-hidden': 'true' }, '·'),
      h('span', { class: 'qitem-age', dataset: { since: a.created_at ?? '' } }, ago(a.created_at)),
      votes,
      a.agent_left ? h('span', { class: 'flag flag-left', title: 'the agent stopped waiting' }, 'agent left') : null),
    h('div', { class: 'qitem-args' }, preview(a.arguments)));
    return li;
  }

  // Selects approval `id` (shown in the detail pane); the URL follows without a history entry.
  select(id, { focus = false } = {}) {
    this.ctx.navigate(`#/approvals/${encodeURIComponent(id)}`, { replace: true });
    if (focus) this.list.querySelector(`[data-id="${CSS.escape(id)}"]`)?.focus();
  }

  // x / Space: ticks or unticks the focused row (else the selected approval) for a bulk decision.
  toggleTick() {
    const id = document.activeElement?.closest?.('.qitem')?.dataset.id ?? this.ctx.selectedId;
    if (!id || !this.ctx.pending.has(id) || !this.ctx.bulk) return false;
    this.ctx.bulk.toggle(id);
    return true;
  }

  // j / k: the next or previous pending approval.
  move(delta) {
    const ids = this.ids();
    if (ids.length === 0) return false;
    const at = ids.indexOf(this.ctx.selectedId);
    let next;
    if (at < 0) next = delta > 0 ? 0 : ids.length - 1;
    else next = Math.min(ids.length - 1, Math.max(0, at + delta));
    this.select(ids[next], { focus: true });
    return true;
  }

  // The approval after `id` in queue order (for moving on after a decision), or the first.
  nextAfter(id, orderBefore) {
    const ids = this.ids();
    if (ids.length === 0) return null;
    const at = orderBefore.indexOf(id);
    for (let i = at + 1; i < orderBefore.length; i++) if (ids.includes(orderBefore[i])) return orderBefore[i];
    for (let i = at - 1; i >= 0; i--) if (ids.includes(orderBefore[i])) return orderBefore[i];
    return ids[0];
  }

  // Called every second: live ages and countdowns.
  tick(now = Date.now()) {
    for (const el of this.list.querySelectorAll('[data-expires]')) {
      const cd = countdown(el.dataset.expires, now);
      el.textContent = cd.text;
      el.className = `countdown cd-${cd.level}`;
    }
    for (const el of this.list.querySelectorAll('[data-since]')) el.textContent = ago(el.dataset.since, now);
  }
}
