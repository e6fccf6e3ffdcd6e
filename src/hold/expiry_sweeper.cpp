#include "hold/expiry_sweeper.h"

#include "common/log.h"

namespace holdgate::hold {
namespace {
constexpr int kBatch = 500;
}  // namespace

ExpirySweeper::ExpirySweeper(store::Store& store, HoldCoordinator* coordinator, const Clock& clock,
                             std::chrono::milliseconds interval)
    : store_(store),
      coordinator_(coordinator),
      clock_(clock),
      thread_(interval, [this] { SweepAndLog(); }, PeriodicThread::First::kRunAtStart) {}

ExpirySweeper::~ExpirySweeper() { Stop(); }

void ExpirySweeper::Start() { thread_.Start(); }
void ExpirySweeper::Stop() { thread_.Stop(); }

Result<std::vector<store::Approval>> ExpirySweeper::SweepOnce() {
  std::vector<store::Approval> expired;
  const int64_t now = clock_.NowMs();
  for (;;) {
    auto batch = store_.ExpireDue(now, kBatch);
    if (!batch.ok()) return batch.status();
    for (const store::Approval& a : *batch) {
      if (coordinator_) coordinator_->Notify(a);
      expired.push_back(a);
    }
    if (static_cast<int>(batch->size()) < kBatch) break;
  }
  if (!expired.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    expired_total_ += static_cast<int64_t>(expired.size());
  }
  return expired;
}

int64_t ExpirySweeper::expired_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return expired_total_;
}

void ExpirySweeper::SweepAndLog() {
  auto swept = SweepOnce();
  if (!swept.ok()) {
    log::Warn("expiry sweep failed", {{"error", swept.status().ToString()}});
  } else if (!swept->empty()) {
    log::Info("expired approvals", {{"count", swept->size()}});
  }
}

}  // namespace holdgate::hold
