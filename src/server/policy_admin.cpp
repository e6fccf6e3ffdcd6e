#include "server/policy_admin.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "common/crypto.h"
#include "common/file_util.h"
#include "common/log.h"
#include "server/policy_versions.h"
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

PolicyAdmin::PolicyAdmin(std::string path, store::Store* store, const Clock& clock,
                         std::optional<UpstreamPolicyScope> upstream)
    : path_(std::move(path)), upstream_(std::move(upstream)), store_(store), clock_(clock) {}

Result<std::shared_ptr<const policy::Policy>> PolicyAdmin::ParseText(const std::string& text) const {
  if (!upstream_) return policy::Policy::Parse(text);
  const std::shared_ptr<const policy::Policy> top = upstream_->defaults ? upstream_->defaults() : nullptr;
  return policy::Policy::ParseUpstream(text, top.get());
}

Json PolicyAdmin::FileDetail() const {
  Json d{{"file", path_}};
  if (upstream_) d["upstream"] = upstream_->name;
  return d;
}

Result<PolicyAdmin::Snapshot> PolicyAdmin::Read(const std::string& by, const std::string& trigger) const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return IoError(path_ + ": cannot open the policy file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return IoError(path_ + ": error reading the policy file");
  const std::string text = buf.str();
  auto parsed = ParseText(text);
  if (!parsed.ok()) return Status(parsed.status().code(), path_ + ":\n" + parsed.status().message());
  Snapshot s;
  s.policy = parsed.value();
  s.document = Json::parse(text, nullptr, false);  // Parse accepted it, so it is JSON
  s.text = text;
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
  return ReloadLocked(actor, trigger, apply);
}

Status PolicyAdmin::ReloadLocked(const std::string& actor, const std::string& trigger, const Apply& apply) {
  auto snap = Read(actor, trigger);
  store::AuditEvent ev;
  ev.actor = actor;
  ev.via = actor == "holdgate" ? "system" : "api";
  if (!snap.ok()) {
    ev.type = "policy.reload_failed";
    ev.decision = "refused";
    ev.detail = FileDetail();
    ev.detail["trigger"] = trigger;
    ev.detail["error"] = snap.status().message();
    log::Error("policy reload refused; keeping the previous policy", ev.detail);
    if (store_) (void)store_->AppendAudit(ev);
    return Status(snap.status().code() == Code::kIo ? Code::kIo : Code::kInvalidArgument, snap.status().message());
  }
  if (trigger == "file changed") {
    // The watcher seeing a file this process just saved (or an unchanged touch): already active.
    std::lock_guard<std::mutex> lock(mu_);
    if (current_ && current_->policy->hash() == snap->policy->hash()) return Status::Ok();
  }
  auto shared = std::make_shared<const Snapshot>(std::move(*snap));
  if (apply) apply(shared->policy);
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = shared;
  }
  ev.type = "policy.loaded";
  ev.decision = "reload";
  ev.detail = FileDetail();
  ev.detail["hash"] = shared->policy->hash();
  ev.detail["trigger"] = trigger;
  Json logged = ev.detail;
  logged["by"] = actor;
  log::Info("policy reloaded", logged);
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
  Json out{{"hash", s->policy->hash()},
           {"loaded_at", FormatTimeMs(s->loaded_at_ms)},
           {"loaded_by", s->loaded_by},
           {"trigger", s->trigger},
           {"path", path_},
           {"shadow", s->policy->shadow()},
           {"policy", s->document},
           {"text", s->text}};
  if (upstream_) {
    out["upstream"] = upstream_->name;
    out["prefix"] = upstream_->prefix;
  }
  return out;
}

