#pragma once
// HoldCoordinator: the waiters of held calls, per approval id, and the fan-out of decisions to
// them. No SQLite, no HTTP: it is told about approval changes (Notify, normally wired to the
// store's change feed) and wakes the waiters.
//
// Thread-safe. Nothing blocks except WatchHandle::Cancel, which waits for a callback of that
// handle that is running on another thread. Lock order: mu_ is a leaf; callbacks always run
// with mu_ released, so they may call Watch/Cancel/Notify.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "store/approval.h"

namespace holdgate::hold {

// Invoked once with the approval in a decided state (see store::IsDecided). Must be cheap: hand
// the work to another thread. Runs on the thread that called Notify.
using WaitCallback = std::function<void(const store::Approval&)>;

struct HoldCounters {
  int64_t holds_open = 0;  // approval ids with at least one waiter
  int64_t waiters = 0;     // registered waiters
  // Decisions seen by Notify, each (approval id, state) counted once.
  int64_t approved = 0;
  int64_t rejected = 0;
  int64_t expired = 0;
  int64_t cancelled = 0;
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t waiters_fired = 0;  // callbacks invoked
};

class HoldCoordinator;

// Unregisters its waiter on destruction or Cancel(). Movable, not copyable.
class WatchHandle {
 public:
  WatchHandle() = default;
  ~WatchHandle();
  WatchHandle(WatchHandle&& other) noexcept;
  WatchHandle& operator=(WatchHandle&& other) noexcept;
  WatchHandle(const WatchHandle&) = delete;
  WatchHandle& operator=(const WatchHandle&) = delete;

  // Returns true if the waiter was removed before firing (its callback will never run); false if
  // it already fired or is firing (then, unless called from inside that callback, Cancel waits
  // until the callback has returned). Idempotent: later calls return false.
  bool Cancel();
  bool active() const { return waiter_ != nullptr; }

 private:
  friend class HoldCoordinator;
  struct Shared;
  struct Waiter;
  WatchHandle(std::shared_ptr<Shared> shared, std::shared_ptr<Waiter> waiter);
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<Waiter> waiter_;
};

class HoldCoordinator {
 public:
  HoldCoordinator();
  ~HoldCoordinator();
  HoldCoordinator(const HoldCoordinator&) = delete;
  HoldCoordinator& operator=(const HoldCoordinator&) = delete;

  // Registers `callback` for `approval_id`. A decision that happened BEFORE Watch is not replayed:
  // callers Watch first, then read the approval from the store; if it is already decided, call
  // handle.Cancel() and act on the read value only if Cancel() returned true (otherwise the
  // callback has it). Handles may outlive the coordinator (they then do nothing).
  WatchHandle Watch(const std::string& approval_id, WaitCallback callback);

  // Fires (once each, then unregisters) every waiter of approval.id if approval.state is decided;
  // does nothing for pending/executing. Callbacks run on this thread after mu_ is released.
  void Notify(const store::Approval& approval);

  // Waiters registered for one approval.
  int WaiterCount(const std::string& approval_id) const;
  HoldCounters Counters() const;

 private:
  std::shared_ptr<WatchHandle::Shared> shared_;
};

}  // namespace holdgate::hold
