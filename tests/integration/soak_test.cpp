// Soak (not in CI: the test is hidden, run by scripts/soak.sh): mixed agent load against a real
// holdgate for a bounded time, with reviewers approving and rejecting as calls arrive, kill -9 and
// restart of holdgate at random moments, and outages of a webhook receiver. Afterwards every
// approval must be accounted for (none left pending, approved or executing), no job may have
// reached the upstream twice, every call an agent saw succeed must have a completed approval,
// and the audit chain must verify, online and offline.
//
// HOLDGATE_SOAK_SECONDS (default 120) bounds the load phase; HOLDGATE_SOAK_SEED seeds it.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/crypto.h"
#include "integration/resilience_fixture.h"

namespace holdgate::testing {
namespace {

using namespace resilience;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// A webhook receiver that can go down and come back on the same port.
class Receiver {
 public:
  Receiver() {
    server_ = std::make_unique<httplib::Server>();
    port_ = server_->bind_to_any_port("127.0.0.1");
    Serve();
  }
  ~Receiver() { Down(); }
  int port() const { return port_; }
  void Down() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!server_) return;
    server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }
  void Up() {
    std::lock_guard<std::mutex> lock(mu_);
    if (server_) return;
    server_ = std::make_unique<httplib::Server>();
    if (!server_->bind_to_port("127.0.0.1", port_)) {
      server_.reset();
      return;
    }
    Serve();
  }
  int hits() const { return hits_.load(); }

