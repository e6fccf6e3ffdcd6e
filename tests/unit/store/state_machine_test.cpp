#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>

#include "common/crypto.h"
#include "store_fixture.h"

namespace holdgate::store::testing {
namespace {

// Brings a fresh approval into `target` through legal transitions only.
Approval MakeInState(StoreFixture& fx, State target) {
  Approval a = fx.Create();
  auto must = [](auto r) {
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return std::move(r).value();
  };
  switch (target) {
    case State::kPending:
      return a;
    case State::kApproved:
      return must(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true))).approval;
    case State::kExecuting:
      must(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)));
      return must(fx.store->MarkExecuting(a.id));
    case State::kCompleted:
    case State::kFailed:
      must(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)));
      must(fx.store->MarkExecuting(a.id));
      return must(fx.store->Complete(a.id, Json{{"ok", target == State::kCompleted}}, target == State::kFailed));
    case State::kRejected:
      return must(fx.store->Decide(StoreFixture::Vote(a.id, "alice", false, "too risky"))).approval;
    case State::kExpired: {
      NewApproval n = StoreFixture::Request();
      n.timeout_ms = 1000;
      Approval short_lived = fx.Create(n);
      fx.clock.Advance(1000);
      Approval expired = must(fx.store->Expire(short_lived.id));
      fx.clock.Advance(-1000);  // keep time stable for the other approvals of the test
      return expired;
    }
    case State::kCancelled:
      return must(fx.store->Cancel(a.id, "agent went away"));
    case State::kLapsed: {
      NewApproval n = StoreFixture::Request();
      n.use_within_ms = 1000;
      Approval stale = fx.Create(n);
      must(fx.store->Decide(StoreFixture::Vote(stale.id, "alice", true)));
      fx.clock.Advance(1000);
      auto lapsed = must(fx.store->LapseDue(fx.clock.NowMs()));
      fx.clock.Advance(-1000);
      REQUIRE(lapsed.size() == 1);
      return lapsed[0];
    }
  }
  FAIL("unreachable");
  return a;
}

enum class Op { kApprove, kReject, kExecute, kComplete, kExpire, kCancel, kLapse };
const char* OpName(Op op) {
  switch (op) {
    case Op::kApprove: return "approve";
    case Op::kReject: return "reject";
    case Op::kExecute: return "mark executing";
    case Op::kComplete: return "complete";
    case Op::kExpire: return "expire (not due)";
    case Op::kCancel: return "cancel";
    case Op::kLapse: return "lapse (not due)";
  }
  return "?";
}

// Applies `op`; returns the status and (when ok) the state the store reports afterwards.
std::pair<Status, State> Apply(StoreFixture& fx, const Approval& a, Op op) {
  auto take = [](auto r, auto state_of) -> std::pair<Status, State> {
    if (!r.ok()) return {r.status(), State::kPending};
    return {Status::Ok(), state_of(r.value())};
  };
  auto approval_state = [](const Approval& x) { return x.state; };
  auto outcome_state = [](const DecisionOutcome& o) { return o.state; };
  switch (op) {
    case Op::kApprove: return take(fx.store->Decide(StoreFixture::Vote(a.id, "zed", true)), outcome_state);
    case Op::kReject:
      return take(fx.store->Decide(StoreFixture::Vote(a.id, "zed", false, "no")), outcome_state);
    case Op::kExecute: return take(fx.store->MarkExecuting(a.id), approval_state);
    case Op::kComplete: return take(fx.store->Complete(a.id, Json{{"content", Json::array()}}, false), approval_state);
    case Op::kExpire: return take(fx.store->Expire(a.id), approval_state);
    case Op::kCancel: return take(fx.store->Cancel(a.id, "stop"), approval_state);
    case Op::kLapse: {
      // Not due: an approval without use_within never lapses, so LapseDue changes nothing.
      auto lapsed = fx.store->LapseDue(fx.clock.NowMs());
      if (!lapsed.ok()) return {lapsed.status(), State::kPending};
      if (lapsed->empty()) return {Conflict("nothing lapsed"), State::kPending};
      return {Status::Ok(), (*lapsed)[0].state};
    }
  }
  return {Internal("unreachable"), State::kPending};
}

}  // namespace

