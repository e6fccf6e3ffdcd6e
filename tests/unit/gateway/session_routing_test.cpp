// The gateway with per-agent upstream sessions (a SessionPool over fake upstreams, pass-through
// mode): which upstream session serves which agent, and where what an upstream session says goes.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "gateway/gateway.h"
#include "mcp/jsonrpc.h"
#include "upstream/session_pool.h"
#include "upstream/upstream.h"

namespace holdgate::gateway {
namespace {

// Records what the gateway sends it; answers nothing by itself.
class FakeUpstream final : public upstream::Upstream {
 public:
  FakeUpstream(upstream::Options options, std::string name) : options(std::move(options)), name(std::move(name)) {}
  Status Start() override { return Status::Ok(); }
  // As a real upstream does: a stopped upstream lets go of its pending handlers (they may own it).
  void Stop() override {
    *stopped = true;
    handlers.clear();
    unsolicited = nullptr;
  }
  Json InitializeResult() const override {
    return Json{{"protocolVersion", options.protocol_version.empty() ? "2025-11-25" : options.protocol_version},
                {"capabilities", {{"tools", Json::object()}}},
                {"serverInfo", {{"name", name}, {"version", "1"}}}};
  }
  upstream::RequestHandle Send(const Json& request, std::shared_ptr<upstream::ReplyHandler> handler) override {
    sent.push_back(request);
    handlers.push_back(std::move(handler));
    return sent.size();
  }
  void Cancel(upstream::RequestHandle, const std::string&) override {}
  void Notify(const Json& notification) override { notified.push_back(notification); }
  void Respond(const Json& response) override { responded.push_back(response); }
  void SetUnsolicitedHandler(std::function<void(const Json&)> handler) override { unsolicited = std::move(handler); }

  const upstream::Options options;
  const std::string name;
  // Outlives the upstream (the pool drops a session once it is stopped).
  std::shared_ptr<std::atomic<bool>> stopped = std::make_shared<std::atomic<bool>>(false);
  std::vector<Json> sent;
  std::vector<std::shared_ptr<upstream::ReplyHandler>> handlers;
  std::vector<Json> notified;
  std::vector<Json> responded;
  std::function<void(const Json&)> unsolicited;
};

class FakeSession final : public transport::Session {
 public:
  explicit FakeSession(std::string id) : Session(std::move(id), "alice", "alice") {}
  void SendUnsolicited(const Json& message) override { unsolicited.push_back(message); }
  std::vector<Json> unsolicited;
};

class FakeStream final : public transport::ClientStream {
 public:
  void SendRelated(const Json& message) override { related.push_back(message); }
  void Finish(const Json& response) override {
    if (!finished_) response_ = response;
    finished_ = true;
  }
  void Close() override { finished_ = true; }
  bool finished() const override { return finished_; }
  void SetGoneCallback(std::function<void()>) override {}
  std::vector<Json> related;
  Json response_;
  bool finished_ = false;
};

mcp::Message Message(const Json& json) {
  mcp::Message m;
  REQUIRE(mcp::ClassifyMessage(json, &m).ok());
  return m;
}

mcp::Message Initialize(const std::string& version, const std::string& client, Json caps) {
  return Message({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                  {"params", {{"protocolVersion", version}, {"capabilities", std::move(caps)},
                              {"clientInfo", {{"name", client}, {"version", "9"}}}}}});
}

bool WaitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 500 && !condition(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return condition();
}

struct Rig {
  FakeUpstream shared{upstream::Options{}, "shared"};
  std::mutex mu;
  std::vector<FakeUpstream*> made;  // owned by the pool's sessions: valid until closed
  std::vector<std::shared_ptr<std::atomic<bool>>> stopped;  // made[i]'s, valid always
  upstream::SessionPool pool{upstream::Options{}, 2, [this](const upstream::Options& o) {
                               auto u = std::make_unique<FakeUpstream>(o, "own-" + o.client_info.value("name", ""));
                               std::lock_guard<std::mutex> lock(mu);
                               made.push_back(u.get());
                               stopped.push_back(u->stopped);
                               return u;
                             }};
  Gateway gateway{GatewayOptions{}, shared, nullptr, nullptr, nullptr, SystemClock::Instance()};
  Rig() {
    gateway.UsePerAgentSessions(&pool);
    gateway.Start();
  }
  ~Rig() {
    gateway.Shutdown();
    pool.Stop();
  }
  // Initializes `session` and returns the answer.
  Json Init(const std::shared_ptr<FakeSession>& session, const std::string& version, const std::string& client,
            Json caps = Json::object()) {
    auto stream = std::make_shared<FakeStream>();
    gateway.OnRequest(session, Initialize(version, client, std::move(caps)), stream);
    REQUIRE(stream->finished());
    return stream->response_;
  }
};

}  // namespace

TEST_CASE("gateway: a 2025-era agent gets its own upstream session, an older one shares", "[gateway]") {
  Rig rig;
  auto a = std::make_shared<FakeSession>("a");
  Json answer = rig.Init(a, "2025-06-18", "agent-a", Json{{"sampling", Json::object()}});
  REQUIRE(rig.made.size() == 1);
  FakeUpstream& own = *rig.made[0];
  CHECK(own.options.client_info == Json({{"name", "agent-a"}, {"version", "9"}}));
  CHECK(own.options.client_capabilities == Json({{"sampling", Json::object()}}));
  CHECK(own.options.protocol_version == "2025-06-18");
  CHECK(answer["result"]["serverInfo"]["name"] == "own-agent-a");
  CHECK(answer["result"]["protocolVersion"] == "2025-06-18");

  auto old = std::make_shared<FakeSession>("old");
  Json old_answer = rig.Init(old, "2024-11-05", "agent-old");
  CHECK(rig.made.size() == 1);
  CHECK(old_answer["result"]["serverInfo"]["name"] == "shared");

  // Requests go to the agent's own session with the agent's id; the older agent's to the shared one.
  rig.gateway.OnRequest(a, Message({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}}),
                        std::make_shared<FakeStream>());
  rig.gateway.OnRequest(old, Message({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}}),
                        std::make_shared<FakeStream>());
  REQUIRE(own.sent.size() == 1);
  CHECK(own.sent[0]["id"] == 2);
  CHECK(rig.shared.sent.size() == 1);
}

