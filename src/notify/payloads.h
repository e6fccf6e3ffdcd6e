#pragma once
// The webhook event body (Standard Webhooks shape: {"type", "timestamp", "data"}) and the
// identifiers shared by every notification about an approval. Pure functions; thread-safe.
#include <cstdint>
#include <string>

#include "common/json_util.h"
#include "store/approval.h"

namespace holdgate::notify {

// The review page of one approval: "<base>/#/approvals/<id>" (the UI's route).
std::string ReviewLink(const std::string& review_base_url, const std::string& approval_id);

// A stable message id ("msg_" + 32 hex) for one event of one approval to one target: the same
// inputs always give the same id, so a duplicate (e.g. a reminder re-sent after a crash) carries
// the same webhook-id and receivers deduplicate it. `n` distinguishes reminders (0 otherwise).
std::string MessageId(const std::string& approval_id, const std::string& event_type, const std::string& target,
                      int n = 0);

// The fields every notification carries about the approval (webhook `data`):
//   id, tool, principal, session_id, rule, risk, state, arguments (only when include_arguments),
//   arguments_sha256 (the approval fingerprint), approvers_needed, approvals_so_far, created_at,
//   expires_at (RFC 3339, or null), review_url; once decided: decided_by, decided_via, decided_at,
//   reason; with edited arguments: edited (true).
Json ApprovalData(const store::Approval& approval, const std::string& review_url, bool include_arguments);

// {"type": event_type, "timestamp": RFC 3339 of at_ms, "data": ApprovalData + extra fields}, plus
// data.trace_id when the calling thread handles a traced MCP call (trace::CurrentTraceId()).
Json WebhookBody(const store::Approval& approval, const std::string& event_type, int64_t at_ms,
                 const std::string& review_url, bool include_arguments, const Json& extra = Json::object());

// "critical (Destructive)" / "critical" / "" from the policy's risk value.
std::string RiskText(const Json& risk);

}  // namespace holdgate::notify