TEST_CASE("every transition of the state machine: legal ones change state, illegal ones conflict",
          "[store][state][pg]") {
  const std::vector<State> states = {State::kPending, State::kApproved, State::kExecuting, State::kCompleted,
                                     State::kFailed,  State::kRejected, State::kExpired,   State::kCancelled,
                                     State::kLapsed};
  const std::vector<Op> ops = {Op::kApprove, Op::kReject, Op::kExecute, Op::kComplete,
                               Op::kExpire,  Op::kCancel, Op::kLapse};
  // The legal moves; everything else must fail with kConflict and leave the approval untouched.
  const std::map<std::pair<State, Op>, State> legal = {
      {{State::kPending, Op::kApprove}, State::kApproved},
      {{State::kPending, Op::kReject}, State::kRejected},
      {{State::kPending, Op::kCancel}, State::kCancelled},
      {{State::kApproved, Op::kExecute}, State::kExecuting},
      {{State::kExecuting, Op::kComplete}, State::kCompleted},
  };
  StoreFixture fx;
  for (State from : states) {
    for (Op op : ops) {
      Approval a = MakeInState(fx, from);
      REQUIRE(a.state == from);
      auto [status, after] = Apply(fx, a, op);
      auto stored = fx.store->Get(a.id);
      REQUIRE(stored.ok());
      INFO("from " << StateName(from) << " via " << OpName(op) << ": " << status.ToString());
      auto it = legal.find({from, op});
      if (it != legal.end()) {
        CHECK(status.ok());
        CHECK(after == it->second);
        CHECK(stored->state == it->second);
      } else {
        CHECK(status.code() == Code::kConflict);
        CHECK(stored->state == from);
      }
    }
  }
}

TEST_CASE("the state helpers agree with the spelling stored in SQLite", "[store][state]") {
  for (State s : {State::kPending, State::kApproved, State::kExecuting, State::kCompleted, State::kFailed,
                  State::kRejected, State::kExpired, State::kCancelled}) {
    State parsed = State::kPending;
    REQUIRE(ParseState(StateName(s), &parsed));
    CHECK(parsed == s);
  }
  State untouched = State::kApproved;
  CHECK_FALSE(ParseState("PENDING", &untouched));
  CHECK(untouched == State::kApproved);
  CHECK_FALSE(IsTerminal(State::kPending));
  CHECK_FALSE(IsTerminal(State::kApproved));
  CHECK_FALSE(IsTerminal(State::kExecuting));
  CHECK(IsTerminal(State::kCompleted));
  CHECK(IsTerminal(State::kExpired));
  CHECK_FALSE(IsDecided(State::kExecuting));
  CHECK(IsDecided(State::kApproved));
}

TEST_CASE("create stores the call bound to its fingerprint and writes approval.created", "[store][pg]") {
  StoreFixture fx;
  NewApproval n = StoreFixture::Request("cancel_job", Json::parse(R"({"b":[1,2],"a":"x"})"));
  Approval a = fx.Create(n);
  CHECK(a.id.rfind("apr_", 0) == 0);
  CHECK(a.state == State::kPending);
  CHECK(a.created_at_ms == fx.clock.NowMs());
  CHECK(a.expires_at_ms == fx.clock.NowMs() + 5 * 60 * 1000);
  CHECK(a.fingerprint == Fingerprint("cancel_job", Json::parse(R"({"a":"x","b":[1,2]})")));
  CHECK(a.fingerprint == Sha256Hex(R"({"arguments":{"a":"x","b":[1,2]},"tool":"cancel_job"})"));
  CHECK(a.fingerprint != Fingerprint("cancel_job", Json::parse(R"({"a":"x","b":[2,1]})")));
  CHECK(a.fingerprint != Fingerprint("delete_job", Json::parse(R"({"a":"x","b":[1,2]})")));

  auto got = fx.store->Get(a.id);
  REQUIRE(got.ok());
  CHECK(got->arguments == n.arguments);
  CHECK(got->risk == n.risk);
  CHECK(got->principal == "agent-1");
  CHECK(got->on_timeout == "reject");
  auto created = fx.Audit("approval.created", a.id);
  REQUIRE(created.size() == 1);
  CHECK(created[0].principal == "agent-1");
  CHECK(created[0].tool == "cancel_job");
  CHECK(created[0].detail["fingerprint"] == a.fingerprint);

  CHECK(fx.store->Get("apr_missing").status().code() == Code::kNotFound);
}