Result<Json> PolicyAdmin::Check(const Json& call) const {
  std::shared_ptr<const Snapshot> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = current_;
  }
  std::shared_ptr<const policy::Policy> judge = check_policy_ ? check_policy_() : nullptr;
  if (!judge && s) judge = s->policy;
  if (!judge) return NotFound("no policy is loaded (every call is allowed)");
  const std::string tool = call.value("tool", "");
  const Json arguments = call.contains("arguments") && call["arguments"].is_object() ? call["arguments"] : Json::object();
  const std::string principal = call.value("principal", "");
  const std::string session = call.value("session_id", "");
  policy::CallContext ctx;
  ctx.tool = tool;
  ctx.arguments = &arguments;
  ctx.principal = principal;
  ctx.session = session;
  const bool hidden = judge->IsHidden(tool);
  Json j = DecisionJson(judge->Evaluate(ctx));
  j["hidden_from_tools_list"] = hidden;
  j["policy_hash"] = judge->hash();
  // The tool's MCP annotations from the upstream are not known here; rules that depend on them
  // ("annotations") are judged as if the tool had none.
  j["annotations_considered"] = false;
  if (upstream_) j["upstream"] = upstream_->name;
  // Grants are kept under the name the agent calls (with the upstream's prefix).
  const std::string called = upstream_ ? upstream_->prefix + tool : tool;
  if (store_ && j["action"] == "hold" && !principal.empty()) {
    auto g = store_->FindGrant(store::GrantQuery{principal, session, called, store::Fingerprint(called, arguments)});
    if (g.ok() && g->has_value()) {
      j["grant"] = Json{{"id", (*g)->id}, {"created_by", (*g)->created_by},
                        {"expires_at", FormatTimeMs((*g)->expires_at_ms)},
                        {"arguments", (*g)->any_arguments() ? "any" : "same"}};
    }
  }
  return j;
}

namespace {

// What an audited tool call's event says the policy did with it, as an action name; empty for
// events that are not tool calls.
std::string RecordedAction(const store::AuditEvent& e) {
  if (e.type == "call.allowed") return "allow";
  if (e.type == "call.denied") return "deny";
  if (e.type == "call.hidden") return "hide";
  if (e.type == "call.rate_limited") return "rate_limited";
  if (e.type == "approval.created") return "hold";
  if (e.type == "grant.used") return "hold";  // the policy held it; a remembered approval let it run
  return "";
}

constexpr int kDryRunScanRows = 20000;  // audit rows looked at, at most, to find `limit` calls

}  // namespace

Json PolicyAdmin::Validate(const std::string& text, const Json* tools_list) const {
  std::shared_ptr<const policy::Policy> top;
  if (upstream_ && upstream_->defaults) top = upstream_->defaults();
  policy::CheckReport r = upstream_ ? policy::Check(text, tools_list, top.get()) : policy::Check(text, tools_list);
  Json out{{"ok", r.ok}, {"errors", r.errors}, {"warnings", r.warnings}};
  if (r.ok) out["hash"] = Sha256Hex(text);
  Json eff = Json::array();
  for (const auto& [tool, what] : r.effective) eff.push_back(Json{{"tool", tool}, {"decision", what}});
  out["effective"] = std::move(eff);
  return out;
}

