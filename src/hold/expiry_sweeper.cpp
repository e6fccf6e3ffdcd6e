#include "hold/expiry_sweeper.h"

#include "common/log.h"

namespace holdgate::hold {
namespace {
constexpr int kBatch = 500;
}  // namespace

ExpirySweeper::ExpirySweeper(store::Store& store, HoldCoordinator* coordinator, const Clock& clock,
                             std::chrono::milliseconds interval)
    : store_(store), coordinator_(coordinator), clock_(clock), interval_(interval) {}

ExpirySweeper::~ExpirySweeper() { Stop(); }

void ExpirySweeper::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void ExpirySweeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

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

void ExpirySweeper::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto swept = SweepOnce();
    if (!swept.ok()) {
      log::Warn("expiry sweep failed", {{"error", swept.status().ToString()}});
    } else if (!swept->empty()) {
      log::Info("expired approvals", {{"count", swept->size()}});
    }
    lock.lock();
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace holdgate::hold
