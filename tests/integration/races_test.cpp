// Races against a real holdgate process: many reviewers deciding one approval at once (review API
// and reviewer CLI processes), expiry racing a decision, agents retrying while the decision lands,
// and policy reloads during calls. Each asserts exactly-once from the demo upstream's side (the
// requests that reached it, per job id, and its counters) and the store's state through the
// review API. scripts/sanitize.sh tsan runs these under ThreadSanitizer.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "integration/resilience_fixture.h"

namespace holdgate::testing {
namespace {

using namespace resilience;

// Lets N threads start their critical step together.
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

int64_t ParseRfc3339Ms(const std::string& s) {
  // "2026-11-25T13:11:54.123Z"
  std::tm tm = {};
  int ms = 0;
  if (sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
             &tm.tm_sec, &ms) < 6) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("races: reviewers deciding one approval at once from the API and the CLI release it once",
          "[integration][races][pg]") {
  Instance h(HoldPolicy("10m", "60s"));
  REQUIRE(h.Start());
  const int kApi = 24;
  const int kCli = 6;
  McpHttpClient agent = h.Agent();
  Json reply;
  std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-race"}}, {{"progressToken", "p"}}); });
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  const std::string id = pending["id"];

  StartLine line(kApi + kCli);
  std::atomic<int> api_ok{0}, api_conflict{0}, cli_ok{0}, cli_conflict{0};
  std::mutex other_mu;
  std::vector<std::string> other;
  std::vector<std::thread> reviewers;
  for (int i = 0; i < kApi; ++i) {
    reviewers.emplace_back([&, i] {
      ReviewClient r(h.gw().review_port, "api-reviewer-" + std::to_string(i));
      line.ArriveAndWait();
      auto res = r.Approve(id, "race");
      if (res.status == 200) ++api_ok;
      else if (res.status == 409) ++api_conflict;
      else {
        std::lock_guard<std::mutex> lock(other_mu);
        other.push_back("api " + std::to_string(res.status) + " " + DumpJson(res.body));
      }
    });
  }
  for (int i = 0; i < kCli; ++i) {
    reviewers.emplace_back([&, i] {
      const std::string token = MintToken("cli-reviewer-" + std::to_string(i));
      line.ArriveAndWait();
      CommandResult r = RunReviewerCli({"approve", id, "--reason", "race", "--url=" + h.ReviewUrl(), "--token=" + token});
      if (r.code == 0) ++cli_ok;
      else if (r.code == 4) ++cli_conflict;  // already decided
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
  // One approver is needed and every reviewer is distinct: exactly one vote decides, every other
  // one finds the approval decided.
  CHECK(api_ok.load() + cli_ok.load() == 1);
  CHECK(api_conflict.load() + cli_conflict.load() == kApi + kCli - 1);
  CHECK_FALSE(IsError(reply));
  CHECK(Text(reply).find("job-race") != std::string::npos);
  CHECK(h.UpstreamCalls("cancel_job", "job-race") == 1);
  CHECK(h.Counter("cancel_job_calls") == 1);
  Json detail = h.Approval(id);
  CHECK(detail["state"] == "completed");
  CHECK(detail["votes"].size() == 1);
  CHECK(h.Audit("approval.executing").size() == 1);
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("races: a quorum of 3 under 30 concurrent approvers and rejecters decides once", "[integration][races][pg]") {
  Instance h(HoldPolicy("10m", "60s", 3));
  REQUIRE(h.Start());
  for (int round = 0; round < 3; ++round) {
    const std::string job = "job-quorum-" + std::to_string(round);
    McpHttpClient agent = h.Agent();
    Json reply;
    std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", job}}, {{"progressToken", round}}); });
    Json pending = h.Reviewer().WaitForPending();
    REQUIRE(pending.is_object());
    const std::string id = pending["id"];
    const int kReviewers = 30;
    StartLine line(kReviewers);
    std::atomic<int> approve_ok{0}, reject_ok{0}, conflict{0}, other{0};
    std::vector<std::thread> reviewers;
    for (int i = 0; i < kReviewers; ++i) {
      reviewers.emplace_back([&, i] {
        // Round 0: approvals only. Rounds 1-2: one in ten rejects.
        const bool reject = round > 0 && i % 10 == 7;
        ReviewClient r(h.gw().review_port, "r" + std::to_string(round) + "-" + std::to_string(i));
        line.ArriveAndWait();
        auto res = reject ? r.Reject(id, "no") : r.Approve(id);
        if (res.status == 200) ++(reject ? reject_ok : approve_ok);
        else if (res.status == 409) ++conflict;
        else ++other;
      });
    }
    for (auto& t : reviewers) t.join();
    call.join();
    CHECK(other.load() == 0);
    Json detail = h.Approval(id);
    const std::string state = detail["state"];
    INFO("round " << round << " state " << state << " approvals " << approve_ok.load() << " rejections "
                  << reject_ok.load());
    if (state == "completed") {
      // Exactly the quorum voted before the decision; nobody rejected before it.
      CHECK(approve_ok.load() == 3);
      CHECK(reject_ok.load() == 0);
      CHECK(detail["votes"].size() == 3);
      CHECK_FALSE(IsError(reply));
      CHECK(h.UpstreamCalls("cancel_job", job) == 1);
    } else {
      CHECK(state == "rejected");
      CHECK(round > 0);
      CHECK(reject_ok.load() == 1);
      CHECK(approve_ok.load() < 3);
      CHECK(IsError(reply));
      CHECK(h.UpstreamCalls("cancel_job", job) == 0);
    }
    CHECK(approve_ok.load() + reject_ok.load() + conflict.load() == kReviewers);
  }
  CHECK(h.Counter("cancel_job_calls") == h.UpstreamCalls("cancel_job"));
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("races: expiry racing a decision: either it ran once or it expired, never both", "[integration][races]") {
  Instance h(HoldPolicy("2s", "60s"));
  REQUIRE(h.Start());
  std::mt19937 rng(20261125);
  int completed = 0, expired = 0;
  const int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    const std::string job = "job-expiry-" + std::to_string(round);
    McpHttpClient agent = h.Agent();
    Json reply;
    // With a progress token the call is held open until the decision or the expiry.
    std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", job}}, {{"progressToken", job}}); });
    Json pending = h.Reviewer().WaitForPending();
    REQUIRE(pending.is_object());
    const std::string id = pending["id"];
    const int64_t expires = ParseRfc3339Ms(Str(pending, "expires_at"));
    REQUIRE(expires > 0);
    // Reviewers fire around the deadline: from 150 ms before to 150 ms after, spread per round.
    const int64_t aim = expires - 150 + static_cast<int64_t>(rng() % 300);
    std::vector<std::thread> reviewers;
    std::atomic<int> ok{0}, conflict{0}, other{0};
    for (int i = 0; i < 4; ++i) {
      reviewers.emplace_back([&, i] {
        ReviewClient r(h.gw().review_port, "late-" + std::to_string(i));
        const int64_t at = aim + i * 20;
        while (NowMs() < at) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        auto res = r.Approve(id);
        if (res.status == 200) ++ok;
        else if (res.status == 409) ++conflict;
        else ++other;
      });
    }
    for (auto& t : reviewers) t.join();
    call.join();
    REQUIRE(WaitUntil([&] {
      std::string s = Str(h.Approval(id), "state");
      return s == "completed" || s == "expired" || s == "failed";
    }, 20000));
    const std::string state = Str(h.Approval(id), "state");
    INFO("round " << round << " aim-expiry " << (aim - expires) << " ms, state " << state << ", ok " << ok.load());
    CHECK(other.load() == 0);
    if (state == "completed") {
      ++completed;
      CHECK(ok.load() == 1);
      CHECK_FALSE(IsError(reply));
      CHECK(h.UpstreamCalls("cancel_job", job) == 1);
    } else {
      ++expired;
      CHECK(state == "expired");
      CHECK(ok.load() == 0);  // a 200 means the call was released; it cannot expire after that
      CHECK(IsError(reply));
      // The agent hears "expired", or (when its hold limit, which is the expiry time, fires just
      // before the sweeper) the deferral; either way it is told nothing ran.
      const std::string text = Text(reply);
      CHECK((text.find("expired") != std::string::npos || text.find("NOT executed") != std::string::npos));
      CHECK(h.UpstreamCalls("cancel_job", job) == 0);
    }
  }
  INFO("completed " << completed << ", expired " << expired);
  CHECK(completed + expired == kRounds);
  CHECK(h.Counter("cancel_job_calls") == completed);
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("races: agents retrying while the decision lands run the call once", "[integration][races][pg]") {
  // Held for 300 ms, then deferred: the agents retry the identical call in a loop.
  Instance h(HoldPolicy("10m", "300ms"));
  REQUIRE(h.Start());
  const Json args = {{"job_id", "job-retry"}};
  const int kAgents = 6;
  std::atomic<bool> stop{false};
  std::atomic<int> ran{0}, deferred{0}, unexpected{0};
  std::mutex texts_mu;
  std::set<std::string> success_texts;
  std::vector<std::string> odd;
  std::vector<std::thread> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.emplace_back([&] {
      McpHttpClient agent = h.Agent();
      while (!stop.load()) {
        Json r = agent.CallTool("cancel_job", args);
        std::string text = Text(r);
        std::lock_guard<std::mutex> lock(texts_mu);
        if (!IsError(r)) {
          ++ran;
          success_texts.insert(text);
        } else if (text.find("NOT executed") != std::string::npos) {
          ++deferred;
        } else {
          ++unexpected;
          odd.push_back(DumpJson(r));
        }
      }
    });
  }
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  const std::string id = pending["id"];
  // Let retries pile up on the pending approval, then decide while they keep coming.
  REQUIRE(WaitUntil([&] { return deferred.load() >= kAgents; }, 20000));
  REQUIRE(h.Reviewer("bob").Approve(id).status == 200);
  REQUIRE(WaitUntil([&] { return Str(h.Approval(id), "state") == "completed"; }, 20000));
  // Keep retrying a little after completion: those are new requests, held again, never run.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  stop.store(true);
  for (auto& t : agents) t.join();
  for (const auto& o : odd) UNSCOPED_INFO(o);
  CHECK(unexpected.load() == 0);
  CHECK(ran.load() >= 1);               // the release, plus retries attached to it get its result
  CHECK(success_texts.size() == 1);     // ... and they all got the same, stored, result
  CHECK(h.UpstreamCalls("cancel_job", "job-retry") == 1);
  CHECK(h.Counter("cancel_job_calls") == 1);
  // Later identical calls asked for a new approval; none of them ran.
  Json all = h.Approvals("all");
  int completed = 0, pending_after = 0;
  for (const auto& a : all) {
    if (a["state"] == "completed") ++completed;
    else if (a["state"] == "pending") ++pending_after;
    else FAIL_CHECK("unexpected state " << a["state"]);
  }
  CHECK(completed == 1);
  CHECK(pending_after <= 1);  // retries after completion share one new approval
  CHECK(h.AuditVerify()["ok"] == true);
}

TEST_CASE("races: policy reloads during calls never let a held tool run unapproved", "[integration][races]") {
  const std::string held = HoldPolicy("10m", "60s");
  const std::string denied = R"({"version":"1","default":"allow","tools":{"cancel_job":{"action":"deny","reason":"frozen"},
    "slow_echo":{"action":"require_approval","approval":{"timeout":"10m","hold":"60s"}}}})";
  const std::string hidden = R"({"version":"1","default":"allow","hide":["cancel_job"],"tools":{
    "slow_echo":{"action":"require_approval","approval":{"timeout":"10m","hold":"60s"}}}})";
  const std::string broken = R"({"version":"1","default":"allow","tools":{"cancel_job":{"action":"allow_please"}}})";
  Instance h(held);
  REQUIRE(h.Start());
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, bad{0};
  std::mutex bad_mu;
  std::vector<std::string> bad_replies;
  std::vector<std::thread> agents;
  for (int i = 0; i < 4; ++i) {
    agents.emplace_back([&, i] {
      McpHttpClient agent = h.Agent();
      int n = 0;
      while (!stop.load()) {
        ++n;
        Json r;
        bool ok = true;
        if (n % 2 == 0) {
          r = agent.CallTool("whoami", Json::object());
          ok = !IsError(r);
        } else {
          // Never approved in this test: must be held (deferred after the short hold below), denied
          // or unknown, whatever policy is live.
          r = agent.CallTool("cancel_job", {{"job_id", "job-reload-" + std::to_string(i) + "-" + std::to_string(n)}},
                             {{"progressToken", n}});
          ok = IsError(r);
        }
        ++calls;
        if (!ok) {
          ++bad;
          std::lock_guard<std::mutex> lock(bad_mu);
          bad_replies.push_back(DumpJson(r));
        }
      }
    });
  }
  // Held cancel_job calls stay pending: a reviewer rejects them as they appear so the agents move on.
  std::atomic<bool> stop_rejecter{false};
  std::thread rejecter([&] {
    ReviewClient r = h.Reviewer("carol");
    while (!stop_rejecter.load()) {
      for (auto& a : r.Pending()) r.Reject(a["id"], "not during reloads");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  // Each step: swap the file, SIGHUP, then wait until the reload is audited (loaded or refused)
  // and the agents have made calls under it, so every policy in the cycle really meets traffic.
  auto reload_events = [&] { return h.Audit("policy.loaded").size() + h.Audit("policy.reload_failed").size(); };
  auto reload = [&](const std::string& text) {
    const size_t events_before = reload_events();
    const int calls_before = calls.load();
    WriteFile(h.PolicyPath(), text);
    kill(h.gw().process->pid(), SIGHUP);
    REQUIRE(WaitUntil([&] { return reload_events() > events_before; }, 10000));
    REQUIRE(WaitUntil([&] { return calls.load() >= calls_before + 4; }, 20000));
  };
  const std::vector<const std::string*> cycle = {&denied, &held, &hidden, &broken, &held, &denied, &hidden, &held};
  for (int i = 0; i < 16; ++i) reload(*cycle[i % cycle.size()]);
  reload(held);
  stop.store(true);
  for (auto& t : agents) t.join();  // the rejecter still runs: an agent may be waiting on a hold
  stop_rejecter.store(true);
  rejecter.join();
  for (const auto& b : bad_replies) UNSCOPED_INFO(b);
  CHECK(bad.load() == 0);
  CHECK(calls.load() > 20);
  CHECK(h.Running());
  // Nothing approved, nothing ran.
  CHECK(h.UpstreamCalls("cancel_job") == 0);
  CHECK(h.Counter("cancel_job_calls") == 0);
  for (const auto& a : h.Approvals("all")) {
    CHECK(a["state"] != "completed");
    CHECK(a["state"] != "executing");
    CHECK(a["state"] != "approved");
  }
  // Every reload is audited; the broken file was refused and the previous policy kept.
  CHECK(h.Audit("policy.loaded").size() >= 4);
  CHECK(h.Audit("policy.reload_failed").size() >= 1);
  CHECK(h.AuditVerify()["ok"] == true);

  SECTION("after the reloads the held policy is live and an approval runs the call once") {
    McpHttpClient agent = h.Agent();
    Json reply;
    std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-after"}}, {{"progressToken", 1}}); });
    Json pending = h.Reviewer().WaitForPending();
    REQUIRE(pending.is_object());
    REQUIRE(h.Reviewer("bob").Approve(pending["id"]).status == 200);
    call.join();
    CHECK_FALSE(IsError(reply));
    CHECK(h.UpstreamCalls("cancel_job", "job-after") == 1);
    CHECK(h.Counter("cancel_job_calls") == 1);
  }
}

}  // namespace holdgate::testing
