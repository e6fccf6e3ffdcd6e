// Several holdgate processes (replicas) on one PostgreSQL database: a call held on one replica is
// decided through another and runs once; a replica killed with -9 loses nothing, and a retry of a
// call it left executing is told the call failed once the lease runs out; forty reviewers
// (API and reviewer CLI processes) approving at once across three replicas release once; three
// replicas behind HAProxy (round robin) survive replicas being killed during a decide storm; and
// `holdgate audit verify --db postgresql://…` passes after each. Each replica has its own demo
// upstream, so "runs once" is counted over all of them.
//
// Needs the test PostgreSQL (HOLDGATE_TEST_PG_URL, started by scripts/test.sh); fails without it.
// The HAProxy case needs haproxy on PATH (scripts/deps.sh installs it) and fails without it.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "integration/resilience_fixture.h"
#include "support/haproxy.h"

namespace holdgate::testing {
namespace {

using namespace resilience;

// `n` replicas sharing one fresh database, all started.
struct Cluster {
  PgTestDatabase db;
  std::vector<std::unique_ptr<Instance>> replicas;

  // n == 0: the caller adds replicas (on another database) itself.
  explicit Cluster(int n, const std::string& policy = HoldPolicy("10m", "60s"), std::vector<std::string> args = {}) {
    for (int i = 0; i < n; ++i) {
      replicas.push_back(std::make_unique<Instance>(policy, args));
      replicas.back()->set_db_path(db.url());
    }
    for (auto& r : replicas) REQUIRE(r->Start());
  }
  Instance& operator[](size_t i) { return *replicas.at(i); }
  int UpstreamCalls(const std::string& job) const {
    int n = 0;
    for (const auto& r : replicas) n += r->UpstreamCalls("cancel_job", job);
    return n;
  }
  // `holdgate audit verify --db URL`: the chain of the shared database, offline.
  CommandResult VerifyOffline() const { return AuditVerifyOffline(db.url()); }
};

Json PendingFor(Instance& h, const std::string& job) {
  for (const auto& a : h.Approvals("pending")) {
    if (Str(a["arguments"], "job_id") == job) return a;
  }
  return Json();
}

class StartLine {
 public:
  explicit StartLine(int n) : waiting_(n) {}
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--waiting_ == 0) cv_.notify_all();
    cv_.wait(lock, [&] { return waiting_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_;
};

}  // namespace

TEST_CASE("replicas: a call held on A is approved through B and runs once", "[integration][replicas]") {
  Cluster c(2);
  McpHttpClient agent = c[0].Agent();
  Json reply;
  std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-ab"}}, {{"progressToken", "p"}}); });
  // B's review API sees the approval A wrote, and B decides it.
  Json pending = c[1].Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(c[1].Reviewer("bob").Approve(pending["id"], "ok from B").status == 200);
  call.join();  // A's held call wakes by the change feed (LISTEN/NOTIFY), not by a timeout
  INFO(DumpJson(reply));
  CHECK_FALSE(IsError(reply));
  CHECK(Text(reply).find("job-ab") != std::string::npos);
  CHECK(c[0].UpstreamCalls("cancel_job", "job-ab") == 1);
  CHECK(c.UpstreamCalls("job-ab") == 1);
  CHECK(c[1].Approval(pending["id"])["state"] == "completed");
  CommandResult v = c.VerifyOffline();
  INFO(v.out);
  CHECK(v.code == 0);
}

TEST_CASE("replicas: an approval granted on B and retried on B runs once", "[integration][replicas]") {
  // Held 2 s without a progress token, then deferred: the agent retries after the approval.
  Cluster c(2, HoldPolicy("10m", "2s"));
  McpHttpClient first = c[0].Agent();
  Json deferred = first.CallTool("cancel_job", {{"job_id", "job-bb"}});
  REQUIRE(IsError(deferred));
  Json pending = PendingFor(c[1], "job-bb");
  REQUIRE(pending.is_object());
  REQUIRE(c[1].Reviewer("bob").Approve(pending["id"]).status == 200);
  // Two identical retries on B at once: the executing gate lets one run.
  std::vector<Json> replies(2);
  std::vector<std::thread> retries;
  for (int i = 0; i < 2; ++i) {
    retries.emplace_back([&, i] {
      McpHttpClient again("127.0.0.1", c[1].gw().mcp_port);
      if (again.Initialize().is_object()) replies[i] = again.CallTool("cancel_job", {{"job_id", "job-bb"}});
    });
  }
  for (auto& t : retries) t.join();
  int ran = 0;
  for (const Json& r : replies) ran += !IsError(r) && Text(r).find("job-bb") != std::string::npos;
  CHECK(ran >= 1);
  CHECK(c.UpstreamCalls("job-bb") == 1);
  CHECK(c[1].Audit("approval.executing").size() == 1);
  CommandResult v = c.VerifyOffline();
  INFO(v.out);
  CHECK(v.code == 0);
}

TEST_CASE("replicas: a rate limit is one quota across replicas", "[integration][replicas][rate]") {
  Cluster c(2, HoldPolicy("10m", "60s", 1,
                          R"("stats":{"limits":[{"counter":"stats","window":"hour","max":4,"scope":"global"}]})"));
  McpHttpClient a = c[0].Agent(), b = c[1].Agent();
  int ok = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    Json reply = (i % 2 == 0 ? a : b).CallTool("stats", Json::object());
    INFO(DumpJson(reply));
    if (!IsError(reply)) ++ok;
    else if (DumpJson(reply).find("Rate limit exceeded: at most 4 calls per hour") != std::string::npos) ++limited;
  }
  CHECK(ok == 4);
  CHECK(limited == 4);
}

TEST_CASE("replicas: identical calls held on two replicas at once share one approval", "[integration][replicas]") {
  Cluster c(2);
  McpHttpClient on_a = c[0].Agent(), on_b = c[1].Agent();
  std::vector<Json> replies(2);
  StartLine start(2);
  std::vector<std::thread> calls;
  for (int i = 0; i < 2; ++i) {
    calls.emplace_back([&, i] {
      start.ArriveAndWait();
      replies[i] = (i == 0 ? on_a : on_b).CallTool("cancel_job", {{"job_id", "job-twin"}}, {{"progressToken", "p"}});
    });
  }
  Json pending = c[1].Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  // Approve once both calls wait on it: each replica logs the approval its call is held on.
  const std::string id = pending["id"];
  CHECK(WaitUntil([&] {
    return ReadFile(c[0].File("holdgate.log")).find(id) != std::string::npos &&
           ReadFile(c[1].File("holdgate.log")).find(id) != std::string::npos;
  }, 30000));
  CHECK(c[0].Reviewer("bob").Approve(id, "once").status == 200);
  for (auto& t : calls) t.join();
  for (const Json& r : replies) {
    INFO(DumpJson(r));
    CHECK_FALSE(IsError(r));
  }
  CHECK(c[0].Audit("approval.created").size() == 1);
  CHECK(c.UpstreamCalls("job-twin") == 1);
}

TEST_CASE("replicas: a replica killed with -9 while its call is pending loses nothing", "[integration][replicas][kill]") {
  Cluster c(2);
  std::thread doomed([&] {
    McpHttpClient a("127.0.0.1", c[0].gw().mcp_port);
    if (a.Initialize().is_object()) a.CallTool("cancel_job", {{"job_id", "job-kill"}}, {{"progressToken", "k"}});
  });
  REQUIRE(WaitUntil([&] { return PendingFor(c[1], "job-kill").is_object(); }, 15000));
  c[0].Kill();
  doomed.join();
  // The survivor still has it pending; the agent retries there and it is approved there.
  Json pending = PendingFor(c[1], "job-kill");
  REQUIRE(pending.is_object());
  McpHttpClient agent = c[1].Agent();
  Json reply;
  std::thread retry([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-kill"}}, {{"progressToken", "r"}}); });
  CHECK(c[1].Reviewer("bob").Approve(pending["id"]).status == 200);
  retry.join();
  CHECK_FALSE(IsError(reply));
  CHECK(c.UpstreamCalls("job-kill") == 1);
  CHECK(c[1].Approvals("all").size() == 1);  // re-attached, not a second approval
  CommandResult v = c.VerifyOffline();
  INFO(v.out);
  CHECK(v.code == 0);
}

TEST_CASE("replicas: a retry attached to a call its killed replica left executing is told it failed",
          "[integration][replicas][kill]") {
  TempDir dir;
  WriteFile(dir.File("lease.json"), R"({"database":{"executing_lease":"3s"}})");
  Cluster c(2, HoldPolicy("10m", "60s"), {"--config", dir.File("lease.json")});
  const Json args = {{"message", "lease"}, {"delay_ms", 600000}};
  std::thread doomed([&] {
    McpHttpClient a("127.0.0.1", c[0].gw().mcp_port);
    if (a.Initialize().is_object()) a.CallTool("slow_echo", args, {{"progressToken", "d"}});
  });
  std::string id;
  REQUIRE(WaitUntil([&] {
    Json pending = c[1].Approvals("pending");
    if (!pending.empty()) id = pending[0]["id"];
    return !id.empty();
  }, 15000));
  // B approves; A, holding the call, releases it (the upstream takes ten minutes) and dies.
  REQUIRE(c[1].Reviewer("bob").Approve(id).status == 200);
  REQUIRE(WaitUntil([&] { return c[1].Approval(id)["state"] == "executing"; }, 15000));
  c[0].Kill();
  doomed.join();
  // The agent retries the identical call on B: it re-attaches to the executing approval and is
  // answered when B's lease check fails it. No answer in time fails the test (killing B ends the
  // request) instead of hanging it.
  McpHttpClient agent = c[1].Agent();
  std::atomic<bool> answered{false};
  Json reply;
  std::thread retry([&] {
    reply = agent.CallTool("slow_echo", args);
    answered = true;
  });
  const bool in_time = WaitUntil([&] { return answered.load(); }, 30000);
  if (!in_time) c[1].Kill();
  retry.join();
  REQUIRE(in_time);
  INFO(DumpJson(reply));
  CHECK(IsError(reply));
  CHECK(Text(reply).find("did not complete normally") != std::string::npos);
  CHECK(Text(reply).find("not re-run") != std::string::npos);
  CHECK(c[1].Approval(id)["state"] == "failed");
  CHECK(c[1].Approvals("all").size() == 1);  // re-attached, not a second approval
}

TEST_CASE("replicas: forty reviewers approving at once across three replicas release once",
          "[integration][replicas][races]") {
  Cluster c(3);
  McpHttpClient agent = c[0].Agent();
  Json reply;
  std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-40"}}, {{"progressToken", "p"}}); });
  Json pending = c[2].Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  const std::string id = pending["id"];

  const int kApi = 34, kCli = 6;
  StartLine line(kApi + kCli);
  std::atomic<int> ok{0}, conflict{0};
  std::mutex other_mu;
  std::vector<std::string> other;
  std::vector<std::thread> reviewers;
  for (int i = 0; i < kApi; ++i) {
    reviewers.emplace_back([&, i] {
      ReviewClient r(c[i % 3].gw().review_port, "api-reviewer-" + std::to_string(i));
      line.ArriveAndWait();
      auto res = r.Approve(id, "storm");
      if (res.status == 200) ++ok;
      else if (res.status == 409) ++conflict;
      else {
        std::lock_guard<std::mutex> lock(other_mu);
        other.push_back("api " + std::to_string(res.status) + " " + DumpJson(res.body));
      }
    });
  }
  for (int i = 0; i < kCli; ++i) {
    reviewers.emplace_back([&, i] {
      const std::string token = MintToken("cli-reviewer-" + std::to_string(i));
      const std::string url = c[i % 3].ReviewUrl();
      line.ArriveAndWait();
      CommandResult r = RunReviewerCli({"approve", id, "--reason", "storm", "--url=" + url, "--token=" + token});
      if (r.code == 0) ++ok;
      else if (r.code == 4) ++conflict;
      else {
        std::lock_guard<std::mutex> lock(other_mu);
        other.push_back("cli exit " + std::to_string(r.code) + ": " + r.out);
      }
    });
  }
  for (auto& t : reviewers) t.join();
  call.join();
  for (const auto& o : other) UNSCOPED_INFO(o);
  CHECK(other.empty());
  CHECK(ok.load() == 1);
  CHECK(conflict.load() == kApi + kCli - 1);
  CHECK_FALSE(IsError(reply));
  CHECK(c.UpstreamCalls("job-40") == 1);
  CHECK(c[1].Audit("approval.executing").size() == 1);
  CHECK(c[1].Approval(id)["votes"].size() == 1);
  CommandResult v = c.VerifyOffline();
  INFO(v.out);
  CHECK(v.code == 0);
}

TEST_CASE("replicas: three replicas behind HAProxy, replicas killed during a decide storm: nothing decided twice",
          "[integration][replicas][haproxy][kill]") {
  const std::string haproxy = FindOnPath("haproxy");
  REQUIRE_FALSE(haproxy.empty());  // scripts/deps.sh --test installs it
  Cluster c(3);
  TempDir dir;
  const int mcp_port = FreeLoopbackPort(), review_port = FreeLoopbackPort();
  std::vector<ReplicaPorts> ports;
  for (auto& r : c.replicas) ports.push_back({r->gw().mcp_port, r->gw().review_port});
  WriteFile(dir.File("haproxy.cfg"), HaproxyConfig(ports, mcp_port, review_port));
  ChildProcess lb({haproxy, "-db", "-f", dir.File("haproxy.cfg")}, dir.File("haproxy.log"));
  REQUIRE(WaitUntil([&] { return ReviewClient(review_port, "probe").Get("/healthz").status == 200; }, 10000));

  // Agents through the balancer (sticky sessions), each holding one call open.
  const int kJobs = 9;
  std::vector<Json> replies(kJobs);
  std::vector<std::thread> agents;
  std::atomic<int> agents_done{0};
  for (int i = 0; i < kJobs; ++i) {
    agents.emplace_back([&, i] {
      const std::string job = "job-lb-" + std::to_string(i);
      // A replica killed under the held call drops it: the agent retries the identical call
      // through the balancer, which re-attaches to the approval on a live replica.
      for (int attempt = 0; attempt < 5; ++attempt) {
        McpHttpClient a("127.0.0.1", mcp_port);
        a.set_read_timeout_s(120);
        if (!a.Initialize().is_object()) continue;
        Json r = a.CallTool("cancel_job", {{"job_id", job}}, {{"progressToken", job}});
        replies[i] = r;
        if (r.is_object() && r.contains("result")) break;
      }
      ++agents_done;
    });
  }
  ReviewClient lb_reviewer(review_port, "auditor-bot", "auditor");
  REQUIRE(WaitUntil([&] {
    auto r = lb_reviewer.Get("/api/approvals?state=pending&limit=500");
    return r.status == 200 && r.body["approvals"].size() == static_cast<size_t>(kJobs);
  }, 30000));
  std::vector<std::string> ids;
  const ReviewClient::Reply listed = lb_reviewer.Get("/api/approvals?state=pending&limit=500");
  for (const auto& a : listed.body["approvals"]) ids.push_back(a["id"]);
  REQUIRE(ids.size() == static_cast<size_t>(kJobs));

  // The storm: three reviewers per approval at once through the balancer (API and CLI); replica
  // 2 is killed once a few are decided. A reviewer whose request died with it tries again (a
  // repeated vote by the same reviewer changes nothing).
  std::atomic<int> decided_ok{0}, failures{0};
  std::vector<std::thread> storm;
  const std::string review_url = "http://127.0.0.1:" + std::to_string(review_port);
  for (size_t k = 0; k < ids.size(); ++k) {
    for (int j = 0; j < 3; ++j) {
      storm.emplace_back([&, k, j] {
        const std::string who = "storm-" + std::to_string(k) + "-" + std::to_string(j);
        for (int attempt = 0; attempt < 20; ++attempt) {
          int status = 0;
          if (j == 0) {
            CommandResult r = RunReviewerCli({"approve", ids[k], "--reason", "storm", "--url=" + review_url,
                                              "--token=" + MintToken(who)});
            status = r.code == 0 ? 200 : r.code == 4 ? 409 : 500;
          } else {
            status = ReviewClient(review_port, who).Approve(ids[k], "storm").status;
          }
          if (status == 200) { ++decided_ok; return; }
          if (status == 409) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the balancer notices the dead replica
        }
        ++failures;
      });
    }
  }
  // CHECK, not REQUIRE: threads are running (a REQUIRE here would terminate and leak the processes).
  CHECK(WaitUntil([&] { return decided_ok.load() >= 3; }, 30000));
  c[2].Kill();
  for (auto& t : storm) t.join();
  // An agent whose call the killed replica had already run, but whose answer died with it, retries
  // the identical call: a completed approval is never re-attached to, so the retry is a new request
  // held on a new approval (with a progress token, until that one expires). Nobody in the storm
  // decides it: reject those here, so every agent gets its answer.
  std::set<std::string> retries;
  ReviewClient cleaner = c[0].Reviewer("cleaner", "reviewer");
  const bool all_answered = WaitUntil([&] {
    for (const auto& a : c[0].Approvals("pending")) {
      const std::string id = a["id"];
      if (std::find(ids.begin(), ids.end(), id) != ids.end() || !retries.insert(id).second) continue;
      cleaner.Reject(id, "ran before the kill");
    }
    return agents_done.load() == kJobs;
  }, 90000);
  CHECK(all_answered);
  if (!all_answered) {
    for (auto& r : c.replicas) r->Kill();  // ends the agents' requests: a failure, not a hang
  }
  for (auto& t : agents) t.join();
  CHECK(failures.load() == 0);
  for (size_t i = 0; i < replies.size(); ++i) {
    INFO("agent " << i << ": " << DumpJson(replies[i]));
    CHECK(replies[i].contains("result"));
  }

  // Every approval was decided once and released at most once; each call ran at most once over
  // all replicas, and every call not cut off by the kill ran exactly once.
  ReviewClient survivor = c[0].Reviewer("auditor-bot", "auditor");
  for (size_t k = 0; k < ids.size(); ++k) {
    Json detail = survivor.Get("/api/approvals/" + ids[k]).body;
    INFO(DumpJson(detail));
    CHECK(detail["votes"].size() == 1);
    const std::string job = Str(detail["arguments"], "job_id");
    CHECK(c.UpstreamCalls(job) <= 1);
    const std::string state = detail["state"];
    CHECK((state == "completed" || state == "executing" || state == "failed"));
    if (state == "completed") CHECK(c.UpstreamCalls(job) == 1);
  }
  // A new approval only for a call that had been released: its job's own approval is settled.
  for (const auto& id : retries) {
    Json detail = survivor.Get("/api/approvals/" + id).body;
    INFO(DumpJson(detail));
    CHECK(detail["state"] == "rejected");
    const std::string job = Str(detail["arguments"], "job_id");
    for (const auto& original : ids) {
      Json o = survivor.Get("/api/approvals/" + original).body;
      if (Str(o["arguments"], "job_id") == job) CHECK((o["state"] == "completed" || o["state"] == "failed"));
    }
  }
  int approved = 0, executing = 0;
  for (const auto& e : c[0].Audit("approval.*")) {
    approved += e["type"] == "approval.approved";
    executing += e["type"] == "approval.executing";
  }
  CHECK(approved == kJobs);
  CHECK(executing <= kJobs);
  CommandResult v = c.VerifyOffline();
  INFO(v.out);
  CHECK(v.code == 0);
  lb.Stop(SIGTERM);
}

namespace {

// A PostgreSQL server of the test's own (scripts/pg_throwaway.sh), so that restarting it does not
// disturb the tests running beside this one on the shared server.
class OwnPostgres {
 public:
  OwnPostgres() {
    // The script makes its own folder (the server's user must be able to enter it).
    CommandResult r = RunCommand({"/bin/bash", std::string(HOLDGATE_SOURCE_DIR) + "/scripts/pg_throwaway.sh", "start"});
    INFO(r.out);
    REQUIRE(r.code == 0);
    const size_t at = r.out.find("postgresql://");
    REQUIRE(at != std::string::npos);
    url_ = r.out.substr(at, r.out.find('\n', at) - at);
    const std::string marker = "PostgreSQL in ";
    const size_t d = r.out.find(marker);
    REQUIRE(d != std::string::npos);
    dir_ = r.out.substr(d + marker.size(), r.out.find(' ', d + marker.size()) - d - marker.size());
  }
  ~OwnPostgres() { RunCommand({"/bin/bash", std::string(HOLDGATE_SOURCE_DIR) + "/scripts/pg_throwaway.sh", "stop", dir_}); }
  const std::string& url() const { return url_; }
  int Restart() {
    return RunCommand({"/bin/bash", std::string(HOLDGATE_SOURCE_DIR) + "/scripts/pg_throwaway.sh", "restart", dir_}).code;
  }

 private:
  std::string dir_, url_;
};

}  // namespace

TEST_CASE("replicas: PostgreSQL restarting under a decide storm: clear errors, nothing decided twice",
          "[integration][replicas][faults]") {
  OwnPostgres pg;
  Cluster c(0);
  for (int i = 0; i < 2; ++i) {
    c.replicas.push_back(std::make_unique<Instance>(HoldPolicy("10m", "60s")));
    c.replicas.back()->set_db_path(pg.url());
    REQUIRE(c.replicas.back()->Start());
  }
  const int kJobs = 8;
  std::vector<Json> replies(kJobs);
  std::vector<std::thread> agents;
  for (int i = 0; i < kJobs; ++i) {
    agents.emplace_back([&, i] {
      const std::string job = "job-pg-" + std::to_string(i);
      // A call whose approval could not be written while the database was down is refused with
      // an error; the agent retries the identical call.
      for (int attempt = 0; attempt < 40; ++attempt) {
        McpHttpClient a("127.0.0.1", c[i % 2].gw().mcp_port);
        a.set_read_timeout_s(120);
        if (a.Initialize().is_object()) {
          Json r = a.CallTool("cancel_job", {{"job_id", job}}, {{"progressToken", job}});
          replies[i] = r;
          if (!IsError(r)) return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
    });
  }
  REQUIRE(WaitUntil([&] { return c[1].Approvals("pending").size() >= 4; }, 30000));
  std::atomic<int> approved{0}, unavailable{0}, odd{0};
  std::mutex odd_mu;
  std::vector<std::string> odd_replies;
  std::atomic<bool> storm_done{false};
  std::thread storm([&] {
    // Every reviewer approves every pending approval it sees, through alternating replicas,
    // until all are decided; errors while the server restarts must be 5xx with a reason.
    for (int round = 0; round < 400 && !storm_done.load(); ++round) {
      ReviewClient r(c[round % 2].gw().review_port, "rev-" + std::to_string(round % 5));
      auto list = r.Get("/api/approvals?state=pending&limit=500");
      if (list.status != 200) {
        ++unavailable;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      for (const auto& a : list.body["approvals"]) {
        auto res = r.Approve(a["id"], "storm");
        if (res.status == 200) ++approved;
        else if (res.status == 409) {
        } else if (res.status >= 500 && DumpJson(res.body).find("PostgreSQL") != std::string::npos) {
          ++unavailable;
        } else {
          ++odd;
          std::lock_guard<std::mutex> lock(odd_mu);
          odd_replies.push_back(std::to_string(res.status) + " " + DumpJson(res.body));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  CHECK(WaitUntil([&] { return approved.load() >= 1; }, 30000));  // threads are running: no REQUIRE
  CHECK(pg.Restart() == 0);
  for (auto& t : agents) t.join();
  storm_done.store(true);
  storm.join();
  for (const auto& o : odd_replies) UNSCOPED_INFO(o);
  CHECK(odd.load() == 0);
  // Every job ran exactly once, through exactly one approval decided once.
  for (int i = 0; i < kJobs; ++i) {
    const std::string job = "job-pg-" + std::to_string(i);
    INFO(job << ": " << DumpJson(replies[i]));
    CHECK_FALSE(IsError(replies[i]));
    CHECK(c.UpstreamCalls(job) == 1);
  }
  for (const auto& a : c[0].Approvals("all")) {
    INFO(DumpJson(a));
    CHECK(a["votes"].size() == 1);
    CHECK(a["state"] == "completed");
  }
  CHECK(c[0].Audit("approval.approved").size() == static_cast<size_t>(kJobs));
  CHECK(c[0].Audit("approval.executing").size() == static_cast<size_t>(kJobs));
  CommandResult v = AuditVerifyOffline(pg.url());
  INFO(v.out);
  CHECK(v.code == 0);
}

}  // namespace holdgate::testing