Result<Json> PolicyAdmin::DryRun(const std::string& text, int limit, const Annotations& annotations) const {
  auto draft = ParseText(text);
  if (!draft.ok()) return draft.status();
  if (!store_) return NotFound("holdgate runs without a store: there are no audited calls");
  limit = std::clamp(limit, 1, 1000);
  const std::shared_ptr<const policy::Policy> current = Current();
  Json changes = Json::array();
  Json transitions = Json::object();
  int compared = 0, scanned = 0;
  std::map<std::string, Json> annotation_cache;
  store::AuditFilter f;
  f.newest_first = true;
  f.limit = 500;
  while (compared < limit && scanned < kDryRunScanRows) {
    auto page = store_->ListAudit(f);
    if (!page.ok()) return page.status();
    for (const store::AuditEvent& e : page->events) {
      ++scanned;
      const std::string was = RecordedAction(e);
      if (was.empty() || e.tool.empty()) continue;
      // An upstream's file sees its own calls only, by the names it gives its tools.
      if (upstream_ && upstream_->owner && upstream_->owner(e.tool) != upstream_->name) continue;
      const std::string tool = upstream_ ? e.tool.substr(std::min(upstream_->prefix.size(), e.tool.size())) : e.tool;
      if (++compared > limit) break;
      const bool recorded = e.detail.is_object() && e.detail.contains("arguments") && e.detail["arguments"].is_object();
      const Json arguments = recorded ? e.detail["arguments"] : Json::object();
      auto a = annotation_cache.find(e.tool);
      if (a == annotation_cache.end()) {
        a = annotation_cache.emplace(e.tool, annotations ? annotations(e.tool) : Json()).first;
      }
      policy::CallContext ctx;
      ctx.tool = tool;
      ctx.arguments = &arguments;
      ctx.principal = e.principal;
      ctx.annotations = a->second.is_null() ? nullptr : &a->second;
      const policy::Decision d = (*draft)->Evaluate(ctx);
      const std::string now = policy::ActionName(d.shadow ? d.shadow_action : d.action);
      // A rate-limited call was allowed or held by its rule; only a draft that refuses it differs.
      const bool changed = was == "rate_limited" ? (now == "deny" || now == "hide") : now != was;
      if (!changed) continue;
      transitions[was + " → " + now] = transitions.value(was + " → " + now, 0) + 1;
      if (changes.size() < 200) {
        Json c{{"seq", e.seq}, {"at", FormatTimeMs(e.ts_ms)}, {"tool", e.tool}, {"policy_tool", tool},
               {"principal", e.principal},
               {"arguments", arguments}, {"arguments_recorded", recorded}, {"was", was}, {"was_rule", e.rule},
               {"draft", now}, {"draft_rule", d.rule}, {"reason", d.reason}};
        if (current) {
          const policy::Decision cd = current->Evaluate(ctx);
          c["current"] = policy::ActionName(cd.shadow ? cd.shadow_action : cd.action);
        }
        changes.push_back(std::move(c));
      }
    }
    if (page->next_cursor.empty()) break;
    f.cursor = page->next_cursor;
  }
  if (compared > limit) compared = limit;
  int changed_count = 0;
  for (const auto& [k, v] : transitions.items()) changed_count += v.get<int>();
  Json out{{"hash", (*draft)->hash()}, {"compared", compared}, {"changed", changed_count},
           {"changes", std::move(changes)}, {"by_transition", std::move(transitions)}};
  if (upstream_) out["upstream"] = upstream_->name;
  return out;
}

Result<Json> PolicyAdmin::Save(const SaveRequest& req, const Apply& apply) {
  if (path_.empty()) return NotFound("holdgate runs without a policy file (--policy): there is nothing to save to");
  std::string why = req.why;
  while (!why.empty() && std::isspace(static_cast<unsigned char>(why.back()))) why.pop_back();
  if (why.find_first_not_of(" \t\r\n") == std::string::npos) {
    return InvalidArgument("a reason (\"why\") is required to change the policy");
  }
  auto parsed = ParseText(req.text);
  if (!parsed.ok()) return parsed.status();
  std::lock_guard<std::mutex> load(load_mu_);
  std::string old_text;
  if (!ReadWholeFile(path_, &old_text)) return IoError(path_ + ": cannot read the policy file");
  const std::string old_hash = Sha256Hex(old_text);
  if (!req.base_hash.empty() && req.base_hash != old_hash) {
    return Conflict("the policy file changed since the draft was started (it is now " + old_hash.substr(0, 12) +
                    "…); reload it and apply your change again");
  }
  const std::string new_hash = (*parsed)->hash();
  if (new_hash == old_hash) return Conflict("the draft is identical to the policy file: nothing to save");
  PolicyVersions versions(path_);
  auto history = versions.List();
  if (!history.ok()) return history.status();
  const int64_t now = clock_.NowMs();
  if (history->empty()) {
    PolicyVersion first;
    first.at_ms = now;
    first.by = "holdgate";
    first.why = "the policy file before its first change through the admin API";
    first.hash = old_hash;
    auto kept = versions.Record(old_text, first);
    if (!kept.ok()) return kept.status();
  }
  Status written = WriteFileAtomically(path_, req.text);
  if (!written.ok()) return written;
  PolicyVersion v;
  v.at_ms = now;
  v.by = req.actor;
  v.why = why;
  v.hash = new_hash;
  v.rollback_of = req.rollback_of;
  auto recorded = versions.Record(req.text, v);
  if (!recorded.ok()) {
    log::Error("policy saved but its version was not recorded", {{"file", path_}, {"error", recorded.status().message()}});
  }
  Status reloaded = ReloadLocked(req.actor, req.rollback_of.empty() ? "api save" : "api rollback", apply);
  store::AuditEvent ev;
  ev.type = "policy.saved";
  ev.actor = req.actor;
  ev.via = req.via.empty() ? "api" : req.via;
  ev.decision = req.rollback_of.empty() ? "save" : "rollback";
  ev.detail = FileDetail();
  ev.detail.update(Json{{"hash", new_hash}, {"previous_hash", old_hash}, {"why", why},
                        {"version", recorded.ok() ? recorded->id : ""}});
  if (!req.rollback_of.empty()) ev.detail["rollback_of"] = req.rollback_of;
  if (store_) (void)store_->AppendAudit(ev);
  Json logged = ev.detail;
  logged["by"] = req.actor;
  log::Info("policy saved", logged);
  if (!reloaded.ok()) return reloaded;  // cannot happen for a text Parse accepted, unless the file vanished
  Json out{{"hash", new_hash}, {"previous_hash", old_hash}};
  if (recorded.ok()) out["version"] = PolicyVersionJson(*recorded);
  Json now_loaded = Get();
  if (now_loaded.is_object()) out["loaded_at"] = now_loaded["loaded_at"];
  return out;
}

