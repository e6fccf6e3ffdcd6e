// Fleet with injected fake members: merged lists with prefixes, calls routed with the prefix
// removed, resources routed by who listed them, server->client request ids kept apart, name
// collisions refused, and a member that is down or silent failing only its own tools.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/json_util.h"
#include "mcp/jsonrpc.h"
#include "upstream/fleet.h"

namespace holdgate::upstream {
namespace {

// One fake MCP server's behaviour, shared by every instance the factory builds for it.
struct Server {
  std::vector<std::string> tools;
  std::vector<std::string> resources;  // URIs
  std::atomic<bool> start_fails{false};
  std::atomic<bool> silent{false};      // answers nothing (a hung server)
  std::atomic<bool> ask_on_call{false};  // sends a server->client request during tools/call
  std::mutex mu;
  std::vector<Json> calls;      // requests it received (tools/call, resources/read)
  std::vector<Json> responses;  // what Respond brought back
  std::shared_ptr<ReplyHandler> asking;  // the call waiting for its answer
  Json asking_request;
  std::atomic<int> starts{0};
};

class FakeMember final : public Upstream {
 public:
  explicit FakeMember(std::shared_ptr<Server> s) : s_(std::move(s)) {}
  Status Start() override {
    ++s_->starts;
    if (s_->silent) return Unavailable("initialize timed out");
    return s_->start_fails ? Unavailable("connection refused") : Status::Ok();
  }
  void Stop() override {}
  Json InitializeResult() const override {
    Json caps = {{"tools", Json::object()}};
    if (!s_->resources.empty()) caps["resources"] = Json::object();
    return Json{{"protocolVersion", "2025-06-18"}, {"capabilities", caps}};
  }
  RequestHandle Send(const Json& request, std::shared_ptr<ReplyHandler> handler) override {
    if (s_->silent) return 1;
    const std::string method = request["method"];
    const Json& id = request["id"];
    if (method == "tools/list") {
      // Two pages: the fleet must follow the cursor.
      const bool second = request["params"].contains("cursor");
      Json tools = Json::array();
      for (size_t i = 0; i < s_->tools.size(); ++i) {
        if ((i % 2 == 1) == second) tools.push_back({{"name", s_->tools[i]}, {"inputSchema", {{"type", "object"}}}});
      }
      Json result = {{"tools", tools}};
      if (!second) result["nextCursor"] = "page2";
      handler->OnResponse(mcp::MakeResult(id, result));
    } else if (method == "resources/list") {
      Json list = Json::array();
      for (const auto& u : s_->resources) list.push_back({{"uri", u}, {"name", u}});
      handler->OnResponse(mcp::MakeResult(id, {{"resources", list}}));
    } else if (method == "ping") {
      handler->OnResponse(mcp::MakeResult(id, Json::object()));
    } else {
      std::lock_guard<std::mutex> lock(s_->mu);
      s_->calls.push_back(request);
      if (method == "tools/call" && s_->ask_on_call) {
        s_->asking = handler;
        s_->asking_request = request;
        handler->OnRelated(mcp::MakeRequest(7, "elicitation/create", {{"message", "sure?"}}));
        return 2;
      }
      handler->OnResponse(mcp::MakeResult(id, {{"echo", request["params"]}}));
    }
    return 3;
  }
  void Cancel(RequestHandle, const std::string&) override {}
  void Notify(const Json&) override {}
  void Respond(const Json& response) override {
    std::shared_ptr<ReplyHandler> h;
    Json req;
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      s_->responses.push_back(response);
      h = std::move(s_->asking);
      req = s_->asking_request;
    }
    if (h) h->OnResponse(mcp::MakeResult(req["id"], {{"answered", true}}));
  }
  void SetUnsolicitedHandler(std::function<void(const Json&)>) override {}

 private:
  std::shared_ptr<Server> s_;
};

class Waiter final : public ReplyHandler {
 public:
  void OnRelated(const Json& m) override {
    std::lock_guard<std::mutex> lock(mu_);
    related_.push_back(m);
  }
  void OnResponse(const Json& r) override { promise_.set_value(r); }
  Json Get() {
    auto f = promise_.get_future();
    REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    return f.get();
  }
  std::vector<Json> Related() {
    std::lock_guard<std::mutex> lock(mu_);
    return related_;
  }

