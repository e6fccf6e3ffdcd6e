// Rules shared by both store implementations: pure functions, no database.
#include "store/rules.h"

#include <algorithm>
#include <cstdio>

#include "common/clock.h"
#include "common/crypto.h"
#include "store/store.h"

namespace holdgate::store::internal {

constexpr size_t kAuditValueLimit = 16 * 1024;

// Large values go into audit details as a digest, so one huge call cannot bloat the log.
Json AuditValue(const Json& value) {
  std::string text = CanonicalJson(value);
  if (text.size() <= kAuditValueLimit) return value;
  return Json{{"truncated", true}, {"bytes", text.size()}, {"sha256", Sha256Hex(text)}};
}

std::string JsonText(const Json& value) { return CanonicalJson(value); }

// "apr_" + created_at as 12 lowercase hex digits (fixed width: string order = time order).
std::string ApprovalIdPrefix(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "apr_%012llx", static_cast<unsigned long long>(std::max<int64_t>(ms, 0)));
  return buf;
}

// {"roles":[...],"names":[...]} with string arrays, normalised; null when it constrains nothing.
Result<Json> NormaliseReviewers(const Json& in) {
  if (in.is_null()) return Json();
  if (!in.is_object()) return InvalidArgument("reviewers must be an object {\"roles\":[…],\"names\":[…]}");
  Json out = Json::object();
  bool any = false;
  for (auto it = in.begin(); it != in.end(); ++it) {
    if (it.key() != "roles" && it.key() != "names") {
      return InvalidArgument("reviewers: unknown key \"" + it.key() + "\" (expected roles, names)");
    }
    if (!it.value().is_array()) return InvalidArgument("reviewers." + it.key() + " must be an array");
    Json list = Json::array();
    for (const Json& v : it.value()) {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return InvalidArgument("reviewers." + it.key() + " must hold non-empty strings");
      }
      list.push_back(v);
    }
    any = any || !list.empty();
    out[it.key()] = std::move(list);
  }
  return any ? out : Json();
}

namespace {

bool ContainsString(const Json& list, const std::string& s) {
  if (!list.is_array()) return false;
  return std::any_of(list.begin(), list.end(),
                     [&](const Json& v) { return v.is_string() && v.get<std::string>() == s; });
}

}  // namespace

// True when `reviewer` (with `roles`) may decide; otherwise *need describes who may.
bool ReviewerAllowed(const Json& reviewers, const std::string& reviewer,
                     const std::vector<std::string>& roles, std::string* need) {
  if (reviewers.is_null()) return true;
  const Json names = reviewers.value("names", Json::array());
  const Json allowed_roles = reviewers.value("roles", Json::array());
  if (ContainsString(names, reviewer)) return true;
  for (const std::string& r : roles) {
    if (ContainsString(allowed_roles, r)) return true;
  }
  std::vector<std::string> parts;
  if (!allowed_roles.empty()) parts.push_back("a role in " + DumpJson(allowed_roles));
  if (!names.empty()) parts.push_back("one of " + DumpJson(names));
  *need = parts.size() == 2 ? parts[0] + " or " + parts[1] : parts.at(0);
  return false;
}

// "already rejected by bob at 2026-…Z via ui: too risky" and friends.
std::string AlreadyDecidedMessage(const Approval& a) {
  const std::string when = FormatTimeMs(a.decided_at_ms);
  switch (a.state) {
    case State::kApproved:
    case State::kExecuting:
    case State::kCompleted:
    case State::kFailed: {
      std::string m = "already approved by " + a.decided_by + " at " + when + " via " + a.decided_via;
      if (a.state != State::kApproved) m += "; now " + std::string(StateName(a.state));
      return m;
    }
    case State::kRejected:
      return "already rejected by " + a.decided_by + " at " + when + " via " + a.decided_via + ": " +
             a.reason;
    case State::kExpired:
      return "already expired at " + when + ": " + a.reason;
    case State::kCancelled:
      return "already cancelled by " + a.decided_by + " at " + when + ": " + a.reason;
    case State::kLapsed:
      return "already approved by " + a.decided_by + " at " + when + ", then lapsed: " + a.reason;
    case State::kPending:
      break;
  }
  return "pending";
}

std::string ExpiryReason(const Approval& a) {
  return "expired: no decision within " + FormatDuration(a.expires_at_ms - a.created_at_ms) +
         " (on_timeout=" + a.on_timeout + "); not executed";
}

