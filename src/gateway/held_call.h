#pragma once
// HeldCall: the one owner of a tools/call that waits for a human decision, from the moment the
// policy says "hold" until the agent has its answer. Shaped like an authorization filter: it is
// started, then told about exactly four kinds of event, and answers the agent through a reply
// interface it does not look behind.
//
//   Start        attach to the approval of an identical call, or create one; register as a
//                waiter of the hold coordinator (decisions arrive only through the store's
//                change feed); act on a decision that landed before the registration.
//   OnDecision   approved  -> release exactly once: the store's executing gate decides which
//                             waiter runs the tool; a waiter that loses the gate waits for the
//                             winner's outcome and answers with it. The gate and the outcome are
//                             written through the ReleaseBatcher (many calls per transaction); the
//                             agent is answered after its outcome is committed.
//                completed / failed (released by another waiter) -> that outcome.
//                rejected / expired / cancelled / lapsed -> "not executed" with the reason.
//   OnAgentGone  the agent closed its connection or cancelled: no answer; the approval is
//                cancelled (rule's cancel_on_disconnect) or flagged "agent left", and stays
//                decidable so a retry can pick up the decision.
//   OnTick       a heartbeat (notifications/progress, when the agent sent a progressToken), or at
//                the hold limit a deferral: an isError result naming the approval and telling the
//                agent to retry the identical call after approval. When the approval expires
//                before the hold limit, the call waits for the expiry instead and is told it
//                expired (never "retry"). A task (polled) is never deferred.
//   Shutdown     holdgate is stopping: a deferral, the approval stays pending.
//
// States: waiting -> releasing -> done, or waiting -> done; every answer is given once.
// Never runs a tool because a wait timed out, and never retries a failed release in a loop.
//
// Thread-safe: events may arrive on any thread (feed, sweeper, transport). Nothing blocks except
// Start (store reads and writes) and the release work, which runs on the batcher's executor.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/json_util.h"
#include "gateway/hold_store.h"
#include "gateway/release_batcher.h"
#include "hold/hold_coordinator.h"

namespace holdgate::gateway {

// How a held call answers its agent. Implemented over a transport stream by the gateway.
class HeldCallReply {
 public:
  virtual ~HeldCallReply() = default;
  // A message related to the request (notifications/progress). Never blocks.
  virtual void Progress(const Json& notification) = 0;
  // The final JSON-RPC response. Called at most once, never after Drop. Never blocks.
  virtual void Answer(const Json& response) = 0;
  // Ends the request without a response (the agent cancelled or is gone). Never blocks.
  virtual void Drop() = 0;
};

// Runs a released call upstream on behalf of the agent behind the call's reply (relaying what the
// upstream sends along the way) and calls `done` once with the upstream's JSON-RPC response.
// Must not block the caller.
using ReleaseFn = std::function<void(Json request, std::function<void(Json response)> done)>;

struct HeldCallOptions {
  std::string review_url = "http://127.0.0.1:8081";  // for the links agents are told
  int64_t default_hold_ms = 50'000;  // the rule set no `hold` and the agent sent no progressToken
  int64_t progress_interval_ms = 5'000;
  // After the approval's expiry time, how long a call waiting for the expiry gives the sweeper
  // before it defers anyway (only reached when the store cannot expire it).
  int64_t expiry_grace_ms = 5'000;
};

// What the call needs besides its approval.
struct HeldCallDeps {
  HoldStore* store = nullptr;
  hold::HoldCoordinator* coordinator = nullptr;
  const Clock* clock = nullptr;
  // Runs work off the calling thread (recording that an agent left).
  std::function<void(std::function<void()>)> post;
  // Required. Writes the executing gate and the outcome of released calls (its continuations run
  // off the feed's committing thread).
  ReleaseBatcher* releases = nullptr;
  HeldCallOptions options;
};

// The agent's request, without its arguments (the approval holds them; a released call is rebuilt
// from the approval, so a held request does not keep its arguments in memory twice).
struct HeldRequest {
  Json id;               // the agent's JSON-RPC id
  Json params;           // tools/call params without "arguments" (name, _meta, …)
  Json progress_token;   // null when the agent sent none
  int64_t hold_ms = 0;   // the rule's hold limit; 0 = options.default_hold_ms
  bool cancel_on_disconnect = false;
  bool task = false;     // a polled task: never deferred, waits until the decision
};

class HeldCall final : public hold::Waiter, public std::enable_shared_from_this<HeldCall> {
 public:
  enum class Phase { kWaiting, kReleasing, kDone };

