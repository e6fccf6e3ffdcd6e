// Fault injection against a real holdgate process: the SQLite database write-locked by another
// process for longer than the busy timeout, a full disk (a small tmpfs), and kill -9 at the steps
// of a hold that tests/integration/holds_test.cpp does not cover (during a burst of requests,
// around the pending rows; after approval before release; while approved calls are released and
// answered), and an upstream that never answers (upstream.request_timeout, over stdio and HTTP:
// the agent gets an error, the request is cancelled upstream, an approved call ends failed). An
// upstream crash is in gateway_http_test.cpp; kill -9 with a pending or executing approval in
// holds_test.cpp. Each asserts: no approval lost, no tool run twice (the requests that reached the
// upstream, per job id), every retry answered consistently, the audit chain intact.
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "integration/resilience_fixture.h"

namespace holdgate::testing {
namespace {

using namespace resilience;

const char kCouldNotRecord[] = "could not record the approval request";

// Approves (as `reviewer`) every pending approval whose arguments name one of `jobs`.
void ApproveJobs(Instance& h, const std::set<std::string>& jobs, const std::string& reviewer = "bob") {
  ReviewClient r = h.Reviewer(reviewer);
  for (const auto& a : h.Approvals("pending")) {
    if (jobs.count(Str(a["arguments"], "job_id"))) CHECK(r.Approve(a["id"]).status == 200);
  }
}

// Job ids "<prefix>0" … "<prefix><n-1>".
std::set<std::string> JobIds(const std::string& prefix, int n) {
  std::set<std::string> jobs;
  for (int i = 0; i < n; ++i) jobs.insert(prefix + std::to_string(i));
  return jobs;
}

// One agent thread per job, all at once, each a new session making a held cancel_job (progress
// token = the job id). Nothing is asserted in the threads: holdgate may die under them.
std::vector<std::thread> FireHeldCalls(Instance& h, const std::set<std::string>& jobs, int read_timeout_s = 0) {
  std::vector<std::thread> agents;
  for (const auto& job : jobs) {
    agents.emplace_back([&h, job, read_timeout_s] {
      McpHttpClient a("127.0.0.1", h.gw().mcp_port);
      if (read_timeout_s > 0) a.set_read_timeout_s(read_timeout_s);
      if (a.Initialize().is_object()) a.CallTool("cancel_job", {{"job_id", job}}, {{"progressToken", job}});
    });
  }
  return agents;
}

std::map<std::string, std::vector<Json>> ApprovalsByJob(Instance& h) {
  std::map<std::string, std::vector<Json>> out;
  for (const auto& a : h.Approvals("all")) out[Str(a["arguments"], "job_id")].push_back(a);
  return out;
}

// Integrity of the database file, read-only from this process.
std::string IntegrityCheck(const std::string& db) {
  sqlite3* conn = nullptr;
  std::string result = "open failed";
  if (sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(conn, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK) {
      result.clear();
      while (sqlite3_step(st) == SQLITE_ROW) result += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(conn);
  return result;
}

}  // namespace

TEST_CASE("faults: SQLite write-locked by another process past the busy timeout", "[integration][faults]") {
  Instance h(HoldPolicy("10m", "60s"));
  REQUIRE(h.Start());
  // An approval that exists before the lock and must survive it.
  McpHttpClient first_agent = h.Agent();
  Json first;
  std::thread first_call([&] { first = first_agent.CallTool("cancel_job", {{"job_id", "job-before"}}, {{"progressToken", 1}}); });
  Json before = h.Reviewer().WaitForPending();
  REQUIRE(before.is_object());
  const std::string before_id = before["id"];

  // Another process (this test) takes the database's write lock and keeps it until both writes
  // below have failed: longer than holdgate's 5 s busy timeout.
  sqlite3* conn = nullptr;
  REQUIRE(sqlite3_open_v2(h.DbPath().c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(conn, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto locked_at = std::chrono::steady_clock::now();

  McpHttpClient agent = h.Agent();
  Json during;
  std::thread held_call([&] { during = agent.CallTool("cancel_job", {{"job_id", "job-during"}}, {{"progressToken", 2}}); });
  // A reviewer's decision cannot be recorded either: refused, not lost, not half-done.
  ReviewClient::Reply approve_during;
  std::thread approving([&] { approve_during = h.Reviewer("bob").Approve(before_id); });
  // Calls that need no write keep working while the lock is held.
  McpHttpClient reader = h.Agent();
  Json whoami = reader.CallTool("whoami", Json::object());
  CHECK(h.Reviewer().Get("/api/approvals?state=pending").status == 200);
  held_call.join();
  approving.join();
  // Both were answered while the lock was still held. (One writer connection: queued writes each
  // wait their own busy timeout, so two take about twice as long.)
  const auto waited = std::chrono::steady_clock::now() - locked_at;
  INFO("waited " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
  INFO("during: " << DumpJson(during));
  REQUIRE(IsError(during));
  CHECK(Text(during).find(kCouldNotRecord) != std::string::npos);
  CHECK(Text(during).find("locked") != std::string::npos);
  CHECK(Text(during).find("Nothing was run") != std::string::npos);
  // A store that cannot write answers 503 with the reason (not 500): nothing was decided.
  CHECK(approve_during.status == 503);
  CHECK(approve_during.body["error"] == "unavailable");
  CHECK(Str(approve_during.body, "message").find("nothing was decided") != std::string::npos);
  CHECK_FALSE(IsError(whoami));
  CHECK(Str(h.Approval(before_id), "state") == "pending");
  CHECK(h.Approval(before_id)["votes"].empty());

  // Release the lock (held for at least 6 s, past the 5 s busy timeout, in all).
  std::this_thread::sleep_until(locked_at + std::chrono::seconds(6));
  REQUIRE(sqlite3_exec(conn, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(conn);

  // Nothing lost: the earlier approval is still pending and is released once when approved.
  REQUIRE(h.Reviewer("bob").Approve(before_id).status == 200);
  first_call.join();
  CHECK_FALSE(IsError(first));
  CHECK(h.UpstreamCalls("cancel_job", "job-before") == 1);
  // The refused call left no approval behind; retried now, it is held and runs once when approved.
  for (const auto& a : h.Approvals("all")) CHECK(Str(a["arguments"], "job_id") != "job-during");
  Json retry;
  std::thread retry_call([&] { retry = agent.CallTool("cancel_job", {{"job_id", "job-during"}}, {{"progressToken", 3}}); });
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(pending["arguments"]["job_id"] == "job-during");
  REQUIRE(h.Reviewer("bob").Approve(pending["id"]).status == 200);
  retry_call.join();
  CHECK_FALSE(IsError(retry));
  CHECK(h.UpstreamCalls("cancel_job", "job-during") == 1);
  CHECK(h.Counter("cancel_job_calls") == 2);
  CHECK(h.AuditVerify()["ok"] == true);
  CHECK(h.Running());
}

TEST_CASE("faults: a full disk gives clear errors and corrupts nothing", "[integration][faults]") {
  TempDir mnt;
  const std::string disk = mnt.File("disk");
  std::filesystem::create_directories(disk);
  // A missing precondition fails the test: it needs root or CAP_SYS_ADMIN to mount a tmpfs.
  const int mounted = mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=8m");
  INFO("mount tmpfs: " << (mounted == 0 ? "ok" : std::strerror(errno)));
  REQUIRE(mounted == 0);
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{disk};

  Instance h(HoldPolicy("10m", "60s"));
  h.set_db_path(disk + "/holdgate.db");
  REQUIRE(h.Start());
  McpHttpClient agent = h.Agent();
  Json before;
  std::thread before_call([&] { before = agent.CallTool("cancel_job", {{"job_id", "job-before"}}, {{"progressToken", 1}}); });
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  const std::string before_id = pending["id"];

  // Fill the disk to the last byte.
  const std::string filler = disk + "/filler";
  {
    FILE* f = fopen(filler.c_str(), "w");
    REQUIRE(f != nullptr);
    std::string block(64 * 1024, 'x');
    for (size_t chunk = block.size(); chunk > 0; chunk /= 2) {
      while (fwrite(block.data(), 1, chunk, f) == chunk && fflush(f) == 0) {
      }
      clearerr(f);
    }
    fclose(f);
  }
  struct statvfs vfs;
  REQUIRE(statvfs(disk.c_str(), &vfs) == 0);
  INFO("free bytes after filling: " << vfs.f_bavail * vfs.f_bsize);

  // /healthz reports the full disk (503, and why) instead of "store: ok".
  {
    httplib::Client probe("127.0.0.1", h.gw().review_port);
    auto health = probe.Get("/healthz");
    REQUIRE(health);
    INFO("healthz while full: " << health->body);
    CHECK(health->status == 503);
    auto body = ParseJson(health->body);
    REQUIRE(body.ok());
    CHECK(body.value()["store"] == "disk_full");
    CHECK(body.value()["free_bytes"].get<int64_t>() < 1024 * 1024);
  }

  // A held call with large arguments needs new pages: refused with a clear error, nothing run.
  const std::string big(256 * 1024, 'a');
  McpHttpClient agent2 = h.Agent();
  Json full = agent2.CallTool("cancel_job", {{"job_id", "job-full"}, {"note", big}}, {{"progressToken", 2}});
  INFO("reply while full: " << Text(full).substr(0, 300));
  REQUIRE(IsError(full));
  CHECK(Text(full).find(kCouldNotRecord) != std::string::npos);
  CHECK(h.UpstreamCalls("cancel_job", "job-full") == 0);
  // The review API still reads.
  CHECK(h.Reviewer().Get("/api/approvals?state=pending").status == 200);
  // A decision may or may not fit; if it was refused, the approval is still pending.
  auto decided = h.Reviewer("bob").Approve(before_id);
  INFO("approve while full: " << decided.status << " " << DumpJson(decided.body));
  CHECK((decided.status == 200 || decided.status == 503));
  if (decided.status != 200) CHECK(Str(h.Approval(before_id), "state") == "pending");

  // Space comes back: everything works, nothing was lost or corrupted.
  std::filesystem::remove(filler);
  {
    httplib::Client probe("127.0.0.1", h.gw().review_port);
    auto health = probe.Get("/healthz");
    REQUIRE(health);
    INFO("healthz after freeing space: " << health->body);
    CHECK(health->status == 200);
  }
  if (decided.status != 200) REQUIRE(h.Reviewer("bob").Approve(before_id).status == 200);
  before_call.join();
  CHECK_FALSE(IsError(before));
  CHECK(h.UpstreamCalls("cancel_job", "job-before") == 1);
  Json again;
  std::thread again_call([&] { again = agent2.CallTool("cancel_job", {{"job_id", "job-full"}, {"note", big}}, {{"progressToken", 3}}); });
  Json retry_pending = h.Reviewer().WaitForPending();
  REQUIRE(retry_pending.is_object());
  REQUIRE(h.Reviewer("bob").Approve(retry_pending["id"]).status == 200);
  again_call.join();
  CHECK_FALSE(IsError(again));
  CHECK(h.UpstreamCalls("cancel_job", "job-full") == 1);
  CHECK(h.AuditVerify()["ok"] == true);
  REQUIRE(h.Terminate() == 0);
  CHECK(IntegrityCheck(h.DbPath()) == "ok");
  CommandResult offline = AuditVerifyOffline(h.DbPath());
  INFO(offline.out);
  CHECK(offline.code == 0);
}

// slow_echo (allowed) and start_job with wait=true (held) answer only after an hour: to holdgate
// they are a hung upstream. Both stop at once on notifications/cancelled (demo counter
// requests_cancelled).
constexpr char kHangPolicy[] = R"({"version":"1","default":"allow","tools":{
  "start_job":{"action":"require_approval","approval":{"timeout":"10m","hold":"60s"}}}})";
constexpr char kTimeoutPrefix[] =
    "upstream did not answer within 1500ms; the call may or may not have run; not re-run";

void CheckHungUpstream(Instance& h, const std::function<int(const std::string&)>& counter) {
  McpHttpClient agent = h.Agent();
  // Pass-through: the agent gets the timeout error, and the upstream is told to stop.
  const auto start = std::chrono::steady_clock::now();
  Json reply = agent.CallTool("slow_echo", {{"message", "hang"}, {"delay_ms", 3600000}});
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  INFO("reply: " << reply.dump() << " after " << waited.count() << " ms");
  REQUIRE(reply.contains("error"));
  CHECK(reply["error"]["code"] == -32001);
  CHECK(Str(reply["error"], "message").rfind(kTimeoutPrefix, 0) == 0);
  CHECK(waited.count() >= 1500);
  CHECK(waited.count() < 15000);
  CHECK(WaitUntil([&] { return counter("requests_cancelled") >= 1; }, 10000));
  CHECK(counter("slow_echo_completed") <= 0);

  // Held, approved, then the upstream hangs: the agent gets an error and the approval ends failed.
  Json held;
  std::thread call([&] {
    held = agent.CallTool("start_job", {{"duration_ms", 3600000}, {"wait", true}, {"label", "hang"}},
                          {{"progressToken", "p-hang"}});
  });
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  const std::string id = pending["id"];
  REQUIRE(h.Reviewer("bob").Approve(id).status == 200);
  call.join();
  INFO("held reply: " << held.dump());
  CHECK(IsError(held));
  CHECK(held.dump().find("upstream did not answer within 1500ms") != std::string::npos);
  Json approval;
  CHECK(WaitUntil([&] {
    approval = h.Approval(id);
    return Str(approval, "state") == "failed";
  }, 10000));
  INFO("approval: " << approval.dump());
  CHECK(Str(approval, "state") == "failed");
  CHECK(approval.dump().find("upstream did not answer") != std::string::npos);
  CHECK(WaitUntil([&] { return counter("requests_cancelled") >= 2; }, 10000));
  CHECK(counter("jobs_completed") <= 0);
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("faults: a hung stdio upstream: the agent gets an error after upstream.request_timeout, "
          "an approved call ends failed",
          "[integration][faults][timeout]") {
  TempDir cfg_dir;
  const std::string cfg = cfg_dir.File("holdgate.json");
  WriteFile(cfg, R"({"upstream":{"request_timeout":"1500ms"}})");
  Instance h(kHangPolicy, {"--config", cfg});
  REQUIRE(h.Start());
  CheckHungUpstream(h, [&](const std::string& name) { return h.Counter(name); });
  CHECK(h.Terminate() == 0);
}

TEST_CASE("faults: a hung HTTP upstream: the agent gets an error after upstream.request_timeout, "
          "an approved call ends failed",
          "[integration][faults][timeout]") {
  TempDir demo_dir;
  ChildProcess demo({HOLDGATE_DEMO_UPSTREAM, "--http", "127.0.0.1:0", "--ready-file", demo_dir.File("ready.json"),
                     "--counters-file", demo_dir.File("counters.json")},
                    demo_dir.File("demo.log"));
  Json ready = WaitForJsonFile(demo_dir.File("ready.json"));
  REQUIRE(ready.is_object());
  const std::string url = ready.value("url", ready.value("mcp", ""));
  REQUIRE_FALSE(url.empty());
  const std::string cfg = demo_dir.File("holdgate.json");
  WriteFile(cfg, R"({"upstream":{"request_timeout":"1500ms"}})");
  Instance h(kHangPolicy, {"--config", cfg});
  h.set_upstream_url(url);
  REQUIRE(h.Start());
  CheckHungUpstream(h, [&](const std::string& name) {
    auto parsed = ParseJson(ReadFile(demo_dir.File("counters.json")));
    return parsed.ok() ? parsed.value().value(name, 0) : 0;
  });
  CHECK(h.Terminate() == 0);
}

TEST_CASE("faults: kill -9 during a burst of held requests loses nothing and duplicates nothing",
          "[integration][faults][kill][pg]") {
  Instance h(HoldPolicy("10m", "60s"));
  REQUIRE(h.Start());
  const std::set<std::string> jobs = JobIds("job-burst-", 16);
  // Every agent fires at once; holdgate dies once a few approvals are written, so some requests
  // die before their pending row and others after.
  std::vector<std::thread> agents = FireHeldCalls(h, jobs, 60);
  WaitUntil([&] { return h.Approvals("pending").size() >= 5; }, 20000);
  h.Kill();
  for (auto& t : agents) t.join();
  REQUIRE(h.Start());

  // After the restart: only pending approvals, at most one per job, nothing ran.
  auto by_job = ApprovalsByJob(h);
  size_t written = 0;
  for (const auto& [job, list] : by_job) {
    INFO(job);
    CHECK(jobs.count(job) == 1);
    CHECK(list.size() == 1);
    CHECK(list[0]["state"] == "pending");
    written += list.size();
  }
  INFO(written << " of " << jobs.size() << " approvals were written before the kill");
  CHECK(written >= 5);
  CHECK(h.UpstreamCalls("cancel_job") == 0);

  // Every agent retries: each re-attaches to its approval or creates the missing one, never a
  // second one; approved, each runs exactly once and the agent gets its own result.
  std::map<std::string, Json> replies;
  std::mutex replies_mu;
  agents.clear();
  for (const auto& job : jobs) {
    agents.emplace_back([&, job] {
      McpHttpClient a = h.Agent();
      Json r = a.CallTool("cancel_job", {{"job_id", job}}, {{"progressToken", job}});
      std::lock_guard<std::mutex> lock(replies_mu);
      replies[job] = r;
    });
  }
  REQUIRE(WaitUntil([&] { return h.Approvals("pending").size() == jobs.size(); }, 30000));
  ApproveJobs(h, jobs);
  for (auto& t : agents) t.join();
  for (const auto& job : jobs) {
    INFO(job << ": " << DumpJson(replies[job]));
    CHECK_FALSE(IsError(replies[job]));
    CHECK(Text(replies[job]).find(job) != std::string::npos);
    CHECK(h.UpstreamCalls("cancel_job", job) == 1);
  }
  by_job = ApprovalsByJob(h);
  for (const auto& job : jobs) {
    INFO(job);
    REQUIRE(by_job[job].size() == 1);
    CHECK(by_job[job][0]["state"] == "completed");
  }
  CHECK(h.Counter("cancel_job_calls") == static_cast<int>(jobs.size()));
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("faults: kill -9 after approval, before release: the retry runs each call once", "[integration][faults][kill][pg]") {
  // Held for 300 ms, then deferred: approved calls wait for the agent's retry to be released.
  Instance h(HoldPolicy("10m", "300ms"));
  REQUIRE(h.Start());
  const std::set<std::string> jobs = JobIds("job-deferred-", 8);
  {
    McpHttpClient agent = h.Agent();
    for (const auto& job : jobs) {
      Json r = agent.CallTool("cancel_job", {{"job_id", job}});
      REQUIRE(IsError(r));
      CHECK(Text(r).find("NOT executed") != std::string::npos);
    }
  }
  REQUIRE(h.Approvals("pending").size() == jobs.size());
  ApproveJobs(h, jobs);
  for (const auto& a : h.Approvals("all")) CHECK(a["state"] == "approved");
  h.Kill();
  REQUIRE(h.Start());
  // Approved survives the crash, and nothing ran.
  for (const auto& a : h.Approvals("all")) CHECK(a["state"] == "approved");
  CHECK(h.UpstreamCalls("cancel_job") == 0);
  // The retries, two agents racing per call: each call runs exactly once. The first agent gets
  // its result; the second gets the same result (attached while it ran) or, arriving after it
  // completed, is a new request for approval that runs nothing.
  std::vector<std::thread> agents;
  std::map<std::string, int> got_result;
  std::mutex mu;
  std::atomic<int> unexpected{0};
  for (const auto& job : jobs) {
    for (int k = 0; k < 2; ++k) {
      agents.emplace_back([&, job] {
        McpHttpClient a = h.Agent();
        Json r = a.CallTool("cancel_job", {{"job_id", job}});
        std::lock_guard<std::mutex> lock(mu);
        if (!IsError(r) && Text(r).find(job) != std::string::npos) ++got_result[job];
        else if (Text(r).find("NOT executed") == std::string::npos) {
          ++unexpected;
          UNSCOPED_INFO(job << ": " << DumpJson(r));
        }
      });
    }
  }
  for (auto& t : agents) t.join();
  CHECK(unexpected.load() == 0);
  auto by_job = ApprovalsByJob(h);
  for (const auto& job : jobs) {
    INFO(job);
    CHECK(got_result[job] >= 1);
    CHECK(h.UpstreamCalls("cancel_job", job) == 1);
    int completed = 0;
    for (const auto& a : by_job[job]) {
      if (a["state"] == "completed") ++completed;
      else CHECK(a["state"] == "pending");
    }
    CHECK(completed == 1);
    CHECK(by_job[job].size() == (got_result[job] == 2 ? 1u : 2u));  // late identical calls share one new approval
  }
  CHECK(h.Counter("cancel_job_calls") == static_cast<int>(jobs.size()));
  // A further identical call is a new request for approval, not a re-run.
  McpHttpClient agent = h.Agent();
  Json third = agent.CallTool("cancel_job", {{"job_id", *jobs.begin()}});
  CHECK(IsError(third));
  CHECK(h.UpstreamCalls("cancel_job", *jobs.begin()) == 1);
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("faults: kill -9 while approved calls are released and answered", "[integration][faults][kill]") {
  Instance h(HoldPolicy("10m", "60s"));
  REQUIRE(h.Start());
  const std::set<std::string> jobs = JobIds("job-release-", 12);
  std::vector<std::thread> agents = FireHeldCalls(h, jobs);
  REQUIRE(WaitUntil([&] { return h.Approvals("pending").size() == jobs.size(); }, 30000));
  // Approve them all at once and crash while they are being released and answered.
  std::vector<std::thread> reviewers;
  std::vector<std::string> ids;
  for (const auto& a : h.Approvals("pending")) ids.push_back(a["id"]);
  for (size_t i = 0; i < ids.size(); ++i) {
    reviewers.emplace_back([&, i] { ReviewClient(h.gw().review_port, "bob").Approve(ids[i]); });
  }
  WaitUntil([&] { return h.UpstreamCalls("cancel_job") >= 3; }, 20000);
  h.Kill();
  for (auto& t : reviewers) t.join();
  for (auto& t : agents) t.join();
  REQUIRE(h.Start());

  // Each approval is in a state that matches what reached the upstream.
  std::map<std::string, std::string> state_before;
  for (const auto& [job, list] : ApprovalsByJob(h)) {
    REQUIRE(list.size() == 1);
    const std::string state = list[0]["state"];
    const int calls = h.UpstreamCalls("cancel_job", job);
    INFO(job << " " << state << " upstream calls " << calls);
    state_before[job] = state;
    CHECK(calls <= 1);
    if (state == "pending" || state == "approved") CHECK(calls == 0);
    else if (state == "completed") CHECK(calls == 1);
    else CHECK(state == "failed");  // executing at the crash: marked failed, never re-run
    if (state == "failed") CHECK(Str(list[0], "reason").find("not re-run") != std::string::npos);
  }
  CHECK(state_before.size() == jobs.size());

  // Every agent retries. Pending or approved: it runs now, once. Completed or failed: the call
  // already went upstream (or may have), so the retry is a new request for approval, which the
  // reviewer rejects here; it never runs a second time.
  std::map<std::string, Json> replies;
  std::mutex replies_mu;
  agents.clear();
  for (const auto& job : jobs) {
    agents.emplace_back([&, job] {
      McpHttpClient a = h.Agent();
      Json r = a.CallTool("cancel_job", {{"job_id", job}}, {{"progressToken", job}});
      std::lock_guard<std::mutex> lock(replies_mu);
      replies[job] = r;
    });
  }
  std::set<std::string> to_approve, to_reject;
  for (const auto& [job, state] : state_before) {
    if (state == "pending") to_approve.insert(job);
    if (state == "completed" || state == "failed") to_reject.insert(job);
  }
  const size_t expect_pending = to_approve.size() + to_reject.size();
  REQUIRE(WaitUntil([&] { return h.Approvals("pending").size() == expect_pending; }, 30000));
  ApproveJobs(h, to_approve);
  ReviewClient carol = h.Reviewer("carol");
  for (const auto& a : h.Approvals("pending")) {
    if (to_reject.count(Str(a["arguments"], "job_id"))) CHECK(carol.Reject(a["id"], "already ran before the crash").status == 200);
  }
  for (auto& t : agents) t.join();
  for (const auto& job : jobs) {
    const std::string& state = state_before[job];
    INFO(job << " was " << state << ": " << DumpJson(replies[job]));
    if (state == "pending" || state == "approved") {
      CHECK_FALSE(IsError(replies[job]));
      CHECK(h.UpstreamCalls("cancel_job", job) == 1);
    } else {
      CHECK(IsError(replies[job]));
      CHECK(Text(replies[job]).find("already ran before the crash") != std::string::npos);
      CHECK(h.UpstreamCalls("cancel_job", job) <= 1);
    }
  }
  CHECK(h.Counter("cancel_job_calls") <= static_cast<int>(jobs.size()));
  CHECK(h.AuditVerify()["ok"] == true);
}

}  // namespace holdgate::testing
