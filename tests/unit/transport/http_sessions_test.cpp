// The /mcp listener's sessions over real HTTP on loopback, with a fake clock for idle expiry.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <mutex>
#include <set>

#include "common/crypto.h"
#include "support/fake_clock.h"
#include "transport/http_server.h"

namespace holdgate::transport {
namespace {

class RecordingDispatcher final : public Dispatcher {
 public:
  void OnRequest(const std::shared_ptr<Session>&, const mcp::Message& request,
                 const std::shared_ptr<ClientStream>& stream) override {
    stream->Finish(mcp::MakeResult(request.id(), Json{{"protocolVersion", "2025-11-25"}}));
  }
  void OnMessage(const std::shared_ptr<Session>&, const mcp::Message& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back(message.json);
  }
  void OnSessionClosed(const std::shared_ptr<Session>& session) override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_.push_back(session->id());
  }
  std::vector<std::string> closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }
  size_t messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_.size();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> closed_;
  std::vector<Json> messages_;
};

const char* kInit = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";

struct Fixture {
  explicit Fixture(size_t per_principal = 1000) {
    HttpServerOptions o;
    o.port = 0;
    o.api_keys = {{"a", "alice", Sha256Hex("key-alice")}, {"b", "bob", Sha256Hex("key-bob")}};
    o.max_sessions_per_principal = per_principal;
    o.session_idle_timeout_ms = 3'600'000;
    o.clock = &clock;
    server = std::make_unique<HttpServer>(o, dispatcher);
    REQUIRE(server->Bind().ok());
    server->Start();
  }
  ~Fixture() { server->Stop(); }

  httplib::Result Post(const std::string& key, const std::string& body, const std::string& session = "") {
    httplib::Client c("127.0.0.1", server->port());
    httplib::Headers h = {{"Authorization", "Bearer " + key}, {"Accept", "application/json, text/event-stream"}};
    if (!session.empty()) h.emplace("Mcp-Session-Id", session);
    return c.Post("/mcp", h, body, "application/json");
  }
  std::string Initialize(const std::string& key) {
    auto r = Post(key, kInit);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return r->get_header_value("Mcp-Session-Id");
  }

  testing::FakeClock clock;
  RecordingDispatcher dispatcher;
  std::unique_ptr<HttpServer> server;
};

}  // namespace

TEST_CASE("http sessions: an idle session expires and the dispatcher hears it as for DELETE", "[transport][sessions]") {
  Fixture f;
  const std::string idle = f.Initialize("key-alice");
  const std::string busy = f.Initialize("key-alice");
  f.clock.Advance(3'600'000 - 1000);
  REQUIRE(f.Post("key-alice", R"({"jsonrpc":"2.0","id":2,"method":"ping"})", busy)->status == 200);
  f.clock.Advance(1000);
  CHECK(f.server->ExpireIdleSessions() == 1);
  CHECK(f.dispatcher.closed() == std::vector<std::string>{idle});
  // The expired id is gone (404 tells a client to initialize again); the used one still works.
  auto gone = f.Post("key-alice", R"({"jsonrpc":"2.0","id":3,"method":"ping"})", idle);
  REQUIRE(gone);
  CHECK(gone->status == 404);
  CHECK(f.Post("key-alice", R"({"jsonrpc":"2.0","id":4,"method":"ping"})", busy)->status == 200);
  CHECK(f.server->session_count() == 1);
}

TEST_CASE("http sessions: one principal at its cap gets 429, another still initializes", "[transport][sessions]") {
  Fixture f(3);
  for (int i = 0; i < 3; ++i) f.Initialize("key-alice");
  auto refused = f.Post("key-alice", kInit);
  REQUIRE(refused);
  CHECK(refused->status == 429);
  CHECK(refused->get_header_value("Mcp-Session-Id").empty());
  auto body = ParseJson(refused->body);
  REQUIRE(body.ok());
  CHECK(body.value()["id"] == 1);
  CHECK(body.value()["error"]["message"].get<std::string>().find("max_sessions_per_principal") != std::string::npos);
  CHECK_FALSE(f.Initialize("key-bob").empty());
  // Once alice's sessions idle out she can start again.
  f.clock.Advance(3'600'000);
  CHECK(f.server->ExpireIdleSessions() == 4);
  CHECK_FALSE(f.Initialize("key-alice").empty());
}

TEST_CASE("http: a request method sent as a notification gets 400 and is still reported to the dispatcher",
          "[transport][methods]") {
  Fixture f;
  const std::string sid = f.Initialize("key-alice");
  auto r = f.Post("key-alice", R"({"jsonrpc":"2.0","method":"tools/call","params":{"name":"cancel_job"}})", sid);
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(f.dispatcher.messages() == 1);  // the gateway drops and audits it
  auto ok = f.Post("key-alice", R"({"jsonrpc":"2.0","method":"notifications/initialized"})", sid);
  REQUIRE(ok);
  CHECK(ok->status == 202);
}

}  // namespace holdgate::transport
