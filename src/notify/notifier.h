#pragma once
// Notifier: tells reviewers about approvals through signed webhooks (Standard Webhooks) and Slack,
// reliably. It owns the outbox factory (turns approval transitions into outbox rows, inside the
// store's transaction, so a crash loses nothing), the delivery worker (claims due rows, signs,
// POSTs, retries with backoff and jitter for about a day, disables an endpoint on 410, keeps
// per-approval order), the Slack interactivity endpoint (/slack/actions) and reminders/escalation.
//
// Thread-safe. Deliveries run on the worker thread (Start) or in RunOnce, never on the caller's
// path: the factory only builds rows. The Slack handler runs on the reviewer listener's threads
// and blocks only on the Store. All times come from the injected Clock; the worker waits in real
// time (poll_interval) but is woken at once by approval changes.
//
// Wiring (holdgate serve):
//   auto n = notify::Notifier::Create(config.notify, *store, clock, public_url);
//   store->SetOutboxFactory(n->OutboxFactory());
//   review->AddPlainRoute("POST", "/slack/actions", n->SlackActionsHandler(decisions));  // before Start
//   review->Start(); n->SetReviewBaseUrl(review->base_url()); n->Start();
//   … at shutdown: n->Stop() before the store is destroyed.
//
// Delivery log: every row's attempts, last_status ("200", "503 Service Unavailable", "error: …",
// "410 Gone: endpoint disabled", "waiting for #12") and next_attempt_at are in the outbox table
// (Store::ListOutbox); Store::RequeueOutbox replays one. Audit events written here:
//   notify.endpoint_disabled / notify.endpoint_enabled  {target, status}
//   notify.gave_up        {outbox_id, target, event, attempts, status}
//   notify.reminder       {n, targets, outbox_ids}      (one per reminder of an approval)
//   notify.escalated      {targets, outbox_ids}
//   slack.refused         {why, code, slack_user, action, approval_id, suppressed?}  (rate-limited)
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json_util.h"
#include "common/status.h"
#include "notify/notify_config.h"
#include "review/review_server.h"  // PlainHandler / PlainRequest / PlainResponse (types only)
#include "store/store.h"


namespace holdgate::notify {

struct NotifierCounters {
  int64_t delivered = 0;       // rows delivered (2xx)
  int64_t failed = 0;          // attempts that failed and will be retried
  int64_t gave_up = 0;         // rows given up (too old, 410, target gone)
  int64_t deferred = 0;        // rows put back behind an earlier row of the same approval
  int64_t endpoints_disabled = 0;
  int64_t reminders = 0;       // reminder notifications enqueued (per approval, not per target)
  int64_t escalations = 0;
  int64_t slack_decisions = 0;  // votes recorded from Slack
  int64_t slack_refused = 0;    // Slack requests refused (bad signature, unknown user, rules, …)
};

// What one RunOnce did.
struct RunReport {
  int claimed = 0;
  int delivered = 0;
  int failed = 0;
  int gave_up = 0;
  int deferred = 0;
  int reminders = 0;
  int escalations = 0;
};

struct EndpointState {
  std::string target;  // "webhook:ops", "slack"
  bool disabled = false;
  std::string why;     // e.g. "410 Gone at 2026-…Z"
};

class Notifier {
 public:
  // Parses `notify_config` (the config file's "notify" section; null/{} = nothing to notify) and
  // loads the disabled-endpoint state from the audit log. `review_base_url` is where reviewers
  // reach the review UI (links in messages); it may be set later with SetReviewBaseUrl.
  // REQUIRES: store and clock outlive the Notifier.
  static Result<std::unique_ptr<Notifier>> Create(const Json& notify_config, store::Store& store,
                                                  const Clock& clock, std::string review_base_url,
                                                  const std::string& config_dir = "");
  ~Notifier();  // Stop()s
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // For Store::SetOutboxFactory. The factory is pure and cheap (no I/O, no store calls): for
  // approval.created/approved/rejected/expired/cancelled/executing/completed/failed it returns one
  // row per target that gets the event: the approval's `notify` list ("webhook:<name>",
  // "slack", "slack:#channel"), or, when that list is empty, every webhook subscribed to the event
  // and Slack (when configured and subscribed). Targets not in the config are skipped.
  store::OutboxFactory OutboxFactory();

  void SetReviewBaseUrl(std::string url);

  // Starts the worker thread (idempotent). It delivers due rows, scans for reminders at most
  // every poll interval, and is woken by the store's change feed.
  Status Start();
  // Stops and joins the worker. Rows not yet delivered stay in the outbox for the next start.
  void Stop();

  // One delivery pass with the injected clock, on the calling thread: reminder/escalation scan,
  // then every row due now (in batches until none is due). For tests and tools. Serialised with
  // the worker's passes.
  RunReport RunOnce();

  // The /slack/actions handler (register with ReviewServer::AddPlainRoute("POST", …)). Verifies
  // the Slack signature (v0, 5-minute window, constant-time, replays refused), maps the Slack
  // user to a reviewer and its role (SlackUserRole), and decides through `decisions`, the same
  // door and rules as the API (via "slack": an auditor never decides, no self-approval, quorum,
  // a reason typed into the message's reason box to reject, at most 4,096 bytes). Answers the
  // user through the interaction's response_url (an outbox row: the original message is replaced
  // with the outcome, refusals are ephemeral). Answers 401 to a bad signature, 400 to a malformed
  // payload, 200 otherwise (Slack shows an error for anything else). Refusals are audited
  // (slack.refused), at most notify.slack.refusal_audit_per_minute a minute.
  // REQUIRES: `decisions` outlives the handler.
  review::PlainHandler SlackActionsHandler(review::DecisionService& decisions);

  // Re-enables an endpoint disabled by a 410 (target "webhook:<name>" or "slack"); with
  // requeue_dead, also requeues the rows that were given up because it was disabled. Returns how
  // many rows were requeued. kNotFound for a target that is not configured.
  Result<int> EnableEndpoint(const std::string& target, bool requeue_dead = true);
  std::vector<EndpointState> Endpoints() const;

  NotifierCounters Counters() const;
  const NotifyConfig& config() const;

  class Impl;

 private:
  explicit Notifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdgate::notify
