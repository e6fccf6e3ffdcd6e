// The reviewer listener end to end over loopback: a real Store, a HoldCoordinator and a
// ReviewServer on port 0, driven with an httplib client and real tokens.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "integration/review_fixture.h"
#include "support/fn_waiter.h"
#include "unit/review/test_keys.h"

namespace holdgate::reviewtest {
namespace {

using review::Role;

int CountSubstr(const std::string& s, const std::string& needle) {
  int n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

// Collects an SSE stream on a background thread until Stop().
class SseReader {
 public:
  SseReader(int port, const std::string& token, const std::string& last_event_id = "") {
    thread_ = std::thread([=, this] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_read_timeout(std::chrono::seconds(10));
      httplib::Headers h = Auth(token);
      if (!last_event_id.empty()) h.emplace("Last-Event-ID", last_event_id);
      auto r = cli.Get(
          "/api/events", h,
          [&](const httplib::Response& res) {
            std::lock_guard<std::mutex> lock(mu_);
            status_ = res.status;
            content_type_ = res.get_header_value("Content-Type");
            cv_.notify_all();
            return true;
          },
          [&](const char* data, size_t n) {
            std::lock_guard<std::mutex> lock(mu_);
            text_.append(data, n);
            cv_.notify_all();
            return !stop_;
          });
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      if (status_ == 0 && r) status_ = r->status;
      cv_.notify_all();
    });
  }
  ~SseReader() { Stop(); }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }
  // Waits (up to 10 s) until the stream text contains `needle`.
  bool WaitFor(const std::string& needle) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return text_.find(needle) != std::string::npos || ended_; }) &&
           text_.find(needle) != std::string::npos;
  }
  bool WaitEnded() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return ended_; });
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  int status() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return status_ != 0 || ended_; });
    return status_;
  }
  std::string content_type() {
    std::lock_guard<std::mutex> lock(mu_);
    return content_type_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  std::string content_type_;
  int status_ = 0;
  bool stop_ = false;
  bool ended_ = false;
  std::thread thread_;
};

// The id: of the last SSE frame that mentions `needle`.
std::string LastIdBefore(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) return "";
  size_t id = text.rfind("id: ", at);
  if (id == std::string::npos) return "";
  size_t end = text.find('\n', id);
  return text.substr(id + 4, end - id - 4);
}

}  // namespace

TEST_CASE("health, metrics, security headers and the UI are served without a token", "[review][api]") {
  ReviewEnv env;
  auto cli = env.Client();
  auto r = cli->Get("/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(Body(r)["status"] == "ok");
  CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(r->get_header_value("X-Frame-Options") == "DENY");
  std::string csp = r->get_header_value("Content-Security-Policy");
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);

  r = cli->Get("/metrics");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type").find("text/plain") == 0);
  CHECK(r->body.find("# TYPE holdgate_holds_open gauge") != std::string::npos);
  CHECK(r->body.find("holdgate_decision_latency_seconds_bucket{le=\"+Inf\"}") != std::string::npos);

  r = cli->Get("/");
  REQUIRE(r);
  if (r->status == 200) {
    CHECK(r->get_header_value("Content-Type").find("text/html") == 0);
  } else {
    CHECK(r->status == 404);  // no approval-ui/ files embedded in this build
  }
  // Traversal and encoded traversal never reach the file system.
  for (std::string p : {"/../CMakeLists.txt", "/%2e%2e/%2e%2e/etc/passwd", "/..%2fCMakeLists.txt",
                        "/index.html/../../x", "/nonexistent.js"}) {
    CAPTURE(p);
    r = cli->Get(p);
    REQUIRE(r);
    CHECK((r->status == 404 || r->status == 400));
    CHECK(r->body.find("cmake_minimum_required") == std::string::npos);
    CHECK(r->body.find("root:") == std::string::npos);
  }
}

