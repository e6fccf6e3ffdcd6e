#pragma once
// Shared by the audit integration tests: a real holdgate (demo upstream over stdio) with a policy
// that allows, denies and holds, two keyed agents, audit of all calls and 1 s signed checkpoints
// (also in a checkpoint file);
// and helpers that run the holdgate CLI, sqlite3, jq and python3 as child processes.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <httplib.h>

#include <thread>
#include <filesystem>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "support/mcp_http_client.h"
#include "support/process.h"
#include "support/review_client.h"

namespace holdgate::testing {

inline constexpr char kCheckpointKey[] = "audit-checkpoint-key-0123456789abcdef0123";
inline constexpr char kAgentKeyA[] = "agent-key-a-0123456789";
inline constexpr char kAgentKeyB[] = "agent-key-b-0123456789";

struct ToolRun {
  int code = -1000;
  std::string out;  // stdout and stderr together
};

// Runs argv to completion (at most 60 s) and returns its exit code and output.
inline ToolRun RunTool(const std::vector<std::string>& argv, const std::string& log_file) {
  std::filesystem::remove(log_file);
  ToolRun r;
  {
    ChildProcess p(argv, log_file);
    r.code = p.Stop(0, 60000);  // signal 0: just wait for it
  }
  r.out = ReadFile(log_file);
  return r;
}

// REQUIREs a tool that scripts/deps.sh installs.
inline std::string RequireProgram(const std::string& name) {
  std::string p = FindOnPath(name);
  INFO(name + " is not installed: run scripts/deps.sh --test");
  REQUIRE_FALSE(p.empty());
  return p;
}

struct AuditRun {
  TempDir dir;
  Gateway gw;
  std::string db = dir.File("holdgate.db");
  std::string config = dir.File("holdgate.json");
  std::string policy = dir.File("policy.json");
  std::string checkpoint_file = dir.File("checkpoints.jsonl");  // audit.checkpoint.file
  int runs = 0;

  explicit AuditRun(bool checkpoints = true) {
    WriteFile(policy, R"({"version":"1","default":"allow","tools":{
      "stats":{"action":"deny","reason":"stats are private"},
      "cancel_job":{"action":"require_approval","reason":"Cancelling a job cannot be undone",
                    "risk":{"level":"critical"},"approval":{"approvers":1,"timeout":"10m","hold":"60s"}},
      "slow_echo":{"action":"require_approval","approval":{"timeout":"1s","hold":"60s"}}}})");
    Json cfg = {{"mcp", {{"agent_keys", {{{"name", "a"}, {"principal", "agent-a"}, {"sha256", Sha256Hex(kAgentKeyA)}},
                                         {{"name", "b"}, {"principal", "agent-b"}, {"sha256", Sha256Hex(kAgentKeyB)}}}}}},
                {"audit", {{"all_calls", true}}}};
    if (checkpoints) {
      cfg["audit"]["checkpoint"] = {{"key", kCheckpointKey}, {"every", "1s"}, {"file", checkpoint_file}};
    }
    WriteFile(config, cfg.dump());
    Start();
  }
  ~AuditRun() {
    if (gw.process) gw.process->Stop(SIGTERM);
  }

  void Start() {
    GatewayLaunch launch;
    launch.dir = dir.path();
    launch.policy_file = policy;
    launch.config_file = config;
    gw = StartGateway(launch);
    INFO(ReadFile(dir.File("holdgate.log")));
    REQUIRE(gw.process);
    ++runs;
  }
  void Stop() {
    REQUIRE(gw.process);
    CHECK(gw.process->Stop(SIGTERM) == 0);
    gw.process.reset();
  }

  McpHttpClient Agent(const std::string& key) {
    McpHttpClient c("127.0.0.1", gw.mcp_port);
    REQUIRE(c.Initialize(Json::object(), key).is_object());
    c.set_bearer(key);
    return c;
  }

  ToolRun Holdgate(std::vector<std::string> args) {
    args.insert(args.begin(), HOLDGATE_BINARY);
    return RunTool(args, dir.File("cli.log"));
  }
  ToolRun Sqlite(const std::string& file, const std::string& sql) {
    return RunTool({RequireProgram("sqlite3"), file, sql}, dir.File("sqlite.log"));
  }
  // A copy of the database (and its WAL, if any) for a destructive experiment.
  std::string CopyDb(const std::string& name) {
    std::string to = dir.File(name);
    std::filesystem::copy_file(db, to, std::filesystem::copy_options::overwrite_existing);
    if (std::filesystem::exists(db + "-wal")) {
      std::filesystem::copy_file(db + "-wal", to + "-wal", std::filesystem::copy_options::overwrite_existing);
    }
    return to;
  }
};

inline std::string ToolText(const Json& response) {
  if (!response.contains("result")) return response.dump();
  return response["result"]["content"][0].value("text", "");
}

inline bool ToolIsError(const Json& response) {
  return response.contains("error") || response["result"].value("isError", false);
}

// Calls that produce every kind of audit event; `tag` keeps arguments distinct across runs.
inline void MixedTraffic(AuditRun& run, const std::string& tag, bool with_expiry) {
  McpHttpClient a = run.Agent(kAgentKeyA);
  McpHttpClient b = run.Agent(kAgentKeyB);
  CHECK_FALSE(ToolIsError(a.CallTool("list_jobs", Json::object())));
  CHECK_FALSE(ToolIsError(b.CallTool("list_jobs", {{"limit", 5}})));
  Json denied = a.CallTool("stats", Json::object());
  CHECK(ToolIsError(denied));

  ReviewClient alice(run.gw.review_port, "alice");
  ReviewClient bob(run.gw.review_port, "bob");
  // Held, then approved (runs upstream).
  Json approved_reply;
  std::thread t1([&] { approved_reply = a.CallTool("cancel_job", {{"job_id", tag + "-1"}}, {{"progressToken", "p1"}}); });
  Json pending = alice.WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(alice.Approve(pending["id"], "ok for " + tag).status == 200);
  t1.join();
  CHECK(approved_reply.contains("result"));
  // Held, then rejected.
  Json rejected_reply;
  std::thread t2([&] { rejected_reply = b.CallTool("cancel_job", {{"job_id", tag + "-2"}}, {{"progressToken", "p2"}}); });
  pending = bob.WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(bob.Reject(pending["id"], "not during the release").status == 200);
  t2.join();
  CHECK(ToolIsError(rejected_reply));
  CHECK(ToolText(rejected_reply).find("not during the release") != std::string::npos);
  // Held, then expired (timeout 1 s; the sweeper answers it).
  if (with_expiry) {
    Json expired = a.CallTool("slow_echo", {{"message", tag}, {"delay_ms", 0}}, {{"progressToken", "p3"}});
    CHECK(ToolIsError(expired));
    CHECK(ToolText(expired).find("expired") != std::string::npos);
  }
  // A reviewer with a bad token (auth.failed).
  httplib::Client mallory("127.0.0.1", run.gw.review_port);
  auto refused = mallory.Get("/api/approvals", {{"Authorization", "Bearer not-a-token"}});
  REQUIRE(refused);
  CHECK(refused->status == 401);
}

}  // namespace holdgate::testing
