// The HTTP upstream against an in-process fake server on loopback (port 0): the negotiation at
// Start (modern, corrective retry, legacy fallback, hard errors), what a modern request carries on
// the wire, and multi round-trip requests: input requests reach the handler as server->client
// requests, answers go back with the requestState echoed exactly, cancel and refusal end the call.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json_util.h"
#include "upstream/upstream.h"
#include "upstream/waiting_reply.h"

namespace holdgate::upstream {
namespace {

// One POST as the fake saw it (bodies starting "data:" are sent as an SSE stream).
struct Seen {
  std::string body;
  Json json;
  httplib::Headers headers;
};

// A Streamable HTTP endpoint at /mcp whose POST answers come from `answer` (the request body in,
// status and body out; JSON unless the status says otherwise). GET is 405 (no stream).
class FakeServer {
 public:
  using Answer = std::function<std::pair<int, std::string>(const Json& message, size_t index)>;
  explicit FakeServer(Answer answer) : answer_(std::move(answer)) {
    server_.Post("/mcp", [this](const httplib::Request& req, httplib::Response& res) {
      Json message = ParseJson(req.body).ok() ? ParseJson(req.body).value() : Json();
      size_t index;
      {
        std::lock_guard<std::mutex> lock(mu_);
        index = seen_.size();
        seen_.push_back(Seen{req.body, message, req.headers});
      }
      cv_.notify_all();
      if (!message.contains("id")) {  // a notification
        res.status = 202;
        return;
      }
      auto [status, body] = answer_(message, index);
      res.status = status;
      if (!body.empty()) {
        res.set_content(body, body.rfind("data:", 0) == 0 ? "text/event-stream" : "application/json");
      }
    });
    server_.Get("/mcp", [](const httplib::Request&, httplib::Response& res) { res.status = 405; });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }
  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  std::vector<std::string> methods() const {
    std::vector<std::string> out;
    for (const Seen& s : seen()) out.push_back(s.json.value("method", ""));
    return out;
  }

