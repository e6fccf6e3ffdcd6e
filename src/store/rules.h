#pragma once
// Internal to src/store/: the approval rules both store implementations (SQLite, PostgreSQL)
// apply inside their transactions. Pure functions of their arguments: no I/O, thread-safe.
#include <cstdint>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"
#include "store/approval.h"
#include "store/audit.h"
#include "store/grant.h"

namespace holdgate::store {
struct ReviewerSessionRow;  // store.h
}  // namespace holdgate::store

namespace holdgate::store::internal {

// The result and reason of an approval found executing when its holdgate went away.
inline constexpr char kRecoveredReason[] = "unknown: holdgate stopped while the tool was running; not re-run";

// Large values go into audit details as a digest ({"truncated", "bytes", "sha256"} above 16 KiB).
Json AuditValue(const Json& value);
// Canonical JSON text: what JSON columns store.
std::string JsonText(const Json& value);
// "apr_" + created_at as 12 lowercase hex digits (fixed width: string order = time order).
std::string ApprovalIdPrefix(int64_t ms);
// {"roles":[...],"names":[...]} with string arrays, normalised; null when it constrains nothing.
Result<Json> NormaliseReviewers(const Json& in);
// True when `reviewer` (with `roles`) may decide; otherwise *need describes who may.
bool ReviewerAllowed(const Json& reviewers, const std::string& reviewer, const std::vector<std::string>& roles,
                     std::string* need);
// "already rejected by bob at 2026-…Z via ui: too risky" and friends.
std::string AlreadyDecidedMessage(const Approval& a);
std::string ExpiryReason(const Approval& a);
Json VotesSummary(const Approval& a);
// kConflict "approval … is <state>, not <wanted>".
Status NotPending(const Approval& a, const std::string& wanted);
// The detail of the "approval.executing" audit event: the arguments the call runs with, whether a
// reviewer edited them, and the agent's own arguments when edited.
Json ExecutingAuditDetail(const Approval& a);
// Store::Decide's checks that need no database: kInvalidArgument, or OK.
Status CheckDecisionInput(const DecisionInput& in);

// The pending approval CreatePending writes for `in`, before its id and times are set; the checks
// that need no database: kInvalidArgument (empty principal or tool, approvers_needed < 1, a
// negative timeout, use_within or remember_max, an on_timeout other than "reject", bad reviewers).
Result<Approval> NewPendingApproval(const NewApproval& in);

// ---- grants ------------------------------------------------------------------------------------
// The grants table's columns, in the order both stores read them.
inline constexpr char kGrantColumns[] =
    "id, approval_id, principal, scope, session_id, tool, fingerprint, rule, created_by, created_via, "
    "created_at, expires_at, revoked_at, revoked_by, revoke_reason, expired_at, uses, last_used_at";
// Store::CreateGrant's checks that need no database: kInvalidArgument, or OK.
Status CheckNewGrant(const NewGrant& in);
// The grant `in` makes from approval `a` at `now_ms`, or why none may be made (Store::CreateGrant's
// kConflict / kPermissionDenied / kInvalidArgument). `random_part`: 20 hex digits of the id.
Result<Grant> MakeGrant(const Approval& a, const NewGrant& in, int64_t now_ms, const std::string& random_part);
// Whether grant `g` covers `call` (principal, tool, session for a session grant, arguments).
bool GrantCovers(const Grant& g, const GrantQuery& call);
// kConflict when `g` is already revoked or expired at now_ms.
Status CheckRevocable(const Grant& g, int64_t now_ms);
// The audit event of a grant's creation, use, revocation or expiry (detail names the grant).
AuditEvent GrantEvent(const Grant& g, const std::string& type, const std::string& actor, const std::string& via,
                      const std::string& decision);

// A reviewer session row as both stores accept it (hashed id and CSRF token of 64 hex, a subject,
// a known role, consistent times), or kInvalidArgument.
Status CheckReviewerSessionRow(const ReviewerSessionRow& row);

}  // namespace holdgate::store::internal
