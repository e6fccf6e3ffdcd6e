#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "hold/expiry_sweeper.h"
#include "hold/hold_coordinator.h"
#include "unit/store/store_fixture.h"

namespace holdgate::hold {
namespace {

using store::testing::StoreFixture;

struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::vector<store::State>> seen;
  WaitCallback For(const std::string& id) {
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
  StoreFixture fx;
  HoldCoordinator coordinator;
  ExpirySweeper sweeper(*fx.store, &coordinator, fx.clock);
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
  std::vector<WatchHandle> handles;
  for (const auto* a : {&one_s, &two_s, &forever, &approved}) handles.push_back(coordinator.Watch(a->id, rec.For(a->id)));

  auto none = sweeper.SweepOnce();
  REQUIRE(none.ok());
  CHECK(none->empty());

  fx.clock.Advance(1500);
  auto first = sweeper.SweepOnce();
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  CHECK((*first)[0].id == one_s.id);
  CHECK(rec.Of(one_s.id) == std::vector<store::State>{store::State::kExpired});
  CHECK(rec.Of(two_s.id).empty());
  CHECK(rec.Of(approved.id).empty());  // approved stays approved: expiry only touches pending

  fx.clock.Advance(10LL * 365 * 24 * 3600 * 1000);
  auto second = sweeper.SweepOnce();
  REQUIRE(second.ok());
  REQUIRE(second->size() == 1);
  CHECK((*second)[0].id == two_s.id);
  CHECK(rec.Of(two_s.id) == std::vector<store::State>{store::State::kExpired});
  CHECK(fx.store->Get(forever.id)->state == store::State::kPending);
  CHECK(fx.store->Get(approved.id)->state == store::State::kApproved);
  CHECK(sweeper.expired_total() == 2);
  CHECK(coordinator.Counters().expired == 2);
  CHECK(coordinator.Counters().approved == 0);
  CHECK(fx.Audit("approval.approved").size() == 1);  // only the human one
}

TEST_CASE("store change feed wired to the coordinator wakes holds on any decision", "[hold]") {
  StoreFixture fx;
  HoldCoordinator coordinator;
  fx.store->AddListener([&](const store::ChangeEvent& e) { coordinator.Notify(e.approval); });
  ExpirySweeper sweeper(*fx.store, &coordinator, fx.clock);  // notifies too: must not double-fire
  Recorder rec;

  store::Approval a = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 1}}));
  store::Approval b = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 2}}));
  WatchHandle ha = coordinator.Watch(a.id, rec.For(a.id));
  WatchHandle hb = coordinator.Watch(b.id, rec.For(b.id));
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
  CHECK(rec.Of(a.id) == std::vector<store::State>{store::State::kApproved});

  fx.clock.Advance(5 * 60 * 1000);
  REQUIRE(sweeper.SweepOnce().ok());
  CHECK(rec.Of(b.id) == std::vector<store::State>{store::State::kExpired});
  CHECK(coordinator.Counters().expired == 1);  // heard from the feed and the sweeper, counted once
}

TEST_CASE("approve racing the sweeper: each waiter sees exactly one outcome", "[hold][race]") {
  StoreFixture fx;
  HoldCoordinator coordinator;
  fx.store->AddListener([&](const store::ChangeEvent& e) { coordinator.Notify(e.approval); });
  for (int round = 0; round < 20; ++round) {
    store::NewApproval n = StoreFixture::Request("cancel_job", Json{{"job_id", round}});
    n.timeout_ms = 1000;
    store::Approval a = fx.Create(n);
    Recorder rec;
    WatchHandle h = coordinator.Watch(a.id, rec.For(a.id));
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
  StoreFixture fx;
  HoldCoordinator coordinator;
  Recorder rec;
  store::NewApproval n = StoreFixture::Request();
  n.timeout_ms = 1000;
  store::Approval a = fx.Create(n);
  WatchHandle h = coordinator.Watch(a.id, rec.For(a.id));
  ExpirySweeper sweeper(*fx.store, &coordinator, fx.clock, std::chrono::milliseconds(5));
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
