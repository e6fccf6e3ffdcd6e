#pragma once
// Notifier::Impl, shared by notifier.cpp (factory, worker, delivery), slack_actions.cpp and
// reminders.cpp. Internal to notify/.
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "notify/notifier.h"
#include "notify/slack_signature.h"
#include "review/decision_service.h"
#include "store/audit_throttle.h"

namespace holdgate::notify {

// Outbox payload kinds.
inline constexpr char kKindWebhook[] = "webhook";
inline constexpr char kKindSlack[] = "slack";
inline constexpr char kKindSlackResponse[] = "slack_response";
// The target of response_url replies.
inline constexpr char kSlackResponseTarget[] = "slack-response";

class Notifier::Impl {
 public:
  Impl(NotifyConfig config, store::Store& store, const Clock& clock, std::string review_base_url);
  ~Impl();

  Status LoadEndpointState();

  // ---- rows (notifier.cpp) --------------------------------------------------------------------
  // Targets of `approval` that get `event_type` (see Notifier::OutboxFactory).
  std::vector<std::string> TargetsFor(const store::Approval& approval, const std::string& event_type) const;
  // One row for one target, or nullopt when the target is not configured.
  std::optional<store::NewOutboxRow> BuildRow(const std::string& target, const std::string& event_type,
                                              const store::Approval& approval, int64_t at_ms, int n,
                                              const Json& extra, const std::string& note) const;
  std::vector<store::NewOutboxRow> FactoryRows(const std::string& event_type, const store::Approval& approval) const;
  std::string ReviewBase() const;
  void SetReviewBase(std::string url);

  // ---- worker (notifier.cpp) ------------------------------------------------------------------
  Status Start();
  void Stop();
  void Wake();
  RunReport RunPass(bool scan_reminders);

  // ---- endpoints (notifier.cpp) ---------------------------------------------------------------
  bool IsDisabled(const std::string& target, std::string* why) const;
  void Disable(const std::string& target, const std::string& why);
  Result<int> Enable(const std::string& target, bool requeue_dead);
  std::vector<EndpointState> Endpoints() const;

  // ---- reminders (reminders.cpp) --------------------------------------------------------------
  // REQUIRES: run_mu_ held.
  void ScanReminders(int64_t now_ms, RunReport* report);

  // ---- Slack (slack_actions.cpp) --------------------------------------------------------------
  review::PlainResponse HandleSlackAction(const review::PlainRequest& req, review::DecisionService& decisions);

  NotifierCounters Counters() const;

  const NotifyConfig config_;
  store::Store& store_;
  const Clock& clock_;

 private:
  struct FailingTarget {
    std::string status;
    int64_t next_ms = 0;
  };
  struct ReminderState {
    int last_reminder = 0;
    bool escalated = false;
  };

  void WorkerLoop();
  // Delivers one claimed row. REQUIRES: run_mu_ held.
  void DeliverRow(const store::OutboxRow& row, int64_t now_ms, RunReport* report,
                  std::map<std::string, FailingTarget>* failing);
  // The HTTP request of one row, by kind. Fills *request_failed_permanently for payloads that can
  // never be sent (unknown kind, bad URL).
  bool BuildRequest(const store::OutboxRow& row, std::string* url, std::vector<std::pair<std::string, std::string>>* headers,
                    std::string* body, std::string* ca_file, int64_t now_ms, std::string* fatal) const;
  void Retry(const store::OutboxRow& row, int64_t now_ms, const std::string& status, int64_t retry_after_ms,
             RunReport* report, std::map<std::string, FailingTarget>* failing);
  void GiveUp(const store::OutboxRow& row, const std::string& status, RunReport* report);
  double Jitter();

  // Reminders (reminders.cpp).
  ReminderState& LoadReminderState(const std::string& approval_id);
  void SendReminder(const store::Approval& a, int n, int64_t now_ms, RunReport* report);
  void SendEscalation(const store::Approval& a, int64_t now_ms, RunReport* report);

  // Slack (slack_actions.cpp).
  review::PlainResponse SlackRefuse(int http_status, const std::string& code, const std::string& why,
                                    const std::string& slack_user, const std::string& reviewer,
                                    const std::string& action, const std::string& approval_id,
                                    const std::string& response_url, const std::string& user_text,
                                    const std::string& remote);
  void AuditSlackRefusal(const Json& detail, const std::string& actor, const std::string& approval_id);
  bool ResponseUrlAllowed(const std::string& url) const;
  // The approval's Slack card as chat.postMessage answered it (see RecordPostedCard).
  void RecordPostedCard(const store::OutboxRow& row, const std::string& answer);
  bool PostedCard(const store::OutboxRow& row, std::string* channel, std::string* ts) const;
  void EnqueueEphemeral(const std::string& response_url, const std::string& text);

  mutable std::mutex url_mu_;
  std::string review_base_url_;  // guarded by url_mu_

  mutable std::mutex ep_mu_;
  std::map<std::string, std::string> disabled_;  // target -> why; guarded by ep_mu_

  std::mutex run_mu_;  // serialises delivery passes (worker and RunOnce)
  std::mt19937_64 rng_;                                 // guarded by run_mu_
  std::map<std::string, ReminderState> reminder_state_;  // guarded by run_mu_
  int64_t last_reminder_scan_ms_ = 0;                   // guarded by run_mu_

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;     // guarded by wake_mu_
  bool stop_ = false;     // guarded by wake_mu_
  bool running_ = false;  // guarded by wake_mu_
  std::thread worker_;
  int listener_id_ = -1;

  std::unique_ptr<SlackRequestVerifier> slack_verifier_;
  store::AuditThrottle slack_audit_;  // "slack.refused" events

  std::atomic<int64_t> delivered_{0}, failed_{0}, gave_up_{0}, deferred_{0}, endpoints_disabled_{0},
      reminders_{0}, escalations_{0}, slack_decisions_{0}, slack_refused_{0};

  friend class Notifier;
};

}  // namespace holdgate::notify