 private:
  std::mutex mu_;
  std::vector<Json> related_;
  std::promise<Json> promise_;
};

struct Setup {
  std::map<std::string, std::shared_ptr<Server>> servers;  // by command
  FleetOptions options;
  std::vector<FleetMember> members;

  Setup() {
    options.factory = [this](const Options& o) { return std::make_unique<FakeMember>(servers.at(o.command)); };
    options.list_timeout_ms = 300;
    options.health_interval_ms = 50;
  }
  std::shared_ptr<Server> Add(const std::string& name, const std::string& prefix, std::vector<std::string> tools) {
    auto s = std::make_shared<Server>();
    s->tools = std::move(tools);
    servers[name] = s;
    Options o;
    o.command = name;
    members.push_back({name, prefix, o});
    return s;
  }
};

Json Call(Upstream& up, const Json& request) {
  auto w = std::make_shared<Waiter>();
  up.Send(request, w);
  return w->Get();
}

std::vector<std::string> ToolNames(Upstream& up) {
  Json r = Call(up, mcp::MakeRequest(1, "tools/list", Json::object()));
  std::vector<std::string> names;
  for (const auto& t : r["result"]["tools"]) names.push_back(t["name"]);
  std::sort(names.begin(), names.end());
  return names;
}

bool WaitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace

TEST_CASE("fleet: tools of every upstream are listed with their prefixes and calls go to their owner unprefixed",
          "[upstream][fleet]") {
  Setup s;
  auto a = s.Add("alpha", "a_", {"fit", "predict", "cancel_job"});
  auto b = s.Add("beta", "", {"echo", "add"});
  Fleet fleet(s.members, s.options);
  REQUIRE(fleet.Start().ok());
  CHECK(ToolNames(fleet) == std::vector<std::string>{"a_cancel_job", "a_fit", "a_predict", "add", "echo"});
  CHECK(fleet.OwnerOf("a_fit") == "alpha");
  CHECK(fleet.OwnerOf("echo") == "beta");

  Json r = Call(fleet, mcp::MakeRequest("x1", "tools/call", {{"name", "a_cancel_job"}, {"arguments", {{"id", 3}}}}));
  CHECK(r["id"] == "x1");
  CHECK(r["result"]["echo"]["name"] == "cancel_job");
  r = Call(fleet, mcp::MakeRequest("x2", "tools/call", {{"name", "echo"}, {"arguments", Json::object()}}));
  CHECK(r["result"]["echo"]["name"] == "echo");
  CHECK(a->calls.size() == 1);
  CHECK(b->calls.size() == 1);
  CHECK(fleet.InitializeResult()["capabilities"]["tools"]["listChanged"] == true);
  fleet.Stop();
}

TEST_CASE("fleet: a name two upstreams would both list refuses to start, naming both", "[upstream][fleet]") {
  Setup s;
  s.Add("one", "", {"echo"});
  s.Add("two", "x_", {"echo"});
  s.servers["one"]->tools = {"x_echo"};  // "" upstream's tool looks like one of two's
  Fleet fleet(s.members, s.options);
  Status st = fleet.Start();
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("x_echo") && Catch::Contains("one") && Catch::Contains("two"));
  fleet.Stop();
}

TEST_CASE("fleet: an upstream that cannot start fails only its own tools and joins later", "[upstream][fleet]") {
  Setup s;
  s.Add("good", "g_", {"ok"});
  auto bad = s.Add("bad", "b_", {"boom"});
  bad->start_fails = true;
  std::atomic<int> list_changed{0};
  Fleet fleet(s.members, s.options);
  fleet.SetUnsolicitedHandler([&](const Json& m) {
    if (m.value("method", "") == "notifications/tools/list_changed") ++list_changed;
  });
  REQUIRE(fleet.Start().ok());
  CHECK(ToolNames(fleet) == std::vector<std::string>{"g_ok"});
  Json r = Call(fleet, mcp::MakeRequest(5, "tools/call", {{"name", "b_boom"}}));
  REQUIRE(r.contains("error"));
  CHECK_THAT(r["error"]["message"].get<std::string>(), Catch::Contains("upstream bad is not available"));
  CHECK(Call(fleet, mcp::MakeRequest(6, "tools/call", {{"name", "g_ok"}}))["result"]["echo"]["name"] == "ok");

  bad->start_fails = false;  // the health thread rebuilds it
  REQUIRE(WaitFor([&] { return list_changed.load() > 0; }));
  CHECK(ToolNames(fleet) == std::vector<std::string>{"b_boom", "g_ok"});
  fleet.Stop();
}

