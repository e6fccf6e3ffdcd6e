#pragma once
// DemoServer: the MCP protocol and tools of holdgate's demo upstream, independent of transport.
// A front end (stdio or Streamable HTTP) parses each client message and calls Dispatch() with the
// client's Session and, for requests, an Exchange that carries the request's progress notifications
// and its one response back. Fast requests are answered inline on the caller's thread; slow ones
// (slow_echo, start_job with wait) finish on a worker or job thread and can be stopped by
// notifications/cancelled. Thread-safe: Dispatch may be called from many threads at once.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "demo/counters.h"
#include "demo/job_manager.h"
#include "mcp/jsonrpc.h"

namespace holdgate::demo {

// Where the messages of one client request go. The first Finish() or Abandon() closes it; anything
// sent after that is dropped, so no progress notification can follow the response.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual void Notify(const Json& notification) = 0;
  virtual void Finish(const Json& response) = 0;
  // No response will come (the request was cancelled).
  virtual void Abandon() = 0;
};

// What the transport saw of the request, for whoami.
struct CallContext {
  std::string transport = "stdio";  // "stdio" | "http"
  Json http = nullptr;              // for HTTP: the headers that matter (see http_front.cpp)
};

// One client connection (stdio) or MCP session (HTTP): its requests in flight, by JSON-RPC id.
class Session {
 public:
  explicit Session(std::string id) : id_(std::move(id)) {}
  const std::string& id() const { return id_; }

  struct InFlight {
    std::function<void()> cancel;  // stops the work; called at most once
    std::shared_ptr<Exchange> exchange;
  };
  // False when a request with this id is already in flight.
  bool Track(const Json& request_id, std::shared_ptr<InFlight> entry);
  // Removes and returns the entry; null when absent. Whoever takes it owns the response.
  std::shared_ptr<InFlight> Take(const Json& request_id);
  std::vector<std::shared_ptr<InFlight>> TakeAll();

  void set_protocol_version(std::string v);
  std::string protocol_version() const;

 private:
  const std::string id_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<InFlight>> in_flight_;  // guarded by mu_; key = DumpJson(id)
  std::string protocol_version_;                                // guarded by mu_
};

struct DemoOptions {
  std::string server_name = "holdgate-demo-upstream";
  int page_size = 0;    // tools/list page size; 0 = one page
  int extra_tools = 0;  // noop_1..noop_N appended to the catalogue (pagination tests)
};

class DemoServer {
 public:
  // REQUIRES: counters outlives the server.
  DemoServer(DemoOptions options, Counters* counters);
  ~DemoServer();

  // The protocol versions the demo speaks, newest first: 2025-11-25, 2025-06-18, 2025-03-26.
  static const std::vector<std::string>& ProtocolVersions();
  static bool SpeaksVersion(const std::string& version);

  // Handles one client message. `exchange` is required for requests and ignored otherwise.
  void Dispatch(const mcp::Message& message, const std::shared_ptr<Session>& session,
                const CallContext& context, const std::shared_ptr<Exchange>& exchange);
  // True when answering `request` may take a while (slow_echo, start_job with wait), so an HTTP
  // front should stream it as SSE.
  bool IsSlowCall(const mcp::Message& request) const;
  // Cancels every request of the session (its client went away); counted as requests_cancelled.
  void EndSession(const std::shared_ptr<Session>& session);
  // Stops all work: cancels running jobs and waits (bounded) for worker threads.
  void Shutdown();

  Counters& counters() { return *counters_; }

 private:
  class CancelToken;
  Json HandleRequest(const mcp::Message& request, const std::shared_ptr<Session>& session,
                     const CallContext& context, const std::shared_ptr<Exchange>& exchange, bool* deferred);
  Json Initialize(const Json& params, Session& session);
  Json ListTools(const Json& params, bool* bad_cursor) const;
  Json CallTool(const mcp::Message& request, const std::shared_ptr<Session>& session,
                const CallContext& context, const std::shared_ptr<Exchange>& exchange, bool* deferred,
                Json* rpc_error);
  void CancelRequest(Session& session, const Json& request_id);
  Json SlowEcho(const mcp::Message& request, const Json& args, const std::shared_ptr<Session>& session,
                const std::shared_ptr<Exchange>& exchange, bool* deferred);
  Json StartJob(const mcp::Message& request, const Json& args, const std::shared_ptr<Session>& session,
                const std::shared_ptr<Exchange>& exchange, bool* deferred);
  Json Stats() const;

  const DemoOptions options_;
  Counters* counters_;
  JobManager jobs_;
  Json tools_;  // the catalogue, built once

  std::mutex workers_mu_;
  std::condition_variable workers_cv_;
  int workers_ = 0;                                     // guarded by workers_mu_
  bool stopping_ = false;                               // guarded by workers_mu_
  std::vector<std::shared_ptr<CancelToken>> tokens_;    // live worker tokens; guarded by workers_mu_
};

}  // namespace holdgate::demo
