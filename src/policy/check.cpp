// `holdgate policy check`: validation plus a static explanation of what the policy does to
// each tool of a tools/list result.
#include <algorithm>
#include <set>

#include "policy/compiled.h"

namespace holdgate::policy {
namespace {

const char* RuleActionWord(Action a) {
  switch (a) {
    case Action::kAllow: return "allow";
    case Action::kDeny: return "deny";
    case Action::kHold: return "require_approval";
    default: return ActionName(a);
  }
}

std::string DescribeConds(const std::vector<Condition>& conds, const char* joiner) {
  std::string out;
  for (const Condition& c : conds) {
    if (!out.empty()) out += joiner;
    out += c.Describe();
  }
  return out;
}

std::string DescribeLimits(const std::vector<Limit>& limits) {
  std::string out;
  for (const Limit& l : limits) {
    if (!out.empty()) out += ", ";
    out += "max " + std::to_string(l.max) + "/" + FormatWindow(l.window_ms) + " per " + ScopeName(l.scope);
  }
  return out;
}

std::string DescribeRule(const CompiledRule& r) {
  std::vector<std::string> parts;
  if (r.action == Action::kHold) {
    const ApprovalSettings& a = r.approval;
    parts.push_back(std::to_string(a.approvers) + (a.approvers == 1 ? " approver" : " approvers"));
    if (!a.reviewers.empty()) {
      std::string who;
      for (const std::string& s : a.reviewers) who += (who.empty() ? "" : "|") + s;
      parts.push_back("reviewers " + who);
    }
    parts.push_back("timeout " + FormatDuration(a.timeout_ms));
    parts.push_back("hold " + FormatDuration(a.hold_ms));
    parts.push_back("use within " + FormatDuration(a.use_within_ms));
  }
  if (r.action != Action::kDeny) {
    if (!r.deny_if.empty()) parts.push_back("deny if " + DescribeConds(r.deny_if, " or "));
    if (!r.require.empty()) parts.push_back("require " + DescribeConds(r.require, " and "));
    if (!r.limits.empty()) parts.push_back(DescribeLimits(r.limits));
  }
  if (r.risk && r.risk->contains("level")) parts.push_back("risk " + (*r.risk)["level"].get<std::string>());
  if (r.shadow) parts.push_back("shadow");
  std::string out = RuleActionWord(r.action);
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? ": " : ", ") + parts[i];
  out += " (" + r.path + ")";
  for (const CompiledRule& k : r.cases) {
    out += "; when " + DescribeConds(k.when, " and ") + ": " + DescribeRule(k);
  }
  return out;
}

bool IsDestructiveHint(const Json* annotations) {
  if (annotations != nullptr && annotations->is_object()) {
    if (annotations->value("readOnlyHint", false) == true) return false;
    auto it = annotations->find("destructiveHint");
    if (it != annotations->end() && it->is_boolean()) return it->get<bool>();
  }
  return true;
}

std::string Describe(const Policy::Compiled& c, std::string_view tool, const Json* annotations,
                     std::set<const void*>* used) {
  std::string shadow = c.shadow ? " [shadow: not enforced]" : "";
  if (const HideEntry* h = FindHide(c, tool)) {
    used->insert(h);
    return "hide (" + h->path + ")" + shadow;
  }
  std::vector<const ToolEntry*> candidates;
  CandidateRules(c, tool, &candidates);
  std::string out;
  for (const ToolEntry* e : candidates) {
    used->insert(e);
    if (!out.empty()) out += "; otherwise ";
    if (e->rule.when.empty()) return out + DescribeRule(e->rule) + shadow;
    out += "when " + DescribeConds(e->rule.when, " and ") + ": " + DescribeRule(e->rule);
  }
  if (!out.empty()) out += "; otherwise ";
  if (!c.default_allow) return out + "deny (default)" + shadow;
  std::string limits = c.all_tools_limits.empty() ? "" : ": " + DescribeLimits(c.all_tools_limits);
  if (c.destructive_requires_approval && IsDestructiveHint(annotations)) {
    return out + "require_approval" + limits + " (annotations.destructive_requires_approval)" + shadow;
  }
  return out + "allow" + limits + " (default)" + shadow;
}

const Json* ToolsArray(const Json* result) {
  if (result == nullptr) return nullptr;
  if (result->is_array()) return result;
  if (!result->is_object()) return nullptr;
  auto it = result->find("tools");
  if (it != result->end() && it->is_array()) return &*it;
  it = result->find("result");
  if (it != result->end()) return ToolsArray(&*it);
  return nullptr;
}

}  // namespace

