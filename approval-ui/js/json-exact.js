// JSON that keeps integers exact. JSON.parse turns every number into a double, so an integer
// beyond ±2^53 (a job id, a snowflake, a 64-bit counter in an agent's arguments) silently changes
// when it is shown, and an edited copy sent back would run with the changed value. Here such
// integers become BigInt when parsed (from the number's own source text) and are written back
// digit for digit; every other value is plain JSON.
//
// Needs JSON.parse source text access and JSON.rawJSON (Chromium 114+, Firefox 135+, Safari 18.4+).
// Without them parsing still works, but integers beyond 2^53 are rounded as with JSON.parse, and
// hasExactJson() says so (the page then refuses to send edited arguments that contain one).

const supported = typeof JSON.rawJSON === 'function' && (() => {
  let seen = false;
  JSON.parse('1', (k, v, context) => { seen = typeof context?.source === 'string'; return v; });
  return seen;
})();

export function hasExactJson() {
  return supported;
}

function reviver(key, value, context) {
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) &&
      typeof context?.source === 'string' && /^-?\d+$/.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

// JSON.parse, with integers outside the safe range as BigInt. Throws SyntaxError like JSON.parse.
export function parseExact(text) {
  return supported ? JSON.parse(text, reviver) : JSON.parse(text);
}

function replacer(key, value) {
  if (typeof value === 'bigint') return supported ? JSON.rawJSON(value.toString()) : Number(value);
  return value;
}

// JSON.stringify that writes BigInt values as their exact digits.
export function stringifyExact(value, indent) {
  return JSON.stringify(value, replacer, indent);
}

// True when `value` (parsed) holds an integer parseExact had to keep as BigInt, or a number that
// lost precision because exact parsing is unavailable.
export function hasBigInteger(value) {
  if (typeof value === 'bigint') return true;
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (Array.isArray(value)) return value.some(hasBigInteger);
  if (value && typeof value === 'object') return Object.values(value).some(hasBigInteger);
  return false;
}
