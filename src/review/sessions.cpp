#include "review/sessions.h"

#include "common/crypto.h"

namespace holdgate::review {

SessionStore::SessionStore(const Clock& clock, int64_t idle_ms, int64_t absolute_ms, size_t max_sessions)
    : clock_(clock), idle_ms_(idle_ms), absolute_ms_(absolute_ms), max_sessions_(max_sessions) {}

bool SessionStore::Expired(const ReviewerSession& s, int64_t now) const {
  return now - s.last_seen_ms >= idle_ms_ || now - s.created_ms >= absolute_ms_;
}

SessionStore::Created SessionStore::Create(const std::string& subject, Role role, const std::string& display_name) {
  Created out;
  out.id = RandomHex(32);
  const int64_t now = clock_.NowMs();
  out.session = ReviewerSession{subject, role, display_name, RandomHex(32), now, now};
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = by_hash_.begin(); it != by_hash_.end();) {
    it = Expired(it->second, now) ? by_hash_.erase(it) : std::next(it);
  }
  if (by_hash_.size() >= max_sessions_) {
    auto oldest = by_hash_.begin();
    for (auto it = by_hash_.begin(); it != by_hash_.end(); ++it) {
      if (it->second.last_seen_ms < oldest->second.last_seen_ms) oldest = it;
    }
    by_hash_.erase(oldest);
  }
  by_hash_[Sha256Hex(out.id)] = out.session;
  return out;
}

std::optional<ReviewerSession> SessionStore::Touch(std::string_view id) {
  if (id.size() != 64) return std::nullopt;
  const std::string key = Sha256Hex(id);
  const int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_hash_.find(key);
  if (it == by_hash_.end()) return std::nullopt;
  if (Expired(it->second, now)) {
    by_hash_.erase(it);
    return std::nullopt;
  }
  it->second.last_seen_ms = now;
  return it->second;
}

std::optional<ReviewerSession> SessionStore::Remove(std::string_view id) {
  if (id.size() != 64) return std::nullopt;
  const std::string key = Sha256Hex(id);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_hash_.find(key);
  if (it == by_hash_.end()) return std::nullopt;
  ReviewerSession s = it->second;
  by_hash_.erase(it);
  if (Expired(s, clock_.NowMs())) return std::nullopt;
  return s;
}

size_t SessionStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_hash_.size();
}

bool SessionStore::CsrfMatches(const ReviewerSession& session, std::string_view presented) {
  return !session.csrf_token.empty() && presented.size() == session.csrf_token.size() &&
         ConstantTimeEquals(session.csrf_token, presented);
}

}  // namespace holdgate::review
