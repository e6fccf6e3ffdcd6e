#include "server/policy_admin.h"

#include <fstream>
#include <sstream>

#include "common/log.h"
#include "store/store.h"

namespace holdgate::server {
namespace {

Json ApprovalSettingsJson(const policy::ApprovalSettings& a) {
  return Json{{"approvers", a.approvers},
              {"reviewers", a.reviewers},
              {"timeout", FormatDuration(a.timeout_ms)},
              {"hold", FormatDuration(a.hold_ms)},
              {"use_within", FormatDuration(a.use_within_ms)},
              {"editable", a.editable},
              {"remember", a.remember_max_ms > 0 ? Json{{"max", FormatDuration(a.remember_max_ms)},
                                                        {"any_arguments", a.remember_any_arguments}}
                                                  : Json(false)}};
}

}  // namespace

Json DecisionJson(const policy::Decision& d) {
  Json j{{"action", policy::ActionName(d.action)}, {"rule", d.rule}, {"reason", d.reason},
         {"risk", d.risk ? *d.risk : Json()}};
  if (d.shadow) {
    j["shadow"] = true;
    j["shadow_action"] = policy::ActionName(d.shadow_action);
  }
  if (d.approval) j["approval"] = ApprovalSettingsJson(*d.approval);
  Json limits = Json::array();
  if (d.limits) {
    for (const policy::Limit& l : *d.limits) {
      limits.push_back(Json{{"counter", l.counter}, {"max", l.max}, {"window", FormatDuration(l.window_ms)},
                            {"scope", policy::ScopeName(l.scope)}, {"path", l.path}});
    }
  }
  j["limits"] = std::move(limits);
  return j;
}

PolicyAdmin::PolicyAdmin(std::string path, store::Store* store, const Clock& clock)
    : path_(std::move(path)), store_(store), clock_(clock) {}

Result<PolicyAdmin::Snapshot> PolicyAdmin::Read(const std::string& by, const std::string& trigger) const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return IoError(path_ + ": cannot open the policy file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return IoError(path_ + ": error reading the policy file");
  const std::string text = buf.str();
  auto parsed = policy::Policy::Parse(text);
  if (!parsed.ok()) return Status(parsed.status().code(), path_ + ":\n" + parsed.status().message());
  Snapshot s;
  s.policy = parsed.value();
  s.document = Json::parse(text, nullptr, false);  // Parse accepted it, so it is JSON
  s.loaded_at_ms = clock_.NowMs();
  s.loaded_by = by;
  s.trigger = trigger;
  return s;
}

std::shared_ptr<const policy::Policy> PolicyAdmin::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_ ? current_->policy : nullptr;
}

Result<std::shared_ptr<const policy::Policy>> PolicyAdmin::LoadInitial() {
  if (path_.empty()) return std::shared_ptr<const policy::Policy>();
  std::lock_guard<std::mutex> load(load_mu_);
  auto snap = Read("holdgate", "start");
  if (!snap.ok()) return snap.status();
  auto shared = std::make_shared<const Snapshot>(std::move(*snap));
  std::lock_guard<std::mutex> lock(mu_);
  current_ = shared;
  return shared->policy;
}

Status PolicyAdmin::Reload(const std::string& actor, const std::string& trigger, const Apply& apply) {
  if (path_.empty()) return NotFound("holdgate runs without a policy file (--policy)");
  std::lock_guard<std::mutex> load(load_mu_);
  auto snap = Read(actor, trigger);
  store::AuditEvent ev;
  ev.actor = actor;
  ev.via = actor == "holdgate" ? "system" : "api";
  if (!snap.ok()) {
    log::Error("policy reload refused; keeping the previous policy",
               {{"file", path_}, {"trigger", trigger}, {"error", snap.status().message()}});
    ev.type = "policy.reload_failed";
    ev.decision = "refused";
    ev.detail = {{"file", path_}, {"trigger", trigger}, {"error", snap.status().message()}};
    if (store_) (void)store_->AppendAudit(ev);
    return Status(snap.status().code() == Code::kIo ? Code::kIo : Code::kInvalidArgument, snap.status().message());
  }
  auto shared = std::make_shared<const Snapshot>(std::move(*snap));
  if (apply) apply(shared->policy);
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = shared;
  }
  log::Info("policy reloaded", {{"file", path_}, {"trigger", trigger}, {"by", actor}, {"hash", shared->policy->hash()}});
  ev.type = "policy.loaded";
  ev.decision = "reload";
  ev.detail = {{"file", path_}, {"hash", shared->policy->hash()}, {"trigger", trigger}};
  if (store_) (void)store_->AppendAudit(ev);
  return Status::Ok();
}

Json PolicyAdmin::Get() const {
  std::shared_ptr<const Snapshot> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = current_;
  }
  if (!s) return Json();
  return Json{{"hash", s->policy->hash()},
              {"loaded_at", FormatTimeMs(s->loaded_at_ms)},
              {"loaded_by", s->loaded_by},
              {"trigger", s->trigger},
              {"path", path_},
              {"shadow", s->policy->shadow()},
              {"policy", s->document}};
}

Result<Json> PolicyAdmin::Check(const Json& call) const {
  std::shared_ptr<const Snapshot> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = current_;
  }
  if (!s) return NotFound("no policy is loaded (every call is allowed)");
  const std::string tool = call.value("tool", "");
  const Json arguments = call.contains("arguments") && call["arguments"].is_object() ? call["arguments"] : Json::object();
  const std::string principal = call.value("principal", "");
  const std::string session = call.value("session_id", "");
  policy::CallContext ctx;
  ctx.tool = tool;
  ctx.arguments = &arguments;
  ctx.principal = principal;
  ctx.session = session;
  const bool hidden = s->policy->IsHidden(tool);
  Json j = DecisionJson(s->policy->Evaluate(ctx));
  j["hidden_from_tools_list"] = hidden;
  j["policy_hash"] = s->policy->hash();
  // The tool's MCP annotations from the upstream are not known here; rules that depend on them
  // ("annotations") are judged as if the tool had none.
  j["annotations_considered"] = false;
  if (store_ && j["action"] == "hold" && !principal.empty()) {
    auto g = store_->FindGrant(store::GrantQuery{principal, session, tool, store::Fingerprint(tool, arguments)});
    if (g.ok() && g->has_value()) {
      j["grant"] = Json{{"id", (*g)->id}, {"created_by", (*g)->created_by},
                        {"expires_at", FormatTimeMs((*g)->expires_at_ms)},
                        {"arguments", (*g)->any_arguments() ? "any" : "same"}};
    }
  }
  return j;
}

review::PolicyControl PolicyAdmin::Control(Apply apply) {
  review::PolicyControl c;
  c.get = [this] { return Get(); };
  c.check = [this](const Json& call) { return Check(call); };
  c.reload = [this, apply](const std::string& actor) -> Result<Json> {
    Status s = Reload(actor, "api", apply);
    if (!s.ok()) return s;
    Json now = Get();
    now.erase("policy");
    return now;
  };
  return c;
}

}  // namespace holdgate::server
