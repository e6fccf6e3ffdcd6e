#include <catch2/catch.hpp>

#include <map>

#include "test_util.h"

namespace holdgate::policy {
namespace {

using Catch::Contains;

Json SktimeTools() {
  return Json::parse(testutil::ReadFile(testutil::RepoRoot() + "/tests/unit/policy/data/sktime-mcp-tools.json"));
}

std::string SktimePolicy() { return testutil::ReadFile(testutil::RepoRoot() + "/schema/policies/sktime.json"); }

TEST_CASE("check: the Sktime policy covers all 26 tools and flags nothing", "[policy][check]") {
  Json tools = SktimeTools();
  REQUIRE(tools["tools"].size() == 26);
  CheckReport r = Check(SktimePolicy(), &tools);
  INFO(FormatCheckReport(r));
  CHECK(r.ok);
  CHECK(r.errors.empty());
  CHECK(r.warnings.empty());
  REQUIRE(r.effective.size() == 26);
  std::map<std::string, std::string> by_tool(r.effective.begin(), r.effective.end());
  CHECK_THAT(by_tool["run_command"], Catch::StartsWith("hide (hide[0])"));
  CHECK_THAT(by_tool["cancel_job"], Catch::StartsWith("require_approval: 1 approver"));
  CHECK_THAT(by_tool["cancel_job"], Contains("when delete eq true: require_approval: 2 approvers"));
  CHECK_THAT(by_tool["list_jobs"], Catch::StartsWith("allow: max 120/minute per grant"));
  CHECK_THAT(by_tool["fit"], Contains("max 10/minute per grant"));
  CHECK_THAT(by_tool["save_data"], Contains("deny if path matches"));
  // Read tools allowed, write and compute tools rate-limited (beyond the all_tools quota).
  int allowed = 0, limited = 0;
  for (const auto& [tool, what] : r.effective) {
    if (what.rfind("allow", 0) == 0) {
      ++allowed;
      if (what.find("max 10/") != std::string::npos || what.find("max 30/") != std::string::npos) ++limited;
    }
  }
  CHECK(allowed == 24);
  CHECK(limited == 15);
  // The JSON-RPC response form is accepted too.
  Json response = {{"jsonrpc", "2.0"}, {"id", 1}, {"result", tools}};
  CHECK(Check(SktimePolicy(), &response).effective.size() == 26);
}

TEST_CASE("check: rules naming no listed tool are flagged", "[policy][check]") {
  Json tools = SktimeTools();
  std::string text = R"({"version": "1", "default": "deny", "hide": ["shell_*"],
    "tools": {"cancel_jobs": {"action": "require_approval"}, "list_jobs": {}, "frobnicate_*": {}}})";
  CheckReport r = Check(text, &tools);
  INFO(FormatCheckReport(r));
  CHECK(r.ok);
  REQUIRE(r.warnings.size() == 3);
  CHECK(r.warnings[0] == "tools.cancel_jobs: names no tool in the tools/list result; did you mean \"cancel_job\"?");
  CHECK_THAT(r.warnings[1], Catch::StartsWith("tools[\"frobnicate_*\"]: matches no tool"));
  CHECK(r.warnings[2] == "hide[0]: \"shell_*\" names no tool in the tools/list result");
  std::map<std::string, std::string> by_tool(r.effective.begin(), r.effective.end());
  CHECK(by_tool["cancel_job"] == "deny (default)");
}

TEST_CASE("check: warnings without a tools list", "[policy][check]") {
  CheckReport r = Check(R"({"version": "1", "default": "deny", "hide": ["x"], "tools": {
      "x": {},
      "y": {"action": "allow", "approval": {"approvers": 2}},
      "z": {"action": "deny", "limits": [{"window": "minute", "max": 1}]},
      "w": {"action": "require_approval", "approval": {"timeout": "10s", "hold": "1m"}}},
      "annotations": {"destructive_requires_approval": true}})",
                        nullptr);
  CHECK(r.ok);
  CHECK(r.effective.empty());
  std::string all;
  for (const auto& w : r.warnings) all += w + "\n";
  INFO(all);
  CHECK_THAT(all, Contains("annotations.destructive_requires_approval: has no effect under \"default\": \"deny\""));
  CHECK_THAT(all, Contains("tools.x: never applies: the tool is hidden by hide[0]"));
  CHECK_THAT(all, Contains("tools.y.approval: is ignored"));
  CHECK_THAT(all, Contains("tools.z.limits: never count"));
  CHECK_THAT(all, Contains("tools.w.approval.hold: is longer than approval.timeout"));
}

