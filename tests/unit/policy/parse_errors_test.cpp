#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "common/crypto.h"
#include "test_util.h"

namespace holdgate::policy {
namespace {

using testutil::MustParse;
using testutil::ParseError;
using Catch::Contains;
using Catch::StartsWith;

// A policy with one rule for cancel_job, whose body is `rule`.
std::string WithRule(const std::string& rule, const std::string& name = "cancel_job") {
  return R"({"version": "1", "default": "deny", "tools": {")" + name + R"(": )" + rule + "}}";
}

TEST_CASE("errors: syntax errors name line and column", "[policy][errors]") {
  std::string e = ParseError("{\n  \"version\": \"1\",\n  \"default\" \"deny\"\n}");
  CHECK_THAT(e, StartsWith("line 3, column "));
  CHECK_THAT(e, Contains("hint: policy files are strict JSON"));
  e = ParseError("{\"version\": \"1\", \"default\": \"deny\",}");
  CHECK_THAT(e, StartsWith("line 1, column "));
  e = ParseError("");
  CHECK_THAT(e, StartsWith("line 1, column 1"));
  e = ParseError("{\"version\": \"1\", // comment\n \"default\": \"deny\"}");
  CHECK_THAT(e, StartsWith("line 1, column "));
}

TEST_CASE("errors: duplicate keys and deep nesting", "[policy][errors]") {
  std::string e = ParseError(R"({"version": "1", "default": "deny", "tools": {"fit": {}, "fit": {"action": "deny"}}})");
  CHECK(e == "tools.fit: duplicate key; hint: JSON keeps only the last one, so merge the two entries into one");
  e = ParseError(R"({"version": "1", "default": "deny", "hide": [{"a": 1, "a": 2}]})");
  CHECK_THAT(e, StartsWith("hide[0].a: duplicate key"));
  std::string deep = R"({"version": "1", "default": "deny", "description": )" + std::string(100, '[') +
                     std::string(100, ']') + "}";
  CHECK_THAT(ParseError(deep), Contains("nested deeper than 64 levels"));
}

TEST_CASE("errors: top-level fields", "[policy][errors]") {
  CHECK(ParseError("[]") ==
        "(document): a policy must be a JSON object (got an array); hint: start from {\"version\": \"1\", "
        "\"default\": \"deny\", \"tools\": {}}");
  CHECK(ParseError(R"({"default": "deny"})") == "version: is required; hint: add \"version\": \"1\"");
  CHECK(ParseError(R"({"version": 1, "default": "deny"})") ==
        "version: must be \"1\" (got 1); hint: write the version as a string: \"1\"");
  CHECK_THAT(ParseError(R"({"version": "2", "default": "deny"})"), StartsWith("version: must be \"1\" (got \"2\")"));
  CHECK_THAT(ParseError(R"({"version": "1"})"), StartsWith("default: is required; hint:"));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "block"})"),
             StartsWith("default: must be \"allow\" or \"deny\" (got \"block\")"));
  CHECK(ParseError(R"({"version": "1", "default": "deny", "tool": {}})") ==
        "tool: unknown field; hint: did you mean \"tools\"?");
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "zzzzzzzz": 1})"),
             Contains("zzzzzzzz: unknown field; hint: allowed fields here: version, default, hide"));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "hide": "run_command"})"),
             StartsWith("hide: must be an array of strings (got a string)"));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "hide": [""]})"), StartsWith("hide[0]: must not be empty"));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "tools": []})"), StartsWith("tools: must be an object (got an array)"));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "shadow": "yes"})"),
             StartsWith("shadow: must be true or false (got a string)"));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "all_tools": {"limit": []}})"),
             StartsWith("all_tools.limit: unknown field; hint: did you mean \"limits\"?"));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "annotations": {"destructive": true}})"),
             StartsWith("annotations.destructive: unknown field"));
}

TEST_CASE("errors: every problem is reported, one per line", "[policy][errors]") {
  std::string e = ParseError(R"({"version": 2, "default": "maybe", "tools": {"a": {"action": "nope"}, "b": {"limits": [{"window": "minute", "max": -3}]}}})");
  CHECK_THAT(e, Contains("version: "));
  CHECK_THAT(e, Contains("\ndefault: "));
  CHECK_THAT(e, Contains("\ntools.a.action: unknown action \"nope\""));
  CHECK_THAT(e, Contains("\ntools.b.limits[0].max: must be an integer ≥ 0 (got -3)"));
  CHECK(std::count(e.begin(), e.end(), '\n') == 3);
}

