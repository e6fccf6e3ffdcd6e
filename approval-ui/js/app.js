// The approval page: sign-in, session, live queue (SSE), routing and toasts. Views live in
// queue.js, detail.js, history.js and audit.js; this module wires them to the API and the
// event stream.
//
// Routes: #/queue, #/approvals/<id> (deep link; agents are told such links), #/history, #/audit,
// #/grants, #/tools, #/policy.
import { Api, ApiError } from './api.js';
import { clearToken, decodeClaims, expiresAtMs, loadToken, normalizeToken, saveToken } from './auth.js';
import { AuditView } from './audit.js';
import { BulkSelection } from './bulk.js';
import { DetailView } from './detail.js';
import { $, h, replace } from './dom.js';
import { GrantsView } from './grants.js';
import { HistoryView } from './history.js';
import { installKeyboard } from './keyboard.js';
import { parseExact } from './json-exact.js';
import { PolicyView } from './policy.js';
import { QueueView } from './queue.js';
import { EventStream } from './sse.js';
import { ToolsView } from './tools.js';

const ctx = {
  token: '',
  sso: null,    // {sso, bearer, signed_in, sub, name, role, csrf_token} from GET /auth/session
  ssoSession: false,  // signed in by single sign-on (cookie + CSRF token), not a token
  live: false,  // the event stream is connected: an empty queue is known to be empty
  me: null,
  pending: new Map(),  // id → approval (state pending)
  selectedId: null,
  view: null,
  returnTo: null,
  api: null,
  stream: null,
  navigate,
  toast,
  dismissToasts,
  showHelp,
  applyApproval,
};

const timers = { expiry: null, warn: null, tick: null };
let listGeneration = 0;
let listBuffer = null;  // events that arrive while the pending list loads
let connState = 'connecting';
let retryAt = 0;
let pendingSignInToken = '';

ctx.api = new Api({
  getToken: () => ctx.token,
  getCsrf: () => (ctx.ssoSession ? ctx.sso?.csrf_token ?? '' : ''),
  onUnauthorized,
});

// GET /auth/session: whether single sign-on is configured and this browser has a session.
async function fetchSsoState() {
  try {
    const res = await fetch(new URL('auth/session', document.baseURI), {
      headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin',
    });
    if (!res.ok) return null;
    const data = await res.json();
    return data && typeof data === 'object' ? data : null;
  } catch {
    return null;
  }
}

async function boot() {
  ctx.queue = new QueueView(ctx);
  ctx.bulk = new BulkSelection(ctx);
  ctx.detail = new DetailView(ctx);
  ctx.history = new HistoryView(ctx);
  ctx.audit = new AuditView(ctx);
  ctx.grants = new GrantsView(ctx);
  ctx.tools = new ToolsView(ctx);
  ctx.policy = new PolicyView(ctx);
  installKeyboard(ctx);
  $('#signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn(normalizeToken($('#token-input').value));
  });
  $('#token-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('#signin-form').requestSubmit(); }
  });
  $('#signin-retry').addEventListener('click', () => signIn(pendingSignInToken));
  $('#signout-button').addEventListener('click', signOut);
  $('#help-button').addEventListener('click', showHelp);
  $('#banner-retry').addEventListener('click', () => ctx.stream?.reconnectNow());
  for (const b of $('#help-dialog').querySelectorAll('[data-close]')) b.addEventListener('click', () => $('#help-dialog').close());
  window.addEventListener('hashchange', route);
  // Read before the first await, as the page always has: what this tab held when it loaded.
  const stored = loadToken();
  // A failed single sign-on comes back as ?sso_error=<code>; shown once, then removed from the URL.
  const ssoError = new URLSearchParams(location.search).get('sso_error');
  if (ssoError !== null) history.replaceState(null, '', location.pathname + location.hash);
  ctx.sso = await fetchSsoState();
  if (ctx.sso?.signed_in) {
    startSsoSession(ctx.sso);
    return;
  }
  if (stored && ctx.sso?.bearer !== false) signIn(stored);
  else showSignIn(ssoError !== null ? (NOTICES[`sso_${ssoError}`] ? `sso_${ssoError}` : 'sso_token') : undefined);
}

// ---- sign-in and session ------------------------------------------------------------------------

