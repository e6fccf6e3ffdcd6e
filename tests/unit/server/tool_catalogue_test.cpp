// ToolCatalogue::Describe: one upstream's tools with the policy's decision, the risk and the 24 h
// counts; and Tools() before the upstream is up.
#include <catch2/catch.hpp>

#include "policy/policy.h"
#include "server/tool_catalogue.h"
#include "support/fake_clock.h"

namespace holdgate::server {
namespace {

std::shared_ptr<const policy::Policy> Parse(const char* text) {
  auto p = policy::Policy::Parse(text);
  INFO(p.status().message());
  REQUIRE(p.ok());
  return *p;
}

TEST_CASE("catalogue: decision, risk source, depends on arguments and counts per tool", "[server][catalogue]") {
  auto p = Parse(R"({"version": "1", "default": "deny", "hide": ["debug"],
    "tools": {"cancel_job": {"risk": {"level": "critical"},
                             "cases": [{"when": [{"path": "delete", "op": "eq", "value": true}],
                                        "action": "require_approval"}]},
              "list_jobs": {}}})");
  const Json tools = Json::parse(R"([
    {"name": "cancel_job", "description": "Cancel a job", "annotations": {"destructiveHint": true}},
    {"name": "list_jobs", "title": "List jobs", "annotations": {"readOnlyHint": true}},
    {"name": "whoami"},
    {"name": "debug"},
    {"description": "no name: skipped"}
  ])");
  const Json activity = {{"cancel_job", {{"calls", 4}, {"denied", 1}, {"held", 2}}}};
  Json out = ToolCatalogue::Describe("default", tools, p.get(), activity);
  REQUIRE(out.size() == 4);
  CHECK(out[0]["name"] == "cancel_job");
  CHECK(out[0]["upstream"] == "default");
  CHECK(out[0]["decision"]["action"] == "allow");
  CHECK(out[0]["decision"]["depends_on_arguments"] == true);
  CHECK(out[0]["risk"]["level"] == "critical");
  CHECK(out[0]["risk"]["source"] == "policy");
  CHECK(out[0]["last_24h"]["held"] == 2);
  CHECK(out[1]["title"] == "List jobs");
  CHECK(out[1]["risk"] == Json{{"level", "low"}, {"source", "annotations"}, {"note", "readOnlyHint"}});
  CHECK(out[1]["last_24h"] == Json{{"calls", 0}, {"denied", 0}, {"held", 0}});
  CHECK(out[2]["decision"]["action"] == "deny");
  CHECK(out[2]["decision"]["rule"] == "default");
  CHECK(out[2]["annotations"] == Json::object());
  CHECK(out[3]["decision"]["action"] == "hide");

  Json open = ToolCatalogue::Describe("default", tools, nullptr, Json::object());
  CHECK(open[2]["decision"]["action"] == "allow");
  CHECK(open[2]["decision"]["rule"] == "(no policy)");
}

TEST_CASE("catalogue: unavailable until the upstream is up", "[server][catalogue]") {
  holdgate::testing::FakeClock clock;
  ToolCatalogue c(ToolCatalogueOptions{}, nullptr, nullptr, clock);
  auto r = c.Tools(false);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK(c.Annotations("anything").is_null());
}

}  // namespace
}  // namespace holdgate::server
