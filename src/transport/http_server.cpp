#include "transport/http_server.h"

#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/crypto.h"
#include "common/listen_socket.h"
#include "common/log.h"
#include "common/periodic_thread.h"
#include "common/text.h"
#include "httpd/guarded_server.h"
#include "mcp/era.h"
#include "mcp/methods.h"
#include "transport/session_table.h"
#include "mcp/trace_meta.h"
#include "transport/sse.h"

namespace holdgate::transport {
namespace {

constexpr size_t kMaxBufferedUnsolicited = 256;

// Exact loopback names, or an IPv4 literal in 127.0.0.0/8 ("127.0.0.1.evil.example" is a name).
bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  struct in_addr addr;
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
  return (ntohl(addr.s_addr) >> 24) == 127;
}

// "name:port" or "[v6]:port" → name.
std::string HostName(const std::string& host_header) {
  if (!host_header.empty() && host_header.front() == '[') {
    size_t close = host_header.find(']');
    return close == std::string::npos ? host_header : host_header.substr(0, close + 1);
  }
  size_t colon = host_header.rfind(':');
  return colon == std::string::npos ? host_header : host_header.substr(0, colon);
}

bool ContainsToken(const std::string& header, std::string_view token) {
  return header.find(token) != std::string::npos;
}

std::string ErrorBody(const Json& id, int code, const std::string& message) {
  return DumpJson(mcp::MakeError(id, code, message));
}

// A session's server-initiated messages wait here until the agent's GET stream takes them.
class HttpSession final : public Session {
 public:
  using Session::Session;

  void SendUnsolicited(const Json& message) override {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      queue_.push_back(DumpJson(message));
      if (queue_.size() > kMaxBufferedUnsolicited) queue_.pop_front();
      wake = wake_;
    }
    cv_.notify_all();
    if (wake) wake();
  }

  // Parked GET stream side: appends the queued messages as SSE events to `out`; true when the
  // stream has ended (session closed / replaced by a newer stream).
  bool TakeReady(uint64_t stream_gen, std::string* out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || stream_gen != stream_gen_) return true;
    for (const std::string& message : queue_) out->append(EncodeSseEvent(message, {}, "message"));
    queue_.clear();
    return false;
  }
  // Whom to wake when stream `stream_gen` has something; woken at once when it is no longer the
  // session's stream.
  void SetWakeup(uint64_t stream_gen, std::function<void()> wake) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stream_gen == stream_gen_ && !closed_) {
        wake_ = std::move(wake);
        return;
      }
    }
    if (wake) wake();
  }

  // GET stream side. Returns false when the stream should end (session closed / replaced).
  bool WaitNext(uint64_t stream_gen, int64_t wait_ms, std::string* out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                 [&] { return closed_ || stream_gen != stream_gen_ || !queue_.empty(); });
    if (closed_ || stream_gen != stream_gen_) return false;
    if (queue_.empty()) {
      out->clear();
      return true;
    }
    *out = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }
  // A new GET stream replaces any older one; returns its generation.
  uint64_t OpenStream() {
    std::function<void()> wake;  // the replaced stream ends
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
      gen = ++stream_gen_;
      wake = std::move(wake_);
      wake_ = nullptr;
    }
    if (wake) wake();
    return gen;
  }
  void Close() {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      wake = std::move(wake_);
      wake_ = nullptr;
    }
    cv_.notify_all();
    if (wake) wake();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mu_
  uint64_t stream_gen_ = 0;        // guarded by mu_
  bool closed_ = false;            // guarded by mu_
  std::function<void()> wake_;     // guarded by mu_: the parked stream of stream_gen_
};

// A 2026-07-28 request's session: it lives for that one request (the revision is stateless), is
// in no session table and cannot be sent anything outside the request's own reply.
class StatelessSession final : public Session {
 public:
  using Session::Session;
  void SendUnsolicited(const Json&) override {}
};

// A header's value without optional white space, or nullopt when absent.
std::optional<std::string> McpHeader(const httplib::Request& req, const char* name) {
  if (!req.has_header(name)) return std::nullopt;
  return std::string(TrimOws(req.get_header_value(name)));
}

