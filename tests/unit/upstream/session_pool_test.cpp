// SessionPool with an injected upstream factory: what each session is initialized with, the cap,
// closing off the caller's thread, and Stop closing what is still open.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/json_util.h"
#include "upstream/session_pool.h"

namespace holdgate::upstream {
namespace {

// Records how it was made and whether it was started and stopped; answers nothing.
struct Record {
  Options options;
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::function<void(const Json&)> unsolicited;
};

class FakeUpstream final : public Upstream {
 public:
  FakeUpstream(std::shared_ptr<Record> record, Status start_result)
      : record_(std::move(record)), start_result_(std::move(start_result)) {}
  Status Start() override {
    record_->started = true;
    return start_result_;
  }
  void Stop() override { record_->stopped = true; }
  Json InitializeResult() const override { return Json{{"protocolVersion", record_->options.protocol_version}}; }
  RequestHandle Send(const Json&, std::shared_ptr<ReplyHandler>) override { return 0; }
  void Cancel(RequestHandle, const std::string&) override {}
  void Notify(const Json&) override {}
  void Respond(const Json&) override {}
  void SetUnsolicitedHandler(std::function<void(const Json&)> handler) override {
    record_->unsolicited = std::move(handler);
  }

 private:
  std::shared_ptr<Record> record_;
  Status start_result_;
};

struct Factory {
  std::mutex mu;
  std::vector<std::shared_ptr<Record>> made;
  Status next_start = Status::Ok();
  SessionPool::Factory Make() {
    return [this](const Options& o) {
      std::lock_guard<std::mutex> lock(mu);
      auto r = std::make_shared<Record>();
      r->options = o;
      made.push_back(r);
      return std::make_unique<FakeUpstream>(r, next_start);
    };
  }
};

AgentHello Hello(const std::string& name, Json caps) {
  return AgentHello{Json{{"name", name}, {"version", "1.2.3"}}, std::move(caps), "2025-06-18"};
}

bool WaitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace

TEST_CASE("session pool: a session is initialized with the agent's clientInfo, capabilities and version",
          "[upstream]") {
  Factory factory;
  Options base;
  base.url = "http://127.0.0.1:1/mcp";
  base.request_timeout_ms = 1234;
  base.client_capabilities = Json{{"sampling", Json::object()}};  // holdgate's own: not used here
  SessionPool pool(base, 4, factory.Make());
  std::vector<Json> heard;
  auto opened = pool.Open(Hello("agent-a", Json{{"roots", Json::object()}}),
                          [&](const std::shared_ptr<Upstream>&, const Json& m) { heard.push_back(m); });
  REQUIRE(opened.ok());
  REQUIRE(factory.made.size() == 1);
  const Options& o = factory.made[0]->options;
  CHECK(o.client_info == Json({{"name", "agent-a"}, {"version", "1.2.3"}}));
  CHECK(o.client_capabilities == Json({{"roots", Json::object()}}));
  CHECK(o.protocol_version == "2025-06-18");
  CHECK(o.url == base.url);
  CHECK(o.request_timeout_ms == 1234);
  CHECK(factory.made[0]->started);
  // What the session says outside a call reaches the handler with the session.
  factory.made[0]->unsolicited(Json{{"method", "notifications/tools/list_changed"}});
  REQUIRE(heard.size() == 1);
  CHECK(pool.open_sessions() == 1);
}

TEST_CASE("session pool: at most max_sessions, a closed session frees its slot once it is stopped", "[upstream]") {
  Factory factory;
  SessionPool pool(Options{}, 2, factory.Make());
  auto noop = [](const std::shared_ptr<Upstream>&, const Json&) {};
  auto a = pool.Open(Hello("a", Json::object()), noop);
  auto b = pool.Open(Hello("b", Json::object()), noop);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto c = pool.Open(Hello("c", Json::object()), noop);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kResourceExhausted);
  CHECK(c.status().message().find("upstream.max_sessions") != std::string::npos);
  CHECK(factory.made.size() == 2);  // the refused one was never made

  pool.Close(a.value());
  CHECK(WaitFor([&] { return factory.made[0]->stopped.load(); }));
  CHECK(WaitFor([&] { return pool.open_sessions() == 1; }));
  CHECK(pool.Open(Hello("c", Json::object()), noop).ok());
  pool.Close(a.value());  // twice: ignored
  CHECK(pool.open_sessions() == 2);
}

TEST_CASE("session pool: a session that fails to start is refused with its error and frees its slot", "[upstream]") {
  Factory factory;
  factory.next_start = Unavailable("upstream MCP server unreachable");
  SessionPool pool(Options{}, 1, factory.Make());
  auto opened = pool.Open(Hello("a", Json::object()), [](const std::shared_ptr<Upstream>&, const Json&) {});
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().message() == "upstream MCP server unreachable");
  CHECK(WaitFor([&] { return pool.open_sessions() == 0; }));
  CHECK(factory.made[0]->stopped);  // its threads, if any, are stopped
}

TEST_CASE("session pool: Stop closes every open session and refuses new ones", "[upstream]") {
  Factory factory;
  SessionPool pool(Options{}, 8, factory.Make());
  auto noop = [](const std::shared_ptr<Upstream>&, const Json&) {};
  REQUIRE(pool.Open(Hello("a", Json::object()), noop).ok());
  REQUIRE(pool.Open(Hello("b", Json::object()), noop).ok());
  pool.Stop();
  CHECK(factory.made[0]->stopped);
  CHECK(factory.made[1]->stopped);
  CHECK(pool.open_sessions() == 0);
  CHECK_FALSE(pool.Open(Hello("c", Json::object()), noop).ok());
}

TEST_CASE("session pool: only 2025-era agents get a session of their own", "[upstream]") {
  CHECK(WantsOwnSession("2025-03-26"));
  CHECK(WantsOwnSession("2025-11-25"));
  CHECK_FALSE(WantsOwnSession("2024-11-05"));
  CHECK_FALSE(WantsOwnSession(""));
  SessionMode mode;
  CHECK(ParseSessionMode("per_agent", &mode));
  CHECK(mode == SessionMode::kPerAgent);
  CHECK(ParseSessionMode("shared", &mode));
  CHECK(mode == SessionMode::kShared);
  CHECK_FALSE(ParseSessionMode("per-agent", &mode));
}

}  // namespace holdgate::upstream
