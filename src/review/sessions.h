#pragma once
// Reviewer browser sessions after single sign-on: a random 256-bit session id (only its SHA-256 is
// kept), the reviewer's name and role, a per-session CSRF token, and idle and absolute expiry
// measured with the injected clock.
//
// Kept in memory: sessions do not survive a restart and are not shared between replicas (a
// reviewer signs in again). Thread-safe (one mutex); nothing blocks.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "review/jwt_auth.h"

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
  // `clock` must outlive the store. idle_ms: a session unused this long ends; absolute_ms: a
  // session ends this long after sign-in whatever its use.
  SessionStore(const Clock& clock, int64_t idle_ms, int64_t absolute_ms, size_t max_sessions = 20'000);

  struct Created {
    std::string id;  // 64 hex characters (256 bits): the cookie value; not stored
    ReviewerSession session;
  };
  // A new session. When the store is full, the least recently used session is dropped.
  Created Create(const std::string& subject, Role role, const std::string& display_name);

  // The live session for a cookie value, its idle time restarted; nullopt for an unknown, ended
  // or expired one (an expired one is removed).
  std::optional<ReviewerSession> Touch(std::string_view id);

  // Ends the session; returns it when it existed (and had not expired).
  std::optional<ReviewerSession> Remove(std::string_view id);

  size_t size() const;

  // Constant-time comparison of the token a request carries with the session's.
  static bool CsrfMatches(const ReviewerSession& session, std::string_view presented);

 private:
  bool Expired(const ReviewerSession& s, int64_t now) const;

  const Clock& clock_;
  const int64_t idle_ms_;
  const int64_t absolute_ms_;
  const size_t max_sessions_;
  mutable std::mutex mu_;
  std::map<std::string, ReviewerSession> by_hash_;  // guarded by mu_; SHA-256 hex of the id
};

}  // namespace holdgate::review
