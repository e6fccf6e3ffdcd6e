#include "notify/payloads.h"

#include "common/clock.h"
#include "common/crypto.h"
#include "common/trace.h"
#include "common/upstream_names.h"

namespace holdgate::notify {

std::string ReviewLink(const std::string& review_base_url, const std::string& approval_id) {
  std::string base = review_base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/#/approvals/" + approval_id;
}

std::string MessageId(const std::string& approval_id, const std::string& event_type, const std::string& target,
                      int n) {
  const std::string digest =
      Sha256Hex(approval_id + '\n' + event_type + '\n' + target + '\n' + std::to_string(n));
  return "msg_" + digest.substr(0, 32);
}

std::string RiskText(const Json& risk) {
  if (risk.is_string()) return risk.get<std::string>();
  if (!risk.is_object()) return "";
  std::string level = risk.value("level", "");
  std::string category = risk.value("category", "");
  if (level.empty()) return category;
  return category.empty() ? level : level + " (" + category + ")";
}

Json ApprovalData(const store::Approval& a, const std::string& review_url, bool include_arguments) {
  Json d = {
      {"id", a.id},
      {"tool", a.tool},
      {"principal", a.principal},
      {"session_id", a.session_id},
      {"rule", a.rule},
      {"risk", a.risk},
      {"state", store::StateName(a.state)},
      {"arguments_sha256", a.fingerprint},
      {"approvers_needed", a.approvers_needed},
      {"approvals_so_far", a.ApprovalsSoFar()},
      {"created_at", FormatTimeMs(a.created_at_ms)},
      {"expires_at", a.expires_at_ms > 0 ? Json(FormatTimeMs(a.expires_at_ms)) : Json(nullptr)},
      {"review_url", ReviewLink(review_url, a.id)},
  };
  if (std::string upstream = GlobalUpstreamNames().Of(a.tool); !upstream.empty()) d["upstream"] = std::move(upstream);
  if (include_arguments) d["arguments"] = a.arguments;
  if (!a.edited_arguments.is_null()) {
    d["edited"] = true;
    if (include_arguments) d["edited_arguments"] = a.edited_arguments;
  }
  if (a.state != store::State::kPending) {
    d["decided_by"] = a.decided_by;
    d["decided_via"] = a.decided_via;
    d["decided_at"] = a.decided_at_ms > 0 ? Json(FormatTimeMs(a.decided_at_ms)) : Json(nullptr);
    d["reason"] = a.reason;
  }
  return d;
}

Json WebhookBody(const store::Approval& approval, const std::string& event_type, int64_t at_ms,
                 const std::string& review_url, bool include_arguments, const Json& extra) {
  Json data = ApprovalData(approval, review_url, include_arguments);
  if (extra.is_object()) {
    for (auto it = extra.begin(); it != extra.end(); ++it) data[it.key()] = it.value();
  }
  // Built inside the transaction of the change, on the thread that made it: for a change made
  // while handling an agent's call (approval.created), that call's W3C trace id.
  if (const std::string& trace_id = trace::CurrentTraceId(); !trace_id.empty()) data["trace_id"] = trace_id;
  return Json{{"type", event_type}, {"timestamp", FormatTimeMs(at_ms)}, {"data", std::move(data)}};
}

}  // namespace holdgate::notify
