#pragma once
// Reviewer browser sessions after single sign-on: a random 256-bit session id (the cookie; only
// its SHA-256 is stored), the reviewer's name and role, a per-session CSRF token, and idle and
// absolute expiry measured with the injected clock.
//
// Sessions live in the Store (table reviewer_sessions), so they survive a restart and work on
// every replica that shares the database. last_seen is written at most every
// min(60 s, idle/10) per session, so idle expiry is that much coarse.
//
// Thread-safe (the Store is); every call blocks on the Store. A Store error fails closed: the
// session is treated as absent.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "review/jwt_auth.h"
#include "store/store.h"

namespace holdgate::review {

struct ReviewerSession {
  std::string subject;       // the reviewer's name, as for JWT reviewers
  Role role = Role::kNone;
  std::string display_name;
  std::string csrf_token;    // 64 hex characters; sent back by the page in X-CSRF-Token
  int64_t created_ms = 0;
  int64_t last_seen_ms = 0;
};

class SessionStore {
 public:
  // `clock` and `store` must outlive this. idle_ms: a session unused this long ends;
  // absolute_ms: a session ends this long after sign-in whatever its use.
  SessionStore(const Clock& clock, store::Store& store, int64_t idle_ms, int64_t absolute_ms);

  struct Created {
    std::string id;  // 64 hex characters (256 bits): the cookie value; not stored
    ReviewerSession session;
  };
  // A new session (expired ones are pruned first). The Store's error when it cannot be saved.
  Result<Created> Create(const std::string& subject, Role role, const std::string& display_name);

  // The live session for a cookie value, its idle time restarted; nullopt for an unknown, ended
  // or expired one (an expired one is deleted).
  std::optional<ReviewerSession> Touch(std::string_view id);

  // Ends the session; returns it when it existed and had not expired.
  std::optional<ReviewerSession> Remove(std::string_view id);

  // Constant-time comparison of the token a request carries with the session's.
  static bool CsrfMatches(const ReviewerSession& session, std::string_view presented);

 private:
  std::optional<ReviewerSession> Load(std::string_view id, std::string* hash, bool* expired);

  const Clock& clock_;
  store::Store& store_;
  const int64_t idle_ms_;
  const int64_t absolute_ms_;
};

}  // namespace holdgate::review
