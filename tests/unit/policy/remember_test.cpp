// approval.remember: how long (and how widely) a reviewer may remember an approval of a rule.
#include <catch2/catch.hpp>

#include "test_util.h"

namespace holdgate::policy::testutil {
namespace {

const ApprovalSettings& SettingsOf(const Policy& p, std::string_view tool, const Json& args = Json::object()) {
  static Decision keep;  // keeps the policy (and so the settings) alive for the caller
  keep = Eval(p, tool, args);
  REQUIRE(keep.action == Action::kHold);
  REQUIRE(keep.approval != nullptr);
  return *keep.approval;
}

}  // namespace

TEST_CASE("remember: defaults, critical rules, explicit caps and false", "[policy][remember]") {
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
      "plain": {"action": "require_approval"},
      "high": {"action": "require_approval", "risk": {"level": "high"}},
      "crit": {"action": "require_approval", "risk": {"level": "critical"}},
      "crit_allowed": {"action": "require_approval", "risk": {"level": "critical"},
                       "approval": {"remember": {"max": "15m"}}},
      "wide": {"action": "require_approval", "approval": {"remember": {"max": "2h", "any_arguments": true}}},
      "never": {"action": "require_approval", "approval": {"remember": false}},
      "cased": {"action": "require_approval", "risk": {"level": "critical"},
                "cases": [{"when": [{"path": "force", "op": "eq", "value": false}], "risk": {"level": "low"}}]}}})");
  CHECK(SettingsOf(*p, "plain").remember_max_ms == 3'600'000);
  CHECK_FALSE(SettingsOf(*p, "plain").remember_any_arguments);
  CHECK(SettingsOf(*p, "high").remember_max_ms == 3'600'000);
  CHECK(SettingsOf(*p, "crit").remember_max_ms == 0);
  CHECK(SettingsOf(*p, "crit_allowed").remember_max_ms == 15 * 60'000);
  CHECK(SettingsOf(*p, "wide").remember_max_ms == 2 * 3'600'000);
  CHECK(SettingsOf(*p, "wide").remember_any_arguments);
  CHECK(SettingsOf(*p, "never").remember_max_ms == 0);
  // A case that lowers the risk is rememberable; the critical base is not.
  CHECK(SettingsOf(*p, "cased", Json{{"force", false}}).remember_max_ms == 3'600'000);
  CHECK(SettingsOf(*p, "cased", Json{{"force", true}}).remember_max_ms == 0);
}

TEST_CASE("remember: bad values name their path", "[policy][remember][errors]") {
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "tools": {"t": {"action": "require_approval",
      "approval": {"remember": true}}}})"),
             Catch::Contains("tools.t.approval.remember: "));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "tools": {"t": {"action": "require_approval",
      "approval": {"remember": {"max": "soon"}}}}})"),
             Catch::Contains("tools.t.approval.remember.max: "));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "tools": {"t": {"action": "require_approval",
      "approval": {"remember": {"max": "10s"}}}}})"),
             Catch::Contains("must be at least 1m"));
  CHECK_THAT(ParseError(R"({"version": "1", "default": "deny", "tools": {"t": {"action": "require_approval",
      "approval": {"remember": {"for": "1h"}}}}})"),
             Catch::Contains("tools.t.approval.remember.for"));
}

}  // namespace holdgate::policy::testutil
