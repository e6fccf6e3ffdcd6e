// The tool catalogue (GET /api/tools) and the policy editor's routes (validate, dry run, save,
// versions, rollback), through the ToolCatalogueSource and PolicyControl the server wires in;
// ?upstream=NAME on any of them means that upstream's own policy file.
// Reads are open to every role; every change is admin-only (routes.cpp) and audited by the
// PolicyControl with the caller's name and the required "why".
#include "review/server_impl.h"

namespace holdgate::review {
namespace {

Result<Json> BodyObject(const std::string& body) {
  auto parsed = ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) return InvalidArgument("body must be a JSON object");
  return std::move(*parsed);
}

// "text" (a string: the file exactly) or "policy" (an object, written with two-space indent).
Result<std::string> DraftText(const Json& body) {
  if (body.contains("text")) {
    if (!body["text"].is_string()) return InvalidArgument("\"text\" must be a string (the policy file)");
    return body["text"].get<std::string>();
  }
  if (body.contains("policy")) {
    if (!body["policy"].is_object()) return InvalidArgument("\"policy\" must be a JSON object");
    return body["policy"].dump(2) + "\n";
  }
  return InvalidArgument("give the draft as \"text\" (the policy file) or \"policy\" (a JSON object)");
}

Result<std::string> OptionalString(const Json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::string();
  if (!body[key].is_string()) return InvalidArgument(std::string("\"") + key + "\" must be a string");
  return body[key].get<std::string>();
}

// A failed save or rollback: the parser's problems are 422; a file that cannot be written is a
// 500 that says why (admins only see it); the rest as usual.
void SendChangeFailure(httplib::Response& res, const Status& s) {
  if (s.code() == Code::kInvalidArgument) return ReviewServer::Impl::SendError(res, 422, "invalid_policy", s.message());
  if (s.code() == Code::kIo) return ReviewServer::Impl::SendError(res, 500, "io_error", s.message());
  ReviewServer::Impl::SendStatus(res, s);
}

}  // namespace

const PolicyControl* ReviewServer::Impl::PolicyControlFor(const httplib::Request& req, httplib::Response& res) {
  const std::string upstream = req.get_param_value("upstream");
  if (upstream.empty()) return &policy_control_;
  for (const auto& [name, control] : upstream_policy_controls_) {
    if (name == upstream) return &control;
  }
  SendError(res, 404, "not_found",
            "no upstream named \"" + upstream + "\" has a policy file of its own (its tools are decided by the top-level policy)");
  return nullptr;
}

// GET /api/policies: the policy files the editor can open: the top-level one (when there is one)
// and each upstream's own, with its hash.
void ReviewServer::Impl::ListPolicies(const httplib::Request&, httplib::Response& res) {
  Json out = Json::array();
  auto add = [&out](const std::string& upstream, const PolicyControl& c) {
    Json p = c.get ? c.get() : Json();
    if (p.is_null()) return;
    Json entry{{"upstream", upstream.empty() ? Json() : Json(upstream)}, {"path", p.value("path", "")},
               {"hash", p.value("hash", "")}, {"loaded_at", p.value("loaded_at", "")}};
    if (!upstream.empty()) entry["prefix"] = p.value("prefix", "");
    out.push_back(std::move(entry));
  };
  add("", policy_control_);
  for (const auto& [name, control] : upstream_policy_controls_) add(name, control);
  res.set_header("Cache-Control", "no-store");
  SendJson(res, 200, Json{{"policies", std::move(out)}});
}

// GET /api/tools[?refresh=1]: every tool of the upstream with its decision, risk and 24 h counts.
void ReviewServer::Impl::ListTools(const httplib::Request& req, httplib::Response& res) {
  if (!tool_catalogue_) return SendError(res, 404, "not_found", "the tool catalogue is not available");
  const std::string refresh = req.get_param_value("refresh");
  auto tools = tool_catalogue_(refresh == "1" || refresh == "true");
  if (!tools.ok()) {
    if (tools.status().code() == Code::kUnavailable || tools.status().code() == Code::kDeadlineExceeded) {
      return SendError(res, 503, "upstream_unavailable", tools.status().message());
    }
    return SendStatus(res, tools.status());
  }
  res.set_header("Cache-Control", "no-store");
  SendJson(res, 200, *tools);
}

// POST /api/policy/validate (admin) {"text"|"policy", "tools"?}: `policy check` of a draft.
void ReviewServer::Impl::ValidatePolicy(const httplib::Request& req, httplib::Response& res) {
  auto body = BodyObject(req.body);
  if (!body.ok()) return SendError(res, 400, "bad_request", body.status().message());
  auto text = DraftText(*body);
  if (!text.ok()) return SendError(res, 400, "bad_request", text.status().message());
  const PolicyControl* pc = PolicyControlFor(req, res);
  if (pc == nullptr) return;
  if (!pc->validate) return SendError(res, 404, "not_found", "holdgate runs without a policy file");
  const Json* tools = body->contains("tools") && !(*body)["tools"].is_null() ? &(*body)["tools"] : nullptr;
  SendJson(res, 200, pc->validate(*text, tools));
}

