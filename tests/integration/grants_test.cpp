// Remembered approvals (grants) end to end, in-process so time is a FakeClock: an agent's held
// call approved with "remember" through the review API; the identical call then runs at once
// (audited as allowed by the grant), changed arguments are held, a grant revoked with the CLI holds
// again, a grant made with `holdgate approve --remember` survives a restart, and expiry ends one.
// Also the admin policy API (GET /api/policy, POST /api/policy/check) beside it.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <iostream>
#include <sstream>
#include <thread>

#include "cli/reviewer_commands.h"
#include "gateway/gateway.h"
#include "hold/hold_coordinator.h"
#include "hold/sweeper.h"
#include "policy/policy.h"
#include "policy/rate_limiter.h"
#include "review/decision_service.h"
#include "review/jwt_auth.h"
#include "review/review_server.h"
#include "server/policy_admin.h"
#include "server/tool_catalogue.h"
#include "store/store.h"
#include "support/fake_clock.h"
#include "support/mcp_http_client.h"
#include "support/process.h"
#include "transport/http_server.h"
#include "upstream/upstream.h"

namespace holdgate::testing {
namespace {

const std::string kSecret = "grants-test-secret-0123456789abcdef0123";
const std::string kPolicy = R"({"version":"1","default":"allow","tools":{
    "cancel_job":{"action":"require_approval","reason":"cancelling a job kills it with no undo",
                  "risk":{"level":"high","category":"Destructive"},
                  "approval":{"timeout":"10m","hold":"30s","remember":{"max":"1h"}},
                  "limits":[{"counter":"cj","window":"minute","max":100,"scope":"principal"}]},
    "delete_job":{"action":"require_approval","risk":{"level":"critical"}}}})";

// The gateway and the reviewer listener over one store file, as `holdgate serve` wires them.
struct Stack {
  FakeClock& clock;
  std::string db;
  std::string policy_file;
  std::unique_ptr<store::Store> store;
  hold::HoldCoordinator holds;
  std::unique_ptr<policy::RateLimiter> limiter;
  std::unique_ptr<upstream::Upstream> up;
  std::unique_ptr<gateway::Gateway> gw;
  std::unique_ptr<transport::HttpServer> http;
  std::unique_ptr<hold::Sweeper> sweeper;
  std::unique_ptr<review::DecisionService> decisions;
  std::unique_ptr<server::PolicyAdmin> admin;
  std::unique_ptr<review::ReviewServer> review;
  int feed = -1;

  Stack(FakeClock& c, std::string db_path, std::string policy_path)
      : clock(c), db(std::move(db_path)), policy_file(std::move(policy_path)) {
    auto s = store::Store::Open(db, clock);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    store = std::move(s.value());
    feed = store->AddListener([this](const store::ChangeEvent& e) { holds.OnApprovalChanged(e.approval); });
    limiter = std::make_unique<policy::RateLimiter>(clock);
    upstream::Options opts;
    opts.command = std::string(HOLDGATE_DEMO_UPSTREAM) + " --stdio";
    up = upstream::MakeStdioUpstream(opts);
    REQUIRE(up->Start().ok());
    admin = std::make_unique<server::PolicyAdmin>(policy_file, store.get(), clock);
    auto pol = admin->LoadInitial();
    INFO(pol.status().ToString());
    REQUIRE(pol.ok());
    gw = std::make_unique<gateway::Gateway>(gateway::GatewayOptions{}, *up, store.get(), &holds, limiter.get(), clock);
    gw->SetPolicy(*pol);
    gw->Start();
    sweeper = std::make_unique<hold::Sweeper>(*store, holds, clock);
    sweeper->Start();
    transport::HttpServerOptions h;
    h.port = 0;
    http = std::make_unique<transport::HttpServer>(h, *gw);
    REQUIRE(http->Bind().ok());
    http->Start();
    decisions = std::make_unique<review::DecisionService>(*store);
    review::ReviewServerConfig rc;
    rc.port = 0;
    rc.auth.hs256_secret = kSecret;
    auto srv = review::ReviewServer::Create(rc, *store, *decisions, clock);
    INFO(srv.status().ToString());
    REQUIRE(srv.ok());
    review = std::move(*srv);
    review->SetPolicyControl(admin->Control([this](std::shared_ptr<const policy::Policy> p) { gw->SetPolicy(p); }));
    REQUIRE(review->Start().ok());
  }
  ~Stack() {
    review->Stop();
    sweeper->Stop();
    gw->Shutdown();
    http->Stop();
    up->Stop();
    store->RemoveListener(feed);
  }

