// The /mcp listener serving 2026-07-28 requests without a session, beside the 2025 session path,
// over real HTTP on loopback.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <mutex>

#include "common/crypto.h"
#include "mcp/era.h"
#include "transport/http_server.h"

namespace holdgate::transport {
namespace {

// Answers -32601 for "nope", else echoes what it saw of the session.
class SessionEcho final : public Dispatcher {
 public:
  void OnRequest(const std::shared_ptr<Session>& session, const mcp::Message& request,
                 const std::shared_ptr<ClientStream>& stream) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++requests_;
    }
    if (request.method() == "nope") return stream->Finish(mcp::MakeError(request.id(), mcp::kMethodNotFound, "no"));
    stream->Finish(mcp::MakeResult(request.id(), Json{{"session", session->id()},
                                                      {"principal", session->principal()},
                                                      {"version", session->protocol_version()},
                                                      {"caps", session->client_capabilities()}}));
  }
  void OnMessage(const std::shared_ptr<Session>&, const mcp::Message&) override {}
  void OnSessionClosed(const std::shared_ptr<Session>&) override {}
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  int requests_ = 0;
};

Json Modern(const std::string& method, Json params, Json caps = Json::object()) {
  params["_meta"] = {{mcp::kMetaProtocolVersion, "2026-07-28"}, {mcp::kMetaClientCapabilities, std::move(caps)}};
  return Json{{"jsonrpc", "2.0"}, {"id", "r1"}, {"method", method}, {"params", std::move(params)}};
}

struct Fixture {
  Fixture() {
    HttpServerOptions o;
    o.port = 0;
    o.api_keys = {{"a", "alice", Sha256Hex("key-alice")}};
    server = std::make_unique<HttpServer>(o, dispatcher);
    REQUIRE(server->Bind().ok());
    server->Start();
  }
  ~Fixture() { server->Stop(); }
  httplib::Result Post(const Json& body, httplib::Headers extra) {
    httplib::Client c("127.0.0.1", server->port());
    httplib::Headers h = {{"Authorization", "Bearer key-alice"}, {"Accept", "application/json, text/event-stream"}};
    for (auto& kv : extra) h.insert(kv);
    return c.Post("/mcp", h, DumpJson(body), "application/json");
  }
  SessionEcho dispatcher;
  std::unique_ptr<HttpServer> server;
};

}  // namespace

TEST_CASE("http: a 2026-07-28 request is served without a session, a session of its own per request", "[transport][era]") {
  Fixture f;
  Json caps = {{"extensions", {{mcp::kTasksExtension, Json::object()}}}};
  httplib::Headers h = {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", "x"}};
  auto r1 = f.Post(Modern("tools/call", {{"name", "x"}}, caps), h);
  REQUIRE(r1);
  REQUIRE(r1->status == 200);
  CHECK(!r1->has_header("Mcp-Session-Id"));
  Json a = ParseJson(r1->body).value()["result"];
  CHECK(a["version"] == "2026-07-28");
  CHECK(a["principal"] == "alice");
  CHECK(mcp::DeclaresTasksExtension(a["caps"]));
  auto r2 = f.Post(Modern("tools/call", {{"name", "x"}}), h);
  Json b = ParseJson(r2->body).value()["result"];
  CHECK(b["session"] != a["session"]);
  CHECK(f.server->session_count() == 0);
}

TEST_CASE("http: 2026 header/body disagreements never reach the dispatcher and keep the request id", "[transport][era]") {
  Fixture f;
  auto r = f.Post(Modern("tools/call", {{"name", "x"}}),
                  {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", "y"}});
  REQUIRE(r);
  CHECK(r->status == 400);
  Json e = ParseJson(r->body).value();
  CHECK(e["error"]["code"] == mcp::kHeaderMismatch);
  CHECK(e["id"] == "r1");
  CHECK(f.dispatcher.requests() == 0);
  // -32601 from the dispatcher is HTTP 404 for a 2026 request.
  auto nope = f.Post(Modern("nope", Json::object()), {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "nope"}});
  CHECK(nope->status == 404);
  CHECK(ParseJson(nope->body).value()["id"] == "r1");
  // A 2025 request without a session is still refused as before.
  auto legacy = f.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/list"}}, {});
  CHECK(legacy->status == 400);
}

}  // namespace holdgate::transport