const NOTICES = {
  expired: ['warn', 'Your token expired. Paste a fresh one to keep reviewing.'],
  invalid: ['error', 'This token was not accepted.'],
  forbidden: ['error', 'This token is valid but carries no holdgate role (reviewer, admin or auditor). Ask an admin for a reviewer token.'],
  signedout: ['info', 'You signed out. The token was removed from this tab.'],
  network: ['error', 'holdgate did not answer. Check that it is running, then try again.'],
  empty: ['error', 'Paste a token first.'],
  session_ended: ['warn', 'Your sign-in session ended. Sign in again to keep reviewing.'],
  sso_signedout: ['info', 'You signed out. The sign-in session was ended on the server.'],
  sso_state: ['error', 'Single sign-on did not complete: the sign-in expired or was started in another browser. Try again.'],
  sso_unavailable: ['error', 'The identity provider could not be reached. Try again, or ask an admin to check the single sign-on settings.'],
  sso_no_role: ['error', 'You signed in, but your account carries no holdgate role (reviewer, admin or auditor). Ask an admin for access.'],
  sso_token: ['error', 'Single sign-on failed: the identity provider\'s answer was not accepted.'],
  sso_idp: ['error', 'The identity provider refused the sign-in.'],
  sso_busy: ['error', 'Too many sign-ins are in progress. Try again in a moment.'],
  sso_store: ['error', 'Signed in at the identity provider, but holdgate could not save the session (its database is unavailable). Try again.'],
};

function showSignIn(reason, detail) {
  $('#shell').hidden = true;
  $('#signin').hidden = false;
  document.body.dataset.page = 'signin';
  document.title = 'Sign in · holdgate';
  const notice = $('#signin-notice');
  const [tone, text] = NOTICES[reason] ?? [null, null];
  notice.hidden = !text;
  notice.className = `notice notice-${tone ?? 'info'}`;
  notice.dataset.reason = reason ?? '';
  replace(notice, text ?? '', detail && reason !== 'expired' && reason !== 'signedout' ? h('span', { class: 'notice-detail' }, ` (${detail})`) : null);
  $('#signin-retry').hidden = reason !== 'network';
  $('#signin-button').disabled = false;
  const sso = Boolean(ctx.sso?.sso);
  $('#sso-box').hidden = !sso;
  $('#signin-button').classList.toggle('btn-primary', !sso);  // one primary action: SSO when offered
  $('#signin-form').hidden = sso && ctx.sso?.bearer === false;
  $('#sso-or').hidden = $('#signin-form').hidden;
  $('#token-input').value = '';
  if (!$('#signin-form').hidden) $('#token-input').focus();
}

async function signIn(token) {
  if (!token) { showSignIn('empty'); return; }
  const button = $('#signin-button');
  button.disabled = true;
  button.textContent = 'Signing in…';
  try {
    const me = await ctx.api.get('/api/me', null, { token });
    startSession(token, me);
  } catch (e) {
    pendingSignInToken = '';
    if (e.status !== 0) clearToken();  // a stored token survives holdgate being down
    if (e.status === 401) showSignIn(e.code === 'token_expired' ? 'expired' : 'invalid', e.message);
    else if (e.status === 403) showSignIn('forbidden', e.message);
    else if (e.status === 0) { pendingSignInToken = token; showSignIn('network'); }
    else showSignIn('invalid', e.message);
  } finally {
    button.textContent = 'Sign in';
    button.disabled = false;
  }
}

// Signed in by single sign-on: the cookie authenticates, the CSRF token goes with every change.
function startSsoSession(info) {
  ctx.ssoSession = true;
  startSession('', { sub: info.sub, role: info.role, can_decide: info.can_decide, is_admin: info.is_admin }, info);
}

async function signOut() {
  if (ctx.ssoSession) {
    // Ends the session on the server (audited); the page signs out even when that fails.
    await ctx.api.post('/auth/logout', {}).catch(() => {});
    endSession('sso_signedout');
    return;
  }
  endSession('signedout');
}

function startSession(token, me, sso = null) {
  ctx.token = token;
  ctx.me = me;
  if (token) saveToken(token);
  $('#signin').hidden = true;
  $('#shell').hidden = false;
  document.body.dataset.page = 'app';
  document.body.dataset.role = me.role;
  $('#tab-policy').hidden = false;  // admins edit; other roles read (the server refuses their writes)
  const claims = token ? decodeClaims(token) ?? {} : {};
  replace($('#whoami'),
    h('span', { class: 'whoami-name' }, sso?.name || me.sub),
    h('span', { class: `role-chip role-${me.role}` }, me.can_decide ? me.role : `${me.role} · read-only`));
  $('#whoami').title = sso ? `Signed in with SSO as ${me.sub}`
    : Number.isFinite(claims.exp) ? `Token expires ${new Date(claims.exp * 1000).toLocaleString()}` : '';
  if (token) scheduleExpiry(token);
  ctx.stream = new EventStream({
    url: new URL('api/events', document.baseURI).href,
    headers: () => (ctx.token ? { Authorization: `Bearer ${ctx.token}` } : {}),
    onOpen: loadPending,
    onEvent: onStreamEvent,
    onStatus: setConnection,
    onAuthError: (status, body) => {
      if (status === 401) onUnauthorized(new ApiError(401, body?.error, body?.message ?? 'unauthorized', body));
      else endSession('forbidden', body?.message);
    },
  });
  ctx.stream.start();
  timers.tick = setInterval(tick, 1000);
  route();
}

