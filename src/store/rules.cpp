// Rules shared by both store implementations: pure functions, no database.
#include "store/rules.h"

#include <algorithm>
#include <cstdio>

#include "common/clock.h"
#include "common/crypto.h"

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


}  // namespace holdgate::store::internal