 private:
  Answer answer_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;  // guarded by mu_
};

std::string Reply(const Json& id, const Json& result) {
  return DumpJson({{"jsonrpc", "2.0"}, {"id", id}, {"result", result}});
}
std::string ErrorReply(const Json& id, int code, const Json& data) {
  return DumpJson({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", "unsupported"}, {"data", data}}}});
}

const Json kDiscover = {{"supportedVersions", {"2026-07-28"}},
                        {"capabilities", {{"tools", Json::object()}}},
                        {"resultType", "complete"},
                        {"_meta", {{"io.modelcontextprotocol/serverInfo", {{"name", "fake"}, {"version", "9"}}}}}};

std::unique_ptr<Upstream> Make(const FakeServer& fake, Json client_info = nullptr, Json caps = Json::object()) {
  Options o;
  o.url = fake.url();
  o.client_info = std::move(client_info);
  o.client_capabilities = std::move(caps);
  o.keep_caller_ids = true;
  return MakeHttpUpstream(o);
}

TEST_CASE("http era: a discover answer makes the upstream modern - no initialize, no GET stream", "[upstream][era]") {
  FakeServer fake([](const Json& m, size_t) -> std::pair<int, std::string> {
    if (m["method"] == "server/discover") return {200, Reply(m["id"], kDiscover)};
    return {200, Reply(m["id"], {{"resultType", "complete"}, {"tools", Json::array()}, {"ttlMs", 0}, {"cacheScope", "private"}})};
  });
  auto up = Make(fake, {{"name", "agent-x"}, {"version", "1"}},
                 {{"elicitation", Json::object()}, {"extensions", {{"io.modelcontextprotocol/tasks", Json::object()}}}});
  Status s = up->Start();
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(up->ProtocolEra() == "modern");
  CHECK(up->InitializeResult() == Json{{"protocolVersion", "2026-07-28"},
                                       {"capabilities", {{"tools", Json::object()}}},
                                       {"serverInfo", {{"name", "fake"}, {"version", "9"}}}});
  auto reply = std::make_shared<WaitingReply>();
  up->Send({{"jsonrpc", "2.0"}, {"id", 5}, {"method", "tools/list"}}, reply);
  CHECK(reply->Wait(10'000) == Json{{"jsonrpc", "2.0"}, {"id", 5}, {"result", {{"tools", Json::array()}}}});
  up->Stop();

  CHECK(fake.methods() == std::vector<std::string>{"server/discover", "tools/list"});
  for (const Seen& s : fake.seen()) {
    const Json meta = s.json["params"]["_meta"];
    CHECK(meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28");
    CHECK(meta["io.modelcontextprotocol/clientInfo"] == Json{{"name", "agent-x"}, {"version", "1"}});
    CHECK(meta["io.modelcontextprotocol/clientCapabilities"] == Json{{"elicitation", Json::object()}});
    CHECK(s.headers.find("MCP-Protocol-Version")->second == "2026-07-28");
    CHECK(s.headers.find("Mcp-Method")->second == s.json["method"]);
    CHECK(s.headers.count("Mcp-Session-Id") == 0);
  }
}

TEST_CASE("http era: -32022 naming a shared version gets one corrective retry", "[upstream][era]") {
  FakeServer fake([](const Json& m, size_t index) -> std::pair<int, std::string> {
    if (index == 0) return {400, ErrorReply(m["id"], -32022, {{"supported", {"2026-07-28", "2027-05-01"}}})};
    return {200, Reply(m["id"], kDiscover)};
  });
  auto up = Make(fake);
  REQUIRE(up->Start().ok());
  CHECK(up->ProtocolEra() == "modern");
  CHECK(fake.methods() == std::vector<std::string>{"server/discover", "server/discover"});
  up->Stop();
}

TEST_CASE("http era: a second -32022 is an error - so is one offering only versions holdgate lacks", "[upstream][era]") {
  SECTION("twice") {
    FakeServer fake([](const Json& m, size_t) -> std::pair<int, std::string> {
      return {400, ErrorReply(m["id"], -32022, {{"supported", {"2026-07-28"}}})};
    });
    auto up = Make(fake);
    Status s = up->Start();
    CHECK_FALSE(s.ok());
    CHECK_THAT(s.message(), Catch::Contains("twice"));
    CHECK(fake.methods().size() == 2);
  }
  SECTION("no shared version") {
    FakeServer fake([](const Json& m, size_t) -> std::pair<int, std::string> {
      return {400, ErrorReply(m["id"], -32022, {{"supported", {"2027-05-01"}}})};
    });
    auto up = Make(fake);
    Status s = up->Start();
    CHECK_FALSE(s.ok());
    CHECK_THAT(s.message(), Catch::Contains("2027-05-01"));
    CHECK(fake.methods() == std::vector<std::string>{"server/discover"});  // no initialize
  }
}

TEST_CASE("http era: a 4xx without era evidence falls back to initialize (2025 upstream)", "[upstream][era]") {
  FakeServer fake([](const Json& m, size_t) -> std::pair<int, std::string> {
    if (m["method"] == "server/discover") return {400, "Bad Request: Server not initialized"};
    if (m["method"] == "initialize") {
      return {200, Reply(m["id"], {{"protocolVersion", "2025-11-25"}, {"capabilities", Json::object()},
                                   {"serverInfo", {{"name", "old"}, {"version", "1"}}}})};
    }
    return {200, Reply(m["id"], Json::object())};
  });
  auto up = Make(fake);
  Status s = up->Start();
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(up->ProtocolEra() == "legacy");
  CHECK(up->InitializeResult()["serverInfo"]["name"] == "old");
  up->Stop();
  std::vector<std::string> methods = fake.methods();
  REQUIRE(methods.size() >= 2);
  CHECK(methods[0] == "server/discover");
  CHECK(methods[1] == "initialize");
  // The 2025 exchange carries no envelope.
  CHECK_FALSE(fake.seen()[1].json["params"].contains("_meta"));
}

TEST_CASE("http era: 5xx and an unreachable server are hard errors, no fallback", "[upstream][era]") {
  SECTION("500") {
    FakeServer fake([](const Json&, size_t) -> std::pair<int, std::string> { return {500, "oops"}; });
    auto up = Make(fake);
    Status s = up->Start();
    CHECK_FALSE(s.ok());
    CHECK_THAT(s.message(), Catch::Contains("HTTP 500"));
    CHECK(fake.methods() == std::vector<std::string>{"server/discover"});
  }
  SECTION("nobody listening") {
    // A port that was free a moment ago and has no listener (bound, never listened, closed).
    int port = 0;
    {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      REQUIRE(fd >= 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      socklen_t len = sizeof addr;
      REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
      port = ntohs(addr.sin_port);
      ::close(fd);
    }
    Options o;
    o.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
    auto up = MakeHttpUpstream(o);
    Status s = up->Start();
    CHECK_FALSE(s.ok());
    CHECK_THAT(s.message(), Catch::Contains("unreachable"));
  }
}

// Records related messages and the final response; lets the test wait for either.
class Recorder final : public ReplyHandler {
 public:
  void OnRelated(const Json& message) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      related_.push_back(message);
    }
    cv_.notify_all();
  }
  void OnResponse(const Json& response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      responses_.push_back(response);
    }
    cv_.notify_all();
  }
  Json WaitRelated(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return related_.size() >= n; })) return nullptr;
    return related_[n - 1];
  }
  Json WaitResponse() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !responses_.empty(); })) return nullptr;
    return responses_.front();
  }
  size_t responses() {
    std::lock_guard<std::mutex> lock(mu_);
    return responses_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Json> related_;
  std::vector<Json> responses_;
};

