#include "gateway/agent_messages.h"

#include "common/clock.h"
#include "mcp/jsonrpc.h"

namespace holdgate::gateway {
namespace {

std::string Join(const Json& list, const std::string& prefix) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& v : list) {
    if (!v.is_string()) continue;
    if (!out.empty()) out += " or ";
    out += prefix + v.get<std::string>();
  }
  return out;
}

}  // namespace

std::string WaitingFor(const store::Approval& approval) {
  int n = approval.approvers_needed;
  std::string who;
  if (approval.reviewers.is_object()) {
    std::string roles = Join(approval.reviewers.value("roles", Json()), "role ");
    std::string names = Join(approval.reviewers.value("names", Json()), "");
    who = roles.empty() ? names : (names.empty() ? roles : roles + " or " + names);
  }
  if (who.empty()) who = "any reviewer";
  return std::to_string(n) + (n == 1 ? " approval" : " approvals") + " from " + who +
         " (not " + approval.principal + ")";
}

std::string ReviewLink(const std::string& review_url, const std::string& approval_id) {
  return review_url + "/#/approvals/" + approval_id;
}

std::string DenialText(const std::string& tool, const policy::Decision& decision) {
  std::string reason = decision.reason.empty() ? "the policy does not allow this tool" : decision.reason;
  return "Not executed: the call to " + tool + " was denied by policy (" + decision.rule + "): " + reason +
         ". Do not retry this call.";
}

std::string RejectionText(const store::Approval& approval) { return store::NotExecutedText(approval); }

std::string DeferralText(const std::string& approval_id, const std::string& waiting_for,
                         const std::string& review_url, bool shutting_down) {
  std::string head = shutting_down ? "holdgate is restarting, so it stopped holding this call. "
                                   : "This call is waiting for human approval and was NOT executed yet. ";
  return head + "Approval " + approval_id + " needs " + waiting_for + "; review it at " +
         ReviewLink(review_url, approval_id) +
         ". Once it is approved, retry the identical call (same tool and arguments): it will then run "
         "exactly once. A retry before the decision waits for it again; if the call is rejected, the retry "
         "returns the reason.";
}

std::string ProgressText(const std::string& approval_id, const std::string& waiting_for,
                         const std::string& review_url) {
  return "Awaiting human approval (" + approval_id + "): needs " + waiting_for + ". Review: " +
         ReviewLink(review_url, approval_id);
}

std::string ReleaseFailedText(const store::Approval& approval, const std::string& why) {
  return "Not executed: approval " + approval.id + " for " + approval.tool +
         " was granted, but holdgate could not record the release (" + why +
         "), so it did not run the tool. Retry the identical call later: it runs at most once.";
}

void NoteEditedArguments(const store::Approval& approval, Json* response) {
  if (approval.edited_arguments.is_null() || !response->is_object()) return;
  const Json note = {{"requested", approval.arguments}, {"ran_with", approval.edited_arguments}};
  const std::string text = "Note from holdgate: a reviewer edited the arguments before approving (approval " +
                           approval.id + "). The call ran with " + DumpJson(approval.edited_arguments) +
                           ", not the requested " + DumpJson(approval.arguments) + ".";
  if (auto r = response->find("result"); r != response->end() && r->is_object()) {
    Json& content = (*r)["content"];
    if (!content.is_array()) content = Json::array();
    content.insert(content.begin(), Json{{"type", "text"}, {"text", text}});
    Json& meta = (*r)["_meta"];
    if (!meta.is_object()) meta = Json::object();
    meta[kEditedArgumentsMeta] = note;
    return;
  }
  if (auto e = response->find("error"); e != response->end() && e->is_object()) {
    Json& data = (*e)["data"];
    if (!data.is_object()) data = data.is_null() ? Json::object() : Json{{"upstream", data}};
    data[kEditedArgumentsMeta] = note;
    (*e)["message"] = e->value("message", std::string("upstream error")) + " (" + text + ")";
  }
}

Json StoredOutcome(const Json& id, const store::Approval& approval) {
  if (approval.state == store::State::kFailed) {
    // An upstream JSON-RPC error is an object; a call recovered as failed (its replica stopped
    // while the tool ran) carries {"error": "<why>", "recovered": true} and is told in words.
    if (approval.result.is_object() && approval.result.contains("error") && approval.result["error"].is_object()) {
      const Json& e = approval.result["error"];
      return mcp::MakeError(id, e.value("code", mcp::kInternalError), e.value("message", "upstream error"),
                            e.value("data", Json()));
    }
    return mcp::MakeResult(id, mcp::ToolTextResult(
        "The approved call to " + approval.tool + " did not complete normally (approval " + approval.id +
        "): " + approval.reason + ". Do not retry without checking what happened.", true));
  }
  return mcp::MakeResult(id, approval.result.is_null() ? Json::object() : approval.result);
}

}  // namespace holdgate::gateway
