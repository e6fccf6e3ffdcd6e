#pragma once
// NotifyConfig: the parsed `notify` section of the config file (webhooks, Slack, reminders,
// delivery tuning). Plain values, immutable once parsed; thread-compatible. Parsing never throws
// and names the JSON path of the first error ("notify.webhooks[0].secret: …").
//
//   "notify": {
//     "webhooks": [{"name": "ops", "url": "https://hooks.example.com/holdgate",
//                   "secret": "whsec_<base64>" | ["whsec_new", "whsec_old"],   // or "secret_env": "VAR"
//                   "events": ["approval.created", "approval.approved", …] | ["*"],  // default: all
//                   "include_arguments": true, "ca_file": "/etc/ssl/private-ca.pem",
//                   "allow_http": false}],          // plain http: loopback hosts only, unless true
//     "slack": {"webhook_url": "https://hooks.slack.com/services/…"          // incoming webhook, or
//               | "bot_token": "xoxb-…" (or "bot_token_env") + "channel": "#approvals",
//               "signing_secret": "…" (or "signing_secret_env"),            // enables /slack/actions
//               "users": {"U123": "alice"}, "roles": {"U123": ["reviewer"]},
//               "events": […], "include_arguments": true, "api_url": "https://slack.com/api",
//               "refusal_audit_per_minute": 60},
//     "reminders": {"after": "10m", "every": "10m", "escalate_after": "20m",
//                   "escalate_to": "webhook:oncall" | ["webhook:oncall", "slack:#oncall"]},
//     "delivery": {"poll_interval": "1s", "give_up_after": "24h", "batch": 20,
//                  "connect_timeout": "5s", "request_timeout": "15s"}
//   }
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"

namespace holdgate::notify {

// Event types a target can subscribe to (the webhook payload's `type`).
inline constexpr const char* kEventCreated = "approval.created";
inline constexpr const char* kEventApproved = "approval.approved";
inline constexpr const char* kEventRejected = "approval.rejected";
inline constexpr const char* kEventExpired = "approval.expired";
inline constexpr const char* kEventCancelled = "approval.cancelled";
inline constexpr const char* kEventLapsed = "approval.lapsed";
inline constexpr const char* kEventExecuting = "approval.executing";
inline constexpr const char* kEventCompleted = "approval.completed";
inline constexpr const char* kEventFailed = "approval.failed";
inline constexpr const char* kEventReminder = "approval.reminder";
inline constexpr const char* kEventEscalated = "approval.escalated";

// Every event type above, in lifecycle order.
const std::vector<std::string>& AllEventTypes();
bool IsKnownEventType(const std::string& type);

struct WebhookConfig {
  std::string name;  // target "webhook:<name>"
  std::string url;
  // Raw HMAC keys (base64-decoded from "whsec_…"), newest first. Every key signs each delivery.
  std::vector<std::string> keys;
  std::vector<std::string> events;  // subscribed event types (expanded; never empty)
  bool include_arguments = true;
  std::string ca_file;  // extra trust anchor for HTTPS (empty: the system store)
  bool allow_http = false;

  bool Subscribed(const std::string& event_type) const;
};

struct SlackConfig {
  bool enabled = false;      // a "slack" object was given
  std::string webhook_url;   // incoming webhook (fixed channel)
  std::string bot_token;     // chat.postMessage with Authorization: Bearer
  std::string channel;       // default channel for the bot
  std::string api_url = "https://slack.com/api";
  std::string signing_secret;
  std::map<std::string, std::string> users;               // Slack user id -> reviewer name
  std::map<std::string, std::vector<std::string>> roles;  // Slack user id -> reviewer roles
  std::vector<std::string> events;
  bool include_arguments = true;
  int refusal_audit_per_minute = 60;
  std::string ca_file;

  bool CanPost() const { return !webhook_url.empty() || !bot_token.empty(); }
  bool Subscribed(const std::string& event_type) const;
};

struct ReminderConfig {
  int64_t after_ms = 0;           // first reminder this long after creation (0 = no reminders)
  int64_t every_ms = 0;           // then every this long (0 = only one reminder)
  int64_t escalate_after_ms = 0;  // escalate once, this long after creation (0 = never)
  std::vector<std::string> escalate_to;  // targets, e.g. "webhook:oncall"

  bool enabled() const { return after_ms > 0 || (escalate_after_ms > 0 && !escalate_to.empty()); }
};

struct DeliveryConfig {
  int64_t poll_interval_ms = 1000;
  int64_t give_up_after_ms = 24LL * 3600 * 1000;
  int batch = 20;
  int64_t connect_timeout_ms = 5000;
  int64_t request_timeout_ms = 15000;  // read/write timeout and the whole-response deadline
};

struct NotifyConfig {
  std::vector<WebhookConfig> webhooks;
  SlackConfig slack;
  ReminderConfig reminders;
  DeliveryConfig delivery;

  const WebhookConfig* FindWebhook(const std::string& name) const;
};

// Parses the `notify` section (null or {} = nothing configured). `base_dir` resolves relative
// ca_file paths. Secrets named by *_env keys are read from the environment here.
Result<NotifyConfig> ParseNotifyConfig(const Json& notify, const std::string& base_dir = "");

// "whsec_<base64>" (the prefix is optional) -> the raw key. kInvalidArgument when the base64 is
// malformed or the key is shorter than 24 bytes (Standard Webhooks: 24..64 bytes).
Result<std::string> DecodeWebhookSecret(const std::string& secret);

}  // namespace holdgate::notify
