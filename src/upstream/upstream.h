#pragma once
// The upstream MCP server holdgate forwards to, seen as one JSON-RPC connection (one upstream
// session) that many downstream sessions share, or that one agent session has to itself. An
// Upstream owns request-id and progress-token correlation: callers hand in requests with their own
// ids and get replies back with those ids restored.
// Thread-safe: Send/Notify/Respond may be called from any thread and never block on the network;
// handlers are invoked on the upstream's own reader threads (and, for a request past
// Options::request_timeout_ms, on its timeout thread; for Cancel, and for Respond to a modern
// upstream's input request that ends its call, on the calling thread) and must not block. Call
// Send/Cancel/Respond without holding a lock a handler takes.
#include <functional>
#include <memory>
#include <string>

#include "common/json_util.h"
#include "common/status.h"

namespace holdgate::upstream {

// Receives what the upstream says about one forwarded request.
class ReplyHandler {
 public:
  virtual ~ReplyHandler() = default;
  // A message the upstream sent in relation to the request: a notification (progress with the
  // caller's original token restored, logging) or a server->client request (sampling,
  // elicitation, roots) whose id is the upstream's — answer it through Upstream::Respond.
  virtual void OnRelated(const Json& message) = 0;
  // The final response, with the caller's original id restored. Called exactly once. If the
  // upstream fails (crash, timeout, connection refused) this is a JSON-RPC error response.
  virtual void OnResponse(const Json& response) = 0;
  // Who the request is for (the agent session). Over stdio nothing on the wire ties a
  // server->client request to the call that caused it; the upstream attributes one only when
  // every request in flight has the same owner, and refuses it otherwise, so one agent never
  // sees another agent's sampling or elicitation request.
  virtual std::string Owner() const { return ""; }
};

// A handle to an in-flight request, used to cancel it.
using RequestHandle = uint64_t;

struct Options {
  std::string command;              // stdio: shell-split command line of the child
  std::string url;                  // http: Streamable HTTP endpoint
  Json client_capabilities = Json::object();  // what holdgate declares in its own initialize
  // The initialize sent upstream: clientInfo (null = holdgate's own) and protocolVersion ("" =
  // the latest holdgate speaks). A per-agent session carries the agent's own values here.
  Json client_info;
  std::string protocol_version;
  // The connection serves one agent: request ids and progress tokens go upstream as the agent sent
  // them (one that would collide with another in flight is renamed). False: holdgate's own.
  bool keep_caller_ids = false;
  // 0 = none. A request not answered this long after it was sent gets a kRequestTimeout error
  // ("upstream did not answer within …; the call may or may not have run; not re-run"), is
  // cancelled upstream (notifications/cancelled; over HTTP its exchange is cut too), and a late
  // answer is dropped. Progress does not extend it.
  int64_t request_timeout_ms = 0;
  int64_t restart_backoff_ms = 500;
};

class Upstream {
 public:
  virtual ~Upstream() = default;

  // Connects (spawns the child or reaches the URL) and performs the initialize handshake.
  // Blocks until the handshake is done or fails.
  virtual Status Start() = 0;
  // Stops the reader threads; in-flight requests get an error response. Blocks until done.
  virtual void Stop() = 0;

  // The upstream's InitializeResult (protocolVersion, capabilities, serverInfo, instructions). For
  // an upstream that speaks 2026-07-28 (ProtocolEra() "modern") it is synthesized from its
  // server/discover answer: protocolVersion is the negotiated modern version.
  virtual Json InitializeResult() const = 0;
  // "legacy": the upstream was initialized (2025 revisions, a session of its own). "modern": it
  // answered server/discover; every request carries the `_meta` envelope, results reach handlers
  // 2025-shaped (see MakeHttpUpstream). Valid after Start() succeeded.
  virtual std::string ProtocolEra() const { return "legacy"; }

  // Forwards a request. Its "id" is replaced on the wire and restored in replies; a
  // params._meta.progressToken is likewise rewritten and restored.
  virtual RequestHandle Send(const Json& request, std::shared_ptr<ReplyHandler> handler) = 0;
  // Like Send, but the exchange may run on the calling thread, which then returns only after the
  // handler got the response: no hand-off to a worker and back (HTTP upstreams; the default is
  // Send). `on_sent` gets the handle before the request goes out, so Cancel works meanwhile.
  // Related messages reach the handler as they arrive, but the caller's thread is busy until the
  // response: use it only when nothing the agent must answer (sampling, elicitation, roots) can
  // come in between, and only on a thread that would otherwise just wait.
  virtual void SendOnThisThread(const Json& request, std::shared_ptr<ReplyHandler> handler,
                                const std::function<void(RequestHandle)>& on_sent) {
    on_sent(Send(request, std::move(handler)));
  }
  // Sends notifications/cancelled for an in-flight request; its handler then gets an error
  // response (the upstream may stay silent after a cancel).
  virtual void Cancel(RequestHandle handle, const std::string& reason) = 0;
  // Forwards a notification (not cancelled: use Cancel).
  virtual void Notify(const Json& notification) = 0;
  // Answers a server->client request previously passed to OnRelated or the unsolicited handler.
  virtual void Respond(const Json& response) = 0;
  // Messages not tied to any request: list_changed and other notifications, and server->client
  // requests the upstream sent outside a request. Set before Start().
  virtual void SetUnsolicitedHandler(std::function<void(const Json&)> handler) = 0;
};

// Factories. Options.command selects stdio, Options.url selects Streamable HTTP.
// stdio upstreams speak the 2025 revisions only (initialize handshake).
std::unique_ptr<Upstream> MakeStdioUpstream(const Options& options);
// Streamable HTTP, both eras. Start() probes with server/discover first (mirroring the reference
// client's `auto` negotiation, see upstream/era.h) and falls back to initialize on a legacy
// verdict. With a modern upstream:
// - every request and notification carries the `_meta` envelope (Options.client_info and
//   client_capabilities, minus the tasks extension) and the MCP-Protocol-Version, Mcp-Method and
//   Mcp-Name headers; there is no session id and no GET stream;
// - methods the revision removed are answered here: ping ({}), logging/setLevel ({}, the level then
//   travels in the envelope); resources/subscribe and unsubscribe ({}) change the filter of a
//   subscriptions/listen request held open, whose notifications reach the unsolicited handler;
// - a result's resultType "complete" (and the ttlMs/cacheScope cache hints) are stripped; any other
//   resultType but input_required reaches the handler as a JSON-RPC error;
// - input_required: each input request becomes a server->client request (elicitation/create,
//   sampling/createMessage, roots/list) delivered through the handler's OnRelated; when every
//   answer came back through Respond the same request is sent again with `inputResponses` and the
//   `requestState` echoed unchanged, up to 10 rounds; the handler gets only the final response.
//   Cancel with the handle Send returned works in every round.
std::unique_ptr<Upstream> MakeHttpUpstream(const Options& options);

}  // namespace holdgate::upstream
