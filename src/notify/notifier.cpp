#include "notify/notifier.h"

#include <algorithm>
#include <exception>

#include "common/clock.h"
#include "common/log.h"
#include "notify/http_client.h"
#include "notify/notifier_impl.h"
#include "notify/payloads.h"
#include "notify/retry_schedule.h"
#include "notify/slack_blocks.h"
#include "notify/webhook_signature.h"
#include "common/metrics.h"

namespace holdgate::notify {
namespace {

// Approval transitions that are notified (the store also emits .vote, .agent_left, .comment).
bool IsNotifiedTransition(const std::string& type) {
  return type == kEventCreated || type == kEventApproved || type == kEventRejected || type == kEventExpired ||
         type == kEventCancelled || type == kEventLapsed || type == kEventExecuting || type == kEventCompleted ||
         type == kEventFailed;
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool IsSlackTarget(const std::string& t) { return t == "slack" || StartsWith(t, "slack:"); }

// response_url replies are useless after Slack's 30 minutes.
constexpr int64_t kSlackResponseGiveUpMs = 30 * 60 * 1000;
constexpr int kMaxPasses = 100;

}  // namespace

// ---- Impl: construction, rows ------------------------------------------------------------------

Notifier::Impl::Impl(NotifyConfig config, store::Store& store, const Clock& clock, std::string review_base_url)
    : config_(std::move(config)),
      store_(store),
      clock_(clock),
      review_base_url_(std::move(review_base_url)),
      rng_(std::random_device{}()),
      slack_verifier_(std::make_unique<SlackRequestVerifier>(config_.slack.signing_secret)),
      slack_audit_(store, clock, config_.slack.refusal_audit_per_minute) {}

Notifier::Impl::~Impl() { Stop(); }

std::string Notifier::Impl::ReviewBase() const {
  std::lock_guard<std::mutex> lock(url_mu_);
  return review_base_url_;
}

void Notifier::Impl::SetReviewBase(std::string url) {
  std::lock_guard<std::mutex> lock(url_mu_);
  review_base_url_ = std::move(url);
}

std::vector<std::string> Notifier::Impl::TargetsFor(const store::Approval& a, const std::string& event_type) const {
  std::vector<std::string> out;
  auto add = [&](const std::string& t) {
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  };
  std::vector<std::string> named;
  if (a.notify.is_array()) {
    for (const auto& t : a.notify) {
      if (t.is_string() && !t.get<std::string>().empty()) named.push_back(t.get<std::string>());
    }
  } else if (a.notify.is_string() && !a.notify.get<std::string>().empty()) {
    named.push_back(a.notify.get<std::string>());
  }
  if (named.empty()) {
    for (const auto& w : config_.webhooks) {
      if (w.Subscribed(event_type)) add("webhook:" + w.name);
    }
    if (config_.slack.CanPost() && config_.slack.Subscribed(event_type)) add("slack");
    return out;
  }
  for (const auto& t : named) {
    if (StartsWith(t, "webhook:")) {
      const WebhookConfig* w = config_.FindWebhook(t.substr(8));
      if (w != nullptr && w->Subscribed(event_type)) add(t);
    } else if (IsSlackTarget(t)) {
      if (config_.slack.CanPost() && config_.slack.Subscribed(event_type)) add(t);
    }
  }
  return out;
}

std::optional<store::NewOutboxRow> Notifier::Impl::BuildRow(const std::string& target, const std::string& event_type,
                                                            const store::Approval& a, int64_t at_ms, int n,
                                                            const Json& extra, const std::string& note) const {
  store::NewOutboxRow row;
  row.event_type = event_type;
  row.target = target;
  const std::string base = ReviewBase();
  if (StartsWith(target, "webhook:")) {
    const WebhookConfig* w = config_.FindWebhook(target.substr(8));
    if (w == nullptr) return std::nullopt;
    row.payload = Json{{"kind", kKindWebhook},
                       {"msg_id", MessageId(a.id, event_type, target, n)},
                       {"approval_id", a.id},
                       {"body", WebhookBody(a, event_type, at_ms, base, w->include_arguments, extra)}};
    return row;
  }
  if (IsSlackTarget(target)) {
    if (!config_.slack.CanPost()) return std::nullopt;
    SlackRender render;
    render.review_url = base.empty() ? "" : ReviewLink(base, a.id);
    render.include_arguments = config_.slack.include_arguments;
    render.now_ms = at_ms;
    render.event_type = event_type;
    render.reminder = n;
    render.note = note;
    row.payload = Json{{"kind", kKindSlack},
                       {"msg_id", MessageId(a.id, event_type, target, n)},
                       {"approval_id", a.id},
                       {"channel", target.size() > 6 ? target.substr(6) : ""},
                       {"message", SlackMessage(a, render)}};
    return row;
  }
  return std::nullopt;
}

std::vector<store::NewOutboxRow> Notifier::Impl::FactoryRows(const std::string& event_type,
                                                             const store::Approval& a) const {
  std::vector<store::NewOutboxRow> rows;
  if (!IsNotifiedTransition(event_type)) return rows;
  const int64_t at = a.updated_at_ms > 0 ? a.updated_at_ms : a.created_at_ms;
  for (const auto& target : TargetsFor(a, event_type)) {
    if (auto row = BuildRow(target, event_type, a, at, 0, Json::object(), "")) rows.push_back(std::move(*row));
  }
  return rows;
}

// ---- Impl: endpoints -----------------------------------------------------------------------------

Status Notifier::Impl::LoadEndpointState() {
  store::AuditFilter f;
  f.type = "notify.endpoint_*";
  f.limit = 1000;
  for (int page = 0; page < 1000; ++page) {
    auto r = store_.ListAudit(f);
    if (!r.ok()) return r.status();
    for (const auto& e : r->events) {
      const std::string target = e.detail.is_object() ? e.detail.value("target", "") : "";
      if (target.empty()) continue;
      if (e.type == "notify.endpoint_disabled") {
        disabled_[target] = e.detail.value("why", "disabled") + " at " + FormatTimeMs(e.ts_ms);
      } else if (e.type == "notify.endpoint_enabled") {
        disabled_.erase(target);
      }
    }
    if (r->next_cursor.empty()) break;
    f.cursor = r->next_cursor;
  }
  return Status::Ok();
}

bool Notifier::Impl::IsDisabled(const std::string& target, std::string* why) const {
  std::lock_guard<std::mutex> lock(ep_mu_);
  auto it = disabled_.find(target);
  if (it == disabled_.end()) return false;
  if (why) *why = it->second;
  return true;
}

void Notifier::Impl::Disable(const std::string& target, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(ep_mu_);
    if (disabled_.count(target)) return;
    disabled_[target] = why + " at " + FormatTimeMs(clock_.NowMs());
  }
  ++endpoints_disabled_;
  log::Warn("notify: endpoint disabled; no more deliveries until it is re-enabled", {{"target", target}, {"why", why}});
  store::AuditEvent ev;
  ev.type = "notify.endpoint_disabled";
  ev.actor = "holdgate";
  ev.via = "system";
  ev.decision = "disable";
  ev.detail = Json{{"target", target}, {"why", why}};
  auto r = store_.AppendAudit(ev);
  if (!r.ok()) log::Error("notify: cannot audit endpoint disable", {{"error", r.status().ToString()}});
}

Result<int> Notifier::Impl::Enable(const std::string& target, bool requeue_dead) {
  const bool known = (StartsWith(target, "webhook:") && config_.FindWebhook(target.substr(8)) != nullptr) ||
                     (target == "slack" && config_.slack.CanPost());
  if (!known) return NotFound("no notification target " + target + " in the config");
  bool was_disabled;
  {
    std::lock_guard<std::mutex> lock(ep_mu_);
    was_disabled = disabled_.erase(target) > 0;
  }
  if (was_disabled) {
    store::AuditEvent ev;
    ev.type = "notify.endpoint_enabled";
    ev.actor = "holdgate";
    ev.via = "system";
    ev.decision = "enable";
    ev.detail = Json{{"target", target}};
    auto r = store_.AppendAudit(ev);
    if (!r.ok()) return r.status();
  }
  int requeued = 0;
  if (requeue_dead) {
    // Rows of this endpoint (slack: any slack channel) given up because it was disabled.
    store::OutboxFilter f;
    f.any_state = false;
    f.state = store::OutboxState::kDead;
    f.limit = 1000;
    for (;;) {
      auto rows = store_.ListOutbox(f);
      if (!rows.ok()) return rows.status();
      for (const auto& row : *rows) {
        const bool mine = row.target == target || (target == "slack" && IsSlackTarget(row.target));
        if (mine && (StartsWith(row.last_status, "410") || StartsWith(row.last_status, "endpoint disabled"))) {
          Status s = store_.RequeueOutbox(row.id);
          if (!s.ok()) return s;
          ++requeued;
        }
      }
      if (rows->size() < static_cast<size_t>(f.limit)) break;
      f.after_id = rows->back().id;
    }
  }
  if (requeued > 0) Wake();
  return requeued;
}

std::vector<EndpointState> Notifier::Impl::Endpoints() const {
  std::vector<EndpointState> out;
  std::lock_guard<std::mutex> lock(ep_mu_);
  auto add = [&](const std::string& target) {
    EndpointState s;
    s.target = target;
    auto it = disabled_.find(target);
    s.disabled = it != disabled_.end();
    if (s.disabled) s.why = it->second;
    out.push_back(std::move(s));
  };
  for (const auto& w : config_.webhooks) add("webhook:" + w.name);
  if (config_.slack.CanPost()) add("slack");
  return out;
}

// ---- Impl: worker ----------------------------------------------------------------------------

Status Notifier::Impl::Start() {
  std::lock_guard<std::mutex> lock(wake_mu_);
  if (running_) return Status::Ok();
  stop_ = false;
  running_ = true;
  listener_id_ = store_.AddListener([this](const store::ChangeEvent&) { Wake(); });
  worker_ = std::thread([this] { WorkerLoop(); });
  return Status::Ok();
}

void Notifier::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    if (!running_) return;
    stop_ = true;
  }
  wake_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  store_.RemoveListener(listener_id_);
  std::lock_guard<std::mutex> lock(wake_mu_);
  listener_id_ = -1;
  running_ = false;
}

