#include <catch2/catch.hpp>

#include <map>

#include "policy/rate_limiter.h"
#include "support/fake_clock.h"
#include "test_util.h"

namespace holdgate::policy {
namespace {

using testutil::MustParse;

// 2025-11-24T16:00:00Z: a whole minute, hour and day boundary, so window arithmetic is readable.
constexpr int64_t kT0 = 1'764'000'000'000;

struct Caller {
  std::string principal = "alice";
  std::string grant = "key-1";
  std::string session = "s-1";
};

struct Outcome {
  Decision decision;
  RateLimiter::Reservation reservation;
};

Outcome Call(const Policy& p, RateLimiter& rl, std::string_view tool, const Caller& who = Caller(),
             const Json& args = Json::object()) {
  CallContext ctx;
  ctx.tool = tool;
  ctx.arguments = &args;
  ctx.principal = who.principal;
  ctx.grant = who.grant;
  ctx.session = who.session;
  Outcome o;
  o.decision = p.Evaluate(ctx);
  o.reservation = rl.Reserve(ctx, &o.decision);
  return o;
}

std::string Policy1(const std::string& limits, const std::string& extra_tools = "") {
  return R"({"version": "1", "default": "deny", "tools": {"fit": {"limits": [)" + limits + "]}" + extra_tools + "}}";
}

TEST_CASE("rate limit trips at max and recovers in the next window", "[policy][rate]") {
  testing::FakeClock clock(kT0 + 15'000);  // 15 s into a minute
  RateLimiter rl(clock);
  auto p = MustParse(Policy1(R"({"counter": "fit_rate", "window": "minute", "max": 3, "scope": "grant"})"));
  for (int i = 0; i < 3; ++i) {
    Outcome o = Call(*p, rl, "fit");
    CHECK(o.decision.action == Action::kAllow);
    CHECK(o.reservation.entries.size() == 1);
  }
  Outcome over = Call(*p, rl, "fit");
  CHECK(over.decision.action == Action::kRateLimited);
  CHECK(over.decision.retry_after_ms == 45'000);
  CHECK(over.decision.rule == "tools.fit.limits[0]");
  CHECK(over.decision.reason ==
        "Rate limit exceeded: at most 3 calls per minute (counter \"fit_rate\", per grant). Retry in 45 s, after "
        "2025-11-24T16:01:00.000Z.");
  CHECK(over.reservation.empty());
  clock.Advance(44'999);
  CHECK(Call(*p, rl, "fit").decision.action == Action::kRateLimited);
  CHECK(Call(*p, rl, "fit").decision.retry_after_ms == 1);
  clock.Advance(1);  // the next minute starts
  CHECK(Call(*p, rl, "fit").decision.action == Action::kAllow);
}

TEST_CASE("rate limit scopes: grant, principal, session, global", "[policy][rate]") {
  testing::FakeClock clock(kT0);
  Caller a1{"alice", "key-1", "s-1"};
  Caller a2{"alice", "key-2", "s-2"};  // same principal, other key and session
  Caller b1{"bob", "key-3", "s-1"};    // other principal, same session id
  auto run = [&](const char* scope) {
    RateLimiter rl(clock);
    auto p = MustParse(Policy1(std::string(R"({"window": "hour", "max": 1, "scope": ")") + scope + "\"}"));
    std::vector<bool> allowed;
    for (const Caller* c : {&a1, &a2, &b1}) allowed.push_back(Call(*p, rl, "fit", *c).decision.action == Action::kAllow);
    return allowed;
  };
  CHECK(run("grant") == std::vector<bool>{true, true, true});
  CHECK(run("principal") == std::vector<bool>{true, false, true});
  CHECK(run("session") == std::vector<bool>{true, true, false});
  CHECK(run("global") == std::vector<bool>{true, false, false});
  // Scope defaults to grant.
  RateLimiter rl(clock);
  auto p = MustParse(Policy1(R"({"window": "hour", "max": 1})"));
  CHECK(Call(*p, rl, "fit", a1).decision.action == Action::kAllow);
  CHECK(Call(*p, rl, "fit", a1).decision.action == Action::kRateLimited);
  CHECK(Call(*p, rl, "fit", a2).decision.action == Action::kAllow);
}

TEST_CASE("rate limit: a named counter is shared by every rule that uses it", "[policy][rate]") {
  testing::FakeClock clock(kT0);
  RateLimiter rl(clock);
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
    "fit":     {"limits": [{"counter": "compute", "window": "minute", "max": 2}]},
    "predict": {"limits": [{"counter": "compute", "window": "minute", "max": 2}]},
    "evaluate": {"limits": [{"window": "minute", "max": 2}]}}})");
  CHECK(Call(*p, rl, "fit").decision.action == Action::kAllow);
  CHECK(Call(*p, rl, "predict").decision.action == Action::kAllow);
  CHECK(Call(*p, rl, "fit").decision.action == Action::kRateLimited);
  CHECK(Call(*p, rl, "predict").decision.action == Action::kRateLimited);
  // Without a counter name the limit counts on its own (named after its JSON path).
  CHECK(Call(*p, rl, "evaluate").decision.action == Action::kAllow);
}

TEST_CASE("rate limit: all_tools limits count every tool, all-or-nothing reservation", "[policy][rate]") {
  testing::FakeClock clock(kT0);
  RateLimiter rl(clock);
  auto p = MustParse(R"({"version": "1", "default": "allow",
    "all_tools": {"limits": [{"counter": "all", "window": "minute", "max": 3}]},
    "tools": {"fit": {"limits": [{"counter": "fit", "window": "minute", "max": 1}]}}})");
  CHECK(Call(*p, rl, "fit").decision.action == Action::kAllow);       // all=1 fit=1
  Outcome second = Call(*p, rl, "fit");                               // fit is full
  CHECK(second.decision.action == Action::kRateLimited);
  CHECK(second.decision.rule == "tools.fit.limits[0]");
  CHECK(Call(*p, rl, "other").decision.action == Action::kAllow);     // all=2: the refused fit did not count
  CHECK(Call(*p, rl, "other").decision.action == Action::kAllow);     // all=3
  Outcome full = Call(*p, rl, "other");
  CHECK(full.decision.action == Action::kRateLimited);
  CHECK(full.decision.rule == "all_tools.limits[0]");
}

TEST_CASE("rate limit: the longest wait is reported when several limits are full", "[policy][rate]") {
  testing::FakeClock clock(kT0 + 30'000);
  RateLimiter rl(clock);
  auto p = MustParse(Policy1(R"({"counter": "m", "window": "minute", "max": 1}, {"counter": "h", "window": "hour", "max": 1})"));
  CHECK(Call(*p, rl, "fit").decision.action == Action::kAllow);
  Outcome o = Call(*p, rl, "fit");
  CHECK(o.decision.action == Action::kRateLimited);
  CHECK(o.decision.retry_after_ms == 3'600'000 - 30'000);
  CHECK(o.decision.rule == "tools.fit.limits[1]");
}

TEST_CASE("rate limit: rollback gives the call back, but not across a window", "[policy][rate]") {
  testing::FakeClock clock(kT0);
  RateLimiter rl(clock);
  auto p = MustParse(Policy1(R"({"window": "minute", "max": 1})"));
  Outcome first = Call(*p, rl, "fit");
  CHECK(first.decision.action == Action::kAllow);
  CHECK(Call(*p, rl, "fit").decision.action == Action::kRateLimited);
  rl.Rollback(first.reservation);  // e.g. the upstream call failed
  Outcome again = Call(*p, rl, "fit");
  CHECK(again.decision.action == Action::kAllow);
  clock.Advance(60'000);
  rl.Rollback(again.reservation);  // stale: belongs to the previous window
  CHECK(Call(*p, rl, "fit").decision.action == Action::kAllow);
  CHECK(Call(*p, rl, "fit").decision.action == Action::kRateLimited);
}

TEST_CASE("rate limit: holds count, denials do not", "[policy][rate]") {
  testing::FakeClock clock(kT0);
  RateLimiter rl(clock);
  auto p = MustParse(R"({"version": "1", "default": "deny",
    "all_tools": {"limits": [{"counter": "all", "window": "minute", "max": 2}]},
    "tools": {"cancel_job": {"action": "require_approval"}, "blocked": {"action": "deny"}}})");
  Outcome h = Call(*p, rl, "cancel_job");
  CHECK(h.decision.action == Action::kHold);
  CHECK_FALSE(h.reservation.empty());
  for (int i = 0; i < 5; ++i) CHECK(Call(*p, rl, "blocked").reservation.empty());
  CHECK(Call(*p, rl, "nothing_named").decision.action == Action::kDeny);
  CHECK(Call(*p, rl, "cancel_job").decision.action == Action::kHold);
  Outcome over = Call(*p, rl, "cancel_job");
  CHECK(over.decision.action == Action::kRateLimited);
  CHECK(over.decision.approval == nullptr);
}

TEST_CASE("rate limit: shadow mode counts and reports but lets the call through", "[policy][rate][shadow]") {
  testing::FakeClock clock(kT0);
  RateLimiter rl(clock);
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
    "fit": {"shadow": true, "limits": [{"window": "minute", "max": 1}]}}})");
  Outcome a = Call(*p, rl, "fit");
  CHECK(a.decision.action == Action::kAllow);
  CHECK(a.decision.shadow_action == Action::kAllow);
  Outcome b = Call(*p, rl, "fit");
  CHECK(b.decision.action == Action::kAllow);
  CHECK(b.decision.shadow);
  CHECK(b.decision.shadow_action == Action::kRateLimited);
  CHECK(b.decision.retry_after_ms == 60'000);
  CHECK_FALSE(b.reservation.empty());
}

TEST_CASE("rate limit: max 0, numeric and duration windows", "[policy][rate]") {
  testing::FakeClock clock(kT0);
  RateLimiter rl(clock);
  auto zero = MustParse(Policy1(R"({"window": "day", "max": 0})"));
  Outcome z = Call(*zero, rl, "fit");
  CHECK(z.decision.action == Action::kRateLimited);
  CHECK(z.decision.reason.find("at most 0 calls per day") != std::string::npos);

  auto secs = MustParse(Policy1(R"({"counter": "s", "window": 90, "max": 1})"));
  REQUIRE(Call(*secs, rl, "fit").decision.limits->front().window_ms == 90'000);
  CHECK(Call(*secs, rl, "fit").decision.action == Action::kRateLimited);
  auto dur = MustParse(Policy1(R"({"counter": "d", "window": "5m", "max": 1})"));
  CHECK(Call(*dur, rl, "fit").decision.limits->front().window_ms == 300'000);
  auto per_second = MustParse(Policy1(R"({"counter": "p", "window": "second", "max": 1})"));
  CHECK(Call(*per_second, rl, "fit").decision.action == Action::kAllow);
  Outcome o = Call(*per_second, rl, "fit");
  CHECK(o.decision.action == Action::kRateLimited);
  CHECK(o.decision.reason.find("at most 1 call per second") != std::string::npos);
  clock.Advance(1000);
  CHECK(Call(*per_second, rl, "fit").decision.action == Action::kAllow);
}

TEST_CASE("rate limit: counters survive a policy reload", "[policy][rate]") {
  testing::FakeClock clock(kT0);
  RateLimiter rl(clock);
  auto v1 = MustParse(Policy1(R"({"counter": "fit", "window": "minute", "max": 2})"));
  auto v2 = MustParse(Policy1(R"({"counter": "fit", "window": "minute", "max": 2})", R"(, "list_jobs": {})"));
  CHECK(Call(*v1, rl, "fit").decision.action == Action::kAllow);
  CHECK(Call(*v2, rl, "fit").decision.action == Action::kAllow);
  CHECK(Call(*v2, rl, "fit").decision.action == Action::kRateLimited);
}

TEST_CASE("rate limit: expired buckets are swept", "[policy][rate]") {
  testing::FakeClock clock(kT0);
  RateLimiter rl(clock);
  auto p = MustParse(Policy1(R"({"window": "second", "max": 5, "scope": "session"})"));
  for (int i = 0; i < 100; ++i) {
    Caller c;
    c.session = "s-" + std::to_string(i);
    Call(*p, rl, "fit", c);
  }
  CHECK(rl.BucketCount() == 100);
  clock.Advance(2000);
  for (int i = 0; i < 4096; ++i) Call(*p, rl, "fit");
  CHECK(rl.BucketCount() == 1);
}

// SharedCounters in memory, as the PostgreSQL table behaves (tests/unit/store covers the table).
class MemoryCounters final : public SharedCounters {
 public:
  Result<std::optional<size_t>> Count(const std::vector<CounterSlot>& slots, bool force) override {
    ++calls;
    if (down) return Status(Code::kUnavailable, "database away");
    std::optional<size_t> full;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (counts[Key(slots[i])] >= slots[i].max && !full) full = i;
    }
    if (!full || force) {
      for (const CounterSlot& s : slots) ++counts[Key(s)];
    }
    return full;
  }
  Status Uncount(const std::vector<CounterSlot>& slots) override {
    for (const CounterSlot& s : slots) {
      if (counts[Key(s)] > 0) --counts[Key(s)];
    }
    return Status();
  }
  static std::string Key(const CounterSlot& s) { return s.key + '@' + std::to_string(s.window_start_ms); }
  std::map<std::string, int64_t> counts;
  int calls = 0;
  bool down = false;
};

TEST_CASE("rate limit: replicas sharing counters count against one quota", "[policy][rate][shared]") {
  testing::FakeClock clock(kT0 + 15'000);
  MemoryCounters shared;
  RateLimiter replica_a(clock), replica_b(clock);
  replica_a.SetShared(&shared);
  replica_b.SetShared(&shared);
  auto p = MustParse(Policy1(R"({"counter": "fit_rate", "window": "minute", "max": 3, "scope": "principal"})"));
  CHECK(Call(*p, replica_a, "fit").decision.action == Action::kAllow);
  Outcome second = Call(*p, replica_b, "fit");
  CHECK(second.decision.action == Action::kAllow);
  CHECK(Call(*p, replica_a, "fit").decision.action == Action::kAllow);
  Outcome over = Call(*p, replica_b, "fit");
  CHECK(over.decision.action == Action::kRateLimited);
  CHECK(over.decision.retry_after_ms == 45'000);
  CHECK(over.decision.rule == "tools.fit.limits[0]");
  CHECK(over.reservation.empty());
  CHECK(replica_a.BucketCount() == 0);  // nothing counted in memory

  // A call that never ran is given back, on whichever replica it was counted.
  replica_b.Rollback(second.reservation);
  CHECK(Call(*p, replica_a, "fit").decision.action == Action::kAllow);
  CHECK(Call(*p, replica_a, "fit").decision.action == Action::kRateLimited);

  clock.Advance(45'000);  // the next window
  CHECK(Call(*p, replica_b, "fit").decision.action == Action::kAllow);
}

TEST_CASE("rate limit: shared counters in shadow mode count past the max and report", "[policy][rate][shared]") {
  testing::FakeClock clock(kT0);
  MemoryCounters shared;
  RateLimiter rl(clock);
  rl.SetShared(&shared);
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
    "fit": {"shadow": true, "limits": [{"window": "minute", "max": 1}]}}})");
  CHECK(Call(*p, rl, "fit").decision.shadow_action == Action::kAllow);
  Outcome over = Call(*p, rl, "fit");
  CHECK(over.decision.action == Action::kAllow);
  CHECK(over.decision.shadow_action == Action::kRateLimited);
  CHECK_FALSE(over.reservation.empty());
  CHECK(shared.counts.begin()->second == 2);
}

TEST_CASE("rate limit: shared counters that cannot be reached leave each replica counting alone",
          "[policy][rate][shared]") {
  testing::FakeClock clock(kT0);
  MemoryCounters shared;
  shared.down = true;
  RateLimiter rl(clock);
  rl.SetShared(&shared);
  auto p = MustParse(Policy1(R"({"window": "minute", "max": 2})"));
  CHECK(Call(*p, rl, "fit").decision.action == Action::kAllow);
  CHECK(Call(*p, rl, "fit").decision.action == Action::kAllow);
  CHECK(Call(*p, rl, "fit").decision.action == Action::kRateLimited);
  CHECK(shared.calls == 3);
  CHECK(rl.BucketCount() == 1);
}

}  // namespace
}  // namespace holdgate::policy
