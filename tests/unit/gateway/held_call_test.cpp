// The held call's lifecycle without SQLite or sockets: a fake store whose every transition is
// published to the hold coordinator (as the real store's change feed does), a fake reply that
// records what the agent is told, a FakeClock, and an executor the test drains by hand.
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <mutex>

#include "gateway/held_call.h"
#include "hold/hold_coordinator.h"
#include "mcp/jsonrpc.h"
#include "support/fake_clock.h"

namespace holdgate::gateway {
namespace {

using store::Approval;
using store::State;

// The reason the store records for a call recovered as failed (its holdgate stopped while it ran).
constexpr char kRecovered[] = "unknown: holdgate stopped while the tool was running; not re-run";

class FakeHoldStore final : public HoldStore {
 public:
  FakeHoldStore(hold::HoldCoordinator& feed, const Clock& clock) : feed_(feed), clock_(clock) {}

  Result<FoundOrCreated> FindOrCreate(const store::NewApproval& in) override {
    ++find_or_create_calls;
    if (fail_create) return IoError("disk full");
    const std::string fp = store::Fingerprint(in.tool, in.arguments);
    for (auto& [id, a] : approvals_) {
      if (a.principal == in.principal && a.fingerprint == fp &&
          (a.state == State::kPending || a.state == State::kApproved || a.state == State::kExecuting)) {
        return FoundOrCreated{a, false};
      }
    }
    Approval a;
    a.id = "apr_" + std::to_string(approvals_.size() + 1);
    a.principal = in.principal;
    a.tool = in.tool;
    a.arguments = in.arguments;
    a.fingerprint = fp;
    a.approvers_needed = in.approvers_needed;
    a.created_at_ms = clock_.NowMs();
    a.expires_at_ms = in.timeout_ms > 0 ? a.created_at_ms + in.timeout_ms : 0;
    a.use_within_ms = in.use_within_ms;
    approvals_[a.id] = a;
    return FoundOrCreated{a, true};
  }
  Result<Approval> Get(const std::string& id) override {
    auto it = approvals_.find(id);
    if (it == approvals_.end()) return NotFound("no approval " + id);
    return it->second;
  }
  Result<Approval> MarkExecuting(const std::string& id) override {
    ++mark_executing_calls;
    if (fail_gate) return IoError("disk I/O error");
    Approval& a = approvals_.at(id);
    if (a.state != State::kApproved) return Conflict("approval " + id + " is " + store::StateName(a.state));
    return Move(a, State::kExecuting);
  }
  Result<Approval> Complete(const std::string& id, const Json& result, bool failed) override {
    Approval& a = approvals_.at(id);
    if (a.state != State::kExecuting) return Conflict("not executing");
    a.result = result;
    return Move(a, failed ? State::kFailed : State::kCompleted);
  }
  Result<Approval> Cancel(const std::string& id, const std::string& why) override {
    Approval& a = approvals_.at(id);
    if (a.state != State::kPending) return Conflict("not pending");
    a.reason = why;
    return Move(a, State::kCancelled);
  }
  Result<Approval> MarkAgentLeft(const std::string& id) override {
    Approval& a = approvals_.at(id);
    a.agent_left = true;
    return a;
  }
  void RecordReleaseFailure(const Approval&, const Status&) override { ++release_failures_recorded; }

  // What reviewers and the sweeper do, published like the store's change feed.
  void Decide(const std::string& id, State state, const std::string& reason = "", Json edited = nullptr) {
    Approval& a = approvals_.at(id);
    REQUIRE(a.state == State::kPending);
    a.decided_at_ms = clock_.NowMs();
    a.decided_by = "alice";
    a.reason = reason;
    if (!edited.is_null()) a.edited_arguments = edited;
    Move(a, state);
  }
  void Lapse(const std::string& id) {
    Approval& a = approvals_.at(id);
    REQUIRE(a.state == State::kApproved);
    a.reason = "approved but not released within 10m";
    Move(a, State::kLapsed);
  }
  // What the executing lease (or recovery at start) does to a call whose holdgate stopped.
  void FailRecovered(const std::string& id, Json result = Json{{"error", kRecovered}, {"recovered", true}}) {
    Approval& a = approvals_.at(id);
    REQUIRE(a.state == State::kExecuting);
    a.reason = kRecovered;
    a.result = std::move(result);
    Move(a, State::kFailed);
  }
  State StateOf(const std::string& id) { return approvals_.at(id).state; }