TEST_CASE("fleet: a silent upstream is left out of the list after list_timeout and dropped with list_changed",
          "[upstream][fleet]") {
  Setup s;
  s.Add("good", "g_", {"ok"});
  auto slow = s.Add("slow", "s_", {"wait"});
  Fleet fleet(s.members, s.options);
  std::atomic<int> list_changed{0};
  fleet.SetUnsolicitedHandler([&](const Json& m) {
    if (m.value("method", "") == "notifications/tools/list_changed") ++list_changed;
  });
  REQUIRE(fleet.Start().ok());
  slow->silent = true;
  // Within list_timeout_ms the merged list comes back without it.
  CHECK(ToolNames(fleet) == std::vector<std::string>{"g_ok"});
  REQUIRE(WaitFor([&] { return list_changed.load() > 0; }));
  bool slow_down = false;
  for (const auto& m : fleet.Members()) {
    if (m.name == "slow") slow_down = !m.up;
  }
  CHECK(slow_down);
  Json r = Call(fleet, mcp::MakeRequest(9, "tools/call", {{"name", "s_wait"}}));
  REQUIRE(r.contains("error"));
  CHECK_THAT(r["error"]["message"].get<std::string>(), Catch::Contains("slow"));
  CHECK(Call(fleet, mcp::MakeRequest(10, "tools/call", {{"name", "g_ok"}}))["result"]["echo"]["name"] == "ok");
  fleet.Stop();
}

TEST_CASE("fleet: server->client requests get fleet-wide ids and the answer reaches the asking upstream",
          "[upstream][fleet]") {
  Setup s;
  auto a = s.Add("a", "a_", {"ask"});
  auto b = s.Add("b", "b_", {"ask"});
  a->ask_on_call = true;
  b->ask_on_call = true;
  Fleet fleet(s.members, s.options);
  REQUIRE(fleet.Start().ok());
  auto wa = std::make_shared<Waiter>();
  auto wb = std::make_shared<Waiter>();
  fleet.Send(mcp::MakeRequest(1, "tools/call", {{"name", "a_ask"}}), wa);
  fleet.Send(mcp::MakeRequest(2, "tools/call", {{"name", "b_ask"}}), wb);
  REQUIRE(wa->Related().size() == 1);
  REQUIRE(wb->Related().size() == 1);
  const Json ida = wa->Related()[0]["id"];
  const Json idb = wb->Related()[0]["id"];
  CHECK(ida != idb);  // both upstreams used id 7
  fleet.Respond(mcp::MakeResult(idb, {{"action", "accept"}}));
  CHECK(wb->Get()["result"]["answered"] == true);
  REQUIRE(b->responses.size() == 1);
  CHECK(b->responses[0]["id"] == 7);
  CHECK(a->responses.empty());
  fleet.Respond(mcp::MakeResult(ida, {{"action", "decline"}}));
  CHECK(wa->Get()["result"]["answered"] == true);
  fleet.Stop();
}

TEST_CASE("fleet: a resource is read from the upstream that listed it", "[upstream][fleet]") {
  Setup s;
  auto a = s.Add("a", "a_", {"t"});
  auto b = s.Add("b", "b_", {"u"});
  a->resources = {"file:///a.txt"};
  b->resources = {"demo://b/1"};
  Fleet fleet(s.members, s.options);
  REQUIRE(fleet.Start().ok());
  Json list = Call(fleet, mcp::MakeRequest(1, "resources/list", Json::object()));
  CHECK(list["result"]["resources"].size() == 2);
  Call(fleet, mcp::MakeRequest(2, "resources/read", {{"uri", "demo://b/1"}}));
  CHECK(b->calls.size() == 1);
  CHECK(a->calls.empty());
  Json unknown = Call(fleet, mcp::MakeRequest(3, "resources/read", {{"uri", "nowhere://x"}}));
  CHECK(unknown["error"]["code"] == mcp::kInvalidParams);
  fleet.Stop();
}

}  // namespace holdgate::upstream
