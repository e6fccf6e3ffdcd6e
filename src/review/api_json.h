#pragma once
// The review API's wire format: approvals, votes, comments, audit events and deliveries as JSON
// (times as RFC 3339 strings), CSV export rows, query-time parsing, and the derived "who may still
// decide" and "what the agent will be told". Pure functions; thread-safe; no I/O.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_util.h"
#include "review/jwt_auth.h"
#include "store/approval.h"
#include "store/audit.h"
#include "store/outbox.h"

namespace holdgate::review {

// Link to one approval in the approval UI: "<base>/#/approvals/<id>".
std::string ReviewUrl(std::string_view base_url, std::string_view approval_id);

// RFC 3339 string, or null for 0 ("never" / "not yet").
Json TimeJson(int64_t epoch_ms);

// The object in GET /api/approvals' "approvals" array:
// {id, tool, arguments, principal, session_id, state, rule, risk, created_at, expires_at,
//  updated_at, decided_at, decided_by, decided_via, reason, approvals_needed, approvals_so_far,
//  editable, edited_arguments, agent_left, votes[], review_url}
Json ApprovalJson(const store::Approval& a, std::string_view base_url);
Json VoteJson(const store::Vote& v);
Json CommentJson(const store::Comment& c);
Json AuditEventJson(const store::AuditEvent& e);
// A grant (remembered approval); "state" is live | expired | revoked as of now_ms.
Json GrantJson(const store::Grant& g, int64_t now_ms);
Json OutboxRowJson(const store::OutboxRow& r);

// The roles a token role grants for the store's reviewer rules (admin also counts as reviewer).
std::vector<std::string> RolesFor(Role role);

// {"needed": n, "so_far": k, "remaining": n-k, "reviewers": {...}, "excluded": [principal, voters],
//  "you": {"can_decide": bool, "why": "..."}} for the viewer `name` with `role`.
Json MayDecideJson(const store::Approval& a, std::string_view name, Role role);

// What the waiting agent is (or will be) told, given the approval's state.
std::string AgentMessage(const store::Approval& a, std::string_view base_url);

// Audit CSV (RFC 4180). A cell a spreadsheet would run as a harmful formula gets a leading single
// quote: one starting with =, @, tab or CR, or with + or - followed somewhere by one of
// ( | ! & " [ = @ (so -cmd and -3 stay as they are). The JSON lines export is the exact form.
std::string AuditCsvHeader();
std::string AuditCsvRow(const store::AuditEvent& e);

// Accepts RFC 3339 ("2026-01-02T03:04:05Z", fractional seconds, ±hh:mm offsets), a bare date
// ("2026-01-02", midnight UTC) or integer milliseconds since the epoch. False otherwise.
bool ParseTimeParam(std::string_view text, int64_t* epoch_ms);

}  // namespace holdgate::review
