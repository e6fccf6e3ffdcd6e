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
