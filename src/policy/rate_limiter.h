#pragma once
// RateLimiter: the quota counters behind policy `limits`. Counters live here, not in Policy, so
// they survive a policy reload. Windows are fixed and aligned to the Unix epoch (a "minute"
// window resets at :00 of every UTC minute), measured with the injected Clock. Thread-safe
// (one mutex; critical sections are a few hash lookups); never blocks on I/O.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "policy/policy.h"

namespace holdgate::policy {

class RateLimiter {
 public:
  // REQUIRES: `clock` outlives the RateLimiter.
  explicit RateLimiter(const Clock& clock);

  // What Reserve counted, so the call can be uncounted (Rollback) if it never ran.
  struct Reservation {
    struct Entry {
      std::string key;
      int64_t window_start_ms = 0;
    };
    std::vector<Entry> entries;
    bool empty() const { return entries.empty(); }
  };

  // Counts one call against every limit of `decision` (for kAllow and kHold; other actions and
  // decisions without limits are left alone and reserve nothing). All-or-nothing: if any limit
  // is already at its max, nothing is counted and `decision` becomes kRateLimited with
  // retry_after_ms (when that window ends), rule = the limit's path and a reason saying when
  // to retry. In shadow mode the call stays kAllow, still counts, and shadow_action becomes
  // kRateLimited instead.
  Reservation Reserve(const CallContext& ctx, Decision* decision);

  // Gives back what Reserve counted (the upstream call failed, or a held call was rejected).
  // A window that has already rolled over is left alone.
  void Rollback(const Reservation& reservation);

  // Number of live counter buckets (for tests and /metrics).
  size_t BucketCount() const;

 private:
  struct Bucket {
    int64_t window_start_ms = 0;
    int64_t window_ms = 0;
    int64_t count = 0;
  };
  void SweepLocked(int64_t now_ms);  // drops buckets whose window has ended

  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
  uint64_t calls_since_sweep_ = 0;                   // guarded by mu_
};

}  // namespace holdgate::policy