// The state string as the fake writes it on the wire: a quote, a slash, non-ASCII.
const char* kStateWire = R"("st/\u00e9\"+=")";

// A tools/call that asks for input twice: {a: elicitation} then {b: roots/list}, then answers.
FakeServer::Answer TwoRounds() {
  return [](const Json& m, size_t) -> std::pair<int, std::string> {
    if (m["method"] == "server/discover") return {200, Reply(m["id"], kDiscover)};
    const Json& p = m["params"];
    if (!p.contains("requestState")) {
      // Written by hand so the requestState bytes are exactly these.
      return {200, std::string(R"({"jsonrpc":"2.0","id":)") + DumpJson(m["id"]) +
                       R"(,"result":{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create","params":{"message":"ok?","requestedSchema":{"type":"object","properties":{}}}}},"requestState":)" +
                       kStateWire + "}}"};
    }
    if (p["requestState"] == "st/\xC3\xA9\"+=") {
      return {200, Reply(m["id"], {{"resultType", "input_required"},
                                   {"inputRequests", {{"b", {{"method", "roots/list"}}}}},
                                   {"requestState", "second"}})};
    }
    if (p["requestState"] == "second") {
      return {200, Reply(m["id"], {{"resultType", "complete"},
                                   {"content", {{{"type", "text"}, {"text", DumpJson(p["inputResponses"])}}}}})};
    }
    return {400, ErrorReply(m["id"], -32602, {{"reason", "invalid_request_state"}})};
  };
}

Json ToolCall(int id) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"},
          {"params", {{"name", "ask"}, {"arguments", {{"q", 1}}}}}};
}

TEST_CASE("http era: input_required rounds become server->client requests - the handler gets only the final result", "[upstream][era]") {
  FakeServer fake(TwoRounds());
  auto up = Make(fake, nullptr, {{"elicitation", Json::object()}, {"roots", Json::object()}});
  REQUIRE(up->Start().ok());
  auto rec = std::make_shared<Recorder>();
  up->Send(ToolCall(42), rec);

  Json first = rec->WaitRelated(1);
  REQUIRE(first.is_object());
  CHECK(first["method"] == "elicitation/create");
  CHECK(first["params"]["message"] == "ok?");
  CHECK(rec->responses() == 0);
  up->Respond({{"jsonrpc", "2.0"}, {"id", first["id"]}, {"result", {{"action", "accept"}, {"content", {{"ok", true}}}}}});

  Json second = rec->WaitRelated(2);
  REQUIRE(second.is_object());
  CHECK(second["method"] == "roots/list");
  up->Respond({{"jsonrpc", "2.0"}, {"id", second["id"]}, {"result", {{"roots", Json::array()}}}});

  Json final_response = rec->WaitResponse();
  REQUIRE(final_response.is_object());
  CHECK(final_response["id"] == 42);
  CHECK_FALSE(final_response["result"].contains("resultType"));
  CHECK(final_response["result"]["content"][0]["text"] == R"({"b":{"roots":[]}})");
  up->Stop();

  std::vector<Seen> seen = fake.seen();
  REQUIRE(seen.size() == 4);  // discover + three legs of one call
  for (size_t i = 1; i < 4; ++i) {
    CHECK(seen[i].json["params"]["name"] == "ask");
    CHECK(seen[i].json["params"]["arguments"] == Json{{"q", 1}});
    CHECK(seen[i].headers.find("Mcp-Name")->second == "ask");
  }
  CHECK(seen[2].json["params"]["inputResponses"] == Json{{"a", {{"action", "accept"}, {"content", {{"ok", true}}}}}});
  CHECK(seen[2].json["params"]["requestState"] == "st/\xC3\xA9\"+=");
  CHECK(seen[3].json["params"]["requestState"] == "second");
  CHECK(fake.seen()[1].json["params"].count("requestState") == 0);
  CHECK(up->ProtocolEra() == "modern");
}

