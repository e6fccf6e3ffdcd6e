#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/metrics.h"
#include "hold/hold_coordinator.h"
#include "support/fn_waiter.h"

namespace holdgate::hold {
namespace {

using testing::Watch;

store::Approval Make(const std::string& id, store::State state) {
  store::Approval a;
  a.id = id;
  a.state = state;
  return a;
}

}  // namespace

TEST_CASE("waiters fire once, only for their approval, only on a decided state", "[hold]") {
  HoldCoordinator c;
  std::vector<std::string> fired;
  std::mutex mu;
  auto record = [&](const std::string& tag) {
    return [&, tag](const store::Approval& a) {
      std::lock_guard<std::mutex> lock(mu);
      fired.push_back(tag + ":" + store::StateName(a.state));
    };
  };
  auto a1 = Watch(c, "apr_a", record("a1"));
  auto a2 = Watch(c, "apr_a", record("a2"));  // a retry of the same call
  auto b1 = Watch(c, "apr_b", record("b1"));
  CHECK(c.WaiterCount("apr_a") == 2);
  CHECK(c.Counters().holds_open == 2);
  CHECK(metrics::GlobalMetrics().holds_open.Value() == 2);

  c.OnApprovalChanged(Make("apr_a", store::State::kPending));
  c.OnApprovalChanged(Make("apr_a", store::State::kExecuting));
  CHECK(fired.empty());

  c.OnApprovalChanged(Make("apr_a", store::State::kApproved));
  CHECK(fired == std::vector<std::string>{"a1:approved", "a2:approved"});
  CHECK(c.WaiterCount("apr_a") == 0);

  c.OnApprovalChanged(Make("apr_a", store::State::kApproved));  // heard twice: no second firing, counted once
  c.OnApprovalChanged(Make("apr_a", store::State::kCompleted));
  CHECK(fired.size() == 2);
  HoldCounters counters = c.Counters();
  CHECK(counters.approved == 1);
  CHECK(counters.completed == 1);
  CHECK(counters.waiters == 1);
  CHECK(counters.waiters_fired == 2);
  CHECK(counters.holds_open == 1);

  c.OnApprovalChanged(Make("apr_b", store::State::kLapsed));
  CHECK(fired.back() == "b1:lapsed");
  CHECK(c.Counters().lapsed == 1);
  CHECK(c.Counters().holds_open == 0);
  CHECK(metrics::GlobalMetrics().holds_open.Value() == 0);
}

TEST_CASE("Remove before a decision keeps the waiter from firing, after it, reports false", "[hold]") {
  HoldCoordinator c;
  int calls = 0;
  auto kept = Watch(c, "apr_x", [&](const store::Approval&) { ++calls; });
  auto dropped = Watch(c, "apr_x", [&](const store::Approval&) { calls += 100; });
  CHECK(c.Remove(*dropped));
  CHECK_FALSE(c.Remove(*dropped));  // idempotent
  c.OnApprovalChanged(Make("apr_x", store::State::kRejected));
  CHECK(calls == 1);
  CHECK_FALSE(c.Remove(*kept));  // it fired
  testing::FnWaiter never_added("apr_x", nullptr);
  CHECK_FALSE(c.Remove(never_added));
}

TEST_CASE("a waiter may register again from inside its own decision", "[hold]") {
  HoldCoordinator c;
  int fired = 0;
  std::shared_ptr<testing::FnWaiter> again;
  auto first = Watch(c, "apr_z", [&](const store::Approval&) {
    ++fired;
    // e.g. a held call that lost the release gate waits for the winner's outcome
    again = Watch(c, "apr_z", [&](const store::Approval&) { fired += 10; });
  });
  c.OnApprovalChanged(Make("apr_z", store::State::kApproved));
  CHECK(fired == 1);
  c.OnApprovalChanged(Make("apr_z", store::State::kCompleted));
  CHECK(fired == 11);
}

TEST_CASE("Tick reaches every registered waiter and none that fired or was removed", "[hold]") {
  HoldCoordinator c;
  auto a = Watch(c, "apr_1", nullptr);
  auto b = Watch(c, "apr_2", nullptr);
  auto d = Watch(c, "apr_3", nullptr);
  c.Tick(1000);
  CHECK(a->ticks == 1);
  CHECK(b->ticks == 1);
  CHECK(a->last_tick_ms == 1000);
  c.OnApprovalChanged(Make("apr_2", store::State::kExpired));
  REQUIRE(c.Remove(*d));
  c.Tick(1250);
  CHECK(a->ticks == 2);
  CHECK(a->last_tick_ms == 1250);
  CHECK(b->ticks == 1);
  CHECK(d->ticks == 1);
}

TEST_CASE("Tick calls only the waiters that are due, and asks each for its next time after its tick", "[hold]") {
  HoldCoordinator c;
  std::vector<std::shared_ptr<testing::FnWaiter>> waiters;
  for (int i = 0; i < 1000; ++i) {
    auto w = std::make_shared<testing::FnWaiter>("apr_" + std::to_string(i), nullptr);
    w->next_tick_ms = i < 10 ? 1000 : 60000;  // ten due at the first pass, the rest a minute later
    w->on_tick = [raw = w.get()](int64_t now) { raw->next_tick_ms = now + 5000; };
    c.Add(w);
    waiters.push_back(w);
  }
  const auto total_ticks = [&] {
    int n = 0;
    for (const auto& w : waiters) n += w->ticks;
    return n;
  };
  c.Tick(999);
  CHECK(total_ticks() == 0);
  c.Tick(1000);
  CHECK(total_ticks() == 10);
  CHECK(waiters[0]->ticks == 1);
  CHECK(waiters[10]->ticks == 0);
  c.Tick(5999);  // the ten are next due at 6000
  CHECK(total_ticks() == 10);
  c.Tick(6000);
  CHECK(total_ticks() == 20);
  CHECK(waiters[9]->ticks == 2);
  c.Tick(60000);  // the 990 come due; the ten are due at 11000, so they tick too
  CHECK(total_ticks() == 20 + 1000);
  CHECK(waiters[500]->last_tick_ms == 60000);
}

TEST_CASE("a waiter that removes itself during its tick is not scheduled again", "[hold]") {
  HoldCoordinator c;
  auto w = std::make_shared<testing::FnWaiter>("apr_self", nullptr);
  w->on_tick = [&c, raw = w.get()](int64_t) { c.Remove(*raw); };
  c.Add(w);
  c.Tick(1000);
  CHECK(w->ticks == 1);
  CHECK(c.Counters().waiters == 0);
  c.Tick(2000);
  CHECK(w->ticks == 1);
  CHECK(w.use_count() == 1);  // neither the registry nor the schedule keeps it
  // Added again, it is ticked again.
  w->on_tick = nullptr;
  c.Add(w);
  c.Tick(3000);
  CHECK(w->ticks == 2);
}

TEST_CASE("a waiter that wants no ticks is left out of the sweep but still gets its decision", "[hold]") {
  HoldCoordinator c;
  int decided = 0;
  auto quiet = std::make_shared<testing::FnWaiter>("apr_q", [&](const store::Approval&) { ++decided; }, false);
  c.Add(quiet);
  auto ticked = Watch(c, "apr_t", nullptr);
  c.Tick(1000);
  CHECK(quiet->ticks == 0);
  CHECK(ticked->ticks == 1);
  CHECK(c.Counters().waiters == 2);
  c.OnApprovalChanged(Make("apr_q", store::State::kApproved));
  CHECK(decided == 1);
  // A fired or removed ticking waiter is not ticked again (nor kept alive by the sweep's list).
  REQUIRE(c.Remove(*ticked));
  c.Tick(1250);
  CHECK(ticked->ticks == 1);
  CHECK(ticked.use_count() == 1);
}

TEST_CASE("a throwing waiter does not keep the others from their decision", "[hold]") {
  HoldCoordinator c;
  int fired = 0;
  auto bad = Watch(c, "apr_t", [](const store::Approval&) { throw std::runtime_error("boom"); });
  auto good = Watch(c, "apr_t", [&](const store::Approval&) { ++fired; });
  c.OnApprovalChanged(Make("apr_t", store::State::kApproved));
  CHECK(fired == 1);
}

TEST_CASE("concurrent Add, Remove and decisions: every waiter fires at most once", "[hold][race]") {
  HoldCoordinator c;
  constexpr int kThreads = 8, kPerThread = 500;
  std::atomic<int> fired{0}, removed{0}, double_fired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "apr_" + std::to_string(i % 16);
        auto count = std::make_shared<std::atomic<int>>(0);
        auto w = Watch(c, id, [&, count](const store::Approval&) {
          if (count->fetch_add(1) > 0) double_fired.fetch_add(1);
          fired.fetch_add(1);
        });
        if ((i + t) % 3 == 0) c.OnApprovalChanged(Make(id, store::State::kApproved));
        if ((i + t) % 5 == 0) c.Tick(i);
        if (c.Remove(*w)) removed.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(double_fired.load() == 0);
  CHECK(fired.load() + removed.load() == kThreads * kPerThread);
  HoldCounters counters = c.Counters();
  CHECK(counters.waiters == 0);
  CHECK(counters.holds_open == 0);
  CHECK(counters.waiters_fired == fired.load());
}

}  // namespace holdgate::hold