void Notifier::Impl::Wake() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
}

void Notifier::Impl::WorkerLoop() {
  const int64_t reminder_every = std::max<int64_t>(config_.delivery.poll_interval_ms, 5000);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      if (stop_) return;
      wake_ = false;
    }
    bool scan = false;
    {
      std::lock_guard<std::mutex> lock(run_mu_);
      const int64_t now = clock_.NowMs();
      if (now - last_reminder_scan_ms_ >= reminder_every || now < last_reminder_scan_ms_) scan = true;
    }
    RunPass(scan);
    std::unique_lock<std::mutex> lock(wake_mu_);
    wake_cv_.wait_for(lock, std::chrono::milliseconds(config_.delivery.poll_interval_ms),
                      [this] { return stop_ || wake_; });
  }
}

double Notifier::Impl::Jitter() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

RunReport Notifier::Impl::RunPass(bool scan_reminders) {
  std::lock_guard<std::mutex> lock(run_mu_);
  RunReport report;
  if (scan_reminders) {
    const int64_t now = clock_.NowMs();
    last_reminder_scan_ms_ = now;
    ScanReminders(now, &report);
  }
  std::map<std::string, FailingTarget> failing;  // targets that failed during this pass
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    const int64_t now = clock_.NowMs();
    auto rows = store_.ClaimDueOutbox(now, config_.delivery.batch);
    if (!rows.ok()) {
      log::Error("notify: cannot claim outbox rows", {{"error", rows.status().ToString()}});
      break;
    }
    if (rows->empty()) break;
    report.claimed += static_cast<int>(rows->size());
    // Oldest first, so an earlier message of an approval is handled before a later one.
    std::sort(rows->begin(), rows->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const auto& row : *rows) {
      try {
        DeliverRow(row, clock_.NowMs(), &report, &failing);
      } catch (const std::exception& e) {  // a malformed stored payload must not stop the worker
        GiveUp(row, std::string("malformed outbox row: ") + e.what(), &report);
      }
    }
    {
      std::lock_guard<std::mutex> wl(wake_mu_);
      if (stop_) break;
    }
  }
  return report;
}

