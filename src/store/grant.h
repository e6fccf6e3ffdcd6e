#pragma once
// Grants (remembered approvals): value types. A grant is made by a reviewer from an approval they
// approved; until it expires or is revoked, a later call by the same principal (and, with scope
// "session", in the same session) of the same tool — with identical canonical arguments unless the
// grant covers any arguments — runs without a new approval. Plain values; thread-compatible. The
// Store (store/store.h) persists them and audits every creation, use, revocation and expiry.
#include <cstdint>
#include <string>

namespace holdgate::store {

struct Grant {
  std::string id;  // "grt_" + 12 hex digits of created_at_ms + 20 random hex
  std::string approval_id;  // the approval it was made from
  std::string principal;
  std::string scope;       // "principal" | "session"
  std::string session_id;  // the bound session for scope "session", else ""
  std::string tool;
  std::string fingerprint;  // the covered call's fingerprint; "" = any arguments
  std::string rule;
  std::string created_by;
  std::string created_via;  // api|cli|ui|slack
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  int64_t revoked_at_ms = 0;  // 0 = not revoked
  std::string revoked_by;
  std::string revoke_reason;
  int64_t expired_at_ms = 0;  // set when the sweep audited the expiry; 0 before
  int64_t uses = 0;
  int64_t last_used_at_ms = 0;

  bool any_arguments() const { return fingerprint.empty(); }
  // Not revoked and not yet expired at now_ms.
  bool LiveAt(int64_t now_ms) const { return revoked_at_ms == 0 && expired_at_ms == 0 && now_ms < expires_at_ms; }
};

struct NewGrant {
  std::string approval_id;
  std::string created_by;  // REQUIRES: an approver of the approval (checked by the store)
  std::string created_via;  // api|cli|ui|slack
  int64_t for_ms = 0;       // REQUIRES: 0 < for_ms <= the approval's remember_max_ms
  bool session_scope = false;  // bind to the approval's session (else: the principal, any session)
  bool any_arguments = false;  // cover any arguments; the approval must allow it
};

// The call a grant may cover.
struct GrantQuery {
  std::string principal;
  std::string session_id;
  std::string tool;
  std::string fingerprint;
};

}  // namespace holdgate::store
