// Grants (remembered approvals) in the store: who may make one, what the rule caps, what a grant
// covers, use / revoke / expiry with their audit events, and that grants survive a reopen.
#include <catch2/catch.hpp>

#include <map>

#include "store_fixture.h"

namespace holdgate::store::testing {
namespace {

constexpr int64_t kMinute = 60'000;

NewApproval Rememberable(Json args = Json{{"job_id", 42}}) {
  NewApproval n = StoreFixture::Request("cancel_job", std::move(args));
  n.risk = Json{{"level", "high"}};
  n.rule_reason = "cancelling a job kills it with no undo";
  n.remember_max_ms = 60 * kMinute;
  return n;
}

NewGrant Remember(const std::string& id, const std::string& by = "alice", int64_t for_ms = 30 * kMinute) {
  NewGrant g;
  g.approval_id = id;
  g.created_by = by;
  g.created_via = "api";
  g.for_ms = for_ms;
  return g;
}

GrantQuery Call(const std::string& principal, const std::string& session, Json args) {
  return GrantQuery{principal, session, "cancel_job", Fingerprint("cancel_job", args)};
}

std::vector<AuditEvent> EventsOfType(Store& store, const std::string& type) {
  AuditFilter f;
  f.type = type;
  f.limit = 100;
  auto page = store.ListAudit(f);
  REQUIRE(page.ok());
  return page->events;
}

Approval Approved(StoreFixture& fx, const NewApproval& n, const std::string& by = "alice") {
  Approval a = fx.Create(n);
  auto d = fx.store->Decide(StoreFixture::Vote(a.id, by, true));
  REQUIRE(d.ok());
  REQUIRE(d->state == State::kApproved);
  return d->approval;
}

}  // namespace

TEST_CASE("the rule's reason and remember caps are stored with the approval and survive a reopen", "[store][grants]") {
  StoreFixture fx;
  NewApproval n = Rememberable();
  n.remember_any_arguments = true;
  Approval a = fx.Create(n);
  fx.Reopen();
  auto got = fx.store->Get(a.id);
  REQUIRE(got.ok());
  CHECK(got->rule_reason == "cancelling a job kills it with no undo");
  CHECK(got->remember_max_ms == 60 * kMinute);
  CHECK(got->remember_any_arguments);
}

TEST_CASE("a grant covers the same principal's identical call only, until it expires", "[store][grants]") {
  StoreFixture fx;
  Approval a = Approved(fx, Rememberable());
  auto g = fx.store->CreateGrant(Remember(a.id));
  INFO(g.status().ToString());
  REQUIRE(g.ok());
  CHECK(g->id.rfind("grt_", 0) == 0);
  CHECK(g->id.size() == 36);
  CHECK(g->scope == "principal");
  CHECK(g->fingerprint == a.fingerprint);
  CHECK(g->expires_at_ms == fx.clock.NowMs() + 30 * kMinute);
  CHECK(EventsOfType(*fx.store, "grant.created").size() == 1);

  // Identical call, any session of the principal: covered.
  auto same = fx.store->FindGrant(Call("agent-1", "another-session", Json{{"job_id", 42}}));
  REQUIRE(same.ok());
  REQUIRE(same->has_value());
  CHECK((*same)->id == g->id);
  // Changed arguments, another principal, another tool: not covered.
  auto changed = fx.store->FindGrant(Call("agent-1", "sess-1", Json{{"job_id", 43}}));
  REQUIRE(changed.ok());
  CHECK_FALSE(changed->has_value());
  auto other = fx.store->FindGrant(Call("agent-2", "sess-1", Json{{"job_id", 42}}));
  REQUIRE(other.ok());
  CHECK_FALSE(other->has_value());
  auto tool = fx.store->FindGrant(GrantQuery{"agent-1", "sess-1", "fit", Fingerprint("fit", Json{{"job_id", 42}})});
  REQUIRE(tool.ok());
  CHECK_FALSE(tool->has_value());

  // Use: counted and audited as allowed by the grant.
  auto used = fx.store->UseGrant(g->id, Call("agent-1", "sess-1", Json{{"job_id", 42}}), Json{{"note", "x"}});
  REQUIRE(used.ok());
  REQUIRE(used->has_value());
  CHECK((*used)->uses == 1);
  auto used_events = EventsOfType(*fx.store, "grant.used");
  REQUIRE(used_events.size() == 1);
  CHECK(used_events[0].decision == "allow");
  CHECK(used_events[0].detail["grant_id"] == g->id);
  CHECK(used_events[0].approval_id == a.id);
  // A use for a call the grant does not cover writes nothing.
  auto wrong = fx.store->UseGrant(g->id, Call("agent-1", "sess-1", Json{{"job_id", 7}}), nullptr);
  REQUIRE(wrong.ok());
  CHECK_FALSE(wrong->has_value());
  CHECK(EventsOfType(*fx.store, "grant.used").size() == 1);

  // Expiry: at expires_at it covers nothing, even before the sweep marks it.
  fx.clock.Advance(30 * kMinute);
  auto late = fx.store->FindGrant(Call("agent-1", "sess-1", Json{{"job_id", 42}}));
  REQUIRE(late.ok());
  CHECK_FALSE(late->has_value());
  auto late_use = fx.store->UseGrant(g->id, Call("agent-1", "sess-1", Json{{"job_id", 42}}), nullptr);
  REQUIRE(late_use.ok());
  CHECK_FALSE(late_use->has_value());
  auto listed = fx.store->ListGrants();
  REQUIRE(listed.ok());
  CHECK(listed->empty());
  auto expired = fx.store->ExpireDueGrants(fx.clock.NowMs());
  REQUIRE(expired.ok());
  REQUIRE(expired->size() == 1);
  CHECK(EventsOfType(*fx.store, "grant.expired").size() == 1);
  auto again = fx.store->ExpireDueGrants(fx.clock.NowMs());
  REQUIRE(again.ok());
  CHECK(again->empty());  // audited once
  auto all = fx.store->ListGrants(/*include_ended=*/true);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].expired_at_ms != 0);
}