// The reply channel of one POSTed request: events queue here and the connection's thread
// writes them as SSE (or as one JSON body when the answer comes quickly and alone).
class HttpClientStream final : public ClientStream {
 public:
  void SendRelated(const Json& message) override {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_ || gone_) return;
      events_.push_back(DumpJson(message));
      has_related_ = true;
      wake = wake_;
    }
    cv_.notify_all();
    if (wake) wake();
  }
  void Finish(const Json& response) override {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
      final_ = DumpJson(response);
      wake = wake_;
    }
    cv_.notify_all();
    if (wake) wake();
  }
  void Close() override {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
      final_.clear();  // an empty final ends the reply without a message
      events_.clear();
      wake = wake_;
    }
    cv_.notify_all();
    if (wake) wake();
  }
  // Parked reply side: whom to wake when TakeReady has something (null: nobody).
  void SetWakeup(std::function<void()> wake) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = std::move(wake);
  }
  // Parked reply side: appends what is ready as SSE events to `out`; true when the reply has
  // ended (its response, if any, is in `out`).
  bool TakeReady(std::string* out) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& event : events_) out->append(EncodeSseEvent(event, {}, "message"));
    events_.clear();
    if (!finished_) return false;
    if (!delivered_final_) {
      delivered_final_ = true;
      if (!final_.empty()) out->append(EncodeSseEvent(final_, {}, "message"));
      std::string().swap(final_);
    }
    return true;
  }
  bool finished() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }
  bool CallerWaitsForReply() const override { return true; }
  void CloseConnectionAfterReply() override { close_after_reply_.store(true); }
  bool close_after_reply() const { return close_after_reply_.load(); }
  void SetGoneCallback(std::function<void()> on_gone) override {
    bool run_now = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (gone_ && !finished_) run_now = true;
      else on_gone_ = std::move(on_gone);
    }
    if (run_now && on_gone) on_gone();
  }

  // Waits until the reply is complete or something related arrived, up to `ms`.
  // Returns true when the whole reply is a single JSON response.
  bool WaitForPlainReply(int64_t ms, std::string* body) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return finished_ || has_related_; });
    if (finished_ && !has_related_) {
      *body = std::move(final_);
      delivered_final_ = true;
      return true;
    }
    return false;
  }
  // Parked JSON reply side: drops related messages (a JSON body has room for the response only)
  // and appends the response, once there, to `out`; true when the reply has ended.
  bool TakeFinal(std::string* out) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.clear();
    if (!finished_) return false;
    if (!delivered_final_) {
      delivered_final_ = true;
      out->append(final_);
      std::string().swap(final_);
    }
    return true;
  }
  // Blocks for the rest of the reply (agent that accepts only JSON). Related messages dropped.
  std::string WaitForFinal() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return finished_; });
    delivered_final_ = true;
    return std::move(final_);
  }

  enum class Next { kEvent, kFinal, kIdle };
  // SSE side: next event to write, or kIdle after `ms` with nothing to send.
  Next WaitNext(int64_t ms, std::string* out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return finished_ || !events_.empty(); });
    if (!events_.empty()) {
      *out = std::move(events_.front());
      events_.pop_front();
      return Next::kEvent;
    }
    if (finished_ && !delivered_final_) {
      delivered_final_ = true;
      *out = std::move(final_);
      return Next::kFinal;
    }
    return Next::kIdle;
  }

  void MarkGone() {
    std::function<void()> cb;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (gone_) return;
      gone_ = true;
      if (!finished_) cb = std::move(on_gone_);
      on_gone_ = nullptr;
    }
    if (cb) cb();
  }

 private:
  std::atomic<bool> close_after_reply_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> events_;  // guarded by mu_
  std::string final_;               // guarded by mu_
  bool finished_ = false;           // guarded by mu_
  bool delivered_final_ = false;    // guarded by mu_
  bool has_related_ = false;        // guarded by mu_
  bool gone_ = false;               // guarded by mu_
  std::function<void()> on_gone_;   // guarded by mu_
  std::function<void()> wake_;      // guarded by mu_: the parked connection's loop
};