Json VotesSummary(const Approval& a) {
  return Json{{"approvals_so_far", a.ApprovalsSoFar()}, {"approvals_needed", a.approvers_needed}};
}

Json ExecutingAuditDetail(const Approval& a) {
  Json detail = {{"arguments", AuditValue(a.EffectiveArguments())}, {"edited", !a.edited_arguments.is_null()}};
  if (!a.edited_arguments.is_null()) detail["requested_arguments"] = AuditValue(a.arguments);
  return detail;
}

Status NotPending(const Approval& a, const std::string& wanted) {
  return Conflict("approval " + a.id + " is " + StateName(a.state) + ", not " + wanted);
}

// Store::Decide's checks that need no database: kInvalidArgument, or OK.
Status CheckDecisionInput(const DecisionInput& in) {
  if (in.reviewer.empty()) return InvalidArgument("reviewer is required");
  if (!IsValidVia(in.via)) {
    return InvalidArgument("via must be one of api, cli, ui, slack (got \"" + in.via + "\")");
  }
  if (!in.approve && in.reason.empty()) return InvalidArgument("a rejection needs a reason");
  if (in.edited_arguments) {
    if (!in.approve) return InvalidArgument("arguments can only be edited when approving");
    if (!in.edited_arguments->is_object()) return InvalidArgument("edited arguments must be a JSON object");
  }
  return Status::Ok();
}

Result<Approval> NewPendingApproval(const NewApproval& in) {
  if (in.principal.empty()) return InvalidArgument("principal is required");
  if (in.tool.empty()) return InvalidArgument("tool is required");
  if (in.approvers_needed < 1) return InvalidArgument("approvers_needed must be at least 1");
  if (in.timeout_ms < 0) return InvalidArgument("timeout must not be negative");
  const std::string on_timeout = in.on_timeout.empty() ? "reject" : in.on_timeout;
  if (on_timeout != "reject") {
    return InvalidArgument("on_timeout \"" + on_timeout +
                           "\" is not supported: an expired approval is always rejected, never run");
  }
  Result<Json> reviewers = NormaliseReviewers(in.reviewers);
  if (!reviewers.ok()) return reviewers.status();

  Approval a;
  a.principal = in.principal;
  a.session_id = in.session_id;
  a.tool = in.tool;
  a.arguments = in.arguments;
  a.fingerprint = Fingerprint(in.tool, in.arguments);
  a.rule = in.rule;
  a.risk = in.risk;
  a.state = State::kPending;
  a.approvers_needed = in.approvers_needed;
  a.reviewers = std::move(reviewers).value();
  a.editable = in.editable;
  a.on_timeout = on_timeout;
  a.notify = in.notify;
  if (in.use_within_ms < 0) return InvalidArgument("use_within must not be negative");
  a.use_within_ms = in.use_within_ms;
  a.trace_id = in.trace_id;
  if (in.remember_max_ms < 0) return InvalidArgument("remember_max_ms must not be negative");
  a.rule_reason = in.rule_reason;
  a.remember_max_ms = in.remember_max_ms;
  a.remember_any_arguments = in.remember_any_arguments;
  return a;
}

// ---- grants ------------------------------------------------------------------------------------

namespace {

// "grt_" + created_at as 12 lowercase hex digits (fixed width: string order = time order).
std::string GrantIdPrefix(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "grt_%012llx", static_cast<unsigned long long>(std::max<int64_t>(ms, 0)));
  return buf;
}

Json GrantDetail(const Grant& g) {
  return Json{{"grant_id", g.id},
              {"approval_id", g.approval_id},
              {"scope", g.scope},
              {"session_id", g.session_id},
              {"arguments", g.fingerprint.empty() ? "any" : "same"},
              {"fingerprint", g.fingerprint},
              {"expires_at", g.expires_at_ms}};
}

}  // namespace

Status CheckNewGrant(const NewGrant& in) {
  if (in.created_by.empty()) return InvalidArgument("a grant needs the reviewer who makes it");
  if (!IsValidVia(in.created_via)) return InvalidArgument("bad via \"" + in.created_via + "\"");
  if (in.for_ms <= 0) return InvalidArgument("remember: \"for\" must be a positive duration");
  return Status::Ok();
}