  McpHttpClient Agent() {
    McpHttpClient c("127.0.0.1", http->port());
    REQUIRE(c.Initialize().is_object());
    return c;
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(review->port()); }
  std::string Token(const std::string& sub, review::Role role = review::Role::kReviewer) {
    auto t = review::MintHs256(kSecret, sub, role, 3600, "", "", &clock);
    REQUIRE(t.ok());
    return *t;
  }
  std::pair<int, Json> Api(const std::string& method, const std::string& path, const std::string& token,
                           const Json& body = Json::object()) {
    httplib::Client c("127.0.0.1", review->port());
    c.set_read_timeout(std::chrono::seconds(15));
    httplib::Headers headers{{"Authorization", "Bearer " + token}};
    auto r = method == "GET" ? c.Get(path.c_str(), headers) : c.Post(path.c_str(), headers, body.dump(), "application/json");
    REQUIRE(r);
    auto j = ParseJson(r->body);
    return {r->status, j.ok() ? *j : Json(r->body)};
  }
  std::vector<store::Approval> Pending() {
    store::ApprovalFilter f;
    f.states = {store::State::kPending};
    auto page = store->List(f);
    REQUIRE(page.ok());
    return page->approvals;
  }
  size_t AuditCount(const std::string& type) {
    store::AuditFilter f;
    f.type = type;
    f.limit = 1000;
    auto page = store->ListAudit(f);
    REQUIRE(page.ok());
    return page->events.size();
  }
};

struct CliRun {
  int code = -100;
  std::string out, err;
};

CliRun Cli(std::vector<std::string> args, const std::string& url, const std::string& token) {
  args.push_back("--url=" + url);
  args.push_back("--token=" + token);
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  CliRun r;
  r.code = cli::RunReviewerCommand(args);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string Text(const Json& response) {
  const Json& content = response["result"]["content"];
  return content.is_array() && !content.empty() ? content[0].value("text", std::string()) : std::string();
}

// Starts the call on a thread and waits until its approval is pending; returns the approval id.
std::string HoldCall(Stack& s, McpHttpClient& agent, std::thread* t, Json* out, Json args) {
  const size_t before = s.Pending().size();
  *t = std::thread([&agent, out, args] { *out = agent.CallTool("cancel_job", args); });
  REQUIRE(WaitUntil([&] { return s.Pending().size() == before + 1; }));
  return s.Pending()[0].id;
}

}  // namespace

