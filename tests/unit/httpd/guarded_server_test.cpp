// GuardedServer on loopback with raw sockets: framing, deadlines and connection caps; and
// ReleaseStackBelowCaller on a thread of its own.
#include <catch2/catch.hpp>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "httpd/guarded_server.h"
#include "support/raw_conn.h"

namespace holdgate::httpd {
namespace {

using Clock = std::chrono::steady_clock;

using testing::RawConn;

GuardOptions PlainTextOptions(ListenerLimits limits) {
  GuardOptions options;
  options.limits = limits;
  options.error_content_type = "text/plain";
  return options;
}

struct Fixture {
  explicit Fixture(ListenerLimits limits) : server(PlainTextOptions(limits)) {
    server.Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hello", "text/plain"); });
    server.Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts;
      res.set_content("got " + req.body, "text/plain");
    });
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Fixture() {
    server.stop();
    thread.join();
  }
  GuardedServer server;
  int port = 0;
  std::thread thread;
  std::atomic<int> posts{0};
};

ListenerLimits Limits(int64_t header_ms = 10'000, size_t per_ip = 64) {
  ListenerLimits l;
  l.header_timeout_ms = header_ms;
  l.body_timeout_ms = 10'000;
  l.idle_timeout_ms = 5'000;
  l.max_connections = 1024;
  l.max_connections_per_ip = per_ip;
  return l;
}

}  // namespace

TEST_CASE("httpd: framing that a proxy could read differently is refused", "[httpd][framing]") {
  auto check = [](httplib::Headers h) { return GuardedServer::FramingError(h); };
  CHECK(check({{"Content-Length", "5"}}).empty());
  CHECK(check({{"Transfer-Encoding", "chunked"}}).empty());
  CHECK(check({{"Transfer-Encoding", "Chunked"}}).empty());
  CHECK(check({{"Content-Length", "5"}, {"Content-Length", "5"}}).empty());
  CHECK(check({{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}) ==
        "Content-Length together with Transfer-Encoding");
  CHECK(check({{"Content-Length", "5"}, {"Content-Length", "6"}}) == "two different Content-Lengths");
  CHECK(check({{"Content-Length", "5, 6"}}) == "Content-Length is not a number");
  CHECK(check({{"Content-Length", "-1"}}) == "Content-Length is not a number");
  CHECK(check({{"Content-Length", "+5"}}) == "Content-Length is not a number");
  CHECK(check({{"Transfer-Encoding", "gzip, chunked"}}) == "Transfer-Encoding other than chunked");
  CHECK(check({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}) ==
        "more than one Transfer-Encoding");
  CHECK(check({{"Content-Length ", "5"}}) == "malformed header name");
}

TEST_CASE("httpd: a smuggled request is answered 400 and the connection closed before its body is read",
          "[httpd][framing]") {
  Fixture f(Limits());
  for (const std::string& head :
       {std::string("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"),
        std::string("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"),
        std::string("Content-Length: 4\r\nContent-Length: 40\r\n")}) {
    INFO(head);
    RawConn c(f.port);
    // The body hides a second request: served only if the framing were read one way.
    REQUIRE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\n" + head + "\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    bool closed = false;
    std::string reply = c.ReadAll(3000, &closed);
    CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(reply.find("Connection: close") != std::string::npos);
    CHECK(reply.find("hello") == std::string::npos);
    CHECK(closed);
  }
  CHECK(f.posts.load() == 0);
  // Well-framed requests on one keep-alive connection (pipelined) still work.
  RawConn ok(f.port);
  REQUIRE(ok.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string replies = ok.ReadAll(1000);
  CHECK(replies.find("got hi") != std::string::npos);
  CHECK(replies.find("hello") != std::string::npos);
}

TEST_CASE("httpd: a client trickling its headers is cut off at header_timeout", "[httpd][slow]") {
  Fixture f(Limits(/*header_ms=*/800));
  RawConn slow(f.port);
  const auto start = Clock::now();
  REQUIRE(slow.Send("GET /hello HTTP/1.1\r\n"));
  bool closed = false;
  // One header line every 200 ms: each read is quick, the whole head is not.
  for (int i = 0; i < 20 && !closed; ++i) {
    if (!slow.Send("X-Slow-" + std::to_string(i) + ": 1\r\n")) break;
    slow.ReadAll(200, &closed);
  }
  if (!closed) slow.ReadAll(2000, &closed);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  CHECK(closed);
  CHECK(took >= 700);
  CHECK(took < 2500);
  // A connection that never sends anything is closed after the same time.
  RawConn silent(f.port);
  const auto silent_start = Clock::now();
  bool silent_closed = false;
  silent.ReadAll(3000, &silent_closed);
  CHECK(silent_closed);
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - silent_start).count() < 2500);
}

