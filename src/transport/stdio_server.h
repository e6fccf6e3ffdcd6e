#pragma once
// Serves one agent over stdin/stdout (newline-delimited JSON-RPC), as desktop MCP clients expect
// when they spawn `holdgate stdio`. Nothing but MCP is ever written to stdout.
// Run() blocks the calling thread reading stdin until EOF or Stop(); replies may be written from
// any thread (one mutex serialises lines).
#include <atomic>
#include <memory>
#include <string>

#include "transport/session.h"

namespace holdgate::transport {

struct StdioServerOptions {
  int in_fd = 0;
  int out_fd = 1;
  std::string principal = "local";  // a stdio agent is whoever spawned us
  size_t max_line_bytes = 4 * 1024 * 1024;
};

class StdioServer {
 public:
  StdioServer(StdioServerOptions options, Dispatcher& dispatcher);
  ~StdioServer();

  // Reads and dispatches until EOF on stdin (then closes the session) or Stop().
  void Run();
  // Makes Run() return soon (closes the input side).
  void Stop();
  std::shared_ptr<Session> session() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdgate::transport