CheckReport Check(std::string_view policy_text, const Json* tools_list_result, const Policy* upstream_defaults) {
  CheckReport report;
  Policy::Compiled c;
  const Json* inherited = upstream_defaults != nullptr ? &PolicyAccess::Get(*upstream_defaults).inheritable : nullptr;
  try {
    if (!CompilePolicy(policy_text, &c, &report.errors, inherited)) {
      report.ok = false;
      return report;
    }
  } catch (const std::exception& e) {
    report.errors.push_back(std::string("(document): internal error: ") + e.what());
    return report;
  }
  report.warnings = c.warnings;
  report.ok = true;
  if (tools_list_result == nullptr) return report;

  const Json* tools = ToolsArray(tools_list_result);
  if (tools == nullptr) {
    report.errors.push_back("--tools: not a tools/list result; hint: expected {\"tools\": [...]}, a JSON-RPC "
                            "response carrying it, or an array of tools");
    report.ok = false;
    return report;
  }
  std::set<const void*> used;
  std::vector<std::string> names;
  for (size_t i = 0; i < tools->size(); ++i) {
    const Json& t = (*tools)[i];
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
      report.warnings.push_back("--tools: tools[" + std::to_string(i) + "] has no \"name\"; skipped");
      continue;
    }
    const std::string& name = t["name"].get_ref<const std::string&>();
    names.push_back(name);
    const Json* annotations = t.contains("annotations") ? &t["annotations"] : nullptr;
    report.effective.emplace_back(name, Describe(c, name, annotations, &used));
  }
  auto closest = [&](const std::string& word) {
    std::string best;
    size_t best_score = 0;
    for (const std::string& n : names) {
      // Longest common prefix as a cheap similarity; good enough for a hint.
      size_t k = 0;
      while (k < n.size() && k < word.size() && n[k] == word[k]) ++k;
      if (k > best_score) {
        best_score = k;
        best = n;
      }
    }
    return best_score >= 3 ? best : std::string();
  };
  for (const ToolEntry& e : c.exact) {
    if (used.count(&e)) continue;
    if (FindHide(c, e.pattern) != nullptr) continue;  // already warned: hidden
    std::string hint = closest(e.pattern);
    report.warnings.push_back(e.rule.path + ": names no tool in the tools/list result" +
                              (hint.empty() ? "" : "; did you mean \"" + hint + "\"?"));
  }
  for (const ToolEntry& e : c.globs) {
    if (!used.count(&e)) {
      report.warnings.push_back(e.rule.path + ": matches no tool in the tools/list result (or only hidden ones, "
                                "or a more specific rule always wins)");
    }
  }
  for (const auto* list : {&c.hide_exact, &c.hide_globs}) {
    for (const HideEntry& h : *list) {
      if (!used.count(&h)) {
        report.warnings.push_back(h.path + ": \"" + h.glob.pattern() + "\" names no tool in the tools/list result");
      }
    }
  }
  return report;
}

std::string FormatCheckReport(const CheckReport& report) {
  std::string out;
  if (report.ok) {
    out += "policy OK";
    if (!report.warnings.empty()) out += " (" + std::to_string(report.warnings.size()) + " warnings)";
  } else {
    out += "policy INVALID: " + std::to_string(report.errors.size()) +
           (report.errors.size() == 1 ? " error" : " errors");
  }
  out += "\n";
  for (const std::string& e : report.errors) out += "error: " + e + "\n";
  for (const std::string& w : report.warnings) out += "warning: " + w + "\n";
  if (!report.effective.empty()) {
    size_t width = 0;
    for (const auto& [tool, _] : report.effective) width = std::max(width, tool.size());
    out += "effective decisions (" + std::to_string(report.effective.size()) + " tools):\n";
    for (const auto& [tool, what] : report.effective) {
      out += "  " + tool + std::string(width - tool.size() + 2, ' ') + what + "\n";
    }
  }
  return out;
}

}  // namespace holdgate::policy
