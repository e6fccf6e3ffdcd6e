#include "store/audit_throttle.h"

#include <algorithm>

#include "common/log.h"
#include "store/store.h"

namespace holdgate::store {

AuditThrottle::AuditThrottle(Store& store, const Clock& clock, int per_minute)
    : store_(store), clock_(clock), per_minute_(std::max(1, per_minute)) {}

bool AuditThrottle::Append(AuditEvent event) {
  int64_t suppressed = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_.NowMs();
    if (refilled_ms_ < 0) {
      tokens_ = per_minute_;
    } else if (now > refilled_ms_) {
      tokens_ = std::min(per_minute_, tokens_ + static_cast<double>(now - refilled_ms_) * per_minute_ / 60000.0);
    }
    refilled_ms_ = std::max(refilled_ms_, now);
    if (tokens_ < 1.0) {
      ++suppressed_;
      return false;
    }
    tokens_ -= 1.0;
    suppressed = suppressed_;
    suppressed_ = 0;
  }
  if (suppressed > 0) {
    if (!event.detail.is_object()) event.detail = Json::object();
    event.detail["suppressed"] = suppressed;
  }
  auto r = store_.AppendAudit(event);
  if (!r.ok()) {
    log::Warn("cannot write an audit event", {{"type", event.type}, {"error", r.status().ToString()}});
    return false;
  }
  return true;
}

int64_t AuditThrottle::suppressed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return suppressed_;
}

}  // namespace holdgate::store