function endSession(reason, detail) {
  ctx.stream?.stop();
  ctx.stream = null;
  clearTimeout(timers.expiry);
  clearTimeout(timers.warn);
  clearInterval(timers.tick);
  clearToken();
  ctx.token = '';
  if (ctx.ssoSession) ctx.sso = { ...ctx.sso, signed_in: false, csrf_token: '' };
  ctx.ssoSession = false;
  ctx.me = null;
  ctx.selectedId = null;
  ctx.view = null;
  ctx.returnTo = null;
  listGeneration += 1;
  listBuffer = null;
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  ctx.bulk.reset();
  ctx.queue.reset();
  ctx.detail.clear();
  ctx.history.reset();
  ctx.audit.reset();
  ctx.grants.reset();
  ctx.tools.reset();
  ctx.policy.reset();
  $('#tab-policy').hidden = true;
  delete document.body.dataset.role;
  setConnection('connecting', {});
  showSignIn(reason, detail);
}

// Any API call answered 401: the token expired or was revoked.
function onUnauthorized(err) {
  if (!ctx.me) return;
  if (ctx.ssoSession) { endSession('session_ended'); return; }
  endSession(err.code === 'token_expired' ? 'expired' : 'invalid', err.message);
}

// At the token's exp the server is asked (it allows a little clock skew); a 401 ends the session.
function scheduleExpiry(token) {
  clearTimeout(timers.expiry);
  clearTimeout(timers.warn);
  const exp = expiresAtMs(token);
  if (!Number.isFinite(exp)) return;
  const left = exp - Date.now();
  if (left > 120_000) {
    timers.warn = setTimeout(() => toast('Your token expires in 2 minutes. Sign in with a fresh one to keep reviewing.', 'warn', 15000), left - 120_000);
  }
  const check = async () => {
    if (ctx.token !== token) return;
    try {
      await ctx.api.get('/api/me');
      timers.expiry = setTimeout(check, 5000);  // still inside the server's leeway
    } catch (e) {
      if (e.status !== 401 && ctx.token === token) timers.expiry = setTimeout(check, 5000);
    }
  };
  timers.expiry = setTimeout(check, Math.max(0, left) + 250);
}

// ---- live queue ---------------------------------------------------------------------------------

// (Re)lists pending approvals after the event stream (re)connects; events that arrive meanwhile
// are applied on top, in order, so nothing between the listing and the stream is lost.
async function loadPending() {
  const generation = ++listGeneration;
  listBuffer = [];
  let all = null;
  try {
    all = [];
    let cursor = '';
    for (let page = 0; page < 20; page++) {
      const res = await ctx.api.get('/api/approvals', { state: 'pending', limit: 500, cursor });
      all.push(...(res?.approvals ?? []));
      cursor = res?.next_cursor ?? '';
      if (!cursor) break;
    }
  } catch (e) {
    all = null;
    if (generation === listGeneration && e.status !== 401) toast(`Could not load the queue: ${e.message}`, 'error');
  }
  if (generation !== listGeneration) return;
  if (all) ctx.queue.setAll(all);
  for (const a of listBuffer ?? []) ctx.queue.apply(a);
  listBuffer = null;
  ctx.queue.render();
  if (ctx.view === 'queue') autoSelect();
  else if (ctx.view === null) route();
  if (ctx.detail.data) ctx.detail.load();  // changes missed while disconnected
}

function onStreamEvent(ev) {
  if (ev.event !== 'approval') return;
  let data;
  try { data = parseExact(ev.data); } catch { return; }
  const a = data?.approval;
  if (!a?.id) return;
  if (listBuffer) { listBuffer.push(a); return; }
  ctx.queue.apply(a);
  ctx.queue.render();
  ctx.detail.onChange(a);
  ctx.history.onChange();
  if (data.type === 'approval.created' && ctx.view === 'queue') autoSelect();
}