// A POST's reply once its connection is parked, sent by the parked-connection loop; keeps the
// session open (`open`) until the reply ends. As SSE: the stream's events and its response. As
// JSON (an agent that accepts only application/json): the response alone, as the chunked body's
// one chunk, and no heartbeats, since bytes before the response would not be the JSON body asked for.
class ParkedPostReply final : public httpd::ParkedReply {
 public:
  enum class Body { kSse, kJson };
  ParkedPostReply(std::shared_ptr<HttpClientStream> stream, std::shared_ptr<void> open, Body body)
      : stream_(std::move(stream)), open_(std::move(open)), body_(body) {}
  void SetWakeup(std::function<void()> wake) override { stream_->SetWakeup(std::move(wake)); }
  bool TakeReady(std::string* out) override {
    return body_ == Body::kSse ? stream_->TakeReady(out) : stream_->TakeFinal(out);
  }
  bool CloseAfter() const override { return stream_->close_after_reply(); }
  bool WantsHeartbeats() const override { return body_ == Body::kSse; }
  void Abandoned() override { stream_->MarkGone(); }

 private:
  const std::shared_ptr<HttpClientStream> stream_;
  const std::shared_ptr<void> open_;
  const Body body_;
};

// A session's GET stream once its connection is parked. Ends when the session closes or a newer
// GET stream replaces it.
class ParkedGetStream final : public httpd::ParkedReply {
 public:
  ParkedGetStream(std::shared_ptr<HttpSession> session, uint64_t stream_gen, std::shared_ptr<void> open)
      : session_(std::move(session)), stream_gen_(stream_gen), open_(std::move(open)) {}
  void SetWakeup(std::function<void()> wake) override { session_->SetWakeup(stream_gen_, std::move(wake)); }
  bool TakeReady(std::string* out) override { return session_->TakeReady(stream_gen_, out); }
  bool CloseAfter() const override { return false; }
  void Abandoned() override {}

 private:
  const std::shared_ptr<HttpSession> session_;
  const uint64_t stream_gen_;
  const std::shared_ptr<void> open_;
};

}  // namespace

