#include "server/readiness.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "store/store.h"
#include "upstream/upstream.h"

namespace holdgate::server {
namespace {

// Waits for one upstream response.
class PingReply final : public upstream::ReplyHandler {
 public:
  void OnRelated(const Json&) override {}
  void OnResponse(const Json& response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      response_ = response;
      done_ = true;
    }
    cv_.notify_all();
  }
  // The response, or null after `timeout_ms`.
  Json Wait(int64_t timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return done_; });
    return done_ ? response_ : Json();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  Json response_;      // guarded by mu_
};

std::string PingUpstream(upstream::Upstream& up, int64_t timeout_ms) {
  static std::atomic<int64_t> counter{0};
  auto reply = std::make_shared<PingReply>();
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
