// Formatting of times, durations, risk levels and approval states for display. Pure functions.
import { stringifyExact } from './json-exact.js';

export const RISK_LEVELS = ['critical', 'high', 'medium', 'low'];

// The risk level of an approval ("critical" | "high" | "medium" | "low" | "unknown").
export function riskLevel(approval) {
  const risk = approval?.risk;
  const level = typeof risk === 'string' ? risk : risk?.level;
  return typeof level === 'string' && RISK_LEVELS.includes(level.toLowerCase()) ? level.toLowerCase() : 'unknown';
}

export function riskCategory(approval) {
  const c = approval?.risk?.category;
  return typeof c === 'string' ? c : '';
}

// Higher is more urgent.
export function riskRank(approval) {
  const i = RISK_LEVELS.indexOf(riskLevel(approval));
  return i < 0 ? 0 : RISK_LEVELS.length - i;
}

export function parseTime(text) {
  if (!text) return NaN;
  return Date.parse(text);
}

// "12s", "4m 05s", "2h 03m", "3d 4h".
export function duration(ms) {
  if (!Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

// "just now", "42s ago", "5m ago", "3h ago", "2d ago".
export function ago(timeText, now = Date.now()) {
  const t = parseTime(timeText);
  if (!Number.isFinite(t)) return '';
  const s = Math.floor((now - t) / 1000);
  if (s < 3) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

// Countdown to `timeText`: { text, level: 'ok' | 'soon' | 'urgent' | 'over' | 'never' }.
export function countdown(timeText, now = Date.now()) {
  const t = parseTime(timeText);
  if (!Number.isFinite(t)) return { text: 'no expiry', level: 'never' };
  const left = t - now;
  if (left <= 0) return { text: 'expiring…', level: 'over' };
  const s = Math.ceil(left / 1000);
  let text;
  if (s < 3600) text = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  else text = duration(left);
  return { text, level: s <= 60 ? 'urgent' : s <= 300 ? 'soon' : 'ok' };
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

// Local time; the date is added when it is not today.
export function when(timeText) {
  const t = parseTime(timeText);
  if (!Number.isFinite(t)) return '—';
  const d = new Date(t);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

export function fullTime(timeText) {
  const t = parseTime(timeText);
  return Number.isFinite(t) ? `${dateTimeFmt.format(new Date(t))} (${new Date(t).toISOString()})` : '';
}

const STATE_LABELS = {
  pending: 'Pending',
  approved: 'Approved',
  executing: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  rejected: 'Rejected',
  expired: 'Expired',
  cancelled: 'Cancelled',
  lapsed: 'Lapsed',
};
export function stateLabel(state) {
  return STATE_LABELS[state] ?? String(state ?? '');
}
// Colour family of a state chip.
export function stateTone(state) {
  switch (state) {
    case 'pending': return 'pending';
    case 'approved': case 'executing': case 'completed': return 'ok';
    case 'failed': return 'warn';
    case 'rejected': case 'expired': case 'cancelled': case 'lapsed': return 'bad';
    default: return 'neutral';
  }
}

const EVENT_LABELS = {
  'call.received': 'Call received',
  'call.allowed': 'Allowed by policy',
  'call.denied': 'Denied by policy',
  'call.hidden': 'Hidden tool called',
  'call.rate_limited': 'Rate limited',
  'call.shadow': 'Shadow: would hold',
  'approval.created': 'Held for approval',
  'approval.vote': 'Vote',
  'approval.approved': 'Approved',
  'approval.rejected': 'Rejected',
  'approval.expired': 'Expired',
  'approval.cancelled': 'Cancelled by the agent',
  'approval.lapsed': 'Lapsed: approved but not run in time',
  'approval.release_failed': 'Release failed: not run',
  'approval.executing': 'Released upstream',
  'approval.completed': 'Upstream result',
  'approval.failed': 'Upstream failed',
  'approval.agent_left': 'Agent stopped waiting',
  'approval.comment': 'Comment',
  'approval.notified': 'Reviewers notified',
  'auth.failed': 'Authentication refused',
  'policy.loaded': 'Policy loaded',
  'policy.reload_failed': 'Policy reload failed',
  'config.started': 'holdgate started',
  'delivery.requeued': 'Delivery requeued',
};
export function eventLabel(type) {
  return EVENT_LABELS[type] ?? String(type ?? '');
}

// One line of compact JSON for previews, cut to `max` characters.
export function preview(value, max = 140) {
  let text;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    text = Object.entries(value).map(([k, v]) => `${k}: ${stringifyExact(v)}`).join(', ');
  } else {
    text = stringifyExact(value) ?? '';
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// <input type="datetime-local"> value (local time) → ISO string for the API, or ''.
export function localInputToIso(value) {
  if (!value) return '';
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? new Date(t).toISOString() : '';
}
