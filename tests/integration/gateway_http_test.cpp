// The agents' Streamable HTTP endpoint against a real holdgate process fronting the demo
// upstream: pass-through, protocol details, and every kind of bad input answered with the
// spec's error while the gateway stays up.
#include <signal.h>

#include <catch2/catch.hpp>
#include <thread>

#include <httplib.h>

#include "support/mcp_http_client.h"
#include "support/process.h"

namespace holdgate::testing {
namespace {

struct Fixture {
  TempDir dir;
  Gateway gw;
  Fixture(std::vector<std::string> extra = {}) {
    GatewayLaunch launch;
    launch.dir = dir.path();
    launch.extra_args = std::move(extra);
    gw = StartGateway(launch);
    REQUIRE(gw.process);
  }
  McpHttpClient Client() { return McpHttpClient("127.0.0.1", gw.mcp_port); }
  bool StillServes() {
    McpHttpClient c = Client();
    return !c.Initialize().is_null();
  }
};

}  // namespace

TEST_CASE("pass-through: initialize, tools/list and tools/call reach the demo upstream", "[integration][gateway]") {
  Fixture f;
  McpHttpClient c = f.Client();
  Json init = c.Initialize();
  REQUIRE(init.is_object());
  CHECK(init["protocolVersion"] == "2025-11-25");
  CHECK(init["serverInfo"]["name"] == "holdgate-demo-upstream");
  CHECK(init["capabilities"]["tools"]["listChanged"] == true);
  CHECK_FALSE(c.session_id().empty());

  Json list = c.ListTools();
  REQUIRE(list.contains("result"));
  std::vector<std::string> names;
  for (auto& t : list["result"]["tools"]) names.push_back(t["name"]);
  CHECK(std::find(names.begin(), names.end(), "cancel_job") != names.end());
  CHECK(std::find(names.begin(), names.end(), "list_jobs") != names.end());

  Json started = c.CallTool("start_job", {{"duration_ms", 60000}, {"label", "t"}});
  REQUIRE(started.contains("result"));
  CHECK_FALSE(started["result"].value("isError", false));
  Json jobs = c.CallTool("list_jobs", Json::object());
  REQUIRE(jobs.contains("result"));
  CHECK(jobs["result"]["content"][0]["text"].get<std::string>().find("t") != std::string::npos);
  // Both calls are counted on the reviewer listener's /metrics.
  httplib::Client review("127.0.0.1", f.gw.review_port);
  auto metrics = review.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("holdgate_calls_total{decision=\"allow\"} 2") != std::string::npos);
}

TEST_CASE("older protocol versions are accepted and unknown ones answered with the latest", "[integration][gateway]") {
  Fixture f;
  McpHttpClient c = f.Client();
  for (std::string v : {"2025-06-18", "2025-03-26"}) {
    HttpReply r = c.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                              {"params", {{"protocolVersion", v}, {"capabilities", Json::object()},
                                          {"clientInfo", {{"name", "old"}, {"version", "0"}}}}}});
    REQUIRE(r.status == 200);
    CHECK(r.Response()["result"]["protocolVersion"] == v);
  }
  HttpReply r = c.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                            {"params", {{"protocolVersion", "1999-01-01"}, {"capabilities", Json::object()},
                                        {"clientInfo", {{"name", "x"}, {"version", "0"}}}}}});
  CHECK(r.Response()["result"]["protocolVersion"] == "2025-11-25");
}

TEST_CASE("notifications get 202, ping is answered, DELETE ends the session", "[integration][gateway]") {
  Fixture f;
  McpHttpClient c = f.Client();
  REQUIRE(c.Initialize().is_object());
  HttpReply n = c.Post(Json{{"jsonrpc", "2.0"}, {"method", "notifications/roots/list_changed"}});
  CHECK(n.status == 202);
  CHECK(n.body.empty());
  HttpReply p = c.Post(Json{{"jsonrpc", "2.0"}, {"id", "p1"}, {"method", "ping"}});
  CHECK(p.status == 200);
  CHECK(p.Response()["id"] == "p1");
  CHECK(p.Response()["result"] == Json::object());
  CHECK(c.Delete().status == 200);
  HttpReply after = c.Post(Json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}});
  CHECK(after.status == 404);
}

