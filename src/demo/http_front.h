#pragma once
// Serves the demo upstream over MCP Streamable HTTP (2025-11-25): POST /mcp answered with JSON or
// SSE, 202 for notifications and responses, Mcp-Session-Id sessions (unknown id → 404, missing →
// 400), MCP-Protocol-Version checked, DELETE ends a session, GET → 405 (the demo sends nothing
// unprompted), foreign Origin → 403. One thread per connection, so slow calls never starve others.
// Bind() then Serve() (blocks) on one thread; Stop() from any thread.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "demo/demo_server.h"

namespace httplib {
class Server;
}

namespace holdgate::demo {

enum class SseMode {
  kAuto,    // SSE for slow calls and calls with a progressToken, JSON otherwise
  kAlways,  // every request answered as an SSE stream (as SDK servers do)
  kNever,   // always one JSON object (progress notifications are dropped)
};

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = any free port
  SseMode sse = SseMode::kAuto;
  size_t max_body_bytes = 4 << 20;
};

class HttpFront {
 public:
  HttpFront(DemoServer& server, HttpOptions options);
  ~HttpFront();

  // Binds the listening socket; returns the bound port.
  Result<int> Bind();
  // Serves until Stop(). REQUIRES: Bind() succeeded.
  void Serve();
  void Stop();

 private:
  void Install();
  std::shared_ptr<Session> FindSession(const std::string& id);

  DemoServer& server_;
  const HttpOptions options_;
  std::unique_ptr<httplib::Server> http_;
  int listen_fd_ = -1;  // set by Bind(); its backlog is raised before Serve()
  std::atomic<bool> stopping_{false};
  std::mutex sessions_mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;  // guarded by sessions_mu_
};

}  // namespace holdgate::demo