  struct Started {
    std::shared_ptr<HeldCall> call;  // null when the store failed (the agent was answered)
    bool created = false;            // a new approval was created for this call
    store::Approval approval;        // as found or created
  };

  // Finds or creates the approval (`if_new`), registers the call and acts on a decision that is
  // already there. On a store error the agent is answered "not executed" and `call` is null.
  // `on_done` runs once, when the call has answered or dropped its agent (the gateway forgets it).
  static Started Start(HeldCallDeps deps, HeldRequest request, const store::NewApproval& if_new,
                       std::shared_ptr<HeldCallReply> reply, ReleaseFn release, std::function<void()> on_done);

  // hold::Waiter
  const std::string& approval_id() const override { return approval_id_; }
  void OnDecision(const store::Approval& approval) override;
  void OnTick(int64_t now_ms) override;
  // A polled task without a progress token has no heartbeat to send and no hold limit: it is
  // never ticked.
  bool WantsTicks() const override { return !request_.task || !request_.progress_token.is_null(); }
  // The next heartbeat or the hold limit, whichever comes first; never once no longer waiting.
  int64_t NextTickMs() const override;

  // The agent went away or cancelled; `why` is recorded on a cancelled approval.
  void OnAgentGone(const std::string& why);
  // The agent withdrew the call on purpose (tasks/cancel): cancels the pending approval whatever
  // the rule says; the cancellation reaches this call through the change feed like any decision.
  Status Withdraw(const std::string& why);
  // holdgate is stopping: defer (the approval stays as it is).
  void Shutdown();

  Phase phase() const;
  // The hold limit (ms since epoch); the call defers when a tick reaches it.
  int64_t deadline_ms() const;

 private:
  HeldCall(HeldCallDeps deps, HeldRequest request, std::shared_ptr<HeldCallReply> reply, ReleaseFn release,
           std::function<void()> on_done);

  // Registers with the coordinator, then re-reads the approval to catch a decision that landed
  // before the registration.
  void WatchAndCatchUp();
  void Decided(const store::Approval& approval);
  // The executing gate's result: run upstream, or answer as the approval now says.
  // REQUIRES: phase was moved to kReleasing by the caller. Runs on the batcher's executor.
  void Release(Result<store::Approval> executing);
  void OnUpstreamAnswer(Json response);
  // Ends the call with `response` if it is still waiting (or `from_releasing` and releasing).
  bool Finish(const Json& response, bool from_releasing = false);
  void SetDeadline(const store::Approval& approval, int64_t now_ms);
  Json Deferral(bool shutting_down) const;

  const HeldCallDeps deps_;
  const HeldRequest request_;
  const std::shared_ptr<HeldCallReply> reply_;
  const ReleaseFn release_;
  std::string approval_id_;  // set once by Start, before any other thread sees the call
  std::string trace_id_;     // the approval's W3C trace id; set once by Start, like approval_id_

  mutable std::mutex mu_;
  Phase phase_ = Phase::kWaiting;  // guarded by mu_
  std::string waiting_for_;        // guarded by mu_
  store::Approval released_;       // guarded by mu_: the approval as the gate released it
  int64_t deadline_ms_ = 0;        // guarded by mu_
  int64_t next_progress_ms_ = 0;   // guarded by mu_
  int progress_ = 0;               // guarded by mu_
  std::function<void()> on_done_;  // guarded by mu_ (moved out to run once)
};

}  // namespace holdgate::gateway
