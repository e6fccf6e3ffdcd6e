#include "common/periodic_thread.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

namespace holdgate {
namespace {

bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST_CASE("periodic thread: runs at start or waits first, repeats, stops", "[common][periodic]") {
  std::atomic<int> ticks{0};
  SECTION("run at start: the first tick comes before any interval passed") {
    PeriodicThread t(std::chrono::hours(1), [&] { ++ticks; }, PeriodicThread::First::kRunAtStart);
    t.Start();
    REQUIRE(Eventually([&] { return ticks.load() == 1; }));
    t.Stop();
    CHECK(ticks.load() == 1);
  }
  SECTION("wait first: nothing before the interval; Stop wakes the wait") {
    PeriodicThread t(std::chrono::hours(1), [&] { ++ticks; }, PeriodicThread::First::kWaitFirst);
    t.Start();
    CHECK(t.running());
    t.Stop();
    CHECK_FALSE(t.running());
    CHECK(ticks.load() == 0);
  }
  SECTION("repeats every interval, and can be started again") {
    PeriodicThread t(std::chrono::milliseconds(1), [&] { ++ticks; }, PeriodicThread::First::kWaitFirst);
    t.Start();
    REQUIRE(Eventually([&] { return ticks.load() >= 3; }));
    t.Stop();
    const int stopped_at = ticks.load();
    t.Start();
    REQUIRE(Eventually([&] { return ticks.load() > stopped_at; }));
  }
}

}  // namespace
}  // namespace holdgate