TEST_CASE("grants end to end: identical call runs at once, changed arguments and a revoked grant are held, "
          "a restart keeps grants, expiry ends them",
          "[integration][grants]") {
  TempDir dir;
  const std::string policy_path = dir.File("policy.json");
  WriteFile(policy_path, kPolicy);
  FakeClock clock(1'800'000'000'000);
  auto stack = std::make_unique<Stack>(clock, dir.File("h.db"), policy_path);
  const std::string alice = stack->Token("alice");
  const std::string bob = stack->Token("bob");
  const std::string admin = stack->Token("root", review::Role::kAdmin);
  McpHttpClient agent = stack->Agent();
  const Json args = {{"job_id", "job-1"}};

  // 1. Held; alice approves through the API and remembers it for 30 minutes.
  std::thread t;
  Json first;
  std::string id = HoldCall(*stack, agent, &t, &first, args);
  {
    auto [status, got] = stack->Api("GET", "/api/approvals/" + id, alice);
    REQUIRE(status == 200);
    CHECK(got["rule_reason"] == "cancelling a job kills it with no undo");
    CHECK(got["remember"]["max"] == "1h");
  }
  // A remember over the rule's cap is refused and decides nothing.
  {
    auto [status, body] = stack->Api("POST", "/api/approvals/" + id + "/approve", alice,
                                     Json{{"remember", {{"for", "2h"}}}});
    CHECK(status == 400);
    CHECK(body["message"].get<std::string>().find("at most 1h") != std::string::npos);
    REQUIRE(stack->Pending().size() == 1);
  }
  auto [status, approved] = stack->Api("POST", "/api/approvals/" + id + "/approve", alice,
                                       Json{{"reason", "fine"}, {"remember", {{"for", "30m"}}}});
  INFO(approved.dump());
  REQUIRE(status == 200);
  REQUIRE(approved.contains("grant"));
  const std::string grant_id = approved["grant"]["id"];
  {
    // A double click makes no second grant.
    auto [again_status, again] = stack->Api("POST", "/api/approvals/" + id + "/approve", alice,
                                            Json{{"remember", {{"for", "30m"}}}});
    CHECK(again_status == 200);
    CHECK_FALSE(again.contains("grant"));
    CHECK(again.contains("grant_error"));
  }
  CHECK(approved["grant"]["scope"] == "principal");
  CHECK(approved["grant"]["arguments"] == "same");
  t.join();
  CHECK_FALSE(first["result"].value("isError", false));

  // 2. The identical call runs at once: no new approval, audited as a use of the grant.
  Json again = agent.CallTool("cancel_job", args);
  CHECK_FALSE(again["result"].value("isError", false));
  CHECK(stack->Pending().empty());
  CHECK(stack->AuditCount("grant.used") == 1);
  CHECK(stack->AuditCount("approval.created") == 1);

  // 3. Changed arguments are held.
  Json changed;
  std::string changed_id = HoldCall(*stack, agent, &t, &changed, Json{{"job_id", "job-2"}});
  REQUIRE(stack->Api("POST", "/api/approvals/" + changed_id + "/reject", bob, Json{{"reason", "no"}}).first == 200);
  t.join();
  CHECK(Text(changed).find("no") != std::string::npos);

  // 4. `holdgate grants` lists it; bob (not its maker, not admin) may not revoke it; alice may.
  CliRun listed = Cli({"grants", "--json"}, stack->Url(), bob);
  REQUIRE(listed.code == 0);
  auto grants = ParseJson(listed.out);
  REQUIRE(grants.ok());
  REQUIRE(grants->size() == 1);
  CHECK((*grants)[0]["id"] == grant_id);
  CHECK((*grants)[0]["uses"] == 1);
  CliRun refused = Cli({"revoke", grant_id}, stack->Url(), bob);
  CHECK(refused.code == 5);
  CliRun revoked = Cli({"revoke", grant_id, "--reason", "done for today"}, stack->Url(), alice);
  INFO(revoked.err);
  REQUIRE(revoked.code == 0);
  CHECK(stack->AuditCount("grant.revoked") == 1);
  CHECK(Cli({"revoke", grant_id}, stack->Url(), alice).code == 4);  // already revoked

  // 5. The revoked grant no longer covers the call: held again. Approved with the CLI, remembered.
  Json held_again;
  std::string again_id = HoldCall(*stack, agent, &t, &held_again, args);
  CliRun remember = Cli({"approve", again_id, "--remember", "10m"}, stack->Url(), bob);
  INFO(remember.err);
  REQUIRE(remember.code == 0);
  CHECK(remember.out.find("Remembered as grt_") != std::string::npos);
  t.join();
  CHECK_FALSE(held_again["result"].value("isError", false));
  // --scope without --remember is a usage error.
  CliRun usage = Cli({"approve", again_id, "--scope", "session"}, stack->Url(), bob);
  CHECK(usage.code == 2);

  // 6. A restart keeps the grant.
  stack.reset();
  stack = std::make_unique<Stack>(clock, dir.File("h.db"), policy_path);
  McpHttpClient agent2 = stack->Agent();
  Json after_restart = agent2.CallTool("cancel_job", args);
  CHECK_FALSE(after_restart["result"].value("isError", false));
  CHECK(stack->Pending().empty());
  CHECK(stack->AuditCount("grant.used") == 2);

  // 7. Expiry: ten minutes later the call is held again and the sweep audits the expiry.
  clock.Advance(10 * 60'000);
  Json expired_call;
  std::string after_expiry = HoldCall(*stack, agent2, &t, &expired_call, args);
  REQUIRE(WaitUntil([&] { return stack->AuditCount("grant.expired") == 1; }));
  REQUIRE(stack->Api("POST", "/api/approvals/" + after_expiry + "/reject", admin, Json{{"reason", "enough"}}).first == 200);
  t.join();
  auto verdict = stack->store->VerifyAuditChain();
  REQUIRE(verdict.ok());
  CHECK(verdict->ok);
}

TEST_CASE("critical rules are not rememberable by default, a refused remember decides nothing", "[integration][grants]") {
  TempDir dir;
  const std::string policy_path = dir.File("policy.json");
  WriteFile(policy_path, kPolicy);
  FakeClock clock(1'800'000'000'000);
  Stack stack(clock, dir.File("h.db"), policy_path);
  McpHttpClient agent = stack.Agent();
  Json out;
  std::thread t([&] { out = agent.CallTool("delete_job", {{"job_id", "x"}}); });
  REQUIRE(WaitUntil([&] { return stack.Pending().size() == 1; }));
  const std::string id = stack.Pending()[0].id;
  auto [status, body] = stack.Api("POST", "/api/approvals/" + id + "/approve", stack.Token("alice"),
                                  Json{{"remember", {{"for", "5m"}}}});
  CHECK(status == 403);
  CHECK(body["message"].get<std::string>().find("does not allow remembering") != std::string::npos);
  REQUIRE(stack.Pending().size() == 1);  // nothing decided
  // Malformed remember requests are 400.
  for (const Json& bad : {Json{{"for", "soon"}}, Json{{"for", "5m"}, {"scope", "world"}}, Json{{"for", "5m"}, {"arguments", "some"}},
                          Json("5m")}) {
    CHECK(stack.Api("POST", "/api/approvals/" + id + "/approve", stack.Token("alice"), Json{{"remember", bad}}).first == 400);
  }
  REQUIRE(stack.Api("POST", "/api/approvals/" + id + "/reject", stack.Token("alice"), Json{{"reason", "no"}}).first == 200);
  t.join();
}

TEST_CASE("admin policy API: the active policy, a what-if check, a reload, admins only, audited", "[integration][policy_api]") {
  TempDir dir;
  const std::string policy_path = dir.File("policy.json");
  WriteFile(policy_path, kPolicy);
  FakeClock clock(1'800'000'000'000);
  Stack stack(clock, dir.File("h.db"), policy_path);
  const std::string admin = stack.Token("root", review::Role::kAdmin);
  const std::string reviewer = stack.Token("alice");

  CHECK(stack.Api("GET", "/api/policy", reviewer).first == 200);  // read-only for every role
  CHECK(stack.Api("POST", "/api/policy/check", reviewer, Json{{"tool", "cancel_job"}}).first == 403);
  CHECK(stack.Api("POST", "/api/policy/reload", reviewer).first == 403);

  auto [gs, got] = stack.Api("GET", "/api/policy", admin);
  REQUIRE(gs == 200);
  CHECK(got["hash"].get<std::string>().size() == 64);
  CHECK(got["policy"]["tools"].contains("cancel_job"));
  CHECK(got["path"] == policy_path);

  auto [cs, held] = stack.Api("POST", "/api/policy/check", admin,
                              Json{{"tool", "cancel_job"}, {"arguments", {{"job_id", "j"}}}, {"principal", "anonymous"}});
  REQUIRE(cs == 200);
  CHECK(held["action"] == "hold");
  CHECK(held["rule"] == "tools.cancel_job");
  CHECK(held["reason"] == "cancelling a job kills it with no undo");
  CHECK(held["approval"]["remember"]["max"] == "1h");
  auto [as, allowed] = stack.Api("POST", "/api/policy/check", admin, Json{{"tool", "list_jobs"}});
  REQUIRE(as == 200);
  CHECK(allowed["action"] == "allow");
  CHECK(stack.Api("POST", "/api/policy/check", admin, Json{{"arguments", Json::object()}}).first == 400);
  CHECK(stack.AuditCount("policy.checked") == 2);

  // CLI: policy check --url.
  {
    std::ostringstream out;
    auto* old = std::cout.rdbuf(out.rdbuf());
    int code = cli::RunRemotePolicy({"check", "--tool", "cancel_job", "--arguments", R"({"job_id":"j"})",
                                     "--url=" + stack.Url(), "--token=" + admin});
    std::cout.rdbuf(old);
    CHECK(code == 0);
    CHECK(out.str().find("held for approval") != std::string::npos);
  }

  // A broken file is refused (422) and the old policy stays; a good one is applied.
  WriteFile(policy_path, R"({"version":"1","default":"maybe"})");
  auto [bs, bad] = stack.Api("POST", "/api/policy/reload", admin);
  CHECK(bs == 422);
  CHECK(stack.AuditCount("policy.reload_failed") == 1);
  CHECK(stack.Api("GET", "/api/policy", admin).second["hash"] == got["hash"]);
  WriteFile(policy_path, R"({"version":"1","default":"deny"})");
  auto [rs, reloaded] = stack.Api("POST", "/api/policy/reload", admin);
  REQUIRE(rs == 200);
  CHECK(reloaded["hash"] != got["hash"]);
  CHECK(stack.Api("POST", "/api/policy/check", admin, Json{{"tool", "cancel_job"}}).second["action"] == "deny");
  CHECK(stack.AuditCount("policy.loaded") == 1);
}

TEST_CASE("policy editor API: admins validate, dry-run, save and roll back, reviewers are refused",
          "[integration][policy]") {
  TempDir dir;
  const std::string policy_path = dir.File("policy.json");
  WriteFile(policy_path, kPolicy);
  FakeClock clock(1'800'000'000'000);
  Stack stack(clock, dir.File("h.db"), policy_path);
  const std::string admin = stack.Token("root", review::Role::kAdmin);
  const std::string reviewer = stack.Token("alice");
  const std::string allow_cancel = R"({"version":"1","default":"allow","tools":{"cancel_job":{}}})";

  for (const char* path : {"/api/policy", "/api/policy/validate", "/api/policy/dry-run"}) {
    CHECK(stack.Api("POST", path, reviewer, Json{{"text", allow_cancel}, {"why", "x"}}).first == 403);
  }
  CHECK(stack.Api("GET", "/api/policy/versions", reviewer).first == 200);

  auto [vs, valid] = stack.Api("POST", "/api/policy/validate", admin, Json{{"text", R"({"version":"1"})"}});
  REQUIRE(vs == 200);
  CHECK(valid["ok"] == false);
  CHECK(valid["errors"][0].get<std::string>().find("default") != std::string::npos);

  auto [ds, dry] = stack.Api("POST", "/api/policy/dry-run", admin, Json{{"text", allow_cancel}, {"limit", 50}});
  REQUIRE(ds == 200);
  CHECK(dry["compared"] == 0);
  CHECK(stack.Api("POST", "/api/policy/dry-run", admin, Json{{"text", "{"}}).first == 422);

  // Refused saves leave the file as it was.
  CHECK(stack.Api("POST", "/api/policy", admin, Json{{"text", allow_cancel}}).first == 400);  // no why
  auto [bs, bad] = stack.Api("POST", "/api/policy", admin, Json{{"text", R"({"version":"1","default":"maybe"})"}, {"why", "x"}});
  CHECK(bs == 422);
  CHECK(bad["message"].get<std::string>().find("default") != std::string::npos);
  CHECK(stack.Api("POST", "/api/policy", admin, Json{{"text", allow_cancel}, {"why", "x"}, {"base_hash", std::string(64, '0')}}).first == 409);
  CHECK(ReadFile(policy_path) == kPolicy);

  auto [ss, saved] = stack.Api("POST", "/api/policy", admin, Json{{"text", allow_cancel}, {"why", "let agents cancel"}});
  REQUIRE(ss == 200);
  CHECK(ReadFile(policy_path) == allow_cancel);
  CHECK(stack.Api("POST", "/api/policy/check", admin, Json{{"tool", "cancel_job"}}).second["action"] == "allow");
  CHECK(stack.AuditCount("policy.saved") == 1);

  auto [ls, list] = stack.Api("GET", "/api/policy/versions", admin);
  REQUIRE(ls == 200);
  REQUIRE(list["versions"].size() == 2);
  const std::string first = list["versions"][1]["id"];
  CHECK(stack.Api("GET", "/api/policy/versions/" + first, reviewer).second["text"] == kPolicy);
  CHECK(stack.Api("POST", "/api/policy/versions/" + first + "/rollback", reviewer, Json{{"why", "x"}}).first == 403);
  CHECK(stack.Api("POST", "/api/policy/versions/" + first + "/rollback", admin).first == 400);  // no why
  CHECK(stack.Api("GET", "/api/policy/versions/0099-20260101T000000Z", admin).first == 404);
  auto [rs, rolled] = stack.Api("POST", "/api/policy/versions/" + first + "/rollback", admin, Json{{"why", "undo"}});
  REQUIRE(rs == 200);
  CHECK(rolled["version"]["rollback_of"] == first);
  CHECK(ReadFile(policy_path) == kPolicy);
  CHECK(stack.Api("POST", "/api/policy/check", admin, Json{{"tool", "cancel_job"}}).second["action"] == "hold");
}

TEST_CASE("tool catalogue: the demo upstream's tools under the policy, counted from the audit log",
          "[integration][policy]") {
  TempDir dir;
  const std::string policy_path = dir.File("policy.json");
  WriteFile(policy_path, kPolicy);
  FakeClock clock(1'800'000'000'000);
  Stack stack(clock, dir.File("h.db"), policy_path);
  server::PolicyAdmin* admin = stack.admin.get();
  server::ToolCatalogue catalogue(server::ToolCatalogueOptions{}, [admin] { return admin->Current(); },
                                  stack.store.get(), clock);
  CHECK(catalogue.Tools(false).status().code() == Code::kUnavailable);
  catalogue.SetUpstream(stack.up.get());
  store::AuditEvent denied;
  denied.type = "call.denied";
  denied.tool = "cancel_job";
  REQUIRE(stack.store->AppendAudit(denied).ok());

  auto r = catalogue.Tools(false);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const Json& tools = (*r)["upstreams"][0]["tools"];
  CHECK((*r)["upstreams"][0]["name"] == "default");
  CHECK(tools.size() == 7);
  Json cancel;
  for (const Json& t : tools) {
    if (t["name"] == "cancel_job") cancel = t;
  }
  REQUIRE(cancel.is_object());
  CHECK(cancel["decision"]["action"] == "hold");
  CHECK(cancel["risk"]["level"] == "high");
  CHECK(cancel["risk"]["source"] == "policy");
  CHECK(cancel["annotations"]["destructiveHint"] == true);
  CHECK(cancel["last_24h"]["denied"] == 1);
  CHECK(catalogue.Annotations("cancel_job")["destructiveHint"] == true);
}

}  // namespace holdgate::testing