  int find_or_create_calls = 0;
  int mark_executing_calls = 0;
  int release_failures_recorded = 0;
  bool fail_create = false;
  bool fail_gate = false;

 private:
  Approval Move(Approval& a, State to) {
    a.state = to;
    Approval copy = a;
    feed_.OnApprovalChanged(copy);
    return copy;
  }

  hold::HoldCoordinator& feed_;
  const Clock& clock_;
  std::map<std::string, Approval> approvals_;
};

class RecordingReply final : public HeldCallReply {
 public:
  void Progress(const Json& n) override { progress.push_back(n); }
  void Answer(const Json& r) override {
    ++answers;
    answer = r;
  }
  void Drop() override { ++drops; }

  std::string Text() const {
    if (!answer.contains("result")) return "";
    std::string out;
    for (const auto& c : answer["result"]["content"]) out += c.value("text", "") + "\n";
    return out;
  }
  bool IsError() const { return answer.contains("result") && answer["result"].value("isError", false); }

  std::vector<Json> progress;
  Json answer;
  int answers = 0;
  int drops = 0;
};

struct Harness {
  testing::FakeClock clock;
  hold::HoldCoordinator coordinator;
  FakeHoldStore store{coordinator, clock};
  std::deque<std::function<void()>> posted;
  ReleaseBatcher releases{store, [this](std::function<void()> work) { posted.push_back(std::move(work)); }};
  std::vector<Json> released;                        // requests sent upstream
  std::vector<std::function<void(Json)>> upstream;   // their pending answers
  int done_calls = 0;

