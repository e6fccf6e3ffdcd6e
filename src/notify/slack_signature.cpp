#include "notify/slack_signature.h"

#include <algorithm>

#include "common/crypto.h"

namespace holdgate::notify {

std::string SlackSignature(std::string_view signing_secret, std::string_view timestamp, std::string_view body) {
  std::string base;
  base.reserve(body.size() + timestamp.size() + 4);
  base += "v0:";
  base.append(timestamp);
  base += ':';
  base.append(body);
  return "v0=" + HmacSha256Hex(signing_secret, base);
}

const char* SlackVerdictName(SlackVerdict verdict) {
  switch (verdict) {
    case SlackVerdict::kOk: return "ok";
    case SlackVerdict::kNotConfigured: return "not_configured";
    case SlackVerdict::kMissingHeaders: return "missing_headers";
    case SlackVerdict::kBadTimestamp: return "bad_timestamp";
    case SlackVerdict::kStale: return "stale_timestamp";
    case SlackVerdict::kBadSignature: return "bad_signature";
    case SlackVerdict::kReplayed: return "replayed";
    case SlackVerdict::kBusy: return "busy";
  }
  return "unknown";
}

SlackRequestVerifier::SlackRequestVerifier(std::string signing_secret, int64_t window_ms, size_t max_remembered)
    : secret_(std::move(signing_secret)), window_ms_(window_ms), max_remembered_(max_remembered) {}

SlackVerdict SlackRequestVerifier::Verify(std::string_view timestamp, std::string_view signature,
                                          std::string_view body, int64_t now_ms) {
  if (secret_.empty()) return SlackVerdict::kNotConfigured;
  if (timestamp.empty() || signature.empty()) return SlackVerdict::kMissingHeaders;
  if (timestamp.size() > 12 ||
      !std::all_of(timestamp.begin(), timestamp.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return SlackVerdict::kBadTimestamp;
  }
  const int64_t ts_ms = std::stoll(std::string(timestamp)) * 1000;
  if (now_ms - ts_ms > window_ms_ || ts_ms - now_ms > window_ms_) return SlackVerdict::kStale;
  if (!ConstantTimeEquals(SlackSignature(secret_, timestamp, body), signature)) return SlackVerdict::kBadSignature;

  std::lock_guard<std::mutex> lock(mu_);
  PruneLocked(now_ms);
  const std::string key(signature);
  if (seen_.count(key)) return SlackVerdict::kReplayed;
  if (seen_.size() >= max_remembered_) return SlackVerdict::kBusy;
  // Remember it for as long as its timestamp is acceptable.
  const int64_t forget_after = ts_ms + window_ms_;
  seen_.emplace(key, forget_after);
  order_.emplace_back(forget_after, key);
  return SlackVerdict::kOk;
}

void SlackRequestVerifier::PruneLocked(int64_t now_ms) {
  // Entries are appended roughly in expiry order; an entry stuck behind a later one is only kept
  // a little longer than needed, which is harmless.
  while (!order_.empty() && order_.front().first < now_ms) {
    auto it = seen_.find(order_.front().second);
    if (it != seen_.end() && it->second == order_.front().first) seen_.erase(it);
    order_.pop_front();
  }
}

size_t SlackRequestVerifier::remembered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_.size();
}

}  // namespace holdgate::notify