// ---- Impl: delivery ------------------------------------------------------------------------------

// chat.postMessage answered {"ok": true, "channel": "C…", "ts": "…"} for an approval's card: kept
// as a "notify.slack_posted" audit event, so later messages of the approval (from any process, and
// after a restart) update that card or reply in its thread instead of posting a new one.
void Notifier::Impl::RecordPostedCard(const store::OutboxRow& row, const std::string& answer) {
  auto parsed = ParseJson(answer);
  if (!parsed.ok() || !parsed->is_object()) return;
  const std::string channel = parsed->value("channel", "");
  const std::string ts = parsed->value("ts", "");
  if (channel.empty() || ts.empty() || row.approval_id.empty()) return;
  store::AuditEvent ev;
  ev.type = "notify.slack_posted";
  ev.approval_id = row.approval_id;
  ev.actor = "holdgate";
  ev.via = "system";
  ev.decision = "notify";
  ev.detail = Json{{"target", row.target}, {"channel", channel}, {"ts", ts}, {"outbox_id", row.id}};
  auto r = store_.AppendAudit(ev);
  if (!r.ok()) log::Warn("notify: cannot record the Slack card", {{"approval", row.approval_id}, {"error", r.status().ToString()}});
}

bool Notifier::Impl::PostedCard(const store::OutboxRow& row, std::string* channel, std::string* ts) const {
  if (row.approval_id.empty()) return false;
  store::AuditFilter f;
  f.type = "notify.slack_posted";
  f.approval_id = row.approval_id;
  f.limit = 100;
  auto page = store_.ListAudit(f);
  if (!page.ok()) return false;
  for (const auto& e : page->events) {
    if (!e.detail.is_object() || e.detail.value("target", "") != row.target) continue;
    *channel = e.detail.value("channel", "");
    *ts = e.detail.value("ts", "");
    return !channel->empty() && !ts->empty();
  }
  return false;
}

