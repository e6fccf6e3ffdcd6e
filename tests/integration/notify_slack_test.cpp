// Slack end to end on loopback: the Block Kit card reaches a fake Slack (incoming webhook); clicks
// signed exactly as Slack signs them are POSTed to the reviewer listener's /slack/actions and
// decide the approval through the store's rules (the held call's coordinator is told, the
// original message is replaced through response_url); bad signatures, stale timestamps, replays,
// unknown Slack users, self-approval and reasonless rejections are refused with nothing decided,
// each audited (rate-limited).
#include <catch2/catch.hpp>

#include <atomic>

#include "hold/hold_coordinator.h"
#include "notify/form_decode.h"
#include "notify/slack_signature.h"
#include "notify_fixture.h"
#include "support/fn_waiter.h"
#include "review/review_server.h"

namespace holdgate::notifytest {
namespace {

const std::string kSigningSecret = "e3b0c44298fc1c149afbf4c8996fb924";
const std::string kJwtSecret = "notify-integration-jwt-secret-0123456789";

Json SlackConfig(const std::string& webhook_url, int refusal_audit_per_minute = 60) {
  return Json{{"slack",
               {{"webhook_url", webhook_url},
                {"signing_secret", kSigningSecret},
                {"users", {{"U_ALICE", "alice"}, {"U_BOB", "bob"}, {"U_AGENT", "agent-1"}, {"U_CAROL", "carol"},
                           {"U_AGENT_CAPS", "Agent-1"}}},
                {"roles", {{"U_ALICE", Json::array({"reviewer", "sre"})}, {"U_CAROL", Json::array({"auditor"})}}},
                {"refusal_audit_per_minute", refusal_audit_per_minute}}}};
}

struct SlackEnv {
  Receiver slack;  // the fake Slack: incoming webhook at /services/…, response_url at /response/…
  NotifyEnv env;
  hold::HoldCoordinator coordinator;
  int feed_id = -1;
  std::unique_ptr<review::DecisionService> decisions;
  std::unique_ptr<review::ReviewServer> server;
  int response_n = 0;

  explicit SlackEnv(int refusal_audit_per_minute = 60)
      : env(SlackConfig(slack.Url("/services/T000/B000/XXXX"), refusal_audit_per_minute)) {
    feed_id = env.store->AddListener([this](const store::ChangeEvent& e) { coordinator.OnApprovalChanged(e.approval); });
    decisions = std::make_unique<review::DecisionService>(*env.store);
    review::ReviewServerConfig c;
    c.host = "127.0.0.1";
    c.port = 0;
    c.auth.hs256_secret = kJwtSecret;
    c.serve_ui = false;
    auto s = review::ReviewServer::Create(c, *env.store, *decisions, env.clock);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    server = std::move(*s);
    server->AddPlainRoute("POST", "/slack/actions", env.notifier->SlackActionsHandler(*decisions));
    REQUIRE(server->Start().ok());
    env.notifier->SetReviewBaseUrl(server->base_url());
  }
  ~SlackEnv() {
    server->Stop();
    env.store->RemoveListener(feed_id);
  }

  std::string NextResponseUrl() { return slack.Url("/response/" + std::to_string(++response_n)); }

  // The card Slack received for `approval_id` (the last one posted to the channel).
  // A pending cancel_job of agent-1 that notifies Slack; its card has been posted.
  Result<store::Approval> CreateWithCard(Json arguments) {
    store::NewApproval n;
    n.principal = "agent-1";
    n.tool = "cancel_job";
    n.arguments = std::move(arguments);
    n.timeout_ms = 3'600'000;
    n.notify = Json::array({"slack"});
    auto created = env.store->CreatePending(n);
    REQUIRE(created.ok());
    env.notifier->RunOnce();
    return created;
  }
  Json PostedCard(const std::string& approval_id) {
    Json found;
    for (const Hit& h : slack.Hits()) {
      if (h.path.rfind("/services/", 0) != 0) continue;
      auto j = ParseJson(h.body);
      REQUIRE(j.ok());
      if (j->dump().find(approval_id) != std::string::npos) found = *j;
    }
    REQUIRE(found.is_object());
    return found;
  }

