#pragma once
// RateLimiter: the quota counters behind policy `limits`. Counters live here, not in Policy, so
// they survive a policy reload. Windows are fixed and aligned to the Unix epoch (a "minute"
// window resets at :00 of every UTC minute), measured with the injected Clock. Thread-safe
// (one mutex; critical sections are a few hash lookups). Without SharedCounters it never blocks
// on I/O; with them (several replicas on one database), Reserve and Rollback make one database
// round trip, and a database that cannot be reached makes this replica count on its own.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/shared_counters.h"
#include "common/status.h"
#include "policy/policy.h"

namespace holdgate::policy {

class RateLimiter {
 public:
  // REQUIRES: `clock` outlives the RateLimiter.
  explicit RateLimiter(const Clock& clock);

  // Counts in `shared` from now on (null: in this process only). REQUIRES: `shared` outlives the
  // RateLimiter; called before the first Reserve.
  void SetShared(SharedCounters* shared) { shared_ = shared; }

  // What Reserve counted, so the call can be uncounted (Rollback) if it never ran.
  struct Reservation {
    struct Entry {
      std::string key;
      int64_t window_start_ms = 0;
    };
    std::vector<Entry> entries;
    std::vector<CounterSlot> shared;  // counted in SharedCounters instead of entries
    bool empty() const { return entries.empty() && shared.empty(); }
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
  // Reserve through shared_: false when the database could not be asked (count locally then).
  bool ReserveShared(const std::vector<Limit>& limits, const CallContext& ctx, int64_t now, Decision* decision,
                     Reservation* res);

  const Clock& clock_;
  SharedCounters* shared_ = nullptr;
  std::atomic<int64_t> shared_warned_ms_{0};  // when the last "counters unavailable" went out
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
  uint64_t calls_since_sweep_ = 0;                   // guarded by mu_
};

}  // namespace holdgate::policy
