#include "policy/policy.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "policy/compiled.h"

namespace holdgate::policy {
namespace {

constexpr size_t kMaxPolicyBytes = 4 << 20;

bool AllHold(const std::vector<Condition>& conds, const Json* args) {
  for (const Condition& c : conds) {
    if (!c.Test(args)) return false;
  }
  return true;
}

// "\"name\"" without a JSON round trip for ordinary names.
std::string QuotedTool(std::string_view tool) {
  for (char c : tool) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return DumpJson(Json(std::string(tool)));
    }
  }
  std::string out;
  out.reserve(tool.size() + 2);
  out.push_back('"');
  out.append(tool);
  out.push_back('"');
  return out;
}

// MCP ToolAnnotations defaults: readOnlyHint false, destructiveHint true (2025-11-25 schema).
bool IsDestructive(const Json* annotations) {
  if (annotations != nullptr && annotations->is_object()) {
    auto ro = annotations->find("readOnlyHint");
    if (ro != annotations->end() && ro->is_boolean() && ro->get<bool>()) return false;
    auto de = annotations->find("destructiveHint");
    if (de != annotations->end() && de->is_boolean()) return de->get<bool>();
  }
  return true;
}

template <typename Entry>
const Entry* FindExact(const std::vector<Entry>& entries, const NameIndex& index, std::string_view name) {
  auto it = index.find(name);
  return it == index.end() ? nullptr : &entries[it->second];
}

// Applies a matched rule (already past its `when`) to the call.
void ApplyRule(const CompiledRule& rule, const CallContext& ctx, Decision* d) {
  const Json* args = ctx.arguments;
  d->rule = rule.path;
  d->risk = rule.risk ? &*rule.risk : nullptr;
  d->shadow = rule.shadow;
  if (rule.action == Action::kDeny) {
    d->action = Action::kDeny;
    d->reason = rule.reason.empty() ? rule.default_reason : rule.reason;
    return;
  }
  for (const Condition& c : rule.deny_if) {
    if (c.Test(args)) {
      d->action = Action::kDeny;
      d->rule = c.where;
      d->reason = c.reason.empty() ? c.default_reason : c.reason;
      return;
    }
  }
  for (const Condition& c : rule.require) {
    if (!c.Test(args)) {
      d->action = Action::kDeny;
      d->rule = c.where;
      d->reason = c.reason.empty() ? c.default_reason : c.reason;
      return;
    }
  }
  d->limits = &rule.limits;
  if (rule.action == Action::kHold) {
    d->action = Action::kHold;
    d->approval = &rule.approval;
    d->reason = rule.reason.empty() ? rule.default_reason : rule.reason;
    return;
  }
  d->action = Action::kAllow;
  d->reason = rule.reason;
}

}  // namespace

const char* ActionName(Action action) {
  switch (action) {
    case Action::kAllow: return "allow";
    case Action::kDeny: return "deny";
    case Action::kHide: return "hide";
    case Action::kRateLimited: return "rate_limited";
    case Action::kHold: return "hold";
  }
  return "?";
}

const char* ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kGrant: return "grant";
    case Scope::kPrincipal: return "principal";
    case Scope::kSession: return "session";
    case Scope::kGlobal: return "global";
  }
  return "?";
}

const HideEntry* FindHide(const Policy::Compiled& c, std::string_view tool) {
  if (const HideEntry* e = FindExact(c.hide_exact, c.hide_index, tool)) return e;
  for (const HideEntry& e : c.hide_globs) {
    if (e.glob.Match(tool)) return &e;
  }
  return nullptr;
}

void CandidateRules(const Policy::Compiled& c, std::string_view tool, std::vector<const ToolEntry*>* out) {
  out->clear();
  if (const ToolEntry* e = FindExact(c.exact, c.exact_index, tool)) out->push_back(e);
  for (const ToolEntry& g : c.globs) {
    if (g.glob.Match(tool)) out->push_back(&g);
  }
}

Policy::Policy(std::unique_ptr<Compiled> compiled, std::string hash)
    : compiled_(std::move(compiled)), hash_(std::move(hash)) {}

Policy::~Policy() = default;

Result<std::shared_ptr<const Policy>> Policy::Parse(std::string_view text) { return ParseWith(text, nullptr); }

Result<std::shared_ptr<const Policy>> Policy::ParseUpstream(std::string_view text, const Policy* defaults) {
  auto parsed = ParseWith(text, defaults != nullptr ? &defaults->compiled_->inheritable : nullptr);
  if (!parsed.ok()) return parsed.status();
  auto own = std::const_pointer_cast<Policy>(*parsed);
  own->upstream_ = true;
  own->upstream_text_ = std::string(text);
  return std::shared_ptr<const Policy>(std::move(own));
}

Result<std::shared_ptr<const Policy>> Policy::ParseWith(std::string_view text, const Json* inherited) {
  if (text.size() > kMaxPolicyBytes) {
    return InvalidArgument("(document): policy is larger than 4 MiB; hint: split or simplify it");
  }
  auto compiled = std::make_unique<Compiled>();
  std::vector<std::string> errors;
  bool ok = false;
  try {
    ok = CompilePolicy(text, compiled.get(), &errors, inherited);
  } catch (const std::exception& e) {  // a bug, but never let it cross the module boundary
    errors.push_back(std::string("(document): internal error while compiling the policy: ") + e.what());
    ok = false;
  }
  if (!ok) {
    std::string message;
    for (const std::string& e : errors) {
      if (!message.empty()) message += "\n";
      message += e;
    }
    if (message.empty()) message = "(document): invalid policy";
    return InvalidArgument(std::move(message));
  }
  std::shared_ptr<const Policy> policy(new Policy(std::move(compiled), Sha256Hex(text)));
  return policy;
}