TEST_CASE("check: invalid policies and tools files are reported", "[policy][check]") {
  CheckReport bad = Check(R"({"version": "1", "default": "deny", "tools": {"a": {"action": "nope"}, "b": {"acton": "deny"}}})", nullptr);
  CHECK_FALSE(bad.ok);
  REQUIRE(bad.errors.size() == 2);
  std::string text = FormatCheckReport(bad);
  CHECK_THAT(text, Catch::StartsWith("policy INVALID: 2 errors\n"));
  CHECK_THAT(text, Contains("error: tools.a.action: unknown action \"nope\""));
  CHECK_THAT(text, Contains("error: tools.b.acton: unknown field; hint: did you mean \"action\"?"));

  Json junk = {{"nope", 1}};
  CheckReport r = Check(R"({"version": "1", "default": "deny"})", &junk);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.errors.front(), Catch::StartsWith("--tools: not a tools/list result"));
}

TEST_CASE("check: annotations and shadow show in the effective decisions", "[policy][check]") {
  Json tools = {{"tools",
                 {{{"name", "start_job"}, {"annotations", {{"readOnlyHint", false}, {"destructiveHint", false}}}},
                  {{"name", "cancel_job"}, {"annotations", {{"destructiveHint", true}}}},
                  {{"name", "list_jobs"}, {"annotations", {{"readOnlyHint", true}}}}}}};
  CheckReport r = Check(R"({"version": "1", "default": "allow", "shadow": true,
                           "annotations": {"destructive_requires_approval": true}})",
                        &tools);
  INFO(FormatCheckReport(r));
  REQUIRE(r.effective.size() == 3);
  CHECK(r.effective[0].second == "allow (default) [shadow: not enforced]");
  CHECK(r.effective[1].second == "require_approval (annotations.destructive_requires_approval) [shadow: not enforced]");
  CHECK(r.effective[2].second == "allow (default) [shadow: not enforced]");
  std::string text = FormatCheckReport(r);
  CHECK_THAT(text, Catch::StartsWith("policy OK\neffective decisions (3 tools):\n  start_job   allow"));
}

TEST_CASE("check: the demo policy matches the demo upstream's job tools", "[policy][check]") {
  Json tools = {{"tools", {{{"name", "start_job"}}, {{"name", "list_jobs"}}, {{"name", "check_job_status"}}, {{"name", "cancel_job"}}}}};
  CheckReport r = Check(testutil::ReadFile(testutil::RepoRoot() + "/schema/policies/demo.json"), &tools);
  INFO(FormatCheckReport(r));
  CHECK(r.ok);
  CHECK(r.warnings.empty());
  std::map<std::string, std::string> by_tool(r.effective.begin(), r.effective.end());
  CHECK_THAT(by_tool["cancel_job"], Catch::StartsWith("require_approval: 1 approver, timeout 10m, hold 5s"));
  CHECK_THAT(by_tool["list_jobs"], Catch::StartsWith("allow"));
  auto p = Policy::Parse(testutil::ReadFile(testutil::RepoRoot() + "/schema/policies/demo.json"));
  REQUIRE(p.ok());
  Json args = {{"job_id", "j"}};
  CallContext ctx;
  ctx.tool = "cancel_job";
  ctx.arguments = &args;
  Decision d = (*p)->Evaluate(ctx);
  CHECK(d.action == Action::kHold);
  CHECK_FALSE(d.reason.empty());
  REQUIRE(d.risk != nullptr);
  CHECK(d.approval->hold_ms == 5000);
}

}  // namespace
}  // namespace holdgate::policy
