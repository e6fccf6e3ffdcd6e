#pragma once
// WaitingReply: a ReplyHandler for a caller that may block until the upstream answers one request
// (the readiness probe, tests). Related messages are dropped. Thread-safe: the upstream delivers
// from its own thread; Wait and done may be called from any thread.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "upstream/upstream.h"

namespace holdgate::upstream {

class WaitingReply final : public ReplyHandler {
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
  bool done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  // The response, or null when none arrived within `timeout_ms`. Blocks.
  Json Wait(int64_t timeout_ms) const {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return done_; });
    return done_ ? response_ : Json();
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  Json response_;      // guarded by mu_
};

}  // namespace holdgate::upstream
