#pragma once
// ExplainTool: what a policy does to one tool of the upstream's catalogue, as the reviewer page's
// Tools tab and `holdgate tools` show it: the decision for a typical call (no arguments), the rule
// that makes it, whether arguments can change it, and the tool's risk level with where it comes
// from (the policy's `risk`, else the tool's MCP annotations). Pure; thread-safe; never blocks.
#include <string>
#include <string_view>

#include "common/json_util.h"
#include "policy/policy.h"

namespace holdgate::policy {

struct ToolExplanation {
  std::string action;  // "allow" | "deny" | "hide" | "hold" (the shadow action under shadow mode)
  std::string rule;    // JSON path of the deciding rule ("tools.cancel_job", "default", "hide[0]", …)
  std::string reason;  // agent-facing text of deny/hold; may be empty
  // True when some rule for this tool looks at the arguments (`when`, `cases`, `deny_if`,
  // `require`): then `action` holds for a call without arguments only.
  bool depends_on_arguments = false;
  bool shadow = false;      // the deciding rule (or the whole policy) only observes
  std::string risk;         // "low" | "medium" | "high" | "critical" | a policy's own level
  std::string risk_source;  // "policy" (the rule's risk.level) | "annotations"
  std::string risk_note;    // e.g. "destructiveHint" / "readOnlyHint" / "no hints: MCP defaults"
};

// `policy` may be null (holdgate runs without a policy: every call is allowed).
// `annotations`: the tool's MCP annotations from tools/list, or null.
ToolExplanation ExplainTool(const Policy* policy, std::string_view tool, const Json* annotations);

// The risk the MCP annotations suggest: readOnlyHint -> low; destructiveHint false -> medium;
// destructiveHint true or absent (the MCP default) -> high. Sets *note to the hint that decided.
std::string RiskFromAnnotations(const Json* annotations, std::string* note);

}  // namespace holdgate::policy
