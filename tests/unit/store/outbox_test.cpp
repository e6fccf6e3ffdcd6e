#include <catch2/catch.hpp>

#include "store_fixture.h"

namespace holdgate::store::testing {

TEST_CASE("outbox rows are written in the approval's transaction and flow through delivery",
          "[store][outbox][pg]") {
  StoreFixture fx;
  NewApproval n = StoreFixture::Request();
  n.outbox.push_back(NewOutboxRow{"approval.created", "webhook:ops", Json{{"id", "x"}}, 0});
  n.outbox.push_back(NewOutboxRow{"approval.created", "slack:#approvals", Json{{"text", "hi"}}, 0});
  Approval a = fx.Create(n);

  OutboxFilter mine;
  mine.approval_id = a.id;
  auto rows = fx.store->ListOutbox(mine);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].state == OutboxState::kPending);
  CHECK((*rows)[0].target == "webhook:ops");

  const int64_t now = fx.clock.NowMs();
  auto claimed = fx.store->ClaimDueOutbox(now, 10);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 2);
  CHECK((*claimed)[0].state == OutboxState::kDelivering);
  CHECK((*claimed)[0].attempts == 1);
  auto again = fx.store->ClaimDueOutbox(now, 10);
  REQUIRE(again.ok());
  CHECK(again->empty());  // claimed rows are leased

  const int64_t webhook = (*claimed)[0].id, slack = (*claimed)[1].id;
  REQUIRE(fx.store->MarkOutboxDelivered(webhook, "200").ok());
  CHECK(fx.store->MarkOutboxDelivered(webhook, "200").code() == Code::kConflict);
  REQUIRE(fx.store->MarkOutboxFailed(slack, "503", now + 30'000, false).ok());
  CHECK(fx.store->ClaimDueOutbox(now + 29'999, 10)->empty());
  auto retry = fx.store->ClaimDueOutbox(now + 30'000, 10);
  REQUIRE(retry->size() == 1);
  CHECK((*retry)[0].attempts == 2);
  CHECK((*retry)[0].last_status == "503");
  REQUIRE(fx.store->MarkOutboxFailed(slack, "410 gone", 0, true).ok());
  OutboxFilter dead;
  dead.any_state = false;
  dead.state = OutboxState::kDead;
  REQUIRE(fx.store->ListOutbox(dead)->size() == 1);

  REQUIRE(fx.store->RequeueOutbox(webhook).ok());  // replay a delivered one
  auto replay = fx.store->ClaimDueOutbox(fx.clock.NowMs(), 10);
  REQUIRE(replay->size() == 1);
  CHECK(replay->front().id == webhook);
  CHECK(fx.store->RequeueOutbox(99999).code() == Code::kNotFound);
}

TEST_CASE("a claimed row whose worker died is claimable after its lease", "[store][outbox][pg]") {
  StoreFixture fx;
  auto row = fx.store->EnqueueOutbox(NewOutboxRow{"policy.loaded", "webhook:ops", Json::object(), 0});
  REQUIRE(row.ok());
  CHECK(row->approval_id.empty());
  const int64_t now = fx.clock.NowMs();
  REQUIRE(fx.store->ClaimDueOutbox(now, 1)->size() == 1);
  CHECK(fx.store->ClaimDueOutbox(now + 59'999, 1)->empty());
  auto reclaimed = fx.store->ClaimDueOutbox(now + 60'000, 1);
  REQUIRE(reclaimed->size() == 1);
  CHECK(reclaimed->front().attempts == 2);
}

TEST_CASE("the outbox factory adds rows to every transition, atomically", "[store][outbox][pg]") {
  StoreFixture fx;
  fx.store->SetOutboxFactory([](const std::string& type, const Approval& a) {
    std::vector<NewOutboxRow> rows;
    if (type == "approval.created" || type == "approval.rejected" || type == "approval.expired") {
      rows.push_back(NewOutboxRow{type, "webhook:ops", Json{{"id", a.id}, {"state", StateName(a.state)}}, 0});
    }
    return rows;
  });
  Approval a = fx.Create();
  auto refused = fx.store->Decide(StoreFixture::Vote(a.id, "agent-1", true));  // self-approval: rolled back
  CHECK_FALSE(refused.ok());
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "bob", false, "no")).ok());
  OutboxFilter mine;
  mine.approval_id = a.id;
  auto rows = fx.store->ListOutbox(mine);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].event_type == "approval.created");
  CHECK((*rows)[1].event_type == "approval.rejected");
  CHECK((*rows)[1].payload["state"] == "rejected");
}

}  // namespace holdgate::store::testing
