#pragma once
// A hold::Waiter that runs a function on the decision (and counts ticks), for tests that only
// need to see what the hold coordinator delivers.
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "hold/hold_coordinator.h"

namespace holdgate::testing {

class FnWaiter final : public hold::Waiter {
 public:
  FnWaiter(std::string approval_id, std::function<void(const store::Approval&)> on_decision, bool wants_ticks = true)
      : id_(std::move(approval_id)), on_decision_(std::move(on_decision)), wants_ticks_(wants_ticks) {}
  const std::string& approval_id() const override { return id_; }
  void OnDecision(const store::Approval& approval) override {
    if (on_decision_) on_decision_(approval);
  }
  void OnTick(int64_t now_ms) override {
    last_tick_ms.store(now_ms);
    ++ticks;
    if (on_tick) on_tick(now_ms);
  }
  bool WantsTicks() const override { return wants_ticks_; }
  int64_t NextTickMs() const override { return next_tick_ms.load(); }

  std::atomic<int> ticks{0};
  std::atomic<int64_t> last_tick_ms{0};
  std::atomic<int64_t> next_tick_ms{0};  // what NextTickMs answers (0: every Tick)
  std::function<void(int64_t)> on_tick;  // set before the waiter is added

 private:
  const std::string id_;
  const std::function<void(const store::Approval&)> on_decision_;
  const bool wants_ticks_;
};

// Registers a FnWaiter for `approval_id` with `coordinator` and returns it.
inline std::shared_ptr<FnWaiter> Watch(hold::HoldCoordinator& coordinator, const std::string& approval_id,
                                       std::function<void(const store::Approval&)> on_decision) {
  auto w = std::make_shared<FnWaiter>(approval_id, std::move(on_decision));
  coordinator.Add(w);
  return w;
}

}  // namespace holdgate::testing