TEST_CASE("create refuses malformed requests and on_timeout that would run the tool", "[store][pg]") {
  StoreFixture fx;
  NewApproval n = StoreFixture::Request();
  n.on_timeout = "approve";
  CHECK(fx.store->CreatePending(n).status().code() == Code::kInvalidArgument);
  n = StoreFixture::Request();
  n.approvers_needed = 0;
  CHECK(fx.store->CreatePending(n).status().code() == Code::kInvalidArgument);
  n = StoreFixture::Request();
  n.principal.clear();
  CHECK(fx.store->CreatePending(n).status().code() == Code::kInvalidArgument);
  n = StoreFixture::Request();
  n.reviewers = Json{{"groups", Json::array({"ops"})}};
  CHECK(fx.store->CreatePending(n).status().code() == Code::kInvalidArgument);
  ApprovalFilter all;
  auto page = fx.store->List(all);
  REQUIRE(page.ok());
  CHECK(page->approvals.empty());
}

namespace {

// The fields a decision writes, and the votes, as two reads of one approval must agree on them.
void CheckSameDecisionFields(const Approval& answered, const Approval& read) {
  CHECK(answered.id == read.id);
  CHECK(answered.state == read.state);
  CHECK(answered.decided_at_ms == read.decided_at_ms);
  CHECK(answered.decided_by == read.decided_by);
  CHECK(answered.decided_via == read.decided_via);
  CHECK(answered.reason == read.reason);
  CHECK(answered.updated_at_ms == read.updated_at_ms);
  CHECK(answered.arguments == read.arguments);
  CHECK(answered.edited_arguments == read.edited_arguments);
  REQUIRE(answered.votes.size() == read.votes.size());
  for (size_t i = 0; i < read.votes.size(); ++i) {
    CHECK(answered.votes[i].approval_id == read.votes[i].approval_id);
    CHECK(answered.votes[i].reviewer == read.votes[i].reviewer);
    CHECK(answered.votes[i].approve == read.votes[i].approve);
    CHECK(answered.votes[i].via == read.votes[i].via);
    CHECK(answered.votes[i].reason == read.votes[i].reason);
    CHECK(answered.votes[i].at_ms == read.votes[i].at_ms);
  }
}

}  // namespace

TEST_CASE("a decision answers with the approval as a fresh read of it gives it", "[store][decide][pg]") {
  StoreFixture fx;
  NewApproval n = StoreFixture::Request();
  n.approvers_needed = 2;
  Approval quorum = fx.Create(n);
  Approval single = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 7}}));

  auto first = fx.store->Decide(StoreFixture::Vote(quorum.id, "alice", true, "looks right"));
  REQUIRE(first.ok());
  CheckSameDecisionFields(first->approval, *fx.store->Get(quorum.id));
  auto second = fx.store->Decide(StoreFixture::Vote(quorum.id, "bob", true, "agreed"));  // same millisecond
  REQUIRE(second.ok());
  REQUIRE(second->state == State::kApproved);
  CheckSameDecisionFields(second->approval, *fx.store->Get(quorum.id));

  auto rejected = fx.store->Decide(StoreFixture::Vote(single.id, "carol", false, "not tonight"));
  REQUIRE(rejected.ok());
  REQUIRE(rejected->state == State::kRejected);
  CheckSameDecisionFields(rejected->approval, *fx.store->Get(single.id));
}

TEST_CASE("quorum of 2 needs two distinct reviewers, a repeated vote changes nothing", "[store][decide][pg]") {
  StoreFixture fx;
  NewApproval n = StoreFixture::Request();
  n.approvers_needed = 2;
  Approval a = fx.Create(n);

  auto first = fx.store->Decide(StoreFixture::Vote(a.id, "alice", true));
  REQUIRE(first.ok());
  CHECK(first->changed);
  CHECK(first->state == State::kPending);
  CHECK(first->approvals_so_far == 1);
  CHECK(first->approvals_needed == 2);

  auto again = fx.store->Decide(StoreFixture::Vote(a.id, "alice", true));
  REQUIRE(again.ok());
  CHECK_FALSE(again->changed);
  CHECK(again->state == State::kPending);
  CHECK(again->approvals_so_far == 1);
  CHECK_THAT(again->message, Catch::Contains("alice already voted approve"));

  auto second = fx.store->Decide(StoreFixture::Vote(a.id, "bob", true));
  REQUIRE(second.ok());
  CHECK(second->changed);
  CHECK(second->state == State::kApproved);
  CHECK(second->approvals_so_far == 2);
  CHECK(second->approval.decided_by == "alice, bob");
  CHECK(second->approval.votes.size() == 2);
  CHECK(fx.Audit("approval.vote", a.id).size() == 2);
  CHECK(fx.Audit("approval.approved", a.id).size() == 1);

  // Alice repeating after the decision is still a no-op, not an error.
  auto late = fx.store->Decide(StoreFixture::Vote(a.id, "alice", true));
  REQUIRE(late.ok());
  CHECK_FALSE(late->changed);
  CHECK(late->state == State::kApproved);
}

