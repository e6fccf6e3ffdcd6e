#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "store_fixture.h"

namespace holdgate::store::testing {
namespace {

// Starts `n` threads that wait on a common start line, then run body(i).
template <typename F>
void RunTogether(int n, F body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      body(i);
    });
  }
  while (ready.load() < n) std::this_thread::yield();
  go.store(true);
  for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("100 reviewers deciding one approval at once: exactly one transition", "[store][race][pg]") {
  StoreFixture fx;
  Approval a = fx.Create();
  std::atomic<int> changed{0}, conflicts{0}, other{0};
  std::atomic<int> approved_transitions{0};
  fx.store->AddListener([&](const ChangeEvent& e) {
    if (e.type == "approval.approved") approved_transitions.fetch_add(1);
  });
  RunTogether(100, [&](int i) {
    auto r = fx.store->Decide(StoreFixture::Vote(a.id, "reviewer-" + std::to_string(i), true));
    if (r.ok() && r->changed && r->state == State::kApproved) changed.fetch_add(1);
    else if (!r.ok() && r.status().code() == Code::kConflict) conflicts.fetch_add(1);
    else other.fetch_add(1);
  });
  CHECK(changed.load() == 1);
  CHECK(conflicts.load() == 99);
  CHECK(other.load() == 0);
  CHECK(approved_transitions.load() == 1);
  CHECK(fx.Audit("approval.approved", a.id).size() == 1);
  CHECK(fx.Audit("approval.vote", a.id).size() == 1);
  auto stored = fx.store->Get(a.id);
  REQUIRE(stored.ok());
  CHECK(stored->votes.size() == 1);

  // And the release gate after it: 100 racing MarkExecuting, one wins.
  std::atomic<int> released{0};
  RunTogether(100, [&](int) {
    if (fx.store->MarkExecuting(a.id).ok()) released.fetch_add(1);
  });
  CHECK(released.load() == 1);
}

TEST_CASE("the same reviewer double-clicking 100 times records one vote", "[store][race][pg]") {
  StoreFixture fx;
  NewApproval n = StoreFixture::Request();
  n.approvers_needed = 2;
  Approval a = fx.Create(n);
  std::atomic<int> changed{0}, unchanged{0}, errors{0};
  RunTogether(100, [&](int) {
    auto r = fx.store->Decide(StoreFixture::Vote(a.id, "alice", true));
    if (!r.ok()) errors.fetch_add(1);
    else (r->changed ? changed : unchanged).fetch_add(1);
  });
  CHECK(errors.load() == 0);
  CHECK(changed.load() == 1);
  CHECK(unchanged.load() == 99);
  CHECK(fx.store->Get(a.id)->state == State::kPending);
}

TEST_CASE("an approval racing its expiry gets exactly one outcome", "[store][race][expiry][pg]") {
  StoreFixture fx;
  int approved_wins = 0, expiry_wins = 0;
  for (int round = 0; round < 40; ++round) {
    NewApproval n = StoreFixture::Request("cancel_job", Json{{"job_id", round}});
    n.timeout_ms = 1000;
    Approval a = fx.Create(n);
    // The sweeper's clock says "due"; the store's clock (used by Decide) does not yet.
    Result<DecisionOutcome> decided = Internal("not run");
    Result<std::vector<Approval>> swept = Internal("not run");
    RunTogether(2, [&](int i) {
      if (i == 0) decided = fx.store->Decide(StoreFixture::Vote(a.id, "alice", true));
      else swept = fx.store->ExpireDue(a.expires_at_ms);
    });
    REQUIRE(swept.ok());
    auto stored = fx.store->Get(a.id);
    REQUIRE(stored.ok());
    const bool expired_by_sweep = swept->size() == 1;
    if (decided.ok()) {
      CHECK(decided->state == State::kApproved);
      CHECK_FALSE(expired_by_sweep);
      CHECK(stored->state == State::kApproved);
      ++approved_wins;
    } else {
      CHECK(decided.status().code() == Code::kConflict);
      CHECK(expired_by_sweep);
      CHECK(stored->state == State::kExpired);
      ++expiry_wins;
    }
    CHECK(fx.Audit("approval.approved", a.id).size() + fx.Audit("approval.expired", a.id).size() == 1);
  }
  CHECK(approved_wins + expiry_wins == 40);
}