TEST_CASE("session scope and any-arguments grants cover what they say", "[store][grants]") {
  StoreFixture fx;
  NewApproval n = Rememberable();
  n.remember_any_arguments = true;
  Approval a = Approved(fx, n);
  NewGrant want = Remember(a.id);
  want.session_scope = true;
  want.any_arguments = true;
  auto g = fx.store->CreateGrant(want);
  INFO(g.status().ToString());
  REQUIRE(g.ok());
  CHECK(g->scope == "session");
  CHECK(g->session_id == "sess-1");
  CHECK(g->any_arguments());
  auto in_session = fx.store->FindGrant(Call("agent-1", "sess-1", Json{{"job_id", 99}}));
  REQUIRE(in_session.ok());
  CHECK(in_session->has_value());
  auto other_session = fx.store->FindGrant(Call("agent-1", "sess-2", Json{{"job_id", 42}}));
  REQUIRE(other_session.ok());
  CHECK_FALSE(other_session->has_value());
}

TEST_CASE("grants are refused where the rule, the quorum, an edit or the state forbids them", "[store][grants]") {
  StoreFixture fx;
  SECTION("not rememberable: critical rules default to remember_max 0") {
    NewApproval n = StoreFixture::Request();  // remember_max_ms 0
    Approval a = Approved(fx, n);
    auto g = fx.store->CreateGrant(Remember(a.id));
    CHECK(g.status().code() == Code::kPermissionDenied);
  }
  SECTION("longer than the rule's cap") {
    Approval a = Approved(fx, Rememberable());
    auto g = fx.store->CreateGrant(Remember(a.id, "alice", 61 * kMinute));
    CHECK(g.status().code() == Code::kInvalidArgument);
    CHECK(g.status().message().find("at most 1h") != std::string::npos);
  }
  SECTION("any arguments where the rule allows identical ones only") {
    Approval a = Approved(fx, Rememberable());
    NewGrant want = Remember(a.id);
    want.any_arguments = true;
    CHECK(fx.store->CreateGrant(want).status().code() == Code::kPermissionDenied);
  }
  SECTION("by someone who did not approve it") {
    Approval a = Approved(fx, Rememberable());
    CHECK(fx.store->CreateGrant(Remember(a.id, "mallory")).status().code() == Code::kPermissionDenied);
  }
  SECTION("a pending or rejected approval") {
    Approval pending = fx.Create(Rememberable());
    CHECK(fx.store->CreateGrant(Remember(pending.id)).status().code() == Code::kConflict);
    auto rejected = fx.store->Decide(StoreFixture::Vote(pending.id, "bob", false, "no"));
    REQUIRE(rejected.ok());
    CHECK(fx.store->CreateGrant(Remember(pending.id)).status().code() == Code::kConflict);
  }
  SECTION("a quorum of two") {
    NewApproval n = Rememberable();
    n.approvers_needed = 2;
    Approval a = fx.Create(n);
    REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
    REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "bob", true)).ok());
    CHECK(fx.store->CreateGrant(Remember(a.id)).status().code() == Code::kPermissionDenied);
  }
  SECTION("an unknown approval") {
    CHECK(fx.store->CreateGrant(Remember("apr_000000000000aaaaaaaaaaaaaaaaaaaa")).status().code() == Code::kNotFound);
  }
  auto listed = fx.store->ListGrants(true);
  REQUIRE(listed.ok());
  CHECK(listed->empty());
  CHECK(EventsOfType(*fx.store, "grant.created").empty());
}

