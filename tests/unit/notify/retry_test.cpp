// The retry schedule: exponential steps keyed on message age, jitter bounds, give-up horizon,
// Retry-After.
#include <catch2/catch.hpp>

#include "notify/retry_schedule.h"

namespace holdgate::notify {
namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;

// Simulates a message that fails every attempt; returns the delays used.
std::vector<int64_t> Simulate(double jitter, int64_t give_up_after = kDay) {
  std::vector<int64_t> delays;
  int64_t age = 0;
  for (int i = 0; i < 100; ++i) {
    RetryDecision d = NextRetry(age, jitter, give_up_after);
    if (d.give_up) break;
    delays.push_back(d.delay_ms);
    age += d.delay_ms;
  }
  return delays;
}

TEST_CASE("retry: exponential steps without jitter", "[notify][retry]") {
  const std::vector<int64_t> delays = Simulate(0.0);
  REQUIRE(delays.size() >= 8);
  const std::vector<int64_t> want = {5'000, 30'000, 120'000, 600'000, 1'800'000, 3'600'000, 7'200'000, 14'400'000};
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("attempt " << i);
    CHECK(delays[i] == want[i]);
  }
  for (size_t i = want.size(); i < delays.size(); ++i) CHECK(delays[i] == 14'400'000);
  // About a day of retries, then give up.
  int64_t total = 0;
  for (auto d : delays) total += d;
  CHECK(total >= kDay - 4 * 3'600'000);
  CHECK(total < kDay + 4 * 3'600'000);
  CHECK(delays.size() >= 10);
  CHECK(delays.size() <= 16);
}

TEST_CASE("retry: jitter stretches each step by at most 20 % and keeps the steps", "[notify][retry]") {
  const std::vector<int64_t> base = Simulate(0.0);
  const std::vector<int64_t> jittered = Simulate(0.9999);
  REQUIRE(jittered.size() >= 8);
  for (size_t i = 0; i < 8; ++i) {
    INFO("attempt " << i);
    CHECK(jittered[i] > base[i]);
    CHECK(jittered[i] <= base[i] + base[i] / 5);
  }
  // Different jitter values give different delays (so retries spread out).
  CHECK(NextRetry(0, 0.1, kDay).delay_ms != NextRetry(0, 0.7, kDay).delay_ms);
}

TEST_CASE("retry: the step follows the message's age, not an attempt counter", "[notify][retry]") {
  CHECK(NextRetry(0, 0, kDay).delay_ms == 5'000);
  CHECK(NextRetry(4'999, 0, kDay).delay_ms == 5'000);
  CHECK(NextRetry(5'000, 0, kDay).delay_ms == 30'000);
  CHECK(NextRetry(35'000, 0, kDay).delay_ms == 120'000);
  // A message that waited an hour behind an earlier one continues at the hour's step.
  CHECK(NextRetry(2'000'000, 0, kDay).delay_ms == 1'800'000);
  CHECK(NextRetry(3'600'000, 0, kDay).delay_ms == 3'600'000);
  CHECK(NextRetry(-5, 0, kDay).delay_ms == 5'000);
}

TEST_CASE("retry: give up after the horizon", "[notify][retry]") {
  CHECK(NextRetry(kDay, 0, kDay).give_up);
  CHECK_FALSE(NextRetry(kDay - 1, 0, kDay).give_up);
  CHECK(NextRetry(30 * 60'000, 0, 30 * 60'000).give_up);
}

TEST_CASE("retry: Retry-After raises the delay, up to an hour", "[notify][retry]") {
  CHECK(NextRetry(0, 0, kDay, 60'000).delay_ms == 60'000);
  CHECK(NextRetry(0, 0, kDay, 1'000).delay_ms == 5'000);
  CHECK(NextRetry(0, 0, kDay, 10 * 3'600'000).delay_ms == 3'600'000);
}

}  // namespace
}  // namespace holdgate::notify
