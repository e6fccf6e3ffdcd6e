#include "notify/retry_schedule.h"

#include <algorithm>

namespace holdgate::notify {

const std::vector<int64_t>& RetryBaseDelaysMs() {
  static const std::vector<int64_t> kDelays = {
      5'000, 30'000, 2 * 60'000, 10 * 60'000, 30 * 60'000, 3'600'000, 2 * 3'600'000, 4 * 3'600'000};
  return kDelays;
}

RetryDecision NextRetry(int64_t age_ms, double jitter01, int64_t give_up_after_ms, int64_t retry_after_ms) {
  RetryDecision d;
  age_ms = std::max<int64_t>(age_ms, 0);
  if (age_ms >= give_up_after_ms) {
    d.give_up = true;
    return d;
  }
  // Step k: the largest k whose cumulative start S_k = D_0 + … + D_{k-1} is <= age. With jitter
  // only ever stretching delays (<= 20 %), attempt k happens at an age in [S_k, 1.2 S_k], which
  // stays below S_{k+1}, so the k-th failure gets the k-th delay.
  const auto& base = RetryBaseDelaysMs();
  int64_t start = 0;
  size_t k = 0;
  for (;;) {
    const int64_t delay = base[std::min(k, base.size() - 1)];
    if (start + delay > age_ms) break;
    start += delay;
    ++k;
  }
  const int64_t delay = base[std::min(k, base.size() - 1)];
  jitter01 = std::clamp(jitter01, 0.0, 0.999999);
  d.delay_ms = delay + static_cast<int64_t>(static_cast<double>(delay) * 0.2 * jitter01);
  if (retry_after_ms >= 0) d.delay_ms = std::max(d.delay_ms, std::min<int64_t>(retry_after_ms, 3'600'000));
  return d;
}

}  // namespace holdgate::notify
