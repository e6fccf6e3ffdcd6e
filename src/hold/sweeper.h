#pragma once
// Sweeper: the one periodic pass over held calls and the approvals they wait on. Each pass
//   1. expires overdue pending approvals (store.ExpireDue: on_timeout "reject"; time never
//      approves anything) and lapses approved ones nobody released within use_within
//      (store.LapseDue), and marks grants past their time expired (store.ExpireDueGrants, which
//      audits each) — at most every `store_every`, since each is a write transaction;
//   2. ticks every registered waiter (hold coordinator): heartbeats and hold limits.
// Expiries and lapses reach the waiters through the store's change feed, before step 2 runs, so
// a held call whose approval expired in this pass is told "expired", never "retry later".
//
// Thread-safe. Start() spawns the thread; Stop() (and the destructor) wakes and joins it.
// SweepOnce() runs one pass on the caller's thread (tests drive it with a FakeClock, no sleeping).
#include <chrono>
#include <cstdint>
#include <mutex>

#include "common/clock.h"
#include "common/periodic_thread.h"
#include "common/status.h"
#include "hold/hold_coordinator.h"
#include "store/store.h"

namespace holdgate::hold {

struct SweeperOptions {
  std::chrono::milliseconds tick{250};       // heartbeat and hold-limit granularity
  std::chrono::milliseconds store_every{1000};  // expiry and lapse granularity
};

struct SweepResult {
  int expired = 0;
  int lapsed = 0;
  int grants_expired = 0;
  bool store_swept = false;  // this pass ran step 1
};

class Sweeper {
 public:
  // REQUIRES: store, coordinator and clock outlive the sweeper; the coordinator is the store's
  // change-feed listener (else expiries reach no waiter).
  Sweeper(store::Store& store, HoldCoordinator& coordinator, const Clock& clock, SweeperOptions options = {});
  ~Sweeper();
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  void Start();
  void Stop();

  // One pass at clock.NowMs(). Step 1 runs when `store_every` has passed since it last ran (and
  // on the first pass). A store error is returned after step 2 has still run.
  Result<SweepResult> SweepOnce();

  int64_t expired_total() const;
  int64_t lapsed_total() const;

 private:
  void SweepAndLog();

  store::Store& store_;
  HoldCoordinator& coordinator_;
  const Clock& clock_;
  const SweeperOptions options_;

  mutable std::mutex mu_;
  int64_t last_store_sweep_ms_ = -1;  // guarded by mu_
  int64_t expired_total_ = 0;         // guarded by mu_
  int64_t lapsed_total_ = 0;          // guarded by mu_
  PeriodicThread thread_;             // last: stopped before the members its callback uses go away
};

}  // namespace holdgate::hold
