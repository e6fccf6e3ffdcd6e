// Multi-select in the queue: the reviewer ticks pending approvals (the box on each row, x or Space
// on the focused row, or "Select all" for every row shown) and approves or rejects them with one
// POST /api/approvals/decide. The server checks each approval on its own, so the answer is one
// result per id; the page shows each (decided, or why not) and leaves the refused ones ticked.
//
// Ticks follow approval ids, not rows: an approval that stops being pending (decided elsewhere,
// expired) is dropped from the ticked set at the next render.
import { $, h, replace } from './dom.js';
import { preview } from './format.js';

const MAX_BULK = 500;  // the endpoint's limit per request

export class BulkSelection {
  constructor(ctx) {
    this.ctx = ctx;
    this.checked = new Set();
    this.bar = $('#bulk-bar');
    this.all = $('#bulk-all');
    this.count = $('#bulk-count');
    this.visible = $('#bulk-visible');
    this.approveBtn = $('#bulk-approve');
    this.rejectBtn = $('#bulk-reject');
    this.results = $('#bulk-results');
    this.dialog = $('#bulk-dialog');
    this.busy = false;
    this.all.addEventListener('change', () => this.setAll(this.all.checked));
    this.approveBtn.addEventListener('click', () => this.open(true));
    this.rejectBtn.addEventListener('click', () => this.open(false));
    $('#bulk-form').addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    for (const b of this.dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => this.dialog.close());
  }

  reset() {
    this.checked.clear();
    this.results.hidden = true;
    replace(this.results);
  }

  has(id) { return this.checked.has(id); }

  // Ticks or unticks approval `id`; returns the new state.
  toggle(id, on = !this.checked.has(id)) {
    if (!this.ctx.pending.has(id)) return false;
    if (on) this.checked.add(id); else this.checked.delete(id);
    this.ctx.queue.render();
    return on;
  }

  setAll(on) {
    if (on) for (const id of this.ctx.queue.ids()) this.checked.add(id);
    else this.checked.clear();
    this.ctx.queue.render();
  }

  // Called by the queue after every render: prunes ticks of approvals no longer pending and
  // updates the bar (hidden when nothing is pending or the caller may not decide).
  sync() {
    for (const id of [...this.checked]) if (!this.ctx.pending.has(id)) this.checked.delete(id);
    const shown = this.ctx.pending.size;
    const n = this.checked.size;
    this.bar.hidden = shown === 0 || !this.ctx.me?.can_decide;
    this.visible.textContent = `(${shown})`;
    this.all.checked = shown > 0 && n === shown;
    this.all.indeterminate = n > 0 && n < shown;
    this.count.textContent = n === 0 ? 'none selected' : `${n} selected`;
    this.approveBtn.disabled = n === 0 || this.busy;
    this.rejectBtn.disabled = n === 0 || this.busy;
  }

  open(approve) {
    const ids = this.ids();
    if (ids.length === 0) { this.ctx.toast('Tick approvals first (x or Space on a row).', 'info'); return; }
    if (!this.ctx.me?.can_decide) { this.ctx.toast(`Read-only: your role (${this.ctx.me?.role ?? 'none'}) cannot decide.`, 'warn'); return; }
    if (ids.length > MAX_BULK) { this.ctx.toast(`At most ${MAX_BULK} approvals per bulk decision; untick some.`, 'warn'); return; }
    this.approve = approve;
    const noun = ids.length === 1 ? 'approval' : 'approvals';
    $('#bulk-title').textContent = `${approve ? 'Approve' : 'Reject'} ${ids.length} ${noun}?`;
    $('#bulk-summary').textContent = approve
      ? 'Each call runs once approved (or counts your vote where more approvals are needed).'
      : 'None of these calls runs. Each agent is told your reason.';
    replace($('#bulk-list'), ids.map((id) => {
      const a = this.ctx.pending.get(id);
      return h('li', null, h('code', null, a?.tool ?? '?'), ' from ', h('strong', null, a?.principal ?? '?'), ' ',
        h('span', { class: 'bulk-args' }, preview(a?.arguments)));
    }));
    $('#bulk-reason-note').textContent = approve ? '(optional)' : '(required: the agents are told)';
    $('#bulk-reason-note').className = approve ? 'optional' : 'required';
    const reason = $('#bulk-reason');
    reason.value = '';
    reason.setAttribute('aria-required', approve ? 'false' : 'true');  // checked in submit(), with a message
    reason.placeholder = approve ? 'Why are these calls fine?' : 'Why may these calls not run?';
    const submit = $('#bulk-submit');
    submit.className = `btn ${approve ? 'btn-approve' : 'btn-reject'}`;
    replace(submit, `${approve ? 'Approve' : 'Reject'} ${ids.length} `, h('kbd', null, '↵'));
    submit.disabled = false;
    this.setError('');
    this.dialog.showModal();
    reason.focus();
  }