TEST_CASE("401 without or with bad tokens, with WWW-Authenticate, and audited", "[review][api][auth]") {
  ReviewEnv env;
  auto cli = env.Client();
  auto r = cli->Get("/api/approvals");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("WWW-Authenticate").find("Bearer") == 0);
  CHECK(Body(r)["error"] == "unauthenticated");
  // Unknown API paths are not an oracle: still 401 without a token.
  r = cli->Get("/api/does-not-exist");
  REQUIRE(r);
  CHECK(r->status == 401);

  const auto rsa = testkeys::Generate("RSA");
  const int64_t now = env.clock.NowMs() / 1000;
  Json good = {{"sub", "mallory"}, {"role", "admin"}, {"iat", now}, {"exp", now + 600}};
  Json hs = {{"alg", "HS256"}, {"typ", "JWT"}};
  std::vector<std::pair<std::string, std::string>> attacks;
  attacks.push_back({"alg none", testkeys::HandSign({{"alg", "none"}}, good, "", "")});
  attacks.push_back({"alg NoNe", testkeys::HandSign({{"alg", "NoNe"}}, good, "", "")});
  attacks.push_back({"HMAC with RSA public key", testkeys::HandSign(hs, good, "HS256", rsa.public_pem)});
  attacks.push_back({"RS256 from an unknown key", testkeys::HandSign({{"alg", "RS256"}}, good, "RS256", rsa.private_pem)});
  Json c = good;
  c["exp"] = now - 3600;
  c["iat"] = now - 7200;
  attacks.push_back({"expired", testkeys::HandSign(hs, c, "HS256", kSecret)});
  c = good;
  c["nbf"] = now + 3600;
  attacks.push_back({"not yet valid", testkeys::HandSign(hs, c, "HS256", kSecret)});
  c = good;
  c.erase("exp");
  attacks.push_back({"missing exp", testkeys::HandSign(hs, c, "HS256", kSecret)});
  std::string tok = testkeys::HandSign(hs, good, "HS256", kSecret);
  Json evil = good;
  evil["sub"] = "root";
  attacks.push_back({"tampered payload", tok.substr(0, tok.find('.') + 1) + review::Base64UrlEncode(evil.dump()) +
                                             tok.substr(tok.rfind('.'))});
  attacks.push_back({"wrong secret", testkeys::HandSign(hs, good, "HS256", kSecret + "!")});
  attacks.push_back({"garbage", "not.a.jwt"});
  for (const auto& [name, t] : attacks) {
    CAPTURE(name);
    r = cli->Get("/api/approvals", Auth(t));
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->get_header_value("WWW-Authenticate").find("invalid_token") != std::string::npos);
    r = cli->Post("/api/approvals/apr_x/approve", Auth(t), "{}", "application/json");
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  r = cli->Get("/api/me", httplib::Headers{{"Authorization", "Basic YWxpY2U6c2VjcmV0"}});
  REQUIRE(r);
  CHECK(r->status == 401);
  // The expired token is told apart, so the UI can send the reviewer to sign-in.
  c = good;
  c["exp"] = now - 3600;
  c["iat"] = now - 7200;
  r = cli->Get("/api/me", Auth(testkeys::HandSign(hs, c, "HS256", kSecret)));
  REQUIRE(r);
  CHECK(Body(r)["error"] == "token_expired");

  // A valid token for the admin works; failures are in the audit log.
  r = cli->Get("/api/audit?type=auth.failed&limit=1000", Auth(env.Token("ada", Role::kAdmin)));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  Json events = Body(r)["events"];
  CHECK(events.size() >= attacks.size());
  CHECK(events[0]["type"] == "auth.failed");
  CHECK(events[0]["detail"]["status"] == 401);

  r = cli->Get("/metrics");
  REQUIRE(r);
  CHECK(r->body.find("holdgate_review_auth_failures_total{reason=\"invalid\"}") != std::string::npos);
}

