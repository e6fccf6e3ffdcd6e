#include "gateway/held_call.h"

#include <algorithm>
#include <climits>

#include "common/log.h"
#include "common/trace.h"
#include "gateway/agent_messages.h"
#include "mcp/jsonrpc.h"

namespace holdgate::gateway {
namespace {

Json NotExecuted(const Json& id, const std::string& text) {
  return mcp::MakeResult(id, mcp::ToolTextResult(text, true));
}

}  // namespace

HeldCall::HeldCall(HeldCallDeps deps, HeldRequest request, std::shared_ptr<HeldCallReply> reply, ReleaseFn release,
                   std::function<void()> on_done)
    : deps_(std::move(deps)),
      request_(std::move(request)),
      reply_(std::move(reply)),
      release_(std::move(release)),
      on_done_(std::move(on_done)) {}

HeldCall::Started HeldCall::Start(HeldCallDeps deps, HeldRequest request, const store::NewApproval& if_new,
                                  std::shared_ptr<HeldCallReply> reply, ReleaseFn release,
                                  std::function<void()> on_done) {
  Started out;
  auto found = deps.store->FindOrCreate(if_new);
  if (!found.ok()) {
    if (found.status().code() == Code::kResourceExhausted) {
      log::Warn("held call refused: too many pending approvals", {{"error", found.status().message()}});
      reply->Answer(NotExecuted(request.id, "Not executed and not queued for review: " + found.status().message() +
                                                ". Nothing was run."));
    } else {
      log::Error("approval store failed; call not executed", {{"error", found.status().ToString()}});
      reply->Answer(NotExecuted(request.id, "Not executed: holdgate could not record the approval request (" +
                                                found.status().message() + "). Nothing was run; try again later."));
    }
    if (on_done) on_done();
    return out;
  }
  out.created = found->created;
  out.approval = found->approval;
  const int64_t now = deps.clock->NowMs();
  std::shared_ptr<HeldCall> call(
      new HeldCall(std::move(deps), std::move(request), std::move(reply), std::move(release), std::move(on_done)));
  call->approval_id_ = out.approval.id;
  call->trace_id_ = out.approval.trace_id;
  {
    std::lock_guard<std::mutex> lock(call->mu_);
    call->waiting_for_ = WaitingFor(out.approval);
    call->SetDeadline(out.approval, now);
    call->next_progress_ms_ = now;  // the first heartbeat goes out at once: the agent learns the id
  }
  log::Info(out.created ? "call held for approval" : "retry attached to approval",
            {{"approval", out.approval.id}, {"tool", out.approval.tool}, {"state", store::StateName(out.approval.state)}});
  out.call = call;
  call->WatchAndCatchUp();
  call->OnTick(now);
  return out;
}

void HeldCall::SetDeadline(const store::Approval& approval, int64_t now_ms) {
  if (request_.task) {  // polled: waits for the decision however long that takes
    deadline_ms_ = INT64_MAX;
    return;
  }
  int64_t limit = request_.hold_ms > 0 ? request_.hold_ms : deps_.options.default_hold_ms;
  const bool expires = approval.expires_at_ms > 0;
  // With a progress token the agent is kept alive by heartbeats: hold until expiry.
  if (!request_.progress_token.is_null() && expires && approval.expires_at_ms > now_ms) {
    limit = std::max(limit, approval.expires_at_ms - now_ms);
  }
  deadline_ms_ = now_ms + limit;
  if (expires && deadline_ms_ >= approval.expires_at_ms) {
    // The approval expires first: the expiry answers this call. The deadline only guards against
    // a store that cannot expire it.
    deadline_ms_ = std::max(approval.expires_at_ms, now_ms) + deps_.options.expiry_grace_ms;
  }
}

void HeldCall::WatchAndCatchUp() {
  deps_.coordinator->Add(shared_from_this());
  auto current = deps_.store->Get(approval_id_);
  if (!current.ok()) {
    if (deps_.coordinator->Remove(*this)) {
      Finish(mcp::MakeError(request_.id, mcp::kInternalError,
                            "approval record unreadable: " + current.status().message()));
    }
    return;
  }
  if (store::IsDecided(current->state) && deps_.coordinator->Remove(*this)) Decided(*current);
}

void HeldCall::OnDecision(const store::Approval& approval) {
  trace::ScopedTrace traced(trace_id_);  // the feed runs on whichever thread decided
  try {
    Decided(approval);
  } catch (const std::exception& e) {
    // The coordinator has let go of this call (no more decisions or ticks reach it): answer it
    // here, or the agent would wait forever.
    Finish(mcp::MakeError(request_.id, mcp::kInternalError,
                          "approval " + approval_id_ + " is " + store::StateName(approval.state) +
                              " but its outcome could not be read: " + e.what()));
  }
}

void HeldCall::Decided(const store::Approval& approval) {
  switch (approval.state) {
    case store::State::kApproved: {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (phase_ != Phase::kWaiting) return;
        phase_ = Phase::kReleasing;  // from here no hold limit or shutdown can answer the agent
        released_ = approval;
      }
      auto self = shared_from_this();
      deps_.releases->MarkExecuting(approval_id_,
                                    [self](Result<store::Approval> gate) { self->Release(std::move(gate)); });
      return;
    }
    case store::State::kCompleted:
    case store::State::kFailed: {
      Json response = StoredOutcome(request_.id, approval);
      if (approval.state == store::State::kCompleted) NoteEditedArguments(approval, &response);
      Finish(response);
      return;
    }
    case store::State::kRejected:
    case store::State::kExpired:
    case store::State::kCancelled:
    case store::State::kLapsed:
      Finish(NotExecuted(request_.id, RejectionText(approval)));
      return;
    case store::State::kPending:
    case store::State::kExecuting:
      return;  // not decisions
  }
}

