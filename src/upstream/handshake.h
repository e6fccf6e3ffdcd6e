#pragma once
// The client side of the MCP initialize handshake, shared by both upstream kinds. Blocking.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <memory>

#include "upstream/upstream.h"

namespace holdgate::upstream {

// A ReplyHandler that lets a thread wait for the response. Related messages are ignored.
class WaitingHandler final : public ReplyHandler {
 public:
  void OnRelated(const Json&) override {}
  void OnResponse(const Json& response) override;
  // Returns false on timeout.
  bool Wait(int64_t timeout_ms, Json* response);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  Json response_;      // guarded by mu_
};

// Sends initialize (through `send`, which must route the reply to the given handler) with the
// capabilities, clientInfo and protocolVersion of `options` (defaults: holdgate's own, the latest
// version), checks the answer and returns the InitializeResult. The caller sends
// notifications/initialized.
Result<Json> Initialize(const std::function<void(const Json&, std::shared_ptr<ReplyHandler>)>& send,
                        const Options& options, int64_t timeout_ms);

}  // namespace holdgate::upstream