  // A block_actions payload as Slack sends it for a click on the card.
  static Json Click(const std::string& user, const std::string& action_id, const std::string& approval_id,
                    const std::string& response_url, const std::string& reason, const Json& message = Json()) {
    Json p = {
        {"type", "block_actions"},
        {"user", {{"id", user}, {"username", "u"}, {"team_id", "T000"}}},
        {"api_app_id", "A000"},
        {"token", "legacy-verification-token"},
        {"container", {{"type", "message"}, {"message_ts", "1700000000.000100"}, {"channel_id", "C000"}}},
        {"trigger_id", "1234.5678.abcd"},
        {"team", {{"id", "T000"}, {"domain", "acme"}}},
        {"channel", {{"id", "C000"}, {"name", "ml-approvals"}}},
        {"state", {{"values", {{"holdgate_reason", {{"holdgate_reason_input",
                                                     {{"type", "plain_text_input"},
                                                      {"value", reason.empty() ? Json(nullptr) : Json(reason)}}}}}}}}},
        {"response_url", response_url},
        {"actions", Json::array({Json{{"action_id", action_id},
                                      {"block_id", "holdgate_actions"},
                                      {"text", {{"type", "plain_text"}, {"text", "Approve"}}},
                                      {"value", approval_id},
                                      {"type", "button"},
                                      {"action_ts", "1700000001.000200"}}})},
    };
    if (!message.is_null()) p["message"] = message;
    return p;
  }

  static std::string FormBody(const Json& payload) { return "payload=" + notify::UrlEncode(payload.dump()); }

  // POSTs `body` to /slack/actions with Slack's headers; ts_s defaults to now, sig to the right one.
  httplib::Result Post(const std::string& body, std::string ts = "", std::string sig = "") {
    if (ts.empty()) ts = std::to_string(env.clock.NowMs() / 1000);
    if (sig.empty()) sig = notify::SlackSignature(kSigningSecret, ts, body);
    httplib::Client cli("127.0.0.1", server->port());
    cli.set_read_timeout(10, 0);
    httplib::Headers h = {{"X-Slack-Request-Timestamp", ts}, {"X-Slack-Signature", sig}};
    return cli.Post("/slack/actions", h, body, "application/x-www-form-urlencoded");
  }

  // Replies that reached a response_url, parsed.
  std::vector<Json> Replies(const std::string& response_url) {
    std::vector<Json> out;
    const std::string path = response_url.substr(response_url.find("/response/"));
    for (const Hit& h : slack.Hits()) {
      if (h.path == path) {
        auto j = ParseJson(h.body);
        REQUIRE(j.ok());
        out.push_back(*j);
      }
    }
    return out;
  }