TEST_CASE("gateway: what an agent's own upstream session says goes to that agent only with its ids kept", "[gateway]") {
  Rig rig;
  auto a = std::make_shared<FakeSession>("a");
  auto b = std::make_shared<FakeSession>("b");
  rig.Init(a, "2025-11-25", "agent-a", Json{{"sampling", Json::object()}});
  rig.Init(b, "2025-11-25", "agent-b", Json{{"sampling", Json::object()}});
  REQUIRE(rig.made.size() == 2);
  FakeUpstream& own_a = *rig.made[0];

  // A server->client request between calls (over HTTP: on the GET stream).
  own_a.unsolicited(Json{{"jsonrpc", "2.0"}, {"id", 5}, {"method", "sampling/createMessage"}, {"params", Json::object()}});
  own_a.unsolicited(Json{{"jsonrpc", "2.0"}, {"method", "notifications/tools/list_changed"}});
  REQUIRE(a->unsolicited.size() == 2);
  CHECK(a->unsolicited[0]["id"] == 5);  // the upstream's own id: nothing to tell apart
  CHECK(b->unsolicited.empty());
  // The answer goes back to the session that asked, under its id; another agent cannot answer it.
  rig.gateway.OnMessage(b, Message({{"jsonrpc", "2.0"}, {"id", 5}, {"result", Json::object()}}));
  CHECK(own_a.responded.empty());
  rig.gateway.OnMessage(a, Message({{"jsonrpc", "2.0"}, {"id", 5}, {"result", {{"model", "m"}}}}));
  REQUIRE(own_a.responded.size() == 1);
  CHECK(own_a.responded[0]["id"] == 5);
  CHECK(rig.made[1]->responded.empty());

  // The shared session's notifications go only to agents on it: none here.
  rig.shared.unsolicited(Json{{"jsonrpc", "2.0"}, {"method", "notifications/tools/list_changed"}});
  CHECK(a->unsolicited.size() == 2);
  CHECK(b->unsolicited.empty());
}

TEST_CASE("gateway: closing an agent session closes its upstream session, a session whose own could not be "
          "opened is refused",
          "[gateway]") {
  Rig rig;  // at most 2 per-agent sessions
  auto a = std::make_shared<FakeSession>("a");
  auto b = std::make_shared<FakeSession>("b");
  auto c = std::make_shared<FakeSession>("c");
  rig.Init(a, "2025-11-25", "agent-a");
  rig.Init(b, "2025-11-25", "agent-b");
  Json refused = rig.Init(c, "2025-11-25", "agent-c");
  REQUIRE(refused.contains("error"));
  CHECK(refused["error"]["message"].get<std::string>().find("upstream.max_sessions") != std::string::npos);
  auto stream = std::make_shared<FakeStream>();
  rig.gateway.OnRequest(c, Message({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}}), stream);
  REQUIRE(stream->finished());
  CHECK(stream->response_["error"]["message"].get<std::string>().find("no upstream session") != std::string::npos);
  CHECK(rig.shared.sent.empty());  // not served from the shared session

  rig.gateway.OnSessionClosed(a);
  CHECK(WaitFor([&] { return rig.stopped[0]->load(); }));
  CHECK(WaitFor([&] { return rig.pool.open_sessions() == 1; }));
  CHECK_FALSE(rig.stopped[1]->load());
}

}  // namespace holdgate::gateway