TEST_CASE("auth-failure audit rows are rate-limited, the rest are counted", "[review][api][auth]") {
  auto cfg = ReviewEnv::DefaultConfig();
  cfg.auth_audit_per_minute = 5;
  ReviewEnv env(cfg);
  auto cli = env.Client();
  for (int i = 0; i < 30; ++i) {
    auto r = cli->Get("/api/approvals", Auth("garbage"));
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  store::AuditFilter f;
  f.type = "auth.failed";
  f.limit = 1000;
  auto page = env.store->ListAudit(f);
  REQUIRE(page.ok());
  CHECK(page->events.size() == 5);
  env.clock.Advance(60 * 1000);  // a minute later the bucket is full again
  auto r = cli->Get("/api/approvals", Auth("garbage"));
  REQUIRE(r);
  page = env.store->ListAudit(f);
  REQUIRE(page.ok());
  REQUIRE(page->events.size() == 6);
  CHECK(page->events.back().detail["suppressed"] == 25);
}

TEST_CASE("list approvals: filters, paging, bad input, SQL metacharacters", "[review][api]") {
  ReviewEnv env;
  auto cli = env.Client();
  const std::string tok = env.Token("alice", Role::kAuditor);
  std::vector<store::Approval> made;
  for (int i = 0; i < 5; ++i) {
    made.push_back(env.Create(i < 3 ? "cancel_job" : "delete_model", Json{{"job_id", i}},
                              i % 2 == 0 ? "agent-1" : "agent-2"));
    env.clock.Advance(1000);
  }
  auto r = cli->Get("/api/approvals", Auth(tok));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  Json j = Body(r);
  REQUIRE(j["approvals"].size() == 5);
  const Json& first = j["approvals"][0];
  CHECK(first["id"] == made[4].id);  // newest first
  for (const char* key : {"id", "tool", "arguments", "principal", "state", "created_at", "expires_at", "votes",
                          "review_url", "approvals_needed", "risk", "rule"}) {
    CAPTURE(key);
    CHECK(first.contains(key));
  }
  CHECK(first["created_at"].get<std::string>().back() == 'Z');
  CHECK(first["arguments"] == Json{{"job_id", 4}});
  CHECK(first["state"] == "pending");
  CHECK(j["next_cursor"].is_null());

  // Paging.
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    httplib::Params p{{"limit", "2"}};
    if (!cursor.empty()) p.emplace("cursor", cursor);
    r = cli->Get("/api/approvals", p, Auth(tok));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    j = Body(r);
    for (const auto& a : j["approvals"]) seen.push_back(a["id"]);
    cursor = j["next_cursor"].is_null() ? "" : j["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  CHECK(pages == 3);
  CHECK(seen.size() == 5);

  // Filters.
  r = cli->Get("/api/approvals", httplib::Params{{"tool", "delete_model"}}, Auth(tok));
  CHECK(Body(r)["approvals"].size() == 2);
  r = cli->Get("/api/approvals", httplib::Params{{"principal", "agent-2"}}, Auth(tok));
  CHECK(Body(r)["approvals"].size() == 2);
  r = cli->Get("/api/approvals", httplib::Params{{"state", "pending"}, {"tool", "cancel_job"}}, Auth(tok));
  CHECK(Body(r)["approvals"].size() == 3);
  r = cli->Get("/api/approvals", httplib::Params{{"state", "approved,rejected"}}, Auth(tok));
  CHECK(Body(r)["approvals"].size() == 0);
  r = cli->Get("/api/approvals", httplib::Params{{"since", FormatTimeMs(made[2].created_at_ms)}},
               Auth(tok));
  CHECK(Body(r)["approvals"].size() == 3);
  r = cli->Get("/api/approvals", httplib::Params{{"until", std::to_string(made[2].created_at_ms)}}, Auth(tok));
  CHECK(Body(r)["approvals"].size() == 2);

  // Bad input: 400 with a message.
  for (auto p : std::vector<httplib::Params>{{{"state", "bogus"}}, {{"limit", "0"}}, {{"limit", "x"}},
                                             {{"limit", "501"}}, {{"since", "yesterday"}}, {{"cursor", "!!"}}}) {
    r = cli->Get("/api/approvals", p, Auth(tok));
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(Body(r)["message"].is_string());
  }

  // SQL metacharacters are data.
  for (std::string evil : {"x' OR '1'='1", "cancel_job'--", "\"; DROP TABLE approvals; --", "%", "_", "*"}) {
    CAPTURE(evil);
    r = cli->Get("/api/approvals", httplib::Params{{"tool", evil}}, Auth(tok));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(Body(r)["approvals"].empty());
    r = cli->Get("/api/approvals", httplib::Params{{"principal", evil}, {"state", "pending"}}, Auth(tok));
    CHECK(Body(r)["approvals"].empty());
    r = cli->Get("/api/audit", httplib::Params{{"tool", evil}, {"type", evil}}, Auth(tok));
    REQUIRE(r);
    CHECK((r->status == 200 || r->status == 400));
  }
  r = cli->Get("/api/approvals", Auth(tok));
  CHECK(Body(r)["approvals"].size() == 5);
}

TEST_CASE("approval detail: votes, timeline, who may decide, what the agent is told", "[review][api]") {
  ReviewEnv env;
  auto cli = env.Client();
  auto a = env.Create("cancel_job", Json{{"job_id", 7}, {"note", "<img src=x onerror=alert(1)>"}}, "agent-1", 2);
  const std::string alice = env.Token("alice");
  auto r = cli->Post("/api/approvals/" + a.id + "/approve", Auth(alice), R"({"reason":"looks fine"})",
                     "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  r = cli->Post("/api/approvals/" + a.id + "/comments", Auth(alice), R"({"body":"waiting for bob"})",
                "application/json");
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(Body(r)["comment"]["author"] == "alice");

  r = cli->Get("/api/approvals/" + a.id, Auth(env.Token("bob")));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  Json d = Body(r);
  CHECK(d["arguments"]["note"] == "<img src=x onerror=alert(1)>");  // JSON, not HTML: the UI escapes
  REQUIRE(d["votes"].size() == 1);
  CHECK(d["votes"][0]["reviewer"] == "alice");
  CHECK(d["votes"][0]["decision"] == "approve");
  CHECK(d["votes"][0]["reason"] == "looks fine");
  CHECK(d["comments"].size() == 1);
  REQUIRE(d["timeline"].size() >= 2);
  CHECK(d["timeline"][0]["type"] == "approval.created");
  CHECK(d["may_decide"]["remaining"] == 1);
  CHECK(d["may_decide"]["you"]["can_decide"] == true);
  CHECK(d["may_decide"]["excluded"].size() == 2);  // agent-1 and alice
  CHECK(d["agent_message"].get<std::string>().find("Held for human approval") == 0);
  CHECK(d.contains("result"));

  r = cli->Get("/api/approvals/" + a.id, Auth(alice));
  CHECK(Body(r)["may_decide"]["you"]["can_decide"] == false);  // already voted

  r = cli->Get("/api/approvals/apr_doesnotexist", Auth(alice));
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(Body(r)["error"] == "not_found");
  r = cli->Get("/api/approvals/..%2f..%2fetc", Auth(alice));
  REQUIRE(r);
  CHECK(r->status == 404);
}

TEST_CASE("approve and reject: states, 409 on decided, reason required, held call released", "[review][api]") {
  ReviewEnv env;
  auto cli = env.Client();
  const std::string alice = env.Token("alice");
  const std::string bob = env.Token("bob");
  auto a = env.Create();

  std::mutex mu;
  std::condition_variable cv;
  std::optional<store::Approval> released;
  auto watch = testing::Watch(env.coordinator, a.id, [&](const store::Approval& x) {
    std::lock_guard<std::mutex> lock(mu);
    released = x;
    cv.notify_all();
  });

  auto r = cli->Post("/api/approvals/" + a.id + "/approve", Auth(alice, {{"X-Holdgate-Client", "cli"}}),
                     R"({"reason":"ok"})", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  Json j = Body(r);
  CHECK(j["outcome"]["state"] == "approved");
  CHECK(j["outcome"]["changed"] == true);
  CHECK(j["approval"]["decided_by"] == "alice");
  CHECK(j["approval"]["decided_via"] == "cli");
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return released.has_value(); }));
    CHECK(released->state == store::State::kApproved);
  }

  // Same reviewer again: idempotent. Another reviewer: 409 with the decision in the body.
  r = cli->Post("/api/approvals/" + a.id + "/approve", Auth(alice), "", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(Body(r)["outcome"]["changed"] == false);
  r = cli->Post("/api/approvals/" + a.id + "/reject", Auth(alice), R"({"reason":"changed my mind"})",
                "application/json");
  REQUIRE(r);
  CHECK(r->status == 409);
  r = cli->Post("/api/approvals/" + a.id + "/reject", Auth(bob), R"({"reason":"no"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 409);
  j = Body(r);
  CHECK(j["error"] == "already_decided");
  CHECK(j["state"] == "approved");
  CHECK(j["message"].get<std::string>().find("alice") != std::string::npos);

  // Reject needs a reason.
  auto b = env.Create("cancel_job", Json{{"job_id", 2}});
  for (std::string body : {"", "{}", R"({"reason":""})", R"({"reason":"   "})"}) {
    CAPTURE(body);
    r = cli->Post("/api/approvals/" + b.id + "/reject", Auth(bob), body, "application/json");
    REQUIRE(r);
    CHECK(r->status == 400);
  }
  r = cli->Post("/api/approvals/" + b.id + "/reject", Auth(bob, {{"X-Holdgate-Client", "ui"}}),
                R"({"reason":"too risky"})", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  j = Body(r);
  CHECK(j["approval"]["state"] == "rejected");
  CHECK(j["approval"]["reason"] == "too risky");
  CHECK(j["approval"]["decided_via"] == "ui");
  r = cli->Post("/api/approvals/" + b.id + "/approve", Auth(alice), "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 409);

  // Bad JSON, wrong types, unknown id.
  auto c = env.Create("cancel_job", Json{{"job_id", 3}});
  for (std::string body : {"{", "[1]", "\"x\"", R"({"reason": 5})", R"({"arguments": [1]})"}) {
    CAPTURE(body);
    r = cli->Post("/api/approvals/" + c.id + "/approve", Auth(alice), body, "application/json");
    REQUIRE(r);
    CHECK(r->status == 400);
  }
  r = cli->Post("/api/approvals/apr_nope/approve", Auth(alice), "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 404);
  auto fresh = env.store->Get(c.id);
  REQUIRE(fresh.ok());
  CHECK(fresh->state == store::State::kPending);

  // Decisions show up in /metrics.
  r = cli->Get("/metrics");
  REQUIRE(r);
  CHECK(r->body.find("holdgate_decisions_total{outcome=\"approved\"}") != std::string::npos);
  CHECK(r->body.find("holdgate_decision_latency_seconds_count") != std::string::npos);
}

TEST_CASE("self-approval refused, quorum needs distinct reviewers, auditor cannot decide", "[review][api]") {
  ReviewEnv env;
  auto cli = env.Client();
  // The principal of the call is "alice" (a human who also runs an agent under her name).
  auto own = env.Create("cancel_job", Json{{"job_id", 1}}, "alice");
  auto r = cli->Post("/api/approvals/" + own.id + "/approve", Auth(env.Token("alice")), "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(env.store->Get(own.id)->state == store::State::kPending);
  r = cli->Get("/api/approvals/" + own.id, Auth(env.Token("alice")));
  CHECK(Body(r)["may_decide"]["you"]["can_approve"] == false);
  // Identities are compared normalised: another spelling of the requester is still the requester.
  r = cli->Post("/api/approvals/" + own.id + "/approve", Auth(env.Token("Alice")), "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(env.store->Get(own.id)->votes.empty());

  auto q = env.Create("cancel_job", Json{{"job_id", 2}}, "agent-1", 2);
  r = cli->Post("/api/approvals/" + q.id + "/approve", Auth(env.Token("alice")), "{}", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(Body(r)["outcome"]["state"] == "pending");
  CHECK(Body(r)["outcome"]["approvals_so_far"] == 1);
  // The same reviewer twice (e.g. UI and CLI, or another spelling) does not make a quorum.
  r = cli->Post("/api/approvals/" + q.id + "/approve", Auth(env.Token("ALICE")), "{}", "application/json");
  REQUIRE(r);
  CHECK(Body(r)["outcome"]["changed"] == false);
  r = cli->Post("/api/approvals/" + q.id + "/approve", Auth(env.Token("alice"), {{"X-Holdgate-Client", "cli"}}), "{}",
                "application/json");
  REQUIRE(r);
  CHECK(Body(r)["outcome"]["state"] == "pending");
  CHECK(env.store->Get(q.id)->state == store::State::kPending);
  r = cli->Post("/api/approvals/" + q.id + "/approve", Auth(env.Token("bob")), "{}", "application/json");
  REQUIRE(r);
  CHECK(Body(r)["outcome"]["state"] == "approved");
  CHECK(Body(r)["approval"]["votes"].size() == 2);

  // Auditors read but never decide (403, not 401); nothing changes.
  auto x = env.Create("cancel_job", Json{{"job_id", 3}});
  const std::string carol = env.Token("carol", Role::kAuditor);
  r = cli->Get("/api/approvals/" + x.id, Auth(carol));
  CHECK(r->status == 200);
  for (std::string action : {"approve", "reject", "comments"}) {
    r = cli->Post("/api/approvals/" + x.id + "/" + action, Auth(carol), R"({"reason":"r","body":"b"})",
                  "application/json");
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(r->get_header_value("WWW-Authenticate").empty());
  }
  CHECK(env.store->Get(x.id)->state == store::State::kPending);
  CHECK(env.store->Get(x.id)->votes.empty());
  // A token with no known role is 403 as well.
  auto norole = review::SignJwt("HS256", kSecret,
                                Json{{"sub", "dave"}, {"exp", env.clock.NowMs() / 1000 + 600}});
  REQUIRE(norole.ok());
  r = cli->Get("/api/approvals", Auth(*norole));
  CHECK(r->status == 403);
  // Redelivery is admin-only.
  r = cli->Post("/api/deliveries/1/redeliver", Auth(env.Token("bob")), "{}", "application/json");
  CHECK(r->status == 403);
  r = cli->Post("/api/deliveries/999999/redeliver", Auth(env.Token("ada", Role::kAdmin)), "{}", "application/json");
  CHECK(r->status == 404);

  // Reviewer restricted by name.
  auto named = env.Create("cancel_job", Json{{"job_id", 4}}, "agent-1", 1, false,
                          Json{{"roles", Json::array()}, {"names", {"erin"}}});
  r = cli->Post("/api/approvals/" + named.id + "/approve", Auth(env.Token("bob")), "{}", "application/json");
  CHECK(r->status == 403);
  r = cli->Post("/api/approvals/" + named.id + "/approve", Auth(env.Token("erin")), "{}", "application/json");
  CHECK(r->status == 200);
}

TEST_CASE("bulk decision: by ids or filter, every approval checked on its own, one result each",
          "[review][api]") {
  ReviewEnv env;
  auto cli = env.Client();
  auto mine = env.Create("cancel_job", Json{{"job_id", 1}}, "alice");  // alice's own call
  auto two = env.Create("cancel_job", Json{{"job_id", 2}});
  auto quorum = env.Create("cancel_job", Json{{"job_id", 3}}, "agent-1", 2);
  auto other = env.Create("start_job", Json{{"job_id", 4}});
  std::atomic<int> fired{0};
  auto watch = testing::Watch(env.coordinator, two.id, [&](const store::Approval&) { fired.fetch_add(1); });

  auto post = [&](const std::string& token, const Json& body) {
    return cli->Post("/api/approvals/decide", Auth(token), body.dump(), "application/json");
  };
  auto r = post(env.Token("alice"), Json{{"approve", true}, {"reason", "storm"},
                                         {"ids", {mine.id, two.id, quorum.id, "apr_missing"}}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  Json j = Body(r);
  REQUIRE(j["results"].size() == 4);
  CHECK(j["decided"] == 2);
  CHECK(j["refused"] == 2);
  CHECK(j["results"][0]["error"] == "forbidden");  // no self-approval, even in bulk
  CHECK(j["results"][1]["state"] == "approved");
  CHECK(j["results"][2]["state"] == "pending");    // one vote of two
  CHECK(j["results"][3]["error"] == "not_found");
  CHECK(env.store->Get(mine.id)->state == store::State::kPending);
  CHECK(env.store->Get(two.id)->state == store::State::kApproved);
  CHECK(fired == 1);  // the waiter heard it through the change feed

  // By filter: only the pending approvals of that tool; a reject needs a reason for each.
  r = post(env.Token("bob"), Json{{"approve", false}, {"filter", {{"tool", "cancel_job"}}}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  j = Body(r);
  REQUIRE(j["results"].size() == 2);
  for (const auto& item : j["results"]) CHECK(item["error"] == "reason_required");
  r = post(env.Token("bob"), Json{{"approve", false}, {"reason", "not today"}, {"filter", {{"tool", "cancel_job"}}}});
  j = Body(r);
  CHECK(j["decided"] == 2);
  CHECK(env.store->Get(mine.id)->state == store::State::kRejected);
  CHECK(env.store->Get(quorum.id)->state == store::State::kRejected);
  CHECK(env.store->Get(other.id)->state == store::State::kPending);
  auto votes = env.store->Get(quorum.id)->votes;
  REQUIRE(votes.size() == 2);

  // Auditors cannot reach it; malformed bodies are 400.
  r = post(env.Token("carol", review::Role::kAuditor), Json{{"approve", true}, {"ids", {other.id}}});
  CHECK(r->status == 403);
  CHECK(post(env.Token("bob"), Json{{"approve", true}})->status == 400);
  CHECK(post(env.Token("bob"), Json{{"approve", true}, {"ids", {other.id}}, {"filter", {{"tool", "x"}}}})->status == 400);
  CHECK(post(env.Token("bob"), Json{{"approve", true}, {"filter", {{"state", "pending"}}}})->status == 400);
  CHECK(env.store->Get(other.id)->state == store::State::kPending);
}

TEST_CASE("racing reviewers: exactly one decision, everyone else gets 409", "[review][api][race]") {
  ReviewEnv env;
  auto a = env.Create();
  std::atomic<int> fired{0};
  auto watch = testing::Watch(env.coordinator, a.id, [&](const store::Approval&) { fired.fetch_add(1); });
  constexpr int kReviewers = 8;
  std::vector<std::string> tokens;
  for (int i = 0; i < kReviewers; ++i) tokens.push_back(env.Token("rev" + std::to_string(i)));
  std::vector<int> status(kReviewers, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReviewers; ++i) {
    threads.emplace_back([&, i] {
      auto cli = env.Client();
      auto r = i % 2 == 0 ? cli->Post("/api/approvals/" + a.id + "/approve", Auth(tokens[i]), "{}", "application/json")
                          : cli->Post("/api/approvals/" + a.id + "/reject", Auth(tokens[i]), R"({"reason":"no"})",
                                      "application/json");
      status[i] = r ? r->status : -1;
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0, conflict = 0;
  for (int s : status) {
    if (s == 200) ++ok;
    if (s == 409) ++conflict;
  }
  CHECK(ok == 1);
  CHECK(conflict == kReviewers - 1);
  auto final_state = env.store->Get(a.id);
  REQUIRE(final_state.ok());
  CHECK(final_state->votes.size() == 1);
  CHECK(store::IsDecided(final_state->state));
  CHECK(fired.load() == 1);
}

TEST_CASE("edited arguments only for editable rules, recorded with the original", "[review][api]") {
  ReviewEnv env;
  auto cli = env.Client();
  auto fixed = env.Create("cancel_job", Json{{"job_id", 1}});
  auto r = cli->Post("/api/approvals/" + fixed.id + "/approve", Auth(env.Token("bob")),
                     R"({"arguments":{"job_id":2}})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(env.store->Get(fixed.id)->state == store::State::kPending);

  auto ed = env.Create("cancel_job", Json{{"job_id", 1}}, "agent-1", 1, true);
  r = cli->Post("/api/approvals/" + ed.id + "/approve", Auth(env.Token("bob")),
                R"({"arguments":{"job_id":1,"dry_run":true},"reason":"dry run first"})", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  Json j = Body(r)["approval"];
  CHECK(j["arguments"] == Json{{"job_id", 1}});
  CHECK(j["edited_arguments"] == Json{{"job_id", 1}, {"dry_run", true}});
  r = cli->Get("/api/approvals/" + ed.id, Auth(env.Token("bob")));
  CHECK(Body(r)["agent_message"].get<std::string>().find("edited arguments") != std::string::npos);
}

TEST_CASE("CSRF: a foreign Origin is refused and nothing is decided", "[review][api][csrf]") {
  ReviewEnv env;
  auto cli = env.Client();
  auto a = env.Create();
  const std::string bob = env.Token("bob");
  for (std::string origin : {"http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1.evil.example"}) {
    CAPTURE(origin);
    auto r = cli->Post("/api/approvals/" + a.id + "/approve", Auth(bob, {{"Origin", origin}}), "{}",
                       "application/json");
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(Body(r)["error"] == "forbidden_origin");
  }
  auto r = cli->Post("/api/approvals/" + a.id + "/reject", Auth(bob, {{"Sec-Fetch-Site", "cross-site"}}),
                     R"({"reason":"x"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(env.store->Get(a.id)->state == store::State::kPending);
  CHECK(env.store->Get(a.id)->votes.empty());
  // GETs carry no state change: a foreign Origin may read with a token (no cookies exist anyway).
  r = cli->Get("/api/approvals", Auth(bob, {{"Origin", "http://evil.example"}}));
  CHECK(r->status == 200);
  // Same origin (the page served by this listener) is fine.
  r = cli->Post("/api/approvals/" + a.id + "/approve",
                Auth(bob, {{"Origin", env.server->base_url()}, {"X-Holdgate-Client", "ui"}}), "{}",
                "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(env.store->Get(a.id)->state == store::State::kApproved);
}

TEST_CASE("payload limit and no exception text leaks", "[review][api]") {
  ReviewEnv env;
  auto cli = env.Client();
  auto a = env.Create();
  std::string big = R"({"reason":")" + std::string(100 * 1024, 'x') + R"("})";
  auto r = cli->Post("/api/approvals/" + a.id + "/reject", Auth(env.Token("bob")), big, "application/json");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK_FALSE(r->has_header("EXCEPTION_WHAT"));
  CHECK(env.store->Get(a.id)->state == store::State::kPending);
}

TEST_CASE("SSE: events arrive live and resume with Last-Event-ID", "[review][api][sse]") {
  ReviewEnv env;
  const std::string tok = env.Token("carol", Role::kAuditor);
  std::string resume_id;
  store::Approval first;
  {
    SseReader sse(env.server->port(), tok);
    REQUIRE(sse.status() == 200);
    REQUIRE(sse.WaitFor("event: ready"));
    CHECK(sse.content_type().find("text/event-stream") == 0);
    first = env.Create("cancel_job", Json{{"job_id", 1}});
    REQUIRE(sse.WaitFor(first.id));
    CHECK(sse.WaitFor("\"type\":\"approval.created\""));
    CHECK(sse.WaitFor(": ping"));  // heartbeats while idle
    resume_id = LastIdBefore(sse.text(), first.id);
    REQUIRE_FALSE(resume_id.empty());
    sse.Stop();
  }
  // While nobody listens: a decision and a new approval.
  auto cli = env.Client();
  auto r = cli->Post("/api/approvals/" + first.id + "/reject", Auth(env.Token("bob")), R"({"reason":"no"})",
                     "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  auto second = env.Create("delete_model", Json{{"model", "m"}});
  {
    SseReader sse(env.server->port(), tok, resume_id);
    REQUIRE(sse.WaitFor(second.id));
    std::string text = sse.text();
    CHECK(text.find("approval.rejected") != std::string::npos);
    CHECK(text.find("event: ready") == std::string::npos);  // resumed, not fresh
    // The first approval's creation is not replayed.
    CHECK(CountSubstr(text, "\"approval.created\"") == 1);
  }
  // A resume from before the ring (id 0) is served from the store.
  {
    SseReader sse(env.server->port(), tok, "0");
    REQUIRE(sse.WaitFor(second.id));
    CHECK(CountSubstr(sse.text(), "\"approval.created\"") == 2);
  }
  // Bad Last-Event-ID.
  r = cli->Get("/api/events", Auth(tok, {{"Last-Event-ID", "abc"}}));
  REQUIRE(r);
  CHECK(r->status == 400);
  // No token: 401 before any stream opens.
  r = cli->Get("/api/events");
  REQUIRE(r);
  CHECK(r->status == 401);
}

TEST_CASE("SSE: streams are capped and end when the server stops", "[review][api][sse]") {
  auto cfg = ReviewEnv::DefaultConfig();
  cfg.threads = 8;
  cfg.max_sse_clients = 2;
  ReviewEnv env(cfg);
  const std::string tok = env.Token("carol", Role::kAuditor);
  SseReader s1(env.server->port(), tok);
  SseReader s2(env.server->port(), tok);
  REQUIRE(s1.WaitFor("event: ready"));
  REQUIRE(s2.WaitFor("event: ready"));
  auto cli = env.Client();
  auto r = cli->Get("/api/events", Auth(tok));
  REQUIRE(r);
  CHECK(r->status == 503);
  // The API still answers while streams are open.
  r = cli->Get("/api/approvals", Auth(tok));
  REQUIRE(r);
  CHECK(r->status == 200);
  // A closed stream frees its slot.
  s1.Stop();
  bool reopened = false;
  for (int i = 0; i < 50 && !reopened; ++i) {
    SseReader s3(env.server->port(), tok);
    if (s3.status() == 200) reopened = s3.WaitFor("event: ready");
    s3.Stop();
    if (!reopened) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(reopened);
  env.server->Stop();
  CHECK(s2.WaitEnded());
}

TEST_CASE("audit: list, filter, export as JSON lines and CSV, verify", "[review][api][audit]") {
  ReviewEnv env;
  auto cli = env.Client();
  auto a = env.Create("cancel_job", Json{{"job_id", 1}, {"note", "=HYPERLINK(\"http://x\")"}});
  auto b = env.Create("delete_model", Json{{"model", "m,1"}});
  auto r = cli->Post("/api/approvals/" + a.id + "/approve", Auth(env.Token("bob")), "{}", "application/json");
  REQUIRE(r->status == 200);
  const std::string tok = env.Token("carol", Role::kAuditor);

  r = cli->Get("/api/audit", Auth(tok));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  Json j = Body(r);
  REQUIRE(j["events"].size() >= 3);
  CHECK(j["events"][0]["prev_hash"] == std::string(64, '0'));
  r = cli->Get("/api/audit", httplib::Params{{"approval_id", a.id}}, Auth(tok));
  j = Body(r);
  for (const auto& e : j["events"]) CHECK(e["approval_id"] == a.id);
  r = cli->Get("/api/audit", httplib::Params{{"type", "approval.created"}, {"order", "desc"}, {"limit", "1"}}, Auth(tok));
  j = Body(r);
  REQUIRE(j["events"].size() == 1);
  CHECK(j["events"][0]["approval_id"] == b.id);
  CHECK(j["next_cursor"].is_string());
  r = cli->Get("/api/audit", httplib::Params{{"order", "sideways"}}, Auth(tok));
  CHECK(r->status == 400);

  r = cli->Get("/api/audit/export", httplib::Params{{"format", "jsonl"}}, Auth(tok));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->get_header_value("Content-Type").find("application/x-ndjson") == 0);
  int lines = 0;
  std::stringstream ss(r->body);
  std::string line;
  while (std::getline(ss, line)) {
    auto e = ParseJson(line);
    REQUIRE(e.ok());
    CHECK(e->contains("hash"));
    ++lines;
  }
  store::AuditFilter all;
  all.limit = 10000;
  CHECK(lines == static_cast<int>(env.store->ListAudit(all)->events.size()));

  r = cli->Get("/api/audit/export", httplib::Params{{"format", "csv"}, {"approval_id", a.id}}, Auth(tok));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->get_header_value("Content-Type").find("text/csv") == 0);
  CHECK(r->body.rfind("seq,ts,type,", 0) == 0);
  CHECK(r->body.find(a.id) != std::string::npos);
  CHECK(r->body.find(b.id) == std::string::npos);
  r = cli->Get("/api/audit/export", httplib::Params{{"format", "xml"}}, Auth(tok));
  CHECK(r->status == 400);

  r = cli->Get("/api/audit/verify", Auth(tok));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  j = Body(r);
  CHECK(j["ok"] == true);
  CHECK(j["rows_checked"].get<int>() == lines);

  r = cli->Get("/api/deliveries", Auth(tok));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(Body(r)["deliveries"].is_array());
  r = cli->Get("/api/me", Auth(tok));
  j = Body(r);
  CHECK(j["sub"] == "carol");
  CHECK(j["role"] == "auditor");
  CHECK(j["can_decide"] == false);
}

TEST_CASE("plain routes bypass JWT and see the raw request", "[review][api]") {
  TempDir dir;
  testing::FakeClock clock(SystemClock::Instance().NowMs());
  auto st = store::Store::Open(dir.File("h.db"), clock);
  REQUIRE(st.ok());
  review::DecisionService decisions(**st);
  auto srv = review::ReviewServer::Create(ReviewEnv::DefaultConfig(), **st, decisions, clock);
  REQUIRE(srv.ok());
  std::string seen_sig, seen_body;
  (*srv)->AddPlainRoute("POST", "/slack/actions", [&](const review::PlainRequest& req) {
    seen_sig = req.Header("x-slack-signature");
    seen_body = req.body;
    review::PlainResponse out;
    out.status = 200;
    out.body = R"({"ok":true})";
    return out;
  });
  REQUIRE((*srv)->Start().ok());
  httplib::Client cli("127.0.0.1", (*srv)->port());
  auto r = cli.Post("/slack/actions", httplib::Headers{{"X-Slack-Signature", "v0=abc"}}, "payload=%7B%7D",
                    "application/x-www-form-urlencoded");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(seen_sig == "v0=abc");
  CHECK(seen_body == "payload=%7B%7D");
  (*srv)->Stop();
}

TEST_CASE("/metrics passes promtool check metrics", "[review][api][metrics]") {
  // A missing precondition fails the test (Debian package prometheus; scripts/deps.sh --test).
  INFO("promtool must be installed");
  REQUIRE(::access("/usr/bin/promtool", X_OK) == 0);
  ReviewEnv env;
  auto cli = env.Client();
  auto a = env.Create();
  REQUIRE(cli->Post("/api/approvals/" + a.id + "/approve", Auth(env.Token("bob")), "{}", "application/json")->status ==
          200);
  REQUIRE(cli->Get("/api/approvals", Auth("bad"))->status == 401);
  auto r = cli->Get("/metrics");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const std::string file = env.dir.File("metrics.txt");
  {
    std::ofstream out(file);
    out << r->body;
  }
  const std::string cmd = "/usr/bin/promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(file + ".out");
  std::stringstream ss;
  ss << in.rdbuf();
  INFO(ss.str());
  CHECK(rc == 0);
}

TEST_CASE("a short or empty HS256 secret refuses to start the listener", "[review][api][auth]") {
  TempDir dir;
  testing::FakeClock clock;
  auto st = store::Store::Open(dir.File("h.db"), clock);
  REQUIRE(st.ok());
  auto cfg = ReviewEnv::DefaultConfig();
  review::DecisionService decisions(**st);
  cfg.auth.hs256_secret = "";
  CHECK_FALSE(review::ReviewServer::Create(cfg, **st, decisions, clock).ok());
  cfg.auth.hs256_secret = "too-short";
  CHECK_FALSE(review::ReviewServer::Create(cfg, **st, decisions, clock).ok());
}

}  // namespace holdgate::reviewtest
