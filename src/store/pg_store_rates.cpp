// PgStore: the rate_counters table as SharedCounters (policy `limits` counted across replicas).
#include <algorithm>
#include <atomic>
#include <numeric>
#include <tuple>

#include "common/crypto.h"
#include "store/pg_impl.h"

namespace holdgate::store {
namespace {

// Ended windows are deleted by one in this many Count transactions.
constexpr uint64_t kSweepEvery = 1024;

class PgRateCounters final : public SharedCounters {
 public:
  explicit PgRateCounters(PgStore::Impl& impl) : impl_(impl) {}

  Result<std::optional<size_t>> Count(const std::vector<CounterSlot>& slots, bool force) override {
    using Counted = std::optional<size_t>;
    const std::vector<size_t> order = LockOrder(slots);
    const bool sweep = calls_.fetch_add(1, std::memory_order_relaxed) % kSweepEvery == kSweepEvery - 1;
    // No chain lock: counting appends no audit event. Row locks are taken in key order, so two
    // replicas counting the same buckets never deadlock.
    return impl_.Write<Counted>(
        "count rate limit",
        [&](PgStore::Impl::Tx& tx) -> Result<Counted> {
          Counted full;
          std::vector<size_t> counted;
          for (size_t i : order) {
            const CounterSlot& slot = slots[i];
            pqxx::result r = tx.w.exec_params(
                "INSERT INTO rate_counters (key_hash, window_start, window_end, count) VALUES ($1, $2, $3, 1) "
                "ON CONFLICT (key_hash, window_start) DO UPDATE SET count = rate_counters.count + 1 "
                "WHERE $4 OR rate_counters.count < $5 RETURNING count",
                Sha256Hex(slot.key), slot.window_start_ms, slot.window_start_ms + slot.window_ms, force, slot.max);
            const bool was_full = r.empty() || PgInt(r[0][0]) > slot.max;
            if (was_full && !full) full = i;
            if (!r.empty()) counted.push_back(i);
            if (was_full && !force) break;
          }
          if (full && !force) {
            // All or nothing: give back what this call counted before the full one.
            for (size_t i : counted) Decrement(tx.w, slots[i]);
          }
          if (sweep) tx.w.exec_params("DELETE FROM rate_counters WHERE window_end <= $1", tx.now);
          return full;
        },
        /*chain=*/false);
  }

  Status Uncount(const std::vector<CounterSlot>& slots) override {
    const std::vector<size_t> order = LockOrder(slots);
    auto done = impl_.Write<bool>(
        "give back rate limit",
        [&](PgStore::Impl::Tx& tx) -> Result<bool> {
          for (size_t i : order) Decrement(tx.w, slots[i]);
          return true;
        },
        /*chain=*/false);
    return done.ok() ? Status() : done.status();
  }

 private:
  static std::vector<size_t> LockOrder(const std::vector<CounterSlot>& slots) {
    std::vector<size_t> order(slots.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::tie(slots[a].key, slots[a].window_start_ms) < std::tie(slots[b].key, slots[b].window_start_ms);
    });
    return order;
  }
  static void Decrement(pqxx::work& w, const CounterSlot& slot) {
    w.exec_params(
        "UPDATE rate_counters SET count = count - 1 WHERE key_hash = $1 AND window_start = $2 AND count > 0",
        Sha256Hex(slot.key), slot.window_start_ms);
  }

  PgStore::Impl& impl_;
  std::atomic<uint64_t> calls_{0};
};

}  // namespace

std::unique_ptr<SharedCounters> MakePgRateCounters(PgStore::Impl& impl) {
  return std::make_unique<PgRateCounters>(impl);
}

}  // namespace holdgate::store
