#pragma once
// HoldCoordinator: the registry of everything waiting on an approval's decision (held calls, a
// held call's rate-limit reservation), by approval id. It has exactly one input for decisions:
// OnApprovalChanged, wired to the store's change feed (store::Store::AddListener), so a decision
// made anywhere (review API, CLI, page, Slack, expiry, lapse, an agent's cancel, another replica's
// feed) reaches a waiter the same way. The sweeper (hold/sweeper.h) drives Tick.
//
// No SQLite, no HTTP, no transport: waiters answer their agents themselves.
//
// Thread-safe. Nothing blocks. Lock order: mu_ is a leaf; waiters are always called with mu_
// released, so a waiter may Add or Remove from inside OnDecision/OnTick.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "store/approval.h"

namespace holdgate::hold {

// Something that waits for one approval's decision.
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual const std::string& approval_id() const = 0;
  // The approval reached a decided state (store::IsDecided: approved, or a terminal state).
  // Called at most once per registration (the waiter is unregistered first), on the thread that
  // committed the change. Must not block: hand slow work (a release upstream) to another thread.
  virtual void OnDecision(const store::Approval& approval) = 0;
  // One sweep pass while registered (heartbeats, hold limits). Must not block. Default: nothing.
  virtual void OnTick(int64_t now_ms) {}
  // False when OnTick has nothing to do for this registration (a polled task: no heartbeat, no
  // hold limit); such a waiter is left out of the sweep. Read once, when the waiter is added.
  virtual bool WantsTicks() const { return true; }
  // When OnTick next has something to do (ms on the clock Tick is given): the first Tick at or
  // past it calls OnTick. Read when the waiter is added and after each of its ticks, never under
  // the coordinator's lock. Default 0: every Tick.
  virtual int64_t NextTickMs() const { return 0; }
};

struct HoldCounters {
  int64_t holds_open = 0;  // approval ids with at least one waiter
  int64_t waiters = 0;     // registered waiters
  // Decisions seen, each (approval id, state) counted once.
  int64_t approved = 0;
  int64_t rejected = 0;
  int64_t expired = 0;
  int64_t cancelled = 0;
  int64_t lapsed = 0;
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t waiters_fired = 0;  // OnDecision calls made
};

class HoldCoordinator {
 public:
  HoldCoordinator();
  ~HoldCoordinator();
  HoldCoordinator(const HoldCoordinator&) = delete;
  HoldCoordinator& operator=(const HoldCoordinator&) = delete;

  // Registers `waiter` (kept alive until it fires or is removed). A decision committed before
  // Add is not replayed: callers Add, then read the approval; if it is already decided they call
  // Remove and act on what they read only if Remove returned true (else OnDecision has it).
  void Add(std::shared_ptr<Waiter> waiter);
  // Unregisters `waiter`. True if it was registered (it will not fire now); false if it already
  // fired, is firing, or was never added. Idempotent.
  bool Remove(const Waiter& waiter);

  // The change feed's listener: fires (once each, then unregisters) every waiter of approval.id
  // when approval.state is decided; pending and executing are not decisions.
  void OnApprovalChanged(const store::Approval& approval);
  // Calls OnTick(now_ms) on every registered waiter that wants ticks and is due (its NextTickMs
  // at or before now_ms): the sweeper's pass. Its cost follows the due waiters only, so 10,000
  // held calls with a heartbeat every few seconds cost a few dozen calls per pass, not 10,000.
  void Tick(int64_t now_ms);

  int WaiterCount(const std::string& approval_id) const;
  HoldCounters Counters() const;

 private:
  void CountDecisionLocked(const store::Approval& approval);
  void PublishGaugeLocked();

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> by_approval_;  // guarded by mu_
  // The registered waiters that want ticks, by when they are next due. A waiter being ticked is
  // out of schedule_ (at is empty) until its next due time is read back.
  using Schedule = std::multimap<int64_t, const Waiter*>;
  struct Ticking {
    std::shared_ptr<Waiter> waiter;
    std::optional<Schedule::iterator> at;
  };
  void StopTickingLocked(const Waiter* waiter);
  std::unordered_map<const Waiter*, Ticking> ticking_;  // guarded by mu_
  Schedule schedule_;                                   // guarded by mu_
  HoldCounters counters_;                                                              // guarded by mu_
  std::deque<std::string> recent_order_;       // guarded by mu_: "(id)|(state)" counted lately
  std::unordered_set<std::string> recent_;     // guarded by mu_: the same, for lookup
};

}  // namespace holdgate::hold
