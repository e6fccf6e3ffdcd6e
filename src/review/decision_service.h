#pragma once
// DecisionService: the one door through which every reviewer decision enters, whichever surface
// it comes from — the review API (which the web page and the CLI use) and Slack buttons. The same
// rules hold at every door:
//   - only the reviewer and admin roles decide; an auditor never does (also from Slack);
//   - a rejection needs a reason; a reason is at most kMaxReasonBytes;
//   - nobody approves their own call (identities compared with store::SameIdentity);
//   - the approval's reviewer restrictions and quorum, and one vote per reviewer (store::Decide);
//   - a store that cannot write answers kUnavailable with the reason; nothing is decided.
// The decision reaches the waiting call only through the store's change feed; this service never
// talks to held calls.
//
// Thread-safe; Decide blocks on one store write.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"
#include "review/jwt_auth.h"
#include "store/approval.h"

namespace holdgate::store {
class Store;
}

namespace holdgate::review {

// "Remember this approval" (a grant, store/grant.h), asked together with an approve.
struct RememberRequest {
  int64_t for_ms = 0;
  bool session_scope = false;  // only calls in the approval's session (else any of the principal's)
  bool any_arguments = false;  // any arguments (the rule must allow it; else identical arguments)
};

struct DecisionRequest {
  std::string approval_id;
  std::string reviewer;  // the authenticated identity
  Role role = Role::kNone;  // the reviewer's built-in role: decides only as reviewer or admin
  // Every role name of the reviewer, for the approval's `reviewers` restriction (e.g. a Slack
  // user's configured ["reviewer", "ml-oncall"]). Empty: derived from `role`.
  std::vector<std::string> roles;
  std::string via;  // the door: "api" | "cli" | "ui" | "slack"
  // Where `via` came from: "slack-signature" (a verified Slack request), or "client-header" (the
  // API's X-Holdgate-Client, which any token holder can set: recorded, not trusted).
  std::string via_source;
  bool approve = false;
  std::string reason;  // white space trimmed here
  std::optional<Json> edited_arguments;
  // Approve only. Checked against the approval's rule BEFORE the vote is recorded, so a refused
  // remember decides nothing; the grant is made once the vote has approved the call and is
  // returned in DecisionOutcome::grant (DecisionOutcome::grant_error when the store refused it
  // after the vote, e.g. a concurrent change: the approval stands, without a grant). A repeated
  // approve that records no vote makes no grant.
  std::optional<RememberRequest> remember;
  std::vector<store::NewOutboxRow> outbox;  // written in the decision's transaction
};

// Errors: kPermissionDenied (role, self-approval, reviewer restriction), kInvalidArgument
// (reason missing or too long, bad edit), kNotFound, kConflict (decided already; expired),
// kUnavailable (the store cannot write now).
class DecisionService {
 public:
  static constexpr size_t kMaxReasonBytes = 4096;
  static constexpr char kReasonRequired[] = "a reason is required to reject";

  // REQUIRES: `store` outlives the service.
  explicit DecisionService(store::Store& store);

  Result<store::DecisionOutcome> Decide(DecisionRequest request);
  // A bulk decision: every request checked exactly as Decide checks it, the votes written in one
  // store transaction, one result per request in order.
  std::vector<Result<store::DecisionOutcome>> DecideMany(std::vector<DecisionRequest> requests);

  // Revokes a grant: admins, and the reviewer who made it. kPermissionDenied otherwise;
  // kNotFound, kConflict (already revoked or expired) from the store.
  Result<store::Grant> RevokeGrant(const std::string& grant_id, const std::string& actor, Role role,
                                   const std::string& via, const std::string& reason);

 private:
  store::Store& store_;
};

// A Slack user's built-in role from its configured role names: the highest of admin, reviewer,
// auditor listed; reviewer when none of them is (custom role names only serve restrictions).
Role SlackUserRole(const std::vector<std::string>& configured_roles);

}  // namespace holdgate::review