TEST_CASE("http era: cancel while the agent is asked ends the call - its late answer is dropped", "[upstream][era]") {
  FakeServer fake(TwoRounds());
  auto up = Make(fake, nullptr, {{"elicitation", Json::object()}});
  REQUIRE(up->Start().ok());
  auto rec = std::make_shared<Recorder>();
  RequestHandle handle = up->Send(ToolCall(7), rec);
  Json asked = rec->WaitRelated(1);
  REQUIRE(asked.is_object());
  up->Cancel(handle, "agent went away");
  Json response = rec->WaitResponse();
  REQUIRE(response.is_object());
  CHECK(response["id"] == 7);
  CHECK_THAT(response["error"]["message"].get<std::string>(), Catch::Contains("agent went away"));
  up->Respond({{"jsonrpc", "2.0"}, {"id", asked["id"]}, {"result", {{"action", "accept"}}}});
  up->Stop();
  CHECK(rec->responses() == 1);
  CHECK(fake.seen().size() == 2);  // discover + the first leg; no retry
}

TEST_CASE("http era: an agent that never answers its input request runs into the request timeout", "[upstream][era]") {
  FakeServer fake(TwoRounds());
  Options o;
  o.url = fake.url();
  o.request_timeout_ms = 300;
  auto up = MakeHttpUpstream(o);
  REQUIRE(up->Start().ok());
  auto rec = std::make_shared<Recorder>();
  up->Send(ToolCall(9), rec);
  REQUIRE(rec->WaitRelated(1).is_object());
  Json response = rec->WaitResponse();
  REQUIRE(response.is_object());
  CHECK(response["id"] == 9);
  CHECK(response["error"]["code"] == -32001);
  CHECK_THAT(response["error"]["message"].get<std::string>(), Catch::Contains("did not answer the upstream's input"));
  up->Stop();
  CHECK(fake.seen().size() == 2);
}

TEST_CASE("http era: an agent that refuses an input request ends the call with a clear error", "[upstream][era]") {
  FakeServer fake(TwoRounds());
  auto up = Make(fake);
  REQUIRE(up->Start().ok());
  auto rec = std::make_shared<Recorder>();
  up->Send(ToolCall(8), rec);
  Json asked = rec->WaitRelated(1);
  REQUIRE(asked.is_object());
  up->Respond({{"jsonrpc", "2.0"}, {"id", asked["id"]}, {"error", {{"code", -32601}, {"message", "no elicitation here"}}}});
  Json response = rec->WaitResponse();
  REQUIRE(response.is_object());
  CHECK(response["id"] == 8);
  CHECK_THAT(response["error"]["message"].get<std::string>(), Catch::Contains("no elicitation here"));
  up->Stop();
  CHECK(fake.seen().size() == 2);
}

