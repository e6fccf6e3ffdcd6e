#pragma once
// SharedCounters: windowed counters kept outside the process (in PostgreSQL), so that several
// holdgate replicas count calls against one quota. The rate limiter (policy/rate_limiter.h)
// counts in them when the store provides them (store::Store::RateCounters); the store owns them.
// Thread-safe; every call blocks on a database round trip.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace holdgate {

// One counter a call is counted in: the bucket key (a limit's counter, window, scope and the
// caller's scope value), the window it falls in and the limit's max.
struct CounterSlot {
  std::string key;
  int64_t window_start_ms = 0;
  int64_t window_ms = 0;
  int64_t max = 0;
};

class SharedCounters {
 public:
  virtual ~SharedCounters() = default;
  // Counts one call in every slot, all or nothing: the index of a slot already at its max (then
  // nothing is counted), or nullopt when all were counted. With `force` every slot is counted
  // even past its max, and the index of one that was already full is still returned.
  virtual Result<std::optional<size_t>> Count(const std::vector<CounterSlot>& slots, bool force) = 0;
  // Takes back one count from each slot (never below zero).
  virtual Status Uncount(const std::vector<CounterSlot>& slots) = 0;
};

}  // namespace holdgate
