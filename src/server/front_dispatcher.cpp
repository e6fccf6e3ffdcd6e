#include "server/front_dispatcher.h"

#include <chrono>
#include <cstdlib>

#include "common/clock.h"
#include "common/log.h"
#include "common/sd_notify.h"

#include "common/trace.h"
#include "mcp/jsonrpc.h"
#include "mcp/trace_meta.h"

namespace holdgate::server {

// Forwards everything to the transport's stream and reports, once, that the request is over:
// at Finish, Close, or when the last reference goes (an agent that vanished).
class FrontDispatcher::CountedStream final : public transport::ClientStream {
 public:
  CountedStream(std::shared_ptr<Counter> counter, std::shared_ptr<transport::ClientStream> inner)
      : counter_(std::move(counter)), inner_(std::move(inner)) {}
  ~CountedStream() override { Over(); }

  void SendRelated(const Json& message) override { inner_->SendRelated(message); }
  void Finish(const Json& response) override {
    inner_->Finish(response);
    Over();
  }
  void Close() override {
    inner_->Close();
    Over();
  }
  bool finished() const override { return inner_->finished(); }
  void SetGoneCallback(std::function<void()> on_gone) override { inner_->SetGoneCallback(std::move(on_gone)); }
  bool CallerWaitsForReply() const override { return inner_->CallerWaitsForReply(); }
  void CloseConnectionAfterReply() override { inner_->CloseConnectionAfterReply(); }

 private:
  void Over() {
    if (over_.exchange(true)) return;
    {
      std::lock_guard<std::mutex> lock(counter_->mu);
      --counter_->in_flight;
    }
    counter_->cv.notify_all();
  }

  const std::shared_ptr<Counter> counter_;
  std::shared_ptr<transport::ClientStream> inner_;
  std::atomic<bool> over_{false};
};

FrontDispatcher::FrontDispatcher(transport::Dispatcher& inner) : inner_(inner) {}

void FrontDispatcher::BeginDrain() {
  std::lock_guard<std::mutex> lock(counter_->mu);
  counter_->draining = true;
  draining_.store(true);
}

int64_t FrontDispatcher::in_flight() const {
  std::lock_guard<std::mutex> lock(counter_->mu);
  return counter_->in_flight;
}

int64_t FrontDispatcher::WaitForCalls(int64_t grace_ms, const std::function<int64_t()>& still_expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  std::unique_lock<std::mutex> lock(counter_->mu);
  while (true) {
    const int64_t beyond = counter_->in_flight - still_expected();
    if (beyond <= 0) return 0;
    if (std::chrono::steady_clock::now() >= deadline) return beyond;
    // Held calls come and go without telling us: look again at least every 50 ms.
    counter_->cv.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
  }
}

void FrontDispatcher::Drain(const std::function<int64_t()>& held_open) {
  int64_t grace_ms = 20'000;
  if (const char* g = std::getenv("HOLDGATE_DRAIN_GRACE"); g != nullptr && *g != '\0') {
    const int64_t parsed = ParseDurationMs(g);
    if (parsed >= 0) grace_ms = parsed;
    else log::Warn("HOLDGATE_DRAIN_GRACE is not a duration; using 20s", {{"value", g}});
  }
  sdnotify::Notify("STOPPING=1\nSTATUS=draining");
  BeginDrain();
  const int64_t held = held_open();
  log::Info("draining: /readyz answers 503 and new MCP requests are refused",
            {{"pass_through_in_flight", std::max<int64_t>(0, in_flight() - held)}, {"held_calls_open", held},
             {"grace_ms", grace_ms}});
  const int64_t left = WaitForCalls(grace_ms, held_open);
  if (left == 0) log::Info("drained: every pass-through call in flight finished", {});
  else log::Warn("grace period over: pass-through calls still running are cut off", {{"still_running", left}});
  log::Info("held calls are left pending for the next start: their agents get a deferral telling them to retry "
            "after approval",
            {{"held_calls_open", held_open()}});
}

void FrontDispatcher::OnRequest(const std::shared_ptr<transport::Session>& session, const mcp::Message& request,
                                const std::shared_ptr<transport::ClientStream>& stream) {
  bool refuse;
  {
    // Under one lock, so a request is either counted before BeginDrain (and waited for) or refused.
    std::lock_guard<std::mutex> lock(counter_->mu);
    refuse = counter_->draining;
    if (!refuse) ++counter_->in_flight;
  }
  if (refuse) {
    stream->Finish(mcp::MakeError(request.id(), mcp::kConnectionClosed,
                                  "holdgate is shutting down: nothing was run; retry on another instance or later"));
    return;
  }
  auto counted = std::make_shared<CountedStream>(counter_, stream);
  const std::string incoming = mcp::MetaTraceparent(request.json);
  if (incoming.empty() && request.method() != "tools/call") return inner_.OnRequest(session, request, counted);
  // Trace context: our hop is a child span of the agent's, or the root of a new trace. Only these
  // requests are copied (the rest of the pass-through path is not).
  std::optional<trace::TraceParent> parent = trace::Parse(incoming);
  trace::TraceParent hop = parent ? trace::ChildOf(*parent) : trace::NewTrace();
  mcp::Message traced = request;
  mcp::SetMetaTraceparent(&traced.json, hop.ToString());
  trace::ScopedTrace scope(hop.trace_id);
  inner_.OnRequest(session, traced, counted);
}

void FrontDispatcher::OnMessage(const std::shared_ptr<transport::Session>& session, const mcp::Message& message) {
  inner_.OnMessage(session, message);
}

void FrontDispatcher::OnSessionClosed(const std::shared_ptr<transport::Session>& session) {
  inner_.OnSessionClosed(session);
}

}  // namespace holdgate::server
