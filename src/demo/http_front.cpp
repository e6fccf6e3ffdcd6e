#include "demo/http_front.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>

#include "common/crypto.h"
#include "common/listen_socket.h"
#include "common/log.h"

namespace holdgate::demo {
namespace {

constexpr size_t kMaxSessions = 10000;
constexpr auto kWaitSlice = std::chrono::milliseconds(200);

// Runs each accepted connection on its own thread; shutdown() waits (bounded) for them. The
// counter lives in a shared state, so a thread that outlives the bounded wait touches no freed memory.
class ThreadPerConnection final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override {
    auto state = state_;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      ++state->active;
    }
    std::thread([state, fn = std::move(fn)] {
      fn();
      std::lock_guard<std::mutex> lock(state->mu);
      if (--state->active == 0) state->cv.notify_all();
    }).detach();
  }
  void shutdown() override {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cv.wait_for(lock, std::chrono::seconds(7), [&] { return state_->active == 0; });
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int active = 0;  // guarded by mu
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// One POSTed request: its messages queue here until the HTTP thread writes them.
class HttpExchange final : public Exchange {
 public:
  enum class Next { kMessage, kIdle, kEnd };

  void Notify(const Json& notification) override { Push(notification, false); }
  void Finish(const Json& response) override { Push(response, true); }
  void Abandon() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    cv_.notify_all();
  }

  // Next message to stream, waiting up to `wait`.
  Next Pop(std::string* out, std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return !queue_.empty() || closed_; });
    if (!queue_.empty()) {
      *out = std::move(queue_.front());
      queue_.pop_front();
      return Next::kMessage;
    }
    return closed_ ? Next::kEnd : Next::kIdle;
  }
  // JSON mode: waits for the end; true with the response, false when abandoned or stopping.
  bool WaitFinal(std::string* out, const std::atomic<bool>& stopping) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!closed_ && !stopping.load()) cv_.wait_for(lock, kWaitSlice);
    if (!final_.empty()) {
      *out = std::move(final_);
      return true;
    }
    return false;
  }

 private:
  void Push(const Json& message, bool final) {
    std::string text = DumpJson(message);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      if (final) {
        closed_ = true;
        final_ = text;
      }
      queue_.push_back(std::move(text));
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mu_
  std::string final_;              // guarded by mu_
  bool closed_ = false;            // guarded by mu_
};

void SetJsonRpcError(httplib::Response& res, int status, int code, const std::string& message) {
  res.status = status;
  res.set_content(DumpJson(mcp::MakeError(nullptr, code, message)), "application/json");
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// True when Origin is absent or names this machine (DNS-rebinding protection).
bool OriginAllowed(const httplib::Request& req) {
  if (!req.has_header("Origin")) return true;
  std::string origin = Lower(req.get_header_value("Origin"));
  auto scheme = origin.find("://");
  if (scheme == std::string::npos) return false;
  std::string rest = origin.substr(scheme + 3);
  std::string host;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return false;
    host = rest.substr(0, close + 1);
    rest = rest.substr(close + 1);
  } else {
    auto end = rest.find_first_of(":/");
    host = rest.substr(0, end);
    rest = end == std::string::npos ? std::string() : rest.substr(end);
  }
  // After the host only ":port" and/or a path may follow (no "@", no further labels).
  if (!rest.empty() && rest[0] != ':' && rest[0] != '/') return false;
  if (rest.find('@') != std::string::npos) return false;
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

// What whoami reports: never the value of a credential, only whether it came and its SHA-256.
Json HeadersForWhoami(const httplib::Request& req) {
  Json names = Json::array();
  Json seen = Json::object();
  for (const auto& [name, value] : req.headers) {
    std::string lower = Lower(name);
    names.push_back(lower);
    static const char* const kEchoed[] = {"host", "origin", "user-agent", "accept", "content-type",
                                          "mcp-session-id", "mcp-protocol-version", "x-forwarded-for",
                                          "forwarded", "last-event-id", "traceparent"};
    for (const char* e : kEchoed) {
      if (lower == e) seen[lower] = value;
    }
  }
  std::sort(names.begin(), names.end());
  Json out = {{"header_names", names}, {"headers", seen}, {"authorization_present", req.has_header("Authorization")},
              {"authorization_scheme", nullptr}, {"authorization_sha256", nullptr},
              {"cookie_present", req.has_header("Cookie")}, {"remote_addr", req.remote_addr}};
  if (req.has_header("Authorization")) {
    std::string value = req.get_header_value("Authorization");
    out["authorization_scheme"] = value.substr(0, value.find(' '));
    out["authorization_sha256"] = Sha256Hex(value);
  }
  return out;
}

bool IsWhoami(const mcp::Message& m) {
  if (!m.is_request() || m.method() != "tools/call") return false;
  auto p = m.json.find("params");
  if (p == m.json.end() || !p->is_object()) return false;
  auto n = p->find("name");
  return n != p->end() && n->is_string() && *n == "whoami";
}

}  // namespace

