#include "hold/sweeper.h"

#include "common/log.h"

namespace holdgate::hold {
namespace {
constexpr int kBatch = 500;

// Runs `step` (ExpireDue or LapseDue) in batches until a short batch; returns how many changed.
template <typename Step>
Result<int> Drain(Step step) {
  int total = 0;
  for (;;) {
    auto batch = step();
    if (!batch.ok()) return batch.status();
    total += static_cast<int>(batch->size());
    if (static_cast<int>(batch->size()) < kBatch) return total;
  }
}
}  // namespace

Sweeper::Sweeper(store::Store& store, HoldCoordinator& coordinator, const Clock& clock, SweeperOptions options)
    : store_(store),
      coordinator_(coordinator),
      clock_(clock),
      options_(options),
      thread_(options.tick, [this] { SweepAndLog(); }, PeriodicThread::First::kRunAtStart) {}

Sweeper::~Sweeper() { Stop(); }

void Sweeper::Start() { thread_.Start(); }
void Sweeper::Stop() { thread_.Stop(); }

Result<SweepResult> Sweeper::SweepOnce() {
  SweepResult out;
  const int64_t now = clock_.NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.store_swept = last_store_sweep_ms_ < 0 || now - last_store_sweep_ms_ >= options_.store_every.count();
    if (out.store_swept) last_store_sweep_ms_ = now;
  }
  Status store_status = Status::Ok();
  if (out.store_swept) {
    auto expired = Drain([&] { return store_.ExpireDue(now, kBatch); });
    if (expired.ok()) out.expired = *expired;
    else store_status = expired.status();
    auto lapsed = Drain([&] { return store_.LapseDue(now, kBatch); });
    if (lapsed.ok()) out.lapsed = *lapsed;
    else if (store_status.ok()) store_status = lapsed.status();
    auto grants = Drain([&] { return store_.ExpireDueGrants(now, kBatch); });
    if (grants.ok()) out.grants_expired = *grants;
    else if (store_status.ok()) store_status = grants.status();
    std::lock_guard<std::mutex> lock(mu_);
    expired_total_ += out.expired;
    lapsed_total_ += out.lapsed;
  }
  coordinator_.Tick(now);
  if (!store_status.ok()) return store_status;
  return out;
}

int64_t Sweeper::expired_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return expired_total_;
}

int64_t Sweeper::lapsed_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lapsed_total_;
}

void Sweeper::SweepAndLog() {
  auto swept = SweepOnce();
  if (!swept.ok()) {
    log::Warn("hold sweep: the store failed", {{"error", swept.status().ToString()}});
  } else if (swept->expired > 0 || swept->lapsed > 0 || swept->grants_expired > 0) {
    log::Info("hold sweep", {{"expired", swept->expired}, {"lapsed", swept->lapsed},
                             {"grants_expired", swept->grants_expired}});
  }
}

}  // namespace holdgate::hold
