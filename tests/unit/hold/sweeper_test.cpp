#include <catch2/catch.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "hold/hold_coordinator.h"
#include "hold/sweeper.h"
#include "support/fn_waiter.h"
#include "unit/store/store_fixture.h"

namespace holdgate::hold {
namespace {

using store::testing::StoreFixture;
using testing::Watch;

// The coordinator wired to the store's change feed, as holdgate serve wires it.
struct FeedFixture : StoreFixture {
  HoldCoordinator coordinator;
  int feed = store->AddListener([this](const store::ChangeEvent& e) { coordinator.OnApprovalChanged(e.approval); });
  ~FeedFixture() { store->RemoveListener(feed); }
};

struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::vector<store::State>> seen;
  std::function<void(const store::Approval&)> For(const std::string& id) {
    return [this, id](const store::Approval& a) {
      std::lock_guard<std::mutex> lock(mu);
      seen[id].push_back(a.state);
      cv.notify_all();
    };
  }
  std::vector<store::State> Of(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    return seen[id];
  }
};

}  // namespace

TEST_CASE("sweeper with a fake clock expires exactly the overdue approvals and never approves",
          "[hold][expiry]") {
  FeedFixture fx;
  Sweeper sweeper(*fx.store, fx.coordinator, fx.clock);
  Recorder rec;

  auto make = [&](int64_t timeout_ms, int job) {
    store::NewApproval n = StoreFixture::Request("cancel_job", Json{{"job_id", job}});
    n.timeout_ms = timeout_ms;
    return fx.Create(n);
  };
  store::Approval one_s = make(1000, 1);
  store::Approval two_s = make(2000, 2);
  store::Approval forever = make(0, 3);
  store::Approval approved = make(1000, 4);
  REQUIRE(fx.store->Decide(StoreFixture::Vote(approved.id, "alice", true)).ok());
  std::vector<std::shared_ptr<testing::FnWaiter>> waiters;
  for (const auto* a : {&one_s, &two_s, &forever}) waiters.push_back(Watch(fx.coordinator, a->id, rec.For(a->id)));

  auto none = sweeper.SweepOnce();
  REQUIRE(none.ok());
  CHECK(none->store_swept);
  CHECK(none->expired == 0);

  fx.clock.Advance(1500);
  auto first = sweeper.SweepOnce();
  REQUIRE(first.ok());
  CHECK(first->expired == 1);
  CHECK(rec.Of(one_s.id) == std::vector<store::State>{store::State::kExpired});
  CHECK(rec.Of(two_s.id).empty());

  fx.clock.Advance(10LL * 365 * 24 * 3600 * 1000);
  auto second = sweeper.SweepOnce();
  REQUIRE(second.ok());
  CHECK(second->expired == 1);
  CHECK(rec.Of(two_s.id) == std::vector<store::State>{store::State::kExpired});
  CHECK(fx.store->Get(forever.id)->state == store::State::kPending);
  CHECK(fx.store->Get(approved.id)->state == store::State::kApproved);  // expiry only touches pending
  CHECK(sweeper.expired_total() == 2);
  CHECK(fx.coordinator.Counters().expired == 2);
  CHECK(fx.Audit("approval.approved").size() == 1);  // only the human one
}

TEST_CASE("an approved call not released within use_within lapses, and never runs after", "[hold][lapse]") {
  FeedFixture fx;
  Sweeper sweeper(*fx.store, fx.coordinator, fx.clock);
  Recorder rec;
  store::NewApproval n = StoreFixture::Request("cancel_job", Json{{"job_id", 7}});
  n.use_within_ms = 10 * 60 * 1000;
  store::Approval a = fx.Create(n);
  store::NewApproval old_style = StoreFixture::Request("cancel_job", Json{{"job_id", 8}});  // use_within 0
  store::Approval b = fx.Create(old_style);
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
  REQUIRE(fx.store->Decide(StoreFixture::Vote(b.id, "alice", true)).ok());
  // The deferred agent comes back within use_within: the approval is still there for it.
  fx.clock.Advance(10 * 60 * 1000 - 1);
  REQUIRE(sweeper.SweepOnce().ok());
  auto reusable = fx.store->FindReusable(a.principal, a.fingerprint);
  REQUIRE(reusable.ok());
  REQUIRE(reusable->has_value());
  CHECK((*reusable)->id == a.id);

  auto waiter = Watch(fx.coordinator, a.id, rec.For(a.id));
  fx.clock.Advance(1);
  // Past use-by but not swept yet: not offered to a retry, and the gate refuses (and lapses it).
  auto not_reusable = fx.store->FindReusable(a.principal, a.fingerprint);
  REQUIRE(not_reusable.ok());
  CHECK_FALSE(not_reusable->has_value());
  auto gate = fx.store->MarkExecuting(a.id);
  REQUIRE_FALSE(gate.ok());
  CHECK(gate.status().code() == Code::kConflict);
  CHECK(gate.status().message().find("lapsed") != std::string::npos);
  CHECK(fx.store->Get(a.id)->state == store::State::kLapsed);
  CHECK(rec.Of(a.id) == std::vector<store::State>{store::State::kLapsed});

  auto swept = sweeper.SweepOnce();
  REQUIRE(swept.ok());
  CHECK(swept->lapsed == 0);  // already lapsed by the gate; an approval without use_within never lapses
  CHECK(fx.store->Get(b.id)->state == store::State::kApproved);
  auto events = fx.Audit("approval.lapsed", a.id);
  REQUIRE(events.size() == 1);
  CHECK(events[0].detail["use_within_ms"] == 600000);
  CHECK(fx.store->VerifyAuditChain()->ok);
}