TEST_CASE("bad input is answered with the spec's error and the gateway stays up", "[integration][gateway]") {
  Fixture f;
  McpHttpClient c = f.Client();
  REQUIRE(c.Initialize().is_object());

  SECTION("malformed JSON -> 400 with -32700") {
    HttpReply r = c.PostRaw("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    CHECK(r.status == 400);
    CHECK(r.Response()["error"]["code"] == -32700);
    CHECK(r.Response()["id"].is_null());
  }
  SECTION("wrong JSON-RPC shapes -> 400 with -32600") {
    for (std::string body : {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", R"({"jsonrpc":"1.0","id":1,"method":"ping"})",
                             R"({"jsonrpc":"2.0","id":1,"method":7})", R"("hello")", R"({"jsonrpc":"2.0","id":{},"method":"ping"})"}) {
      HttpReply r = c.PostRaw(body);
      INFO(body);
      CHECK(r.status == 400);
      CHECK(r.Response()["error"]["code"] == -32600);
    }
  }
  SECTION("deeply nested JSON is refused, not recursed into") {
    std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":)" +
                       std::string(5000, '[') + std::string(5000, ']') + "}}}";
    HttpReply r = c.PostRaw(deep);
    CHECK(r.status == 400);
    CHECK(r.Response()["error"]["code"] == -32700);
  }
  SECTION("unknown session id -> 404, missing session id -> 400") {
    McpHttpClient other = f.Client();
    other.set_session_id("no-such-session");
    CHECK(other.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}).status == 404);
    other.set_session_id("");
    CHECK(other.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}).status == 400);
  }
  SECTION("oversized body -> 413") {
    std::string big = R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow_echo","arguments":{"message":")" +
                      std::string(5 * 1024 * 1024, 'x') + "\"}}}";
    HttpReply r = c.PostRaw(big);
    CHECK(r.status == 413);
  }
  SECTION("foreign Origin and foreign Host -> 403 (DNS rebinding)") {
    HttpReply r = c.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}, {{"Origin", "http://evil.example.com"}});
    CHECK(r.status == 403);
    HttpReply h = c.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}, {{"Host", "evil.example.com"}});
    CHECK(h.status == 403);
    HttpReply ok = c.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}, {{"Origin", "http://localhost:3000"}});
    CHECK(ok.status == 200);
  }
  SECTION("unsupported MCP-Protocol-Version -> 400") {
    HttpReply r = c.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}, {{"MCP-Protocol-Version", "1999-01-01"}});
    CHECK(r.status == 400);
  }
  SECTION("wrong content type -> 415, GET without SSE accept -> 406, PUT -> 405") {
    CHECK(c.PostRaw("{}", {{"Content-Type", "text/plain"}}).status == 415);
    CHECK(c.Get({{"Accept", "application/json"}}).status == 406);
  }
  SECTION("an unknown tool is the upstream's answer, passed through") {
    Json r = c.CallTool("no_such_tool", Json::object());
    REQUIRE_FALSE(r.is_null());
    bool refused = r.contains("error") || r["result"].value("isError", false);
    CHECK(refused);
  }
  CHECK(f.StillServes());
  CHECK(f.gw.process->Running());
}

TEST_CASE("an upstream that dies mid-call: the call gets an error, the upstream is restarted", "[integration][gateway]") {
  Fixture f;
  McpHttpClient c = f.Client();
  REQUIRE(c.Initialize().is_object());
  std::vector<pid_t> children = f.gw.process->Children();
  REQUIRE(children.size() == 1);
  Json reply;
  std::thread caller([&] { reply = c.CallTool("slow_echo", {{"message", "x"}, {"delay_ms", 30000}}); });
  // Wait until the call is really in flight upstream (the demo counts tools/call).
  REQUIRE(WaitUntil([&] {
    auto counters = ParseJson(ReadFile(f.dir.File("counters.json")));
    return counters.ok() && counters.value().value("tools_call_total", 0) >= 1;
  }));
  kill(children[0], SIGKILL);
  caller.join();
  REQUIRE(reply.contains("error"));
  CHECK(reply["error"]["message"].get<std::string>().find("exited") != std::string::npos);
  // A new child comes up and serves calls again.
  REQUIRE(WaitUntil([&] {
    auto now = f.gw.process->Children();
    return now.size() == 1 && now[0] != children[0];
  }));
  REQUIRE(WaitUntil([&] {
    Json r = c.CallTool("list_jobs", Json::object());
    return r.contains("result");
  }));
  CHECK(f.gw.process->Running());
}

TEST_CASE("SIGTERM stops holdgate cleanly", "[integration][gateway]") {
  Fixture f;
  CHECK(f.gw.process->Stop(SIGTERM) == 0);
}

}  // namespace holdgate::testing