TEST_CASE("the requesting principal can never approve its own call", "[store][decide][pg]") {
  StoreFixture fx;
  Approval a = fx.Create();
  auto self = fx.store->Decide(StoreFixture::Vote(a.id, "agent-1", true));
  CHECK(self.status().code() == Code::kPermissionDenied);
  auto stored = fx.store->Get(a.id);
  REQUIRE(stored.ok());
  CHECK(stored->state == State::kPending);
  CHECK(stored->votes.empty());
  CHECK(fx.Audit("approval.vote", a.id).empty());
}

TEST_CASE("reviewers constraint admits listed names or roles only", "[store][decide][pg]") {
  StoreFixture fx;
  NewApproval n = StoreFixture::Request();
  n.reviewers = Json{{"roles", Json::array({"sre"})}, {"names", Json::array({"carol"})}};
  Approval a = fx.Create(n);

  DecisionInput outsider = StoreFixture::Vote(a.id, "mallory", true);
  outsider.roles = {"dev"};
  auto denied = fx.store->Decide(outsider);
  CHECK(denied.status().code() == Code::kPermissionDenied);
  CHECK_THAT(denied.status().message(), Catch::Contains("sre"));

  DecisionInput by_role = StoreFixture::Vote(a.id, "dave", true);
  by_role.roles = {"dev", "sre"};
  auto ok = fx.store->Decide(by_role);
  REQUIRE(ok.ok());
  CHECK(ok->state == State::kApproved);

  Approval b = fx.Create(n);
  auto by_name = fx.store->Decide(StoreFixture::Vote(b.id, "carol", false, "not today"));
  REQUIRE(by_name.ok());
  CHECK(by_name->state == State::kRejected);
}

TEST_CASE("a rejection needs a reason and decides at once, later decisions get a conflict naming it",
          "[store][decide][pg]") {
  StoreFixture fx;
  NewApproval n = StoreFixture::Request();
  n.approvers_needed = 2;
  Approval a = fx.Create(n);
  auto no_reason = fx.store->Decide(StoreFixture::Vote(a.id, "bob", false, ""));
  CHECK(no_reason.status().code() == Code::kInvalidArgument);

  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
  auto reject = fx.store->Decide(StoreFixture::Vote(a.id, "bob", false, "job 42 is the nightly backup"));
  REQUIRE(reject.ok());
  CHECK(reject->changed);
  CHECK(reject->state == State::kRejected);
  CHECK(reject->approval.reason == "job 42 is the nightly backup");
  CHECK(reject->approval.decided_by == "bob");

  auto late = fx.store->Decide(StoreFixture::Vote(a.id, "carol", true));
  REQUIRE_FALSE(late.ok());
  CHECK(late.status().code() == Code::kConflict);
  CHECK_THAT(late.status().message(), Catch::StartsWith("already rejected by bob at 20"));
  CHECK_THAT(late.status().message(), Catch::EndsWith(": job 42 is the nightly backup"));
  CHECK(fx.Audit("approval.rejected", a.id).size() == 1);
}

TEST_CASE("decide validates via and reports unknown approvals", "[store][decide][pg]") {
  StoreFixture fx;
  Approval a = fx.Create();
  DecisionInput d = StoreFixture::Vote(a.id, "alice", true);
  d.via = "email";
  CHECK(fx.store->Decide(d).status().code() == Code::kInvalidArgument);
  CHECK(fx.store->Decide(StoreFixture::Vote("apr_nope", "alice", true)).status().code() == Code::kNotFound);
}