// POST /api/policy/dry-run (admin) {"text"|"policy", "limit"?}: the last audited calls re-decided
// under the draft. 422 with the parser's message for a draft that does not load.
void ReviewServer::Impl::DryRunPolicy(const httplib::Request& req, httplib::Response& res) {
  auto body = BodyObject(req.body);
  if (!body.ok()) return SendError(res, 400, "bad_request", body.status().message());
  auto text = DraftText(*body);
  if (!text.ok()) return SendError(res, 400, "bad_request", text.status().message());
  int limit = 200;
  if (body->contains("limit")) {
    if (!(*body)["limit"].is_number_integer()) return SendError(res, 400, "bad_request", "\"limit\" must be an integer");
    limit = (*body)["limit"].get<int>();
    if (limit < 1 || limit > 1000) return SendError(res, 400, "bad_request", "\"limit\" must be 1..1000");
  }
  const PolicyControl* pc = PolicyControlFor(req, res);
  if (pc == nullptr) return;
  if (!pc->dry_run) return SendError(res, 404, "not_found", "holdgate runs without a policy file");
  auto result = pc->dry_run(*text, limit);
  if (!result.ok()) {
    if (result.status().code() == Code::kInvalidArgument) {
      return SendError(res, 422, "invalid_policy", result.status().message());
    }
    return SendStatus(res, result.status());
  }
  SendJson(res, 200, *result);
}

// POST /api/policy (admin) {"text"|"policy", "why", "base_hash"?}: saves, versions, reloads.
void ReviewServer::Impl::SavePolicy(const httplib::Request& req, httplib::Response& res) {
  auto body = BodyObject(req.body);
  if (!body.ok()) return SendError(res, 400, "bad_request", body.status().message());
  auto text = DraftText(*body);
  if (!text.ok()) return SendError(res, 400, "bad_request", text.status().message());
  auto why = OptionalString(*body, "why");
  if (!why.ok()) return SendError(res, 400, "bad_request", why.status().message());
  auto base = OptionalString(*body, "base_hash");
  if (!base.ok()) return SendError(res, 400, "bad_request", base.status().message());
  if (why->find_first_not_of(" \t\r\n") == std::string::npos) {
    return SendError(res, 400, "bad_request", "a reason (\"why\") is required to change the policy");
  }
  const PolicyControl* pc = PolicyControlFor(req, res);
  if (pc == nullptr) return;
  if (!pc->save) return SendError(res, 404, "not_found", "holdgate runs without a policy file");
  const Caller caller = CallerOf(req);
  PolicySave save{*text, *why, *base, caller.name, caller.via};
  auto saved = pc->save(save);
  if (!saved.ok()) return SendChangeFailure(res, saved.status());
  SendJson(res, 200, *saved);
}

// GET /api/policy/versions: the saved versions, newest first.
void ReviewServer::Impl::ListPolicyVersions(const httplib::Request& req, httplib::Response& res) {
  const PolicyControl* pc = PolicyControlFor(req, res);
  if (pc == nullptr) return;
  if (!pc->versions) return SendError(res, 404, "not_found", "holdgate runs without a policy file");
  auto v = pc->versions();
  if (!v.ok()) return SendStatus(res, v.status());
  SendJson(res, 200, *v);
}

// GET /api/policy/versions/{id}: one version and its text.
void ReviewServer::Impl::GetPolicyVersion(const httplib::Request& req, httplib::Response& res) {
  const PolicyControl* pc = PolicyControlFor(req, res);
  if (pc == nullptr) return;
  if (!pc->version) return SendError(res, 404, "not_found", "holdgate runs without a policy file");
  auto v = pc->version(req.matches[1]);
  if (!v.ok()) return SendStatus(res, v.status());
  SendJson(res, 200, *v);
}

// POST /api/policy/versions/{id}/rollback (admin) {"why"}: saves that version as the policy.
void ReviewServer::Impl::RollbackPolicy(const httplib::Request& req, httplib::Response& res) {
  auto body = BodyObject(req.body);
  if (!body.ok()) return SendError(res, 400, "bad_request", body.status().message());
  auto why = OptionalString(*body, "why");
  if (!why.ok()) return SendError(res, 400, "bad_request", why.status().message());
  if (why->find_first_not_of(" \t\r\n") == std::string::npos) {
    return SendError(res, 400, "bad_request", "a reason (\"why\") is required to change the policy");
  }
  const PolicyControl* pc = PolicyControlFor(req, res);
  if (pc == nullptr) return;
  if (!pc->rollback) return SendError(res, 404, "not_found", "holdgate runs without a policy file");
  const Caller caller = CallerOf(req);
  PolicySave save{"", *why, "", caller.name, caller.via};
  auto rolled = pc->rollback(req.matches[1], save);
  if (!rolled.ok()) return SendChangeFailure(res, rolled.status());
  SendJson(res, 200, *rolled);
}

}  // namespace holdgate::review