TEST_CASE("httpd: the per-IP cap refuses one address's extra connections, not others", "[httpd][caps]") {
  Fixture f(Limits(10'000, /*per_ip=*/4));
  std::vector<std::unique_ptr<RawConn>> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<RawConn>(f.port, "127.0.0.7"));
  // Wait until the four are admitted (each has its thread).
  for (int i = 0; i < 500 && f.server.open_connections() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(f.server.open_connections() == 4);
  RawConn fifth(f.port, "127.0.0.7");
  bool closed = false;
  std::string refused = fifth.ReadAll(2000, &closed);
  CHECK(refused.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(closed);
  RawConn other(f.port, "127.0.0.8");
  REQUIRE(other.Send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(other.ReadAll(2000).find("hello") != std::string::npos);
  idle.clear();
  for (int i = 0; i < 500 && f.server.open_connections() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  CHECK(f.server.open_connections() == 0);
}

TEST_CASE("httpd: a thread whose connection ended serves the next one, and a server stops with spares", "[httpd]") {
  std::mutex mu;
  std::set<pid_t> serving_threads;  // kernel thread ids: unlike pthread_t, not reused at once
  size_t served = 0;
  {
    GuardedServer server(PlainTextOptions(Limits()));
    server.Get("/who", [&](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      serving_threads.insert(gettid());
      ++served;
      res.set_content("ok", "text/plain");
    });
    const int port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread listening([&] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // Fifty connections one after another, each closed after its request.
    for (int i = 0; i < 50; ++i) {
      RawConn c(port);
      REQUIRE(c.Send("GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
      CHECK(c.ReadAll(2000).find("ok") != std::string::npos);
    }
    server.stop();  // with spare threads waiting: returns once they have ended
    listening.join();
  }
  CHECK(served == 50);
  // A thread per connection would be 50 threads; a spare takes the next connection whenever it is
  // back in time, so a handful serve them all.
  CHECK(serving_threads.size() < 25);
}

namespace {

// Touches `kib` KiB of stack below the caller, then returns.
[[gnu::noinline]] int TouchStack(size_t kib) {
  volatile char block[1024];
  for (size_t i = 0; i < sizeof(block); i += 64) block[i] = static_cast<char>(i);
  return kib > 1 ? TouchStack(kib - 1) + block[0] : block[0];
}

// Resident pages of [begin, end).
size_t ResidentPages(uintptr_t begin, uintptr_t end) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((end - begin) / page);
  if (mincore(reinterpret_cast<void*>(begin), end - begin, vec.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

}  // namespace

TEST_CASE("ReleaseStackBelowCaller returns the dead part of a deep stack, and the thread goes on", "[httpd]") {
  size_t before = 0, after = 0, again = 0;
  std::thread t([&] {
    pthread_attr_t attr;
    void* base = nullptr;
    size_t size = 0;
    REQUIRE(pthread_getattr_np(pthread_self(), &attr) == 0);
    REQUIRE(pthread_attr_getstack(&attr, &base, &size) == 0);
    pthread_attr_destroy(&attr);
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t low = (reinterpret_cast<uintptr_t>(base) + page - 1) & ~(page - 1);
    volatile char here = 0;
    const uintptr_t mid = (reinterpret_cast<uintptr_t>(&here) - 64 * 1024) & ~(page - 1);  // well below this frame
    REQUIRE(mid > low);
    TouchStack(200);  // ~200 KiB deep: pages down to below `mid` become resident
    before = ResidentPages(mid - 32 * page, mid);
    ReleaseStackBelowCaller();
    after = ResidentPages(mid - 32 * page, mid);
    TouchStack(200);  // the released part is usable again
    again = ResidentPages(mid - 32 * page, mid);
  });
  t.join();
  CHECK(before == 32);
  CHECK(after == 0);
  CHECK(again == 32);
}

}  // namespace holdgate::httpd