  HeldCallDeps Deps() {
    HeldCallDeps d;
    d.store = &store;
    d.coordinator = &coordinator;
    d.clock = &clock;
    d.post = [this](std::function<void()> work) { posted.push_back(std::move(work)); };
    d.releases = &releases;
    d.options.review_url = "http://review.test";
    d.options.default_hold_ms = 50'000;
    d.options.progress_interval_ms = 5'000;
    return d;
  }
  static store::NewApproval Request(Json args = Json{{"job_id", 1}}, int64_t timeout_ms = 30 * 60'000) {
    store::NewApproval n;
    n.principal = "agent-1";
    n.tool = "cancel_job";
    n.arguments = std::move(args);
    n.timeout_ms = timeout_ms;
    n.use_within_ms = 10 * 60'000;
    return n;
  }
  static HeldRequest Held(Json id = 7, Json progress_token = nullptr, int64_t hold_ms = 50'000) {
    HeldRequest r;
    r.id = std::move(id);
    r.params = Json{{"name", "cancel_job"}};
    r.progress_token = std::move(progress_token);
    r.hold_ms = hold_ms;
    return r;
  }
  HeldCall::Started Start(const std::shared_ptr<RecordingReply>& reply, HeldRequest held = Held(),
                          store::NewApproval input = Request()) {
    ReleaseFn release = [this](Json request, std::function<void(Json)> done) {
      released.push_back(std::move(request));
      upstream.push_back(std::move(done));
    };
    return HeldCall::Start(Deps(), std::move(held), input, reply, std::move(release), [this] { ++done_calls; });
  }
  void RunPosted() {
    while (!posted.empty()) {
      auto work = std::move(posted.front());
      posted.pop_front();
      work();
    }
  }
};

Json ToolResult(const std::string& text) {
  return Json{{"jsonrpc", "2.0"}, {"id", 7}, {"result", {{"content", Json::array({{{"type", "text"}, {"text", text}}})}}}};
}

}  // namespace

TEST_CASE("approved: released once upstream with the approval's arguments, outcome stored and answered",
          "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  auto started = h.Start(reply);
  REQUIRE(started.call);
  CHECK(started.created);
  CHECK(h.coordinator.WaiterCount(started.approval.id) == 1);

  h.store.Decide(started.approval.id, State::kApproved);
  CHECK(started.call->phase() == HeldCall::Phase::kReleasing);
  CHECK(h.released.empty());  // the release runs on the executor, never on the feed's thread
  h.RunPosted();
  REQUIRE(h.released.size() == 1);
  CHECK(h.released[0]["params"]["arguments"] == Json{{"job_id", 1}});
  CHECK(h.released[0]["params"]["name"] == "cancel_job");
  CHECK(h.released[0]["id"] == 7);
  CHECK(h.store.StateOf(started.approval.id) == State::kExecuting);

  // The hold limit passing while the tool runs does not answer the agent.
  h.clock.Advance(60'000);
  started.call->OnTick(h.clock.NowMs());
  CHECK(reply->answers == 0);

  h.upstream[0](ToolResult("job 1 cancelled"));
  h.RunPosted();  // the outcome is written, then the agent answered
  CHECK(reply->answers == 1);
  CHECK(reply->Text() == "job 1 cancelled\n");
  CHECK(h.store.StateOf(started.approval.id) == State::kCompleted);
  CHECK(started.call->phase() == HeldCall::Phase::kDone);
  CHECK(h.done_calls == 1);
  CHECK(h.store.mark_executing_calls == 1);
}

TEST_CASE("two calls waiting on one approval: one release, both get its outcome", "[gateway][held]") {
  Harness h;
  auto first = std::make_shared<RecordingReply>();
  auto retry = std::make_shared<RecordingReply>();
  auto a = h.Start(first);
  auto b = h.Start(retry, Harness::Held(8));  // the same call again, e.g. on another connection
  REQUIRE(a.call);
  REQUIRE(b.call);
  CHECK_FALSE(b.created);
  CHECK(b.approval.id == a.approval.id);

  h.store.Decide(a.approval.id, State::kApproved);
  h.RunPosted();
  REQUIRE(h.released.size() == 1);  // the executing gate let exactly one through
  CHECK(h.store.mark_executing_calls == 2);
  CHECK(h.coordinator.WaiterCount(a.approval.id) == 1);  // the loser waits for the outcome

  h.upstream[0](ToolResult("job 1 cancelled"));
  h.RunPosted();  // the outcome is written, then the agent answered
  CHECK(first->answers == 1);
  CHECK(retry->answers == 1);
  CHECK(first->Text() == retry->Text());
  CHECK(retry->answer["id"] == 8);
  CHECK(h.done_calls == 2);
}

TEST_CASE("a retry waiting on a call whose holdgate died while it ran: told it failed, when the lease fails it",
          "[gateway][held]") {
  Harness h;
  auto first = std::make_shared<RecordingReply>();
  auto a = h.Start(first);
  h.store.Decide(a.approval.id, State::kApproved);
  h.RunPosted();
  REQUIRE(h.store.StateOf(a.approval.id) == State::kExecuting);
  // The releaser's holdgate dies here; the agent retries, with a progress token, and re-attaches.
  auto retry = std::make_shared<RecordingReply>();
  auto b = h.Start(retry, Harness::Held(8, "tok"));
  REQUIRE(b.call);
  CHECK_FALSE(b.created);
  CHECK(b.approval.state == State::kExecuting);
  h.store.FailRecovered(a.approval.id);
  REQUIRE(retry->answers == 1);
  CHECK(retry->answer["id"] == 8);
  CHECK(retry->IsError());
  CHECK_THAT(retry->Text(), Catch::Contains("did not complete normally"));
  CHECK_THAT(retry->Text(), Catch::Contains(kRecovered));
  CHECK(b.call->phase() == HeldCall::Phase::kDone);
}

TEST_CASE("an outcome that cannot be read is still answered, never left waiting", "[gateway][held]") {
  Harness h;
  auto first = std::make_shared<RecordingReply>();
  auto a = h.Start(first);
  h.store.Decide(a.approval.id, State::kApproved);
  h.RunPosted();
  auto retry = std::make_shared<RecordingReply>();
  auto b = h.Start(retry, Harness::Held(8, "tok"));
  h.store.FailRecovered(a.approval.id, Json{{"error", {{"code", "not a number"}}}});
  REQUIRE(retry->answers == 1);
  CHECK(retry->answer["error"]["code"] == mcp::kInternalError);
  CHECK_THAT(retry->answer["error"]["message"].get<std::string>(), Catch::Contains("could not be read"));
  CHECK(b.call->phase() == HeldCall::Phase::kDone);
}

TEST_CASE("rejected, cancelled and lapsed: not executed, with the reason, nothing released", "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  auto started = h.Start(reply);
  h.store.Decide(started.approval.id, State::kRejected, "wrong job");
  h.RunPosted();
  CHECK(reply->answers == 1);
  CHECK(reply->IsError());
  CHECK(reply->Text().find("wrong job") != std::string::npos);
  CHECK(reply->Text().find("Not executed") != std::string::npos);
  CHECK(h.released.empty());

  // A lapsed approval (approved, nobody released it in time) is never run by a late waiter.
  auto later = std::make_shared<RecordingReply>();
  auto again = h.Start(later, Harness::Held(), Harness::Request(Json{{"job_id", 2}}));
  h.store.Decide(again.approval.id, State::kApproved);
  h.store.Lapse(again.approval.id);  // before the posted release ran
  h.RunPosted();
  CHECK(h.released.empty());
  CHECK(later->answers == 1);
  CHECK(later->Text().find("lapsed") != std::string::npos);
  CHECK(later->Text().find("Not executed") != std::string::npos);
}

TEST_CASE("agent gone, then approved: the retry attaches and runs the call exactly once", "[gateway][held]") {
  Harness h;
  auto first = std::make_shared<RecordingReply>();
  auto a = h.Start(first);
  a.call->OnAgentGone("the agent's connection closed");
  CHECK(first->drops == 1);
  CHECK(first->answers == 0);
  CHECK(h.coordinator.WaiterCount(a.approval.id) == 0);
  h.RunPosted();
  CHECK(h.store.Get(a.approval.id)->agent_left);
  CHECK(h.store.StateOf(a.approval.id) == State::kPending);  // still decidable

  h.store.Decide(a.approval.id, State::kApproved);
  h.RunPosted();
  CHECK(h.released.empty());  // nobody waiting: nothing runs until the agent asks again

  auto retry = std::make_shared<RecordingReply>();
  auto b = h.Start(retry);
  CHECK_FALSE(b.created);
  h.RunPosted();  // the decision that landed before registration is acted on at once
  REQUIRE(h.released.size() == 1);
  h.upstream[0](ToolResult("job 1 cancelled"));
  h.RunPosted();  // the outcome is written, then the agent answered
  CHECK(retry->answers == 1);
  CHECK(first->answers == 0);
}

TEST_CASE("cancel_on_disconnect: the agent leaving cancels the approval", "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  HeldRequest held = Harness::Held();
  held.cancel_on_disconnect = true;
  auto a = h.Start(reply, held);
  a.call->OnAgentGone("the agent cancelled the request: user pressed stop");
  h.RunPosted();
  CHECK(h.store.StateOf(a.approval.id) == State::kCancelled);
  CHECK(h.store.Get(a.approval.id)->reason == "the agent cancelled the request: user pressed stop");
  CHECK(reply->answers == 0);
  CHECK(reply->drops == 1);
}

TEST_CASE("hold shorter than the timeout, no progress token: deferred at the hold limit", "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  auto a = h.Start(reply, Harness::Held(7, nullptr, 50'000), Harness::Request(Json{{"job_id", 1}}, 30 * 60'000));
  CHECK(a.call->deadline_ms() == h.clock.NowMs() + 50'000);
  h.clock.Advance(49'999);
  a.call->OnTick(h.clock.NowMs());
  CHECK(reply->answers == 0);
  CHECK(reply->progress.empty());  // no token, no heartbeats
  h.clock.Advance(1);
  a.call->OnTick(h.clock.NowMs());
  REQUIRE(reply->answers == 1);
  CHECK(reply->IsError());
  CHECK(reply->Text().find("NOT executed yet") != std::string::npos);
  CHECK(reply->Text().find("retry the identical call") != std::string::npos);
  CHECK(reply->Text().find(a.approval.id) != std::string::npos);
  CHECK(h.store.StateOf(a.approval.id) == State::kPending);
  CHECK(h.coordinator.WaiterCount(a.approval.id) == 0);
}

TEST_CASE("held open with progress until it expires: heartbeats, then told it expired, never to retry",
          "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  // hold (50 s) is shorter than the timeout (2 min), but a progress token keeps it open until expiry.
  auto a = h.Start(reply, Harness::Held(7, "tok-1", 50'000), Harness::Request(Json{{"job_id", 1}}, 120'000));
  REQUIRE(reply->progress.size() == 1);  // at once: the agent learns the approval id
  CHECK(reply->progress[0]["params"]["progressToken"] == "tok-1");
  CHECK(reply->progress[0]["params"]["message"].get<std::string>().find(a.approval.id) != std::string::npos);
  for (int i = 0; i < 24; ++i) {
    h.clock.Advance(5'000);
    a.call->OnTick(h.clock.NowMs());
  }
  CHECK(reply->answers == 0);  // at 120 s: the hold deadline and the expiry coincide; no deferral
  CHECK(reply->progress.size() == 25);  // one at once, then one every 5 s
  CHECK(reply->progress.back()["params"]["progress"] == 25);
  // The sweeper expires the approval in the same pass; the feed tells the call.
  h.store.Decide(a.approval.id, State::kExpired);
  REQUIRE(reply->answers == 1);
  CHECK(reply->Text().find("expired") != std::string::npos);
  CHECK(reply->Text().find("do not retry") != std::string::npos);
  CHECK(reply->Text().find("retry the identical call") == std::string::npos);
}

TEST_CASE("the approval expires before the hold limit: the expiry answers, the limit does not", "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  auto a = h.Start(reply, Harness::Held(7, nullptr, 50'000), Harness::Request(Json{{"job_id", 1}}, 30'000));
  CHECK(a.call->deadline_ms() > h.clock.NowMs() + 30'000);  // only a guard beyond the expiry
  h.clock.Advance(30'000);
  a.call->OnTick(h.clock.NowMs());
  CHECK(reply->answers == 0);
  h.store.Decide(a.approval.id, State::kExpired);
  REQUIRE(reply->answers == 1);
  CHECK(reply->Text().find("expired") != std::string::npos);
}

TEST_CASE("the sweep reaches a held call at its next heartbeat and at its hold limit, not between",
          "[gateway][held]") {
  Harness h;
  auto quiet_reply = std::make_shared<RecordingReply>();
  auto quiet = h.Start(quiet_reply, Harness::Held(7, nullptr, 50'000), Harness::Request(Json{{"job_id", 1}}, 30 * 60'000));
  auto chatty_reply = std::make_shared<RecordingReply>();
  auto chatty = h.Start(chatty_reply, Harness::Held(8, "tok-2", 50'000), Harness::Request(Json{{"job_id", 2}}, 30 * 60'000));
  const int64_t start = h.clock.NowMs();
  CHECK(quiet.call->NextTickMs() == start + 50'000);  // no token: only the hold limit
  CHECK(chatty.call->NextTickMs() == start + 5'000);  // the next heartbeat
  REQUIRE(chatty_reply->progress.size() == 1);
  h.clock.Advance(4'999);
  h.coordinator.Tick(h.clock.NowMs());
  CHECK(chatty_reply->progress.size() == 1);
  h.clock.Advance(1);
  h.coordinator.Tick(h.clock.NowMs());
  CHECK(chatty_reply->progress.size() == 2);
  CHECK(chatty.call->NextTickMs() == start + 10'000);
  h.clock.Advance(44'999);  // start + 49,999
  h.coordinator.Tick(h.clock.NowMs());
  CHECK(quiet_reply->answers == 0);
  h.clock.Advance(1);
  h.coordinator.Tick(h.clock.NowMs());
  REQUIRE(quiet_reply->answers == 1);
  CHECK(quiet_reply->Text().find("NOT executed yet") != std::string::npos);
  CHECK(quiet.call->NextTickMs() == INT64_MAX);
  CHECK(chatty_reply->answers == 0);  // its token keeps it open until the approval expires
  CHECK(chatty_reply->progress.size() == 3);  // one due at +10 s, sent by the +50 s pass: not one per missed interval
}

TEST_CASE("a task is never deferred", "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  HeldRequest held = Harness::Held("task:t1", nullptr, 1'000);
  held.task = true;
  auto a = h.Start(reply, held, Harness::Request(Json{{"job_id", 1}}, 0));
  h.clock.Advance(24LL * 3600 * 1000);
  a.call->OnTick(h.clock.NowMs());
  CHECK(reply->answers == 0);
  h.store.Decide(a.approval.id, State::kApproved);
  h.RunPosted();
  REQUIRE(h.released.size() == 1);
  CHECK(h.released[0]["id"] == "task:t1");
}

TEST_CASE("a failed executing gate is answered and recorded once, never retried", "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  auto a = h.Start(reply);
  h.store.fail_gate = true;
  h.store.Decide(a.approval.id, State::kApproved);
  h.RunPosted();
  CHECK(h.store.mark_executing_calls == 1);
  CHECK(h.store.release_failures_recorded == 1);
  CHECK(h.released.empty());
  REQUIRE(reply->answers == 1);
  CHECK(reply->Text().find("did not run the tool") != std::string::npos);
  CHECK(h.posted.empty());
  CHECK(h.coordinator.WaiterCount(a.approval.id) == 0);
  CHECK(h.done_calls == 1);
}

TEST_CASE("the store failing at Start: the agent is told nothing ran", "[gateway][held]") {
  Harness h;
  h.store.fail_create = true;
  auto reply = std::make_shared<RecordingReply>();
  auto a = h.Start(reply);
  CHECK_FALSE(a.call);
  REQUIRE(reply->answers == 1);
  CHECK(reply->Text().find("could not record the approval request") != std::string::npos);
  CHECK(h.done_calls == 1);
}

TEST_CASE("arguments edited by the reviewer: the call runs with them and the agent is told", "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  auto a = h.Start(reply);
  h.store.Decide(a.approval.id, State::kApproved, "", Json{{"job_id", 2}});
  h.RunPosted();
  REQUIRE(h.released.size() == 1);
  CHECK(h.released[0]["params"]["arguments"] == Json{{"job_id", 2}});
  h.upstream[0](ToolResult("job 2 cancelled"));
  h.RunPosted();  // the outcome is written, then the agent answered
  REQUIRE(reply->answers == 1);
  const Json& result = reply->answer["result"];
  CHECK(result["content"][0]["text"].get<std::string>().find("edited the arguments") != std::string::npos);
  CHECK(result["content"][1]["text"] == "job 2 cancelled");
  CHECK(result["_meta"]["io.holdgate/edited_arguments"] ==
        Json{{"requested", {{"job_id", 1}}}, {"ran_with", {{"job_id", 2}}}});

  // An upstream error for an edited call says so too.
  auto second = std::make_shared<RecordingReply>();
  auto b = h.Start(second, Harness::Held(), Harness::Request(Json{{"job_id", 3}}));
  h.store.Decide(b.approval.id, State::kApproved, "", Json{{"job_id", 4}});
  h.RunPosted();
  h.upstream[1](Json{{"jsonrpc", "2.0"}, {"id", 7}, {"error", {{"code", -32000}, {"message", "no such job"}}}});
  h.RunPosted();  // the outcome is written, then the agent answered
  REQUIRE(second->answers == 1);
  CHECK(second->answer["error"]["data"]["io.holdgate/edited_arguments"]["ran_with"] == Json{{"job_id", 4}});
  CHECK(h.store.StateOf(b.approval.id) == State::kFailed);
}

TEST_CASE("shutdown defers an open call with restart wording, a released call is left to finish",
          "[gateway][held]") {
  Harness h;
  auto waiting = std::make_shared<RecordingReply>();
  auto running = std::make_shared<RecordingReply>();
  auto a = h.Start(waiting);
  auto b = h.Start(running, Harness::Held(), Harness::Request(Json{{"job_id", 9}}));
  h.store.Decide(b.approval.id, State::kApproved);
  h.RunPosted();
  a.call->Shutdown();
  b.call->Shutdown();
  REQUIRE(waiting->answers == 1);
  CHECK(waiting->Text().find("holdgate is restarting") != std::string::npos);
  CHECK(h.store.StateOf(a.approval.id) == State::kPending);
  CHECK(running->answers == 0);
  h.upstream[0](ToolResult("job 9 cancelled"));
  h.RunPosted();  // the outcome is written, then the agent answered
  CHECK(running->answers == 1);
}

TEST_CASE("a withdrawn task is answered through the feed like any decision", "[gateway][held]") {
  Harness h;
  auto reply = std::make_shared<RecordingReply>();
  HeldRequest held = Harness::Held("task:t2");
  held.task = true;
  auto a = h.Start(reply, held);
  REQUIRE(a.call->Withdraw("the agent cancelled the task").ok());
  REQUIRE(reply->answers == 1);
  CHECK(reply->Text().find("cancelled") != std::string::npos);
  CHECK_FALSE(a.call->Withdraw("again").ok());  // already cancelled
  CHECK(reply->answers == 1);
}

}  // namespace holdgate::gateway