TEST_CASE("errors: rules", "[policy][errors]") {
  CHECK(ParseError(WithRule(R"({"action": "hold"})")) ==
        "tools.cancel_job.action: unknown action \"hold\"; hint: did you mean \"require_approval\"?");
  CHECK(ParseError(WithRule(R"({"action": "dney"})")) ==
        "tools.cancel_job.action: unknown action \"dney\"; hint: did you mean \"deny\"?");
  CHECK_THAT(ParseError(WithRule(R"({"action": "hide"})")), Contains("hint: hiding is top-level"));
  CHECK_THAT(ParseError(WithRule(R"({"action": 1})")), StartsWith("tools.cancel_job.action: must be a string (got 1)"));
  CHECK(ParseError(WithRule(R"({"acton": "deny"})")) == "tools.cancel_job.acton: unknown field; hint: did you mean \"action\"?");
  CHECK_THAT(ParseError(WithRule(R"("allow")")),
             StartsWith("tools.cancel_job: must be an object (got a string); hint: use {} to allow the tool"));
  CHECK_THAT(ParseError(WithRule(R"({"reason": ""})")), StartsWith("tools.cancel_job.reason: must not be empty"));
  CHECK_THAT(ParseError(WithRule(R"({"risk": {"level": "extreme"}})")),
             StartsWith("tools.cancel_job.risk.level: must be one of \"low\", \"medium\", \"high\", \"critical\""));
  CHECK_THAT(ParseError(WithRule(R"({"shadow": 1})")), StartsWith("tools.cancel_job.shadow: must be true or false"));
  CHECK_THAT(ParseError(WithRule(R"({"action": "rate_limit"})")),
             StartsWith("tools.cancel_job.action: \"rate_limit\" needs at least one entry in \"limits\""));
  CHECK_THAT(ParseError(WithRule("{}", "")), StartsWith("tools[\"\"]: tool name must not be empty"));
  // Glob keys are quoted in paths.
  CHECK_THAT(ParseError(WithRule(R"({"action": "x"})", "fs.*")), StartsWith("tools[\"fs.*\"].action: unknown action"));
}

TEST_CASE("errors: fields from other gateways get a pointed hint", "[policy][errors]") {
  CHECK_THAT(ParseError(WithRule(R"({"rate_limit": "10/minute"})")),
             Contains("tools.cancel_job.rate_limit: unknown field; hint: write quotas as \"limits\""));
  CHECK_THAT(ParseError(WithRule(R"({"rules": []})")), Contains("hint: holdgate takes one rule object per tool"));
  CHECK_THAT(ParseError(WithRule(R"({"on_deny": "no"})")), Contains("hint: use \"reason\""));
  CHECK_THAT(ParseError(WithRule(R"({"approval_timeout": "30m"})")),
             Contains("hint: use \"approval\": {\"timeout\": \"30m\"}"));
  CHECK_THAT(ParseError(WithRule(R"({"conditions": []})")), Contains("hint: use \"when\""));
}

TEST_CASE("errors: conditions", "[policy][errors]") {
  auto deny_if = [](const std::string& cond) { return WithRule(R"({"deny_if": [)" + cond + "]}"); };
  CHECK_THAT(ParseError(deny_if(R"({"path": "delete", "op": "==", "value": true})")),
             StartsWith("tools.cancel_job.deny_if[0].op: unknown operator \"==\"; hint: did you mean \"eq\"?"));
  CHECK_THAT(ParseError(deny_if(R"({"path": "delete", "op": "gtt", "value": 1})")),
             StartsWith("tools.cancel_job.deny_if[0].op: unknown operator \"gtt\"; hint: did you mean \"gt\"?"));
  CHECK_THAT(ParseError(deny_if(R"({"path": "delete", "value": true})")), StartsWith("tools.cancel_job.deny_if[0].op: is required"));
  CHECK_THAT(ParseError(deny_if(R"({"op": "eq", "value": true})")), StartsWith("tools.cancel_job.deny_if[0].path: is required"));
  CHECK_THAT(ParseError(deny_if(R"({"path": "a..b", "op": "eq", "value": 1})")),
             StartsWith("tools.cancel_job.deny_if[0].path: is not a valid argument path \"a..b\": empty key"));
  CHECK_THAT(ParseError(deny_if(R"({"path": "a", "op": "eq"})")),
             StartsWith("tools.cancel_job.deny_if[0].value: is required for \"eq\""));
  CHECK_THAT(ParseError(deny_if(R"({"path": "a", "op": "in", "value": "x"})")),
             StartsWith("tools.cancel_job.deny_if[0].value: must be an array for \"in\" (got a string)"));
  CHECK_THAT(ParseError(deny_if(R"({"path": "a", "op": "gt", "value": [1]})")),
             StartsWith("tools.cancel_job.deny_if[0].value: must be a number or a string for \"gt\""));
  CHECK_THAT(ParseError(deny_if(R"({"path": "a", "op": "exists", "value": "yes"})")),
             StartsWith("tools.cancel_job.deny_if[0].value: must be true or false for \"exists\""));
  CHECK_THAT(ParseError(deny_if(R"({"path": "a", "op": "contains", "value": {}})")),
             StartsWith("tools.cancel_job.deny_if[0].value: must be a string, number or boolean"));
  CHECK_THAT(ParseError(deny_if(R"({"path": "a", "op": "eq", "value": 1, "why": "x"})")),
             StartsWith("tools.cancel_job.deny_if[0].why: unknown field"));
  CHECK_THAT(ParseError(WithRule(R"({"require": {"path": "a", "op": "exists"}})")),
             StartsWith("tools.cancel_job.require: must be an array of conditions (got an object)"));
  CHECK_THAT(ParseError(WithRule(R"({"when": ["x"]})")), StartsWith("tools.cancel_job.when[0]: must be an object (got a string)"));
}

