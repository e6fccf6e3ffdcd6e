// Grant routes (list, revoke: remembered approvals) and the admin policy routes (the active
// policy, what-if check, reload), the latter through the PolicyControl the server wires in.
#include "common/log.h"
#include "review/api_json.h"
#include "review/server_impl.h"

namespace holdgate::review {
namespace {

Result<Json> ParseBodyObject(const std::string& body, bool allow_empty) {
  if (allow_empty && body.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  auto parsed = ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) return InvalidArgument("body must be a JSON object");
  return std::move(*parsed);
}

}  // namespace

// GET /api/grants[?all=1]: live grants, newest first (all=1: also revoked and expired ones).
void ReviewServer::Impl::ListGrants(const httplib::Request& req, httplib::Response& res) {
  const std::string all = req.get_param_value("all");
  const bool include_ended = all == "1" || all == "true";
  auto grants = store_.ListGrants(include_ended);
  if (!grants.ok()) return SendStatus(res, grants.status());
  const int64_t now = clock_.NowMs();
  Json items = Json::array();
  for (const auto& g : *grants) items.push_back(GrantJson(g, now));
  SendJson(res, 200, Json{{"grants", std::move(items)}});
}

// POST /api/grants/{id}/revoke {"reason"?}: admins and the reviewer who made the grant.
void ReviewServer::Impl::RevokeGrant(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  const Caller caller = CallerOf(req);
  auto body = ParseBodyObject(req.body, true);
  if (!body.ok()) return SendError(res, 400, "bad_request", body.status().message());
  std::string reason;
  if (body->contains("reason") && !(*body)["reason"].is_null()) {
    if (!(*body)["reason"].is_string()) return SendError(res, 400, "bad_request", "reason must be a string");
    reason = (*body)["reason"].get<std::string>();
  }
  auto revoked = decisions_.RevokeGrant(id, caller.name, caller.role, caller.via, reason);
  if (!revoked.ok()) return SendStatus(res, revoked.status());
  SendJson(res, 200, Json{{"grant", GrantJson(*revoked, clock_.NowMs())}});
}

// GET /api/policy (admin): the active policy, its hash and when it was loaded.
void ReviewServer::Impl::GetPolicy(const httplib::Request& req, httplib::Response& res) {
  const PolicyControl* pc = PolicyControlFor(req, res);
  if (pc == nullptr) return;
  Json p = pc->get ? pc->get() : Json();
  if (p.is_null()) return SendError(res, 404, "not_found", "no policy is loaded (every call is allowed)");
  SendJson(res, 200, p);
}

// POST /api/policy/check (admin) {"tool", "arguments"?, "principal"?, "session_id"?}: what the
// active policy would do with that call. Pure: nothing is held, counted or run; audited.
void ReviewServer::Impl::CheckPolicy(const httplib::Request& req, httplib::Response& res) {
  auto body = ParseBodyObject(req.body, false);
  if (!body.ok()) return SendError(res, 400, "bad_request", body.status().message());
  if (!body->contains("tool") || !(*body)["tool"].is_string() || (*body)["tool"].get<std::string>().empty()) {
    return SendError(res, 400, "bad_request", "\"tool\" must be a non-empty string");
  }
  if (body->contains("arguments") && !(*body)["arguments"].is_null() && !(*body)["arguments"].is_object()) {
    return SendError(res, 400, "bad_request", "\"arguments\" must be a JSON object");
  }
  for (const char* k : {"principal", "session_id"}) {
    if (body->contains(k) && !(*body)[k].is_string()) {
      return SendError(res, 400, "bad_request", std::string("\"") + k + "\" must be a string");
    }
  }
  const PolicyControl* pc = PolicyControlFor(req, res);
  if (pc == nullptr) return;
  if (!pc->check) return SendError(res, 404, "not_found", "no policy is loaded (every call is allowed)");
  auto verdict = pc->check(*body);
  if (!verdict.ok()) return SendStatus(res, verdict.status());
  const Caller caller = CallerOf(req);
  store::AuditEvent ev;
  ev.type = "policy.checked";
  ev.actor = caller.name;
  ev.via = caller.via;
  ev.tool = (*body)["tool"].get<std::string>();
  ev.rule = verdict->value("rule", "");
  ev.decision = verdict->value("action", "");
  ev.detail = Json{{"principal", body->value("principal", "")}, {"arguments", body->value("arguments", Json::object())}};
  if (verdict->contains("upstream")) ev.detail["upstream"] = (*verdict)["upstream"];
  (void)store_.AppendAudit(ev);
  SendJson(res, 200, *verdict);
}

// POST /api/policy/reload (admin): re-reads the policy file; a bad file keeps the old policy.
void ReviewServer::Impl::ReloadPolicy(const httplib::Request& req, httplib::Response& res) {
  const PolicyControl* pc = PolicyControlFor(req, res);
  if (pc == nullptr) return;
  if (!pc->reload) return SendError(res, 404, "not_found", "holdgate runs without a policy file");
  const Caller caller = CallerOf(req);
  auto reloaded = pc->reload(caller.name);
  if (!reloaded.ok()) {
    if (reloaded.status().code() == Code::kInvalidArgument) {
      return SendError(res, 422, "invalid_policy", reloaded.status().message());
    }
    return SendStatus(res, reloaded.status());
  }
  SendJson(res, 200, *reloaded);
}

}  // namespace holdgate::review
