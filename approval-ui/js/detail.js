// The detail pane: one approval with its exact arguments (and, for editable rules, an editor with
// a diff), the decision controls, who may still decide, the votes, what the agent will be told,
// the upstream result, the timeline and comments. Refreshed from the API whenever the event
// stream reports a change to the approval shown; the argument editor survives refreshes.
import { $, h, icon, replace } from './dom.js';
import {
  ago, countdown, eventLabel, fullTime, preview, riskCategory, riskLevel, stateLabel, stateTone, when,
} from './format.js';
import { diffBlock, jsonBlock, pretty, sameJson } from './json-view.js';
import { hasBigInteger, hasExactJson, parseExact, stringifyExact } from './json-exact.js';

export class DetailView {
  constructor(ctx) {
    this.ctx = ctx;
    this.el = $('#detail');
    this.id = null;
    this.data = null;
    this.seq = 0;
    this.refreshTimer = null;
    this.editor = null;  // { id, open, text } for the approval shown
    this.slots = null;
    this.setUpDialogs();
  }

  clear() {
    this.id = null;
    this.data = null;
    this.editor = null;
    this.slots = null;
    this.renderPlaceholder();
  }

  // Shows approval `id` (null: the placeholder).
  show(id) {
    if (!id) {
      if (this.id !== null || !this.el.firstChild) this.clear();
      return;
    }
    if (id === this.id && this.data) return;
    this.id = id;
    this.data = null;
    this.editor = null;
    this.slots = null;
    replace(this.el, h('div', { class: 'detail-loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading approval…'));
    this.load();
  }

  // The event stream says approval `approval.id` changed.
  onChange(approval) {
    if (approval?.id !== this.id) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.load(), 80);
  }

  async load() {
    const id = this.id;
    const seq = ++this.seq;
    if (!id) return;
    try {
      const a = await this.ctx.api.get(`/api/approvals/${encodeURIComponent(id)}`);
      if (seq !== this.seq || id !== this.id) return;
      this.data = a;
      this.render();
    } catch (e) {
      if (seq !== this.seq || id !== this.id) return;
      if (e.status === 401) return;  // the session ends; sign-in is shown
      this.slots = null;
      if (e.status === 404) {
        replace(this.el, h('div', { class: 'empty empty-detail' },
          h('p', { class: 'empty-title' }, 'No such approval'),
          h('p', { class: 'empty-text' }, 'Approval ', h('code', null, id), ' does not exist on this holdgate.'),
          h('a', { class: 'btn', href: '#/queue' }, 'Back to the queue')));
      } else {
        replace(this.el, h('div', { class: 'empty empty-detail' },
          h('p', { class: 'empty-title' }, 'Could not load this approval'),
          h('p', { class: 'empty-text' }, e.message),
          h('button', { class: 'btn', type: 'button', onclick: () => this.load() }, 'Try again')));
      }
    }
  }

  renderPlaceholder() {
    const n = this.ctx.pending.size;
    const live = this.ctx.live;
    replace(this.el, h('div', { class: 'empty empty-detail' },
      icon('shield', 40),
      h('p', { class: 'empty-title' }, n > 0 ? 'Select an approval' : live ? 'All clear' : 'Waiting for live updates'),
      h('p', { class: 'empty-text' }, n > 0
        ? 'Choose a held call on the left, or press j to start at the top.'
        : live ? 'When an agent calls a tool that needs a human, it is held here until you decide.'
          : 'The queue is not known to be current until holdgate answers again.'),
      h('p', { class: 'empty-text' }, h('kbd', null, '?'), ' shows the keyboard shortcuts.')));
  }

  // ---- rendering ------------------------------------------------------------------------------