TEST_CASE("errors: bad regex names the place and the offset", "[policy][errors]") {
  std::string e = ParseError(WithRule(R"({"deny_if": [{"path": "cmd", "op": "matches", "value": "rm (-rf"}]})"));
  CHECK_THAT(e, StartsWith("tools.cancel_job.deny_if[0].value: is not a valid regular expression \"rm (-rf\": missing ')' at offset 7"));
  CHECK_THAT(e, Contains("hint: RE2-style syntax"));
  CHECK_THAT(ParseError(WithRule(R"({"deny_if": [{"path": "cmd", "op": "matches", "value": 5}]})")),
             StartsWith("tools.cancel_job.deny_if[0].value: must be a regular expression string (got 5)"));
  CHECK_THAT(ParseError(WithRule(R"({"deny_if": [{"path": "cmd", "op": "regex", "value": "(?<=a)b"}]})")),
             Contains("lookaround"));
}

TEST_CASE("errors: limits", "[policy][errors]") {
  auto limit = [](const std::string& l) { return WithRule(R"({"limits": [)" + l + "]}", "fit"); };
  CHECK(ParseError(limit(R"({"counter": "c", "window": "minute", "max": -1})")) ==
        "tools.fit.limits[0].max: must be an integer ≥ 0 (got -1); hint: the number of calls allowed per window, e.g. 10");
  CHECK_THAT(ParseError(limit(R"({"window": "minute", "max": 2.5})")), StartsWith("tools.fit.limits[0].max: must be an integer ≥ 0 (got 2.5)"));
  CHECK_THAT(ParseError(limit(R"({"window": "minute"})")), StartsWith("tools.fit.limits[0].max: is required"));
  CHECK_THAT(ParseError(limit(R"({"max": 1})")), StartsWith("tools.fit.limits[0].window: is required"));
  CHECK_THAT(ParseError(limit(R"({"window": "fortnight", "max": 1})")),
             StartsWith("tools.fit.limits[0].window: is not a valid duration (\"fortnight\")"));
  CHECK_THAT(ParseError(limit(R"({"window": 0, "max": 1})")), StartsWith("tools.fit.limits[0].window: must be at least 1s"));
  CHECK_THAT(ParseError(limit(R"({"window": true, "max": 1})")), StartsWith("tools.fit.limits[0].window: must be \"second\""));
  CHECK_THAT(ParseError(limit(R"({"window": "minute", "max": 1, "scope": "user"})")),
             StartsWith("tools.fit.limits[0].scope: must be \"grant\", \"principal\", \"session\" or \"global\" (got \"user\")"));
  CHECK_THAT(ParseError(limit(R"({"counter": "", "window": "minute", "max": 1})")), StartsWith("tools.fit.limits[0].counter: must not be empty"));
  CHECK_THAT(ParseError(limit(R"({"window": "minute", "max": 1, "per": "x"})")), StartsWith("tools.fit.limits[0].per: unknown field"));
  CHECK_THAT(ParseError(WithRule(R"({"limits": {}})")), StartsWith("tools.cancel_job.limits: must be an array of limits"));
}

TEST_CASE("errors: approval settings", "[policy][errors]") {
  auto approval = [](const std::string& a) {
    return WithRule(R"({"action": "require_approval", "approval": )" + a + "}");
  };
  CHECK(ParseError(approval(R"({"approvers": 0})")) ==
        "tools.cancel_job.approval.approvers: must be an integer ≥ 1 (got 0); hint: the number of distinct "
        "reviewers who must approve, e.g. 2");
  CHECK_THAT(ParseError(approval(R"({"approvers": 101})")), StartsWith("tools.cancel_job.approval.approvers: must be at most 100"));
  CHECK_THAT(ParseError(approval(R"({"approvers": -1})")), StartsWith("tools.cancel_job.approval.approvers: must be an integer ≥ 1 (got -1)"));
  CHECK_THAT(ParseError(approval(R"({"approvers": "2"})")), StartsWith("tools.cancel_job.approval.approvers: must be an integer ≥ 1 (got a string)"));
  CHECK_THAT(ParseError(approval(R"({"approver": 2})")),
             StartsWith("tools.cancel_job.approval.approver: unknown field; hint: did you mean \"approvers\"?"));
  CHECK(ParseError(approval(R"({"on_timeout": "approve"})")) ==
        "tools.cancel_job.approval.on_timeout: must be \"reject\" (got \"approve\"); hint: holdgate never runs a tool "
        "because a wait timed out; an expired approval is rejected");
  CHECK_THAT(ParseError(approval(R"({"timeout": "soon"})")),
             StartsWith("tools.cancel_job.approval.timeout: is not a valid duration (\"soon\")"));
  CHECK_THAT(ParseError(approval(R"({"timeout": "0s"})")), StartsWith("tools.cancel_job.approval.timeout: must be at least 1s"));
  CHECK_THAT(ParseError(approval(R"({"hold": -5})")), StartsWith("tools.cancel_job.approval.hold: is not a valid duration"));
  CHECK_THAT(ParseError(approval(R"({"notify": "slack"})")), StartsWith("tools.cancel_job.approval.notify: must be an array of strings"));
  CHECK_THAT(ParseError(approval(R"({"reviewers": [1]})")), StartsWith("tools.cancel_job.approval.reviewers[0]: must be a string (got 1)"));
  CHECK_THAT(ParseError(approval(R"({"editable": "true"})")), StartsWith("tools.cancel_job.approval.editable: must be true or false"));
  CHECK_THAT(ParseError(approval("[]")), StartsWith("tools.cancel_job.approval: must be an object (got an array)"));
}

TEST_CASE("errors: cases", "[policy][errors]") {
  CHECK_THAT(ParseError(WithRule(R"({"cases": [{"approval": {"approvers": 2}}]})")),
             StartsWith("tools.cancel_job.cases[0].when: is required in a case"));
  CHECK_THAT(ParseError(WithRule(R"({"cases": {}})")), StartsWith("tools.cancel_job.cases: must be an array"));
  CHECK_THAT(ParseError(WithRule(R"({"cases": [{"when": []}]})")),
             StartsWith("tools.cancel_job.cases[0].when: must list at least one condition"));
  // A case whose only condition is malformed reports that condition, not a missing "when".
  std::string e = ParseError(WithRule(R"({"cases": [{"when": [{"path": "a", "op": "bogus"}]}]})"));
  CHECK_THAT(e, StartsWith("tools.cancel_job.cases[0].when[0].op: unknown operator"));
  CHECK(e.find('\n') == std::string::npos);
  CHECK_THAT(ParseError(WithRule(R"({"cases": [{"when": [{"path": "a", "op": "exists"}], "cases": []}]})")),
             StartsWith("tools.cancel_job.cases[0].cases: unknown field"));
  CHECK_THAT(ParseError(WithRule(R"({"cases": [{"when": [{"path": "a", "op": "exists"}], "approval": {"approvers": -1}}]})")),
             StartsWith("tools.cancel_job.cases[0].approval.approvers: must be an integer ≥ 1"));
}

TEST_CASE("load: files, hashes and warnings", "[policy][errors]") {
  auto missing = Policy::LoadFile("/nonexistent/policy.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Code::kIo);
  CHECK_THAT(missing.status().message(), Contains("/nonexistent/policy.json"));

  std::string path = testutil::RepoRoot() + "/schema/policies/sktime.json";
  auto loaded = Policy::LoadFile(path);
  INFO(loaded.status().message());
  REQUIRE(loaded.ok());
  CHECK((*loaded)->hash() == Sha256Hex(testutil::ReadFile(path)));
  CHECK((*loaded)->hash().size() == 64);

  auto a = MustParse(R"({"version":"1","default":"deny"})");
  auto b = MustParse(R"({"version":"1", "default":"deny"})");
  CHECK(a->hash() != b->hash());  // the hash is of the text, as audited
}

TEST_CASE("load: every example policy in schema/policies parses", "[policy][errors]") {
  for (const char* name : {"sktime.json", "demo.json", "policylayer-seed.json"}) {
    INFO(name);
    auto p = Policy::LoadFile(testutil::RepoRoot() + "/schema/policies/" + name);
    INFO(p.status().message());
    CHECK(p.ok());
  }
}

}  // namespace
}  // namespace holdgate::policy
