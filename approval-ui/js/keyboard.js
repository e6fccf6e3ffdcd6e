// Page shortcuts: j/k (and ↓/↑ in lists) move, a approve, r reject, e edit arguments, c comment,
// x (and Space on a queue row) ticks the row for a bulk decision,
// 1/2/3 switch views, / filters, ? help, Esc leaves a field. Ignored while typing in a field or
// while a dialog is open (dialogs take Enter and Esc themselves).
import { $, isTypingTarget } from './dom.js';

export function installKeyboard(ctx) {
  document.addEventListener('keydown', (e) => {
    if (!ctx.me || e.defaultPrevented) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (document.querySelector('dialog[open]')) return;
    if (isTypingTarget(e.target)) {
      if (e.key === 'Escape') e.target.blur();
      return;
    }
    if (handle(ctx, e)) e.preventDefault();
  });
}

function handle(ctx, e) {
  const inList = Boolean(e.target?.closest?.('.queue-list, tbody'));
  switch (e.key) {
    case 'j': return move(ctx, +1);
    case 'k': return move(ctx, -1);
    case 'ArrowDown': return inList ? move(ctx, +1) : false;
    case 'ArrowUp': return inList ? move(ctx, -1) : false;
    case 'a': return onQueue(ctx, () => ctx.detail.openApprove());
    case 'r': return onQueue(ctx, () => ctx.detail.openReject());
    case 'e': return onQueue(ctx, () => ctx.detail.toggleEditor(true));
    case 'c': return onQueue(ctx, () => ctx.detail.focusComment());
    case 'x': return onQueue(ctx, () => {
      if (!ctx.me?.can_decide) ctx.toast(`Read-only: your role (${ctx.me?.role ?? 'none'}) cannot decide.`, 'warn');
      else if (!ctx.queue.toggleTick()) ctx.toast('The queue is empty.', 'info');
    });
    case ' ': return inList && ctx.view === 'queue' && ctx.me?.can_decide ? ctx.queue.toggleTick() : false;
    case '1': ctx.navigate('#/queue'); return true;
    case '2': ctx.navigate('#/history'); return true;
    case '3': ctx.navigate('#/audit'); return true;
    case '/': {
      const field = $(`#view-${ctx.view} .filters input, #view-${ctx.view} .filters select`);
      if (!field) return false;
      field.focus();
      return true;
    }
    case '?': ctx.showHelp(); return true;
    case 'Escape': ctx.dismissToasts(); return true;
    default: return false;
  }
}

function onQueue(ctx, action) {
  if (ctx.view !== 'queue') {
    ctx.toast('Open an approval in the queue first (press 1).', 'warn');
    return true;
  }
  action();
  return true;
}

function move(ctx, delta) {
  if (ctx.view === 'queue') {
    if (!ctx.queue.move(delta)) ctx.toast('The queue is empty.', 'info');
    return true;
  }
  const rows = [...document.querySelectorAll(`#view-${ctx.view} tbody tr`)];
  if (rows.length === 0) return true;
  const at = rows.indexOf(document.activeElement);
  const next = at < 0 ? (delta > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + delta));
  rows[next].focus();
  rows[next].scrollIntoView({ block: 'nearest' });
  return true;
}
