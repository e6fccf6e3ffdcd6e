// Grants: remembered approvals that let a later identical call (or, where the rule allows, any
// call of the tool) run without asking, until they expire or are revoked. Lists live grants (GET
// /api/grants) with a Revoke button for the grant's maker and for admins (POST
// /api/grants/{id}/revoke); the server enforces who may revoke.
import { $, h, replace } from './dom.js';
import { countdown, fullTime, when } from './format.js';

export class GrantsView {
  constructor(ctx) {
    this.ctx = ctx;
    this.body = $('#grants-body');
    this.seq = 0;
    this.loadedOnce = false;
    $('#grants-refresh').addEventListener('click', () => this.load());
  }

  activate() {
    this.load();
  }

  reset() {
    this.loadedOnce = false;
    replace(this.body);
  }

  mayRevoke(g) {
    const me = this.ctx.me ?? {};
    if (me.role === 'admin') return true;
    return Boolean(me.can_decide && String(g.created_by).trim().toLowerCase() === String(me.sub).trim().toLowerCase());
  }

  async load() {
    const seq = ++this.seq;
    this.body.setAttribute('aria-busy', 'true');
    try {
      const res = await this.ctx.api.get('/api/grants');
      if (seq !== this.seq) return;
      this.loadedOnce = true;
      this.render(res?.grants ?? []);
    } catch (e) {
      if (seq !== this.seq || e.status === 401) return;
      replace(this.body, h('p', { class: 'notice notice-error' }, `Could not load grants: ${e.message}`));
    } finally {
      if (seq === this.seq) this.body.removeAttribute('aria-busy');
    }
  }

  render(grants) {
    if (grants.length === 0) {
      replace(this.body, h('div', { class: 'empty' },
        h('p', { class: 'empty-title' }, 'No remembered approvals'),
        h('p', { class: 'empty-text' }, 'Approve with “Remember” to let the identical call run without asking for a while.')));
      return;
    }
    const rows = grants.map((g) => {
      const cd = countdown(g.expires_at);
      return h('tr', { dataset: { grantId: g.id } },
        h('td', null, h('code', null, g.id)),
        h('td', null, g.tool),
        h('td', null, g.principal, g.scope === 'session' ? h('span', { class: 'muted' }, ' (this session)') : null),
        h('td', null, g.arguments === 'any' ? 'any arguments' : 'identical arguments'),
        h('td', null, g.created_by, h('span', { class: 'muted' }, ` via ${g.created_via}`)),
        h('td', null, h('span', { class: `countdown cd-${cd.level}`, dataset: { expires: g.expires_at ?? '' }, title: fullTime(g.expires_at) }, cd.text),
          ' ', h('span', { class: 'muted' }, `at ${when(g.expires_at)}`)),
        h('td', { class: 'num' }, String(g.uses ?? 0)),
        h('td', null, h('a', { href: `#/approvals/${encodeURIComponent(g.approval_id)}` }, 'approval')),
        h('td', null, this.mayRevoke(g)
          ? h('button', { class: 'btn btn-small btn-reject', type: 'button', onclick: (e) => this.revoke(g, e.currentTarget) }, 'Revoke')
          : h('span', { class: 'muted', title: 'only its maker or an admin may revoke it' }, '—')));
    });
    replace(this.body, h('table', { class: 'table grants-table' },
      h('thead', null, h('tr', null, ['Grant', 'Tool', 'Principal', 'Covers', 'Made by', 'Expires', 'Uses', '', ''].map((t) => h('th', null, t)))),
      h('tbody', null, rows)));
  }

  async revoke(g, button) {
    button.disabled = true;
    try {
      await this.ctx.api.post(`/api/grants/${encodeURIComponent(g.id)}/revoke`, { reason: 'revoked on the page' });
      this.ctx.toast(`Revoked: ${g.tool} for ${g.principal} needs approval again.`, 'ok');
    } catch (e) {
      if (e.status !== 401) this.ctx.toast(`Not revoked: ${e.message}`, 'error');
    }
    this.load();
  }

  tick(now = Date.now()) {
    if (this.ctx.view !== 'grants') return;
    for (const el of this.body.querySelectorAll('[data-expires]')) {
      const cd = countdown(el.dataset.expires, now);
      el.textContent = cd.text;
      el.className = `countdown cd-${cd.level}`;
    }
  }
}