bool Notifier::Impl::BuildRequest(const store::OutboxRow& row, std::string* url,
                                  std::vector<std::pair<std::string, std::string>>* headers, std::string* body,
                                  std::string* ca_file, int64_t now_ms, std::string* fatal) const {
  const Json& p = row.payload;
  const std::string kind = p.is_object() ? p.value("kind", "") : "";
  if (kind == kKindWebhook) {
    const WebhookConfig* w = StartsWith(row.target, "webhook:") ? config_.FindWebhook(row.target.substr(8)) : nullptr;
    if (w == nullptr) {
      *fatal = "target " + row.target + " is no longer configured";
      return false;
    }
    const std::string msg_id = p.value("msg_id", "msg_row" + std::to_string(row.id));
    *url = w->url;
    *body = DumpJson(p.contains("body") ? p["body"] : Json::object());
    const int64_t ts = now_ms / 1000;
    headers->emplace_back("webhook-id", msg_id);
    headers->emplace_back("webhook-timestamp", std::to_string(ts));
    headers->emplace_back("webhook-signature", WebhookSignatureHeader(w->keys, msg_id, ts, *body));
    *ca_file = w->ca_file;
    return true;
  }
  if (kind == kKindSlack) {
    if (!config_.slack.CanPost()) {
      *fatal = "Slack is no longer configured";
      return false;
    }
    Json message = p.contains("message") ? p["message"] : Json::object();
    if (!config_.slack.bot_token.empty()) {
      std::string channel = p.value("channel", "");
      if (channel.empty()) channel = config_.slack.channel;
      if (channel.empty()) {
        *fatal = "no Slack channel: set notify.slack.channel or name one in the target (slack:#channel)";
        return false;
      }
      message["channel"] = channel;
      *url = config_.slack.api_url + "/chat.postMessage";
      // Later messages of an approval whose card was posted: a decision or outcome replaces the
      // card (chat.update: one message, no live buttons once decided); a reminder or escalation is
      // a reply in its thread (text only, no second set of buttons).
      std::string posted_channel, posted_ts;
      if (row.event_type != kEventCreated && PostedCard(row, &posted_channel, &posted_ts)) {
        if (row.event_type == kEventReminder || row.event_type == kEventEscalated) {
          message = Json{{"channel", posted_channel},
                         {"thread_ts", posted_ts},
                         {"text", message.value("text", std::string("Still waiting for a decision"))}};
        } else {
          message["channel"] = posted_channel;
          message["ts"] = posted_ts;
          *url = config_.slack.api_url + "/chat.update";
        }
      }
      headers->emplace_back("Authorization", "Bearer " + config_.slack.bot_token);
    } else {
      *url = config_.slack.webhook_url;
    }
    *body = DumpJson(message);
    *ca_file = config_.slack.ca_file;
    return true;
  }
  if (kind == kKindSlackResponse) {
    *url = p.value("response_url", "");
    if (!ResponseUrlAllowed(*url)) {
      *fatal = "response_url is not a Slack URL";
      return false;
    }
    Json message;
    if (p.value("render", false)) {
      auto a = store_.Get(p.value("approval_id", row.approval_id));
      if (!a.ok()) {
        *fatal = "cannot load the approval: " + a.status().message();
        return false;
      }
      SlackRender render;
      const std::string base = ReviewBase();
      render.review_url = base.empty() ? "" : ReviewLink(base, a->id);
      render.include_arguments = config_.slack.include_arguments;
      render.now_ms = now_ms;
      render.event_type = kEventCreated;
      message = SlackMessage(*a, render);
      message["replace_original"] = true;
    } else {
      message = p.contains("message") ? p["message"] : Json::object();
    }
    *body = DumpJson(message);
    *ca_file = config_.slack.ca_file;
    return true;
  }
  *fatal = "unknown payload kind \"" + kind + "\"";
  return false;
}

