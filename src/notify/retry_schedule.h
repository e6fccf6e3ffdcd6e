#pragma once
// The retry schedule of notification deliveries: exponential backoff with jitter, keyed on the
// message's age (time since it was first due) rather than on an attempt counter, so deferrals
// (waiting for an earlier message of the same approval), restarts and skipped attempts cannot
// shorten or stretch it. Base delays: 5 s, 30 s, 2 m, 10 m, 30 m, 1 h, 2 h, 4 h, then every 4 h,
// each stretched by up to 20 % of jitter; a message still failing after give_up_after (default
// 24 h, about 13 attempts) is given up. Pure functions; thread-safe.
#include <cstdint>
#include <vector>

namespace holdgate::notify {

// The base delays, in order; the last one repeats.
const std::vector<int64_t>& RetryBaseDelaysMs();

struct RetryDecision {
  bool give_up = false;
  int64_t delay_ms = 0;  // from now to the next attempt (when !give_up)
};

// After a failed attempt of a message first due `age_ms` ago. `jitter01` in [0, 1) stretches the
// base delay by up to 20 %. `retry_after_ms` (>= 0: the receiver's Retry-After) raises the delay,
// up to one hour.
RetryDecision NextRetry(int64_t age_ms, double jitter01, int64_t give_up_after_ms, int64_t retry_after_ms = -1);

}  // namespace holdgate::notify