void HeldCall::Release(Result<store::Approval> executing) {
  trace::ScopedTrace traced(trace_id_);
  store::Approval approved;
  {
    std::lock_guard<std::mutex> lock(mu_);
    approved = released_;
  }
  if (executing.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = *executing;
    }
    Json params = request_.params.is_object() ? request_.params : Json::object();
    params["arguments"] = executing->EffectiveArguments();
    Json request = {{"jsonrpc", "2.0"}, {"id", request_.id}, {"method", "tools/call"}, {"params", std::move(params)}};
    log::Info("releasing approved call", {{"approval", approval_id_}, {"tool", executing->tool}});
    auto self = shared_from_this();
    release_(std::move(request), [self](Json response) { self->OnUpstreamAnswer(std::move(response)); });
    return;
  }
  const Status& why = executing.status();
  if (why.code() == Code::kConflict) {
    // Another waiter (a retry, another connection) won the gate, or the approval lapsed: answer
    // as the approval now says. The gate moves approved -> executing once, so this cannot loop.
    log::Info("release gate taken elsewhere; waiting for its outcome", {{"approval", approval_id_}, {"why", why.message()}});
    {
      std::lock_guard<std::mutex> lock(mu_);
      phase_ = Phase::kWaiting;
    }
    auto current = deps_.store->Get(approval_id_);
    if (current.ok() && current->state == store::State::kApproved) {
      // Cannot happen with a store that keeps the state machine; never retry the gate.
      Finish(NotExecuted(request_.id, ReleaseFailedText(*current, why.message())));
      return;
    }
    WatchAndCatchUp();
    return;
  }
  log::Error("approved call not released: the executing gate could not be written",
             {{"approval", approval_id_}, {"error", why.ToString()}});
  deps_.store->RecordReleaseFailure(approved, why);
  Finish(NotExecuted(request_.id, ReleaseFailedText(approved, why.message())), /*from_releasing=*/true);
}

