#include "hold/hold_coordinator.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/log.h"

namespace holdgate::hold {
namespace {

// Decisions remembered to count each (approval, state) once even when Notify hears it twice
// (change feed and sweeper, say).
constexpr size_t kRecentDecisions = 4096;

}  // namespace

struct WatchHandle::Waiter {
  std::string approval_id;
  WaitCallback callback;  // guarded by Shared::mu (moved out to run or drop it)
  bool fired = false;     // guarded by Shared::mu
  bool running = false;   // guarded by Shared::mu
  std::thread::id runner;  // guarded by Shared::mu
};

struct WatchHandle::Shared {
  mutable std::mutex mu;
  std::condition_variable callback_done;  // signalled when a running callback returns
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> by_approval;  // guarded by mu
  HoldCounters counters;                          // guarded by mu
  std::deque<std::string> recent_order;           // guarded by mu
  std::unordered_set<std::string> recent;         // guarded by mu

  // REQUIRES: mu held.
  void CountDecision(const store::Approval& a) {
    std::string key = a.id + '|' + store::StateName(a.state);
    if (!recent.insert(key).second) return;
    recent_order.push_back(std::move(key));
    if (recent_order.size() > kRecentDecisions) {
      recent.erase(recent_order.front());
      recent_order.pop_front();
    }
    switch (a.state) {
      case store::State::kApproved: ++counters.approved; break;
      case store::State::kRejected: ++counters.rejected; break;
      case store::State::kExpired: ++counters.expired; break;
      case store::State::kCancelled: ++counters.cancelled; break;
      case store::State::kCompleted: ++counters.completed; break;
      case store::State::kFailed: ++counters.failed; break;
      case store::State::kPending:
      case store::State::kExecuting: break;
    }
  }
};

// ---- WatchHandle --------------------------------------------------------------------------------

WatchHandle::WatchHandle(std::shared_ptr<Shared> shared, std::shared_ptr<Waiter> waiter)
    : shared_(std::move(shared)), waiter_(std::move(waiter)) {}

WatchHandle::~WatchHandle() { Cancel(); }

WatchHandle::WatchHandle(WatchHandle&& other) noexcept
    : shared_(std::move(other.shared_)), waiter_(std::move(other.waiter_)) {}

WatchHandle& WatchHandle::operator=(WatchHandle&& other) noexcept {
  if (this != &other) {
    Cancel();
    shared_ = std::move(other.shared_);
    waiter_ = std::move(other.waiter_);
  }
  return *this;
}

bool WatchHandle::Cancel() {
  if (!waiter_) return false;
  std::shared_ptr<Waiter> w = std::move(waiter_);
  std::shared_ptr<Shared> s = std::move(shared_);
  WaitCallback dropped;  // destroyed after the lock is released
  std::unique_lock<std::mutex> lock(s->mu);
  if (!w->fired) {
    auto it = s->by_approval.find(w->approval_id);
    if (it != s->by_approval.end()) {
      auto& list = it->second;
      list.erase(std::remove(list.begin(), list.end(), w), list.end());
      if (list.empty()) s->by_approval.erase(it);
      --s->counters.waiters;
    }
    w->fired = true;  // never fires now
    dropped = std::move(w->callback);
    s->counters.holds_open = static_cast<int64_t>(s->by_approval.size());
    lock.unlock();
    return true;
  }
  if (w->running && w->runner != std::this_thread::get_id()) {
    s->callback_done.wait(lock, [&] { return !w->running; });
  }
  return false;
}

// ---- HoldCoordinator ----------------------------------------------------------------------------

HoldCoordinator::HoldCoordinator() : shared_(std::make_shared<WatchHandle::Shared>()) {}
HoldCoordinator::~HoldCoordinator() = default;

WatchHandle HoldCoordinator::Watch(const std::string& approval_id, WaitCallback callback) {
  auto w = std::make_shared<WatchHandle::Waiter>();
  w->approval_id = approval_id;
  w->callback = std::move(callback);
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->by_approval[approval_id].push_back(w);
    ++shared_->counters.waiters;
    shared_->counters.holds_open = static_cast<int64_t>(shared_->by_approval.size());
  }
  return WatchHandle(shared_, std::move(w));
}

void HoldCoordinator::Notify(const store::Approval& approval) {
  if (!store::IsDecided(approval.state)) return;
  std::vector<std::shared_ptr<WatchHandle::Waiter>> firing;
  std::vector<WaitCallback> callbacks;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->CountDecision(approval);
    auto it = shared_->by_approval.find(approval.id);
    if (it == shared_->by_approval.end()) return;
    firing = std::move(it->second);
    shared_->by_approval.erase(it);
    const auto me = std::this_thread::get_id();
    for (auto& w : firing) {
      w->fired = true;
      w->running = true;
      w->runner = me;
      callbacks.push_back(std::move(w->callback));
    }
    shared_->counters.waiters -= static_cast<int64_t>(firing.size());
    shared_->counters.waiters_fired += static_cast<int64_t>(firing.size());
    shared_->counters.holds_open = static_cast<int64_t>(shared_->by_approval.size());
  }
  for (WaitCallback& cb : callbacks) {
    try {
      if (cb) cb(approval);
    } catch (const std::exception& e) {
      log::Error("hold waiter callback threw", {{"approval", approval.id}, {"error", e.what()}});
    } catch (...) {
      log::Error("hold waiter callback threw", {{"approval", approval.id}});
    }
  }
  callbacks.clear();  // release what the callbacks captured before waking Cancel()ers
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    for (auto& w : firing) w->running = false;
  }
  shared_->callback_done.notify_all();
}

int HoldCoordinator::WaiterCount(const std::string& approval_id) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  auto it = shared_->by_approval.find(approval_id);
  return it == shared_->by_approval.end() ? 0 : static_cast<int>(it->second.size());
}

HoldCounters HoldCoordinator::Counters() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->counters;
}

}  // namespace holdgate::hold
