// Operations in a real holdgate process: /readyz, drain on SIGTERM (pass-through calls in flight
// finish, new ones are refused, held calls stay pending across the restart), W3C trace context
// from agent to upstream, audit log, log lines and webhook payload, and online backup while the
// server writes, verified and restored.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "httplib.h"
#include "support/mcp_http_client.h"
#include "support/process.h"
#include "support/review_client.h"

namespace holdgate::testing {
namespace {

constexpr char kAgentTrace[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kAgentTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";

constexpr char kPolicy[] = R"({"version":"1","default":"allow",
  "tools":{"cancel_job":{"action":"require_approval","reason":"irreversible",
                         "approval":{"hold":"60s","timeout":"1h","notify":["webhook:ops"]}}}})";

// `text` as JSON, or `fallback` when it is not JSON.
Json Parsed(const std::string& text, Json fallback) {
  Result<Json> r = ParseJson(text);
  return r.ok() ? r.value() : fallback;
}

int Counter(const std::string& dir, const char* name) {
  Json c = Parsed(ReadFile(dir + "/counters.json"), Json::object());
  return c.is_object() ? c.value(name, 0) : 0;
}

// The text of a tool result, parsed as JSON (the demo answers JSON text).
Json ResultJson(const Json& response) {
  return Parsed(response["result"]["content"][0]["text"].get<std::string>(), Json());
}

// A launch in `dir` with kPolicy and, when given, `config` as its config file.
GatewayLaunch LaunchWithPolicy(const TempDir& dir, const std::string& config = "") {
  WriteFile(dir.File("policy.json"), kPolicy);
  GatewayLaunch launch;
  launch.dir = dir.path();
  launch.policy_file = dir.File("policy.json");
  if (!config.empty()) {
    WriteFile(dir.File("holdgate.json"), config);
    launch.config_file = dir.File("holdgate.json");
  }
  return launch;
}

// whoami through holdgate with the agent's traceparent header: what the upstream saw.
Json WhoamiWithAgentTrace(McpHttpClient& agent) {
  HttpReply r = agent.Post(Json{{"jsonrpc", "2.0"}, {"id", agent.next_id()}, {"method", "tools/call"},
                                {"params", {{"name", "whoami"}, {"arguments", Json::object()}}}},
                           {{"traceparent", kAgentTrace}});
  return ResultJson(r.Response());
}

std::string Bin() { return HOLDGATE_BINARY; }

int RunCli(const std::vector<std::string>& args, const std::string& out_file) {
  std::string cmd = Bin();
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " > '" + out_file + "' 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Starts holdgate with `launch`, checks that the one pending approval is `approval_id` and that it
// is ready, and stops it cleanly.
void ExpectPendingAfterStart(const GatewayLaunch& launch, const Json& approval_id) {
  Gateway gw = StartGateway(launch);
  REQUIRE(gw.process);
  ReviewClient reviewer(gw.review_port, "bob");
  Json pending = reviewer.WaitForPending(1);
  REQUIRE(pending.is_object());
  CHECK(pending["id"] == approval_id);
  CHECK(reviewer.Get("/readyz").status == 200);
  CHECK(gw.process->Stop(SIGTERM) == 0);
}

}  // namespace

TEST_CASE("readyz reports store, upstream and policy, and SIGTERM drains pass-through calls and keeps held ones pending",
          "[integration][operations]") {
  TempDir dir;
  GatewayLaunch launch = LaunchWithPolicy(dir);
  launch.env = {"HOLDGATE_DRAIN_GRACE=20s"};
  Gateway gw = StartGateway(launch);
  REQUIRE(gw.process);
  ReviewClient reviewer(gw.review_port, "bob");

  auto ready = reviewer.Get("/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body["ready"] == true);
  CHECK(ready.body["checks"]["store"] == "ok");
  CHECK(ready.body["checks"]["upstream"] == "ok");
  CHECK(ready.body["checks"]["policy"] == "ok");
  CHECK(ready.body["checks"]["draining"] == false);

  // A held call, open, and a slow pass-through call in flight at the upstream.
  std::atomic<bool> held_answered{false};
  Json held_reply;
  std::thread held([&] {
    McpHttpClient agent("127.0.0.1", gw.mcp_port);
    agent.set_read_timeout_s(60);
    agent.Initialize();
    held_reply = agent.CallTool("cancel_job", {{"job_id", "j1"}});
    held_answered = true;
  });
  Json pending = reviewer.WaitForPending(1);
  REQUIRE(pending.is_object());
  Json slow_reply;
  std::thread slow([&] {
    McpHttpClient agent("127.0.0.1", gw.mcp_port);
    agent.set_read_timeout_s(60);
    agent.Initialize();
    slow_reply = agent.CallTool("slow_echo", {{"message", "finish me"}, {"delay_ms", 1500}});
  });
  McpHttpClient late("127.0.0.1", gw.mcp_port);
  REQUIRE(late.Initialize().is_object());
  REQUIRE(WaitUntil([&] { return Counter(dir.path(), "tools_call_total") >= 1; }));

  kill(gw.process->pid(), SIGTERM);
  // Draining: not ready, new calls refused; the review listener still answers meanwhile.
  REQUIRE(WaitUntil([&] { return reviewer.Get("/readyz").status == 503; }));
  auto draining = reviewer.Get("/readyz");
  CHECK(draining.body["checks"]["draining"] == true);
  Json refused = late.CallTool("list_jobs", Json::object());
  CHECK(refused["error"]["message"].get<std::string>().find("shutting down") != std::string::npos);

  slow.join();
  held.join();
  CHECK(gw.process->Stop(SIGTERM, 30000) == 0);
  // The slow call finished normally inside the grace period.
  REQUIRE(slow_reply.contains("result"));
  CHECK(slow_reply["result"]["content"][0]["text"].get<std::string>().find("finish me") != std::string::npos);
  CHECK(Counter(dir.path(), "slow_echo_completed") == 1);
  // The held call's agent got a deferral; nothing ran.
  CHECK(held_answered);
  CHECK(Counter(dir.path(), "cancel_job_calls") == 0);
  const std::string log = ReadFile(dir.File("holdgate.log"));
  CHECK(log.find("\"msg\":\"draining") != std::string::npos);
  CHECK(log.find("\"msg\":\"drained: every pass-through call in flight finished\"") != std::string::npos);
  CHECK(log.find("held calls are left pending for the next start") != std::string::npos);

  // The next start finds the approval still pending.
  ExpectPendingAfterStart(launch, pending["id"]);
}

TEST_CASE("trace context: the agent's trace id reaches the upstream, the audit log, the log lines and the webhook",
          "[integration][operations]") {
  TempDir dir;
  // A webhook receiver on loopback.
  httplib::Server receiver;
  std::mutex mu;
  std::vector<Json> received;
  receiver.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    received.push_back(Parsed(req.body, Json()));
    res.status = 204;
  });
  int hook_port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { receiver.listen_after_bind(); });
  GatewayLaunch launch = LaunchWithPolicy(
      dir, Json{{"audit", {{"all_calls", true}}},
                {"notify", {{"webhooks", {{{"name", "ops"}, {"url", "http://127.0.0.1:" + std::to_string(hook_port) + "/hook"},
                                           {"secret", "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMy"}}}}}}}
               .dump());
  Gateway gw = StartGateway(launch);
  REQUIRE(gw.process);
  McpHttpClient agent("127.0.0.1", gw.mcp_port);
  REQUIRE(agent.Initialize().is_object());

  // Header traceparent: the upstream (stdio) sees our hop in _meta, same trace id, new span.
  Json seen = WhoamiWithAgentTrace(agent);
  REQUIRE(seen.contains("meta_traceparent"));
  const std::string hop = seen["meta_traceparent"];
  CHECK(hop.substr(3, 32) == kAgentTraceId);
  CHECK(hop.substr(36, 16) != "00f067aa0ba902b7");

  // No trace context at all: holdgate starts one.
  Json fresh = ResultJson(agent.CallTool("whoami", Json::object()));
  REQUIRE(fresh.contains("meta_traceparent"));
  const std::string fresh_id = fresh["meta_traceparent"].get<std::string>().substr(3, 32);
  CHECK(fresh_id != kAgentTraceId);

  ReviewClient auditor(gw.review_port, "carol", "auditor");
  auto allowed = auditor.Get("/api/audit?type=call.allowed");
  REQUIRE(allowed.status == 200);
  CHECK(allowed.body.dump().find(kAgentTraceId) != std::string::npos);
  CHECK(allowed.body.dump().find(fresh_id) != std::string::npos);

  // A held call traced in _meta: its approval.created event and the webhook carry the trace id.
  std::thread held([&] {
    McpHttpClient a2("127.0.0.1", gw.mcp_port);
    a2.Initialize();
    a2.CallTool("cancel_job", {{"job_id", "j1"}}, {{"traceparent", "00-11111111111111111111111111111111-2222222222222222-01"}});
  });
  ReviewClient reviewer(gw.review_port, "bob");
  REQUIRE(reviewer.WaitForPending(1).is_object());
  auto created = auditor.Get("/api/audit?type=approval.created");
  CHECK(created.body.dump().find("11111111111111111111111111111111") != std::string::npos);
  REQUIRE(WaitUntil([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !received.empty();
  }, 15000));
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(received[0]["type"] == "approval.created");
    CHECK(received[0]["data"]["trace_id"] == "11111111111111111111111111111111");
  }
  // Log lines written while handling the calls carry the trace id.
  const std::string log = ReadFile(dir.File("holdgate.log"));
  CHECK(log.find("\"trace_id\":\"11111111111111111111111111111111\"") != std::string::npos);
  // A reviewer decides on another thread, the call is released and completes: every event of the
  // approval, and its webhooks, still carry the trace id of the call that created it.
  Json pending = reviewer.WaitForPending(1);
  REQUIRE(pending.is_object());
  CHECK(reviewer.Approve(pending["id"], "ok").status == 200);
  held.join();
  const std::string id = pending["id"];
  REQUIRE(WaitUntil([&] { return auditor.Get("/api/approvals/" + id).body.value("state", std::string()) == "completed"; }));
  for (const char* type : {"approval.approved", "approval.executing", "approval.completed"}) {
    auto events = auditor.Get("/api/audit?approval_id=" + id + "&type=" + type);
    INFO(type);
    REQUIRE(events.body["events"].size() == 1);
    CHECK(events.body["events"][0]["detail"]["trace_id"] == "11111111111111111111111111111111");
  }
  REQUIRE(WaitUntil([&] {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& r : received) {
      if (r["type"] == "approval.completed") return true;
    }
    return false;
  }, 15000));
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& r : received) {
      INFO(r.dump());
      CHECK(r["data"]["trace_id"] == "11111111111111111111111111111111");
    }
  }
  CHECK(gw.process->Stop(SIGTERM) == 0);
  receiver.stop();
  serving.join();
}