Result<Grant> MakeGrant(const Approval& a, const NewGrant& in, int64_t now_ms, const std::string& random_part) {
  const bool was_approved = a.state == State::kApproved || a.state == State::kExecuting ||
                            a.state == State::kCompleted || a.state == State::kFailed || a.state == State::kLapsed;
  if (!was_approved) {
    return Status(Code::kConflict, "only an approved call can be remembered; " + a.id + " is " + StateName(a.state));
  }
  const bool voted_approve = std::any_of(a.votes.begin(), a.votes.end(), [&](const Vote& v) {
    return v.approve && SameIdentity(v.reviewer, in.created_by);
  });
  if (!voted_approve) {
    return Status(Code::kPermissionDenied, "only a reviewer who approved " + a.id + " can remember it");
  }
  Status rememberable = CheckRememberable(a, in);
  if (!rememberable.ok()) return rememberable;
  Grant g;
  g.id = GrantIdPrefix(now_ms) + random_part;
  g.approval_id = a.id;
  g.principal = a.principal;
  g.scope = in.session_scope ? "session" : "principal";
  g.session_id = in.session_scope ? a.session_id : "";
  g.tool = a.tool;
  g.fingerprint = in.any_arguments ? "" : a.fingerprint;
  g.rule = a.rule;
  g.created_by = in.created_by;
  g.created_via = in.created_via;
  g.created_at_ms = now_ms;
  g.expires_at_ms = now_ms + in.for_ms;
  return g;
}

bool GrantCovers(const Grant& g, const GrantQuery& call) {
  return g.principal == call.principal && g.tool == call.tool &&
         (g.scope == "principal" || g.session_id == call.session_id) &&
         (g.fingerprint.empty() || g.fingerprint == call.fingerprint);
}

Status CheckRevocable(const Grant& g, int64_t now_ms) {
  if (g.revoked_at_ms != 0) {
    return Status(Code::kConflict, "grant " + g.id + " was already revoked by " + g.revoked_by + " at " +
                                       FormatTimeMs(g.revoked_at_ms));
  }
  if (g.expired_at_ms != 0 || g.expires_at_ms <= now_ms) {
    return Status(Code::kConflict, "grant " + g.id + " already expired at " + FormatTimeMs(g.expires_at_ms));
  }
  return Status::Ok();
}

AuditEvent GrantEvent(const Grant& g, const std::string& type, const std::string& actor, const std::string& via,
                      const std::string& decision) {
  AuditEvent e;
  e.type = type;
  e.approval_id = g.approval_id;
  e.principal = g.principal;
  e.actor = actor;
  e.via = via;
  e.tool = g.tool;
  e.rule = g.rule;
  e.decision = decision;
  e.detail = GrantDetail(g);
  return e;
}

}  // namespace holdgate::store::internal

namespace holdgate::store {

Status CheckRememberable(const Approval& a, const NewGrant& in) {
  if (in.for_ms <= 0) return InvalidArgument("remember: \"for\" must be a positive duration");
  if (a.approvers_needed > 1) {
    return Status(Code::kPermissionDenied, "an approval that needs " + std::to_string(a.approvers_needed) +
                                               " approvers cannot be remembered by one reviewer");
  }
  if (!a.edited_arguments.is_null()) {
    return Status(Code::kPermissionDenied, "an approval whose arguments were edited cannot be remembered");
  }
  const std::string rule = a.rule.empty() ? std::string("(none)") : a.rule;
  if (a.remember_max_ms <= 0) {
    return Status(Code::kPermissionDenied, "the rule " + rule + " does not allow remembering its approvals");
  }
  if (in.for_ms > a.remember_max_ms) {
    return InvalidArgument("remember: at most " + FormatDuration(a.remember_max_ms) + " for the rule " + rule +
                           " (asked " + FormatDuration(in.for_ms) + ")");
  }
  if (in.any_arguments && !a.remember_any_arguments) {
    return Status(Code::kPermissionDenied,
                  "the rule " + rule + " lets a remembered approval cover identical arguments only");
  }
  if (in.session_scope && a.session_id.empty()) {
    return InvalidArgument("the call has no session to bind the grant to; remember it for the principal");
  }
  return Status::Ok();
}

Status internal::CheckReviewerSessionRow(const ReviewerSessionRow& r) {
  if (r.id_hash.size() != 64 || r.csrf_token.size() != 64 || r.subject.empty() ||
      (r.role != "auditor" && r.role != "reviewer" && r.role != "admin") || r.last_seen_at_ms < r.created_at_ms ||
      r.expires_at_ms <= r.created_at_ms) {
    return InvalidArgument("malformed reviewer session");
  }
  return Status::Ok();
}

}  // namespace holdgate::store