TEST_CASE("a revoked grant covers nothing, revoking twice conflicts, grants survive a reopen", "[store][grants]") {
  StoreFixture fx;
  Approval a = Approved(fx, Rememberable());
  auto g = fx.store->CreateGrant(Remember(a.id));
  REQUIRE(g.ok());
  fx.Reopen();
  auto after_restart = fx.store->FindGrant(Call("agent-1", "sess-9", Json{{"job_id", 42}}));
  REQUIRE(after_restart.ok());
  REQUIRE(after_restart->has_value());
  CHECK((*after_restart)->id == g->id);

  auto revoked = fx.store->RevokeGrant(g->id, "bob", "ui", "changed my mind");
  REQUIRE(revoked.ok());
  CHECK(revoked->revoked_by == "bob");
  CHECK(revoked->revoke_reason == "changed my mind");
  auto events = EventsOfType(*fx.store, "grant.revoked");
  REQUIRE(events.size() == 1);
  CHECK(events[0].actor == "bob");
  CHECK(events[0].via == "ui");
  auto gone = fx.store->FindGrant(Call("agent-1", "sess-1", Json{{"job_id", 42}}));
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
  CHECK(fx.store->RevokeGrant(g->id, "bob", "ui", "").status().code() == Code::kConflict);
  CHECK(fx.store->RevokeGrant("grt_nope", "bob", "ui", "").status().code() == Code::kNotFound);
  auto verdict = fx.store->VerifyAuditChain();
  REQUIRE(verdict.ok());
  CHECK(verdict->ok);
}

TEST_CASE("replayed events carry the approval's state at the time of the event", "[store][events]") {
  StoreFixture fx;
  Approval a = fx.Create(Rememberable());
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
  REQUIRE(fx.store->MarkExecuting(a.id).ok());
  REQUIRE(fx.store->Complete(a.id, Json{{"ok", true}}, false).ok());
  auto events = fx.store->EventsSince(0);
  REQUIRE(events.ok());
  std::map<std::string, std::string> state_at;
  for (const ChangeEvent& e : *events) state_at[e.type] = StateName(e.approval.state);
  CHECK(state_at["approval.created"] == "pending");
  CHECK(state_at["approval.approved"] == "approved");
  CHECK(state_at["approval.executing"] == "executing");
  CHECK(state_at["approval.completed"] == "completed");
  for (const ChangeEvent& e : *events) {
    if (e.type == "approval.created") {
      CHECK(e.approval.votes.empty());
      CHECK(e.approval.decided_by.empty());
      CHECK(e.approval.result.is_null());
    }
  }
}

}  // namespace holdgate::store::testing
