// Slack Block Kit payloads: structure (block types, action ids, values), escaping, truncation of
// the arguments, the outcome card, Slack date formatting.
#include <catch2/catch.hpp>

#include <set>

#include "common/upstream_names.h"
#include "notify/payloads.h"
#include "notify/slack_blocks.h"

namespace holdgate::notify {
namespace {

constexpr int64_t kNow = 1'764'000'000'000;

store::Approval Pending() {
  store::Approval a;
  a.id = "apr_0123456789abcdef0123456789abcdef";
  a.principal = "agent <@U999> & co";
  a.tool = "cancel_job";
  a.arguments = Json{{"job_id", 42}, {"note", "a < b && c > d"}};
  a.fingerprint = std::string(64, 'f');
  a.rule = "tools.cancel_job";
  a.risk = Json{{"level", "critical"}, {"category", "Destructive"}};
  a.state = store::State::kPending;
  a.approvers_needed = 2;
  a.created_at_ms = kNow - 60'000;
  a.expires_at_ms = kNow + 10 * 60'000;
  a.updated_at_ms = a.created_at_ms;
  return a;
}

SlackRender Render() {
  SlackRender r;
  r.review_url = ReviewLink("http://127.0.0.1:8081", "apr_0123456789abcdef0123456789abcdef");
  r.now_ms = kNow;
  r.event_type = "approval.created";
  return r;
}

std::vector<std::string> BlockTypes(const Json& msg) {
  std::vector<std::string> out;
  for (const auto& b : msg["blocks"]) out.push_back(b["type"].get<std::string>());
  return out;
}

const Json* FindBlock(const Json& msg, const std::string& type) {
  for (const auto& b : msg["blocks"]) {
    if (b["type"] == type) return &b;
  }
  return nullptr;
}

std::string AllText(const Json& msg) { return msg.dump(); }

TEST_CASE("Slack card: documented Block Kit structure while pending", "[notify][slack][blocks]") {
  const Json msg = SlackMessage(Pending(), Render());
  REQUIRE(msg.is_object());
  REQUIRE(msg["text"].is_string());
  CHECK_FALSE(msg["text"].get<std::string>().empty());
  REQUIRE(msg["blocks"].is_array());
  CHECK(msg["blocks"].size() <= 50);
  CHECK(BlockTypes(msg) == std::vector<std::string>{"header", "section", "section", "input", "actions", "context"});

  const Json& header = msg["blocks"][0];
  CHECK(header["text"]["type"] == "plain_text");
  CHECK(header["text"]["text"] == "Approval needed: cancel_job");

  const Json& fields = msg["blocks"][1]["fields"];
  REQUIRE(fields.is_array());
  CHECK(fields.size() <= 10);
  std::set<std::string> labels;
  for (const auto& f : fields) {
    CHECK(f["type"] == "mrkdwn");
    CHECK(f["text"].get<std::string>().size() <= 2000);
    const std::string t = f["text"];
    labels.insert(t.substr(0, t.find('\n')));
  }
  CHECK(labels == std::set<std::string>{"*Tool*", "*Principal*", "*Risk*", "*Rule*", "*Expires*", "*Approvals*"});
  const std::string all = AllText(msg);
  CHECK(all.find("critical (Destructive)") != std::string::npos);
  CHECK(all.find("0 of 2") != std::string::npos);
  // Expiry: Slack date formatting with a fallback (each reader's own time zone); no relative
  // countdown, which a posted card could not keep current.
  CHECK(all.find("<!date^" + std::to_string((kNow + 600'000) / 1000) + "^{date_short_pretty} {time}|") !=
        std::string::npos);
  CHECK(all.find("(in 10m") == std::string::npos);

  const Json* input = FindBlock(msg, "input");
  REQUIRE(input != nullptr);
  CHECK((*input)["block_id"] == kSlackReasonBlock);
  CHECK((*input)["optional"] == true);
  CHECK((*input)["label"]["type"] == "plain_text");
  CHECK((*input)["element"]["type"] == "plain_text_input");
  CHECK((*input)["element"]["action_id"] == kSlackReasonAction);

  const Json* actions = FindBlock(msg, "actions");
  REQUIRE(actions != nullptr);
  const Json& el = (*actions)["elements"];
  REQUIRE(el.size() == 3);
  std::set<std::string> ids;
  for (const auto& b : el) {
    CHECK(b["type"] == "button");
    CHECK(b["text"]["type"] == "plain_text");
    CHECK(b["text"]["text"].get<std::string>().size() <= 75);
    ids.insert(b["action_id"].get<std::string>());
  }
  CHECK(ids.size() == 3);  // action ids are unique within the block
  CHECK(el[0]["action_id"] == "holdgate_approve");
  CHECK(el[0]["value"] == "apr_0123456789abcdef0123456789abcdef");
  CHECK(el[0]["style"] == "primary");
  CHECK(el[1]["action_id"] == "holdgate_reject");
  CHECK(el[1]["value"] == "apr_0123456789abcdef0123456789abcdef");
  CHECK(el[1]["style"] == "danger");
  CHECK(el[2]["action_id"] == "holdgate_open");
  CHECK(el[2]["url"] == "http://127.0.0.1:8081/#/approvals/apr_0123456789abcdef0123456789abcdef");
  CHECK_FALSE(el[2].contains("value"));
}

TEST_CASE("Slack card: & < > are escaped in mrkdwn, never in plain_text ids", "[notify][slack][blocks]") {
  const Json msg = SlackMessage(Pending(), Render());
  const std::string principal_field = msg["blocks"][1]["fields"][1]["text"];
  CHECK(principal_field == "*Principal*\nagent &lt;@U999&gt; &amp; co");
  const std::string args = msg["blocks"][2]["text"]["text"];
  CHECK(args.find("a &lt; b &amp;&amp; c &gt; d") != std::string::npos);
  CHECK(args.find("a < b") == std::string::npos);
  // The fallback text is escaped too (it is mrkdwn).
  CHECK(msg["text"].get<std::string>().find("&lt;@U999&gt;") != std::string::npos);
  CHECK(SlackEscape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;");
  CHECK(SlackEscape("plain *bold* _x_") == "plain *bold* _x_");
}

TEST_CASE("Slack card: long arguments are truncated to about 1500 characters", "[notify][slack][blocks]") {
  store::Approval a = Pending();
  a.arguments = Json{{"blob", std::string(5000, '&')}};
  const Json msg = SlackMessage(a, Render());
  const std::string text = msg["blocks"][2]["text"]["text"];
  CHECK(text.size() <= 3000);  // section text limit
  const size_t open = text.find("```");
  const size_t close = text.find("```", open + 3);
  REQUIRE(open != std::string::npos);
  REQUIRE(close != std::string::npos);
  const std::string inside = text.substr(open + 3, close - open - 3);
  CHECK(inside.size() <= kSlackArgumentsMaxChars);
  CHECK(inside.size() > kSlackArgumentsMaxChars - 10);
  // Never cut inside an entity.
  CHECK(inside.substr(inside.size() - 5) == "&amp;");
  CHECK(text.find("truncated") != std::string::npos);

  // Short arguments are not marked truncated.
  const std::string small = SlackArgumentsBlock(Json{{"a", 1}});
  CHECK(small.find("truncated") == std::string::npos);
  CHECK(small.rfind("```", 0) == 0);
}

TEST_CASE("Slack card: backticks in arguments cannot close the code block", "[notify][slack][blocks]") {
  const std::string block = SlackArgumentsBlock(Json{{"cmd", "```rm -rf```"}});
  const std::string inner = block.substr(3, block.size() - 6);
  CHECK(inner.find("```") == std::string::npos);
  CHECK(block.substr(block.size() - 3) == "```");
}

TEST_CASE("Slack card: arguments left out when configured", "[notify][slack][blocks]") {
  SlackRender r = Render();
  r.include_arguments = false;
  const Json msg = SlackMessage(Pending(), r);
  CHECK(AllText(msg).find("job_id") == std::string::npos);
  CHECK(AllText(msg).find("not shown here") != std::string::npos);
}

TEST_CASE("Slack card: reminder and escalation headers", "[notify][slack][blocks]") {
  SlackRender r = Render();
  r.event_type = "approval.reminder";
  r.reminder = 2;
  Json msg = SlackMessage(Pending(), r);
  CHECK(msg["blocks"][0]["text"]["text"] == "Reminder: approval needed for cancel_job");
  CHECK(msg["blocks"].back()["elements"][0]["text"].get<std::string>().find("reminder 2") != std::string::npos);
  r.event_type = "approval.escalated";
  r.note = "Escalated <now>";
  msg = SlackMessage(Pending(), r);
  CHECK(msg["blocks"][0]["text"]["text"] == "Escalated: approval needed for cancel_job");
  CHECK(msg["blocks"].back()["elements"][0]["text"].get<std::string>().find("Escalated &lt;now&gt;") !=
        std::string::npos);
}

TEST_CASE("Slack outcome card: no decision buttons once decided", "[notify][slack][blocks]") {
  store::Approval a = Pending();
  a.state = store::State::kRejected;
  a.decided_by = "alice";
  a.decided_via = "slack";
  a.decided_at_ms = kNow;
  a.reason = "not during <business> hours";
  a.votes.push_back(store::Vote{a.id, "alice", false, "slack", a.reason, kNow});
  const Json msg = SlackMessage(a, Render());
  CHECK(msg["blocks"][0]["text"]["text"] == "Rejected: cancel_job");
  CHECK(FindBlock(msg, "input") == nullptr);
  const std::string all = AllText(msg);
  CHECK(all.find("holdgate_approve") == std::string::npos);
  CHECK(all.find("holdgate_reject") == std::string::npos);
  CHECK(all.find("not during &lt;business&gt; hours") != std::string::npos);
  CHECK(all.find("alice via slack") != std::string::npos);
  CHECK(all.find("alice rejected via slack") != std::string::npos);
  const Json* actions = FindBlock(msg, "actions");
  REQUIRE(actions != nullptr);  // only the review-page link
  REQUIRE((*actions)["elements"].size() == 1);
  CHECK((*actions)["elements"][0]["action_id"] == "holdgate_open");
}

TEST_CASE("Slack: header text is capped at 150 characters", "[notify][slack][blocks]") {
  store::Approval a = Pending();
  a.tool = std::string(400, 't');
  const Json msg = SlackMessage(a, Render());
  CHECK(msg["blocks"][0]["text"]["text"].get<std::string>().size() <= 150);
}

TEST_CASE("TruncateUtf8 never splits a character", "[notify][slack]") {
  const std::string s = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80!";  // héllo € 😀!
  CHECK(TruncateUtf8(s, 2) == "h\xc3\xa9");
  CHECK(TruncateUtf8(s, 7) == "h\xc3\xa9llo \xe2\x82\xac");
  CHECK(TruncateUtf8(s, 9) == "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(TruncateUtf8(s, 100) == s);
  CHECK(TruncateUtf8(s, 0).empty());
}

TEST_CASE("Countdown and Slack dates", "[notify][slack]") {
  CHECK(Countdown(kNow + 45'000, kNow) == "in 45s");
  CHECK(Countdown(kNow + 125'000, kNow) == "in 2m 5s");
  CHECK(Countdown(kNow + 3 * 3'600'000 + 60'000, kNow) == "in 3h 1m");
  CHECK(Countdown(kNow + 50 * 3'600'000LL, kNow) == "in 2d 2h");
  CHECK(Countdown(kNow - 1, kNow) == "overdue");
  CHECK(SlackDate(1'700'000'000'123) == "<!date^1700000000^{date_short_pretty} {time}|2023-11-14T22:13:20.123Z>");
}

TEST_CASE("webhook body: Standard Webhooks shape, arguments optional", "[notify][payload]") {
  store::Approval a = Pending();
  Json body = WebhookBody(a, "approval.created", kNow, "https://review.example.com/", true, Json{{"reminder", 1}});
  CHECK(body["type"] == "approval.created");
  CHECK(body["timestamp"] == "2025-11-24T16:00:00.000Z");
  const Json& d = body["data"];
  CHECK(d["id"] == a.id);
  CHECK(d["tool"] == "cancel_job");
  CHECK(d["principal"] == a.principal);
  CHECK(d["arguments"] == a.arguments);
  CHECK(d["risk"]["level"] == "critical");
  CHECK(d["state"] == "pending");
  CHECK(d["review_url"] == "https://review.example.com/#/approvals/" + a.id);
  CHECK(d["reminder"] == 1);
  CHECK_FALSE(d.contains("decided_by"));

  a.state = store::State::kApproved;
  a.decided_by = "bob";
  a.decided_via = "ui";
  a.decided_at_ms = kNow;
  body = WebhookBody(a, "approval.approved", kNow, "https://r", false);
  CHECK_FALSE(body["data"].contains("arguments"));
  CHECK(body["data"]["arguments_sha256"] == a.fingerprint);
  CHECK(body["data"]["decided_by"] == "bob");
  CHECK(body["data"]["decided_via"] == "ui");
  CHECK(body["data"].contains("reason"));
}

TEST_CASE("message ids are stable per (approval, event, target, n)", "[notify][payload]") {
  const std::string a = MessageId("apr_1", "approval.created", "webhook:ops");
  CHECK(a == MessageId("apr_1", "approval.created", "webhook:ops"));
  CHECK(a.rfind("msg_", 0) == 0);
  CHECK(a.size() == 36);
  CHECK(a != MessageId("apr_1", "approval.created", "webhook:audit"));
  CHECK(a != MessageId("apr_2", "approval.created", "webhook:ops"));
  CHECK(MessageId("apr_1", "approval.reminder", "webhook:ops", 1) !=
        MessageId("apr_1", "approval.reminder", "webhook:ops", 2));
}


TEST_CASE("the card shows why the rule holds the call and offers Remember only where the rule allows it",
          "[notify][slack]") {
  store::Approval a;
  a.id = "apr_0123456789ab0123456789abcdef012345";
  a.tool = "cancel_job";
  a.principal = "agent-1";
  a.arguments = Json{{"job_id", 1}};
  a.fingerprint = std::string(64, 'a');
  a.rule = "tools.cancel_job";
  a.rule_reason = "kills the job <now> & forever";
  a.created_at_ms = 1'800'000'000'000;
  a.expires_at_ms = a.created_at_ms + 600'000;
  SlackRender r;
  r.now_ms = a.created_at_ms;
  r.event_type = "approval.created";
  std::string all = SlackMessage(a, r).dump();
  CHECK(all.find("*Why held*") != std::string::npos);
  CHECK(all.find("kills the job &lt;now&gt; &amp; forever") != std::string::npos);  // escaped
  CHECK(all.find(kSlackRememberAction) == std::string::npos);  // not rememberable: no choice

  a.remember_max_ms = 60 * 60'000;
  Json msg = SlackMessage(a, r);
  const Json* remember = nullptr;
  for (const auto& b : msg["blocks"]) {
    if (b.value("block_id", "") == kSlackRememberBlock) remember = &b;
  }
  REQUIRE(remember != nullptr);
  const Json& options = (*remember)["element"]["options"];
  CHECK((*remember)["element"]["action_id"] == kSlackRememberAction);
  CHECK(options.front()["value"] == "no");
  CHECK((*remember)["element"]["initial_option"]["value"] == "no");
  CHECK(options.back()["value"] == "1h");  // the rule's cap is the longest choice
  for (const auto& o : options) CHECK(o["value"] != "4h");

  a.approvers_needed = 2;  // a quorum cannot be remembered by one reviewer
  CHECK(SlackMessage(a, r).dump().find(kSlackRememberAction) == std::string::npos);
}

TEST_CASE("webhook body and Slack card name the upstream when there are several", "[notify][payload]") {
  GlobalUpstreamNames().Set({{"demo", "demo_"}, {"ml", ""}});
  store::Approval a = Pending();
  a.tool = "demo_cancel_job";
  CHECK(WebhookBody(a, "approval.created", kNow, "https://r", false)["data"]["upstream"] == "demo");
  CHECK(SlackMessage(a, Render()).dump().find("*Upstream*\\ndemo") != std::string::npos);
  a.tool = "fit";  // the upstream with the empty prefix
  CHECK(WebhookBody(a, "approval.created", kNow, "https://r", false)["data"]["upstream"] == "ml");
  GlobalUpstreamNames().Set({});  // one upstream: no name
  CHECK_FALSE(WebhookBody(a, "approval.created", kNow, "https://r", false)["data"].contains("upstream"));
  CHECK(SlackMessage(a, Render()).dump().find("Upstream") == std::string::npos);
}

}  // namespace
}  // namespace holdgate::notify