TEST_CASE("edited arguments: only on editable approvals, only with the first approval", "[store][decide][pg]") {
  StoreFixture fx;
  Approval fixed = fx.Create();
  DecisionInput edit = StoreFixture::Vote(fixed.id, "alice", true);
  edit.edited_arguments = Json{{"job_id", 43}};
  CHECK(fx.store->Decide(edit).status().code() == Code::kInvalidArgument);

  NewApproval n = StoreFixture::Request();
  n.editable = true;
  n.approvers_needed = 2;
  Approval a = fx.Create(n);
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
  DecisionInput late_edit = StoreFixture::Vote(a.id, "bob", true);
  late_edit.edited_arguments = Json{{"job_id", 43}};
  CHECK(fx.store->Decide(late_edit).status().code() == Code::kConflict);

  Approval b = fx.Create(n);
  DecisionInput first_edit = StoreFixture::Vote(b.id, "alice", true);
  first_edit.edited_arguments = Json{{"job_id", 43}};
  REQUIRE(fx.store->Decide(first_edit).ok());
  auto done = fx.store->Decide(StoreFixture::Vote(b.id, "bob", true));
  REQUIRE(done.ok());
  CHECK(done->state == State::kApproved);
  CHECK(done->approval.arguments == Json{{"job_id", 42}});
  CHECK(done->approval.EffectiveArguments() == Json{{"job_id", 43}});
}

TEST_CASE("an overdue approval is expired, not approved, when a decision arrives late", "[store][expiry][pg]") {
  StoreFixture fx;
  Approval a = fx.Create();
  fx.clock.Advance(5 * 60 * 1000);
  auto late = fx.store->Decide(StoreFixture::Vote(a.id, "alice", true));
  REQUIRE_FALSE(late.ok());
  CHECK(late.status().code() == Code::kConflict);
  CHECK_THAT(late.status().message(), Catch::Contains("expired"));
  auto stored = fx.store->Get(a.id);
  REQUIRE(stored.ok());
  CHECK(stored->state == State::kExpired);
  CHECK(stored->votes.empty());
  CHECK(fx.Audit("approval.expired", a.id).size() == 1);
  CHECK(fx.Audit("approval.approved", a.id).empty());
}

TEST_CASE("expiry: Expire refuses before the deadline, ExpireDue takes exactly the overdue ones", "[store][expiry][pg]") {
  StoreFixture fx;
  NewApproval short_one = StoreFixture::Request("cancel_job", Json{{"job_id", 1}});
  short_one.timeout_ms = 1000;
  NewApproval long_one = StoreFixture::Request("cancel_job", Json{{"job_id", 2}});
  long_one.timeout_ms = 60'000;
  NewApproval forever = StoreFixture::Request("cancel_job", Json{{"job_id", 3}});
  forever.timeout_ms = 0;
  Approval s = fx.Create(short_one);
  Approval l = fx.Create(long_one);
  Approval f = fx.Create(forever);
  CHECK(f.expires_at_ms == 0);

  CHECK(fx.store->Expire(s.id).status().code() == Code::kConflict);
  auto none = fx.store->ExpireDue(fx.clock.NowMs());
  REQUIRE(none.ok());
  CHECK(none->empty());

  fx.clock.Advance(1000);
  auto due = fx.store->ExpireDue(fx.clock.NowMs());
  REQUIRE(due.ok());
  REQUIRE(due->size() == 1);
  CHECK((*due)[0].id == s.id);
  CHECK((*due)[0].state == State::kExpired);
  CHECK((*due)[0].decided_by == "holdgate");
  CHECK_THAT((*due)[0].reason, Catch::Contains("not executed"));
  CHECK(fx.store->Get(l.id)->state == State::kPending);

  fx.clock.Advance(365LL * 24 * 3600 * 1000);
  due = fx.store->ExpireDue(fx.clock.NowMs());
  REQUIRE(due.ok());
  REQUIRE(due->size() == 1);
  CHECK((*due)[0].id == l.id);
  CHECK(fx.store->Get(f.id)->state == State::kPending);
}

