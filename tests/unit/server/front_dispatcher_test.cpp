#include "server/front_dispatcher.h"

#include <catch2/catch.hpp>
#include <thread>

#include "common/trace.h"
#include "mcp/jsonrpc.h"
#include "mcp/trace_meta.h"

namespace holdgate::server {
namespace {

class FakeSession final : public transport::Session {
 public:
  FakeSession() : Session("s1", "alice", "alice") {}
  void SendUnsolicited(const Json&) override {}
};

class FakeStream final : public transport::ClientStream {
 public:
  void SendRelated(const Json&) override {}
  void Finish(const Json& response) override {
    if (!finished_) response_ = response;
    finished_ = true;
  }
  void Close() override { finished_ = true; }
  bool finished() const override { return finished_; }
  void SetGoneCallback(std::function<void()>) override {}
  Json response_;
  bool finished_ = false;
};

// Records what reached the gateway, the trace id current while it ran, and keeps the streams so a
// test decides when each request finishes.
class Recorder final : public transport::Dispatcher {
 public:
  void OnRequest(const std::shared_ptr<transport::Session>&, const mcp::Message& request,
                 const std::shared_ptr<transport::ClientStream>& stream) override {
    requests.push_back(request.json);
    trace_ids.push_back(trace::CurrentTraceId());
    streams.push_back(stream);
  }
  void OnMessage(const std::shared_ptr<transport::Session>&, const mcp::Message&) override {}
  void OnSessionClosed(const std::shared_ptr<transport::Session>&) override {}
  std::vector<Json> requests;
  std::vector<std::string> trace_ids;
  std::vector<std::shared_ptr<transport::ClientStream>> streams;
};

mcp::Message Request(int id, const std::string& method, Json params) {
  mcp::Message m;
  m.kind = mcp::Kind::kRequest;
  m.json = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
  return m;
}

}  // namespace

TEST_CASE("front: a tools/call without trace context starts a trace and the gateway runs inside it", "[front]") {
  Recorder gateway;
  FrontDispatcher front(gateway);
  auto session = std::make_shared<FakeSession>();
  front.OnRequest(session, Request(1, "tools/call", {{"name", "x"}, {"arguments", Json::object()}}),
                  std::make_shared<FakeStream>());
  REQUIRE(gateway.requests.size() == 1);
  auto tp = trace::Parse(mcp::MetaTraceparent(gateway.requests[0]));
  REQUIRE(tp.has_value());
  CHECK(gateway.trace_ids[0] == tp->trace_id);
  CHECK(trace::CurrentTraceId().empty());  // only while the gateway ran
}

TEST_CASE("front: the agent's traceparent continues: same trace id, our own span", "[front]") {
  Recorder gateway;
  FrontDispatcher front(gateway);
  auto session = std::make_shared<FakeSession>();
  const std::string agent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  front.OnRequest(session,
                  Request(1, "tools/call", {{"name", "x"}, {"_meta", {{"traceparent", agent}, {"progressToken", 7}}}}),
                  std::make_shared<FakeStream>());
  auto tp = trace::Parse(mcp::MetaTraceparent(gateway.requests[0]));
  REQUIRE(tp.has_value());
  CHECK(tp->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(tp->parent_id != "00f067aa0ba902b7");
  CHECK(gateway.requests[0]["params"]["_meta"]["progressToken"] == 7);  // the rest of _meta is kept
  CHECK(gateway.trace_ids[0] == "4bf92f3577b34da6a3ce929d0e0e4736");

  // An invalid one starts a new trace; other methods without one are left alone.
  front.OnRequest(session, Request(2, "tools/call", {{"name", "x"}, {"_meta", {{"traceparent", "garbage"}}}}),
                  std::make_shared<FakeStream>());
  CHECK(trace::Parse(mcp::MetaTraceparent(gateway.requests[1])).has_value());
  front.OnRequest(session, Request(3, "tools/list", Json::object()), std::make_shared<FakeStream>());
  CHECK(mcp::MetaTraceparent(gateway.requests[2]).empty());
  CHECK(gateway.trace_ids[2].empty());
}

TEST_CASE("front: drain refuses new requests and waits for those in flight", "[front]") {
  Recorder gateway;
  FrontDispatcher front(gateway);
  auto session = std::make_shared<FakeSession>();
  auto held = std::make_shared<FakeStream>();
  auto passing = std::make_shared<FakeStream>();
  front.OnRequest(session, Request(1, "tools/call", {{"name", "held"}}), held);
  front.OnRequest(session, Request(2, "tools/call", {{"name", "slow"}}), passing);
  CHECK(front.in_flight() == 2);

  front.BeginDrain();
  auto refused = std::make_shared<FakeStream>();
  front.OnRequest(session, Request(3, "tools/call", {{"name", "late"}}), refused);
  CHECK(gateway.requests.size() == 2);
  REQUIRE(refused->finished_);
  CHECK(refused->response_["error"]["code"] == mcp::kConnectionClosed);

  // One of the two is a held call (not waited for): the grace runs out with one still running.
  CHECK(front.WaitForCalls(100, [] { return int64_t{1}; }) == 1);
  std::thread finisher([&] { gateway.streams[1]->Finish(Json{{"jsonrpc", "2.0"}, {"id", 2}, {"result", {}}}); });
  CHECK(front.WaitForCalls(10'000, [] { return int64_t{1}; }) == 0);
  finisher.join();
  CHECK(passing->finished_);
  CHECK(front.in_flight() == 1);
  gateway.streams[0]->Close();
  CHECK(front.in_flight() == 0);
}

TEST_CASE("front: a stream dropped without an answer no longer counts", "[front]") {
  Recorder gateway;
  FrontDispatcher front(gateway);
  front.OnRequest(std::make_shared<FakeSession>(), Request(1, "ping", Json::object()), std::make_shared<FakeStream>());
  CHECK(front.in_flight() == 1);
  gateway.streams.clear();
  CHECK(front.in_flight() == 0);
}

}  // namespace holdgate::server
