#pragma once
// AuditThrottle: appends audit events that an outsider can trigger at will (refused tokens,
// refused Slack requests) at most `per_minute` a minute, with a burst of the same size (a token
// bucket on the injected clock). Events over the budget are only counted; the next event written
// carries {"suppressed": n} in its detail. So a flood cannot fill the disk, and the log still
// says how much was left out.
//
// Thread-safe. Append blocks on the store's write when it writes.
#include <cstdint>
#include <mutex>

#include "common/clock.h"
#include "store/audit.h"

namespace holdgate::store {

class Store;

class AuditThrottle {
 public:
  // REQUIRES: store and clock outlive the throttle. per_minute < 1 counts as 1.
  AuditThrottle(Store& store, const Clock& clock, int per_minute);

  // Appends `event` if the budget allows; returns whether it was written (a store error is
  // logged and counts as not written).
  bool Append(AuditEvent event);
  // Events left out since the last one written.
  int64_t suppressed() const;

 private:
  Store& store_;
  const Clock& clock_;
  const double per_minute_;
  mutable std::mutex mu_;
  double tokens_ = 0;          // guarded by mu_
  int64_t refilled_ms_ = -1;   // guarded by mu_; -1 = never (the bucket starts full)
  int64_t suppressed_ = 0;     // guarded by mu_
};

}  // namespace holdgate::store
