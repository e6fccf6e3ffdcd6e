// Held SSE replies on the /mcp listener over real HTTP on loopback: they wait without threads,
// are answered through the parked-connection loop, keep their connections for the next request,
// and report an agent that leaves.
#include <catch2/catch.hpp>
#include <dirent.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "common/json_util.h"
#include "support/raw_conn.h"
#include "transport/http_server.h"

namespace holdgate::transport {
namespace {

using testing::RawConn;

// Answers initialize and ping at once; keeps tools/call replies until the test answers them.
class HoldingDispatcher final : public Dispatcher {
 public:
  void OnRequest(const std::shared_ptr<Session>&, const mcp::Message& request,
                 const std::shared_ptr<ClientStream>& stream) override {
    if (request.method() != "tools/call") {
      stream->Finish(mcp::MakeResult(request.id(), Json{{"protocolVersion", "2025-11-25"}}));
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto held = std::make_shared<Held>(Held{request.id(), stream, false});
    std::weak_ptr<Held> weak = held;  // the stream keeps its callback: no cycle through it
    stream->SetGoneCallback([this, weak] {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto h = weak.lock()) h->gone = true;
      cv_.notify_all();
    });
    held_.push_back(held);
    cv_.notify_all();
  }
  void OnMessage(const std::shared_ptr<Session>&, const mcp::Message&) override {}
  void OnSessionClosed(const std::shared_ptr<Session>&) override {}

  bool WaitHeld(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_.size() >= n; });
  }
  bool WaitGone(size_t i) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_[i]->gone; });
  }
  void Answer(size_t i, const std::string& text) {
    std::shared_ptr<Held> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held = held_[i];
    }
    held->stream->SendRelated(Json{{"jsonrpc", "2.0"}, {"method", "notifications/progress"},
                                   {"params", {{"progressToken", 1}, {"progress", 1}}}});
    held->stream->Finish(mcp::MakeResult(held->id, Json{{"text", text}}));
  }
  bool gone(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return held_[i]->gone;
  }

 private:
  struct Held {
    Json id;
    std::shared_ptr<ClientStream> stream;
    bool gone;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Held>> held_;  // guarded by mu_
};

size_t ThreadCount() {
  size_t n = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

std::string Post(const std::string& body, const std::string& session,
                 const std::string& accept = "application/json, text/event-stream") {
  std::string out = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Accept: " + accept + "\r\n";
  if (!session.empty()) out += "Mcp-Session-Id: " + session + "\r\n";
  return out + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string Call(int id) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"tools/call","params":{"name":"cancel_job","arguments":{}}})";
}

// A chunked body (what follows the head) with its chunks joined; "<bad>" if malformed.
std::string Dechunk(const std::string& chunked) {
  size_t at = 0;
  std::string body;
  for (;;) {
    const size_t eol = chunked.find("\r\n", at);
    if (eol == std::string::npos || eol == at) return "<bad>";
    const size_t size = std::stoul(chunked.substr(at, eol - at), nullptr, 16);
    if (size == 0) return body;
    if (eol + 2 + size + 2 > chunked.size()) return "<bad>";
    body += chunked.substr(eol + 2, size);
    at = eol + 2 + size + 2;
  }
}

struct Fixture {
  explicit Fixture(int64_t heartbeat_ms = 15000) {
    HttpServerOptions o;
    o.port = 0;
    o.heartbeat_ms = heartbeat_ms;
    o.json_reply_wait_ms = 1;
    server = std::make_unique<HttpServer>(o, dispatcher);
    REQUIRE(server->Bind().ok());
    server->Start();
    RawConn c(server->port());
    REQUIRE(c.Send(Post(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})", "")));
    const std::string head = c.ReadUntil("\r\n\r\n", 5000);
    const size_t at = head.find("Mcp-Session-Id: ");
    REQUIRE(at != std::string::npos);
    session = head.substr(at + 16, head.find("\r\n", at) - at - 16);
  }
  ~Fixture() { server->Stop(); }

  HoldingDispatcher dispatcher;
  std::unique_ptr<HttpServer> server;
  std::string session;
};

}  // namespace