Result<std::shared_ptr<const Policy>> Policy::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(path + ": cannot open the policy file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return IoError(path + ": error reading the policy file");
  auto policy = Parse(buf.str());
  if (!policy.ok()) {
    return Status(policy.status().code(), path + ":\n" + policy.status().message());
  }
  return policy;
}

std::shared_ptr<const Policy> Policy::Compose(std::shared_ptr<const Policy> top, std::vector<PolicyRoute> routes) {
  std::string hashes = top ? top->hash() : "";
  for (const auto& r : routes) hashes += "\n" + r.upstream + "=" + r.prefix + ":" + (r.policy ? r.policy->hash() : "top");
  for (auto& r : routes) {
    if (r.policy == nullptr || !r.policy->upstream_) continue;
    // It parsed before, over a top-level policy or over none (then it sets every key itself), and
    // every top-level policy has the keys it takes in valid form: it parses again, with top's.
    auto derived = ParseUpstream(r.policy->upstream_text_, top.get());
    if (derived.ok()) r.policy = *derived;
  }
  auto compiled = std::make_unique<Compiled>();
  compiled->default_allow = true;
  compiled->shadow = top && top->shadow();
  std::shared_ptr<Policy> p(new Policy(std::move(compiled), Sha256Hex(hashes)));
  p->composed_ = true;
  p->top_ = std::move(top);
  p->routes_ = std::move(routes);
  return p;
}

std::pair<const Policy*, std::string_view> Policy::Resolve(std::string_view tool) const {
  if (!composed_) return {this, tool};
  const PolicyRoute* best = nullptr;
  for (const auto& r : routes_) {
    if (tool.substr(0, r.prefix.size()) != r.prefix) continue;
    if (best == nullptr || r.prefix.size() > best->prefix.size()) best = &r;
  }
  if (best != nullptr && best->policy != nullptr) return {best->policy.get(), tool.substr(best->prefix.size())};
  return {top_.get(), tool};
}

bool Policy::shadow() const { return compiled_->shadow; }

bool Policy::IsHidden(std::string_view tool) const {
  if (composed_) {
    if (compiled_->shadow) return false;
    auto [p, name] = Resolve(tool);
    return p != nullptr && p->IsHidden(name);
  }
  return !compiled_->shadow && FindHide(*compiled_, tool) != nullptr;
}

Decision Policy::Evaluate(const CallContext& ctx) const {
  if (composed_) {
    auto [p, name] = Resolve(ctx.tool);
    CallContext routed = ctx;
    routed.tool = name;
    Decision d;
    if (p == nullptr) {
      d.action = Action::kAllow;
      d.rule = "default";
      d.policy = shared_from_this();
      return d;
    }
    d = p->Evaluate(routed);
    if (p != top_.get()) {
      for (const auto& r : routes_) {
        if (r.policy.get() == p && p != nullptr) d.rule = "upstreams." + r.upstream + ": " + d.rule;
      }
      if (compiled_->shadow && !d.shadow) {
        d.shadow = true;
        d.shadow_action = d.action;
        d.action = Action::kAllow;
      }
    }
    return d;
  }
  const Compiled& c = *compiled_;
  Decision d;
  d.policy = shared_from_this();
  const Json* args = ctx.arguments;

  if (const HideEntry* h = FindHide(c, ctx.tool)) {
    d.action = Action::kHide;
    d.rule = h->path;
    d.reason = "Unknown tool: " + std::string(ctx.tool);
  } else {
    const CompiledRule* matched = nullptr;
    if (const ToolEntry* e = FindExact(c.exact, c.exact_index, ctx.tool); e != nullptr && AllHold(e->rule.when, args)) {
      matched = &e->rule;
    } else {
      for (const ToolEntry& g : c.globs) {
        if (g.glob.Match(ctx.tool) && AllHold(g.rule.when, args)) {
          matched = &g.rule;
          break;
        }
      }
    }
    if (matched != nullptr) {
      const CompiledRule* rule = matched;
      for (const CompiledRule& k : matched->cases) {
        if (AllHold(k.when, args)) {
          rule = &k;
          break;
        }
      }
      ApplyRule(*rule, ctx, &d);
    } else if (!c.default_allow) {
      d.action = Action::kDeny;
      d.rule = "default";
      d.reason = "Tool ";
      d.reason += QuotedTool(ctx.tool);
      d.reason += " is not allowed by this policy (default: deny).";
    } else if (c.destructive_requires_approval && IsDestructive(ctx.annotations)) {
      d.action = Action::kHold;
      d.rule = "annotations.destructive_requires_approval";
      d.approval = &c.default_approval;
      d.limits = &c.all_tools_limits;
      d.reason = "Calling " + QuotedTool(ctx.tool) +
                 " requires human approval: the tool may be destructive (MCP annotations).";
    } else {
      d.action = Action::kAllow;
      d.rule = "default";
      d.limits = &c.all_tools_limits;
    }
  }

  if (c.shadow) d.shadow = true;
  if (d.shadow) {
    d.shadow_action = d.action;
    d.action = Action::kAllow;
  }
  if (d.limits != nullptr && d.limits->empty()) d.limits = nullptr;
  return d;
}

}  // namespace holdgate::policy
