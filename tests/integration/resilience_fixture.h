#pragma once
// Shared by races_test, faults_test, attacks_test, hardening_test and soak_test: a real `holdgate serve` process in
// front of the demo upstream, whose life can end with kill -9 and restart on the same database.
// Every line holdgate sends to the upstream is recorded (a `tee` in the upstream command), so a
// test can count how often a tool really ran per job id across restarts; the demo's counters
// files are kept per life and summed. Review API and reviewer CLI helpers. Blocking; one fixture
// per test case.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "support/mcp_http_client.h"
#include "support/pg_test_db.h"
#include "support/process.h"
#include "support/review_client.h"

namespace holdgate::testing::resilience {

// A policy where cancel_job (and, when `slow_echo_held`, slow_echo) needs one approval.
// `hold` is how long a call without a progress token is held open before it is deferred.
inline std::string HoldPolicy(const std::string& timeout = "10m", const std::string& hold = "60s",
                              int approvers = 1, const std::string& extra_tools = "") {
  return R"({"version":"1","default":"allow","hide":["run_*"],"tools":{
    "cancel_job":{"action":"require_approval","reason":"Cancelling a job cannot be undone",
                  "risk":{"category":"Destructive","level":"critical"},
                  "approval":{"approvers":)" + std::to_string(approvers) + R"(,"timeout":")" + timeout +
         R"(","hold":")" + hold + R"("}},
    "slow_echo":{"action":"require_approval","approval":{"timeout":"10m","hold":")" + hold + R"("}})" +
         (extra_tools.empty() ? "" : "," + extra_tools) + "}}";
}

inline std::string Text(const Json& response) {
  if (!response.is_object() || !response.contains("result")) return "";
  const Json& content = response["result"].value("content", Json::array());
  return content.empty() ? "" : content[0].value("text", "");
}

inline bool IsError(const Json& response) {
  return !response.is_object() || response.contains("error") || response["result"].value("isError", false);
}

inline std::string Str(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// Runs `argv` to completion; returns the exit code (or -signal) and the combined output.
struct CommandResult {
  int code = -1000;
  std::string out;
};
inline CommandResult RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  CommandResult r;
  // Everything the child needs is built before fork: it only dup2()s and execs (no allocation in
  // a forked copy of a multi-threaded process).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return r;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  return r;
}

