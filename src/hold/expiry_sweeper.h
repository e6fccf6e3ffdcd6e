#pragma once
// ExpirySweeper: a background thread that, every `interval`, expires overdue pending approvals
// (store.ExpireDue: on_timeout "reject" -> state expired; time never approves anything) and tells
// the hold coordinator, so held calls are answered.
//
// Thread-safe. Start() spawns the thread; Stop() (and the destructor) wakes and joins it.
// SweepOnce() runs one pass on the caller's thread (tests drive it with a FakeClock, no sleeping).
#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/clock.h"
#include "common/periodic_thread.h"
#include "common/status.h"
#include "hold/hold_coordinator.h"
#include "store/store.h"

namespace holdgate::hold {

class ExpirySweeper {
 public:
  // REQUIRES: store, coordinator and clock outlive the sweeper. `coordinator` may be null when it
  // already receives the store's change feed (Notify twice is harmless either way).
  ExpirySweeper(store::Store& store, HoldCoordinator* coordinator, const Clock& clock,
                std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~ExpirySweeper();
  ExpirySweeper(const ExpirySweeper&) = delete;
  ExpirySweeper& operator=(const ExpirySweeper&) = delete;

  void Start();
  void Stop();

  // Expires everything due at clock.NowMs() (in batches until none is left) and notifies the
  // coordinator. Returns the approvals it expired.
  Result<std::vector<store::Approval>> SweepOnce();

  int64_t expired_total() const;

 private:
  void SweepAndLog();  // one pass on the background thread

  store::Store& store_;
  HoldCoordinator* const coordinator_;
  const Clock& clock_;

  mutable std::mutex mu_;
  int64_t expired_total_ = 0;  // guarded by mu_
  PeriodicThread thread_;      // last: stopped before the members its callback uses go away
};

}  // namespace holdgate::hold