HttpFront::HttpFront(DemoServer& server, HttpOptions options)
    : server_(server), options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {
  Install();
}

HttpFront::~HttpFront() { Stop(); }

std::shared_ptr<Session> HttpFront::FindSession(const std::string& id) {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

void HttpFront::Install() {
  httplib::Server& svr = *http_;
  svr.new_task_queue = [] { return new ThreadPerConnection(); };
  svr.set_payload_max_length(options_.max_body_bytes);
  svr.set_keep_alive_max_count(100000);
  svr.set_tcp_nodelay(true);  // else a small response waits ~40 ms for a delayed ACK (Nagle)
  // Capture the listener: httplib listens with a compiled-in backlog of 5, and a gateway opening
  // many upstream connections at once would see some reset.
  svr.set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd_ = sock;
  });
  svr.set_read_timeout(30, 0);
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::Error("http handler failed", {{"error", what}});
    SetJsonRpcError(res, 500, mcp::kInternalError, "Internal error");
  });

  svr.Post("/mcp", [this](const httplib::Request& req, httplib::Response& res) {
    if (!OriginAllowed(req)) {
      SetJsonRpcError(res, 403, mcp::kConnectionClosed, "Forbidden: Origin not allowed");
      return;
    }
    std::string content_type = Lower(req.get_header_value("Content-Type"));
    if (content_type.rfind("application/json", 0) != 0) {
      SetJsonRpcError(res, 415, mcp::kConnectionClosed, "Unsupported Media Type: Content-Type must be application/json");
      return;
    }
    std::string accept = Lower(req.get_header_value("Accept"));
    bool accepts_json = accept.empty() || accept.find("application/json") != std::string::npos ||
                        accept.find("*/*") != std::string::npos;
    bool accepts_sse = accept.find("text/event-stream") != std::string::npos;
    if (!accepts_json && !accepts_sse) {
      SetJsonRpcError(res, 406, mcp::kConnectionClosed,
                      "Not Acceptable: Accept must include application/json or text/event-stream");
      return;
    }
    mcp::Message message;
    mcp::RpcError err = mcp::ParseMessage(req.body, &message);
    if (!err.ok()) {
      res.status = 400;
      res.set_content(DumpJson(mcp::MakeError(err.id, err.code, err.message)), "application/json");
      return;
    }

    std::shared_ptr<Session> session;
    bool is_initialize = message.is_request() && message.method() == "initialize";
    if (is_initialize) {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      if (sessions_.size() >= kMaxSessions) {
        SetJsonRpcError(res, 503, mcp::kConnectionClosed, "Too many sessions");
        return;
      }
      session = std::make_shared<Session>(RandomHex(16));
      sessions_[session->id()] = session;
    } else {
      if (!req.has_header("Mcp-Session-Id")) {
        SetJsonRpcError(res, 400, mcp::kConnectionClosed, "Bad Request: Mcp-Session-Id header is required");
        return;
      }
      session = FindSession(req.get_header_value("Mcp-Session-Id"));
      if (!session) {
        SetJsonRpcError(res, 404, mcp::kConnectionClosed, "Session not found");
        return;
      }
      if (req.has_header("MCP-Protocol-Version") &&
          !DemoServer::SpeaksVersion(req.get_header_value("MCP-Protocol-Version"))) {
        SetJsonRpcError(res, 400, mcp::kConnectionClosed,
                        "Bad Request: Unsupported protocol version " + req.get_header_value("MCP-Protocol-Version"));
        return;
      }
    }

    CallContext context;
    context.transport = "http";
    if (IsWhoami(message)) context.http = HeadersForWhoami(req);

    if (!message.is_request()) {
      server_.Dispatch(message, session, context, nullptr);
      res.status = 202;
      return;
    }

    bool use_sse = false;
    switch (options_.sse) {
      case SseMode::kAlways: use_sse = accepts_sse; break;
      case SseMode::kNever: use_sse = false; break;
      case SseMode::kAuto:
        use_sse = accepts_sse && (server_.IsSlowCall(message) || !mcp::ProgressToken(message.json).is_null());
        break;
    }
    if (!accepts_json) use_sse = true;
    if (is_initialize) res.set_header("Mcp-Session-Id", session->id());

    auto exchange = std::make_shared<HttpExchange>();
    server_.Dispatch(message, session, context, exchange);

    if (!use_sse) {
      std::string body;
      if (exchange->WaitFinal(&body, stopping_)) {
        res.set_content(body, "application/json");
      } else {
        res.set_content(DumpJson(mcp::MakeError(message.id(), mcp::kConnectionClosed, "Request cancelled")),
                        "application/json");
      }
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [this, exchange](size_t, httplib::DataSink& sink) {
          std::string text;
          switch (exchange->Pop(&text, kWaitSlice)) {
            case HttpExchange::Next::kMessage: {
              std::string event = "event: message\ndata: " + text + "\n\n";
              return sink.write(event.data(), event.size());
            }
            case HttpExchange::Next::kEnd:
              sink.done();
              return true;
            case HttpExchange::Next::kIdle:
              if (stopping_.load()) {
                sink.done();
                return true;
              }
              return sink.is_writable();  // false ends the stream when the client has gone
          }
          return false;
        });
  });

  svr.Get("/mcp", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", "POST, DELETE");
    SetJsonRpcError(res, 405, mcp::kConnectionClosed, "Method Not Allowed: this server sends no unprompted messages");
  });

  svr.Delete("/mcp", [this](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_header("Mcp-Session-Id")) {
      SetJsonRpcError(res, 400, mcp::kConnectionClosed, "Bad Request: Mcp-Session-Id header is required");
      return;
    }
    std::shared_ptr<Session> session;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      auto it = sessions_.find(req.get_header_value("Mcp-Session-Id"));
      if (it != sessions_.end()) {
        session = it->second;
        sessions_.erase(it);
      }
    }
    if (!session) {
      SetJsonRpcError(res, 404, mcp::kConnectionClosed, "Session not found");
      return;
    }
    server_.EndSession(session);
    log::Info("session deleted", {{"session", session->id()}});
    res.status = 200;
  });
}

Result<int> HttpFront::Bind() {
  int port = options_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.host);
    if (port < 0) return Status(Code::kIo, "cannot bind " + options_.host + ":0");
  } else if (!http_->bind_to_port(options_.host, port)) {
    return Status(Code::kIo, "cannot bind " + options_.host + ":" + std::to_string(port));
  }
  return port;
}

void HttpFront::Serve() {
  if (listen_fd_ >= 0) TuneListenSocket(listen_fd_, 4096, /*defer_accept=*/false);
  http_->listen_after_bind();
}

void HttpFront::Stop() {
  stopping_.store(true);
  http_->stop();
}

}  // namespace holdgate::demo