  render() {
    const a = this.data;
    if (!this.slots || this.slots.id !== a.id) {
      const slots = {
        id: a.id,
        head: h('header', { class: 'detail-head' }),
        status: h('div', { class: 'detail-status' }),
        facts: h('dl', { class: 'facts' }),
        args: h('section', { class: 'card card-args', 'aria-labelledby': 'args-title' }),
        told: h('section', { class: 'card card-told', 'aria-labelledby': 'told-title' }),
        result: h('section', { class: 'card card-result', 'aria-labelledby': 'result-title' }),
        decision: h('section', { class: 'card card-decision', 'aria-labelledby': 'decision-title' }),
        votes: h('section', { class: 'card card-votes', 'aria-labelledby': 'votes-title' }),
        timeline: h('section', { class: 'card card-timeline', 'aria-labelledby': 'timeline-title' }),
        comments: h('section', { class: 'card card-comments', 'aria-labelledby': 'comments-title' }),
        argsKey: null,
      };
      replace(this.el, h('article', { class: 'detail', 'data-approval-id': a.id },
        slots.head, slots.status, slots.facts,
        h('div', { class: 'detail-grid' },
          h('div', { class: 'detail-main' }, slots.args, slots.told, slots.result),
          h('div', { class: 'detail-side' }, slots.decision, slots.votes, slots.timeline, slots.comments))));
      this.slots = slots;
      this.el.scrollTop = 0;
    }
    const s = this.slots;
    this.renderHead(s.head, a);
    this.renderStatus(s.status, a);
    this.renderFacts(s.facts, a);
    // The arguments card is rebuilt only when what it shows changes, so an open editor (and the
    // caret in it) survives refreshes.
    const argsKey = stringifyExact([a.state, this.canEdit(a), a.edited_arguments ?? null]);
    if (s.argsKey !== argsKey) {
      s.argsKey = argsKey;
      this.renderArgs(s.args, a);
    }
    this.renderTold(s.told, a);
    this.renderResult(s.result, a);
    this.renderDecision(s.decision, a);
    this.renderVotes(s.votes, a);
    this.renderTimeline(s.timeline, a);
    this.renderComments(s.comments, a);
  }

