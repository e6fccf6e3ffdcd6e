#include "upstream/handshake.h"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "mcp/jsonrpc.h"

namespace holdgate::upstream {

void WaitingHandler::OnResponse(const Json& response) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    response_ = response;
    done_ = true;
  }
  cv_.notify_all();
}

bool WaitingHandler::Wait(int64_t timeout_ms, Json* response) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return done_; })) return false;
  *response = response_;
  return true;
}

Result<Json> Initialize(const std::function<void(const Json&, std::shared_ptr<ReplyHandler>)>& send,
                        const Options& options, int64_t timeout_ms) {
  auto waiter = std::make_shared<WaitingHandler>();
  Json params = {{"protocolVersion", options.protocol_version.empty() ? std::string(mcp::kLatestProtocolVersion)
                                                                      : options.protocol_version},
                 {"capabilities", options.client_capabilities.is_object() ? options.client_capabilities
                                                                          : Json::object()},
                 {"clientInfo", options.client_info.is_object() ? options.client_info
                                                                : Json{{"name", "holdgate"}, {"version", "0.1.0"}}}};
  send(mcp::MakeRequest(0, "initialize", params), waiter);
  Json response;
  if (!waiter->Wait(timeout_ms, &response)) {
    return Status(Code::kDeadlineExceeded, "upstream did not answer initialize in time");
  }
  if (response.contains("error")) {
    return Unavailable("upstream refused initialize: " + DumpJson(response["error"]));
  }
  const Json& result = response.value("result", Json());
  if (!result.is_object() || !result.contains("protocolVersion")) {
    return Unavailable("upstream sent a malformed initialize result");
  }
  if (!mcp::IsSupportedProtocolVersion(result.value("protocolVersion", ""))) {
    return Unavailable("upstream chose unsupported protocol version " +
                       DumpJson(result["protocolVersion"]));
  }
  return result;
}

}  // namespace holdgate::upstream