TEST_CASE("http era: ping and logging/setLevel are answered here - a task result is a clear error", "[upstream][era]") {
  FakeServer fake([](const Json& m, size_t) -> std::pair<int, std::string> {
    if (m["method"] == "server/discover") return {200, Reply(m["id"], kDiscover)};
    return {200, Reply(m["id"], {{"resultType", "task"}, {"taskId", "t1"}, {"status", "working"}})};
  });
  auto up = Make(fake);
  REQUIRE(up->Start().ok());
  auto ping = std::make_shared<WaitingReply>();
  up->Send({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}, ping);
  CHECK(ping->Wait(5000) == Json{{"jsonrpc", "2.0"}, {"id", 1}, {"result", Json::object()}});
  auto level = std::make_shared<WaitingReply>();
  up->Send({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "logging/setLevel"}, {"params", {{"level", "debug"}}}}, level);
  CHECK(level->Wait(5000)["result"] == Json::object());
  auto task = std::make_shared<WaitingReply>();
  up->Send(ToolCall(4), task);
  Json r = task->Wait(5000);
  CHECK(r["id"] == 4);
  CHECK_THAT(r["error"]["message"].get<std::string>(), Catch::Contains("\"task\""));
  up->Stop();
  std::vector<Seen> seen = fake.seen();
  REQUIRE(seen.size() == 2);  // discover and the tools/call only
  CHECK(seen[1].json["params"]["_meta"]["io.modelcontextprotocol/logLevel"] == "debug");
}

TEST_CASE("http era: list changes and resources/subscribe ride a subscriptions/listen stream", "[upstream][era]") {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Json> unsolicited;
  FakeServer fake([](const Json& m, size_t) -> std::pair<int, std::string> {
    if (m["method"] == "server/discover") {
      Json discover = kDiscover;
      discover["capabilities"]["tools"]["listChanged"] = true;
      return {200, Reply(m["id"], discover)};
    }
    if (m["method"] == "subscriptions/listen") {
      const Json meta = {{"io.modelcontextprotocol/subscriptionId", m["id"]}};
      std::string sse = "data: " + DumpJson({{"jsonrpc", "2.0"}, {"method", "notifications/subscriptions/acknowledged"},
                                             {"params", {{"notifications", m["params"]["notifications"]}, {"_meta", meta}}}}) + "\n\n";
      sse += "data: " + DumpJson({{"jsonrpc", "2.0"}, {"method", "notifications/tools/list_changed"}, {"params", {{"_meta", meta}}}}) + "\n\n";
      for (const Json& uri : m["params"]["notifications"].value("resourceSubscriptions", Json::array())) {
        sse += "data: " + DumpJson({{"jsonrpc", "2.0"}, {"method", "notifications/resources/updated"},
                                    {"params", {{"uri", uri}, {"_meta", meta}}}}) + "\n\n";
      }
      return {200, sse};
    }
    return {200, Reply(m["id"], Json::object())};
  });
  auto up = Make(fake);
  up->SetUnsolicitedHandler([&](const Json& message) {
    std::lock_guard<std::mutex> lock(mu);
    unsolicited.push_back(message);
    cv.notify_all();
  });
  REQUIRE(up->Start().ok());
  auto saw = [&](const Json& wanted) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] {
      return std::find(unsolicited.begin(), unsolicited.end(), wanted) != unsolicited.end();
    });
  };
  CHECK(saw({{"jsonrpc", "2.0"}, {"method", "notifications/tools/list_changed"}}));  // no _meta left: it held only the id

  auto sub = std::make_shared<WaitingReply>();
  up->Send({{"jsonrpc", "2.0"}, {"id", 3}, {"method", "resources/subscribe"}, {"params", {{"uri", "file:///x"}}}}, sub);
  CHECK(sub->Wait(5000) == Json{{"jsonrpc", "2.0"}, {"id", 3}, {"result", Json::object()}});
  CHECK(saw({{"jsonrpc", "2.0"}, {"method", "notifications/resources/updated"}, {"params", {{"uri", "file:///x"}}}}));
  up->Stop();

  bool listened_for_x = false;
  for (const Seen& s : fake.seen()) {
    if (s.json.value("method", "") != "subscriptions/listen") continue;
    CHECK(s.json["params"]["notifications"]["toolsListChanged"] == true);
    CHECK(s.headers.find("Mcp-Method")->second == "subscriptions/listen");
    if (s.json["params"]["notifications"].value("resourceSubscriptions", Json()) == Json{"file:///x"}) listened_for_x = true;
  }
  CHECK(listened_for_x);
  std::lock_guard<std::mutex> lock(mu);
  for (const Json& m : unsolicited) CHECK(m["method"] != "notifications/subscriptions/acknowledged");
}

}  // namespace
}  // namespace holdgate::upstream
