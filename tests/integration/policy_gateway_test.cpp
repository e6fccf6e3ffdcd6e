// The policy inside the live pipeline, in-process so time is a FakeClock: hidden tools vanish from
// every tools/list page and are unknown on call, denials carry the reason, rate limits trip and
// recover, shadow mode lets calls through and records what it would have done, and a reload
// switches behaviour without dropping the agent's session.
#include <catch2/catch.hpp>
#include <thread>

#include "gateway/gateway.h"
#include "hold/hold_coordinator.h"
#include "hold/sweeper.h"
#include "policy/policy.h"
#include "policy/rate_limiter.h"
#include "store/store.h"
#include "support/fake_clock.h"
#include "support/mcp_http_client.h"
#include "support/process.h"
#include "transport/http_server.h"
#include "upstream/upstream.h"

namespace holdgate::testing {
namespace {

std::shared_ptr<const policy::Policy> MustParse(const std::string& text) {
  auto p = policy::Policy::Parse(text);
  INFO(p.status().ToString());
  REQUIRE(p.ok());
  return p.value();
}

struct InProcessGateway {
  TempDir dir;
  FakeClock clock;
  std::unique_ptr<store::Store> store;
  hold::HoldCoordinator holds;
  std::unique_ptr<policy::RateLimiter> limiter;
  std::unique_ptr<upstream::Upstream> up;
  std::unique_ptr<gateway::Gateway> gw;
  std::unique_ptr<transport::HttpServer> http;
  std::unique_ptr<hold::Sweeper> sweeper;

  explicit InProcessGateway(const std::string& policy_text, const std::string& demo_flags = "") {
    auto s = store::Store::Open(dir.File("h.db"), clock);
    REQUIRE(s.ok());
    store = std::move(s.value());
    store->AddListener([this](const store::ChangeEvent& e) { holds.OnApprovalChanged(e.approval); });  // as serve does
    limiter = std::make_unique<policy::RateLimiter>(clock);
    upstream::Options opts;
    opts.command = std::string(HOLDGATE_DEMO_UPSTREAM) + " --stdio " + demo_flags;
    up = upstream::MakeStdioUpstream(opts);
    REQUIRE(up->Start().ok());
    gw = std::make_unique<gateway::Gateway>(gateway::GatewayOptions{}, *up, store.get(), &holds, limiter.get(), clock);
    gw->SetPolicy(MustParse(policy_text));
    gw->Start();
    sweeper = std::make_unique<hold::Sweeper>(*store, holds, clock);
    sweeper->Start();
    transport::HttpServerOptions h;
    h.port = 0;
    http = std::make_unique<transport::HttpServer>(h, *gw);
    REQUIRE(http->Bind().ok());
    http->Start();
  }
  ~InProcessGateway() {
    sweeper->Stop();
    gw->Shutdown();
    http->Stop();
    up->Stop();
  }
  McpHttpClient Agent() {
    McpHttpClient c("127.0.0.1", http->port());
    REQUIRE(c.Initialize().is_object());
    return c;
  }
  std::vector<store::AuditEvent> Audit(const std::string& type) {
    store::AuditFilter f;
    f.type = type;
    auto page = store->ListAudit(f);
    REQUIRE(page.ok());
    return page.value().events;
  }
};

std::vector<std::string> AllToolNames(McpHttpClient& c) {
  std::vector<std::string> names;
  Json cursor;
  for (int page = 0; page < 100; ++page) {
    Json params = Json::object();
    if (!cursor.is_null()) params["cursor"] = cursor;
    Json r = c.Post(Json{{"jsonrpc", "2.0"}, {"id", c.next_id()}, {"method", "tools/list"}, {"params", params}}).Response();
    for (auto& t : r["result"]["tools"]) names.push_back(t["name"]);
    if (!r["result"].contains("nextCursor")) break;
    cursor = r["result"]["nextCursor"];
  }
  return names;
}

bool Has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

TEST_CASE("hidden tools vanish from every tools/list page and are unknown on call", "[integration][policy]") {
  InProcessGateway g(R"({"version":"1","default":"allow","hide":["cancel_job","noop_*"]})", "--page-size 2 --extra-tools 5");
  McpHttpClient c = g.Agent();
  std::vector<std::string> names = AllToolNames(c);
  CHECK(Has(names, "list_jobs"));
  CHECK(Has(names, "start_job"));
  CHECK_FALSE(Has(names, "cancel_job"));
  CHECK_FALSE(Has(names, "noop_1"));
  CHECK_FALSE(Has(names, "noop_5"));
  Json r = c.CallTool("cancel_job", {{"job_id", "x"}});
  REQUIRE(r.contains("error"));
  CHECK(r["error"]["code"] == -32602);
  CHECK(r["error"]["message"] == "Unknown tool: cancel_job");
  CHECK(g.Audit("call.hidden").size() == 1);
}

TEST_CASE("a denied call returns the policy's reason and never reaches the upstream", "[integration][policy]") {
  InProcessGateway g(R"({"version":"1","default":"deny","tools":{"list_jobs":{},
      "start_job":{"action":"deny","reason":"Jobs are started by the scheduler, not by agents"}}})");
  McpHttpClient c = g.Agent();
  Json r = c.CallTool("start_job", {{"duration_ms", 10}});
  REQUIRE(r.contains("result"));
  CHECK(r["result"]["isError"] == true);
  std::string text = r["result"]["content"][0]["text"];
  CHECK(text.find("Jobs are started by the scheduler") != std::string::npos);
  Json unnamed = c.CallTool("whoami", Json::object());
  CHECK(unnamed["result"]["isError"] == true);  // default deny covers tools the policy never names
  CHECK_FALSE(c.CallTool("list_jobs", Json::object())["result"].value("isError", true));
  auto denied = g.Audit("call.denied");
  REQUIRE(denied.size() == 2);
  CHECK(denied[0].tool == "start_job");
  CHECK(denied[0].rule == "tools.start_job");
}