TEST_CASE("MarkExecuting is the exactly-once gate", "[store][pg]") {
  StoreFixture fx;
  Approval a = fx.Create();
  CHECK(fx.store->MarkExecuting(a.id).status().code() == Code::kConflict);  // still pending
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
  auto first = fx.store->MarkExecuting(a.id);
  REQUIRE(first.ok());
  CHECK(first->state == State::kExecuting);
  auto second = fx.store->MarkExecuting(a.id);
  CHECK(second.status().code() == Code::kConflict);
  CHECK_THAT(second.status().message(), Catch::Contains("at most once"));
  CHECK(fx.Audit("approval.executing", a.id).size() == 1);
  CHECK(fx.store->MarkExecuting("apr_nope").status().code() == Code::kNotFound);

  auto done = fx.store->Complete(a.id, Json{{"content", Json::array({Json{{"type", "text"}, {"text", "ok"}}})}}, false);
  REQUIRE(done.ok());
  CHECK(done->state == State::kCompleted);
  CHECK(fx.store->Get(a.id)->result["content"][0]["text"] == "ok");
  CHECK(fx.store->Complete(a.id, Json(), false).status().code() == Code::kConflict);
}

TEST_CASE("MarkExecutingMany and CompleteMany: each approval by its own rules, in input order", "[store][pg]") {
  StoreFixture fx;
  Approval a = MakeInState(fx, State::kApproved);
  Approval b = MakeInState(fx, State::kApproved);
  Approval pending = MakeInState(fx, State::kPending);
  auto gates = fx.store->MarkExecutingMany({a.id, pending.id, b.id, a.id, "apr_nope"});
  REQUIRE(gates.size() == 5);
  REQUIRE(gates[0].ok());
  CHECK(gates[0]->state == State::kExecuting);
  CHECK(gates[1].status().code() == Code::kConflict);  // still pending: refused, the others go on
  REQUIRE(gates[2].ok());
  CHECK(gates[3].status().code() == Code::kConflict);  // the same approval twice: released once
  CHECK_THAT(gates[3].status().message(), Catch::Contains("at most once"));
  CHECK(gates[4].status().code() == Code::kNotFound);
  CHECK(fx.Audit("approval.executing", a.id).size() == 1);
  CHECK(fx.Audit("approval.executing", b.id).size() == 1);
  CHECK(fx.store->Get(pending.id)->state == State::kPending);

  auto outcomes = fx.store->CompleteMany({{a.id, Json{{"ok", true}}, false},
                                          {pending.id, Json(), false},
                                          {b.id, Json{{"error", "boom"}}, true}});
  REQUIRE(outcomes.size() == 3);
  REQUIRE(outcomes[0].ok());
  CHECK(outcomes[0]->state == State::kCompleted);
  CHECK(outcomes[1].status().code() == Code::kConflict);
  REQUIRE(outcomes[2].ok());
  CHECK(outcomes[2]->state == State::kFailed);
  CHECK(fx.store->Get(a.id)->result == Json{{"ok", true}});
  CHECK(fx.store->Get(b.id)->result == Json{{"error", "boom"}});
  CHECK(fx.store->MarkExecutingMany({}).empty());
  CHECK(fx.store->CompleteMany({}).empty());
}

TEST_CASE("RecoverAfterCrash fails executing approvals without re-running them", "[store][restart]") {
  StoreFixture fx;
  Approval running = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 1}}));
  Approval approved = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 2}}));
  Approval pending = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 3}}));
  REQUIRE(fx.store->Decide(StoreFixture::Vote(running.id, "alice", true)).ok());
  REQUIRE(fx.store->MarkExecuting(running.id).ok());
  REQUIRE(fx.store->Decide(StoreFixture::Vote(approved.id, "alice", true)).ok());

  fx.Reopen();  // as after kill -9
  auto recovered = fx.store->RecoverAfterCrash();
  REQUIRE(recovered.ok());
  CHECK(*recovered == 1);
  auto r = fx.store->Get(running.id);
  REQUIRE(r.ok());
  CHECK(r->state == State::kFailed);
  CHECK(r->reason == "unknown: holdgate stopped while the tool was running; not re-run");
  CHECK(fx.store->Get(approved.id)->state == State::kApproved);
  CHECK(fx.store->Get(pending.id)->state == State::kPending);
  CHECK(fx.store->MarkExecuting(running.id).status().code() == Code::kConflict);
  auto again = fx.store->RecoverAfterCrash();
  REQUIRE(again.ok());
  CHECK(*again == 0);
}

