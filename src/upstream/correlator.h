#pragma once
// Correlator: maps the ids and progress tokens of requests forwarded upstream to the callers'
// own, routes every inbound upstream message to the handler it belongs to, and fails requests
// that outlive the request timeout. On a connection shared by many callers every request gets a
// wire id and token of holdgate's; on one that serves a single agent (`keep_caller_ids`) they go
// out as the agent sent them, and only one that would collide with another in flight is renamed. Shared by the stdio and HTTP upstreams. Thread-safe;
// handlers are called outside the lock.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "upstream/upstream.h"

namespace holdgate::upstream {

// How often an upstream looks for overdue requests: a tenth of the timeout, within 10 ms..1 s.
std::chrono::milliseconds OverdueCheckInterval(int64_t request_timeout_ms);

class Correlator {
 public:
  // `attribute_unrelated`: attribute server->client requests and log messages that arrive
  // outside any reply stream to the request in flight (stdio); otherwise they are unsolicited
  // (HTTP: those come on the GET stream). `reply` writes a message to the upstream, used to
  // refuse requests that cannot be attributed.
  // `request_timeout_ms` (0 = none): see FailOverdue.
  Correlator(bool attribute_unrelated, std::function<void(const Json&)> reply, int64_t request_timeout_ms = 0,
             bool keep_caller_ids = false)
      : attribute_unrelated_(attribute_unrelated),
        keep_caller_ids_(keep_caller_ids),
        reply_(std::move(reply)),
        request_timeout_(request_timeout_ms) {}

  struct Registered {
    RequestHandle handle = 0;
    Json wire;  // the request as it goes upstream (id and progress token rewritten or kept)
  };
  struct Overdue {
    RequestHandle handle = 0;
    Json wire_id;  // the id the upstream knows the request by
  };

  // Records a request and returns it rewritten for the wire.
  Registered Register(const Json& request, std::shared_ptr<ReplyHandler> handler);

  // Routes one inbound message. `stream_handle` names the request on whose reply stream the
  // message arrived (HTTP), or 0 when unknown (stdio, GET stream).
  void Route(Json message, RequestHandle stream_handle);

  // Completes one request with a JSON-RPC error (if still in flight). Returns the wire id it had
  // upstream, or null when it was no longer in flight.
  Json Fail(RequestHandle handle, int code, const std::string& message);
  // Completes every in-flight request with an error (upstream died or is stopping).
  void FailAll(int code, const std::string& message);
  // Completes every request registered at least the request timeout before `now` with a
  // kRequestTimeout error "upstream did not answer within <timeout>; the call may or may not have
  // run; not re-run" and returns them, oldest first, for the caller to cancel upstream. A late
  // answer to one of them is dropped by Route. No-op without a timeout.
  std::vector<Overdue> FailOverdue(std::chrono::steady_clock::time_point now);
  // The timeout error's message, e.g. "upstream did not answer within 5m; …".
  std::string TimeoutMessage() const;

  void SetUnsolicitedHandler(std::function<void(const Json&)> handler);
  size_t in_flight() const;

 private:
  struct Entry {
    Json original_id;
    std::string wire_id_key;  // DumpJson of the id on the wire
    Json wire_id;
    Json original_token;  // null when the request had none
    std::string wire_token;   // DumpJson of the token on the wire; empty when none
    std::shared_ptr<ReplyHandler> handler;
    std::chrono::steady_clock::time_point deadline;  // max() without a timeout
  };

  // REQUIRES: mu_ held. Forgets the entry's wire id and token.
  void ForgetWireNames(const Entry& entry);

  const bool attribute_unrelated_;
  const bool keep_caller_ids_;
  const std::function<void(const Json&)> reply_;
  const std::chrono::milliseconds request_timeout_;  // 0 = none
  mutable std::mutex mu_;
  uint64_t next_ = 1;                                     // guarded by mu_
  std::map<RequestHandle, Entry> entries_;                // guarded by mu_; ordered = age
  std::unordered_map<std::string, RequestHandle> wire_ids_;  // guarded by mu_: DumpJson(wire id) -> handle
  std::unordered_map<std::string, RequestHandle> tokens_;    // guarded by mu_: DumpJson(wire token) -> handle
  std::function<void(const Json&)> unsolicited_;          // guarded by mu_
};

}  // namespace holdgate::upstream
