#pragma once
// The contract between a downstream transport (HTTP or stdio) and the gateway that handles what
// agents send. The transport owns framing, sessions' wire identity and client-liveness; the
// Dispatcher (the gateway) owns meaning. Every method here is thread-safe.
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/json_util.h"
#include "mcp/jsonrpc.h"

namespace holdgate::transport {

// One agent session: an HTTP Mcp-Session-Id, or the single stdio peer, or (MCP 2026-07-28, which
// has no sessions) one request: its protocol_version() is then 2026-07-28 or later, its
// capabilities are the request envelope's and SendUnsolicited drops everything.
class Session {
 public:
  Session(std::string id, std::string principal, std::string grant)
      : id_(std::move(id)), principal_(std::move(principal)), grant_(std::move(grant)) {}
  virtual ~Session() = default;

  const std::string& id() const { return id_; }
  // Who the agent is (from its API key; "local" for anonymous loopback agents).
  const std::string& principal() const { return principal_; }
  // Which credential it used (the API key's name), for rate-limit scope "grant".
  const std::string& grant() const { return grant_; }

  // Delivers a message that is not part of any request's reply (list_changed, server->client
  // requests outside a call). Never blocks; may buffer or drop when the agent has no stream open.
  virtual void SendUnsolicited(const Json& message) = 0;

  void SetNegotiated(std::string protocol_version, Json client_capabilities) {
    std::lock_guard<std::mutex> lock(mu_);
    protocol_version_ = std::move(protocol_version);
    client_capabilities_ = std::move(client_capabilities);
  }
  std::string protocol_version() const {
    std::lock_guard<std::mutex> lock(mu_);
    return protocol_version_;
  }
  // The capabilities the agent declared (its initialize, or a 2026-07-28 request's envelope).
  Json client_capabilities() const {
    std::lock_guard<std::mutex> lock(mu_);
    return client_capabilities_;
  }
  // Whether the agent declared `name` (e.g. "sampling") in its initialize; no copy.
  bool HasClientCapability(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mu_);
    return client_capabilities_.is_object() && client_capabilities_.contains(name);
  }

 private:
  const std::string id_;
  const std::string principal_;
  const std::string grant_;
  mutable std::mutex mu_;
  std::string protocol_version_;  // guarded by mu_
  Json client_capabilities_;      // guarded by mu_
};

// The reply channel of one request an agent sent.
class ClientStream {
 public:
  virtual ~ClientStream() = default;
  // A message related to the request (progress, logging, a server->client request). Ignored
  // after Finish. Never blocks.
  virtual void SendRelated(const Json& message) = 0;
  // The final response. Only the first call counts. Never blocks.
  virtual void Finish(const Json& response) = 0;
  // Ends the reply without any response: the agent cancelled the request, and a receiver must
  // not answer a cancelled request. Only the first of Finish/Close counts.
  virtual void Close() = 0;
  virtual bool finished() const = 0;
  // Called once, on a transport thread, if the agent goes away before Finish (closed connection,
  // stdio EOF). Set it before the request can finish; a callback set after the agent is already
  // gone runs at once.
  virtual void SetGoneCallback(std::function<void()> on_gone) = 0;
  // True when the thread that delivered the request (OnRequest) does nothing but wait for this
  // reply (an HTTP POST's connection thread): the dispatcher may then do blocking work for the
  // request on that thread instead of handing it to another one. False for stdio, whose reader
  // thread serves every request of the agent.
  virtual bool CallerWaitsForReply() const { return false; }
  // A hint that this reply ends a long wait (a held call): the transport asks the agent to close
  // its connection afterwards rather than keep it idle. Thousands of held calls decided at once
  // would otherwise leave thousands of idle keep-alive connections that httplib polls.
  virtual void CloseConnectionAfterReply() {}
};

// Implemented by the gateway.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // A request. The dispatcher answers through `stream`, now or later, from any thread.
  virtual void OnRequest(const std::shared_ptr<Session>& session, const mcp::Message& request,
                         const std::shared_ptr<ClientStream>& stream) = 0;
  // A notification, or a response to a server->client request.
  virtual void OnMessage(const std::shared_ptr<Session>& session, const mcp::Message& message) = 0;
  // The session ended (DELETE, stdio EOF, shutdown).
  virtual void OnSessionClosed(const std::shared_ptr<Session>& session) = 0;
};

}  // namespace holdgate::transport