  // The ticked ids in queue order.
  ids() {
    return this.ctx.queue.ids().filter((id) => this.checked.has(id));
  }

  setError(text) {
    const el = $('#bulk-error');
    el.textContent = text;
    el.hidden = !text;
  }

  async submit() {
    const submit = $('#bulk-submit');
    if (submit.disabled) return;
    const ids = this.ids();
    const reason = $('#bulk-reason').value.trim();
    if (!this.approve && !reason) { this.setError('A reason is required: the agents are told why.'); return; }
    if (ids.length === 0) { this.dialog.close(); return; }
    const tools = new Map(ids.map((id) => [id, this.ctx.pending.get(id)?.tool ?? '']));
    const body = { approve: this.approve, ids };
    if (reason) body.reason = reason;
    submit.disabled = true;
    this.busy = true;
    try {
      const res = await this.ctx.api.post('/api/approvals/decide', body);
      this.dialog.close();
      this.show(res, tools);
    } catch (e) {
      submit.disabled = false;
      if (e.status === 401) { this.dialog.close(); return; }
      this.setError(e.status === 0 ? 'holdgate did not answer; check the connection and try again.' : e.message);
    } finally {
      this.busy = false;
      this.sync();
    }
  }

  // Shows one line per approval from the bulk answer; decided ones leave the queue at once (the
  // event stream confirms), refused ones stay ticked.
  show(res, tools) {
    const results = Array.isArray(res?.results) ? res.results : [];
    for (const r of results) {
      if (r.ok && r.state && r.state !== 'pending') {
        this.checked.delete(r.id);
        const a = this.ctx.pending.get(r.id);
        if (a) this.ctx.applyApproval({ ...a, state: r.state });
      } else if (r.ok) {
        this.checked.delete(r.id);  // a vote counted; still pending for more votes
      }
    }
    const decided = res?.decided ?? 0, refused = res?.refused ?? 0;
    this.results.dataset.tone = refused > 0 ? 'warn' : 'ok';
    replace(this.results,
      h('div', { class: 'bulk-results-head' },
        h('strong', null, `${decided} decided, ${refused} refused`),
        h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Dismiss the bulk results', onclick: () => this.reset() }, 'Dismiss')),
      h('ul', { class: 'bulk-results-list' }, results.map((r) => h('li', {
        class: r.ok ? 'bulk-ok' : 'bulk-refused', dataset: { id: r.id, outcome: r.ok ? 'ok' : (r.error ?? 'refused') },
      },
      h('code', null, tools.get(r.id) || r.id), ' ',
      h('span', { class: 'bulk-id' }, r.id), ': ',
      r.ok ? (r.message || r.state || 'decided') : `${r.error ?? 'refused'}: ${r.message ?? ''}`))));
    this.results.hidden = false;
    this.ctx.toast(`${decided} decided, ${refused} refused.`, refused > 0 ? 'warn' : 'ok');
    this.ctx.queue.render();
  }
}