TEST_CASE("reopening the file keeps pending approvals and applies migrations once", "[store][restart]") {
  StoreFixture fx;
  Approval a = fx.Create();
  NewApproval n = StoreFixture::Request();
  n.approvers_needed = 2;
  Approval b = fx.Create(n);
  REQUIRE(fx.store->Decide(StoreFixture::Vote(b.id, "alice", true)).ok());
  fx.Reopen();
  fx.Reopen();
  auto got = fx.store->Get(a.id);
  REQUIRE(got.ok());
  CHECK(got->state == State::kPending);
  CHECK(got->arguments == Json{{"job_id", 42}});
  auto half = fx.store->Get(b.id);
  REQUIRE(half.ok());
  CHECK(half->ApprovalsSoFar() == 1);
  auto done = fx.store->Decide(StoreFixture::Vote(b.id, "bob", true));
  REQUIRE(done.ok());
  CHECK(done->state == State::kApproved);
  fx.store.reset();
  SQLite::Database raw(fx.path, SQLite::OPEN_READONLY);
  CHECK(raw.execAndGet("SELECT count(*) FROM schema_migrations").getInt() >= 1);
  CHECK(raw.execAndGet("SELECT count(*) FROM schema_migrations WHERE version = '001_init.sql'").getInt() == 1);
}

TEST_CASE("FindReusable: live approvals first, recent rejections, never consumed ones", "[store][reuse][pg]") {
  StoreFixture fx;
  const Json args = Json{{"job_id", 7}};
  const std::string fp = Fingerprint("cancel_job", args);
  auto none = fx.store->FindReusable("agent-1", fp);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  Approval a = fx.Create(StoreFixture::Request("cancel_job", args));
  auto found = fx.store->FindReusable("agent-1", fp);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->id == a.id);
  // Bound to the principal: another agent's identical call does not attach.
  auto other = fx.store->FindReusable("agent-2", fp);
  REQUIRE(other.ok());
  CHECK_FALSE(other->has_value());

  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", false, "no")).ok());
  found = fx.store->FindReusable("agent-1", fp);
  REQUIRE(found->has_value());
  CHECK((*found)->state == State::kRejected);

  fx.clock.Advance(60 * 60 * 1000 + 1);  // past the rejection memory
  found = fx.store->FindReusable("agent-1", fp);
  REQUIRE(found.ok());
  CHECK_FALSE(found->has_value());

  Approval b = fx.Create(StoreFixture::Request("cancel_job", args));
  REQUIRE(fx.store->Decide(StoreFixture::Vote(b.id, "alice", true)).ok());
  found = fx.store->FindReusable("agent-1", fp);
  REQUIRE(found->has_value());
  CHECK((*found)->id == b.id);
  CHECK((*found)->state == State::kApproved);
  REQUIRE(fx.store->MarkExecuting(b.id).ok());
  found = fx.store->FindReusable("agent-1", fp);
  REQUIRE(found->has_value());
  CHECK((*found)->state == State::kExecuting);
  REQUIRE(fx.store->Complete(b.id, Json{{"ok", true}}, false).ok());
  found = fx.store->FindReusable("agent-1", fp);
  REQUIRE(found.ok());
  CHECK_FALSE(found->has_value());  // consumed: the same call again is a new request
}

TEST_CASE("FindOrCreatePending: FindReusable's rule and a create in one transaction", "[store][reuse][pg]") {
  StoreFixture fx;
  const NewApproval call = StoreFixture::Request("cancel_job", Json{{"job_id", 9}});
  auto first = fx.store->FindOrCreatePending(call);
  REQUIRE(first.ok());
  CHECK(first->created);
  auto again = fx.store->FindOrCreatePending(call);
  REQUIRE(again.ok());
  CHECK_FALSE(again->created);
  CHECK(again->approval.id == first->approval.id);

  NewApproval other_agent = call;
  other_agent.principal = "agent-2";
  auto theirs = fx.store->FindOrCreatePending(other_agent);
  REQUIRE(theirs.ok());
  CHECK(theirs->created);  // bound to the principal

  REQUIRE(fx.store->Decide(StoreFixture::Vote(first->approval.id, "alice", false, "no")).ok());
  auto retried = fx.store->FindOrCreatePending(call);
  REQUIRE(retried.ok());
  CHECK_FALSE(retried->created);  // a recent rejection answers the retry
  CHECK(retried->approval.state == State::kRejected);

  NewApproval bad = call;
  bad.tool = "";
  CHECK(fx.store->FindOrCreatePending(bad).status().code() == Code::kInvalidArgument);
  CHECK(fx.Audit("approval.created", "").size() == 2);
}

