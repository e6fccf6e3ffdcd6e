// Approval routes: list, detail, approve / reject (through the decision service, the one door
// for every reviewer decision), comments.
#include <algorithm>
#include <sstream>

#include "common/log.h"
#include "common/text.h"
#include "review/api_json.h"
#include "review/server_impl.h"

namespace holdgate::review {
namespace {

constexpr size_t kMaxCommentBytes = 8192;

// Parses ?limit= within [1, max]; false on garbage.
bool ParseLimit(const httplib::Request& req, int def, int max, int* out) {
  if (!req.has_param("limit")) {
    *out = def;
    return true;
  }
  const std::string v = req.get_param_value("limit");
  if (v.empty() || v.size() > 6 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  int n = std::stoi(v);
  if (n < 1 || n > max) return false;
  *out = n;
  return true;
}

// A decision by the authenticated caller on one approval; the reason and edits are filled in by
// the handler.
DecisionRequest RequestFrom(const Caller& caller, const std::string& approval_id, bool approve) {
  DecisionRequest in;
  in.approval_id = approval_id;
  in.reviewer = caller.name;
  in.role = caller.role;
  in.via = caller.via;
  in.via_source = "client-header";  // X-Holdgate-Client: recorded, not trusted
  in.approve = approve;
  return in;
}

// A repeated vote is harmless (a double click) only when it is the same vote: true when `name`
// had voted the other way before (a vote cannot be changed).
bool VotedOtherWay(const store::DecisionOutcome& out, const std::string& name, bool approve) {
  if (out.changed) return false;
  for (const auto& v : out.approval.votes) {
    if (store::SameIdentity(v.reviewer, name) && v.approve != approve) return true;
  }
  return false;
}

// {"for": "30m", "scope": "principal"|"session", "arguments": "same"|"any"}
Result<RememberRequest> ParseRemember(const Json& j) {
  if (!j.is_object()) return InvalidArgument("remember must be an object like {\"for\": \"30m\"}");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "for" && it.key() != "scope" && it.key() != "arguments") {
      return InvalidArgument("remember takes for, scope and arguments only (got \"" + it.key().substr(0, 40) + "\")");
    }
  }
  RememberRequest r;
  if (!j.contains("for") || !j["for"].is_string()) {
    return InvalidArgument("remember.for must be a duration such as \"30m\" or \"1h\"");
  }
  r.for_ms = ParseDurationMs(j["for"].get<std::string>());
  if (r.for_ms <= 0) return InvalidArgument("remember.for must be a positive duration such as \"30m\" or \"1h\"");
  const std::string scope = j.contains("scope") && j["scope"].is_string() ? j["scope"].get<std::string>() : "principal";
  if (j.contains("scope") && !j["scope"].is_string()) return InvalidArgument("remember.scope must be a string");
  if (scope != "principal" && scope != "session") {
    return InvalidArgument("remember.scope must be \"principal\" or \"session\"");
  }
  r.session_scope = scope == "session";
  const std::string args =
      j.contains("arguments") && j["arguments"].is_string() ? j["arguments"].get<std::string>() : "same";
  if (j.contains("arguments") && !j["arguments"].is_string()) return InvalidArgument("remember.arguments must be a string");
  if (args != "same" && args != "any") return InvalidArgument("remember.arguments must be \"same\" or \"any\"");
  r.any_arguments = args == "any";
  return r;
}

}  // namespace

void ReviewServer::Impl::ListApprovals(const httplib::Request& req, httplib::Response& res) {
  store::ApprovalFilter f;
  if (req.has_param("state")) {
    std::stringstream ss(req.get_param_value("state"));
    std::string part;
    while (std::getline(ss, part, ',')) {
      part = std::string(TrimSpace(part));
      if (part.empty() || part == "all") continue;
      store::State st;
      if (!store::ParseState(part, &st)) {
        return SendError(res, 400, "bad_request", "unknown state \"" + part.substr(0, 40) +
                         "\" (pending, approved, executing, completed, failed, rejected, expired, cancelled, lapsed, all)");
      }
      f.states.push_back(st);
    }
  }
  f.tool = req.get_param_value("tool");
  f.principal = req.get_param_value("principal");
  for (const char* name : {"since", "until"}) {
    if (!req.has_param(name)) continue;
    int64_t ms = 0;
    if (!ParseTimeParam(req.get_param_value(name), &ms)) {
      return SendError(res, 400, "bad_request",
                       std::string(name) + " must be an RFC 3339 time, a date or epoch milliseconds");
    }
    (std::string_view(name) == "since" ? f.created_from_ms : f.created_to_ms) = ms;
  }
  if (!ParseLimit(req, 50, 500, &f.limit)) return SendError(res, 400, "bad_request", "limit must be 1..500");
  f.cursor = req.get_param_value("cursor");
  auto page = store_.List(f);
  if (!page.ok()) {
    if (page.status().code() == Code::kInvalidArgument) return SendError(res, 400, "bad_request", page.status().message());
    return SendStatus(res, page.status());
  }
  Json items = Json::array();
  for (const auto& a : page->approvals) items.push_back(ApprovalJson(a, base_url_));
  SendJson(res, 200, Json{{"approvals", std::move(items)},
                          {"next_cursor", page->next_cursor.empty() ? Json(nullptr) : Json(page->next_cursor)}});
}