  void ExpectUndecided(const std::string& id) {
    auto a = env.store->Get(id);
    REQUIRE(a.ok());
    CHECK(a->state == store::State::kPending);
    CHECK(a->votes.empty());
  }
};

bool HasAction(const Json& message, const std::string& action_id) {
  return message.dump().find("\"" + action_id + "\"") != std::string::npos;
}

TEST_CASE("slack: the card reaches Slack, a signed Approve click decides and updates it", "[notify][slack]") {
  SlackEnv s;
  store::Approval a = s.env.Create({"slack:#ml-approvals"});
  CHECK(s.env.notifier->RunOnce().delivered == 1);
  const Json card = s.PostedCard(a.id);
  CHECK(card["blocks"][0]["type"] == "header");
  CHECK(HasAction(card, "holdgate_approve"));
  CHECK(HasAction(card, "holdgate_reject"));
  CHECK(card.dump().find(s.server->base_url() + "/#/approvals/" + a.id) != std::string::npos);

  std::atomic<int> fired{0};
  std::atomic<int> fired_state{-1};
  auto watch = testing::Watch(s.coordinator, a.id, [&](const store::Approval& x) {
    fired_state = static_cast<int>(x.state);
    ++fired;
  });
  const std::string response_url = s.NextResponseUrl();
  auto res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_ALICE", "holdgate_approve", a.id, response_url, "", card)));
  REQUIRE(res);
  CHECK(res->status == 200);

  auto after = s.env.store->Get(a.id);
  REQUIRE(after.ok());
  CHECK(after->state == store::State::kApproved);
  CHECK(after->decided_by == "alice");
  CHECK(after->decided_via == "slack");
  REQUIRE(after->votes.size() == 1);
  CHECK(after->votes[0].via == "slack");
  CHECK(fired == 1);
  CHECK(fired_state == static_cast<int>(store::State::kApproved));
  CHECK(s.env.notifier->Counters().slack_decisions == 1);

  // The original message is replaced with the outcome; the channel also hears of the decision.
  s.env.notifier->RunOnce();
  auto replies = s.Replies(response_url);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0]["replace_original"] == true);
  CHECK(replies[0]["blocks"][0]["text"]["text"] == "Approved: cancel_job");
  CHECK_FALSE(HasAction(replies[0], "holdgate_approve"));
  CHECK(replies[0].dump().find("alice via slack") != std::string::npos);
  int channel_posts = 0;
  for (const Hit& h : s.slack.Hits()) channel_posts += h.path.rfind("/services/", 0) == 0;
  CHECK(channel_posts == 2);  // created + approved
}

TEST_CASE("slack: Reject needs a reason typed in the card", "[notify][slack]") {
  SlackEnv s;
  store::Approval a = s.env.Create({"slack"});
  s.env.notifier->RunOnce();

  const std::string first = s.NextResponseUrl();
  auto res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_BOB", "holdgate_reject", a.id, first, "")));
  REQUIRE(res);
  CHECK(res->status == 200);
  s.ExpectUndecided(a.id);
  auto refused = s.env.Audit("slack.refused");
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].detail["code"] == "reason_required");
  CHECK(refused[0].actor == "bob");
  CHECK(refused[0].approval_id == a.id);
  s.env.notifier->RunOnce();
  auto replies = s.Replies(first);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0]["response_type"] == "ephemeral");
  CHECK(replies[0]["replace_original"] == false);
  CHECK(replies[0]["text"].get<std::string>().find("needs a reason") != std::string::npos);

  const std::string second = s.NextResponseUrl();
  res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_BOB", "holdgate_reject", a.id, second, "  wrong job id  ")));
  REQUIRE(res);
  CHECK(res->status == 200);
  auto after = s.env.store->Get(a.id);
  REQUIRE(after.ok());
  CHECK(after->state == store::State::kRejected);
  CHECK(after->decided_by == "bob");
  CHECK(after->reason == "wrong job id");
  s.env.notifier->RunOnce();
  replies = s.Replies(second);
  REQUIRE(replies.size() == 1);
  CHECK(replies[0]["blocks"][0]["text"]["text"] == "Rejected: cancel_job");
  CHECK(replies[0].dump().find("wrong job id") != std::string::npos);
}

