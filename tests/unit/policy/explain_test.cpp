// ExplainTool: the catalogue's view of one tool (decision for a typical call, whether arguments
// matter, risk and where it comes from).
#include <catch2/catch.hpp>

#include "policy/explain.h"
#include "test_util.h"

namespace holdgate::policy {
namespace {

using testutil::MustParse;

const char* kPolicy = R"({
  "version": "1", "default": "deny", "hide": ["run_command"],
  "tools": {
    "list_jobs": {"risk": {"category": "Read", "level": "low"}},
    "start_job": {},
    "cancel_job": {
      "risk": {"category": "Destructive", "level": "critical"},
      "cases": [{"when": [{"path": "args.delete", "op": "eq", "value": true}], "action": "require_approval"}]
    },
    "save_data": {"deny_if": [{"path": "path", "op": "contains", "value": ".."}]},
    "fit": {"action": "require_approval", "shadow": true}
  }
})";

TEST_CASE("explain: the rule's action and risk from the policy", "[policy][explain]") {
  auto p = MustParse(kPolicy);
  ToolExplanation e = ExplainTool(p.get(), "list_jobs", nullptr);
  CHECK(e.action == "allow");
  CHECK(e.rule == "tools.list_jobs");
  CHECK(e.risk == "low");
  CHECK(e.risk_source == "policy");
  CHECK_FALSE(e.depends_on_arguments);
}

TEST_CASE("explain: cases and deny_if mean the decision depends on arguments", "[policy][explain]") {
  auto p = MustParse(kPolicy);
  ToolExplanation c = ExplainTool(p.get(), "cancel_job", nullptr);
  CHECK(c.action == "allow");  // a call without `delete`
  CHECK(c.depends_on_arguments);
  CHECK(c.risk == "critical");
  CHECK(c.risk_source == "policy");
  ToolExplanation s = ExplainTool(p.get(), "save_data", nullptr);
  CHECK(s.action == "allow");
  CHECK(s.depends_on_arguments);
}

TEST_CASE("explain: without a policy risk the annotations decide it", "[policy][explain]") {
  auto p = MustParse(kPolicy);
  const Json ro = {{"readOnlyHint", true}};
  const Json destructive = {{"destructiveHint", true}};
  const Json gentle = {{"destructiveHint", false}};
  ToolExplanation a = ExplainTool(p.get(), "start_job", &ro);
  CHECK(a.risk == "low");
  CHECK(a.risk_source == "annotations");
  CHECK(a.risk_note == "readOnlyHint");
  CHECK(ExplainTool(p.get(), "start_job", &destructive).risk == "high");
  CHECK(ExplainTool(p.get(), "start_job", &gentle).risk == "medium");
  ToolExplanation none = ExplainTool(p.get(), "start_job", nullptr);
  CHECK(none.risk == "high");
  CHECK(none.risk_note.find("MCP defaults") != std::string::npos);
}

TEST_CASE("explain: hidden, default-denied, shadow and no policy", "[policy][explain]") {
  auto p = MustParse(kPolicy);
  ToolExplanation h = ExplainTool(p.get(), "run_command", nullptr);
  CHECK(h.action == "hide");
  CHECK(h.rule == "hide[0]");
  ToolExplanation d = ExplainTool(p.get(), "whoami", nullptr);
  CHECK(d.action == "deny");
  CHECK(d.rule == "default");
  ToolExplanation f = ExplainTool(p.get(), "fit", nullptr);
  CHECK(f.action == "hold");  // what it would do; the rule only observes
  CHECK(f.shadow);
  ToolExplanation n = ExplainTool(nullptr, "anything", nullptr);
  CHECK(n.action == "allow");
  CHECK(n.rule == "(no policy)");
}

TEST_CASE("explain: destructive annotations hold under the opt-in", "[policy][explain]") {
  auto p = MustParse(R"({"version": "1", "default": "allow",
                         "annotations": {"destructive_requires_approval": true}})");
  const Json ro = {{"readOnlyHint", true}};
  const Json destructive = {{"destructiveHint", true}};
  CHECK(ExplainTool(p.get(), "read", &ro).action == "allow");
  ToolExplanation e = ExplainTool(p.get(), "drop", &destructive);
  CHECK(e.action == "hold");
  CHECK(e.rule == "annotations.destructive_requires_approval");
}

}  // namespace
}  // namespace holdgate::policy