TEST_CASE("rate limits trip and recover when the window passes", "[integration][policy]") {
  InProcessGateway g(R"({"version":"1","default":"allow","tools":{
      "list_jobs":{"limits":[{"counter":"lj","window":"minute","max":2,"scope":"principal"}]}}})");
  McpHttpClient c = g.Agent();
  g.clock.Set(1'800'000'000'000);  // the start of a minute
  CHECK_FALSE(c.CallTool("list_jobs", Json::object())["result"].value("isError", true));
  CHECK_FALSE(c.CallTool("list_jobs", Json::object())["result"].value("isError", true));
  Json limited = c.CallTool("list_jobs", Json::object());
  CHECK(limited["result"]["isError"] == true);
  CHECK(limited["result"]["content"][0]["text"].get<std::string>().find("Retry in") != std::string::npos);
  g.clock.Advance(60'000);
  CHECK_FALSE(c.CallTool("list_jobs", Json::object())["result"].value("isError", true));
}

TEST_CASE("rate limits on a held tool: a retry re-attaches uncounted, a rejected call gives its count back",
          "[integration][policy]") {
  InProcessGateway g(R"({"version":"1","default":"allow","tools":{
      "cancel_job":{"action":"require_approval","approval":{"timeout":"10m","hold":"5s"},
                    "limits":[{"counter":"cj","window":"minute","max":1,"scope":"principal"}]}}})");
  McpHttpClient c = g.Agent();
  g.clock.Set(1'800'000'000'000);  // the start of a minute
  auto pending = [&] {
    store::ApprovalFilter f;
    f.states = {store::State::kPending};
    auto page = g.store->List(f);
    REQUIRE(page.ok());
    return page.value().approvals;
  };
  // 1. Held, then deferred when its 5 s hold limit passes (the agent is told to retry).
  Json first;
  std::thread t1([&] { first = c.CallTool("cancel_job", {{"job_id", "job-1"}}); });
  REQUIRE(WaitUntil([&] { return pending().size() == 1; }));
  const std::string id = pending()[0].id;
  // Attached (its hold deadline is set from the clock): its reservation's watch and its own.
  REQUIRE(WaitUntil([&] { return g.holds.Counters().waiters >= 2; }));
  g.clock.Advance(6'000);
  t1.join();
  CHECK(first["result"]["content"][0]["text"].get<std::string>().find(id) != std::string::npos);
  // 2. The retry of the same call is not rate-limited: it re-attaches and learns the decision.
  Json retry;
  std::thread t2([&] { retry = c.CallTool("cancel_job", {{"job_id", "job-1"}}); });
  REQUIRE(WaitUntil([&] { return g.holds.Counters().waiters >= 2; }));  // its reservation and the retry
  store::DecisionInput d;
  d.id = id;
  d.reviewer = "alice";
  d.approve = false;
  d.reason = "not this one";
  d.via = "api";
  REQUIRE(g.store->Decide(d).ok());
  t2.join();
  const std::string text = retry["result"]["content"][0]["text"];
  CHECK(text.find("not this one") != std::string::npos);
  CHECK(text.find("Retry in") == std::string::npos);
  // 3. The rejected call never ran: its count is back, so another call in the same minute is held
  //    (not rate-limited); the one after that is over the limit.
  Json third;
  std::thread t3([&] { third = c.CallTool("cancel_job", {{"job_id", "job-2"}}); });
  REQUIRE(WaitUntil([&] { return pending().size() == 1; }));
  Json limited = c.CallTool("cancel_job", {{"job_id", "job-3"}});
  CHECK(limited["result"]["content"][0]["text"].get<std::string>().find("Retry in") != std::string::npos);
  d.id = pending()[0].id;
  REQUIRE(g.store->Decide(d).ok());
  t3.join();
  CHECK(third["result"]["content"][0]["text"].get<std::string>().find("not this one") != std::string::npos);
}