TEST_CASE("slack: forged, stale, replayed and unmapped requests decide nothing", "[notify][slack]") {
  SlackEnv s;
  store::Approval a = s.env.Create({"slack"});
  const std::string body = SlackEnv::FormBody(SlackEnv::Click("U_ALICE", "holdgate_approve", a.id, s.NextResponseUrl(), ""));
  const std::string now_ts = std::to_string(s.env.clock.NowMs() / 1000);

  SECTION("bad signature") {
    auto res = s.Post(body, now_ts, notify::SlackSignature("a-different-signing-secret-value", now_ts, body));
    REQUIRE(res);
    CHECK(res->status == 401);
    res = s.Post(body, now_ts, "v0=" + std::string(64, 'a'));
    REQUIRE(res);
    CHECK(res->status == 401);
    // A correct signature over different bytes.
    res = s.Post(body + "&x=1", now_ts, notify::SlackSignature(kSigningSecret, now_ts, body));
    REQUIRE(res);
    CHECK(res->status == 401);
    // No Slack headers at all.
    httplib::Client cli("127.0.0.1", s.server->port());
    res = cli.Post("/slack/actions", body, "application/x-www-form-urlencoded");
    REQUIRE(res);
    CHECK(res->status == 401);
    s.ExpectUndecided(a.id);
    auto refused = s.env.Audit("slack.refused");
    REQUIRE(refused.size() == 4);
    CHECK(refused[0].detail["code"] == "bad_signature");
    CHECK(refused[3].detail["code"] == "missing_headers");
    CHECK(s.env.notifier->Counters().slack_refused == 4);
  }
  SECTION("stale timestamp, correctly signed") {
    const std::string old_ts = std::to_string(s.env.clock.NowMs() / 1000 - 6 * 60);
    auto res = s.Post(body, old_ts);
    REQUIRE(res);
    CHECK(res->status == 401);
    s.ExpectUndecided(a.id);
    auto refused = s.env.Audit("slack.refused");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].detail["code"] == "stale_timestamp");
  }
  SECTION("unknown Slack user") {
    const std::string url = s.NextResponseUrl();
    auto res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_MALLORY", "holdgate_approve", a.id, url, "")));
    REQUIRE(res);
    CHECK(res->status == 200);
    s.ExpectUndecided(a.id);
    auto refused = s.env.Audit("slack.refused");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].detail["code"] == "unknown_user");
    CHECK(refused[0].detail["slack_user"] == "U_MALLORY");
    s.env.notifier->RunOnce();
    auto replies = s.Replies(url);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0]["response_type"] == "ephemeral");
  }
  SECTION("self-approval: the principal behind the call") {
    const std::string url = s.NextResponseUrl();
    auto res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_AGENT", "holdgate_approve", a.id, url, "")));
    REQUIRE(res);
    CHECK(res->status == 200);
    s.ExpectUndecided(a.id);
    auto refused = s.env.Audit("slack.refused");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].detail["code"] == "permission_denied");
    CHECK(refused[0].actor == "agent-1");
    s.env.notifier->RunOnce();
    auto replies = s.Replies(url);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0]["text"].get<std::string>().rfind("Refused: ", 0) == 0);
  }
  SECTION("no payload, not JSON") {
    auto res = s.Post("token=abc");
    REQUIRE(res);
    CHECK(res->status == 400);
    res = s.Post("payload=%7Bnot-json");
    REQUIRE(res);
    CHECK(res->status == 400);
    s.ExpectUndecided(a.id);
  }
  CHECK(s.env.store->Get(a.id)->state == store::State::kPending);
}

TEST_CASE("slack: a replayed click is refused, quorum and roles apply", "[notify][slack]") {
  SlackEnv s;
  // Two approvals needed, only reviewers with role "sre" or named bob.
  store::NewApproval n;
  n.principal = "agent-1";
  n.tool = "cancel_job";
  n.arguments = Json{{"job_id", 9}};
  n.approvers_needed = 2;
  n.reviewers = Json{{"roles", {"sre"}}, {"names", {"bob"}}};
  n.timeout_ms = 3'600'000;
  auto created = s.env.store->CreatePending(n);
  REQUIRE(created.ok());
  const std::string id = created->id;

  const std::string alice = SlackEnv::FormBody(SlackEnv::Click("U_ALICE", "holdgate_approve", id, s.NextResponseUrl(), ""));
  const std::string ts = std::to_string(s.env.clock.NowMs() / 1000);
  auto res = s.Post(alice, ts);
  REQUIRE(res);
  CHECK(res->status == 200);
  auto mid = s.env.store->Get(id);
  CHECK(mid->state == store::State::kPending);
  CHECK(mid->votes.size() == 1);

  // The same bytes and headers again: a replay.
  s.env.clock.Advance(1000);
  res = s.Post(alice, ts);
  REQUIRE(res);
  CHECK(res->status == 401);
  CHECK(s.env.store->Get(id)->votes.size() == 1);
  auto refused = s.env.Audit("slack.refused");
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].detail["code"] == "replayed");

  // The vote's reply shows the card again with the vote; bob completes the quorum.
  res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_BOB", "holdgate_approve", id, s.NextResponseUrl(), "ok")));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(s.env.store->Get(id)->state == store::State::kApproved);
  s.env.notifier->RunOnce();
  auto first_reply = s.Replies(s.slack.Url("/response/1"));
  REQUIRE(first_reply.size() == 1);
  CHECK(first_reply[0]["replace_original"] == true);
  // Delivered after the decision: the re-rendered card shows the current (approved) state.
  CHECK(first_reply[0].dump().find("alice approved via slack") != std::string::npos);
}