  renderHead(el, a) {
    const level = riskLevel(a);
    const cat = riskCategory(a);
    const link = `#/approvals/${encodeURIComponent(a.id)}`;
    const back = this.ctx.returnTo && a.state !== 'pending'
      ? h('a', { class: 'back-link', href: this.ctx.returnTo }, '← Back to ', this.ctx.returnTo.startsWith('#/audit') ? 'the audit log' : 'history')
      : null;
    replace(el,
      back,
      h('div', { class: 'detail-title-row' },
        h('h1', { class: 'detail-tool' }, a.tool),
        a.upstream ? h('span', { class: 'state-chip tone-neutral detail-upstream', title: 'the upstream MCP server' }, `upstream ${a.upstream}`) : null,
        h('span', { class: `risk-badge risk-${level}`, title: 'risk level from the policy' }, level === 'unknown' ? 'risk not set' : level),
        cat ? h('span', { class: 'risk-cat' }, cat) : null,
        h('span', { class: `state-chip tone-${stateTone(a.state)}` }, stateLabel(a.state))),
      h('div', { class: 'detail-sub' },
        h('code', { class: 'approval-id' }, a.id),
        h('a', { class: 'sub-link', href: link, title: 'Link to this approval' }, icon('link', 14), 'link'),
        h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: () => this.copyLink(a) }, 'Copy link')));
  }

  renderStatus(el, a) {
    const parts = [];
    if (a.state !== 'pending') {
      const by = a.decided_by ? ` by ${a.decided_by}` : '';
      const via = a.decided_via ? ` via ${a.decided_via}` : '';
      parts.push(h('div', { class: `status-banner tone-${stateTone(a.state)}`, role: 'status' },
        h('strong', null, `${stateLabel(a.state)}${by}`),
        h('span', { class: 'muted' }, `${via}${a.decided_at ? ` · ${when(a.decided_at)}` : ''}`),
        a.reason ? h('span', { class: 'status-reason' }, '“', a.reason, '”') : null));
    }
    if (a.agent_left) {
      parts.push(h('div', { class: 'notice notice-warn agent-left', role: 'note' }, icon('plug', 16),
        h('span', null, h('strong', null, 'The agent stopped waiting. '),
          a.state === 'pending'
            ? 'A decision is still recorded; an approved call runs when the agent retries the identical call.'
            : 'It gets the outcome if it retries the identical call.')));
    }
    replace(el, parts);
    el.hidden = parts.length === 0;
  }

  renderFacts(el, a) {
    const cd = countdown(a.expires_at);
    const fact = (label, ...value) => h('div', { class: 'fact' }, h('dt', null, label), h('dd', null, ...value));
    replace(el,
      fact('Principal', h('span', { class: 'principal' }, icon('user', 14), a.principal || '—')),
      fact('Rule', h('code', null, a.rule || '—')),
      a.rule_reason ? fact('Why held', h('span', { class: 'rule-reason' }, a.rule_reason)) : null,
      fact('Requested', h('span', { title: fullTime(a.created_at) }, when(a.created_at)), ' ',
        h('span', { class: 'muted', dataset: { since: a.created_at ?? '' } }, ago(a.created_at))),
      a.state === 'pending'
        ? fact('Expires', h('span', { class: `countdown cd-${cd.level}`, dataset: { expires: a.expires_at ?? '' }, title: fullTime(a.expires_at) }, cd.text),
          ' ', h('span', { class: 'muted' }, a.expires_at ? `at ${when(a.expires_at)}` : ''))
        : fact('Decided', a.decided_at ? h('span', { title: fullTime(a.decided_at) }, when(a.decided_at)) : '—'),
      fact('Approvals', `${a.approvals_so_far ?? 0} of ${a.approvals_needed ?? 1}`),
      a.session_id ? fact('Session', h('code', { class: 'truncate', title: a.session_id }, a.session_id)) : null);
  }

  canEdit(a) {
    const you = a.may_decide?.you;
    return Boolean(a.editable && a.state === 'pending' && this.ctx.me?.can_decide && you?.can_approve);
  }

  renderArgs(el, a) {
    const editable = this.canEdit(a);
    const head = h('div', { class: 'card-head' },
      h('h2', { id: 'args-title' }, 'Arguments'),
      a.editable ? h('span', { class: 'tag' }, 'editable rule') : null,
      editable ? h('button', {
        class: 'btn btn-small', type: 'button', id: 'edit-toggle',
        onclick: () => this.toggleEditor(),
      }, this.editor?.open ? 'Close editor' : 'Edit arguments', ' ', h('kbd', null, 'e')) : null);
    const body = [jsonBlock(a.arguments ?? {}, { className: 'json json-args' })];
    if (a.edited_arguments !== null && a.edited_arguments !== undefined) {
      body.push(h('h3', { class: 'subhead' }, 'Edited by the approver (the call ran with these)'),
        diffBlock(a.arguments ?? {}, a.edited_arguments));
    }
    if (editable && this.editor?.open) body.push(this.editorBlock(a));
    replace(el, head, body);
  }

  toggleEditor(force) {
    const a = this.data;
    if (!a || !this.canEdit(a)) {
      if (a && a.editable) this.ctx.toast('These arguments cannot be edited now.', 'warn');
      else if (a) this.ctx.toast('This rule does not allow editing the arguments.', 'warn');
      return;
    }
    const open = force ?? !this.editor?.open;
    if (!this.editor || this.editor.id !== a.id) this.editor = { id: a.id, open: false, text: pretty(a.arguments ?? {}) };
    this.editor.open = open;
    this.renderArgs(this.slots.args, a);
    if (open) $('#args-editor')?.focus();
    else $('#edit-toggle')?.focus();
  }

  editorBlock(a) {
    const textarea = h('textarea', {
      id: 'args-editor', class: 'editor', spellcheck: 'false', rows: String(Math.min(18, this.editor.text.split('\n').length + 2)),
      'aria-label': 'Edited arguments (JSON)', value: this.editor.text,
    });
    const status = h('p', { class: 'editor-status', role: 'status' });
    const diff = h('div', { class: 'editor-diff' });
    const update = () => {
      this.editor.text = textarea.value;
      const parsed = this.parsedEdit();
      if (parsed.error) {
        status.className = 'editor-status form-error';
        status.textContent = parsed.error;
        replace(diff);
      } else if (parsed.changed) {
        status.className = 'editor-status';
        status.textContent = 'Approving runs the call with these arguments; the original is recorded too.';
        replace(diff, diffBlock(a.arguments ?? {}, parsed.value));
      } else {
        status.className = 'editor-status muted';
        status.textContent = 'No changes yet.';
        replace(diff);
      }
    };
    textarea.addEventListener('input', update);
    textarea.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.preventDefault(); textarea.blur(); }
    });
    update();
    return h('div', { class: 'editor-wrap' },
      h('label', { class: 'field-label', for: 'args-editor' }, 'Edit before approving'),
      textarea, status, diff,
      h('div', { class: 'editor-actions' },
        h('button', {
          class: 'btn btn-small', type: 'button',
          onclick: () => { textarea.value = pretty(a.arguments ?? {}); update(); textarea.focus(); },
        }, 'Reset to original')));
  }

  // {value, changed} or {error} for the editor's text.
  parsedEdit() {
    const a = this.data;
    if (!this.editor?.open || this.editor.id !== a?.id) return { changed: false };
    let value;
    try {
      value = parseExact(this.editor.text);
    } catch (e) {
      return { error: `Not valid JSON: ${e.message}` };
    }
    if (!hasExactJson() && hasBigInteger(value)) {
      return { error: 'This browser cannot edit integers beyond 2^53 exactly; approve without editing or use the CLI.' };
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) return { error: 'The arguments must be a JSON object.' };
    return { value, changed: !sameJson(value, a.arguments ?? {}) };
  }

  renderTold(el, a) {
    replace(el,
      h('div', { class: 'card-head' }, h('h2', { id: 'told-title' }, a.state === 'pending' ? 'What the agent is told now' : 'What the agent was told')),
      h('blockquote', { class: 'agent-message' }, a.agent_message ?? ''),
      a.state === 'pending'
        ? h('p', { class: 'hint' }, 'If you reject, the agent receives your reason; if you approve, it receives the tool’s result.')
        : null);
  }

  renderResult(el, a) {
    const has = a.result !== null && a.result !== undefined;
    el.hidden = !has;
    if (!has) { replace(el); return; }
    replace(el, h('div', { class: 'card-head' }, h('h2', { id: 'result-title' }, 'Upstream result')),
      jsonBlock(a.result, { className: 'json json-result' }));
  }

  renderDecision(el, a) {
    const md = a.may_decide ?? {};
    const you = md.you ?? {};
    const me = this.ctx.me ?? {};
    const needed = md.needed ?? a.approvals_needed ?? 1;
    const soFar = md.so_far ?? a.approvals_so_far ?? 0;
    const pips = h('span', { class: 'pips', 'aria-hidden': 'true' },
      Array.from({ length: Math.min(needed, 10) }, (_, i) => h('span', { class: i < soFar ? 'pip pip-on' : 'pip' })));
    const reviewers = md.reviewers ?? {};
    const roles = Array.isArray(reviewers.roles) ? reviewers.roles : [];
    const names = Array.isArray(reviewers.names) ? reviewers.names : [];
    const who = roles.length || names.length
      ? [roles.length ? `role ${roles.join(', ')}` : null, names.length ? names.join(', ') : null].filter(Boolean).join(' or ')
      : 'any reviewer';
    const excluded = Array.isArray(md.excluded) ? md.excluded : [];
    const rows = [
      h('div', { class: 'quorum' }, pips,
        h('span', null, a.state === 'pending'
          ? `${soFar} of ${needed} approval${needed === 1 ? '' : 's'} · ${Math.max(0, needed - soFar)} more needed`
          : `${soFar} of ${needed} approval${needed === 1 ? '' : 's'}`)),
    ];
    if (a.state === 'pending') {
      rows.push(h('p', { class: 'may-decide' }, h('span', { class: 'muted' }, 'May still decide: '), who,
        excluded.length ? h('span', { class: 'muted' }, ' — not ', excluded.join(', ')) : null));
    }
    let actions;
    if (a.state !== 'pending') {
      actions = h('p', { class: 'muted decision-closed' }, `No decision needed: ${stateLabel(a.state).toLowerCase()}.`);
    } else if (!me.can_decide) {
      actions = h('p', { class: 'notice notice-info readonly-note' }, icon('shield', 16),
        h('span', null, `Read-only: your role (${me.role ?? 'none'}) can review approvals but not decide them.`));
    } else {
      const canApprove = Boolean(you.can_approve);
      const canReject = Boolean(you.can_decide);
      actions = [
        h('div', { class: 'decision-buttons' },
          h('button', {
            class: 'btn btn-approve btn-large', type: 'button', id: 'approve-button', disabled: !canApprove,
            onclick: () => this.openApprove(),
          }, icon('check', 18), 'Approve', h('kbd', null, 'a')),
          h('button', {
            class: 'btn btn-reject btn-large', type: 'button', id: 'reject-button', disabled: !canReject,
            onclick: () => this.openReject(),
          }, icon('x', 18), 'Reject', h('kbd', null, 'r'))),
        you.why && !(canApprove && canReject && you.why === 'you may approve or reject')
          ? h('p', { class: 'hint you-why' }, capitalize(you.why), '.') : null,
      ];
    }
    replace(el, h('div', { class: 'card-head' }, h('h2', { id: 'decision-title' }, 'Decision')), rows, actions);
  }

  renderVotes(el, a) {
    const votes = Array.isArray(a.votes) ? a.votes : [];
    replace(el, h('div', { class: 'card-head' }, h('h2', { id: 'votes-title' }, 'Votes'), h('span', { class: 'count' }, String(votes.length))),
      votes.length === 0
        ? h('p', { class: 'muted' }, 'No votes yet.')
        : h('ul', { class: 'votes' }, votes.map((v) => h('li', { class: `vote vote-${v.decision}` },
          h('span', { class: 'vote-icon' }, icon(v.decision === 'approve' ? 'check' : 'x', 14)),
          h('span', { class: 'vote-body' },
            h('strong', null, v.reviewer), ` ${v.decision === 'approve' ? 'approved' : 'rejected'}`,
            h('span', { class: 'muted' }, ` via ${v.via} · `, h('span', { title: fullTime(v.at) }, when(v.at))),
            v.reason ? h('span', { class: 'vote-reason' }, v.reason) : null)))));
  }

  renderTimeline(el, a) {
    const events = Array.isArray(a.timeline) ? a.timeline : [];
    replace(el, h('div', { class: 'card-head' }, h('h2', { id: 'timeline-title' }, 'Timeline')),
      events.length === 0 ? h('p', { class: 'muted' }, 'No events.') :
        h('ol', { class: 'timeline' }, events.map((e) => {
          const detail = e.detail && typeof e.detail === 'object' ? (e.detail.reason ?? e.detail.message ?? '') : '';
          return h('li', { class: `tl tl-${String(e.type).replace(/[^a-z_]/gi, '-')}` },
            h('span', { class: 'tl-dot', 'aria-hidden': 'true' }),
            h('div', { class: 'tl-body' },
              h('div', null, h('strong', null, eventLabel(e.type)),
                e.actor ? h('span', { class: 'muted' }, ` · ${e.actor}${e.via ? ` via ${e.via}` : ''}`) : null),
              typeof detail === 'string' && detail ? h('div', { class: 'tl-detail' }, detail) : null,
              h('time', { class: 'muted tl-time', title: fullTime(e.ts) }, when(e.ts))));
        })));
  }

  renderComments(el, a) {
    const comments = Array.isArray(a.comments) ? a.comments : [];
    const list = comments.length === 0 ? h('p', { class: 'muted' }, 'No comments.') :
      h('ul', { class: 'comments' }, comments.map((c) => h('li', { class: 'comment' },
        h('div', { class: 'comment-head' }, h('strong', null, c.author), h('span', { class: 'muted', title: fullTime(c.at) }, ` · ${when(c.at)}`)),
        h('div', { class: 'comment-body' }, c.body))));
    let form = null;
    if (this.ctx.me?.can_decide) {
      const prior = $('#comment-input')?.value ?? '';
      const hadFocus = document.activeElement?.id === 'comment-input';
      const input = h('textarea', { id: 'comment-input', rows: '2', placeholder: 'Add a note for other reviewers…', 'aria-label': 'Comment', value: prior });
      form = h('form', {
        class: 'comment-form', autocomplete: 'off',
        onsubmit: (e) => { e.preventDefault(); this.addComment(input); },
      }, input, h('div', { class: 'comment-actions' },
        h('span', { class: 'hint' }, h('kbd', null, 'Ctrl'), '+', h('kbd', null, '↵'), ' to send'),
        h('button', { class: 'btn btn-small', type: 'submit' }, 'Comment')));
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); this.addComment(input); }
        if (e.key === 'Escape') { e.preventDefault(); input.blur(); }
      });
      if (hadFocus) queueMicrotask(() => input.focus());
    }
    replace(el, h('div', { class: 'card-head' }, h('h2', { id: 'comments-title' }, 'Comments'), h('span', { class: 'count' }, String(comments.length))),
      list, form);
  }

  async addComment(input) {
    const body = input.value.trim();
    if (!body || !this.data) return;
    try {
      await this.ctx.api.post(`/api/approvals/${encodeURIComponent(this.data.id)}/comments`, { body });
      input.value = '';
      this.load();
    } catch (e) {
      if (e.status !== 401) this.ctx.toast(`Comment not saved: ${e.message}`, 'error');
    }
  }

  focusComment() {
    const input = $('#comment-input');
    if (input) input.focus();
    else this.ctx.toast('Your role cannot comment.', 'warn');
  }

  async copyLink(a) {
    const url = new URL(`#/approvals/${encodeURIComponent(a.id)}`, location.href).href;
    try {
      await navigator.clipboard.writeText(url);
      this.ctx.toast('Link copied.', 'ok');
    } catch {
      this.ctx.toast(`Link: ${url}`, 'info');
    }
  }

  // ---- decisions ------------------------------------------------------------------------------

  setUpDialogs() {
    this.approveDialog = $('#approve-dialog');
    this.rejectDialog = $('#reject-dialog');
    for (const dialog of [this.approveDialog, this.rejectDialog]) {
      for (const b of dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => dialog.close());
    }
    $('#approve-form').addEventListener('submit', (e) => { e.preventDefault(); this.submitApprove(); });
    $('#reject-form').addEventListener('submit', (e) => { e.preventDefault(); this.submitReject(); });
    const reason = $('#reject-reason');
    const submit = $('#reject-submit');
    const sync = () => { submit.disabled = reason.value.trim() === ''; };
    reason.addEventListener('input', sync);
    for (const chip of this.rejectDialog.querySelectorAll('[data-preset]')) {
      chip.addEventListener('click', () => {
        const preset = chip.dataset.preset;
        const current = reason.value.trim();
        reason.value = current && !current.startsWith(preset) ? `${preset}: ${current}` : (current || preset);
        sync();
        reason.focus();
        reason.setSelectionRange(reason.value.length, reason.value.length);
      });
    }
    this.syncReject = sync;
  }

  // Why `approve` (or reject) is not possible now, or ''.
  blocked(approve) {
    const a = this.data;
    if (!a) return 'Select an approval first.';
    if (!this.ctx.me?.can_decide) return `Read-only: your role (${this.ctx.me?.role ?? 'none'}) cannot decide.`;
    if (a.state !== 'pending') return `This approval is already ${stateLabel(a.state).toLowerCase()}.`;
    const you = a.may_decide?.you ?? {};
    if (approve && !you.can_approve) return capitalize(you.why || 'you may not approve this call') + '.';
    if (!approve && !you.can_decide) return capitalize(you.why || 'you may not reject this call') + '.';
    return '';
  }

  openApprove() {
    const why = this.blocked(true);
    if (why) { this.ctx.toast(why, 'warn'); return; }
    const a = this.data;
    const edit = this.parsedEdit();
    if (edit.error) { this.ctx.toast(`Fix the edited arguments first: ${edit.error}`, 'error'); $('#args-editor')?.focus(); return; }
    $('#approve-title').textContent = `Approve ${a.tool}?`;
    replace($('#approve-summary'), 'The call from ', h('strong', null, a.principal), ' runs upstream and the agent receives the result. ',
      h('span', { class: 'muted summary-args' }, preview(edit.changed ? edit.value : a.arguments, 200)));
    const note = $('#approve-edit-note');
    note.hidden = !edit.changed;
    note.textContent = edit.changed ? 'You edited the arguments: the call runs with your version, and the original is recorded with it.' : '';
    $('#approve-reason').value = '';
    this.setUpRemember(a, edit.changed);
    this.setError('#approve-error', '');
    $('#approve-submit').disabled = false;
    this.approveDialog.dataset.approvalId = a.id;
    this.approveDialog.showModal();
    $('#approve-reason').focus();
  }

  // The approve dialog's "Remember" choice: offered when the rule lets this approval be
  // remembered (the server checks again), with durations up to the rule's cap.
  setUpRemember(a, edited) {
    const box = $('#approve-remember');
    const cap = a.remember;
    const offer = Boolean(cap && cap.max_ms > 0 && (a.approvals_needed ?? 1) <= 1 && !edited);
    box.hidden = !offer;
    $('#remember-on').checked = false;
    $('#remember-any').checked = false;
    $('#remember-scope').value = 'principal';
    if (!offer) return;
    const choices = [[5 * 60_000, '5m', '5 minutes'], [15 * 60_000, '15m', '15 minutes'], [30 * 60_000, '30m', '30 minutes'],
      [60 * 60_000, '1h', '1 hour'], [4 * 3600_000, '4h', '4 hours'], [8 * 3600_000, '8h', '8 hours'], [24 * 3600_000, '1d', '1 day']]
      .filter(([ms]) => ms <= cap.max_ms);
    if (!choices.some(([ms]) => ms === cap.max_ms)) choices.push([cap.max_ms, cap.max, cap.max]);
    replace($('#remember-for'), choices.map(([, value, label]) => h('option', { value }, label)));
    $('#remember-for').value = choices[Math.min(2, choices.length - 1)][1];
    $('#remember-any-wrap').hidden = !cap.any_arguments;
    $('#remember-scope').querySelector('option[value="session"]').disabled = !a.session_id;
    replace($('#remember-hint'), 'While remembered, ', h('strong', null, a.principal), '’s ',
      cap.any_arguments ? 'calls' : 'identical calls', ' of ', h('code', null, a.tool),
      ' run at once, each recorded in the audit log. The rule allows up to ', cap.max, '. Revoke it any time under Grants.');
  }

  openReject() {
    const why = this.blocked(false);
    if (why) { this.ctx.toast(why, 'warn'); return; }
    const a = this.data;
    $('#reject-title').textContent = `Reject ${a.tool}?`;
    replace($('#reject-summary'), 'The tool does not run. ', h('strong', null, a.principal), ' is told your reason.');
    $('#reject-reason').value = '';
    this.setError('#reject-error', '');
    this.syncReject();
    this.rejectDialog.dataset.approvalId = a.id;
    this.rejectDialog.showModal();
    $('#reject-reason').focus();
  }

  setError(selector, text) {
    const el = $(selector);
    el.textContent = text;
    el.hidden = !text;
  }

  async submitApprove() {
    const id = this.approveDialog.dataset.approvalId;
    const body = {};
    const reason = $('#approve-reason').value.trim();
    if (reason) body.reason = reason;
    const edit = this.parsedEdit();
    if (edit.error) { this.setError('#approve-error', edit.error); return; }
    if (edit.changed) body.arguments = edit.value;
    if (!$('#approve-remember').hidden && $('#remember-on').checked) {
      body.remember = {
        for: $('#remember-for').value,
        scope: $('#remember-scope').value,
        arguments: $('#remember-any').checked ? 'any' : 'same',
      };
    }
    await this.decide(id, true, body, this.approveDialog, '#approve-submit', '#approve-error');
  }

  async submitReject() {
    const id = this.rejectDialog.dataset.approvalId;
    const reason = $('#reject-reason').value.trim();
    if (!reason) { this.setError('#reject-error', 'A reason is required: the agent is told why.'); return; }
    await this.decide(id, false, { reason }, this.rejectDialog, '#reject-submit', '#reject-error');
  }

  async decide(id, approve, body, dialog, submitSel, errorSel) {
    const submit = $(submitSel);
    if (submit.disabled) return;
    submit.disabled = true;
    const orderBefore = this.ctx.queue.ids();
    try {
      const res = await this.ctx.api.post(`/api/approvals/${encodeURIComponent(id)}/${approve ? 'approve' : 'reject'}`, body);
      dialog.close();
      const state = res?.outcome?.state;
      const message = res?.outcome?.message || (approve ? 'approved' : 'rejected');
      const tool = res?.approval?.tool ?? this.data?.tool ?? '';
      this.ctx.toast(`${capitalize(message)}: ${tool}`, approve ? 'ok' : 'bad');
      if (res?.grant) this.ctx.toast(`Remembered until ${when(res.grant.expires_at)} (${res.grant.id}).`, 'ok', 8000);
      if (res?.grant_error) this.ctx.toast(`Approved, but ${res.grant_error}`, 'warn', 12000);
      if (res?.approval) this.ctx.applyApproval(res.approval);
      this.editor = null;
      if (state && state !== 'pending') {
        // Move on to the next call in the queue; this one is done.
        const next = this.ctx.queue.nextAfter(id, orderBefore);
        if (next) this.ctx.queue.select(next, { focus: true });
        else this.ctx.navigate('#/queue', { replace: true });
      } else {
        this.load();
      }
    } catch (e) {
      submit.disabled = false;
      if (e.status === 401) { dialog.close(); return; }
      if (e.status === 409) {
        dialog.close();
        this.ctx.toast(e.message, 'warn');
        this.load();
        return;
      }
      this.setError(errorSel, e.status === 0 ? 'holdgate did not answer; check the connection and try again.' : e.message);
    }
  }

  // Every second: countdowns and ages in the pane.
  tick(now = Date.now()) {
    for (const el of this.el.querySelectorAll('[data-expires]')) {
      const cd = countdown(el.dataset.expires, now);
      el.textContent = cd.text;
      el.className = `countdown cd-${cd.level}`;
    }
    for (const el of this.el.querySelectorAll('[data-since]')) el.textContent = ago(el.dataset.since, now);
  }
}

function capitalize(s) {
  const t = String(s ?? '');
  return t ? t[0].toUpperCase() + t.slice(1) : t;
}
