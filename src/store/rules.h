#pragma once
// Internal to src/store/: the approval rules both store implementations (SQLite, PostgreSQL)
// apply inside their transactions. Pure functions of their arguments: no I/O, thread-safe.
#include <cstdint>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"
#include "store/approval.h"

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
// Store::Decide's checks that need no database: kInvalidArgument, or OK.
Status CheckDecisionInput(const DecisionInput& in);

}  // namespace holdgate::store::internal
