// The Streamable HTTP upstream against the real demo server over loopback: requests sent through
// the worker pool (Send) and on the caller's thread (SendOnThisThread) get the same answers; a
// Cancel reaches a call running on the caller's thread; Stop() ends one that is still waiting; a
// call past request_timeout gets the timeout error and is cancelled upstream.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "mcp/jsonrpc.h"
#include "support/process.h"
#include "upstream/upstream.h"
#include "upstream/waiting_reply.h"

namespace holdgate::testing {
namespace {

// The upstream's answer to one request, waited for (20 s at most).
class Collect final : public upstream::ReplyHandler {
 public:
  void OnRelated(const Json& m) override { inner_.OnRelated(m); }
  void OnResponse(const Json& response) override { inner_.OnResponse(response); }
  bool done() const { return inner_.done(); }
  Json Wait() const { return inner_.Wait(20'000); }

 private:
  upstream::WaitingReply inner_;
};

struct DemoOverHttp {
  TempDir dir;
  std::unique_ptr<ChildProcess> demo;
  std::string url;
  DemoOverHttp() {
    demo = std::make_unique<ChildProcess>(
        std::vector<std::string>{HOLDGATE_DEMO_UPSTREAM, "--http", "127.0.0.1:0", "--ready-file", dir.File("ready.json"),
                                 "--counters-file", dir.File("counters.json")},
        dir.File("demo.log"));
    Json ready = WaitForJsonFile(dir.File("ready.json"));
    REQUIRE(ready.is_object());
    url = ready.value("url", "");
    if (url.empty()) url = ready.value("mcp", "");
    REQUIRE_FALSE(url.empty());
  }
  int Counter(const std::string& name) {
    auto parsed = ParseJson(ReadFile(dir.File("counters.json")));
    return parsed.ok() ? parsed.value().value(name, 0) : -1;
  }
};

Json Call(int id, const std::string& tool, Json arguments) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"},
              {"params", {{"name", tool}, {"arguments", std::move(arguments)}}}};
}

std::unique_ptr<upstream::Upstream> Connect(const std::string& url, int64_t request_timeout_ms = 0) {
  upstream::Options o;
  o.url = url;
  o.request_timeout_ms = request_timeout_ms;
  auto up = upstream::MakeHttpUpstream(o);
  Status s = up->Start();
  INFO(s.ToString());
  REQUIRE(s.ok());
  return up;
}

TEST_CASE("http upstream: on the caller's thread and through the workers, the same answers", "[integration][upstream]") {
  DemoOverHttp demo;
  auto up = Connect(demo.url);
  for (int i = 0; i < 20; ++i) {
    auto a = std::make_shared<Collect>();
    upstream::RequestHandle sent_handle = 0;
    bool answered_before_sent = false;
    up->SendOnThisThread(Call(100 + i, "slow_echo", {{"message", "inline-" + std::to_string(i)}, {"delay_ms", 0}}), a,
                         [&](upstream::RequestHandle h) {
                           sent_handle = h;
                           answered_before_sent = a->done();
                         });
    CHECK(sent_handle != 0);
    CHECK_FALSE(answered_before_sent);
    CHECK(a->done());  // returned only after the response was handed over
    Json inline_reply = a->Wait();
    CHECK(inline_reply["id"] == 100 + i);  // the caller's id restored

    auto b = std::make_shared<Collect>();
    up->Send(Call(200 + i, "slow_echo", {{"message", "inline-" + std::to_string(i)}, {"delay_ms", 0}}), b);
    Json pooled_reply = b->Wait();
    CHECK(pooled_reply["id"] == 200 + i);
    CHECK(inline_reply["result"] == pooled_reply["result"]);
  }
  up->Stop();
}

TEST_CASE("http upstream: Cancel reaches a call that runs on the caller's thread", "[integration][upstream]") {
  DemoOverHttp demo;
  auto up = Connect(demo.url);
  auto a = std::make_shared<Collect>();
  std::atomic<upstream::RequestHandle> handle{0};
  std::thread caller([&] {
    up->SendOnThisThread(Call(7, "slow_echo", {{"message", "never"}, {"delay_ms", 60000}}), a,
                         [&](upstream::RequestHandle h) { handle.store(h); });
  });
  REQUIRE(WaitUntil([&] { return handle.load() != 0; }));
  up->Cancel(handle.load(), "test cancels");
  Json reply = a->Wait();
  CHECK(reply.contains("error"));
  // The demo stops the echo at once on notifications/cancelled, so the caller's thread is freed.
  caller.join();
  CHECK(demo.Counter("slow_echo_completed") <= 0);
  up->Stop();
}

TEST_CASE("http upstream: Stop ends a call still waiting on the caller's thread", "[integration][upstream]") {
  DemoOverHttp demo;
  auto up = Connect(demo.url);
  auto a = std::make_shared<Collect>();
  std::atomic<bool> sent{false};
  std::thread caller([&] {
    up->SendOnThisThread(Call(9, "slow_echo", {{"message", "late"}, {"delay_ms", 60000}}), a,
                         [&](upstream::RequestHandle) { sent.store(true); });
  });
  REQUIRE(WaitUntil([&] { return sent.load(); }));
  up->Stop();
  caller.join();  // would hang for a minute if Stop could not interrupt it
  Json reply = a->Wait();
  CHECK(reply.contains("error"));
  // After Stop, nothing is sent and the handler still hears about it.
  auto b = std::make_shared<Collect>();
  up->SendOnThisThread(Call(10, "slow_echo", {{"message", "x"}}), b, [](upstream::RequestHandle) {});
  CHECK(b->Wait().contains("error"));
}

TEST_CASE("http upstream: past request_timeout the caller gets an error, the exchange is cut and cancelled",
          "[integration][upstream]") {
  DemoOverHttp demo;
  auto up = Connect(demo.url, /*request_timeout_ms=*/300);
  for (bool on_caller_thread : {true, false}) {
    INFO((on_caller_thread ? "SendOnThisThread" : "Send"));
    auto a = std::make_shared<Collect>();
    const auto start = std::chrono::steady_clock::now();
    Json request = Call(on_caller_thread ? 11 : 12, "slow_echo", {{"message", "hang"}, {"delay_ms", 3600000}});
    if (on_caller_thread) {
      // Returns only once the hung exchange is cut: the caller's thread is not lost for an hour.
      up->SendOnThisThread(request, a, [](upstream::RequestHandle) {});
      CHECK(a->done());
    } else {
      up->Send(request, a);
    }
    Json reply = a->Wait();
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    INFO(reply.dump() << " after " << waited << " ms");
    REQUIRE(reply.contains("error"));
    CHECK(reply["id"] == request["id"]);
    CHECK(reply["error"]["code"] == -32001);
    CHECK(reply["error"]["message"] ==
          "upstream did not answer within 300ms; the call may or may not have run; not re-run");
    CHECK(waited >= 300);
    CHECK(waited < 5000);
  }
  CHECK(WaitUntil([&] { return demo.Counter("requests_cancelled") == 2; }, 5000));
  // The connection still serves calls that answer in time.
  auto ok = std::make_shared<Collect>();
  up->Send(Call(13, "slow_echo", {{"message", "quick"}, {"delay_ms", 0}}), ok);
  CHECK(ok->Wait().contains("result"));
  up->Stop();
}

}  // namespace
}  // namespace holdgate::testing