 private:
  void Serve() {
    server_->Post("/hook", [this](const httplib::Request&, httplib::Response& res) {
      ++hits_;
      res.status = 204;
    });
    httplib::Server* s = server_.get();
    thread_ = std::thread([s] { s->listen_after_bind(); });
    while (!s->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::mutex mu_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> hits_{0};
};

enum class Outcome { kNone, kRan, kRefused, kPending };

// Every approval in `states` (all pages) from the review listener on `port`; empty on failure.
Json AllApprovals(int port, const std::string& states) {
  ReviewClient r(port, "soak-auditor", "auditor");
  Json all = Json::array();
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    auto reply = r.Get("/api/approvals?state=" + states + "&limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor));
    if (reply.status != 200) return Json::array();
    for (auto& a : reply.body["approvals"]) all.push_back(a);
    if (!reply.body["next_cursor"].is_string()) break;
    cursor = reply.body["next_cursor"].get<std::string>();
  }
  return all;
}

}  // namespace

TEST_CASE("soak: mixed load with approvals, restarts and receiver outages loses and doubles nothing", "[.soak]") {
  const int seconds = EnvInt("HOLDGATE_SOAK_SECONDS", 120);
  const unsigned seed = static_cast<unsigned>(EnvInt("HOLDGATE_SOAK_SEED", 1));
  Receiver receiver;
  TempDir cfg;
  const Json config = {{"notify", {{"webhooks", {{{"name", "soak"},
                                                  {"url", "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook"},
                                                  {"secret", "whsec_" + Base64Encode(RandomHex(16))},
                                                  {"allow_http", true}}}}}}};
  WriteFile(cfg.File("config.json"), DumpJson(config));
  const std::string policy = R"({"version":"1","default":"allow","hide":["stats"],"tools":{
    "cancel_job":{"action":"require_approval","risk":{"level":"critical"},
                  "approval":{"approvers":1,"timeout":"10m","hold":"2s","notify":["webhook:soak"]}}}})";
  Instance h(policy, {"--config", cfg.File("config.json")});
  REQUIRE(h.Start());

  std::mutex mu;                                 // guards the maps below and restarts
  std::map<std::string, Outcome> jobs;           // job id -> what its agent last heard
  std::set<std::string> ran_for_agent;           // jobs an agent saw succeed
  std::map<std::string, int> kinds;              // call kind -> count
  std::atomic<bool> stop{false};
  std::atomic<int> next_job{0}, restarts{0}, outages{0}, connection_errors{0}, unexpected{0};
  std::vector<std::string> odd;
  auto port = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return h.gw().mcp_port;
  };
  auto review_port = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return h.gw().review_port;
  };

  // Agents: allowed calls, hidden tool probes, and held cancel_job calls (new ones and retries
  // of those still pending), some held open with a progress token, some deferred.
  auto agent_loop = [&](int n) {
    std::mt19937 rng(seed * 100 + n);
    while (!stop.load()) {
      McpHttpClient a("127.0.0.1", port());
      a.set_read_timeout_s(30);
      if (!a.Initialize().is_object()) {
        ++connection_errors;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      for (int i = 0; i < 20 && !stop.load(); ++i) {
        const int pick = static_cast<int>(rng() % 10);
        Json r;
        std::string kind;
        std::string job;
        if (pick < 4) {
          kind = pick < 2 ? "list_jobs" : "whoami";
          r = a.CallTool(kind, Json::object());
          if (!r.is_null() && IsError(r)) {
            ++unexpected;
            std::lock_guard<std::mutex> lock(mu);
            odd.push_back(kind + ": " + DumpJson(r));
          }
        } else if (pick == 4) {
          kind = "stats (hidden)";
          r = a.CallTool("stats", Json::object());
          if (!r.is_null() && (!r.contains("error") || r["error"]["code"] != -32602)) ++unexpected;
        } else {
          kind = "cancel_job";
          {
            std::lock_guard<std::mutex> lock(mu);
            // Retry an unfinished job half of the time, as an agent told to retry would.
            std::vector<std::string> open;
            for (auto& [j, o] : jobs) {
              if (o == Outcome::kPending || o == Outcome::kNone) open.push_back(j);
            }
            if (!open.empty() && rng() % 2) job = open[rng() % open.size()];
            else job = "soak-" + std::to_string(next_job++);
            jobs.emplace(job, Outcome::kNone);
          }
          Json meta = rng() % 2 ? Json{{"progressToken", job}} : Json();
          r = a.CallTool("cancel_job", {{"job_id", job}}, meta);
          std::lock_guard<std::mutex> lock(mu);
          if (r.is_null()) {
            // Connection lost (a restart): the agent does not know; it will retry.
          } else if (!IsError(r)) {
            jobs[job] = Outcome::kRan;
            ran_for_agent.insert(job);
          } else if (Text(r).find("NOT executed") != std::string::npos || Text(r).find("try again") != std::string::npos ||
                     Text(r).find("retry the identical call") != std::string::npos) {
            if (jobs[job] != Outcome::kRan) jobs[job] = Outcome::kPending;
          } else if (Text(r).find("Not executed") != std::string::npos ||
                     Text(r).find("did not complete normally") != std::string::npos) {
            if (jobs[job] != Outcome::kRan) jobs[job] = Outcome::kRefused;
          } else {
            ++unexpected;
            odd.push_back("cancel_job " + job + ": " + DumpJson(r));
          }
        }
        if (r.is_null()) {
          ++connection_errors;
          break;  // new session after a restart
        }
        std::lock_guard<std::mutex> lock(mu);
        ++kinds[kind];
      }
    }
  };

  // Reviewers: decide what is pending; reject a retry of a job that already ran or failed (a
  // careful human does not approve the same cancellation twice).
  auto reviewer_loop = [&] {
    std::mt19937 rng(seed * 7);
    while (!stop.load()) {
      const int rp = review_port();
      ReviewClient r(rp, "reviewer-" + std::to_string(rng() % 3));
      Json list = AllApprovals(rp, "pending,completed,failed");
      {
        std::set<std::string> done;
        for (const auto& a : list) {
          if (a["state"] != "pending") done.insert(Str(a["arguments"], "job_id"));
        }
        for (const auto& a : list) {
          if (a["state"] != "pending") continue;
          const std::string id = a["id"];
          if (done.count(Str(a["arguments"], "job_id"))) r.Reject(id, "already ran once");
          else if (rng() % 5 == 0) r.Reject(id, "not now");
          else r.Approve(id);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    }
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(agent_loop, i);
  threads.emplace_back(reviewer_loop);
  std::mt19937 chaos(seed);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  auto next_kill = std::chrono::steady_clock::now() + std::chrono::seconds(15 + chaos() % 20);
  auto next_outage = std::chrono::steady_clock::now() + std::chrono::seconds(5 + chaos() % 10);
  bool receiver_down = false;
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_kill) {
      std::lock_guard<std::mutex> lock(mu);
      h.Kill();
      REQUIRE(h.Start());
      ++restarts;
      next_kill = now + std::chrono::seconds(15 + chaos() % 20);
    }
    if (now >= next_outage) {
      if (receiver_down) receiver.Up();
      else {
        receiver.Down();
        ++outages;
      }
      receiver_down = !receiver_down;
      next_outage = now + std::chrono::seconds(5 + chaos() % 10);
    }
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  receiver.Up();

  // Settle: every unfinished job is retried until the agent hears a final answer, and reviewers
  // decide what is still pending (the same rules as above).
  const auto settle_end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  ReviewClient settler(h.gw().review_port, "settler");
  while (std::chrono::steady_clock::now() < settle_end) {
    std::vector<std::string> open;
    for (auto& [j, o] : jobs) {
      if (o == Outcome::kPending || o == Outcome::kNone) open.push_back(j);
    }
    std::set<std::string> done;
    for (const auto& a : h.Approvals("completed,failed")) done.insert(Str(a["arguments"], "job_id"));
    for (const auto& a : h.Approvals("pending")) {
      if (done.count(Str(a["arguments"], "job_id"))) settler.Reject(a["id"], "already ran once");
      else settler.Approve(a["id"]);
    }
    if (open.empty() && h.Approvals("pending,approved,executing").empty()) break;
    McpHttpClient a = h.Agent();
    for (const auto& job : open) {
      Json r = a.CallTool("cancel_job", {{"job_id", job}});
      if (!IsError(r)) {
        jobs[job] = Outcome::kRan;
        ran_for_agent.insert(job);
      } else if (Text(r).find("NOT executed") == std::string::npos) {
        jobs[job] = Outcome::kRefused;
      }
    }
  }

  // ---- accounting ------------------------------------------------------------------------------
  std::map<std::string, int> states;
  std::map<std::string, std::map<std::string, int>> per_job;  // job -> state -> count
  for (const auto& a : h.Approvals("all")) {
    ++states[a["state"].get<std::string>()];
    ++per_job[Str(a["arguments"], "job_id")][a["state"].get<std::string>()];
  }
  std::string summary = "soak " + std::to_string(seconds) + " s, seed " + std::to_string(seed) + ": restarts " +
                        std::to_string(restarts.load()) + ", receiver outages " + std::to_string(outages.load()) +
                        ", webhook deliveries " + std::to_string(receiver.hits()) + ", connection errors " +
                        std::to_string(connection_errors.load()) + ", jobs " + std::to_string(jobs.size());
  for (auto& [k, n] : kinds) summary += ", " + k + " " + std::to_string(n);
  for (auto& [s, n] : states) summary += ", approvals " + s + " " + std::to_string(n);
  summary += ", upstream cancel_job requests " + std::to_string(h.UpstreamCalls("cancel_job")) +
             ", cancel_job runs (counters) " + std::to_string(h.Counter("cancel_job_calls"));
  std::cout << summary << std::endl;
  WARN(summary);
  for (const auto& o : odd) UNSCOPED_INFO(o);
  CHECK(unexpected.load() == 0);
  CHECK(restarts.load() >= (seconds >= 60 ? 1 : 0));

  // No approval left open.
  CHECK(states["pending"] == 0);
  CHECK(states["approved"] == 0);
  CHECK(states["executing"] == 0);
  // Per job: at most one run, and it matches the store.
  int completed = 0, failed = 0;
  for (const auto& [job, by_state] : per_job) {
    INFO(job);
    const int calls = h.UpstreamCalls("cancel_job", job);
    const int done = by_state.count("completed") ? by_state.at("completed") : 0;
    const int crashed = by_state.count("failed") ? by_state.at("failed") : 0;
    completed += done;
    failed += crashed;
    CHECK(calls <= 1);
    CHECK(done <= 1);
    if (done == 1) CHECK(calls == 1);
    if (done == 0) CHECK(calls <= crashed);
  }
  // Every success an agent saw is a completed approval.
  for (const auto& job : ran_for_agent) {
    INFO(job);
    CHECK(per_job[job].count("completed") == 1);
  }
  // The demo's own count lies between the completed and the requests that reached it.
  CHECK(h.Counter("cancel_job_calls") >= completed);
  CHECK(h.Counter("cancel_job_calls") <= h.UpstreamCalls("cancel_job"));
  CHECK(h.UpstreamCalls("cancel_job") <= completed + failed);
  CHECK(h.AuditVerify()["ok"] == true);
  REQUIRE(h.Terminate() == 0);
  CommandResult offline = AuditVerifyOffline(h.DbPath());
  INFO(offline.out);
  CHECK(offline.code == 0);
}

}  // namespace holdgate::testing