TEST_CASE("concurrent audit writers never fork the chain, listeners see seq order", "[store][audit][race][pg]") {
  StoreFixture fx;
  std::mutex seen_mu;
  std::vector<int64_t> seen;
  fx.store->AddListener([&](const ChangeEvent& e) {
    std::lock_guard<std::mutex> lock(seen_mu);
    seen.push_back(e.seq);
  });
  constexpr int kThreads = 8, kPerThread = 100;
  std::atomic<int> errors{0};
  RunTogether(kThreads, [&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      if (i % 4 == 0) {
        auto a = fx.store->CreatePending(StoreFixture::Request("cancel_job", Json{{"t", t}, {"i", i}}));
        if (!a.ok()) errors.fetch_add(1);
      } else {
        AuditEvent e;
        e.type = "call.allowed";
        e.principal = "agent-" + std::to_string(t);
        e.tool = "list_jobs";
        e.detail = Json{{"i", i}};
        if (!fx.store->AppendAudit(e).ok()) errors.fetch_add(1);
      }
    }
  });
  CHECK(errors.load() == 0);
  auto verdict = fx.store->VerifyAuditChain();
  REQUIRE(verdict.ok());
  INFO(verdict->why);
  CHECK(verdict->ok);
  CHECK(verdict->rows_checked == kThreads * kPerThread);
  CHECK(verdict->head_seq == kThreads * kPerThread);
  std::lock_guard<std::mutex> lock(seen_mu);
  CHECK(seen.size() == static_cast<size_t>(kThreads * kPerThread / 4));
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

TEST_CASE("listeners run after commit and may read the store, RemoveListener stops them", "[store][feed][pg]") {
  StoreFixture fx;
  std::vector<std::pair<std::string, State>> seen;
  int id = fx.store->AddListener([&](const ChangeEvent& e) {
    auto now = fx.store->Get(e.approval.id);  // committed before we are called
    REQUIRE(now.ok());
    seen.emplace_back(e.type, now->state);
  });
  Approval a = fx.Create();
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", false, "no")).ok());
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::make_pair(std::string("approval.created"), State::kPending));
  CHECK(seen[1] == std::make_pair(std::string("approval.vote"), State::kRejected));
  CHECK(seen[2] == std::make_pair(std::string("approval.rejected"), State::kRejected));
  fx.store->RemoveListener(id);
  fx.Create();
  CHECK(seen.size() == 3);
}

TEST_CASE("EventsSince replays approval events from the audit table", "[store][feed][pg]") {
  StoreFixture fx;
  std::vector<ChangeEvent> live;
  fx.store->AddListener([&](const ChangeEvent& e) { live.push_back(e); });
  Approval a = fx.Create();
  AuditEvent unrelated;
  unrelated.type = "policy.loaded";
  REQUIRE(fx.store->AppendAudit(unrelated).ok());
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
  REQUIRE(fx.store->MarkExecuting(a.id).ok());

  auto all = fx.store->EventsSince(0);
  REQUIRE(all.ok());
  REQUIRE(all->size() == live.size());
  for (size_t i = 0; i < live.size(); ++i) {
    CHECK((*all)[i].seq == live[i].seq);
    CHECK((*all)[i].type == live[i].type);
  }
  CHECK(all->back().approval.state == State::kExecuting);
  auto tail = fx.store->EventsSince(live[1].seq);
  REQUIRE(tail.ok());
  REQUIRE(tail->size() == live.size() - 2);
  CHECK(tail->front().seq == live[2].seq);
}

}  // namespace holdgate::store::testing