TEST_CASE("slack: a reviewer outside the approval's roles is refused", "[notify][slack]") {
  SlackEnv s;
  store::NewApproval n;
  n.principal = "agent-1";
  n.tool = "cancel_job";
  n.reviewers = Json{{"roles", {"sre"}}, {"names", Json::array()}};
  n.timeout_ms = 3'600'000;
  auto created = s.env.store->CreatePending(n);
  REQUIRE(created.ok());
  auto res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_BOB", "holdgate_approve", created->id, s.NextResponseUrl(), "")));
  REQUIRE(res);
  CHECK(res->status == 200);
  s.ExpectUndecided(created->id);
  res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_ALICE", "holdgate_approve", created->id, s.NextResponseUrl(), "")));
  REQUIRE(res);
  CHECK(s.env.store->Get(created->id)->state == store::State::kApproved);
}

TEST_CASE("slack: the API's rules hold at the Slack door: auditors, self-approval, reason length",
          "[notify][slack]") {
  SlackEnv s;
  store::NewApproval n;
  n.principal = "agent-1";
  n.tool = "cancel_job";
  n.timeout_ms = 3'600'000;
  auto created = s.env.store->CreatePending(n);
  REQUIRE(created.ok());
  const std::string id = created->id;
  // An auditor may read but never decide, from Slack as from the API.
  auto res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_CAROL", "holdgate_approve", id, s.NextResponseUrl(), "")));
  REQUIRE(res);
  CHECK(res->status == 200);
  s.ExpectUndecided(id);
  // The requester under another spelling of its name cannot approve its own call.
  res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_AGENT_CAPS", "holdgate_approve", id, s.NextResponseUrl(), "")));
  REQUIRE(res);
  s.ExpectUndecided(id);
  // A rejection reason is capped at the API's 4,096 bytes.
  res = s.Post(SlackEnv::FormBody(
      SlackEnv::Click("U_BOB", "holdgate_reject", id, s.NextResponseUrl(), std::string(5000, 'x'))));
  REQUIRE(res);
  s.ExpectUndecided(id);
  auto refused = s.env.Audit("slack.refused");
  REQUIRE(refused.size() == 3);
  CHECK(refused[0].detail["code"] == "permission_denied");
  CHECK(refused[1].detail["code"] == "permission_denied");
  CHECK(refused[2].detail["code"] == "invalid_argument");
  CHECK(s.env.store->Get(id)->votes.empty());
  // A reviewer still decides, with the via recorded as coming from a verified Slack request.
  res = s.Post(SlackEnv::FormBody(SlackEnv::Click("U_BOB", "holdgate_reject", id, s.NextResponseUrl(), "not now")));
  REQUIRE(res);
  CHECK(s.env.store->Get(id)->state == store::State::kRejected);
  auto rejected = s.env.Audit("approval.rejected");
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].detail["via_source"] == "slack-signature");
}