Result<Json> PolicyAdmin::Versions() const {
  if (path_.empty()) return NotFound("holdgate runs without a policy file (--policy)");
  auto list = PolicyVersions(path_).List();
  if (!list.ok()) return list.status();
  Json items = Json::array();
  for (const PolicyVersion& v : *list) items.push_back(PolicyVersionJson(v));
  std::string text;
  Json out{{"versions", std::move(items)}, {"path", path_}};
  if (upstream_) out["upstream"] = upstream_->name;
  if (ReadWholeFile(path_, &text)) out["current_hash"] = Sha256Hex(text);
  return out;
}

Result<Json> PolicyAdmin::Version(const std::string& id) const {
  if (path_.empty()) return NotFound("holdgate runs without a policy file (--policy)");
  auto got = PolicyVersions(path_).Get(id);
  if (!got.ok()) return got.status();
  return Json{{"version", PolicyVersionJson(got->first)}, {"text", got->second}};
}

Result<Json> PolicyAdmin::Rollback(const std::string& id, const std::string& actor, const std::string& via,
                                   const std::string& why, const Apply& apply) {
  if (path_.empty()) return NotFound("holdgate runs without a policy file (--policy)");
  auto got = PolicyVersions(path_).Get(id);
  if (!got.ok()) return got.status();
  SaveRequest req;
  req.text = got->second;
  req.why = why;
  req.actor = actor;
  req.via = via;
  req.rollback_of = id;
  return Save(req, apply);
}

review::PolicyControl PolicyAdmin::Control(Apply apply, Annotations annotations) {
  review::PolicyControl c;
  c.get = [this] { return Get(); };
  c.check = [this](const Json& call) { return Check(call); };
  c.reload = [this, apply](const std::string& actor) -> Result<Json> {
    Status s = Reload(actor, "api", apply);
    if (!s.ok()) return s;
    Json now = Get();
    now.erase("policy");
    now.erase("text");
    return now;
  };
  c.validate = [this](const std::string& text, const Json* tools) { return Validate(text, tools); };
  c.dry_run = [this, annotations](const std::string& text, int limit) { return DryRun(text, limit, annotations); };
  c.save = [this, apply](const review::PolicySave& s) -> Result<Json> {
    SaveRequest req;
    req.text = s.text;
    req.why = s.why;
    req.actor = s.actor;
    req.via = s.via;
    req.base_hash = s.base_hash;
    return Save(req, apply);
  };
  c.versions = [this] { return Versions(); };
  c.version = [this](const std::string& id) { return Version(id); };
  c.rollback = [this, apply](const std::string& id, const review::PolicySave& s) {
    return Rollback(id, s.actor, s.via, s.why, apply);
  };
  return c;
}

}  // namespace holdgate::server