void Notifier::Impl::DeliverRow(const store::OutboxRow& row, int64_t now_ms, RunReport* report,
                                std::map<std::string, FailingTarget>* failing) {
  // Per-approval order: an earlier row of the same approval to the same target that is still
  // pending (or being delivered) goes first; this one waits for it.
  std::string approval_id = row.approval_id;
  if (approval_id.empty() && row.payload.is_object()) approval_id = row.payload.value("approval_id", "");
  if (!approval_id.empty()) {
    store::OutboxFilter f;
    f.approval_id = approval_id;
    f.target = row.target;
    f.limit = 1000;
    auto earlier = store_.ListOutbox(f);
    if (earlier.ok()) {
      for (const auto& e : *earlier) {
        if (e.id >= row.id) break;
        if (e.state == store::OutboxState::kPending || e.state == store::OutboxState::kDelivering) {
          // Due now: keep the same due time, so the next claim takes the earlier row first
          // (claims are ordered by due time, then id). Otherwise wait until it is retried.
          const int64_t next = e.state == store::OutboxState::kPending && e.next_attempt_at_ms <= now_ms
                                   ? e.next_attempt_at_ms
                                   : std::max(e.next_attempt_at_ms, now_ms + 1);
          Status s = store_.MarkOutboxFailed(row.id, "waiting for #" + std::to_string(e.id) + " (" + e.event_type + ")",
                                             next, false);
          if (!s.ok()) log::Warn("notify: cannot defer row", {{"id", row.id}, {"error", s.ToString()}});
          ++report->deferred;
          ++deferred_;
          return;
        }
      }
    }
  }

  std::string why;
  if (row.target != kSlackResponseTarget && IsDisabled(IsSlackTarget(row.target) ? "slack" : row.target, &why)) {
    GiveUp(row, "endpoint disabled: " + why, report);
    return;
  }
  if (auto it = failing->find(row.target); it != failing->end()) {
    // The endpoint just failed in this pass: don't hammer it (or wait for its timeout) again.
    Status s = store_.MarkOutboxFailed(row.id, "skipped: endpoint failing (" + it->second.status + ")",
                                       std::max(it->second.next_ms, now_ms + 1), false);
    if (!s.ok()) log::Warn("notify: cannot reschedule row", {{"id", row.id}, {"error", s.ToString()}});
    ++report->deferred;
    ++deferred_;
    return;
  }

  HttpPost post;
  std::string fatal;
  if (!BuildRequest(row, &post.url, &post.headers, &post.body, &post.ca_file, now_ms, &fatal)) {
    GiveUp(row, "cannot send: " + fatal, report);
    return;
  }
  post.connect_timeout_ms = config_.delivery.connect_timeout_ms;
  post.request_timeout_ms = config_.delivery.request_timeout_ms;
  if (StartsWith(row.target, "webhook:")) {
    if (const WebhookConfig* w = config_.FindWebhook(row.target.substr(8))) post.allow_http = w->allow_http;
  }
  HttpOutcome out = PostHttp(post);
  const int64_t after = clock_.NowMs();

  std::string status = out.Summary();
  bool ok = out.ok();
  const std::string kind = row.payload.value("kind", "");
  if (ok && kind == kKindSlack && !config_.slack.bot_token.empty()) {
    // chat.postMessage answers 200 with {"ok": false, "error": …} on failure.
    auto parsed = ParseJson(out.body);
    if (!parsed.ok() || !parsed->is_object() || !parsed->value("ok", false)) {
      ok = false;
      status = "200 slack error: " + (parsed.ok() && parsed->is_object() ? parsed->value("error", "?") : "bad answer");
    }
  }
  if (ok && kind == kKindSlack && !config_.slack.bot_token.empty() && row.event_type == kEventCreated) {
    RecordPostedCard(row, out.body);
  }
  if (ok) {
    Status s = store_.MarkOutboxDelivered(row.id, status);
    if (!s.ok()) log::Warn("notify: cannot mark row delivered", {{"id", row.id}, {"error", s.ToString()}});
    ++report->delivered;
    ++delivered_;
    metrics::GlobalMetrics().webhook_deliveries_total.Inc("delivered");
    log::Debug("notify: delivered", {{"id", row.id}, {"target", row.target}, {"event", row.event_type}});
    return;
  }
  if (out.status == 410 && row.target != kSlackResponseTarget) {
    const std::string endpoint = IsSlackTarget(row.target) ? "slack" : row.target;
    Disable(endpoint, "410 Gone");
    GiveUp(row, "410 Gone: endpoint disabled", report);
    return;
  }
  Retry(row, after, status, out.retry_after_ms, report, failing);
}

