// The reviewer's token: kept in this tab's sessionStorage (gone when the tab closes), sent only
// as an Authorization header. The payload is decoded for display and to know when it expires;
// the server alone verifies it.

const KEY = 'holdgate.token';

export function loadToken() {
  try { return sessionStorage.getItem(KEY) || ''; } catch { return ''; }
}

export function saveToken(token) {
  try { sessionStorage.setItem(KEY, token); } catch { /* private mode: memory only */ }
}

export function clearToken() {
  try { sessionStorage.removeItem(KEY); } catch { /* ignore */ }
}

// Accepts the bare token, "Bearer …", or the output of `holdgate token` with surrounding space.
export function normalizeToken(text) {
  let t = String(text ?? '').trim();
  if (/^bearer\s+/i.test(t)) t = t.replace(/^bearer\s+/i, '');
  return t.replace(/\s+/g, '');
}

// The claims of a JWT, or null when it does not look like one. No verification.
export function decodeClaims(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

// Milliseconds since the epoch at which the token expires, or NaN.
export function expiresAtMs(token) {
  const exp = decodeClaims(token)?.exp;
  return typeof exp === 'number' ? exp * 1000 : NaN;
}