// The reviewer CLI as a separate process: `holdgate <args>`. A binary whose dispatcher does not
// route the reviewer commands fails the test (no fallback that would test something else).
inline CommandResult RunReviewerCli(const std::vector<std::string>& args) {
  static const bool routed = RunCommand({HOLDGATE_BINARY, "approve", "--help"}).out.find("unknown command") ==
                             std::string::npos;
  if (!routed) {
    // Called from test threads too, where Catch's INFO/REQUIRE are not safe: abort, which fails
    // the test as surely.
    std::fprintf(stderr, "%s does not route the reviewer commands (approve --help: unknown command)\n",
                 HOLDGATE_BINARY);
    std::abort();
  }
  std::vector<std::string> argv = {HOLDGATE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

// A holdgate process (and its demo upstream) that tests may kill and restart.
class Instance {
 public:
  explicit Instance(const std::string& policy_text, std::vector<std::string> extra_args = {},
                    std::vector<std::string> env = {})
      : extra_args_(std::move(extra_args)), env_(std::move(env)) {
    WriteFile(PolicyPath(), policy_text);
    // HOLDGATE_STORE_BACKEND=pg (the [pg] cases' second ctest registration): a fresh PostgreSQL
    // database instead of the SQLite file.
    if (PgBackendSelected()) {
      pg_ = std::make_unique<PgTestDatabase>();
      db_path_ = pg_->url();
    }
  }
  ~Instance() {
    if (gw_.process) gw_.process->Stop(SIGKILL);
  }

  const std::string& dir() const { return dir_.path(); }
  std::string File(const std::string& name) const { return dir_.File(name); }
  std::string PolicyPath() const { return dir_.File("policy.json"); }
  std::string DbPath() const { return db_path_.empty() ? dir_.File("holdgate.db") : db_path_; }
  void set_db_path(std::string path) { db_path_ = std::move(path); }
  // A Streamable HTTP upstream instead of the demo over stdio (UpstreamCalls then sees nothing).
  void set_upstream_url(std::string url) { upstream_url_ = std::move(url); }
  Gateway& gw() { return gw_; }
  int life() const { return life_; }

  // Starts a new life (the previous one must be stopped). Returns false if it did not come up.
  bool Start() {
    ++life_;
    GatewayLaunch launch;
    launch.dir = dir_.path();
    launch.policy_file = PolicyPath();
    launch.upstream_cmd = "tee -a " + dir_.File("upstream-in.log") + " | " + std::string(HOLDGATE_DEMO_UPSTREAM) +
                          " --stdio --counters-file " + dir_.File("counters-" + std::to_string(life_) + ".json");
    launch.upstream_url = upstream_url_;
    launch.extra_args = extra_args_;
    if (!db_path_.empty()) {
      launch.extra_args.push_back("--db");
      launch.extra_args.push_back(db_path_);
    }
    launch.env = env_;
    gw_ = StartGateway(launch);
    return gw_.process != nullptr;
  }
  // kill -9 of holdgate and its upstream (the process group).
  void Kill() {
    if (gw_.process) gw_.process->Stop(SIGKILL);
  }
  int Terminate() { return gw_.process ? gw_.process->Stop(SIGTERM, 30000) : 0; }
  bool Running() { return gw_.process && gw_.process->Running(); }

  // A demo counter summed over every life.
  int Counter(const std::string& name) const {
    int total = 0;
    for (int l = 1; l <= life_; ++l) {
      auto parsed = ParseJson(ReadFile(dir_.File("counters-" + std::to_string(l) + ".json")));
      if (parsed.ok()) total += parsed.value().value(name, 0);
    }
    return total;
  }
  // tools/call requests for `tool` (with this job_id, when given) that reached the upstream,
  // over every life. An upper bound on runs: a request may die with the upstream unrun.
  int UpstreamCalls(const std::string& tool, const std::string& job_id = "") const {
    std::istringstream in(ReadFile(dir_.File("upstream-in.log")));
    std::string line;
    int n = 0;
    const std::string name = "\"name\":\"" + tool + "\"";
    const std::string job = "\"job_id\":\"" + job_id + "\"";
    while (std::getline(in, line)) {
      if (line.find("\"tools/call\"") == std::string::npos || line.find(name) == std::string::npos) continue;
      if (!job_id.empty() && line.find(job) == std::string::npos) continue;
      ++n;
    }
    return n;
  }

  McpHttpClient Agent(const std::string& bearer = "") {
    McpHttpClient c("127.0.0.1", gw_.mcp_port);
    c.set_read_timeout_s(120);
    Json init = c.Initialize(Json::object(), bearer);
    REQUIRE(init.is_object());
    return c;
  }
  ReviewClient Reviewer(const std::string& name = "alice", const std::string& role = "reviewer") {
    return ReviewClient(gw_.review_port, name, role);
  }
  std::string ReviewUrl() const { return "http://127.0.0.1:" + std::to_string(gw_.review_port); }

  // Every approval (all pages), newest first; `states` e.g. "pending" or "all".
  Json Approvals(const std::string& states = "all") {
    ReviewClient r = Reviewer("auditor-bot", "auditor");
    Json all = Json::array();
    std::string cursor;
    for (int page = 0; page < 1000; ++page) {
      std::string path = "/api/approvals?state=" + states + "&limit=500";
      if (!cursor.empty()) path += "&cursor=" + cursor;
      auto reply = r.Get(path);
      REQUIRE(reply.status == 200);
      for (auto& a : reply.body["approvals"]) all.push_back(a);
      if (!reply.body["next_cursor"].is_string()) break;
      cursor = reply.body["next_cursor"].get<std::string>();
    }
    return all;
  }
  Json Approval(const std::string& id) { return Reviewer("auditor-bot", "auditor").Get("/api/approvals/" + id).body; }
  // Audit events of `type` (exact or a prefix such as "approval.*"), oldest first.
  Json Audit(const std::string& type = "") {
    ReviewClient r = Reviewer("auditor-bot", "auditor");
    Json all = Json::array();
    std::string cursor;
    for (int page = 0; page < 1000; ++page) {
      std::string path = "/api/audit?limit=500";
      if (!type.empty()) path += "&type=" + type;
      if (!cursor.empty()) path += "&cursor=" + cursor;
      auto reply = r.Get(path);
      REQUIRE(reply.status == 200);
      for (auto& e : reply.body["events"]) all.push_back(e);
      if (!reply.body.contains("next_cursor") || !reply.body["next_cursor"].is_string()) break;
      cursor = reply.body["next_cursor"].get<std::string>();
    }
    return all;
  }
  // GET /api/audit/verify on the live process.
  Json AuditVerify() { return Reviewer("auditor-bot", "auditor").Get("/api/audit/verify").body; }

 private:
  TempDir dir_;
  std::vector<std::string> extra_args_;
  std::vector<std::string> env_;
  std::unique_ptr<PgTestDatabase> pg_;  // outlives the process (destroyed after ~Instance kills it)
  std::string db_path_;
  std::string upstream_url_;
  Gateway gw_;
  int life_ = 0;
};

// Offline `holdgate audit verify --db FILE`. Returns (exit code, output).
inline CommandResult AuditVerifyOffline(const std::string& db) {
  return RunReviewerCli({"audit", "verify", "--db", db});
}

}  // namespace holdgate::testing::resilience
