#include "review/sessions.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/log.h"

namespace holdgate::review {

SessionStore::SessionStore(const Clock& clock, store::Store& store, int64_t idle_ms, int64_t absolute_ms)
    : clock_(clock), store_(store), idle_ms_(idle_ms), absolute_ms_(absolute_ms) {}

Result<SessionStore::Created> SessionStore::Create(const std::string& subject, Role role,
                                                   const std::string& display_name) {
  const int64_t now = clock_.NowMs();
  auto pruned = store_.PruneReviewerSessions(now - idle_ms_, now);
  if (!pruned.ok()) log::Warn("review: expired sessions not pruned", {{"error", pruned.status().ToString()}});
  Created out;
  out.id = RandomHex(32);
  out.session = ReviewerSession{subject, role, display_name, RandomHex(32), now, now};
  store::ReviewerSessionRow row;
  row.id_hash = Sha256Hex(out.id);
  row.subject = subject;
  row.role = RoleName(role);
  row.display_name = display_name;
  row.csrf_token = out.session.csrf_token;
  row.created_at_ms = now;
  row.last_seen_at_ms = now;
  row.expires_at_ms = now + absolute_ms_;
  Status s = store_.PutReviewerSession(row);
  if (!s.ok()) return s;
  return out;
}

std::optional<ReviewerSession> SessionStore::Load(std::string_view id, std::string* hash, bool* expired) {
  *expired = false;
  if (id.size() != 64) return std::nullopt;
  *hash = Sha256Hex(id);
  auto row = store_.GetReviewerSession(*hash);
  if (!row.ok()) {
    log::Warn("review: session lookup failed; treated as signed out", {{"error", row.status().ToString()}});
    return std::nullopt;
  }
  if (!row->has_value()) return std::nullopt;
  const store::ReviewerSessionRow& r = **row;
  ReviewerSession s;
  s.subject = r.subject;
  if (!ParseRole(r.role, &s.role)) return std::nullopt;
  s.display_name = r.display_name;
  s.csrf_token = r.csrf_token;
  s.created_ms = r.created_at_ms;
  s.last_seen_ms = r.last_seen_at_ms;
  const int64_t now = clock_.NowMs();
  *expired = now - r.last_seen_at_ms >= idle_ms_ || now >= r.expires_at_ms || now - r.created_at_ms >= absolute_ms_;
  return s;
}

std::optional<ReviewerSession> SessionStore::Touch(std::string_view id) {
  std::string hash;
  bool expired = false;
  std::optional<ReviewerSession> s = Load(id, &hash, &expired);
  if (!s) return std::nullopt;
  if (expired) {
    (void)store_.DeleteReviewerSession(hash);
    return std::nullopt;
  }
  const int64_t now = clock_.NowMs();
  if (now - s->last_seen_ms >= std::min<int64_t>(60'000, idle_ms_ / 10)) {
    Status t = store_.TouchReviewerSession(hash, now);
    if (!t.ok()) log::Warn("review: session last-seen not updated", {{"error", t.ToString()}});
    s->last_seen_ms = now;
  }
  return s;
}

std::optional<ReviewerSession> SessionStore::Remove(std::string_view id) {
  std::string hash;
  bool expired = false;
  std::optional<ReviewerSession> s = Load(id, &hash, &expired);
  if (!s) return std::nullopt;
  auto deleted = store_.DeleteReviewerSession(hash);
  if (!deleted.ok() || !*deleted || expired) return std::nullopt;
  return s;
}

bool SessionStore::CsrfMatches(const ReviewerSession& session, std::string_view presented) {
  return !session.csrf_token.empty() && presented.size() == session.csrf_token.size() &&
         ConstantTimeEquals(session.csrf_token, presented);
}

}  // namespace holdgate::review
