#include "server/readiness.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "store/store.h"
#include "upstream/upstream.h"
#include "upstream/waiting_reply.h"

namespace holdgate::server {
namespace {

std::string PingUpstream(upstream::Upstream& up, int64_t timeout_ms) {
  static std::atomic<int64_t> counter{0};
  auto reply = std::make_shared<upstream::WaitingReply>();
  Json ping = {{"jsonrpc", "2.0"}, {"id", "readyz-" + std::to_string(++counter)}, {"method", "ping"}};
  upstream::RequestHandle handle = up.Send(ping, reply);
  Json response = reply->Wait(timeout_ms);
  if (response.is_null()) {
    up.Cancel(handle, "readiness ping timed out");
    return "no answer to ping within " + std::to_string(timeout_ms) + " ms";
  }
  if (response.contains("error")) {
    // A server that does not implement ping still answered: it is reachable.
    const Json& e = response["error"];
    if (e.is_object() && e.value("code", 0) == -32601) return "ok";
    return "ping failed: " + (e.is_object() ? e.value("message", std::string("error")) : std::string("error"));
  }
  return "ok";
}

}  // namespace

Json CheckReadiness(const ReadinessSources& s) {
  Json checks = Json::object();
  bool ready = true;
  const bool draining = s.draining && s.draining();
  checks["draining"] = draining;
  if (draining) ready = false;

  Status w = s.store != nullptr ? s.store->CheckWritable() : Unavailable("no store");
  checks["store"] = w.ok() ? "ok" : w.message();
  if (!w.ok()) ready = false;

  std::string up = s.upstream != nullptr ? PingUpstream(*s.upstream, s.ping_timeout_ms) : "no upstream";
  checks["upstream"] = up;
  if (up != "ok") ready = false;

  if (!s.policy_configured) {
    checks["policy"] = "none (every call allowed)";
  } else if (s.policy_loaded && s.policy_loaded()) {
    checks["policy"] = "ok";
  } else {
    checks["policy"] = "not loaded";
    ready = false;
  }
  return Json{{"ready", ready}, {"checks", std::move(checks)}};
}

}  // namespace holdgate::server
