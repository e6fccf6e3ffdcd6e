#include <catch2/catch.hpp>

#include "gateway/modern.h"
#include "mcp/era.h"

namespace holdgate::gateway {
namespace {

store::Approval Pending() {
  store::Approval a;
  a.id = "apr_0001";
  a.principal = "agent-a";
  a.tool = "cancel_job";
  a.state = store::State::kPending;
  a.created_at_ms = 1765015200000;
  a.updated_at_ms = 1765015200000;
  return a;
}

}  // namespace

TEST_CASE("a held call's task is its approval", "[gateway][modern]") {
  store::Approval a = Pending();
  Json t = TaskOf(a, "https://review.example");
  CHECK(t["taskId"] == "apr_0001");
  CHECK(t["status"] == "working");
  const std::string msg = t["statusMessage"];
  CHECK(msg.find("apr_0001") != std::string::npos);
  CHECK(msg.find("https://review.example") != std::string::npos);
  CHECK(t["createdAt"] == "2025-12-06T10:00:00.000Z");
  CHECK(t["pollIntervalMs"] == kTaskPollIntervalMs);
  CHECK(t.contains("ttlMs"));
  CHECK(!DetailedTaskOf(a, "u").contains("result"));

  a.state = store::State::kCompleted;
  a.result = {{"content", {{{"type", "text"}, {"text", "done"}}}}};
  Json done = DetailedTaskOf(a, "u");
  CHECK(done["status"] == "completed");
  CHECK(done["result"]["content"][0]["text"] == "done");

  a.state = store::State::kRejected;
  a.reason = "not today";
  a.decided_by = "alice";
  Json rejected = DetailedTaskOf(a, "u");
  CHECK(rejected["status"] == "completed");
  CHECK(rejected["result"]["isError"] == true);
  CHECK(rejected["result"]["content"][0]["text"].get<std::string>().find("not today") != std::string::npos);

  a.state = store::State::kFailed;
  a.result = {{"error", {{"code", -32603}, {"message", "boom"}}}};
  Json failed = DetailedTaskOf(a, "u");
  CHECK(failed["status"] == "failed");
  CHECK(failed["error"]["message"] == "boom");
  CHECK(!failed.contains("result"));

  a.state = store::State::kCancelled;
  CHECK(DetailedTaskOf(a, "u")["status"] == "cancelled");
}

TEST_CASE("server/discover advertises the tasks extension, not the 2025 tasks slot", "[gateway][modern]") {
  Json init = {{"capabilities", {{"tools", {{"listChanged", true}}}, {"tasks", Json::object()}, {"logging", Json::object()}}},
               {"serverInfo", {{"name", "up"}, {"version", "1"}}},
               {"instructions", "hi"}};
  Json d = DiscoverResult(init);
  CHECK(d["resultType"] == "complete");
  CHECK(d["supportedVersions"][0] == "2026-07-28");
  CHECK(d["capabilities"]["extensions"].contains(mcp::kTasksExtension));
  CHECK(!d["capabilities"].contains("tasks"));
  CHECK(!d["capabilities"]["tools"].contains("listChanged"));
  CHECK(d["_meta"][mcp::kMetaServerInfo]["name"] == "up");
  CHECK(d["instructions"] == "hi");
}

TEST_CASE("requestState is bound, tamper-evident and expires", "[gateway][modern]") {
  const std::string key = "k1";
  RequestState s{"id1", "agent-a", RequestDigest("tools/call", {{"name", "x"}, {"arguments", {{"a", 1}}}}), 2000};
  const std::string token = EncodeRequestState(s, key);
  auto back = DecodeRequestState(token, key, 1000);
  REQUIRE(back.ok());
  CHECK(back->id == "id1");
  CHECK(back->principal == "agent-a");
  CHECK(back->digest == s.digest);
  CHECK(!DecodeRequestState(token, "other key", 1000).ok());
  CHECK(!DecodeRequestState(token, key, 2000).ok());  // expired
  std::string tampered = token;
  tampered[0] = tampered[0] == 'A' ? 'B' : 'A';
  CHECK(!DecodeRequestState(tampered, key, 1000).ok());
  CHECK(!DecodeRequestState("garbage", key, 1000).ok());
  // The digest ignores _meta and the retry fields, and sees arguments.
  CHECK(RequestDigest("tools/call", {{"name", "x"}, {"arguments", {{"a", 1}}}, {"_meta", {{"p", 1}}},
                                     {"inputResponses", Json::object()}, {"requestState", "s"}}) == s.digest);
  CHECK(RequestDigest("tools/call", {{"name", "x"}, {"arguments", {{"a", 2}}}}) != s.digest);
}

}  // namespace holdgate::gateway
