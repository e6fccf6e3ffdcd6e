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
// For rejected, expired, cancelled and lapsed approvals: "Not executed…" (never "retry later").
std::string RejectionText(const store::Approval& approval);
// The hold limit passed (or holdgate is stopping) before anyone decided.
std::string DeferralText(const std::string& approval_id, const std::string& waiting_for,
                         const std::string& review_url, bool shutting_down);
// notifications/progress message while held.
std::string ProgressText(const std::string& approval_id, const std::string& waiting_for,
                         const std::string& review_url);
// The approval was granted but the executing gate could not be written (store error): not run.
std::string ReleaseFailedText(const store::Approval& approval, const std::string& why);

// `_meta` key (results) or `error.data` key (errors) telling the agent that a reviewer edited the
// arguments: {"requested": …, "ran_with": …}.
inline constexpr char kEditedArgumentsMeta[] = "io.holdgate/edited_arguments";
// When a reviewer edited approval's arguments, says so in `response` (a JSON-RPC response of the
// call that ran): a first text item and `_meta` on a result, the message and `data` on an error.
// Otherwise leaves it alone.
void NoteEditedArguments(const store::Approval& approval, Json* response);

// The JSON-RPC response for an approval that already ran (completed or failed), for `id`.
Json StoredOutcome(const Json& id, const store::Approval& approval);

}  // namespace holdgate::gateway
