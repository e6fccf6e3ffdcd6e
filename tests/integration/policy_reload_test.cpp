// Policy reload in a real holdgate process: SIGHUP and a changed file take effect for new calls
// on the same agent session; a bad new file is refused with a message naming the place, and the
// old policy stays in force. A bad file at start-up is refused too.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "support/mcp_http_client.h"
#include "support/process.h"
#include "support/review_client.h"

namespace holdgate::testing {
namespace {

bool Lists(McpHttpClient& c, const std::string& tool) {
  Json r = c.ListTools();
  for (auto& t : r["result"]["tools"]) {
    if (t["name"] == tool) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("SIGHUP and file changes reload the policy, a bad file keeps the old one", "[integration][policy]") {
  TempDir dir;
  WriteFile(dir.File("policy.json"), R"({"version":"1","default":"allow"})");
  GatewayLaunch launch;
  launch.dir = dir.path();
  launch.policy_file = dir.File("policy.json");
  Gateway gw = StartGateway(launch);
  REQUIRE(gw.process);
  McpHttpClient agent("127.0.0.1", gw.mcp_port);
  REQUIRE(agent.Initialize().is_object());
  CHECK(Lists(agent, "start_job"));

  WriteFile(dir.File("policy.json"), R"({"version":"1","default":"allow","hide":["start_job"]})");
  kill(gw.process->pid(), SIGHUP);
  REQUIRE(WaitUntil([&] { return !Lists(agent, "start_job"); }));
  CHECK(agent.CallTool("start_job", {{"duration_ms", 1}})["error"]["code"] == -32602);

  // A broken file: refused, logged with the place, the hiding policy stays.
  WriteFile(dir.File("policy.json"), R"({"version":"1","default":"allow","tools":{"x":{"action":"explode"}}})");
  kill(gw.process->pid(), SIGHUP);
  REQUIRE(WaitUntil([&] { return ReadFile(dir.File("holdgate.log")).find("policy reload refused") != std::string::npos; }));
  CHECK(ReadFile(dir.File("holdgate.log")).find("tools.x.action") != std::string::npos);
  CHECK_FALSE(Lists(agent, "start_job"));
  ReviewClient auditor(gw.review_port, "carol", "auditor");
  auto failed = auditor.Get("/api/audit?type=policy.reload_failed");
  CHECK(failed.status == 200);
  CHECK(failed.body.dump().find("tools.x.action") != std::string::npos);

  // A good file again, noticed without a signal (the file watcher).
  WriteFile(dir.File("policy.json"), R"({"version":"1","default":"allow","hide":["list_jobs"]})");
  REQUIRE(WaitUntil([&] { return Lists(agent, "start_job") && !Lists(agent, "list_jobs"); }, 15000));
  CHECK(gw.process->Running());
}

TEST_CASE("a bad policy at start-up is refused with the place named", "[integration][policy]") {
  TempDir dir;
  for (std::string bad : {R"({"version":"1","default":"allow",)", R"({"version":"1","default":"maybe"})",
                          R"({"version":"1","default":"allow","tools":{"fit":{"limits":[{"counter":"c","window":"minute","max":-1}]}}})",
                          R"({"version":"1","default":"allow","tools":{"fit":{"deny_if":[{"path":"a","op":"matches","value":"("}]}}})",
                          R"({"version":"1","default":"allow","colour":"blue"})"}) {
    WriteFile(dir.File("policy.json"), bad);
    ChildProcess p({HOLDGATE_BINARY, "serve", "--mcp-listen", "127.0.0.1:0", "--review-listen", "127.0.0.1:0",
                    "--db", dir.File("h.db"), "--policy", dir.File("policy.json"), "--upstream-cmd",
                    DemoUpstreamCommand(dir.path())},
                   dir.File("bad.log"), {"HOLDGATE_JWT_SECRET=test-secret-0123456789abcdef0123456789abcdef"});
    INFO(bad);
    CHECK(p.Stop(0, 20000) != 0);  // exits by itself, non-zero
    std::string log = ReadFile(dir.File("bad.log"));
    CHECK(log.find("policy") != std::string::npos);
    std::filesystem::remove(dir.File("bad.log"));
  }
}

}  // namespace holdgate::testing
