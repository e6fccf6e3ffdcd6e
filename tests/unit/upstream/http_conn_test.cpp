// The upstream's own HTTP/1.1 client: the response parser on hand-made bytes (framing, interim
// responses, keep-alive rules, malformed input, split anywhere), and the connection against an
// in-process httplib server on loopback (keep-alive reuse, streamed SSE, reconnecting after the
// server closed, Stop cutting an exchange in flight, refused connections, abandoned replies).
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "upstream/http_conn.h"

namespace holdgate::upstream {
namespace {

using Progress = HttpResponseParser::Progress;

struct Collected {
  int heads = 0;
  HttpResponseHead head;
  std::string body;
};

HttpResponseParser MakeParser(Collected* c) {
  return HttpResponseParser(
      [c](const HttpResponseHead& h) {
        ++c->heads;
        c->head = h;
        return true;
      },
      [c](std::string_view d) {
        c->body.append(d);
        return true;
      });
}

// Feeds `bytes` in pieces of `step` and returns the last progress.
Progress FeedInSteps(HttpResponseParser& p, const std::string& bytes, size_t step) {
  Progress last = Progress::kMore;
  for (size_t i = 0; i < bytes.size(); i += step) last = p.Feed(std::string_view(bytes).substr(i, step));
  return last;
}

TEST_CASE("http parser: Content-Length body, whole or split anywhere", "[upstream][http_conn]") {
  const std::string bytes =
      "HTTP/1.1 200 OK\r\nContent-Length: 13\r\ncontent-type:  application/json \r\nMcp-Session-Id: abc\r\n\r\n"
      "{\"id\":1,\"x\":2";
  for (size_t step : {bytes.size(), size_t{1}, size_t{2}, size_t{7}, size_t{64}}) {
    Collected c;
    HttpResponseParser p = MakeParser(&c);
    CHECK(FeedInSteps(p, bytes, step) == Progress::kDone);
    CHECK(c.heads == 1);
    CHECK(c.head.status == 200);
    CHECK(c.head.Header("Content-Type") == "application/json");  // any case, white space trimmed
    CHECK(c.head.Header("mcp-session-id") == "abc");
    CHECK(c.head.Header("Missing").empty());
    CHECK(c.body == "{\"id\":1,\"x\":2");
    CHECK(p.reusable());
  }
}

TEST_CASE("http parser: chunked body with extensions and trailers, split anywhere", "[upstream][http_conn]") {
  const std::string bytes =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "A\r\n, world!!!\r\n"
      "0\r\nX-Trailer: 1\r\n\r\n";
  for (size_t step : {bytes.size(), size_t{1}, size_t{3}, size_t{11}}) {
    Collected c;
    HttpResponseParser p = MakeParser(&c);
    CHECK(FeedInSteps(p, bytes, step) == Progress::kDone);
    CHECK(c.body == "hello, world!!!");
    CHECK(p.reusable());
  }
}

TEST_CASE("http parser: a body without framing ends with the connection", "[upstream][http_conn]") {
  Collected c;
  HttpResponseParser p = MakeParser(&c);
  CHECK(p.Feed("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n") == Progress::kMore);
  CHECK(p.Feed("data: 2\n\n") == Progress::kMore);
  CHECK(c.body == "data: 1\n\ndata: 2\n\n");
  CHECK(p.Eof() == Progress::kDone);
  CHECK_FALSE(p.reusable());
}

TEST_CASE("http parser: keep-alive follows Connection and the HTTP version", "[upstream][http_conn]") {
  auto reusable = [](const std::string& bytes) {
    Collected c;
    HttpResponseParser p = MakeParser(&c);
    REQUIRE(p.Feed(bytes) == Progress::kDone);
    return p.reusable();
  };
  CHECK(reusable("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(reusable("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(reusable("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(reusable("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
  CHECK(reusable("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"));
  // Bytes beyond the response: nothing asked for them, so the connection is not trusted again.
  CHECK_FALSE(reusable("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"));
  CHECK_FALSE(reusable("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nxx"));
  // Also when they come in a later read than the head.
  Collected c;
  HttpResponseParser later = MakeParser(&c);
  CHECK(later.Feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n") == Progress::kMore);
  CHECK(later.Feed("okX") == Progress::kDone);
  CHECK(c.body == "ok");
  CHECK_FALSE(later.reusable());
}

TEST_CASE("http parser: interim responses are skipped, 204 has no body", "[upstream][http_conn]") {
  Collected c;
  HttpResponseParser p = MakeParser(&c);
  CHECK(p.Feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n") == Progress::kDone);
  CHECK(c.heads == 1);
  CHECK(c.head.status == 202);

  Collected d;
  HttpResponseParser q = MakeParser(&d);
  CHECK(q.Feed("HTTP/1.1 204 No Content\r\n\r\n") == Progress::kDone);
  CHECK(d.head.status == 204);
  CHECK(d.body.empty());
  CHECK(q.reusable());
}

TEST_CASE("http parser: bare LF line ends are accepted", "[upstream][http_conn]") {
  Collected c;
  HttpResponseParser p = MakeParser(&c);
  CHECK(p.Feed("HTTP/1.1 404 Not Found\nContent-Length: 3\n\nnop") == Progress::kDone);
  CHECK(c.head.status == 404);
  CHECK(c.body == "nop");
}

TEST_CASE("http parser: malformed responses are errors", "[upstream][http_conn]") {
  auto progress = [](const std::string& bytes, bool eof = false) {
    Collected c;
    HttpResponseParser p = MakeParser(&c);
    Progress r = p.Feed(bytes);
    if (eof && r == Progress::kMore) r = p.Eof();
    if (r == Progress::kError) CHECK_FALSE(p.error().empty());
    return r;
  };
  CHECK(progress("HTTX/1.1 200 OK\r\n\r\n") == Progress::kError);
  CHECK(progress("HTTP/1.1 2x0 OK\r\n\r\n") == Progress::kError);
  CHECK(progress("HTTP/1.1 2000 OK\r\n\r\n") == Progress::kError);
  CHECK(progress("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n") == Progress::kError);
  CHECK(progress("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n") == Progress::kError);
  CHECK(progress("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") == Progress::kError);
  CHECK(progress("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == Progress::kError);
  CHECK(progress("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n") == Progress::kError);
  CHECK(progress("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXY") == Progress::kError);
  CHECK(progress("HTTP/1.1 101 Switching Protocols\r\n\r\n") == Progress::kError);
  // The peer closed early: in the head, in a sized body, in a chunked body.
  CHECK(progress("HTTP/1.1 200 OK\r\nContent-Le", true) == Progress::kError);
  CHECK(progress("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true) == Progress::kError);
  CHECK(progress("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true) == Progress::kError);
  // A head that never ends is refused once it passes the limit.
  CHECK(progress("HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'a')) == Progress::kError);
}

TEST_CASE("http parser: a callback refusing abandons the response", "[upstream][http_conn]") {
  HttpResponseParser no_head([](const HttpResponseHead&) { return false; }, nullptr);
  CHECK(no_head.Feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") == Progress::kAbandoned);
  CHECK(no_head.Feed("more") == Progress::kAbandoned);
  CHECK_FALSE(no_head.reusable());

  int pieces = 0;
  HttpResponseParser no_body(nullptr, [&](std::string_view) { return ++pieces < 2; });
  CHECK(no_body.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n") == Progress::kMore);
  CHECK(no_body.Feed("1\r\nb\r\n") == Progress::kAbandoned);
  CHECK(pieces == 2);
}

// ---- the connection against a real server -------------------------------------------------------

class TestServer {
 public:
  TestServer() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // httplib 0.11.4 has no wait_until_ready(), and stop() before it runs is lost.
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestServer() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

struct Reply {
  Status status;
  int code = 0;
  std::string content_type;
  std::string body;
};

Reply PostTo(HttpConnection& conn, const std::string& path, const std::string& body, HttpHeaders headers = {}) {
  Reply r;
  r.status = conn.Post(
      path, headers, body,
      [&](const HttpResponseHead& h) {
        r.code = h.status;
        r.content_type = h.Header("Content-Type");
        return true;
      },
      [&](std::string_view d) {
        r.body.append(d);
        return true;
      });
  return r;
}

TEST_CASE("http connection: exchanges reuse one keep-alive connection and send the headers", "[upstream][http_conn]") {
  TestServer ts;
  std::mutex mu;
  std::set<int> ports;
  httplib::Headers last_headers;
  ts.server().Post("/mcp", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ports.insert(req.remote_port);
      last_headers = req.headers;
    }
    res.set_content("echo:" + req.body, "application/json");
  });
  HttpConnection conn(HttpConnectionOptions{ts.origin()});
  for (int i = 0; i < 3; ++i) {
    Reply r = PostTo(conn, "/mcp", "{\"n\":" + std::to_string(i) + "}",
                     {{"Content-Type", "application/json"}, {"Mcp-Session-Id", "s1"}});
    REQUIRE(r.status.ok());
    CHECK(r.code == 200);
    CHECK(r.content_type == "application/json");
    CHECK(r.body == "echo:{\"n\":" + std::to_string(i) + "}");
  }
  std::lock_guard<std::mutex> lock(mu);
  CHECK(ports.size() == 1);
  auto header = [&](const char* name) {
    auto it = last_headers.find(name);
    return it == last_headers.end() ? std::string("<absent>") : it->second;
  };
  CHECK(header("Host") == "127.0.0.1:" + std::to_string(ts.port()));
  CHECK(header("Content-Length") == "7");
  CHECK(header("Mcp-Session-Id") == "s1");
  CHECK(header("Content-Type") == "application/json");
}

TEST_CASE("http connection: an SSE reply is handed over as it arrives", "[upstream][http_conn]") {
  // Declared before the server, so they outlive its handler threads (which the server joins).
  std::mutex mu;
  std::condition_variable cv;
  bool first_seen = false;
  TestServer ts;
  ts.server().Post("/mcp", [&](const httplib::Request&, httplib::Response& res) {
    auto step = std::make_shared<int>(0);
    res.set_chunked_content_provider("text/event-stream", [&, step](size_t, httplib::DataSink& sink) {
      if (*step == 0) {
        sink.write("data: one\n\n", 11);
      } else {
        // The second event only once the client has the first: streaming, not buffering.
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return first_seen; });
        sink.write("data: two\n\n", 11);
        sink.done();
      }
      ++*step;
      return true;
    });
  });
  HttpConnection conn(HttpConnectionOptions{ts.origin()});
  std::string body;
  Status s = conn.Post("/mcp", {}, "{}", nullptr, [&](std::string_view d) {
    body.append(d);
    if (body == "data: one\n\n") {
      std::lock_guard<std::mutex> lock(mu);
      first_seen = true;
      cv.notify_all();
    }
    return true;
  });
  REQUIRE(s.ok());
  CHECK(body == "data: one\n\ndata: two\n\n");
}

TEST_CASE("http connection: a connection the server closed is replaced", "[upstream][http_conn]") {
  TestServer ts;
  ts.server().set_keep_alive_max_count(1);  // the server closes after every response
  std::atomic<int> calls{0};
  ts.server().Post("/mcp", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.set_content("ok", "application/json");
  });
  HttpConnection conn(HttpConnectionOptions{ts.origin()});
  for (int i = 0; i < 3; ++i) {
    Reply r = PostTo(conn, "/mcp", "{}");
    REQUIRE(r.status.ok());
    CHECK(r.body == "ok");
  }
  CHECK(calls == 3);
}

TEST_CASE("http connection: Stop cuts an exchange in flight, the next one reconnects", "[upstream][http_conn]") {
  // Declared before the server, so they outlive its handler threads (which the server joins).
  std::mutex mu;
  std::condition_variable cv;
  bool arrived = false, release = false;
  TestServer ts;
  ts.server().Post("/slow", [&](const httplib::Request&, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu);
    arrived = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    res.set_content("late", "application/json");
  });
  ts.server().Post("/fast", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "application/json"); });
  HttpConnection conn(HttpConnectionOptions{ts.origin()});
  Reply slow;
  std::thread t([&] { slow = PostTo(conn, "/slow", "{}"); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return arrived; });
  }
  conn.Stop();
  t.join();
  CHECK_FALSE(slow.status.ok());
  CHECK(slow.status.message() == "Failed to read connection");
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  Reply fast = PostTo(conn, "/fast", "{}");
  REQUIRE(fast.status.ok());
  CHECK(fast.body == "ok");
}

TEST_CASE("http connection: refused connections and abandoned replies are errors", "[upstream][http_conn]") {
  int closed_port;
  {
    TestServer gone;
    closed_port = gone.port();
  }
  HttpConnection nowhere(HttpConnectionOptions{"http://127.0.0.1:" + std::to_string(closed_port), 2000, 2000, 2000});
  Reply r = PostTo(nowhere, "/mcp", "{}");
  CHECK(r.status.message() == "Could not establish connection");
  HttpConnection bad(HttpConnectionOptions{"ftp://127.0.0.1:1"});
  CHECK(PostTo(bad, "/mcp", "{}").status.message() == "Could not establish connection");

  TestServer ts;
  ts.server().Post("/mcp", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(100000, 'x'), "application/json");
  });
  HttpConnection conn(HttpConnectionOptions{ts.origin()});
  Status s = conn.Post("/mcp", {}, "{}", nullptr, [](std::string_view) { return false; });
  CHECK(s.message() == "Connection handling canceled");
  Reply again = PostTo(conn, "/mcp", "{}");
  REQUIRE(again.status.ok());
  CHECK(again.body.size() == 100000);
}

TEST_CASE("http connection: an IPv6 literal or a bad port in the origin", "[upstream][http_conn]") {
  // Nothing listens on [::1]:1; port 99999 does not parse.
  HttpConnection v6(HttpConnectionOptions{"http://[::1]:1", 1000, 1000, 1000});
  CHECK(PostTo(v6, "/", "").status.message() == "Could not establish connection");
  HttpConnection bad_port(HttpConnectionOptions{"http://127.0.0.1:99999"});
  CHECK(PostTo(bad_port, "/", "").status.message() == "Could not establish connection");
}

}  // namespace
}  // namespace holdgate::upstream
