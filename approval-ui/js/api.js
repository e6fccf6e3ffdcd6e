// The review API client: every call carries the bearer token, or, after single sign-on, the
// session cookie (same origin only) plus the session's CSRF token in X-CSRF-Token on every
// state-changing call; 401 ends the session (the caller's
// onUnauthorized decides what to show). Errors are ApiError with the HTTP status and the server's
// {"error", "message"} body. Bodies are read and written with json-exact.js, so integers beyond
// 2^53 in an approval's arguments survive the round trip digit for digit.
import { parseExact, stringifyExact } from './json-exact.js';

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;  // 0 = no answer (network)
    this.code = code;
    this.body = body;
  }
}

export class Api {
  // getToken(): string; getCsrf(): string (the SSO session's CSRF token, '' without one);
  // onUnauthorized(ApiError): called on any 401 answer.
  constructor({ getToken, getCsrf = () => '', onUnauthorized }) {
    this.getToken = getToken;
    this.getCsrf = getCsrf;
    this.onUnauthorized = onUnauthorized;
  }

  headers(extra = {}) {
    const h = { Accept: 'application/json', ...extra };
    const token = this.getToken();
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  // GET/POST path (with query object) → parsed JSON. `raw: true` returns the Response.
  async request(method, path, { query, body, raw = false, token, signal } = {}) {
    const url = new URL(path, document.baseURI);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
    }
    const headers = this.headers(body !== undefined ? { 'Content-Type': 'application/json' } : {});
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    if (method !== 'GET') headers['X-Holdgate-Client'] = 'ui';  // decisions are recorded as via "ui"
    if (method !== 'GET' && !headers.Authorization && this.getCsrf()) headers['X-CSRF-Token'] = this.getCsrf();
    let res;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body !== undefined ? stringifyExact(body) : undefined,
        cache: 'no-store',
        credentials: 'same-origin',  // the SSO session cookie; a bearer token takes precedence
        signal,
      });
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', 'holdgate did not answer (network error)', null);
    }
    if (res.ok && raw) return res;
    let data = null;
    const text = await res.text().catch(() => '');
    if (text) {
      try { data = parseExact(text); } catch { data = null; }
    }
    if (!res.ok) {
      const code = data?.error ?? `http_${res.status}`;
      const message = data?.message ?? `HTTP ${res.status}`;
      const err = new ApiError(res.status, code, message, data);
      if (res.status === 401 && token === undefined) this.onUnauthorized?.(err);
      throw err;
    }
    return data;
  }

  get(path, query, options) { return this.request('GET', path, { ...options, query }); }
  post(path, body, options) { return this.request('POST', path, { ...options, body: body ?? {} }); }

  // Downloads `path` (an authenticated GET) as a file named `filename`.
  async download(path, query, filename) {
    const res = await this.request('GET', path, { query, raw: true });
    const blob = await res.blob();
    const href = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = href;
    a.download = filename;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60_000);
    return blob.size;
  }
}
