// ToolCatalogue::Describe: one upstream's tools with the policy's decision, the risk and the 24 h
// counts; and Tools() before the upstream is up.
#include <catch2/catch.hpp>

#include "policy/policy.h"
#include "server/tool_catalogue.h"
#include "support/fake_clock.h"
#include "upstream/upstream.h"

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


// Answers tools/list with a fixed list; nothing else.
class ListingUpstream final : public upstream::Upstream {
 public:
  explicit ListingUpstream(Json tools) : tools_(std::move(tools)) {}
  Status Start() override { return Status::Ok(); }
  void Stop() override {}
  Json InitializeResult() const override { return Json::object(); }
  upstream::RequestHandle Send(const Json& request, std::shared_ptr<upstream::ReplyHandler> handler) override {
    handler->OnResponse(Json{{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", {{"tools", tools_}}}});
    return 1;
  }
  void Cancel(upstream::RequestHandle, const std::string&) override {}
  void Notify(const Json&) override {}
  void Respond(const Json&) override {}
  void SetUnsolicitedHandler(std::function<void(const Json&)>) override {}

 private:
  Json tools_;
};

TEST_CASE("catalogue: several upstreams are listed under their names, each with its own policy's decisions",
          "[server][catalogue]") {
  holdgate::testing::FakeClock clock;
  auto demo = Parse(R"({"version": "1", "default": "deny",
    "tools": {"cancel_job": {"action": "require_approval", "risk": {"level": "critical"},
                             "cases": [{"when": [{"path": "delete", "op": "eq", "value": true}], "action": "deny"}]}}})");
  auto composed = policy::Policy::Compose(nullptr, {{"demo", "demo_", demo}, {"ev", "ev_", nullptr}, {"gh", "gh_", nullptr}});
  ToolCatalogue c(ToolCatalogueOptions{}, [composed] { return composed; }, nullptr, clock);
  ListingUpstream up(Json::parse(R"([{"name": "demo_cancel_job"}, {"name": "demo_stats"}, {"name": "ev_echo"}])"));
  c.SetUpstream(&up);
  c.SetGrouping(
      [] {
        return std::vector<CatalogueGroup>{{"demo", "demo_", true, ""}, {"ev", "ev_", true, ""},
                                           {"gh", "gh_", false, "connection refused"}};
      },
      [](const std::string& tool) -> std::string {
        if (tool.rfind("demo_", 0) == 0) return "demo";
        if (tool.rfind("ev_", 0) == 0) return "ev";
        return "";
      });
  auto r = c.Tools(true);
  REQUIRE(r.ok());
  const Json& ups = (*r)["upstreams"];
  REQUIRE(ups.size() == 3);
  CHECK(ups[0]["name"] == "demo");
  CHECK(ups[0]["prefix"] == "demo_");
  CHECK(ups[0]["available"] == true);
  REQUIRE(ups[0]["tools"].size() == 2);
  const Json& cancel = ups[0]["tools"][0];
  CHECK(cancel["name"] == "demo_cancel_job");
  CHECK(cancel["upstream"] == "demo");
  CHECK(cancel["decision"]["action"] == "hold");
  CHECK(cancel["decision"]["rule"] == "upstreams.demo: tools.cancel_job");
  CHECK(cancel["decision"]["depends_on_arguments"] == true);
  CHECK(cancel["risk"]["level"] == "critical");
  CHECK(ups[0]["tools"][1]["decision"]["action"] == "deny");
  CHECK(ups[1]["tools"].size() == 1);
  CHECK(ups[1]["tools"][0]["decision"]["action"] == "allow");
  CHECK(ups[2]["available"] == false);
  CHECK(ups[2]["error"] == "connection refused");
  CHECK(ups[2]["tools"] == Json::array());
}

}  // namespace
}  // namespace holdgate::server
