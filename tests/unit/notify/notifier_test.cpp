// The Notifier without a network: the outbox factory (which targets get which events, written in
// the approval's transaction) and reminder / escalation timing with an injected clock.
#include <catch2/catch.hpp>

#include <filesystem>

#include "common/crypto.h"
#include "notify/notifier.h"
#include "store/store.h"
#include "support/fake_clock.h"

namespace holdgate::notify {
namespace {

constexpr int64_t kMin = 60'000;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hg_notify_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

const std::string kSecret = "whsec_" + Base64Encode(std::string(32, 'k'));

// Receivers on a closed loopback port: deliveries fail at once (connection refused).
Json Hook(const std::string& name, Json events = nullptr) {
  Json h = {{"name", name}, {"url", "http://127.0.0.1:1/" + name}, {"secret", kSecret}};
  if (!events.is_null()) h["events"] = std::move(events);
  return h;
}

struct Env {
  TempDir dir;
  testing::FakeClock clock;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Notifier> notifier;

  explicit Env(const Json& notify_config) {
    auto s = store::Store::Open(dir.File("holdgate.db"), clock);
    REQUIRE(s.ok());
    store = std::move(*s);
    MakeNotifier(notify_config);
  }
  void MakeNotifier(const Json& notify_config) {
    notifier.reset();
    auto n = Notifier::Create(notify_config, *store, clock, "http://review.test");
    INFO(n.status().ToString());
    REQUIRE(n.ok());
    notifier = std::move(*n);
    store->SetOutboxFactory(notifier->OutboxFactory());
  }
  store::Approval Create(Json notify = Json::array(), int64_t timeout_ms = 60 * kMin) {
    store::NewApproval n;
    n.principal = "agent-1";
    n.tool = "cancel_job";
    n.arguments = Json{{"job_id", 7}};
    n.rule = "tools.cancel_job";
    n.risk = Json{{"level", "critical"}};
    n.timeout_ms = timeout_ms;
    n.notify = std::move(notify);
    auto a = store->CreatePending(n);
    INFO(a.status().ToString());
    REQUIRE(a.ok());
    return *a;
  }
  std::vector<store::OutboxRow> Rows(const std::string& approval_id = "") {
    store::OutboxFilter f;
    f.approval_id = approval_id;
    f.limit = 1000;
    auto r = store->ListOutbox(f);
    REQUIRE(r.ok());
    return *r;
  }
  std::vector<store::OutboxRow> RowsOfEvent(const std::string& event) {
    std::vector<store::OutboxRow> out;
    for (auto& r : Rows()) {
      if (r.event_type == event) out.push_back(r);
    }
    return out;
  }
  int AuditCount(const std::string& type, const std::string& approval_id) {
    store::AuditFilter f;
    f.type = type;
    f.approval_id = approval_id;
    f.limit = 1000;
    auto r = store->ListAudit(f);
    REQUIRE(r.ok());
    return static_cast<int>(r->events.size());
  }
};

std::vector<std::string> Targets(const std::vector<store::OutboxRow>& rows) {
  std::vector<std::string> t;
  for (const auto& r : rows) t.push_back(r.target);
  std::sort(t.begin(), t.end());
  return t;
}

const Json kConfig = {
    {"webhooks", {Hook("ops"), Hook("audit", {"approval.approved", "approval.rejected"}), Hook("oncall", {"created"})}},
    {"slack", {{"webhook_url", "http://127.0.0.1:1/slack"}}},
};

TEST_CASE("factory: the policy's notify list picks the targets", "[notify][factory]") {
  Env env(kConfig);
  store::Approval a = env.Create({"webhook:ops", "slack:#ml-approvals", "webhook:ghost", "email:x"});
  auto rows = env.Rows(a.id);
  CHECK(Targets(rows) == std::vector<std::string>{"slack:#ml-approvals", "webhook:ops"});
  for (const auto& r : rows) {
    CHECK(r.event_type == "approval.created");
    CHECK(r.state == store::OutboxState::kPending);
    CHECK(r.approval_id == a.id);
  }
  const store::OutboxRow& hook = rows[0].target == "webhook:ops" ? rows[0] : rows[1];
  CHECK(hook.payload["kind"] == "webhook");
  CHECK(hook.payload["msg_id"].get<std::string>().rfind("msg_", 0) == 0);
  const Json& body = hook.payload["body"];
  CHECK(body["type"] == "approval.created");
  CHECK(body["data"]["id"] == a.id);
  CHECK(body["data"]["arguments"]["job_id"] == 7);
  CHECK(body["data"]["review_url"] == "http://review.test/#/approvals/" + a.id);
  const store::OutboxRow& slack = rows[0].target == "webhook:ops" ? rows[1] : rows[0];
  CHECK(slack.payload["kind"] == "slack");
  CHECK(slack.payload["channel"] == "#ml-approvals");
  CHECK(slack.payload["message"]["blocks"].is_array());
}

TEST_CASE("factory: without a list, every subscribed webhook and Slack", "[notify][factory]") {
  Env env(kConfig);
  store::Approval a = env.Create();
  CHECK(Targets(env.Rows(a.id)) == std::vector<std::string>{"slack", "webhook:oncall", "webhook:ops"});

  // A reject: ops (all events), audit (subscribed), Slack; not oncall (created only).
  store::DecisionInput d;
  d.id = a.id;
  d.reviewer = "alice";
  d.via = "ui";
  d.approve = false;
  d.reason = "no";
  REQUIRE(env.store->Decide(d).ok());
  auto rejected = env.RowsOfEvent("approval.rejected");
  CHECK(Targets(rejected) == std::vector<std::string>{"slack", "webhook:audit", "webhook:ops"});
  for (const auto& r : rejected) {
    if (r.payload["kind"] == "webhook") {
      CHECK(r.payload["body"]["data"]["decided_by"] == "alice");
      CHECK(r.payload["body"]["data"]["reason"] == "no");
      CHECK(r.payload["body"]["data"]["state"] == "rejected");
    }
  }
  // Votes and comments are not notified.
  CHECK(env.RowsOfEvent("approval.vote").empty());
}

TEST_CASE("factory: the whole lifecycle reaches a subscribe-all webhook", "[notify][factory]") {
  Env env(Json{{"webhooks", {Hook("ops")}}});
  store::Approval a = env.Create({"webhook:ops"});
  store::DecisionInput d;
  d.id = a.id;
  d.reviewer = "alice";
  d.via = "api";
  d.approve = true;
  REQUIRE(env.store->Decide(d).ok());
  REQUIRE(env.store->MarkExecuting(a.id).ok());
  REQUIRE(env.store->Complete(a.id, Json{{"ok", true}}, false).ok());
  std::vector<std::string> events;
  for (const auto& r : env.Rows(a.id)) events.push_back(r.event_type);
  CHECK(events == std::vector<std::string>{"approval.created", "approval.approved", "approval.executing",
                                           "approval.completed"});
}

TEST_CASE("factory: arguments left out for a webhook that asks so", "[notify][factory]") {
  Json hook = Hook("private");
  hook["include_arguments"] = false;
  Env env(Json{{"webhooks", {hook}}});
  store::Approval a = env.Create();
  auto rows = env.Rows(a.id);
  REQUIRE(rows.size() == 1);
  CHECK_FALSE(rows[0].payload["body"]["data"].contains("arguments"));
  CHECK(rows[0].payload["body"]["data"]["arguments_sha256"] == a.fingerprint);
}

TEST_CASE("factory: nothing configured, nothing written", "[notify][factory]") {
  Env env(Json::object());
  store::Approval a = env.Create({"webhook:ops"});
  CHECK(env.Rows(a.id).empty());
}

TEST_CASE("reminders and escalation follow the injected clock, once each", "[notify][reminders]") {
  Json config = kConfig;
  config["reminders"] = {{"after", "10m"}, {"every", "10m"}, {"escalate_after", "25m"}, {"escalate_to", "webhook:oncall"}};
  Env env(config);
  const int64_t t0 = env.clock.NowMs();
  store::Approval a = env.Create({"webhook:ops"});

  env.clock.Set(t0 + 9 * kMin);
  CHECK(env.notifier->RunOnce().reminders == 0);
  CHECK(env.RowsOfEvent("approval.reminder").empty());

  env.clock.Set(t0 + 10 * kMin);
  RunReport r = env.notifier->RunOnce();
  CHECK(r.reminders == 1);
  auto reminders = env.RowsOfEvent("approval.reminder");
  REQUIRE(reminders.size() == 1);
  CHECK(reminders[0].target == "webhook:ops");  // the approval's own targets
  CHECK(reminders[0].payload["body"]["data"]["reminder"] == 1);
  CHECK(reminders[0].payload["body"]["data"]["id"] == a.id);
  CHECK(reminders[0].approval_id == a.id);  // listed with its approval in the delivery log
  CHECK(env.AuditCount("notify.reminder", a.id) == 1);

  env.clock.Set(t0 + 15 * kMin);
  CHECK(env.notifier->RunOnce().reminders == 0);
  env.clock.Set(t0 + 20 * kMin);
  CHECK(env.notifier->RunOnce().reminders == 1);
  CHECK(env.RowsOfEvent("approval.reminder").size() == 2);

  // A restart (new Notifier on the same database) does not repeat reminder 2.
  env.MakeNotifier(config);
  env.clock.Set(t0 + 21 * kMin);
  CHECK(env.notifier->RunOnce().reminders == 0);
  CHECK(env.RowsOfEvent("approval.reminder").size() == 2);

  // Escalation: once, to the escalation target, whatever its subscription ("created" only).
  env.clock.Set(t0 + 24 * kMin);
  CHECK(env.notifier->RunOnce().escalations == 0);
  env.clock.Set(t0 + 25 * kMin);
  CHECK(env.notifier->RunOnce().escalations == 1);
  env.clock.Set(t0 + 26 * kMin);
  CHECK(env.notifier->RunOnce().escalations == 0);
  auto escalated = env.RowsOfEvent("approval.escalated");
  REQUIRE(escalated.size() == 1);
  CHECK(escalated[0].target == "webhook:oncall");
  CHECK(escalated[0].approval_id == a.id);
  CHECK(escalated[0].payload["body"]["type"] == "approval.escalated");
  CHECK(escalated[0].payload["body"]["data"]["escalation"]["pending_for_ms"] == 25 * kMin);
  CHECK(env.AuditCount("notify.escalated", a.id) == 1);
  env.MakeNotifier(config);
  env.clock.Set(t0 + 27 * kMin);
  CHECK(env.notifier->RunOnce().escalations == 0);

  // After downtime only the latest due reminder is sent (no burst).
  env.clock.Set(t0 + 55 * kMin);
  r = env.notifier->RunOnce();
  CHECK(r.reminders == 1);
  reminders = env.RowsOfEvent("approval.reminder");
  REQUIRE(reminders.size() == 3);
  CHECK(reminders[2].payload["body"]["data"]["reminder"] == 5);

  // Decided: no more reminders.
  store::DecisionInput d;
  d.id = a.id;
  d.reviewer = "alice";
  d.via = "api";
  d.approve = true;
  REQUIRE(env.store->Decide(d).ok());
  env.clock.Set(t0 + 59 * kMin);
  CHECK(env.notifier->RunOnce().reminders == 0);
  CHECK(env.AuditCount("notify.reminder", a.id) == 3);
}

TEST_CASE("reminders: none once the approval has expired, none without reminders config", "[notify][reminders]") {
  Json config = kConfig;
  config["reminders"] = {{"after", "10m"}};
  Env env(config);
  const int64_t t0 = env.clock.NowMs();
  store::Approval quick = env.Create({"webhook:ops"}, 5 * kMin);
  store::Approval slow = env.Create({"webhook:ops"}, 60 * kMin);
  env.clock.Set(t0 + 12 * kMin);
  RunReport r = env.notifier->RunOnce();
  CHECK(r.reminders == 1);  // only `slow`: `quick` expired before its reminder was due
  CHECK(env.AuditCount("notify.reminder", slow.id) == 1);
  CHECK(env.AuditCount("notify.reminder", quick.id) == 0);
  env.clock.Set(t0 + 40 * kMin);
  CHECK(env.notifier->RunOnce().reminders == 0);  // "after" without "every": one reminder

  Env plain(kConfig);
  plain.Create();
  plain.clock.Advance(120 * kMin);
  CHECK(plain.notifier->RunOnce().reminders == 0);
}

}  // namespace
}  // namespace holdgate::notify