void ReviewServer::Impl::GetApproval(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  auto a = store_.Get(id);
  if (!a.ok()) return SendStatus(res, a.status());
  const Caller caller = CallerOf(req);
  Json j = ApprovalJson(*a, base_url_);
  j["result"] = a->result;
  auto comments = store_.ListComments(id);
  if (!comments.ok()) return SendStatus(res, comments.status());
  Json cj = Json::array();
  for (const auto& c : *comments) cj.push_back(CommentJson(c));
  j["comments"] = std::move(cj);
  store::AuditFilter af;
  af.approval_id = id;
  af.limit = 1000;
  auto timeline = store_.ListAudit(af);
  if (!timeline.ok()) return SendStatus(res, timeline.status());
  Json tj = Json::array();
  for (const auto& e : timeline->events) tj.push_back(AuditEventJson(e));
  j["timeline"] = std::move(tj);
  j["may_decide"] = MayDecideJson(*a, caller.name, caller.role);
  j["agent_message"] = AgentMessage(*a, base_url_);
  SendJson(res, 200, j);
}

void ReviewServer::Impl::Decide(const httplib::Request& req, httplib::Response& res, bool approve) {
  const std::string id = req.matches[1];
  const Caller caller = CallerOf(req);
  Json body = Json::object();
  if (!TrimSpace(req.body).empty()) {
    auto parsed = ParseJson(req.body);
    if (!parsed.ok()) return SendError(res, 400, "bad_request", "body is not valid JSON");
    if (!parsed->is_object()) return SendError(res, 400, "bad_request", "body must be a JSON object");
    body = std::move(*parsed);
  }
  DecisionRequest in = RequestFrom(caller, id, approve);
  if (body.contains("reason")) {
    if (!body["reason"].is_string() && !body["reason"].is_null()) {
      return SendError(res, 400, "bad_request", "reason must be a string");
    }
    if (body["reason"].is_string()) in.reason = body["reason"].get<std::string>();
  }
  if (body.contains("arguments") && !body["arguments"].is_null()) {
    if (!approve) return SendError(res, 400, "bad_request", "arguments can only be edited when approving");
    if (!body["arguments"].is_object()) return SendError(res, 400, "bad_request", "arguments must be a JSON object");
    in.edited_arguments = body["arguments"];
  }
  if (body.contains("remember") && !body["remember"].is_null()) {
    if (!approve) return SendError(res, 400, "bad_request", "only an approval can be remembered");
    auto remember = ParseRemember(body["remember"]);
    if (!remember.ok()) return SendError(res, 400, "bad_request", remember.status().message());
    in.remember = *remember;
  }
  auto out = decisions_.Decide(std::move(in));
  if (!out.ok()) {
    const Status& s = out.status();
    if (s.code() == Code::kConflict) {
      Json extra = Json::object();
      auto now = store_.Get(id);
      if (now.ok()) {
        extra["state"] = store::StateName(now->state);
        extra["approval"] = ApprovalJson(*now, base_url_);
      }
      return SendError(res, 409, "already_decided", s.message(), extra);
    }
    if (s.code() == Code::kInvalidArgument) {
      return SendError(res, 400, s.message() == DecisionService::kReasonRequired ? "reason_required" : "bad_request",
                       s.message());
    }
    return SendStatus(res, s);
  }
  if (VotedOtherWay(*out, caller.name, approve)) {
    return SendError(res, 409, "already_voted",
                     std::string("you already voted to ") + (approve ? "reject" : "approve") +
                         " this approval; a vote cannot be changed",
                     Json{{"state", store::StateName(out->state)}, {"approval", ApprovalJson(out->approval, base_url_)}});
  }
  Json reply{{"outcome", {{"changed", out->changed},
                          {"state", store::StateName(out->state)},
                          {"approvals_so_far", out->approvals_so_far},
                          {"approvals_needed", out->approvals_needed},
                          {"message", out->message}}},
             {"approval", ApprovalJson(out->approval, base_url_)}};
  if (out->grant) reply["grant"] = GrantJson(*out->grant, clock_.NowMs());
  if (!out->grant_error.empty()) reply["grant_error"] = out->grant_error;
  SendJson(res, 200, reply);
}

