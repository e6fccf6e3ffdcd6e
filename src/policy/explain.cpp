#include "policy/explain.h"

#include <vector>

#include "policy/compiled.h"

namespace holdgate::policy {
namespace {

bool RuleLooksAtArguments(const CompiledRule& r) {
  if (!r.when.empty() || !r.deny_if.empty() || !r.require.empty()) return true;
  for (const CompiledRule& k : r.cases) {
    if (RuleLooksAtArguments(k)) return true;
  }
  return !r.cases.empty();
}

}  // namespace

std::string RiskFromAnnotations(const Json* annotations, std::string* note) {
  if (annotations != nullptr && annotations->is_object()) {
    auto ro = annotations->find("readOnlyHint");
    if (ro != annotations->end() && ro->is_boolean() && ro->get<bool>()) {
      *note = "readOnlyHint";
      return "low";
    }
    auto de = annotations->find("destructiveHint");
    if (de != annotations->end() && de->is_boolean()) {
      *note = de->get<bool>() ? "destructiveHint" : "destructiveHint: false";
      return de->get<bool>() ? "high" : "medium";
    }
  }
  *note = "no hints: MCP defaults (may be destructive)";
  return "high";
}

ToolExplanation ExplainTool(const Policy* policy, std::string_view tool, const Json* annotations) {
  ToolExplanation out;
  if (policy == nullptr) {
    out.action = "allow";
    out.rule = "(no policy)";
  } else {
    const Json no_arguments = Json::object();
    CallContext ctx;
    ctx.tool = tool;
    ctx.arguments = &no_arguments;
    ctx.annotations = annotations;
    const Decision d = policy->Evaluate(ctx);
    out.shadow = d.shadow;
    out.action = ActionName(d.shadow ? d.shadow_action : d.action);
    out.rule = d.rule;
    out.reason = d.reason;
    if (d.risk != nullptr && d.risk->is_object() && d.risk->contains("level") && (*d.risk)["level"].is_string()) {
      out.risk = (*d.risk)["level"].get<std::string>();
      out.risk_source = "policy";
      out.risk_note = d.rule;
    }
    auto [decider, name] = policy->Resolve(tool);  // a composed policy: the upstream's own
    if (d.action != Action::kHide && decider != nullptr) {
      const Policy::Compiled& c = PolicyAccess::Get(*decider);
      std::vector<const ToolEntry*> candidates;
      CandidateRules(c, name, &candidates);
      for (const ToolEntry* e : candidates) {
        if (RuleLooksAtArguments(e->rule)) out.depends_on_arguments = true;
        if (e->rule.when.empty()) break;  // later candidates are never reached
      }
    }
  }
  if (out.risk_source.empty()) {
    out.risk = RiskFromAnnotations(annotations, &out.risk_note);
    out.risk_source = "annotations";
  }
  return out;
}

}  // namespace holdgate::policy
