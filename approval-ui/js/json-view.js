// Pretty JSON rendering (syntax-tinted, built from Text nodes only) and a line diff between two
// JSON documents for the argument editor.
import { h } from './dom.js';
import { stringifyExact } from './json-exact.js';

// Integers beyond 2^53 (BigInt, see json-exact.js) are written exactly.
export function pretty(value) {
  return stringifyExact(value, 2) ?? 'null';
}

const TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

// <pre> with spans per token. `value` is any JSON value.
export function jsonBlock(value, { className = 'json' } = {}) {
  return h('pre', { class: className }, h('code', null, tokens(pretty(value))));
}

function tokens(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) {
      out.push(h('span', { class: m[2] !== undefined ? 'j-key' : 'j-str' }, m[1]));
      if (m[2] !== undefined) out.push(m[2]);
    } else if (m[3] !== undefined) {
      out.push(h('span', { class: 'j-lit' }, m[3]));
    } else {
      out.push(h('span', { class: 'j-num' }, m[4]));
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

// Line diff (longest common subsequence) → [{op: ' ' | '-' | '+', line}].
export function lineDiff(beforeText, afterText) {
  const a = beforeText.split('\n');
  const b = afterText.split('\n');
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) {  // too big to diff line by line: show both whole
    return [...a.map((line) => ({ op: '-', line })), ...b.map((line) => ({ op: '+', line }))];
  }
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push({ op: ' ', line: a[i] }); i++; j++; }
    else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ op: '-', line: a[i++] });
    else out.push({ op: '+', line: b[j++] });
  }
  while (i < n) out.push({ op: '-', line: a[i++] });
  while (j < m) out.push({ op: '+', line: b[j++] });
  return out;
}

// Same JSON value, ignoring key order.
export function sameJson(x, y) {
  return canonical(x) === canonical(y);
}

function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return stringifyExact(v);
}

// `value` with its object keys ordered like `like` (keys `like` lacks come last), so a diff shows
// what changed rather than how the keys were typed.
export function alignKeys(value, like) {
  if (Array.isArray(value)) return value.map((v, i) => alignKeys(v, Array.isArray(like) ? like[i] : undefined));
  if (!value || typeof value !== 'object') return value;
  const out = {};
  // defineProperty, so an agent-supplied "__proto__" key stays a plain key.
  const put = (k, v) => Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  const base = like && typeof like === 'object' && !Array.isArray(like) ? Object.keys(like) : [];
  for (const k of base) if (Object.hasOwn(value, k)) put(k, alignKeys(value[k], like[k]));
  for (const k of Object.keys(value)) if (!Object.hasOwn(out, k)) put(k, alignKeys(value[k], undefined));
  return out;
}

// A rendered unified diff of two JSON values.
export function diffBlock(before, after) {
  const rows = lineDiff(pretty(before), pretty(alignKeys(after, before)));
  return h('pre', { class: 'diff', 'aria-label': 'Changes to the arguments' },
    rows.map(({ op, line }) => h('span', {
      class: op === '+' ? 'd-add' : op === '-' ? 'd-del' : 'd-same',
    }, h('span', { class: 'd-op', 'aria-hidden': 'true' }, op === ' ' ? ' ' : op), line, '\n')));
}
