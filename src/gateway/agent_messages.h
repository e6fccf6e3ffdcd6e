#pragma once
// What agents are told when a call is refused, held, deferred or rejected. Worded for a model:
// it must be clear whether the tool ran, and whether retrying makes sense. Pure functions.
#include <string>

#include "common/json_util.h"
#include "policy/policy.h"
#include "store/approval.h"

namespace holdgate::gateway {

// "1 approval from any reviewer", "2 approvals from role admin or alice".
std::string WaitingFor(const store::Approval& approval);
// Review link for one approval.
std::string ReviewLink(const std::string& review_url, const std::string& approval_id);

std::string DenialText(const std::string& tool, const policy::Decision& decision);
// For rejected, expired and cancelled approvals: "Not executed; do not retry…".
std::string RejectionText(const store::Approval& approval);
// The hold limit passed (or holdgate is stopping) before anyone decided.
std::string DeferralText(const std::string& approval_id, const std::string& waiting_for,
                         const std::string& review_url, bool shutting_down);
// notifications/progress message while held.
std::string ProgressText(const std::string& approval_id, const std::string& waiting_for,
                         const std::string& review_url);
// The JSON-RPC response for an approval that already ran (completed or failed), for `id`.
Json StoredOutcome(const Json& id, const store::Approval& approval);

}  // namespace holdgate::gateway