void Notifier::Impl::Retry(const store::OutboxRow& row, int64_t now_ms, const std::string& status,
                           int64_t retry_after_ms, RunReport* report, std::map<std::string, FailingTarget>* failing) {
  const int64_t give_up_after =
      row.target == kSlackResponseTarget ? kSlackResponseGiveUpMs : config_.delivery.give_up_after_ms;
  RetryDecision d = NextRetry(now_ms - row.created_at_ms, Jitter(), give_up_after, retry_after_ms);
  if (d.give_up) {
    GiveUp(row, "gave up after " + std::to_string(row.attempts) + " attempts: " + status, report);
    return;
  }
  const int64_t next = now_ms + d.delay_ms;
  Status s = store_.MarkOutboxFailed(row.id, status, next, false);
  if (!s.ok()) log::Warn("notify: cannot reschedule row", {{"id", row.id}, {"error", s.ToString()}});
  // Each response_url is its own endpoint: one failing says nothing about the others.
  if (row.target != kSlackResponseTarget) (*failing)[row.target] = FailingTarget{status, next};
  ++report->failed;
  ++failed_;
  metrics::GlobalMetrics().webhook_deliveries_total.Inc("failed");
  log::Info("notify: delivery failed; will retry",
            {{"id", row.id}, {"target", row.target}, {"event", row.event_type}, {"status", status},
             {"attempts", row.attempts}, {"next_attempt_at", FormatTimeMs(next)}});
}

