#include <catch2/catch.hpp>

#include "support/fake_clock.h"
#include "transport/session_table.h"

namespace holdgate::transport {
namespace {

class TestSession final : public Session {
 public:
  using Session::Session;
  void SendUnsolicited(const Json&) override {}
};

std::shared_ptr<Session> Make(const std::string& id, const std::string& principal) {
  return std::make_shared<TestSession>(id, principal, "grant");
}

constexpr int64_t kHour = 3'600'000;

}  // namespace

TEST_CASE("sessions: idle sessions expire by the injected clock, used ones do not", "[transport][sessions]") {
  testing::FakeClock clock;
  SessionTable table(SessionLimits{100, 10, kHour}, clock);
  REQUIRE(table.Add(Make("a", "alice")) == SessionTable::AddResult::kAdded);
  REQUIRE(table.Add(Make("b", "alice")) == SessionTable::AddResult::kAdded);
  clock.Advance(kHour - 1);
  CHECK(table.TakeIdle().empty());
  REQUIRE(table.Find("b") != nullptr);  // used now: its hour starts again
  clock.Advance(1);
  auto idle = table.TakeIdle();
  REQUIRE(idle.size() == 1);
  CHECK(idle[0]->id() == "a");
  CHECK(table.Find("a") == nullptr);
  CHECK(table.CountFor("alice") == 1);
  clock.Advance(kHour);
  CHECK(table.TakeIdle().size() == 1);
  CHECK(table.size() == 0);
  CHECK(table.CountFor("alice") == 0);
}

TEST_CASE("sessions: an open request or stream keeps a session however long it lasts", "[transport][sessions]") {
  testing::FakeClock clock;
  SessionTable table(SessionLimits{100, 10, kHour}, clock);
  REQUIRE(table.Add(Make("held", "alice")) == SessionTable::AddResult::kAdded);
  {
    auto open = table.Open("held");
    REQUIRE(open != nullptr);
    clock.Advance(5 * kHour);  // a held call waiting for a reviewer
    CHECK(table.TakeIdle().empty());
  }
  // Its hour counts from the end of the request.
  clock.Advance(kHour - 1);
  CHECK(table.TakeIdle().empty());
  clock.Advance(1);
  CHECK(table.TakeIdle().size() == 1);
  CHECK(table.Open("held") == nullptr);
}

TEST_CASE("sessions: the per-principal cap refuses that principal only", "[transport][sessions]") {
  testing::FakeClock clock;
  SessionTable table(SessionLimits{100, 3, kHour}, clock);
  for (int i = 0; i < 3; ++i) REQUIRE(table.Add(Make("a" + std::to_string(i), "alice")) == SessionTable::AddResult::kAdded);
  CHECK(table.Add(Make("a3", "alice")) == SessionTable::AddResult::kPrincipalFull);
  CHECK(table.Add(Make("b0", "bob")) == SessionTable::AddResult::kAdded);
  CHECK(table.CountFor("alice") == 3);
  // A session that ends makes room again, whether by DELETE or by expiry.
  REQUIRE(table.Remove("a0") != nullptr);
  CHECK(table.Add(Make("a3", "alice")) == SessionTable::AddResult::kAdded);
  clock.Advance(kHour);
  CHECK(table.TakeIdle().size() == 4);
  CHECK(table.Add(Make("a4", "alice")) == SessionTable::AddResult::kAdded);
}

TEST_CASE("sessions: the total cap still holds across principals", "[transport][sessions]") {
  testing::FakeClock clock;
  SessionTable table(SessionLimits{2, 10, kHour}, clock);
  REQUIRE(table.Add(Make("a", "alice")) == SessionTable::AddResult::kAdded);
  REQUIRE(table.Add(Make("b", "bob")) == SessionTable::AddResult::kAdded);
  CHECK(table.Add(Make("c", "carol")) == SessionTable::AddResult::kFull);
  CHECK(table.TakeAll().size() == 2);
  CHECK(table.size() == 0);
}

}  // namespace holdgate::transport