TEST_CASE("the sweep lapses due approvals in one pass and the feed tells their waiters", "[hold][lapse]") {
  FeedFixture fx;
  Sweeper sweeper(*fx.store, fx.coordinator, fx.clock);
  Recorder rec;
  std::vector<store::Approval> approved;
  std::vector<std::shared_ptr<testing::FnWaiter>> waiters;
  for (int i = 0; i < 3; ++i) {
    store::NewApproval n = StoreFixture::Request("cancel_job", Json{{"job_id", 100 + i}});
    n.use_within_ms = 60'000;
    approved.push_back(fx.Create(n));
    REQUIRE(fx.store->Decide(StoreFixture::Vote(approved.back().id, "alice", true)).ok());
    waiters.push_back(Watch(fx.coordinator, approved.back().id, rec.For(approved.back().id)));
  }
  fx.clock.Advance(60'000);
  auto swept = sweeper.SweepOnce();
  REQUIRE(swept.ok());
  CHECK(swept->lapsed == 3);
  CHECK(sweeper.lapsed_total() == 3);
  for (const auto& a : approved) {
    CHECK(fx.store->Get(a.id)->state == store::State::kLapsed);
    CHECK(rec.Of(a.id) == std::vector<store::State>{store::State::kLapsed});
  }
}

TEST_CASE("store work runs at most every store_every, ticks run every pass", "[hold]") {
  FeedFixture fx;
  SweeperOptions options;
  options.store_every = std::chrono::milliseconds(1000);
  Sweeper sweeper(*fx.store, fx.coordinator, fx.clock, options);
  auto waiter = Watch(fx.coordinator, "apr_000000000000aaaaaaaaaaaaaaaaaaaa", nullptr);
  REQUIRE(sweeper.SweepOnce()->store_swept);
  fx.clock.Advance(250);
  CHECK_FALSE(sweeper.SweepOnce()->store_swept);
  fx.clock.Advance(750);
  CHECK(sweeper.SweepOnce()->store_swept);
  CHECK(waiter->ticks == 3);
  CHECK(waiter->last_tick_ms == fx.clock.NowMs());
}

TEST_CASE("approve racing the sweeper: each waiter sees exactly one outcome", "[hold][race]") {
  FeedFixture fx;
  for (int round = 0; round < 20; ++round) {
    store::NewApproval n = StoreFixture::Request("cancel_job", Json{{"job_id", round}});
    n.timeout_ms = 1000;
    store::Approval a = fx.Create(n);
    Recorder rec;
    auto w = Watch(fx.coordinator, a.id, rec.For(a.id));
    std::thread approver([&] { (void)fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)); });
    std::thread sweep([&] { (void)fx.store->ExpireDue(a.expires_at_ms); });
    approver.join();
    sweep.join();
    auto seen = rec.Of(a.id);
    REQUIRE(seen.size() == 1);
    CHECK(fx.store->Get(a.id)->state == seen[0]);
    CHECK((seen[0] == store::State::kApproved || seen[0] == store::State::kExpired));
  }
}

TEST_CASE("the sweeper thread runs on its interval and Stop joins it", "[hold][expiry]") {
  FeedFixture fx;
  Recorder rec;
  store::NewApproval n = StoreFixture::Request();
  n.timeout_ms = 1000;
  store::Approval a = fx.Create(n);
  auto w = Watch(fx.coordinator, a.id, rec.For(a.id));
  SweeperOptions options;
  options.tick = std::chrono::milliseconds(5);
  options.store_every = std::chrono::milliseconds(0);
  Sweeper sweeper(*fx.store, fx.coordinator, fx.clock, options);
  sweeper.Start();
  fx.clock.Advance(1000);
  {
    std::unique_lock<std::mutex> lock(rec.mu);
    REQUIRE(rec.cv.wait_for(lock, std::chrono::seconds(10), [&] { return !rec.seen[a.id].empty(); }));
  }
  sweeper.Stop();
  CHECK(rec.Of(a.id) == std::vector<store::State>{store::State::kExpired});
  sweeper.Stop();  // idempotent
}

}  // namespace holdgate::hold
