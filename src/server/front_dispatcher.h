#pragma once
// FrontDispatcher: what the agents' transport talks to, in front of the gateway. It adds two
// things the gateway does not need to know about:
//  - W3C trace context: a tools/call (or any request that carries one) gets a
//    params._meta.traceparent for holdgate's hop to the upstream, a child of the agent's (from
//    the `traceparent` header, which the HTTP transport copies into _meta, or from _meta itself)
//    or a new trace when the agent sent none or an invalid one. While the gateway handles the
//    request on the transport's thread, that trace id is the thread's current one, so log lines
//    and audit events written there carry it.
//  - Drain: counts requests in flight (until their stream is finished or closed); after
//    BeginDrain() new requests are refused with a JSON-RPC error, and WaitForCalls() waits for the
//    ones still running; Drain() does both for SIGTERM, with systemd's STOPPING=1 and the logs.
//
// Thread-safe: transports call the Dispatcher methods from their own threads; BeginDrain and
// WaitForCalls from the controlling thread.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "transport/session.h"

namespace holdgate::server {

class FrontDispatcher final : public transport::Dispatcher {
 public:
  // REQUIRES: `inner` outlives this object.
  explicit FrontDispatcher(transport::Dispatcher& inner);

  // From now on new requests are refused ("holdgate is shutting down"). Idempotent.
  void BeginDrain();
  bool draining() const { return draining_.load(); }

  // Waits until at most `still_expected()` requests are in flight (the held calls, which are not
  // waited for) or `grace_ms` passed. Returns how many were in flight beyond that at the end
  // (0: all finished). Re-evaluates `still_expected` every 50 ms. Blocks.
  int64_t WaitForCalls(int64_t grace_ms, const std::function<int64_t()>& still_expected);

  int64_t in_flight() const;

  // SIGTERM: BeginDrain, tell systemd STOPPING=1, then WaitForCalls for
  // $HOLDGATE_DRAIN_GRACE (a duration, default 20s) with the `held_open` calls not waited for,
  // logging each step and what is left pending. Blocks up to the grace period.
  void Drain(const std::function<int64_t()>& held_open);

  // transport::Dispatcher
  void OnRequest(const std::shared_ptr<transport::Session>& session, const mcp::Message& request,
                 const std::shared_ptr<transport::ClientStream>& stream) override;
  void OnMessage(const std::shared_ptr<transport::Session>& session, const mcp::Message& message) override;
  void OnSessionClosed(const std::shared_ptr<transport::Session>& session) override;

 private:
  // The count of requests in flight, shared with their streams: a stream may outlive this object
  // (held by the gateway or the upstream until they are destroyed) and still reports to it.
  struct Counter {
    std::mutex mu;
    std::condition_variable cv;
    bool draining = false;  // guarded by mu
    int64_t in_flight = 0;  // guarded by mu
  };
  class CountedStream;

  transport::Dispatcher& inner_;
  std::atomic<bool> draining_{false};  // mirrors counter_->draining, for lock-free reads
  const std::shared_ptr<Counter> counter_ = std::make_shared<Counter>();
};

}  // namespace holdgate::server
