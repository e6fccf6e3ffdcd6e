#include "policy/rate_limiter.h"

#include <algorithm>

#include "common/log.h"
#include "policy/compiled.h"

namespace holdgate::policy {
namespace {

constexpr uint64_t kSweepEvery = 4096;

int64_t FloorTo(int64_t now, int64_t window) {
  int64_t r = now % window;
  if (r < 0) r += window;
  return now - r;
}

std::string_view ScopeValue(const CallContext& ctx, Scope scope) {
  switch (scope) {
    case Scope::kGrant: return ctx.grant;
    case Scope::kPrincipal: return ctx.principal;
    case Scope::kSession: return ctx.session;
    case Scope::kGlobal: return {};
  }
  return {};
}

// Bucket key: counter, window, scope and the caller's scope value, separated by NUL bytes
// (which JSON strings from the policy file can contain only escaped, never ambiguously here
// because every part but the last has a fixed position).
void BucketKey(const Limit& l, const CallContext& ctx, std::string* key) {
  key->clear();
  std::string_view value = ScopeValue(ctx, l.scope);
  key->reserve(l.counter.size() + value.size() + 32);
  key->append(std::to_string(l.counter.size()));
  key->push_back(':');
  key->append(l.counter);
  key->push_back('\0');
  key->append(std::to_string(l.window_ms));
  key->push_back('\0');
  key->append(ScopeName(l.scope));
  key->push_back('\0');
  key->append(value);
}

// Turns `decision` into what an exceeded `limit` answers (or, in shadow mode, notes it).
void ApplyExceeded(const Limit& limit, int64_t retry_after, int64_t now, Decision* decision) {
  if (decision->shadow) {
    decision->shadow_action = Action::kRateLimited;
    decision->retry_after_ms = retry_after;
    decision->rule = limit.path;
    return;
  }
  const int64_t secs = (retry_after + 999) / 1000;
  decision->action = Action::kRateLimited;
  decision->approval = nullptr;
  decision->retry_after_ms = retry_after;
  decision->rule = limit.path;
  decision->reason = "Rate limit exceeded: at most " + std::to_string(limit.max) + " call" +
                     (limit.max == 1 ? "" : "s") + " per " + FormatWindow(limit.window_ms) + " (counter \"" +
                     limit.counter + "\", per " + ScopeName(limit.scope) + "). Retry in " + std::to_string(secs) +
                     " s, after " + FormatTimeMs(now + retry_after) + ".";
}

}  // namespace

RateLimiter::RateLimiter(const Clock& clock) : clock_(clock) {}

RateLimiter::Reservation RateLimiter::Reserve(const CallContext& ctx, Decision* decision) {
  Reservation res;
  const Action effective = decision->shadow ? decision->shadow_action : decision->action;
  if (effective != Action::kAllow && effective != Action::kHold) return res;
  if (decision->limits == nullptr || decision->limits->empty()) return res;
  const std::vector<Limit>& limits = *decision->limits;
  if (shared_ != nullptr && ReserveShared(limits, ctx, clock_.NowMs(), decision, &res)) return res;

  // Keys are built into the reservation itself; it is cleared if nothing gets counted.
  res.entries.resize(limits.size());
  for (size_t i = 0; i < limits.size(); ++i) BucketKey(limits[i], ctx, &res.entries[i].key);

  const int64_t now = clock_.NowMs();
  const Limit* exceeded = nullptr;
  int64_t retry_after = 0;
  {
    constexpr size_t kInline = 8;
    Bucket* inline_buckets[kInline];
    std::vector<Bucket*> heap_buckets;
    Bucket** buckets = inline_buckets;
    if (limits.size() > kInline) {
      heap_buckets.resize(limits.size());
      buckets = heap_buckets.data();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (++calls_since_sweep_ >= kSweepEvery) SweepLocked(now);
    for (size_t i = 0; i < limits.size(); ++i) {
      const Limit& l = limits[i];
      Bucket& b = buckets_[res.entries[i].key];
      const int64_t start = FloorTo(now, l.window_ms);
      if (b.window_start_ms != start || b.window_ms != l.window_ms) {
        b.window_start_ms = start;
        b.window_ms = l.window_ms;
        b.count = 0;
      }
      buckets[i] = &b;
      if (b.count >= l.max) {
        int64_t wait = start + l.window_ms - now;
        if (exceeded == nullptr || wait > retry_after) {
          exceeded = &l;
          retry_after = wait;
        }
      }
    }
    if (exceeded == nullptr || decision->shadow) {
      for (size_t i = 0; i < limits.size(); ++i) {
        ++buckets[i]->count;
        res.entries[i].window_start_ms = buckets[i]->window_start_ms;
      }
    } else {
      res.entries.clear();
    }
  }
  if (exceeded != nullptr) ApplyExceeded(*exceeded, retry_after, now, decision);
  return res;
}

bool RateLimiter::ReserveShared(const std::vector<Limit>& limits, const CallContext& ctx, int64_t now,
                                Decision* decision, Reservation* res) {
  std::vector<CounterSlot> slots(limits.size());
  for (size_t i = 0; i < limits.size(); ++i) {
    BucketKey(limits[i], ctx, &slots[i].key);
    slots[i].window_ms = limits[i].window_ms;
    slots[i].window_start_ms = FloorTo(now, limits[i].window_ms);
    slots[i].max = limits[i].max;
  }
  Result<std::optional<size_t>> counted = shared_->Count(slots, decision->shadow);
  if (!counted.ok()) {
    // Warned at most every 10 s: every limited call fails the same way while the database is away.
    int64_t last = shared_warned_ms_.load(std::memory_order_relaxed);
    if (now - last >= 10'000 && shared_warned_ms_.compare_exchange_strong(last, now)) {
      log::Warn("shared rate-limit counters unavailable; this replica counts on its own",
                {{"error", counted.status().ToString()}});
    }
    return false;
  }
  if (counted->has_value()) {
    const Limit& l = limits.at(**counted);
    ApplyExceeded(l, slots[**counted].window_start_ms + l.window_ms - now, now, decision);
  }
  if (!counted->has_value() || decision->shadow) res->shared = std::move(slots);
  return true;
}

void RateLimiter::Rollback(const Reservation& reservation) {
  if (!reservation.shared.empty() && shared_ != nullptr) {
    Status s = shared_->Uncount(reservation.shared);
    if (!s.ok()) log::Warn("cannot give back a shared rate-limit count", {{"error", s.ToString()}});
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const Reservation::Entry& e : reservation.entries) {
    auto it = buckets_.find(e.key);
    if (it == buckets_.end()) continue;
    if (it->second.window_start_ms == e.window_start_ms && it->second.count > 0) --it->second.count;
  }
}

size_t RateLimiter::BucketCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

void RateLimiter::SweepLocked(int64_t now_ms) {
  calls_since_sweep_ = 0;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (it->second.window_start_ms + it->second.window_ms <= now_ms) it = buckets_.erase(it);
    else ++it;
  }
}

}  // namespace holdgate::policy
