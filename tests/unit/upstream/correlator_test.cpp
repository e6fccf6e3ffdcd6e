// Correlator: id restoring, and the request timeout (FailOverdue) driven with explicit time
// points, so nothing sleeps.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <vector>

#include "upstream/correlator.h"

namespace holdgate::upstream {
namespace {

class Recorder final : public ReplyHandler {
 public:
  void OnRelated(const Json& message) override { related.push_back(message); }
  void OnResponse(const Json& response) override { responses.push_back(response); }
  std::vector<Json> related;
  std::vector<Json> responses;
};

// A request of one agent session.
class OwnedRecorder final : public ReplyHandler {
 public:
  explicit OwnedRecorder(std::string owner) : owner_(std::move(owner)) {}
  void OnRelated(const Json& message) override { related.push_back(message); }
  void OnResponse(const Json& response) override { responses.push_back(response); }
  std::string Owner() const override { return owner_; }
  std::vector<Json> related;
  std::vector<Json> responses;

 private:
  std::string owner_;
};

Json Call(const Json& id) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", {{"name", "slow_echo"}}}};
}

}  // namespace

TEST_CASE("correlator: a request past the timeout gets the timeout error once, its late answer is dropped",
          "[upstream]") {
  using std::chrono::milliseconds;
  Correlator c(false, nullptr, /*request_timeout_ms=*/300'000);
  auto first = std::make_shared<Recorder>();
  auto second = std::make_shared<Recorder>();
  const auto t0 = std::chrono::steady_clock::now();
  Correlator::Registered a = c.Register(Call("agent-7"), first);
  Correlator::Registered b = c.Register(Call(8), second);
  CHECK(a.wire["id"] == a.handle);

  CHECK(c.FailOverdue(t0 + milliseconds(299'000)).empty());
  CHECK(first->responses.empty());
  const auto late = std::chrono::steady_clock::now() + milliseconds(300'000);
  std::vector<Correlator::Overdue> failed = c.FailOverdue(late);
  REQUIRE(failed.size() == 2);
  CHECK(failed[0].handle == a.handle);
  CHECK(failed[0].wire_id == a.wire["id"]);
  CHECK(failed[1].handle == b.handle);
  REQUIRE(first->responses.size() == 1);
  const Json& error = first->responses[0];
  CHECK(error["id"] == "agent-7");  // the caller's own id
  CHECK(error["error"]["code"] == -32001);
  CHECK(error["error"]["message"] == "upstream did not answer within 5m; the call may or may not have run; not re-run");
  CHECK(second->responses.size() == 1);
  CHECK(c.in_flight() == 0);
  // Once only, and the upstream's late answer goes nowhere.
  CHECK(c.FailOverdue(late).empty());
  c.Route(Json{{"jsonrpc", "2.0"}, {"id", a.handle}, {"result", Json::object()}}, 0);
  CHECK(first->responses.size() == 1);
}

TEST_CASE("correlator: without a timeout nothing is ever overdue, timeouts print in their largest unit",
          "[upstream]") {
  Correlator none(false, nullptr);
  auto r = std::make_shared<Recorder>();
  none.Register(Call(1), r);
  CHECK(none.FailOverdue(std::chrono::steady_clock::now() + std::chrono::hours(24 * 365)).empty());
  CHECK(none.in_flight() == 1);
  CHECK(Correlator(false, nullptr, 1500).TimeoutMessage().rfind("upstream did not answer within 1500ms;", 0) == 0);
  CHECK(Correlator(false, nullptr, 2000).TimeoutMessage().rfind("upstream did not answer within 2s;", 0) == 0);
  CHECK(Correlator(false, nullptr, 3'600'000).TimeoutMessage().rfind("upstream did not answer within 1h;", 0) == 0);
  CHECK(OverdueCheckInterval(300'000) == std::chrono::milliseconds(1000));
  CHECK(OverdueCheckInterval(1500) == std::chrono::milliseconds(150));
  CHECK(OverdueCheckInterval(50) == std::chrono::milliseconds(10));
}

TEST_CASE("correlator (stdio): a server->client request goes to the one agent with calls in flight, holdgate's own "
          "requests do not make it ambiguous, two agents do",
          "[upstream]") {
  std::vector<Json> written;  // what the correlator answered upstream itself
  Correlator c(true, [&](const Json& m) { written.push_back(m); });
  std::vector<Json> unsolicited;
  c.SetUnsolicitedHandler([&](const Json& m) { unsolicited.push_back(m); });
  const Json sampling = {{"jsonrpc", "2.0"}, {"id", 0}, {"method", "sampling/createMessage"}, {"params", Json::object()}};

  // Only holdgate's own request (a handshake after a restart, a readiness ping) in flight.
  auto own = std::make_shared<Recorder>();
  c.Register(Call("ping"), own);
  c.Route(sampling, 0);
  CHECK(unsolicited.size() == 1);
  CHECK(own->related.empty());

  // An agent's call beside it: the request is that agent's.
  auto a = std::make_shared<OwnedRecorder>("session-a");
  Correlator::Registered ra = c.Register(Call(7), a);
  c.Route(sampling, 0);
  CHECK(a->related.size() == 1);
  CHECK(own->related.empty());
  CHECK(written.empty());

  // A second agent's call: nothing tells them apart, so it is refused, and neither sees it.
  auto b = std::make_shared<OwnedRecorder>("session-b");
  c.Register(Call(8), b);
  c.Route(sampling, 0);
  CHECK(a->related.size() == 1);
  CHECK(b->related.empty());
  REQUIRE(written.size() == 1);
  CHECK(written[0]["error"]["message"].get<std::string>().find("cannot tell which agent") != std::string::npos);
  (void)ra;
}

TEST_CASE("correlator (one agent's connection): ids and progress tokens go upstream as the agent sent them, only a "
          "collision is renamed",
          "[upstream]") {
  Correlator c(false, nullptr, 0, /*keep_caller_ids=*/true);
  auto first = std::make_shared<Recorder>();
  auto second = std::make_shared<Recorder>();
  Json with_token = Call(7);
  with_token["params"]["_meta"]["progressToken"] = 7;
  Correlator::Registered a = c.Register(with_token, first);
  CHECK(a.wire["id"] == 7);
  CHECK(a.wire["params"]["_meta"]["progressToken"] == 7);
  // The same id again while the first is in flight (a released held call beside a new request).
  Correlator::Registered b = c.Register(with_token, second);
  CHECK(b.wire["id"] == "hg-" + std::to_string(b.handle));
  CHECK(b.wire["params"]["_meta"]["progressToken"] == "hg-" + std::to_string(b.handle));

  // Progress and responses find their request by the wire names and come back with the agent's.
  c.Route(Json{{"jsonrpc", "2.0"}, {"method", "notifications/progress"},
               {"params", {{"progressToken", b.wire["params"]["_meta"]["progressToken"]}, {"progress", 1}}}},
          0);
  REQUIRE(second->related.size() == 1);
  CHECK(second->related[0]["params"]["progressToken"] == 7);
  c.Route(Json{{"jsonrpc", "2.0"}, {"id", b.wire["id"]}, {"result", Json::object()}}, 0);
  REQUIRE(second->responses.size() == 1);
  CHECK(second->responses[0]["id"] == 7);
  c.Route(Json{{"jsonrpc", "2.0"}, {"id", 7}, {"result", Json::object()}}, 0);
  REQUIRE(first->responses.size() == 1);
  CHECK(first->responses[0]["id"] == 7);
  CHECK(c.in_flight() == 0);

  // Once answered, the id is free again; a cancel names the id the upstream knows.
  auto third = std::make_shared<Recorder>();
  Correlator::Registered d = c.Register(Call("abc"), third);
  CHECK(d.wire["id"] == "abc");
  CHECK(c.Fail(d.handle, -32001, "cancelled") == Json("abc"));
  CHECK(third->responses.at(0)["id"] == "abc");
}

}  // namespace holdgate::upstream