TEST_CASE("FindOrCreatePending: identical calls at once get one approval", "[store][reuse][pg]") {
  StoreFixture fx;
  const NewApproval call = StoreFixture::Request("cancel_job", Json{{"job_id", 10}});
  constexpr int kThreads = 16;
  std::atomic<int> created{0}, failed{0};
  std::mutex mu;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto out = fx.store->FindOrCreatePending(call);
      if (!out.ok()) {
        failed.fetch_add(1);
        return;
      }
      if (out->created) created.fetch_add(1);
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(out->approval.id);
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failed.load() == 0);
  CHECK(created.load() == 1);
  CHECK(ids.size() == 1);
}

TEST_CASE("agent left is flagged once, comments are stored and audited", "[store][pg]") {
  StoreFixture fx;
  Approval a = fx.Create();
  auto left = fx.store->MarkAgentLeft(a.id);
  REQUIRE(left.ok());
  CHECK(left->agent_left);
  REQUIRE(fx.store->MarkAgentLeft(a.id).ok());
  CHECK(fx.Audit("approval.agent_left", a.id).size() == 1);
  CHECK(fx.store->Get(a.id)->state == State::kPending);

  auto c = fx.store->AddComment(a.id, "alice", "checking with the data team");
  REQUIRE(c.ok());
  CHECK(fx.store->AddComment(a.id, "alice", "").status().code() == Code::kInvalidArgument);
  CHECK(fx.store->AddComment("apr_nope", "alice", "x").status().code() == Code::kNotFound);
  auto comments = fx.store->ListComments(a.id);
  REQUIRE(comments.ok());
  REQUIRE(comments->size() == 1);
  CHECK((*comments)[0].body == "checking with the data team");
  CHECK(fx.Audit("approval.comment", a.id).size() == 1);

  REQUIRE(fx.store->Cancel(a.id, "agent cancelled").ok());
  CHECK(fx.store->MarkAgentLeft(a.id).status().code() == Code::kConflict);
}

TEST_CASE("open refuses in-memory databases and unreadable paths", "[store]") {
  holdgate::testing::FakeClock clock;
  CHECK(Store::Open(":memory:", clock).status().code() == Code::kInvalidArgument);
  CHECK(Store::Open("/nonexistent-dir/x/holdgate.db", clock).status().code() == Code::kIo);
}

}  // namespace holdgate::store::testing

namespace holdgate::store::testing {

TEST_CASE("pending approvals per principal are capped inside the creating transaction", "[store][cap][pg]") {
  StoreFixture fx;
  auto request = [](int job, const std::string& principal) {
    NewApproval n = StoreFixture::Request("cancel_job", Json{{"job_id", job}}, principal);
    n.max_pending_for_principal = 5;
    return n;
  };
  // Eight threads race to create 40 approvals for one principal: exactly the cap gets through.
  std::atomic<int> created{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto r = fx.store->CreatePending(request(t * 10 + i, "greedy"));
        if (r.ok()) ++created;
        else if (r.status().code() == Code::kResourceExhausted) ++refused;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(created == 5);
  CHECK(refused == 35);
  // Another principal is not affected.
  CHECK(fx.store->CreatePending(request(1, "modest")).ok());
  // A decision frees a slot.
  ApprovalFilter greedy;
  greedy.principal = "greedy";
  auto page = fx.store->List(greedy);
  REQUIRE(page.ok());
  REQUIRE(page->approvals.size() == 5);
  REQUIRE(fx.store->Decide(StoreFixture::Vote(page->approvals[0].id, "alice", false, "no")).ok());
  auto again = fx.store->CreatePending(request(99, "greedy"));
  CHECK(again.ok());
  auto over = fx.store->CreatePending(request(100, "greedy"));
  REQUIRE_FALSE(over.ok());
  CHECK(over.status().message().find("max_pending_per_principal") != std::string::npos);
}

}  // namespace holdgate::store::testing