TEST_CASE("slack: refusals are audited at a bounded rate, all are counted", "[notify][slack]") {
  SlackEnv s(/*refusal_audit_per_minute=*/5);
  const std::string body = "payload=%7B%7D";
  const std::string ts = std::to_string(s.env.clock.NowMs() / 1000);
  for (int i = 0; i < 20; ++i) {
    auto res = s.Post(body, ts, "v0=" + std::string(64, '0'));
    REQUIRE(res);
    CHECK(res->status == 401);
  }
  CHECK(s.env.AuditCount("slack.refused") == 5);
  CHECK(s.env.notifier->Counters().slack_refused == 20);
  s.env.clock.Advance(60'000);
  auto res = s.Post(body, std::to_string(s.env.clock.NowMs() / 1000), "v0=" + std::string(64, '0'));
  REQUIRE(res);
  auto refused = s.env.Audit("slack.refused");
  REQUIRE(refused.size() == 6);
  CHECK(refused.back().detail["suppressed"] == 15);
  CHECK(refused.back().detail["code"] == "bad_signature");
}

TEST_CASE("slack: with a bot token, chat.postMessage per channel, ok:false is retried", "[notify][slack]") {
  Receiver api;  // a fake Slack Web API
  api.SetDefault(200, "{\"ok\":true,\"ts\":\"1700000000.000100\"}");
  NotifyEnv env(Json{{"slack", {{"bot_token", "xoxb-test-token"}, {"channel", "#default"},
                                {"api_url", api.Url("/api")}, {"signing_secret", kSigningSecret}}}});
  store::Approval a = env.Create({"slack:#ml-approvals"});
  store::Approval b = env.Create();  // no list: Slack's default channel
  CHECK(env.notifier->RunOnce().delivered == 2);
  REQUIRE(api.Count() == 2);
  std::map<std::string, std::string> channel_of;
  for (const Hit& h : api.Hits()) {
    CHECK(h.path == "/api/chat.postMessage");
    CHECK(h.headers.at("authorization") == "Bearer xoxb-test-token");
    auto body = ParseJson(h.body);
    REQUIRE(body.ok());
    CHECK((*body)["blocks"].is_array());
    const std::string text = body->dump();
    channel_of[text.find(a.id) != std::string::npos ? a.id : b.id] = (*body)["channel"];
  }
  CHECK(channel_of[a.id] == "#ml-approvals");
  CHECK(channel_of[b.id] == "#default");

  // Slack answers 200 {"ok": false, "error": …} on failure: that is a failed delivery.
  api.SetDefault(200, "{\"ok\":false,\"error\":\"channel_not_found\"}");
  store::Approval c = env.Create({"slack:#gone"});
  notify::RunReport r = env.notifier->RunOnce();
  CHECK(r.failed == 1);
  auto rows = env.Rows(c.id);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == store::OutboxState::kPending);
  CHECK(rows[0].last_status == "200 slack error: channel_not_found");
}

// Slack echoes the whole message (blocks, arguments) in every click: real bodies exceed the
// 8 KiB that httplib 0.11.4 allows for application/x-www-form-urlencoded bodies on ordinary routes
// (it answers 413 before routing). The fix belongs to the reviewer listener: register POST plain
// routes with httplib's content-reader handler overload, which skips that limit and still honours
// set_payload_max_length (verified with httplib 0.11.4). Until then this case is allowed to fail.
TEST_CASE("slack: a click on a card with large arguments is accepted", "[notify][slack][large]") {
  SlackEnv s;
  // Many short keys and quoted, escaped values: the card's 1500 characters grow several times
  // over once JSON-escaped and URL-encoded inside Slack's `payload` field.
  Json args = Json::object();
  for (int i = 0; i < 120; ++i) args["k" + std::to_string(i)] = "\"<&>\"";
  auto created = s.CreateWithCard(args);
  const Json card = s.PostedCard(created->id);
  const std::string body =
      SlackEnv::FormBody(SlackEnv::Click("U_ALICE", "holdgate_approve", created->id, s.NextResponseUrl(),
                                         std::string(300, 'r'), card));
  REQUIRE(body.size() > 8192);
  auto res = s.Post(body);
  REQUIRE(res);
  INFO("body " << body.size() << " bytes");
  CHECK(res->status == 200);
  CHECK(s.env.store->Get(created->id)->state == store::State::kApproved);
}

