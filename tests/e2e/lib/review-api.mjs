import assert from 'node:assert/strict';

// The reviewer API over HTTP with a bearer token: reviewApi(base, token, method, path, body) ->
// {status, body (parsed JSON or null), text}.
export async function reviewApi(base, token, method, p, body) {
  const res = await fetch(new URL(p, base), {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json, text };
}

// The pending approvals (up to 500); the list must answer 200.
export async function pendingApprovals(base, token) {
  const r = await reviewApi(base, token, 'GET', '/api/approvals?state=pending&limit=500');
  assert.equal(r.status, 200, r.text);
  return r.body.approvals;
}

// Rejects every pending approval (test cleanup), so each test starts with an empty queue.
export async function rejectAllPending(base, token) {
  for (const a of await pendingApprovals(base, token)) {
    await reviewApi(base, token, 'POST', `/api/approvals/${a.id}/reject`, { reason: 'test cleanup' });
  }
}