TEST_CASE("trace context: an HTTP upstream gets holdgate's hop as the traceparent header too", "[integration][operations]") {
  TempDir dir;
  ChildProcess upstream({HOLDGATE_DEMO_UPSTREAM, "--http", "127.0.0.1:0", "--ready-file", dir.File("upstream.json")},
                        dir.File("upstream.log"));
  Json up = WaitForJsonFile(dir.File("upstream.json"));
  REQUIRE(up.is_object());
  GatewayLaunch launch;
  launch.dir = dir.path();
  launch.upstream_url = up["url"];
  Gateway gw = StartGateway(launch);
  REQUIRE(gw.process);
  McpHttpClient agent("127.0.0.1", gw.mcp_port);
  REQUIRE(agent.Initialize().is_object());
  Json seen = WhoamiWithAgentTrace(agent);
  REQUIRE(seen["headers"].contains("traceparent"));
  const std::string header = seen["headers"]["traceparent"];
  CHECK(header.substr(3, 32) == kAgentTraceId);
  CHECK(header == seen["meta_traceparent"]);  // the same hop in both places
  CHECK(gw.process->Stop(SIGTERM) == 0);
}

TEST_CASE("backup while the server writes: the copy verifies, restores and serves", "[integration][operations]") {
  TempDir dir;
  GatewayLaunch launch = LaunchWithPolicy(dir, R"({"audit":{"all_calls":true}})");
  Gateway gw = StartGateway(launch);
  REQUIRE(gw.process);
  // An agent keeps writing audit rows (audit.all_calls) while the backups run.
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::thread writer([&] {
    McpHttpClient agent("127.0.0.1", gw.mcp_port);
    agent.Initialize();
    while (!stop) {
      if (agent.CallTool("list_jobs", Json::object()).contains("result")) ++calls;
    }
  });
  std::thread held([&] {
    McpHttpClient a2("127.0.0.1", gw.mcp_port);
    a2.Initialize();
    a2.CallTool("cancel_job", {{"job_id", "keep-me"}});
  });
  ReviewClient reviewer(gw.review_port, "bob");
  Json pending = reviewer.WaitForPending(1);
  REQUIRE(pending.is_object());
  REQUIRE(WaitUntil([&] { return calls >= 20; }));
  for (int i = 0; i < 3; ++i) {
    const std::string copy = dir.File("backup-" + std::to_string(i) + ".db");
    INFO(ReadFile(dir.File("backup.out")));
    REQUIRE(RunCli({"backup", "--db", dir.File("holdgate.db"), "--to", copy, "--json"}, dir.File("backup.out")) == 0);
    Json report = Parsed(ReadFile(dir.File("backup.out")), Json());
    CHECK(report["audit_chain_ok"] == true);
    CHECK(report["approvals"] == 1);
    CHECK(std::filesystem::status(copy).permissions() ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    CHECK(RunCli({"audit", "verify", "--db", copy}, dir.File("verify.out")) == 0);
  }
  // Never over an existing file.
  CHECK(RunCli({"backup", "--db", dir.File("holdgate.db"), "--to", dir.File("backup-0.db")}, dir.File("again.out")) == 1);
  stop = true;
  writer.join();
  CHECK(gw.process->Stop(SIGTERM) == 0);
  held.join();

  // Restore: the copy replaces the database (without its -wal/-shm); holdgate starts on it.
  TempDir restored;
  std::filesystem::copy_file(dir.File("backup-2.db"), restored.File("holdgate.db"));
  GatewayLaunch again = launch;
  again.dir = restored.path();
  ExpectPendingAfterStart(again, pending["id"]);
  CHECK(RunCli({"audit", "verify", "--db", restored.File("holdgate.db")}, restored.File("verify.out")) == 0);
}

TEST_CASE("config check names every error and serve refuses the same file at start", "[integration][operations]") {
  TempDir dir;
  WriteFile(dir.File("bad.json"),
            R"({"mcp":{"listen":"nowhere"},"hold":{"default_hold":"soon"},"upstream":{"command":"x"},"colour":1})");
  REQUIRE(RunCli({"config", "check", "--config", dir.File("bad.json")}, dir.File("check.out")) == 1);
  const std::string out = ReadFile(dir.File("check.out"));
  CHECK(out.find("3 errors") != std::string::npos);
  CHECK(out.find("mcp.listen: ") != std::string::npos);
  CHECK(out.find("hold.default_hold: ") != std::string::npos);
  CHECK(out.find("colour: unknown setting") != std::string::npos);
  CHECK(RunCli({"config", "check", "--config", dir.File("missing.json")}, dir.File("missing.out")) == 2);

  CHECK(RunCli({"serve", "--config", dir.File("bad.json")}, dir.File("serve.out")) == 2);
  CHECK(ReadFile(dir.File("serve.out")).find("mcp.listen: ") != std::string::npos);
  CHECK(ReadFile(dir.File("serve.out")).find("colour: unknown setting") != std::string::npos);
}

}  // namespace holdgate::testing