bool HttpServer::MatchApiKey(const std::vector<ApiKey>& keys, const std::string& presented, ApiKey* out) {
  const std::string digest = Sha256Hex(presented);
  bool found = false;
  for (const ApiKey& key : keys) {  // no early exit: every key is compared
    if (ConstantTimeEquals(digest, key.sha256_hex) && !found) {
      found = true;
      *out = key;
    }
  }
  return found;
}

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, Dispatcher& dispatcher)
      : options_(std::move(options)),
        dispatcher_(dispatcher),
        server_(GuardOptionsFor(options_)),
        sessions_(SessionLimits{options_.max_sessions, options_.max_sessions_per_principal,
                                options_.session_idle_timeout_ms},
                  options_.clock != nullptr ? *options_.clock : SystemClock::Instance()),
        sweeper_(SweepInterval(options_.session_idle_timeout_ms), [this] { ExpireIdleSessions(); },
                 PeriodicThread::First::kWaitFirst) {}

  Status Bind() {
    loopback_ = IsLoopbackHost(options_.host);
    if (!loopback_ && options_.api_keys.empty()) {
      log::Warn("MCP listener is not on loopback and no API keys are configured: agents are refused",
                {{"host", options_.host}});
    }
    server_.set_socket_options([this](socket_t sock) {
      httplib::default_socket_options(sock);
      int one = 1;
      setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      listen_fd_ = sock;
    });
    server_.set_tcp_nodelay(true);
    server_.set_payload_max_length(options_.max_body_bytes);
    server_.set_keep_alive_max_count(100000);
    server_.set_write_timeout(30, 0);
    server_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      log::Error("unhandled exception in MCP handler", {{"error", what}});
      res.status = 500;
      res.set_content(ErrorBody(nullptr, mcp::kInternalError, "Internal error"), "application/json");
    });
    server_.Post(options_.path, [this](const httplib::Request& req, httplib::Response& res) { HandlePost(req, res); });
    server_.Get(options_.path, [this](const httplib::Request& req, httplib::Response& res) { HandleGet(req, res); });
    server_.Delete(options_.path, [this](const httplib::Request& req, httplib::Response& res) { HandleDelete(req, res); });
    auto method_not_allowed = [](const httplib::Request&, httplib::Response& res) {
      res.status = 405;
      res.set_header("Allow", "GET, POST, DELETE");
    };
    server_.Put(options_.path, method_not_allowed);
    server_.Patch(options_.path, method_not_allowed);
    server_.Options(options_.path, method_not_allowed);

    if (options_.port == 0) {
      port_ = server_.bind_to_any_port(options_.host);
      if (port_ < 0) return IoError("cannot bind MCP listener on " + options_.host);
    } else {
      if (!server_.bind_to_port(options_.host, options_.port)) {
        return IoError("cannot bind MCP listener on " + options_.host + ":" + std::to_string(options_.port));
      }
      port_ = options_.port;
    }
    // The library listens with a backlog of 5; a burst of agents would see resets.
    TuneListenSocket(listen_fd_, options_.listen_backlog);
    return Status::Ok();
  }

  void Start() {
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    sweeper_.Start();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    sweeper_.Stop();
    CloseSessions(sessions_.TakeAll());
    if (server_.is_running()) server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void Broadcast(const Json& message) {
    for (auto& s : sessions_.Snapshot()) s->SendUnsolicited(message);
  }

  size_t session_count() const { return sessions_.size(); }

  size_t ExpireIdleSessions() {
    auto idle = sessions_.TakeIdle();
    if (!idle.empty()) log::Info("closed idle MCP sessions", {{"count", idle.size()}});
    CloseSessions(idle);
    return idle.size();
  }

  int port() const { return port_; }

 private:
  struct Caller {
    std::string principal;
    std::string grant;
  };

  // Host/Origin (DNS rebinding) and authentication. On failure fills `res` and returns false.
  bool Admit(const httplib::Request& req, httplib::Response& res, Caller* caller) {
    std::string host = req.get_header_value("Host");
    if (!HostAllowed(host)) {
      Refuse(res, 403, "Forbidden: Host header " + host + " is not allowed");
      log::Warn("refused request with foreign Host", {{"host", host}, {"remote", req.remote_addr}});
      return false;
    }
    if (req.has_header("Origin") && !OriginAllowed(req.get_header_value("Origin"))) {
      Refuse(res, 403, "Forbidden: Origin " + req.get_header_value("Origin") + " is not allowed");
      log::Warn("refused request with foreign Origin", {{"origin", req.get_header_value("Origin")}, {"remote", req.remote_addr}});
      return false;
    }
    std::string auth = req.get_header_value("Authorization");
    if (!options_.api_keys.empty()) {
      ApiKey key;
      if (auth.rfind("Bearer ", 0) != 0 || !MatchApiKey(options_.api_keys, auth.substr(7), &key)) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"holdgate\"");
        Refuse(res, 401, auth.empty() ? "Unauthorized: an API key is required" : "Unauthorized: unknown API key");
        return false;
      }
      caller->principal = key.principal;
      caller->grant = key.name;
      return true;
    }
    if (options_.allow_anonymous_loopback && loopback_) {
      caller->principal = "local";
      caller->grant = "anonymous";
      return true;
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"holdgate\"");
    Refuse(res, 401, "Unauthorized: this listener requires API keys and none are configured");
    return false;
  }

  bool HostAllowed(const std::string& host) const {
    if (host.empty()) return false;
    if (!options_.allowed_hosts.empty()) {
      for (const auto& allowed : options_.allowed_hosts) {
        if (host == allowed || HostName(host) == allowed) return true;
      }
      return false;
    }
    if (!loopback_) return true;
    return IsLoopbackHost(HostName(host));
  }

  bool OriginAllowed(const std::string& origin) const {
    if (!options_.allowed_origins.empty()) {
      for (const auto& allowed : options_.allowed_origins) {
        if (origin == allowed) return true;
      }
      return false;
    }
    for (std::string_view scheme : {"http://", "https://"}) {
      if (origin.rfind(scheme, 0) != 0) continue;
      std::string authority = origin.substr(scheme.size());
      // An origin is scheme://host[:port] and nothing else: no userinfo, path or query.
      if (authority.find_first_of("@/?#\\") != std::string::npos) return false;
      return IsLoopbackHost(HostName(authority));
    }
    return false;
  }

  static void Refuse(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(ErrorBody(nullptr, mcp::kConnectionClosed, message), "application/json");
  }

  // Looks up the session named by Mcp-Session-Id, enforcing that it belongs to this caller.
  std::shared_ptr<HttpSession> FindSession(const httplib::Request& req, httplib::Response& res,
                                           const Caller& caller) {
    std::string sid = req.get_header_value("Mcp-Session-Id");
    if (sid.empty()) {
      Refuse(res, 400, "Bad Request: Mcp-Session-Id header is required");
      return nullptr;
    }
    auto session = std::static_pointer_cast<HttpSession>(sessions_.Find(sid));
    // Another principal's session id is answered exactly like an unknown one.
    if (!session || session->principal() != caller.principal) {
      res.status = 404;
      res.set_content(ErrorBody(nullptr, mcp::kConnectionClosed, "Session not found"), "application/json");
      return nullptr;
    }
    std::string version = req.get_header_value("MCP-Protocol-Version");
    if (!version.empty() && !mcp::IsSupportedProtocolVersion(version)) {
      Refuse(res, 400, "Bad Request: unsupported MCP-Protocol-Version " + version);
      return nullptr;
    }
    return session;
  }

  void HandlePost(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Admit(req, res, &caller)) return;
    std::string content_type = req.get_header_value("Content-Type");
    if (!content_type.empty() && !ContainsToken(content_type, "application/json")) {
      Refuse(res, 415, "Unsupported Media Type: Content-Type must be application/json");
      return;
    }
    mcp::Message msg;
    mcp::RpcError err = mcp::ParseMessage(req.body, &msg);
    if (!err.ok()) {
      res.status = 400;
      res.set_content(ErrorBody(err.id, err.code, err.message), "application/json");
      return;
    }
    // Which era the POST belongs to: a 2026-07-28 request is served without a session.
    mcp::EraVerdict era = mcp::ClassifyPost(
        msg.json, mcp::PostHeaders{McpHeader(req, "MCP-Protocol-Version"), McpHeader(req, "Mcp-Method"),
                                   McpHeader(req, "Mcp-Name")});
    if (era.kind == mcp::EraVerdict::Kind::kReject) {
      res.status = era.http_status;
      const Json id = msg.is_request() ? msg.id() : Json();
      res.set_content(DumpJson(mcp::MakeError(id, era.code, era.message, era.data)), "application/json");
      return;
    }
    if (era.kind == mcp::EraVerdict::Kind::kModern) {
      // Notifications mean nothing without a session to relate them to: accepted and dropped.
      if (!msg.is_request()) {
        res.status = 202;
        return;
      }
      auto session = std::make_shared<StatelessSession>("r26-" + RandomHex(12), caller.principal, caller.grant);
      session->SetNegotiated(era.version, std::move(era.client_capabilities));
      return ServeRequest(session, std::move(msg), req, res, nullptr, /*modern=*/true);
    }
    const bool is_initialize = msg.is_request() && msg.method() == "initialize";
    std::shared_ptr<HttpSession> session;
    if (is_initialize) {
      session = NewSession(caller, msg.id(), res);
      if (!session) return;
      res.set_header("Mcp-Session-Id", session->id());
    } else {
      session = FindSession(req, res, caller);
      if (!session) return;
    }
    if (!msg.is_request()) {
      dispatcher_.OnMessage(session, msg);
      res.status = 202;
      if (msg.is_notification() &&
          mcp::ClassifyClientNotification(msg.method()) == mcp::NotificationVerdict::kRequestMethod) {
        // Dropped (and audited) by the dispatcher: a request needs an id to be answered or run.
        Refuse(res, 400, "Bad Request: a request method sent as a notification (no id) is not run");
      }
      return;
    }
    ServeRequest(session, std::move(msg), req, res, sessions_.Open(session->id()));
  }

  // Hands a request to the dispatcher and answers with its reply: plain JSON when it comes at once
  // (or the agent accepts nothing else), else SSE. `open` keeps the session alive meanwhile.
  // A 2026-07-28 (`modern`) JSON reply that is a -32601 or -32021 error gets HTTP 404 or 400, as
  // the revision's HTTP binding says; every other reply is 200.
  void ServeRequest(const std::shared_ptr<Session>& session, mcp::Message msg, const httplib::Request& req,
                    httplib::Response& res, std::shared_ptr<void> open, bool modern = false) {
    const std::string accept = req.get_header_value("Accept");
    const bool accepts_sse = accept.empty() || ContainsToken(accept, "text/event-stream") || ContainsToken(accept, "*/*");
    // A W3C traceparent header travels on as params._meta.traceparent unless the body has one.
    if (std::string tp = req.get_header_value("traceparent"); !tp.empty() && mcp::MetaTraceparent(msg.json).empty()) {
      mcp::SetMetaTraceparent(&msg.json, tp);
    }
    auto stream = std::make_shared<HttpClientStream>();
    dispatcher_.OnRequest(session, msg, stream);
    if (stream->close_after_reply()) res.set_header("Connection", "close");
    std::string body;
    if (!accepts_sse) {
      if (stream->WaitForPlainReply(options_.json_reply_wait_ms, &body) || stream->finished()) {
        if (body.empty()) body = stream->WaitForFinal();  // a related message came first: dropped
        if (body.empty()) res.status = 202;  // cancelled: nothing to answer
        else res.set_content(body, "application/json");
        if (modern && !body.empty()) res.status = ModernHttpStatus(body);
        return;
      }
      JsonReply(stream, res, std::move(open));
      return;
    }
    if (stream->WaitForPlainReply(options_.json_reply_wait_ms, &body)) {
      if (body.empty()) res.status = 202;
      else res.set_content(body, "application/json");
      if (modern && !body.empty()) res.status = ModernHttpStatus(body);
      return;
    }
    StreamReply(stream, res, std::move(open));
  }

  std::shared_ptr<HttpSession> NewSession(const Caller& caller, const Json& id, httplib::Response& res) {
    auto session = std::make_shared<HttpSession>(RandomHex(16), caller.principal, caller.grant);
    switch (sessions_.Add(session)) {
      case SessionTable::AddResult::kAdded:
        return session;
      case SessionTable::AddResult::kPrincipalFull:
        log::Warn("session refused: principal at its session cap", {{"principal", caller.principal}});
        res.status = 429;
        res.set_content(ErrorBody(id, mcp::kConnectionClosed,
                                  "Too many sessions: principal " + caller.principal + " has " +
                                      std::to_string(options_.max_sessions_per_principal) +
                                      " open sessions (mcp.max_sessions_per_principal). End unused ones with "
                                      "DELETE, or wait until they idle out (mcp.session_idle_timeout)."),
                        "application/json");
        return nullptr;
      case SessionTable::AddResult::kFull:
        Refuse(res, 503, "Service Unavailable: too many sessions");
        return nullptr;
    }
    return nullptr;
  }

  void CloseSessions(const std::vector<std::shared_ptr<Session>>& sessions) {
    for (const auto& s : sessions) {
      std::static_pointer_cast<HttpSession>(s)->Close();
      dispatcher_.OnSessionClosed(s);
    }
  }

  static httpd::GuardOptions GuardOptionsFor(const HttpServerOptions& o) {
    httpd::GuardOptions g;
    g.limits = o.limits;
    g.thread_stack_bytes = o.thread_stack_bytes;
    g.error_body = [](const std::string& message) { return ErrorBody(nullptr, mcp::kInvalidRequest, message); };
    g.park_replies = true;
    g.heartbeat_ms = o.heartbeat_ms;
    g.heartbeat = std::string(kSseHeartbeat);
    return g;
  }

  // Often enough that a session outlives its idle timeout by at most a quarter of it (or 30 s).
  static std::chrono::milliseconds SweepInterval(int64_t idle_timeout_ms) {
    return std::chrono::milliseconds(std::clamp<int64_t>(idle_timeout_ms / 4, 250, 30'000));
  }

  // Answers as SSE: related messages and the response, with heartbeats while idle. A vanished
  // agent is noticed within stream_poll_ms and reported through the stream's gone callback.
  void StreamReply(const std::shared_ptr<HttpClientStream>& stream, httplib::Response& res,
                   std::shared_ptr<void> open) {
    res.set_header("Cache-Control", "no-cache");
    auto last_write = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    const int64_t poll_ms = options_.stream_poll_ms;
    const int64_t heartbeat_ms = options_.heartbeat_ms;
    auto parked = std::make_shared<bool>(false);
    auto tried_parking = std::make_shared<bool>(false);
    auto handed_off = std::make_shared<bool>(false);
    res.set_chunked_content_provider(
        "text/event-stream",
        [stream, last_write, poll_ms, heartbeat_ms, open, parked, tried_parking, handed_off](size_t, httplib::DataSink& sink) {
          // The connection, and the rest of this reply, go to the parked-connection loop: a held
          // call then waits without a thread.
          if (!*tried_parking) {
            *tried_parking = true;
            if (httpd::ParkConnection(std::make_shared<ParkedPostReply>(stream, open, ParkedPostReply::Body::kSse))) {
              *handed_off = true;
              return false;
            }
          }
          std::string payload;
          switch (stream->WaitNext(poll_ms, &payload)) {
            case HttpClientStream::Next::kEvent: {
              std::string ev = EncodeSse(payload);
              if (!sink.write(ev.data(), ev.size())) return false;
              *last_write = std::chrono::steady_clock::now();
              return true;
            }
            case HttpClientStream::Next::kFinal: {
              if (!payload.empty()) {
                std::string ev = EncodeSse(payload);
                if (!sink.write(ev.data(), ev.size())) return false;
              }
              sink.done();
              return true;
            }
            case HttpClientStream::Next::kIdle:
              if (!*parked) {
                // Nothing came within a poll: the call is parked (held). What the thread's
                // stack needed to get here (parsing, the store) is not needed while it waits.
                *parked = true;
                httpd::ReleaseStackBelowCaller();
              }
              if (!sink.is_writable()) return false;
              if (std::chrono::steady_clock::now() - *last_write >= std::chrono::milliseconds(heartbeat_ms)) {
                if (!sink.write(kSseHeartbeat.data(), kSseHeartbeat.size())) return false;
                *last_write = std::chrono::steady_clock::now();
              }
              return true;
          }
          return false;
        },
        [stream, handed_off](bool success) {
          if (!success && !*handed_off) stream->MarkGone();
        });
  }

  // The reply of an agent that accepts only JSON and is not answered at once (a held call): a
  // chunked application/json body whose one chunk is the response. The connection is parked
  // while it waits; where it cannot be, its thread waits.
  void JsonReply(const std::shared_ptr<HttpClientStream>& stream, httplib::Response& res, std::shared_ptr<void> open) {
    auto handed_off = std::make_shared<bool>(false);
    res.set_chunked_content_provider(
        "application/json",
        [stream, open, handed_off](size_t, httplib::DataSink& sink) {
          if (httpd::ParkConnection(std::make_shared<ParkedPostReply>(stream, open, ParkedPostReply::Body::kJson))) {
            *handed_off = true;
            return false;
          }
          const std::string body = stream->WaitForFinal();
          if (!body.empty() && !sink.write(body.data(), body.size())) return false;
          sink.done();
          return true;
        },
        [stream, handed_off](bool success) {
          if (!success && !*handed_off) stream->MarkGone();
        });
  }

  static int ModernHttpStatus(const std::string& body) {
    if (body.find("\"error\"") == std::string::npos) return 200;
    Result<Json> parsed = ParseJson(body);
    if (!parsed.ok() || !parsed->is_object() || !parsed->contains("error") || !(*parsed)["error"].is_object()) return 200;
    const int code = (*parsed)["error"].value("code", 0);
    if (code == mcp::kMethodNotFound) return 404;
    if (code == mcp::kMissingRequiredClientCapability) return 400;
    return 200;
  }

  static std::string EncodeSse(const std::string& payload) { return EncodeSseEvent(payload, {}, "message"); }

  void HandleGet(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Admit(req, res, &caller)) return;
    if (!ContainsToken(req.get_header_value("Accept"), "text/event-stream")) {
      res.status = 406;
      res.set_content(ErrorBody(nullptr, mcp::kConnectionClosed, "Not Acceptable: GET needs Accept: text/event-stream"), "application/json");
      return;
    }
    auto session = FindSession(req, res, caller);
    if (!session) return;
    uint64_t gen = session->OpenStream();
    auto open = sessions_.Open(session->id());
    res.set_header("Cache-Control", "no-cache");
    auto last_write = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    const int64_t poll_ms = options_.stream_poll_ms;
    const int64_t heartbeat_ms = options_.heartbeat_ms;
    auto tried_parking = std::make_shared<bool>(false);
    res.set_chunked_content_provider(
        "text/event-stream",
        [session, gen, last_write, poll_ms, heartbeat_ms, open, tried_parking](size_t, httplib::DataSink& sink) {
          if (!*tried_parking) {
            *tried_parking = true;
            if (httpd::ParkConnection(std::make_shared<ParkedGetStream>(session, gen, open))) return false;
          }
          std::string payload;
          if (!session->WaitNext(gen, poll_ms, &payload)) {
            sink.done();
            return true;
          }
          if (!payload.empty()) {
            std::string ev = EncodeSse(payload);
            *last_write = std::chrono::steady_clock::now();
            return sink.write(ev.data(), ev.size());
          }
          if (!sink.is_writable()) return false;
          if (std::chrono::steady_clock::now() - *last_write >= std::chrono::milliseconds(heartbeat_ms)) {
            *last_write = std::chrono::steady_clock::now();
            return sink.write(kSseHeartbeat.data(), kSseHeartbeat.size());
          }
          return true;
        });
  }

  void HandleDelete(const httplib::Request& req, httplib::Response& res) {
    Caller caller;
    if (!Admit(req, res, &caller)) return;
    auto session = FindSession(req, res, caller);
    if (!session) return;
    if (sessions_.Remove(session->id())) CloseSessions({session});
    res.status = 200;
  }

  const HttpServerOptions options_;
  Dispatcher& dispatcher_;
  httpd::GuardedServer server_;
  std::thread thread_;
  int port_ = -1;
  int listen_fd_ = -1;
  bool loopback_ = true;

  SessionTable sessions_;
  PeriodicThread sweeper_;

  std::mutex mu_;
  bool stopped_ = false;  // guarded by mu_
};

HttpServer::HttpServer(HttpServerOptions options, Dispatcher& dispatcher)
    : impl_(std::make_unique<Impl>(std::move(options), dispatcher)) {}
HttpServer::~HttpServer() { impl_->Stop(); }
Status HttpServer::Bind() { return impl_->Bind(); }
int HttpServer::port() const { return impl_->port(); }
void HttpServer::Start() { impl_->Start(); }
void HttpServer::Stop() { impl_->Stop(); }
void HttpServer::Broadcast(const Json& message) { impl_->Broadcast(message); }
size_t HttpServer::session_count() const { return impl_->session_count(); }
size_t HttpServer::ExpireIdleSessions() { return impl_->ExpireIdleSessions(); }

}  // namespace holdgate::transport