TEST_CASE("slack: a body over the listener's limit is refused with 413, nothing decided", "[notify][slack][large]") {
  SlackEnv s;
  auto created = s.CreateWithCard(Json{{"job_id", "j1"}});
  const Json card = s.PostedCard(created->id);
  // A correctly signed click padded past the 256 KiB default limit.
  const std::string body = SlackEnv::FormBody(SlackEnv::Click("U_ALICE", "holdgate_approve", created->id,
                                                              s.NextResponseUrl(), std::string(300 * 1024, 'r'), card));
  REQUIRE(body.size() > 256 * 1024);
  auto res = s.Post(body);
  REQUIRE(res);
  CHECK(res->status == 413);
  CHECK(s.env.store->Get(created->id)->state == store::State::kPending);
  CHECK(s.env.store->Get(created->id)->votes.empty());
}

TEST_CASE("slack: with a bot token a decision from anywhere updates the posted card in place", "[notify][slack]") {
  Receiver api;  // a fake Slack Web API
  api.SetDefault(200, "{\"ok\":true,\"channel\":\"C0123\",\"ts\":\"1700000000.000100\"}");
  NotifyEnv env(Json{{"slack", {{"bot_token", "xoxb-test-token"}, {"channel", "#default"},
                                {"api_url", api.Url("/api")}, {"signing_secret", kSigningSecret}}}});
  store::Approval a = env.Create({"slack:#ml-approvals"});
  CHECK(env.notifier->RunOnce().delivered == 1);
  REQUIRE(api.Count() == 1);
  CHECK(api.Hits()[0].path == "/api/chat.postMessage");

  // Decided through the store as the API and the CLI do: the card is replaced, not reposted.
  env.Decide(a.id, "alice", true);
  env.notifier->RunOnce();
  REQUIRE(api.Count() == 2);
  const Hit update = api.Hits()[1];
  CHECK(update.path == "/api/chat.update");
  auto body = ParseJson(update.body);
  REQUIRE(body.ok());
  CHECK((*body)["channel"] == "C0123");
  CHECK((*body)["ts"] == "1700000000.000100");
  const std::string text = body->dump();
  CHECK(text.find("holdgate_approve") == std::string::npos);  // no live buttons on a decided card
  CHECK(text.find("holdgate_reject") == std::string::npos);
  CHECK(text.find("alice") != std::string::npos);
}

TEST_CASE("slack: Approve with the card's Remember choice makes a grant", "[notify][slack][grants]") {
  SlackEnv s;
  store::NewApproval n;
  n.principal = "agent-1";
  n.tool = "cancel_job";
  n.arguments = Json{{"job_id", "j-remember"}};
  n.rule = "tools.cancel_job";
  n.timeout_ms = 3'600'000;
  n.remember_max_ms = 3'600'000;
  n.notify = Json::array({"slack:#ml-approvals"});
  auto a = s.env.store->CreatePending(n);
  REQUIRE(a.ok());
  CHECK(s.env.notifier->RunOnce().delivered == 1);
  const Json card = s.PostedCard(a->id);
  REQUIRE(card.dump().find("holdgate_remember_for") != std::string::npos);
  Json click = SlackEnv::Click("U_ALICE", "holdgate_approve", a->id, s.NextResponseUrl(), "", card);
  click["state"]["values"]["holdgate_remember"] = {
      {"holdgate_remember_for", {{"type", "static_select"}, {"selected_option", {{"value", "30m"}}}}}};
  auto res = s.Post(SlackEnv::FormBody(click));
  REQUIRE(res);
  CHECK(res->status == 200);
  auto grants = s.env.store->ListGrants();
  REQUIRE(grants.ok());
  REQUIRE(grants->size() == 1);
  CHECK((*grants)[0].created_by == "alice");
  CHECK((*grants)[0].created_via == "slack");
  CHECK((*grants)[0].expires_at_ms - (*grants)[0].created_at_ms == 30 * 60'000);
}

}  // namespace
}  // namespace holdgate::notifytest