function applyApproval(a) {
  ctx.queue.apply(a);
  ctx.queue.render();
}

// In the queue with nothing selected: select the top approval (without moving focus).
function autoSelect() {
  if (ctx.view !== 'queue') return;
  if (ctx.selectedId) {
    if (ctx.detail.id !== ctx.selectedId) ctx.detail.show(ctx.selectedId);
    return;
  }
  const first = ctx.queue.ids()[0];
  if (first) navigate(`#/approvals/${encodeURIComponent(first)}`, { replace: true });
  else ctx.detail.show(null);
}

function setConnection(state, detail = {}) {
  const prev = connState;
  connState = state;
  retryAt = detail.retryAt ?? 0;
  ctx.live = state === 'live';
  if (ctx.live !== (prev === 'live')) {
    // "All clear" only while the queue is known to be current (see QueueView and DetailView).
    ctx.queue.render();
    if (!ctx.detail.id) ctx.detail.renderPlaceholder();
  }
  const conn = $('#conn');
  conn.dataset.state = state;
  $('#conn-text').textContent = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Offline';
  conn.title = state === 'live' ? 'Receiving changes as they happen' : (detail.why ?? '');
  const banner = $('#banner');
  if (state === 'reconnecting') {
    banner.hidden = false;
    banner.dataset.why = detail.why ?? '';
    updateBanner();
  } else {
    banner.hidden = true;
    if (state === 'live' && prev === 'reconnecting') toast('Reconnected. The queue is up to date.', 'ok');
  }
}

function updateBanner() {
  const banner = $('#banner');
  if (banner.hidden) return;
  const why = banner.dataset.why || 'the connection dropped';
  const secs = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
  $('#banner-text').textContent = `Live updates paused: ${why}. ` +
    (retryAt && secs > 0 ? `Retrying in ${secs}s…` : 'Reconnecting…') +
    ' The queue may be out of date until then.';
}

function tick() {
  const now = Date.now();
  ctx.queue.tick(now);
  ctx.detail.tick(now);
  ctx.grants.tick(now);
  updateBanner();
}

// ---- routing ------------------------------------------------------------------------------------

function navigate(hash, { replace: replaceEntry = false } = {}) {
  if (replaceEntry) {
    history.replaceState(null, '', hash);
    route();
  } else if (location.hash === hash) {
    route();
  } else {
    location.hash = hash;
  }
}

function showView(name) {
  ctx.view = name;
  for (const v of ['queue', 'history', 'audit', 'grants', 'tools', 'policy']) {
    $(`#view-${v}`).hidden = v !== name;
    const tab = $(`#tab-${v}`);
    if (v === name) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
}

function route() {
  if (!ctx.me) return;
  const hash = location.hash || '#/queue';
  const m = /^#\/approvals\/([^/?#]+)$/.exec(hash);
  if (m) {
    let id;
    try { id = decodeURIComponent(m[1]); } catch { id = m[1]; }
    showView('queue');
    ctx.selectedId = id;
    ctx.queue.render();
    ctx.detail.show(id);
    return;
  }
  ctx.returnTo = null;
  if (hash.startsWith('#/history')) {
    showView('history');
    ctx.history.activate();
  } else if (hash.startsWith('#/audit')) {
    showView('audit');
    ctx.audit.activate();
  } else if (hash.startsWith('#/grants')) {
    showView('grants');
    ctx.grants.activate();
  } else if (hash.startsWith('#/tools')) {
    showView('tools');
    ctx.tools.activate();
  } else if (hash.startsWith('#/policy')) {
    showView('policy');
    ctx.policy.activate();
  } else {
    showView('queue');
    if (ctx.selectedId && !ctx.pending.has(ctx.selectedId)) ctx.selectedId = null;
    ctx.queue.render();
    autoSelect();
  }
}

// ---- toasts and help ----------------------------------------------------------------------------

function toast(message, tone = 'info', timeoutMs) {
  const box = $('#toasts');
  const el = h('div', { class: `toast toast-${tone}`, role: tone === 'error' ? 'alert' : 'status' },
    h('span', { class: 'toast-text' }, message),
    h('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss', onclick: () => el.remove() }, '×'));
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => el.remove(), timeoutMs ?? (tone === 'error' ? 9000 : 5000));
}

function dismissToasts() {
  replace($('#toasts'));
}

function showHelp() {
  const d = $('#help-dialog');
  if (!d.open) d.showModal();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
