#include "review/event_hub.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

#include "support/fake_clock.h"

namespace holdgate::review {
namespace {

using namespace std::chrono_literals;

struct HubEnv {
  std::filesystem::path dir;
  testing::FakeClock clock;
  std::unique_ptr<store::Store> store;
  HubEnv() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hg_hub_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    auto s = store::Store::Open((dir / "h.db").string(), clock);
    REQUIRE(s.ok());
    store = std::move(*s);
  }
  ~HubEnv() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  store::Approval Create(int job) {
    store::NewApproval n;
    n.principal = "agent";
    n.tool = "cancel_job";
    n.arguments = Json{{"job_id", job}};
    auto a = store->CreatePending(n);
    REQUIRE(a.ok());
    return *a;
  }
};

}  // namespace

TEST_CASE("event hub: live events, timeouts, resume from the store, stop", "[review][events]") {
  HubEnv env;
  auto before = env.Create(1);  // before the hub starts: only reachable through the store
  EventHub hub(*env.store, 16);
  REQUIRE(hub.Start().ok());
  const int64_t head = hub.head_seq();
  CHECK(head > 0);

  std::vector<store::ChangeEvent> out;
  int64_t after = head;
  CHECK(hub.Wait(&after, 20ms, &out) == EventHub::WaitResult::kTimeout);
  CHECK(out.empty());

  auto a = env.Create(2);
  CHECK(hub.Wait(&after, 1000ms, &out) == EventHub::WaitResult::kEvents);
  REQUIRE(out.size() == 1);
  CHECK(out[0].approval.id == a.id);
  CHECK(out[0].type == "approval.created");
  CHECK(after == out[0].seq);

  // A waiter blocked in Wait is woken by a new event (no polling).
  std::thread t([&] { env.Create(3); });
  CHECK(hub.Wait(&after, 5000ms, &out) == EventHub::WaitResult::kEvents);
  t.join();

  // Resume from before the hub started: served from the store, then from the ring.
  int64_t from_zero = 0;
  std::vector<std::string> ids;
  for (int i = 0; i < 5 && ids.size() < 3; ++i) {
    auto r = hub.Wait(&from_zero, 50ms, &out, 2);
    if (r == EventHub::WaitResult::kEvents) {
      for (auto& e : out) ids.push_back(e.approval.id);
    }
  }
  REQUIRE(ids.size() == 3);
  CHECK(ids[0] == before.id);
  CHECK(ids[1] == a.id);

  // Overflowing the ring moves its floor; an old position still gets every event via the store.
  int64_t old = after;
  for (int i = 0; i < 40; ++i) env.Create(100 + i);
  int got = 0;
  for (int i = 0; i < 100 && got < 40; ++i) {
    if (hub.Wait(&old, 50ms, &out, 7) == EventHub::WaitResult::kEvents) got += static_cast<int>(out.size());
  }
  CHECK(got == 40);

  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    hub.Stop();
  });
  int64_t now = hub.head_seq();
  CHECK(hub.Wait(&now, 10000ms, &out) == EventHub::WaitResult::kStopped);
  stopper.join();
  CHECK(hub.Wait(&now, 10000ms, &out) == EventHub::WaitResult::kStopped);
}

}  // namespace holdgate::review
