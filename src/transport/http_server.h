#pragma once
// The agents' Streamable HTTP endpoint (MCP 2025-11-25; 2025-06-18 and 2025-03-26 clients too):
// POST answered with JSON or SSE, 202 for notifications and responses, GET stream for
// server-initiated messages, DELETE to end a session. A POST carrying a 2026-07-28 envelope
// (mcp/era.h) is served without a session: its header/body disagreements and unserved revisions
// are refused here (-32020, -32022, -32602), and the request reaches the Dispatcher with a session
// of its own whose protocol_version() is the revision; 2026 notifications are accepted and dropped. Checks Host and Origin (DNS rebinding),
// bearer API keys, payload size and JSON-RPC shape before anything reaches the Dispatcher.
// Threads: one per connection being served (small stacks). An SSE reply (a held call, a GET
// stream) is parked: its connection then waits on httpd::GuardedServer's epoll thread with no
// thread of its own, so held calls cost sockets, not threads, and never starve another agent.
// A reply to an agent that accepts only JSON is parked too when it does not come at once: its
// body is then chunked, the response its one chunk. The reviewer API runs on a
// separate listener. Connection caps, request deadlines and framing checks
// are httpd::GuardedServer's. Sessions end by DELETE, by idling for session_idle_timeout_ms (no
// request or stream open), or at Stop; each end runs Dispatcher::OnSessionClosed once. A
// principal at max_sessions_per_principal gets 429 for a new session, others are unaffected.
// Start/Stop from one controlling thread.
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/status.h"
#include "transport/session.h"

namespace holdgate::transport {

struct ApiKey {
  std::string name;        // the grant name, for rate-limit scope "grant" and the audit log
  std::string principal;   // who the agent is
  std::string sha256_hex;  // SHA-256 of the key; the key itself is never stored
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port
  std::string path = "/mcp";
  size_t max_body_bytes = 4 * 1024 * 1024;
  // Origins allowed in an Origin header. Empty: only http(s) origins on localhost/127.0.0.1/[::1].
  std::vector<std::string> allowed_origins;
  // Host header values allowed (name or name:port). Empty: localhost names when bound to loopback,
  // anything otherwise.
  std::vector<std::string> allowed_hosts;
  std::vector<ApiKey> api_keys;
  // With no api_keys, a loopback listener accepts agents without a token as principal "local".
  bool allow_anonymous_loopback = true;
  size_t thread_stack_bytes = 256 * 1024;
  int listen_backlog = 4096;
  ListenerLimits limits = kMcpListenerDefaults;
  int64_t stream_poll_ms = 1000;   // how often an idle SSE reply checks that the agent is still there
  int64_t heartbeat_ms = 15000;    // SSE comment interval on idle streams
  int64_t json_reply_wait_ms = 50; // a reply ready within this time is sent as plain JSON
  size_t max_sessions = 100000;
  size_t max_sessions_per_principal = 1000;
  int64_t session_idle_timeout_ms = 3'600'000;
  const Clock* clock = nullptr;  // for session expiry; null = the system clock
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Dispatcher& dispatcher);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket. After this, port() is the bound port.
  Status Bind();
  int port() const;
  // Serves on a background thread. REQUIRES: Bind() succeeded. Returns once accepting.
  void Start();
  // Stops accepting, ends open streams, closes every session and joins the serving thread.
  void Stop();

  // Sends a message to every session (e.g. notifications/tools/list_changed after a reload).
  void Broadcast(const Json& message);
  size_t session_count() const;
  // Closes every session idle for session_idle_timeout_ms now (a background sweep also does,
  // every few seconds of real time); returns how many. Exposed for tests with a fake clock.
  size_t ExpireIdleSessions();

  // Checks a bearer key against the configured keys in constant time per key. Exposed for tests.
  static bool MatchApiKey(const std::vector<ApiKey>& keys, const std::string& presented, ApiKey* out);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdgate::transport