namespace holdgate::testing {

TEST_CASE("a call covered by a grant still counts against the rule's rate limits", "[integration][grants]") {
  TempDir dir;
  const std::string policy_path = dir.File("policy.json");
  WriteFile(policy_path, R"({"version":"1","default":"allow","tools":{
      "cancel_job":{"action":"require_approval","approval":{"timeout":"10m","hold":"30s"},
                    "limits":[{"counter":"cj","window":"hour","max":2,"scope":"principal"}]}}})");
  FakeClock clock(1'800'000'000'000);
  Stack stack(clock, dir.File("h.db"), policy_path);
  McpHttpClient agent = stack.Agent();
  const Json args = {{"job_id", "j"}};
  std::thread t;
  Json first;
  std::string id = HoldCall(stack, agent, &t, &first, args);
  auto [status, body] = stack.Api("POST", "/api/approvals/" + id + "/approve", stack.Token("alice"),
                                  Json{{"remember", {{"for", "30m"}}}});
  INFO(body.dump());
  REQUIRE(status == 200);
  t.join();
  Json second = agent.CallTool("cancel_job", args);  // the grant's first use: the limit's 2nd call
  CHECK_FALSE(second["result"].value("isError", false));
  Json third = agent.CallTool("cancel_job", args);  // over the limit: refused, no use recorded
  CHECK(third["result"].value("isError", false));
  CHECK(Text(third).find("Retry in") != std::string::npos);
  CHECK(stack.AuditCount("grant.used") == 1);
  CHECK(stack.Pending().empty());
}

}  // namespace holdgate::testing