void Notifier::Impl::GiveUp(const store::OutboxRow& row, const std::string& status, RunReport* report) {
  Status s = store_.MarkOutboxFailed(row.id, status, 0, true);
  if (!s.ok()) log::Warn("notify: cannot mark row dead", {{"id", row.id}, {"error", s.ToString()}});
  ++report->gave_up;
  ++gave_up_;
  metrics::GlobalMetrics().webhook_deliveries_total.Inc("gave_up");
  log::Warn("notify: delivery given up",
            {{"id", row.id}, {"target", row.target}, {"event", row.event_type}, {"status", status}});
  store::AuditEvent ev;
  ev.type = "notify.gave_up";
  ev.actor = "holdgate";
  ev.via = "system";
  ev.approval_id = row.approval_id;
  ev.decision = "give_up";
  ev.detail = Json{{"outbox_id", row.id}, {"target", row.target}, {"event", row.event_type},
                   {"attempts", row.attempts}, {"status", status.substr(0, 300)}};
  auto r = store_.AppendAudit(ev);
  if (!r.ok()) log::Warn("notify: cannot audit a given-up delivery", {{"error", r.status().ToString()}});
}

NotifierCounters Notifier::Impl::Counters() const {
  NotifierCounters c;
  c.delivered = delivered_.load();
  c.failed = failed_.load();
  c.gave_up = gave_up_.load();
  c.deferred = deferred_.load();
  c.endpoints_disabled = endpoints_disabled_.load();
  c.reminders = reminders_.load();
  c.escalations = escalations_.load();
  c.slack_decisions = slack_decisions_.load();
  c.slack_refused = slack_refused_.load();
  return c;
}

// ---- Notifier ----------------------------------------------------------------------------------

Notifier::Notifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Notifier::~Notifier() {
  if (impl_) impl_->Stop();
}

Result<std::unique_ptr<Notifier>> Notifier::Create(const Json& notify_config, store::Store& store,
                                                   const Clock& clock, std::string review_base_url,
                                                   const std::string& config_dir) {
  auto config = ParseNotifyConfig(notify_config, config_dir);
  if (!config.ok()) return config.status();
  auto impl = std::make_unique<Impl>(std::move(config.value()), store, clock, std::move(review_base_url));
  Status s = impl->LoadEndpointState();
  if (!s.ok()) return Status(s.code(), "notify: cannot read endpoint state: " + s.message());
  return std::unique_ptr<Notifier>(new Notifier(std::move(impl)));
}

store::OutboxFactory Notifier::OutboxFactory() {
  Impl* impl = impl_.get();
  return [impl](const std::string& event_type, const store::Approval& approval) {
    try {
      return impl->FactoryRows(event_type, approval);
    } catch (const std::exception& e) {
      // Never let a rendering bug abort the approval's transaction.
      log::Error("notify: cannot build notification rows", {{"event", event_type}, {"error", e.what()}});
      return std::vector<store::NewOutboxRow>{};
    }
  };
}

void Notifier::SetReviewBaseUrl(std::string url) { impl_->SetReviewBase(std::move(url)); }
Status Notifier::Start() { return impl_->Start(); }
void Notifier::Stop() { impl_->Stop(); }
RunReport Notifier::RunOnce() { return impl_->RunPass(true); }

review::PlainHandler Notifier::SlackActionsHandler(review::DecisionService& decisions) {
  Impl* impl = impl_.get();
  return [impl, &decisions](const review::PlainRequest& req) { return impl->HandleSlackAction(req, decisions); };
}

Result<int> Notifier::EnableEndpoint(const std::string& target, bool requeue_dead) {
  return impl_->Enable(target, requeue_dead);
}
std::vector<EndpointState> Notifier::Endpoints() const { return impl_->Endpoints(); }
NotifierCounters Notifier::Counters() const { return impl_->Counters(); }
const NotifyConfig& Notifier::config() const { return impl_->config_; }

}  // namespace holdgate::notify