// POST /api/approvals/decide: {"approve": bool, "reason": "...", "ids": [...]} or
// {"approve": …, "filter": {"tool", "principal", "rule"}} (pending approvals that match, newest
// first, at most kMaxBulk). Every approval is checked on its own (role, quorum, self-approval,
// reviewers); the votes are written in one transaction. 200 with one result per approval.
void ReviewServer::Impl::DecideMany(const httplib::Request& req, httplib::Response& res) {
  constexpr size_t kMaxBulk = 500;
  const Caller caller = CallerOf(req);
  auto parsed = ParseJson(req.body);
  if (!parsed.ok() || !parsed->is_object()) return SendError(res, 400, "bad_request", "body must be a JSON object");
  const Json& body = *parsed;
  if (!body.contains("approve") || !body["approve"].is_boolean()) {
    return SendError(res, 400, "bad_request", "\"approve\" must be true or false");
  }
  const bool approve = body["approve"].get<bool>();
  std::string reason;
  if (body.contains("reason") && !body["reason"].is_null()) {
    if (!body["reason"].is_string()) return SendError(res, 400, "bad_request", "reason must be a string");
    reason = body["reason"].get<std::string>();
  }
  const bool has_ids = body.contains("ids"), has_filter = body.contains("filter");
  if (has_ids == has_filter) return SendError(res, 400, "bad_request", "give either \"ids\" or \"filter\"");
  std::vector<std::string> ids;
  if (has_ids) {
    if (!body["ids"].is_array() || body["ids"].empty() || body["ids"].size() > kMaxBulk) {
      return SendError(res, 400, "bad_request", "ids must be an array of 1.." + std::to_string(kMaxBulk) + " approval ids");
    }
    for (const auto& id : body["ids"]) {
      if (!id.is_string()) return SendError(res, 400, "bad_request", "ids must be strings");
      if (std::find(ids.begin(), ids.end(), id.get<std::string>()) == ids.end()) ids.push_back(id.get<std::string>());
    }
  } else {
    const Json& f = body["filter"];
    if (!f.is_object() || f.empty()) {
      return SendError(res, 400, "bad_request", "filter must name at least one of tool, principal, rule");
    }
    for (auto it = f.begin(); it != f.end(); ++it) {
      if ((it.key() != "tool" && it.key() != "principal" && it.key() != "rule") || !it.value().is_string()) {
        return SendError(res, 400, "bad_request", "filter takes string tool, principal and rule only");
      }
    }
    store::ApprovalFilter af;
    af.states = {store::State::kPending};
    af.tool = f.value("tool", "");
    af.principal = f.value("principal", "");
    af.limit = static_cast<int>(kMaxBulk);
    const std::string rule = f.value("rule", "");
    do {
      auto page = store_.List(af);
      if (!page.ok()) return SendStatus(res, page.status());
      for (const auto& a : page->approvals) {
        if (ids.size() < kMaxBulk && (rule.empty() || a.rule == rule)) ids.push_back(a.id);
      }
      af.cursor = page->next_cursor;
    } while (!af.cursor.empty() && ids.size() < kMaxBulk);
  }
  std::vector<DecisionRequest> requests;
  for (const std::string& id : ids) {
    DecisionRequest in = RequestFrom(caller, id, approve);
    in.reason = reason;
    requests.push_back(std::move(in));
  }
  auto outcomes = decisions_.DecideMany(std::move(requests));
  Json results = Json::array();
  int decided = 0, refused = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& o = outcomes[i];
    if (o.ok() && VotedOtherWay(*o, caller.name, approve)) {
      ++refused;
      results.push_back(Json{{"id", ids[i]}, {"ok", false}, {"error", "already_voted"},
                             {"message", std::string("you already voted to ") + (approve ? "reject" : "approve") +
                                             " this approval; a vote cannot be changed"}});
      continue;
    }
    if (o.ok()) {
      ++decided;
      results.push_back(Json{{"id", ids[i]}, {"ok", true}, {"changed", o->changed},
                             {"state", store::StateName(o->state)}, {"message", o->message}});
      continue;
    }
    ++refused;
    const Status& s = o.status();
    std::string code = s.code() == Code::kConflict           ? "already_decided"
                       : s.code() == Code::kPermissionDenied ? "forbidden"
                       : s.code() == Code::kNotFound         ? "not_found"
                       : s.code() == Code::kUnavailable      ? "unavailable"
                       : s.message() == DecisionService::kReasonRequired ? "reason_required"
                                                                          : "bad_request";
    results.push_back(Json{{"id", ids[i]}, {"ok", false}, {"error", code}, {"message", s.message()}});
  }
  SendJson(res, 200, Json{{"results", std::move(results)}, {"decided", decided}, {"refused", refused}});
}

void ReviewServer::Impl::AddComment(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  const Caller caller = CallerOf(req);
  auto parsed = ParseJson(req.body);
  if (!parsed.ok()) return SendError(res, 400, "bad_request", "body is not valid JSON");
  if (!parsed->is_object() || !parsed->contains("body") || !(*parsed)["body"].is_string()) {
    return SendError(res, 400, "bad_request", "body must be {\"body\": \"…\"}");
  }
  std::string text(TrimSpace((*parsed)["body"].get<std::string>()));
  if (text.empty()) return SendError(res, 400, "bad_request", "the comment is empty");
  if (text.size() > kMaxCommentBytes) return SendError(res, 400, "bad_request", "the comment is too long (max 8192 bytes)");
  auto c = store_.AddComment(id, caller.name, text);
  if (!c.ok()) return SendStatus(res, c.status());
  SendJson(res, 201, Json{{"comment", CommentJson(*c)}});
}

}  // namespace holdgate::review
