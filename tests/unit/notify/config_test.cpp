// The notify config section: what is accepted, and errors that name the JSON path.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "common/crypto.h"
#include "notify/notify_config.h"

namespace holdgate::notify {
namespace {

const std::string kSecret = "whsec_" + Base64Encode(std::string(32, 's'));

Json Hook(const std::string& name = "ops", const std::string& url = "https://hooks.example.com/h") {
  return Json{{"name", name}, {"url", url}, {"secret", kSecret}};
}

std::string ErrorOf(const Json& notify) {
  auto r = ParseNotifyConfig(notify);
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

TEST_CASE("notify config: nothing configured", "[notify][config]") {
  auto r = ParseNotifyConfig(Json());
  REQUIRE(r.ok());
  CHECK(r->webhooks.empty());
  CHECK_FALSE(r->slack.enabled);
  CHECK_FALSE(r->reminders.enabled());
  CHECK(ParseNotifyConfig(Json::object()).ok());
}

TEST_CASE("notify config: a full example", "[notify][config]") {
  const std::string old_secret = "whsec_" + Base64Encode(std::string(24, 'o'));
  Json j = {
      {"webhooks", {Hook(), {{"name", "audit"}, {"url", "http://127.0.0.1:9/x"}, {"secret", {kSecret, old_secret}},
                             {"events", {"created", "approval.approved", "approval.rejected"}},
                             {"include_arguments", false}}}},
      {"slack", {{"webhook_url", "https://hooks.slack.com/services/T/B/X"},
                 {"signing_secret", "0123456789abcdef0123456789abcdef"},
                 {"users", {{"U1", "alice"}, {"U2", "bob"}}},
                 {"roles", {{"U1", {"reviewer", "sre"}}}}}},
      {"reminders", {{"after", "10m"}, {"every", "10m"}, {"escalate_after", "20m"}, {"escalate_to", "webhook:ops"}}},
      {"delivery", {{"poll_interval", "500ms"}, {"give_up_after", "2h"}, {"batch", 5}}},
  };
  auto r = ParseNotifyConfig(j);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  REQUIRE(r->webhooks.size() == 2);
  const WebhookConfig& ops = r->webhooks[0];
  CHECK(ops.keys.size() == 1);
  CHECK(ops.keys[0] == std::string(32, 's'));
  CHECK(ops.events.size() == AllEventTypes().size());  // default: everything
  CHECK(ops.include_arguments);
  const WebhookConfig& audit = r->webhooks[1];
  CHECK(audit.keys.size() == 2);
  CHECK(audit.keys[1] == std::string(24, 'o'));
  CHECK(audit.events == std::vector<std::string>{"approval.created", "approval.approved", "approval.rejected"});
  CHECK(audit.Subscribed("approval.created"));
  CHECK_FALSE(audit.Subscribed("approval.reminder"));
  CHECK_FALSE(audit.include_arguments);
  CHECK(r->FindWebhook("audit") == &r->webhooks[1]);
  CHECK(r->FindWebhook("nope") == nullptr);

  CHECK(r->slack.enabled);
  CHECK(r->slack.CanPost());
  CHECK(r->slack.users.at("U2") == "bob");
  CHECK(r->slack.roles.at("U1") == std::vector<std::string>{"reviewer", "sre"});
  CHECK(r->slack.Subscribed("approval.created"));
  CHECK(r->slack.Subscribed("approval.reminder"));
  CHECK_FALSE(r->slack.Subscribed("approval.executing"));  // Slack default: no execution noise

  CHECK(r->reminders.after_ms == 600'000);
  CHECK(r->reminders.every_ms == 600'000);
  CHECK(r->reminders.escalate_after_ms == 1'200'000);
  CHECK(r->reminders.escalate_to == std::vector<std::string>{"webhook:ops"});
  CHECK(r->delivery.poll_interval_ms == 500);
  CHECK(r->delivery.give_up_after_ms == 7'200'000);
  CHECK(r->delivery.batch == 5);
}

TEST_CASE("notify config: errors name the JSON path", "[notify][config]") {
  CHECK(ErrorOf({{"webhook", Json::array()}}).rfind("notify.webhook:", 0) == 0);
  CHECK(ErrorOf({{"webhooks", {Hook("ops", "http://hooks.example.com/h")}}}).rfind("notify.webhooks[0].url:", 0) == 0);
  CHECK(ErrorOf({{"webhooks", {Hook("ops", "https://hooks.example.com:99999/")}}})
            .rfind("notify.webhooks[0].url:", 0) == 0);
  CHECK(ErrorOf({{"webhooks", {Hook(), Hook()}}}).rfind("notify.webhooks[1].name: duplicate", 0) == 0);
  CHECK(ErrorOf({{"webhooks", {Hook("bad name")}}}).rfind("notify.webhooks[0].name:", 0) == 0);
  Json no_secret = Hook();
  no_secret.erase("secret");
  CHECK(ErrorOf({{"webhooks", {no_secret}}}).rfind("notify.webhooks[0].secret: is required", 0) == 0);
  Json short_secret = Hook();
  short_secret["secret"] = "whsec_" + Base64Encode("short");
  CHECK(ErrorOf({{"webhooks", {short_secret}}}).find("24 to 64 random bytes") != std::string::npos);
  Json rotated_bad = Hook();
  rotated_bad["secret"] = {kSecret, "whsec_!!"};
  CHECK(ErrorOf({{"webhooks", {rotated_bad}}}).rfind("notify.webhooks[0].secret[1]:", 0) == 0);
  Json bad_event = Hook();
  bad_event["events"] = {"created", "approval.exploded"};
  CHECK(ErrorOf({{"webhooks", {bad_event}}}).rfind("notify.webhooks[0].events[1]: unknown event type", 0) == 0);
  Json typo = Hook();
  typo["include_args"] = true;
  CHECK(ErrorOf({{"webhooks", {typo}}}).rfind("notify.webhooks[0].include_args: unknown setting", 0) == 0);
  CHECK(ErrorOf({{"reminders", {{"escalate_after", "20m"}}}}).rfind("notify.reminders.escalate_to", 0) == 0);
  CHECK(ErrorOf({{"reminders", {{"escalate_after", "20m"}, {"escalate_to", "webhook:ghost"}}}})
            .find("webhook:ghost") != std::string::npos);
  CHECK(ErrorOf({{"reminders", {{"after", "soon"}}}}).rfind("notify.reminders.after:", 0) == 0);
  CHECK(ErrorOf({{"slack", {{"webhook_url", "https://hooks.slack.com/x"}, {"bot_token", "xoxb-1"}}}})
            .find("not both") != std::string::npos);
  CHECK(ErrorOf({{"slack", {{"roles", {{"U9", {"reviewer"}}}}}}}).rfind("notify.slack.roles.U9", 0) == 0);
  CHECK(ErrorOf({{"slack", {{"users", {{"U1", 5}}}}}}).rfind("notify.slack.users.U1", 0) == 0);
  CHECK(ErrorOf({{"delivery", {{"batch", 0}}}}).rfind("notify.delivery.batch", 0) == 0);
}

TEST_CASE("notify config: plain http only for loopback unless allow_http", "[notify][config]") {
  CHECK(ParseNotifyConfig({{"webhooks", {Hook("a", "http://localhost:8080/h")}}}).ok());
  CHECK(ParseNotifyConfig({{"webhooks", {Hook("a", "http://[::1]:8080/h")}}}).ok());
  Json j = Hook("a", "http://receiver.internal/h");
  CHECK_FALSE(ParseNotifyConfig({{"webhooks", {j}}}).ok());
  j["allow_http"] = true;
  CHECK(ParseNotifyConfig({{"webhooks", {j}}}).ok());
}

TEST_CASE("notify config: secrets from the environment", "[notify][config]") {
  const std::string a = "whsec_" + Base64Encode(std::string(24, 'a'));
  const std::string b = "whsec_" + Base64Encode(std::string(24, 'b'));
  ::setenv("HG_NOTIFY_TEST_SECRET", (a + " " + b).c_str(), 1);
  Json j = {{"name", "ops"}, {"url", "https://x.example.com/"}, {"secret_env", "HG_NOTIFY_TEST_SECRET"}};
  auto r = ParseNotifyConfig({{"webhooks", {j}}});
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->webhooks[0].keys == std::vector<std::string>{std::string(24, 'a'), std::string(24, 'b')});
  ::unsetenv("HG_NOTIFY_TEST_SECRET");
  CHECK(ErrorOf({{"webhooks", {j}}}).find("HG_NOTIFY_TEST_SECRET is not set") != std::string::npos);
}

TEST_CASE("notify config: event wildcards", "[notify][config]") {
  Json j = Hook();
  j["events"] = {"*"};
  auto r = ParseNotifyConfig({{"webhooks", {j}}});
  REQUIRE(r.ok());
  CHECK(r->webhooks[0].events.size() == AllEventTypes().size());
  j["events"] = {"approval.*", "created"};
  r = ParseNotifyConfig({{"webhooks", {j}}});
  REQUIRE(r.ok());
  CHECK(r->webhooks[0].events.size() == AllEventTypes().size());
  j["events"] = Json::array();
  CHECK_FALSE(ParseNotifyConfig({{"webhooks", {j}}}).ok());
}

}  // namespace
}  // namespace holdgate::notify
