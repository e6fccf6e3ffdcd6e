#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "hold/hold_coordinator.h"

namespace holdgate::hold {
namespace {

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
  WatchHandle h1 = c.Watch("apr_a", record("a1"));
  WatchHandle h2 = c.Watch("apr_a", record("a2"));  // a retry of the same call
  WatchHandle h3 = c.Watch("apr_b", record("b1"));
  CHECK(c.WaiterCount("apr_a") == 2);
  HoldCounters before = c.Counters();
  CHECK(before.holds_open == 2);
  CHECK(before.waiters == 3);

  c.Notify(Make("apr_a", store::State::kPending));
  c.Notify(Make("apr_a", store::State::kExecuting));
  CHECK(fired.empty());

  c.Notify(Make("apr_a", store::State::kApproved));
  REQUIRE(fired.size() == 2);
  CHECK(fired[0] == "a1:approved");
  CHECK(fired[1] == "a2:approved");
  c.Notify(Make("apr_a", store::State::kApproved));  // heard twice: no second firing, counted once
  c.Notify(Make("apr_a", store::State::kCompleted));
  CHECK(fired.size() == 2);
  CHECK(c.WaiterCount("apr_a") == 0);

  HoldCounters after = c.Counters();
  CHECK(after.holds_open == 1);
  CHECK(after.waiters == 1);
  CHECK(after.approved == 1);
  CHECK(after.completed == 1);
  CHECK(after.waiters_fired == 2);
  CHECK_FALSE(h1.Cancel());  // already fired
  CHECK(h3.Cancel());
  CHECK(c.Counters().waiters == 0);
}

TEST_CASE("cancel and destruction unregister a waiter", "[hold]") {
  HoldCoordinator c;
  int calls = 0;
  WatchHandle kept = c.Watch("apr_x", [&](const store::Approval&) { ++calls; });
  {
    WatchHandle dropped = c.Watch("apr_x", [&](const store::Approval&) { calls += 100; });
    CHECK(c.WaiterCount("apr_x") == 2);
  }
  CHECK(c.WaiterCount("apr_x") == 1);
  CHECK(kept.Cancel());
  CHECK_FALSE(kept.Cancel());  // idempotent
  CHECK_FALSE(kept.active());
  CHECK(c.WaiterCount("apr_x") == 0);
  CHECK(c.Counters().holds_open == 0);
  c.Notify(Make("apr_x", store::State::kRejected));
  CHECK(calls == 0);

  // Moving a handle moves the registration.
  WatchHandle a = c.Watch("apr_y", [&](const store::Approval&) { ++calls; });
  WatchHandle b = std::move(a);
  CHECK_FALSE(a.active());
  CHECK(b.active());
  c.Notify(Make("apr_y", store::State::kExpired));
  CHECK(calls == 1);
}

TEST_CASE("a callback may cancel its own handle and watch again without deadlock", "[hold]") {
  HoldCoordinator c;
  auto self = std::make_shared<WatchHandle>();
  WatchHandle again;
  int fired = 0;
  *self = c.Watch("apr_z", [&, self](const store::Approval&) {
    ++fired;
    CHECK_FALSE(self->Cancel());  // already firing: returns false at once
    again = c.Watch("apr_z", [&](const store::Approval&) { ++fired; });
  });
  c.Notify(Make("apr_z", store::State::kApproved));
  CHECK(fired == 1);
  c.Notify(Make("apr_z", store::State::kCompleted));
  CHECK(fired == 2);
  self.reset();
}

TEST_CASE("Cancel waits for a callback running on another thread", "[hold]") {
  HoldCoordinator c;
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  std::atomic<bool> cancel_returned{false};
  bool returned_while_running = false;
  WatchHandle h = c.Watch("apr_w", [&](const store::Approval&) {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    returned_while_running = cancel_returned.load();
  });
  std::thread notifier([&] { c.Notify(Make("apr_w", store::State::kApproved)); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  std::thread canceller([&] {
    CHECK_FALSE(h.Cancel());
    cancel_returned.store(true);
  });
  {
    // Give the canceller a chance to (wrongly) return; it must still be blocked afterwards.
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return cancel_returned.load(); });
    release = true;
    cv.notify_all();
  }
  notifier.join();
  canceller.join();
  CHECK_FALSE(returned_while_running);
  CHECK(cancel_returned.load());
}

TEST_CASE("concurrent Watch, Cancel and Notify: every waiter fires at most once", "[hold][race]") {
  HoldCoordinator c;
  constexpr int kThreads = 8, kPerThread = 500;
  std::atomic<int> fired{0}, cancelled{0}, double_fired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "apr_" + std::to_string(i % 16);
        auto count = std::make_shared<std::atomic<int>>(0);
        WatchHandle h = c.Watch(id, [&, count](const store::Approval&) {
          if (count->fetch_add(1) > 0) double_fired.fetch_add(1);
          fired.fetch_add(1);
        });
        if ((i + t) % 3 == 0) c.Notify(Make(id, store::State::kApproved));
        if (h.Cancel()) cancelled.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(double_fired.load() == 0);
  CHECK(fired.load() + cancelled.load() == kThreads * kPerThread);
  HoldCounters counters = c.Counters();
  CHECK(counters.waiters == 0);
  CHECK(counters.holds_open == 0);
  CHECK(counters.waiters_fired == fired.load());
}

TEST_CASE("handles outliving the coordinator are harmless", "[hold]") {
  WatchHandle h;
  {
    HoldCoordinator c;
    h = c.Watch("apr_q", [](const store::Approval&) {});
  }
  CHECK(h.Cancel());
}

}  // namespace holdgate::hold
