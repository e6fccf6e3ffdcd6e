// Notifier: reminders and escalation of pending approvals, driven by the injected clock.
//
// Reminder n of an approval is due at created + after + (n-1) * every; a scan sends only the
// latest due one (no burst after downtime). Escalation is sent once, at created +
// escalate_after, to the escalate_to targets, while the approval is pending and not expired.
// What was sent is recorded as audit events (notify.reminder {n}, notify.escalated) written after
// the outbox rows, so a restart never repeats a reminder; a crash between the two can at worst
// repeat one, with the same webhook-id (MessageId is deterministic), so receivers deduplicate it.
#include <algorithm>

#include "common/clock.h"
#include "common/log.h"
#include "notify/notifier_impl.h"

namespace holdgate::notify {
namespace {

constexpr int kMaxPages = 20;  // 20 x 500 pending approvals per scan
constexpr int kMaxReminders = 1000;

}  // namespace

Notifier::Impl::ReminderState& Notifier::Impl::LoadReminderState(const std::string& approval_id) {
  auto it = reminder_state_.find(approval_id);
  if (it != reminder_state_.end()) return it->second;
  ReminderState st;
  store::AuditFilter f;
  f.approval_id = approval_id;
  f.type = "notify.*";
  f.limit = 1000;
  auto page = store_.ListAudit(f);
  if (page.ok()) {
    for (const auto& e : page->events) {
      if (e.type == "notify.reminder" && e.detail.is_object()) {
        st.last_reminder = std::max(st.last_reminder, e.detail.value("n", 0));
      } else if (e.type == "notify.escalated") {
        st.escalated = true;
      }
    }
  } else {
    log::Warn("notify: cannot read reminder history", {{"approval", approval_id}, {"error", page.status().ToString()}});
  }
  return reminder_state_.emplace(approval_id, st).first->second;
}

void Notifier::Impl::ScanReminders(int64_t now_ms, RunReport* report) {
  const ReminderConfig& rc = config_.reminders;
  if (!rc.enabled()) return;
  int64_t min_delay = INT64_MAX;
  if (rc.after_ms > 0) min_delay = rc.after_ms;
  if (rc.escalate_after_ms > 0 && !rc.escalate_to.empty()) min_delay = std::min(min_delay, rc.escalate_after_ms);

  store::ApprovalFilter f;
  f.states = {store::State::kPending};
  f.created_to_ms = now_ms - min_delay + 1;  // exclusive bound: created <= now - min_delay
  f.limit = 500;
  std::set<std::string> seen;
  bool complete = false;
  for (int page = 0; page < kMaxPages; ++page) {
    auto r = store_.List(f);
    if (!r.ok()) {
      log::Warn("notify: cannot list pending approvals for reminders", {{"error", r.status().ToString()}});
      return;
    }
    for (const auto& a : r->approvals) {
      seen.insert(a.id);
      if (a.state != store::State::kPending) continue;
      if (a.expires_at_ms > 0 && now_ms >= a.expires_at_ms) continue;  // the expiry sweeper's job
      ReminderState& st = LoadReminderState(a.id);
      if (rc.after_ms > 0 && now_ms >= a.created_at_ms + rc.after_ms) {
        const int64_t since = now_ms - a.created_at_ms - rc.after_ms;
        const int64_t due = 1 + (rc.every_ms > 0 ? since / rc.every_ms : 0);
        const int n = static_cast<int>(std::min<int64_t>(due, kMaxReminders));
        if (n > st.last_reminder) {
          SendReminder(a, n, now_ms, report);
          st.last_reminder = n;
        }
      }
      if (rc.escalate_after_ms > 0 && !rc.escalate_to.empty() && !st.escalated &&
          now_ms >= a.created_at_ms + rc.escalate_after_ms) {
        SendEscalation(a, now_ms, report);
        st.escalated = true;
      }
    }
    if (r->next_cursor.empty()) {
      complete = true;
      break;
    }
    f.cursor = r->next_cursor;
  }
  if (complete) {
    // Forget approvals that are no longer pending (or not yet due): bounded memory.
    for (auto it = reminder_state_.begin(); it != reminder_state_.end();) {
      it = seen.count(it->first) ? std::next(it) : reminder_state_.erase(it);
    }
  }
}

void Notifier::Impl::SendReminder(const store::Approval& a, int n, int64_t now_ms, RunReport* report) {
  Json targets = Json::array();
  Json ids = Json::array();
  const Json extra = {{"reminder", n}, {"pending_for_ms", now_ms - a.created_at_ms}};
  for (const auto& target : TargetsFor(a, kEventReminder)) {
    auto row = BuildRow(target, kEventReminder, a, now_ms, n, extra, "");
    if (!row) continue;
    row->approval_id = a.id;
    auto written = store_.EnqueueOutbox(*row);
    if (!written.ok()) {
      log::Warn("notify: cannot enqueue a reminder", {{"approval", a.id}, {"error", written.status().ToString()}});
      continue;
    }
    targets.push_back(target);
    ids.push_back(written->id);
  }
  store::AuditEvent ev;
  ev.type = "notify.reminder";
  ev.approval_id = a.id;
  ev.principal = a.principal;
  ev.tool = a.tool;
  ev.rule = a.rule;
  ev.actor = "holdgate";
  ev.via = "system";
  ev.decision = "remind";
  ev.detail = Json{{"n", n}, {"targets", targets}, {"outbox_ids", ids}};
  auto r = store_.AppendAudit(ev);
  if (!r.ok()) log::Warn("notify: cannot audit a reminder", {{"approval", a.id}, {"error", r.status().ToString()}});
  ++report->reminders;
  ++reminders_;
}

void Notifier::Impl::SendEscalation(const store::Approval& a, int64_t now_ms, RunReport* report) {
  Json targets = Json::array();
  Json ids = Json::array();
  const int64_t pending_for = now_ms - a.created_at_ms;
  const Json extra = {{"escalation", {{"pending_for_ms", pending_for},
                                      {"escalate_after_ms", config_.reminders.escalate_after_ms}}}};
  const std::string note = "Escalated: no decision after " + std::to_string(pending_for / 60000) + " min";
  for (const auto& target : config_.reminders.escalate_to) {
    // Escalation targets are named explicitly: they get it whatever their event subscription.
    auto row = BuildRow(target, kEventEscalated, a, now_ms, 0, extra, note);
    if (!row) continue;
    row->approval_id = a.id;
    auto written = store_.EnqueueOutbox(*row);
    if (!written.ok()) {
      log::Warn("notify: cannot enqueue an escalation", {{"approval", a.id}, {"error", written.status().ToString()}});
      continue;
    }
    targets.push_back(target);
    ids.push_back(written->id);
  }
  store::AuditEvent ev;
  ev.type = "notify.escalated";
  ev.approval_id = a.id;
  ev.principal = a.principal;
  ev.tool = a.tool;
  ev.rule = a.rule;
  ev.actor = "holdgate";
  ev.via = "system";
  ev.decision = "escalate";
  ev.detail = Json{{"targets", targets}, {"outbox_ids", ids}, {"pending_for_ms", pending_for}};
  auto r = store_.AppendAudit(ev);
  if (!r.ok()) log::Warn("notify: cannot audit an escalation", {{"approval", a.id}, {"error", r.status().ToString()}});
  log::Info("notify: approval escalated", {{"approval", a.id}, {"targets", targets}});
  ++report->escalations;
  ++escalations_;
}

}  // namespace holdgate::notify
