#pragma once
// One keep-alive HTTP/1.1 client connection to an upstream origin, for the POSTs that carry MCP
// messages: a request goes out in one write and its response (JSON or a streamed SSE body) is
// handed over as it arrives. Plain http:// origins use a socket of this module's own, which costs
// three system calls per small exchange on a live connection; https:// origins go through
// cpp-httplib. A dead or closed connection is replaced before the next exchange; an exchange is
// never retried.
//
// Threads: one exchange at a time per connection (the caller's thread blocks for it); Stop() may
// be called from any thread at any time and makes the exchange in flight, if any, fail soon.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace holdgate::upstream {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The status line and headers of a response.
struct HttpResponseHead {
  int status = 0;
  HttpHeaders headers;
  // The first header called `name` (compared case-insensitively), or "" when absent.
  std::string Header(std::string_view name) const;
};

// Called once the head has arrived; false abandons the exchange.
using OnHttpHead = std::function<bool(const HttpResponseHead&)>;
// Called with each piece of the decoded body (no chunk framing) as it arrives; false abandons it.
using OnHttpBody = std::function<bool(std::string_view)>;

// Reads one response from the bytes of a connection, fed in order; pure (no I/O), for the
// connection below and for tests. Understands Content-Length, chunked transfer coding and
// bodies that end with the connection, skips interim (1xx) responses, and refuses heads over
// 64 KiB and malformed framing.
class HttpResponseParser {
 public:
  enum class Progress { kMore, kDone, kError, kAbandoned };
  HttpResponseParser(OnHttpHead on_head, OnHttpBody on_body);

  // Consumes `data`. Once kDone, kError or kAbandoned, further calls return the same.
  Progress Feed(std::string_view data);
  // The peer closed the connection: kDone for a body that ends with it, else kError.
  Progress Eof();
  // After kDone: whether the connection may carry another exchange (keep-alive, framing known,
  // nothing surplus received).
  bool reusable() const { return reusable_; }
  const std::string& error() const { return error_; }

 private:
  enum class Phase { kHead, kChunkSize, kChunkData, kChunkEnd, kTrailers, kLength, kUntilClose, kDone };
  Progress Run();
  Progress ParseHead(std::string_view head);
  Progress Fail(std::string message);
  bool Deliver(std::string_view data);
  // Hands on what is buffered of the remaining_ bytes of a body or chunk; true once all have been.
  bool DeliverCounted();
  // The next line ("\n"-terminated, "\r" stripped) in buf_ from pos_, or false when incomplete.
  bool NextLine(std::string_view* line);

  OnHttpHead on_head_;
  OnHttpBody on_body_;
  std::string buf_;
  size_t pos_ = 0;
  Phase phase_ = Phase::kHead;
  Progress state_ = Progress::kMore;
  uint64_t remaining_ = 0;  // body or chunk bytes still to come
  bool keep_alive_ = false;
  bool reusable_ = false;
  std::string error_;
};

struct HttpConnectionOptions {
  std::string origin;  // scheme://host[:port]
  int64_t connect_timeout_ms = 10'000;
  int64_t read_timeout_ms = 30'000;  // between two reads of a response
  int64_t write_timeout_ms = 30'000;
};

class HttpConnection {
 public:
  explicit HttpConnection(HttpConnectionOptions options);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // POSTs `body` to `path` with `headers` (plus Host, Content-Length and User-Agent) and reads the
  // response through the callbacks. Blocks. Errors (Unavailable) read like cpp-httplib's: "Could
  // not establish connection", "Failed to read connection", "Failed to write connection",
  // "Connection handling canceled" (a callback returned false).
  Status Post(const std::string& path, const HttpHeaders& headers, std::string_view body, const OnHttpHead& on_head,
              const OnHttpBody& on_body);

  // Thread-safe: shuts the connection down; an exchange in flight fails, the next one reconnects.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdgate::upstream