TEST_CASE("http parked: held replies wait without threads and are answered on their connections",
          "[transport][parked]") {
  Fixture f;
  constexpr int kHeld = 100;
  const size_t threads_before = ThreadCount();
  std::vector<std::unique_ptr<RawConn>> agents;
  for (int i = 0; i < kHeld; ++i) {
    agents.push_back(std::make_unique<RawConn>(f.server->port()));
    REQUIRE(agents.back()->Send(Post(Call(100 + i), f.session)));
    // The SSE head arrives before the answer: the reply has begun, the call is held.
    CHECK(agents.back()->ReadUntil("\r\n\r\n", 5000).find("Content-Type: text/event-stream") != std::string::npos);
  }
  REQUIRE(f.dispatcher.WaitHeld(kHeld));
  // A thread per held call would add 100; the connections wait on the parking loop instead. (The
  // threads that served them wait as spares for a while, at most 32 of them.)
  CHECK(ThreadCount() < threads_before + 5 + 32);

  for (int i = 0; i < kHeld; ++i) f.dispatcher.Answer(static_cast<size_t>(i), "answer " + std::to_string(i));
  for (int i = 0; i < kHeld; ++i) {
    const std::string body = agents[static_cast<size_t>(i)]->ReadUntil("0\r\n\r\n", 5000);
    CHECK(body.find("notifications/progress") != std::string::npos);
    CHECK(body.find(R"("id":)" + std::to_string(100 + i)) != std::string::npos);
    CHECK(body.find("answer " + std::to_string(i) + "\"") != std::string::npos);
    CHECK(body.substr(body.size() - 5) == "0\r\n\r\n");
  }
  // Kept alive: the same connection carries the next request (served by a thread again).
  REQUIRE(agents[0]->Send(Post(R"({"jsonrpc":"2.0","id":9,"method":"ping"})", f.session)));
  const std::string next = agents[0]->ReadUntil("}", 5000);
  CHECK(next.find("HTTP/1.1 200") == 0);
  CHECK(next.find(R"("id":9)") != std::string::npos);
  CHECK_FALSE(f.dispatcher.gone(0));
}

TEST_CASE("http parked: held replies to agents that accept only JSON wait without threads too", "[transport][parked]") {
  Fixture f(/*heartbeat_ms=*/1);  // any heartbeat would get into the body long before the answer
  constexpr int kHeld = 100;
  const size_t threads_before = ThreadCount();
  std::vector<std::unique_ptr<RawConn>> agents;
  for (int i = 0; i < kHeld; ++i) {
    agents.push_back(std::make_unique<RawConn>(f.server->port()));
    REQUIRE(agents.back()->Send(Post(Call(200 + i), f.session, "application/json")));
    const std::string head = agents.back()->ReadUntil("\r\n\r\n", 5000);
    CHECK(head.find("Content-Type: application/json") != std::string::npos);
    CHECK(head.find("Transfer-Encoding: chunked") != std::string::npos);
  }
  REQUIRE(f.dispatcher.WaitHeld(kHeld));
  CHECK(ThreadCount() < threads_before + 5 + 32);  // as above: at most 32 spare threads

  for (int i = 0; i < kHeld; ++i) f.dispatcher.Answer(static_cast<size_t>(i), "answer " + std::to_string(i));
  for (int i = 0; i < kHeld; ++i) {
    const std::string chunked = agents[static_cast<size_t>(i)]->ReadUntil("\r\n0\r\n\r\n", 5000);
    // The body is the response alone: no progress notification, no heartbeat, valid JSON.
    Result<Json> body = ParseJson(Dechunk(chunked));
    REQUIRE(body.ok());
    CHECK((*body)["id"] == 200 + i);
    CHECK((*body)["result"]["text"] == "answer " + std::to_string(i));
  }
  REQUIRE(agents[0]->Send(Post(R"({"jsonrpc":"2.0","id":9,"method":"ping"})", f.session, "application/json")));
  const std::string next = agents[0]->ReadUntil("}", 5000);
  CHECK(next.find("HTTP/1.1 200") == 0);
  CHECK(next.find(R"("id":9)") != std::string::npos);
}

TEST_CASE("http parked: an agent that closes its connection while held is reported gone", "[transport][parked]") {
  Fixture f;
  {
    RawConn agent(f.server->port());
    REQUIRE(agent.Send(Post(Call(7), f.session)));
    CHECK(agent.ReadUntil("\r\n\r\n", 5000).find("text/event-stream") != std::string::npos);
    REQUIRE(f.dispatcher.WaitHeld(1));
  }
  CHECK(f.dispatcher.WaitGone(0));
}

}  // namespace holdgate::transport
