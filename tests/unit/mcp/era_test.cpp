#include <catch2/catch.hpp>

#include "common/crypto.h"
#include "mcp/era.h"
#include "mcp/jsonrpc.h"

namespace holdgate::mcp {
namespace {

Json Envelope(const std::string& version = "2026-07-28", Json caps = Json::object()) {
  return Json{{kMetaProtocolVersion, version}, {kMetaClientCapabilities, std::move(caps)},
              {kMetaClientInfo, {{"name", "t"}, {"version", "1"}}}};
}

Json Request(const std::string& method, Json params, bool envelope = true) {
  if (envelope) params["_meta"] = Envelope();
  return Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", std::move(params)}};
}

PostHeaders Headers(const std::string& method, std::optional<std::string> name = std::nullopt) {
  return PostHeaders{std::string(kModernProtocolVersion), method, std::move(name)};
}

}  // namespace

TEST_CASE("a 2026-07-28 request with envelope and agreeing headers is modern", "[mcp][era]") {
  Json caps = {{"extensions", {{kTasksExtension, Json::object()}}}};
  Json body = Request("tools/call", {{"name", "cancel_job"}});
  body["params"]["_meta"][kMetaClientCapabilities] = caps;
  EraVerdict v = ClassifyPost(body, Headers("tools/call", "cancel_job"));
  REQUIRE(v.kind == EraVerdict::Kind::kModern);
  CHECK(v.version == "2026-07-28");
  CHECK(DeclaresTasksExtension(v.client_capabilities));
  CHECK(v.client_info["name"] == "t");
  // Mcp-Name may be base64-encoded.
  CHECK(ClassifyPost(body, Headers("tools/call", "=?base64?" + Base64Encode("cancel_job") + "?=")).kind ==
        EraVerdict::Kind::kModern);
}

TEST_CASE("2025 traffic stays on the session path", "[mcp][era]") {
  CHECK(ClassifyPost(Request("initialize", {{"protocolVersion", "2025-11-25"}}, false), {}).kind ==
        EraVerdict::Kind::kLegacy);
  CHECK(ClassifyPost(Request("tools/list", Json::object(), false), PostHeaders{"2025-11-25", {}, {}}).kind ==
        EraVerdict::Kind::kLegacy);
  CHECK(ClassifyPost(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"result", Json::object()}}, {}).kind ==
        EraVerdict::Kind::kLegacy);
  // An envelope naming a 2025 revision is not a modern claim.
  Json old = Request("tools/list", Json::object());
  old["params"]["_meta"][kMetaProtocolVersion] = "2025-11-25";
  CHECK(ClassifyPost(old, PostHeaders{"2025-11-25", "tools/list", {}}).kind == EraVerdict::Kind::kLegacy);
}

TEST_CASE("every header/body disagreement is -32020", "[mcp][era]") {
  Json call = Request("tools/call", {{"name", "a"}});
  auto code = [](const EraVerdict& v) { return v.kind == EraVerdict::Kind::kReject ? v.code : 0; };
  CHECK(code(ClassifyPost(call, Headers("tools/call", "b"))) == kHeaderMismatch);
  CHECK(code(ClassifyPost(call, Headers("tools/call"))) == kHeaderMismatch);  // Mcp-Name missing
  CHECK(code(ClassifyPost(call, Headers("tools/list", "a"))) == kHeaderMismatch);
  CHECK(code(ClassifyPost(call, PostHeaders{std::nullopt, "tools/call", "a"})) == kHeaderMismatch);
  CHECK(code(ClassifyPost(call, PostHeaders{"2026-07-28", std::nullopt, "a"})) == kHeaderMismatch);
  CHECK(code(ClassifyPost(call, PostHeaders{"2025-11-25", "tools/call", "a"})) == kHeaderMismatch);
  CHECK(code(ClassifyPost(call, Headers("tools/call", "=?base64?not base64!?="))) == kHeaderMismatch);
  Json task = Request("tasks/get", {{"taskId", "apr_1"}});
  CHECK(code(ClassifyPost(task, Headers("tasks/get", "apr_2"))) == kHeaderMismatch);
  CHECK(code(ClassifyPost(Request("initialize", Json::object(), false), Headers("initialize"))) == kHeaderMismatch);
}

TEST_CASE("unserved revisions are -32022 with data.supported, broken envelopes -32602", "[mcp][era]") {
  Json body = Request("tools/list", Json::object());
  body["params"]["_meta"][kMetaProtocolVersion] = "2027-01-01";
  EraVerdict v = ClassifyPost(body, PostHeaders{"2027-01-01", "tools/list", {}});
  REQUIRE(v.kind == EraVerdict::Kind::kReject);
  CHECK(v.code == kUnsupportedProtocolVersion);
  CHECK(v.http_status == 400);
  CHECK(v.data["supported"][0] == "2026-07-28");
  CHECK(v.data["requested"] == "2027-01-01");

  Json no_caps = Request("tools/list", Json::object());
  no_caps["params"]["_meta"].erase(kMetaClientCapabilities);
  CHECK(ClassifyPost(no_caps, Headers("tools/list")).code == kInvalidParams);
  // A 2026 header without any envelope.
  CHECK(ClassifyPost(Request("tools/list", Json::object(), false), Headers("tools/list")).code == kInvalidParams);
}

TEST_CASE("the envelope is stripped for a 2025 upstream, results get resultType and cache fields", "[mcp][era]") {
  Json params = {{"name", "x"}, {"_meta", Envelope()}};
  params["_meta"]["progressToken"] = 5;
  Json stripped = StripEnvelope(params);
  CHECK(stripped["_meta"] == Json{{"progressToken", 5}});
  CHECK(!StripEnvelope(Json{{"_meta", Envelope()}}).contains("_meta"));

  Json list = MakeResult(1, {{"tools", {{{"name", "a"}, {"execution", {{"taskSupport", "optional"}}}}}}});
  ShapeModernResponse("tools/list", &list);
  CHECK(list["result"]["resultType"] == "complete");
  CHECK(list["result"]["ttlMs"] == 0);
  CHECK(list["result"]["cacheScope"] == "private");
  CHECK(!list["result"]["tools"][0].contains("execution"));
  Json task = MakeResult(1, {{"resultType", "task"}});
  ShapeModernResponse("tools/call", &task);
  CHECK(task["result"]["resultType"] == "task");
  Json err = MakeError(1, kInvalidParams, "x");
  ShapeModernResponse("tools/call", &err);
  CHECK(!err.contains("result"));
  CHECK(IsoTime(0) == "1970-01-01T00:00:00.000Z");
  CHECK(IsoTime(1765015200123) == "2025-12-06T10:00:00.123Z");
}

TEST_CASE("the 2026 method table", "[mcp][era]") {
  CHECK(IsModernRequestMethod("server/discover"));
  CHECK(IsModernRequestMethod("tools/call"));
  CHECK_FALSE(IsModernRequestMethod("ping"));
  CHECK_FALSE(IsModernRequestMethod("initialize"));
  CHECK_FALSE(IsModernRequestMethod("logging/setLevel"));
  CHECK_FALSE(IsModernRequestMethod("resources/subscribe"));
  CHECK(IsModernTaskMethod("tasks/cancel"));
  CHECK_FALSE(IsModernTaskMethod("tasks/result"));
  CHECK_FALSE(IsModernTaskMethod("tasks/list"));
}

}  // namespace holdgate::mcp
