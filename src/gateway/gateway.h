#pragma once
// Gateway: the pipeline between agents and the upstream MCP server. Every tools/call is checked
// against the policy; allowed calls and all other methods pass through (ids and progress tokens
// remapped on the shared upstream session, kept as the agent sent them on its own); denied and
// hidden tools are refused.
//
// Upstream sessions: with a SessionPool (UsePerAgentSessions), an agent speaking 2025-03-26 or
// later gets an upstream session of its own at its initialize, made with its clientInfo,
// capabilities and protocol version and closed when its session closes; everything that session
// says goes to that agent only. Older agents, and every agent without a pool, share the upstream
// given to the constructor: then server->client requests are routed by the call they came with
// and refused when no single agent can be told apart, notifications go to every sharing agent
// (resource updates only to subscribers), and holdgate keeps subscriptions per agent. A call that needs approval is handed to a
// HeldCall (gateway/held_call.h), which owns it until the agent has its answer; the gateway only
// keeps the open ones by request, for duplicate ids, cancellation and shutdown.
//
// A 2026-07-28 request (a session of its own, transport/session.h) is served statelessly on the
// shared upstream session: server/discover and the tasks extension for held calls (the task is the
// approval, gateway/modern.h) are answered here, removed methods get -32601, results are shaped for
// the revision, and an upstream's server->client request during the call becomes "input_required"
// (MRTR) whose retry continues the same upstream call.
//
// Thread-safe: transports call the Dispatcher methods from their own threads; nothing here
// blocks on the network, except an initialize that opens an agent's own upstream session: it
// blocks the delivering thread for the spawn and handshake (the agent waits for that answer
// before it sends anything else). Releases of approved calls run on an internal work pool.
#include <memory>
#include <string>

#include "common/clock.h"
#include "transport/session.h"

namespace holdgate::policy {
class Policy;
class RateLimiter;
}  // namespace holdgate::policy
namespace holdgate::store {
class Store;
}
namespace holdgate::hold {
class HoldCoordinator;
}
namespace holdgate::upstream {
class Upstream;
class SessionPool;
}

namespace holdgate::gateway {

struct GatewayOptions {
  // Base URL of the approval page, used in what agents are told ("review at …").
  std::string review_url = "http://127.0.0.1:8081";
  // Hold limit for a call whose agent sent no progressToken and whose rule sets no `hold`
  // (most clients give up after 60 s; answer before they do).
  int64_t default_hold_ms = 50'000;
  // notifications/progress interval while a call is held (only with a progressToken).
  int64_t progress_interval_ms = 5'000;
  // Audit every call (true) or only calls that were not simply allowed (false, the default:
  // keeps SQLite off the pass-through path).
  bool audit_all_calls = false;
  int decision_threads = 2;  // the work pool that releases approved calls
  // A principal with this many pending approvals has its next held call refused. 0 = no cap.
  int max_pending_per_principal = 100;
};

class Gateway final : public transport::Dispatcher {
 public:
  // REQUIRES: every reference outlives the Gateway. `upstream` is the shared session. `store`, `holds` and `limiter` may be null
  // only in pass-through mode (no policy holds possible). `holds` must be the store's change-feed
  // listener and be swept (hold/sweeper.h): held calls learn decisions, heartbeats and hold
  // limits only from there.
  Gateway(GatewayOptions options, upstream::Upstream& upstream, store::Store* store,
          hold::HoldCoordinator* holds, policy::RateLimiter* limiter, const Clock& clock);
  ~Gateway() override;

  // Installs a policy for new calls (start-up and reload). Connected agents are told that the
  // tool list changed. Null = allow everything.
  void SetPolicy(std::shared_ptr<const policy::Policy> policy);
  std::shared_ptr<const policy::Policy> policy() const;

  // Gives agents sessions of their own from `pool` (which must outlive the Gateway and be stopped
  // after the transports). Call before Start; without it every agent shares the upstream.
  void UsePerAgentSessions(upstream::SessionPool* pool);
  // Wires upstream notifications and gives every pending or approved approval of a 2026 task a
  // held call again (so it is released when approved, polled or not). Call once, before transports;
  // blocks on the store reads.
  void Start();
  // Answers every open held call with a deferral (the approvals stay pending) and stops the work
  // pool (releases already started finish first). Blocks until done.
  void Shutdown();

  // Number of held calls whose agent request is still open.
  size_t open_holds() const;

  // transport::Dispatcher
  void OnRequest(const std::shared_ptr<transport::Session>& session, const mcp::Message& request,
                 const std::shared_ptr<transport::ClientStream>& stream) override;
  void OnMessage(const std::shared_ptr<transport::Session>& session, const mcp::Message& message) override;
  void OnSessionClosed(const std::shared_ptr<transport::Session>& session) override;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdgate::gateway
