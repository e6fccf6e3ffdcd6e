#include "hold/hold_coordinator.h"

#include <algorithm>
#include <functional>

#include "common/log.h"
#include "common/metrics.h"

namespace holdgate::hold {
namespace {

// Decisions remembered so each (approval, state) is counted once even when the feed repeats it
// (an approval re-read after a conflict, say).
constexpr size_t kRecentDecisions = 4096;

void CallSafely(const char* what, const std::string& approval_id, const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    log::Error(what, {{"approval", approval_id}, {"error", e.what()}});
  } catch (...) {
    log::Error(what, {{"approval", approval_id}});
  }
}

}  // namespace

HoldCoordinator::HoldCoordinator() = default;
HoldCoordinator::~HoldCoordinator() = default;

void HoldCoordinator::Add(std::shared_ptr<Waiter> waiter) {
  const bool ticks = waiter->WantsTicks();
  const int64_t due = ticks ? waiter->NextTickMs() : 0;
  std::lock_guard<std::mutex> lock(mu_);
  if (ticks) {
    auto [it, inserted] = ticking_.try_emplace(waiter.get());
    if (inserted) it->second = Ticking{waiter, schedule_.emplace(due, waiter.get())};
  }
  by_approval_[waiter->approval_id()].push_back(std::move(waiter));
  ++counters_.waiters;
  PublishGaugeLocked();
}

bool HoldCoordinator::Remove(const Waiter& waiter) {
  std::shared_ptr<Waiter> dropped;  // released after the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_approval_.find(waiter.approval_id());
  if (it == by_approval_.end()) return false;
  auto& list = it->second;
  auto w = std::find_if(list.begin(), list.end(), [&](const auto& p) { return p.get() == &waiter; });
  if (w == list.end()) return false;
  dropped = std::move(*w);
  list.erase(w);
  StopTickingLocked(&waiter);
  if (list.empty()) by_approval_.erase(it);
  --counters_.waiters;
  PublishGaugeLocked();
  return true;
}

void HoldCoordinator::OnApprovalChanged(const store::Approval& approval) {
  if (!store::IsDecided(approval.state)) return;
  std::vector<std::shared_ptr<Waiter>> firing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    CountDecisionLocked(approval);
    auto it = by_approval_.find(approval.id);
    if (it == by_approval_.end()) return;
    firing = std::move(it->second);
    by_approval_.erase(it);
    for (const auto& w : firing) StopTickingLocked(w.get());
    counters_.waiters -= static_cast<int64_t>(firing.size());
    counters_.waiters_fired += static_cast<int64_t>(firing.size());
    PublishGaugeLocked();
  }
  for (auto& w : firing) {
    CallSafely("hold waiter failed on a decision", approval.id, [&] { w->OnDecision(approval); });
  }
}

void HoldCoordinator::Tick(int64_t now_ms) {
  std::vector<std::shared_ptr<Waiter>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = schedule_.begin(); it != schedule_.end() && it->first <= now_ms; it = schedule_.erase(it)) {
      Ticking& t = ticking_.at(it->second);
      t.at.reset();
      due.push_back(t.waiter);
    }
  }
  std::vector<int64_t> next(due.size(), 0);
  for (size_t i = 0; i < due.size(); ++i) {
    CallSafely("hold waiter failed on a tick", due[i]->approval_id(), [&] { due[i]->OnTick(now_ms); });
    next[i] = due[i]->NextTickMs();
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < due.size(); ++i) {
    // Gone (fired, removed), or removed and added again meanwhile (scheduled afresh by Add).
    auto it = ticking_.find(due[i].get());
    if (it == ticking_.end() || it->second.at) continue;
    it->second.at = schedule_.emplace(next[i], due[i].get());
  }
}

void HoldCoordinator::StopTickingLocked(const Waiter* waiter) {
  auto it = ticking_.find(waiter);
  if (it == ticking_.end()) return;
  if (it->second.at) schedule_.erase(*it->second.at);
  ticking_.erase(it);
}

int HoldCoordinator::WaiterCount(const std::string& approval_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_approval_.find(approval_id);
  return it == by_approval_.end() ? 0 : static_cast<int>(it->second.size());
}

HoldCounters HoldCoordinator::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void HoldCoordinator::CountDecisionLocked(const store::Approval& a) {
  std::string key = a.id + '|' + store::StateName(a.state);
  if (!recent_.insert(key).second) return;
  recent_order_.push_back(std::move(key));
  if (recent_order_.size() > kRecentDecisions) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
  switch (a.state) {
    case store::State::kApproved: ++counters_.approved; break;
    case store::State::kRejected: ++counters_.rejected; break;
    case store::State::kExpired: ++counters_.expired; break;
    case store::State::kCancelled: ++counters_.cancelled; break;
    case store::State::kLapsed: ++counters_.lapsed; break;
    case store::State::kCompleted: ++counters_.completed; break;
    case store::State::kFailed: ++counters_.failed; break;
    case store::State::kPending:
    case store::State::kExecuting: break;
  }
}

void HoldCoordinator::PublishGaugeLocked() {
  counters_.holds_open = static_cast<int64_t>(by_approval_.size());
  metrics::GlobalMetrics().holds_open.Set(counters_.holds_open);
}

}  // namespace holdgate::hold