TEST_CASE("shadow mode lets calls through and records what it would have done", "[integration][policy]") {
  InProcessGateway g(R"({"version":"1","default":"allow","tools":{
      "start_job":{"action":"deny","reason":"would be denied","shadow":true},
      "cancel_job":{"action":"require_approval","shadow":true}}})");
  McpHttpClient c = g.Agent();
  CHECK_FALSE(c.CallTool("start_job", {{"duration_ms", 10}})["result"].value("isError", true));
  Json cancel = c.CallTool("cancel_job", {{"job_id", "nope"}});
  CHECK(cancel.contains("result"));  // ran, not held
  auto shadow = g.Audit("call.shadow");
  REQUIRE(shadow.size() == 2);
  CHECK(shadow[0].decision == "deny");
  CHECK(shadow[1].decision == "hold");
  store::ApprovalFilter pending;
  CHECK(g.store->List(pending).value().approvals.empty());
}

TEST_CASE("a reload switches behaviour for new calls without dropping the session", "[integration][policy]") {
  InProcessGateway g(R"({"version":"1","default":"allow"})");
  McpHttpClient c = g.Agent();
  CHECK_FALSE(c.CallTool("start_job", {{"duration_ms", 10}})["result"].value("isError", true));
  g.gw->SetPolicy(MustParse(R"({"version":"1","default":"allow","hide":["start_job"]})"));
  // The same session goes on; the agent is told to re-list on its GET stream (buffered until the
  // stream opens).
  CHECK(c.ReadGetStreamUntil("notifications/tools/list_changed", 10000));
  Json r = c.CallTool("start_job", {{"duration_ms", 10}});
  CHECK(r["error"]["code"] == -32602);
  CHECK_FALSE(Has(AllToolNames(c), "start_job"));
}

}  // namespace holdgate::testing