void HeldCall::OnUpstreamAnswer(Json response) {
  trace::ScopedTrace traced(trace_id_);
  store::Approval ran;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ran = released_;
  }
  const bool failed = response.contains("error");
  Json stored = failed ? Json{{"error", response["error"]}} : response.value("result", Json());
  NoteEditedArguments(ran, &response);
  auto self = shared_from_this();
  deps_.releases->Complete(approval_id_, std::move(stored), failed,
                           [self, response = std::move(response)](Result<store::Approval> completed) {
                             trace::ScopedTrace traced(self->trace_id_);
                             if (!completed.ok()) {
                               log::Error("could not record the upstream result",
                                          {{"approval", self->approval_id_}, {"error", completed.status().ToString()}});
                             }
                             self->Finish(response, /*from_releasing=*/true);
                           });
}

bool HeldCall::Finish(const Json& response, bool from_releasing) {
  std::function<void()> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ == Phase::kDone) return false;
    if (phase_ == Phase::kReleasing && !from_releasing) return false;
    phase_ = Phase::kDone;
    done = std::move(on_done_);
  }
  reply_->Answer(response);
  if (done) done();
  return true;
}

void HeldCall::OnTick(int64_t now_ms) {
  Json heartbeat;
  bool defer = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ != Phase::kWaiting) return;
    if (now_ms >= deadline_ms_) {
      defer = true;
    } else if (!request_.progress_token.is_null() && now_ms >= next_progress_ms_) {
      next_progress_ms_ = now_ms + deps_.options.progress_interval_ms;
      heartbeat = mcp::MakeNotification(
          "notifications/progress", {{"progressToken", request_.progress_token},
                                     {"progress", ++progress_},
                                     {"message", ProgressText(approval_id_, waiting_for_, deps_.options.review_url)}});
    }
  }
  if (defer) {
    // A decision being delivered right now answers instead.
    if (deps_.coordinator->Remove(*this)) Finish(Deferral(/*shutting_down=*/false));
    return;
  }
  if (!heartbeat.is_null()) reply_->Progress(heartbeat);
}

int64_t HeldCall::NextTickMs() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (phase_ != Phase::kWaiting) return INT64_MAX;
  if (request_.progress_token.is_null()) return deadline_ms_;
  return std::min(deadline_ms_, next_progress_ms_);
}

void HeldCall::OnAgentGone(const std::string& why) {
  std::function<void()> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A release in progress goes on: its outcome is stored and a retry gets it.
    if (phase_ != Phase::kWaiting) return;
    phase_ = Phase::kDone;
    done = std::move(on_done_);
  }
  deps_.coordinator->Remove(*this);
  reply_->Drop();
  if (done) done();
  HoldStore* store = deps_.store;
  const std::string id = approval_id_;
  const bool cancel = request_.cancel_on_disconnect;
  deps_.post([store, id, why, cancel] {
    auto r = cancel ? store->Cancel(id, why) : store->MarkAgentLeft(id);
    log::Info("agent left a held call",
              {{"approval", id}, {"why", why}, {"cancelled", cancel}, {"recorded", r.ok()}});
  });
}

Status HeldCall::Withdraw(const std::string& why) {
  auto r = deps_.store->Cancel(approval_id_, why);
  return r.ok() ? Status::Ok() : r.status();
}

void HeldCall::Shutdown() {
  deps_.coordinator->Remove(*this);
  Finish(Deferral(/*shutting_down=*/true));
}

HeldCall::Phase HeldCall::phase() const {
  std::lock_guard<std::mutex> lock(mu_);
  return phase_;
}

int64_t HeldCall::deadline_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return deadline_ms_;
}

Json HeldCall::Deferral(bool shutting_down) const {
  std::string waiting_for;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_for = waiting_for_;
  }
  return NotExecuted(request_.id, DeferralText(approval_id_, waiting_for, deps_.options.review_url, shutting_down));
}

}  // namespace holdgate::gateway
