// The era decisions on their own: how a server/discover probe outcome is classified (as the
// reference client's `auto` mode does), what a 2026 request carries (envelope, headers, the
// capabilities without tasks), and how a 2026 result is presented to a 2025-shaped gateway.
#include <catch2/catch.hpp>

#include "common/json_util.h"
#include "upstream/era.h"

namespace holdgate::upstream {
namespace {

ProbeOutcome Result(Json result) {
  ProbeOutcome o;
  o.kind = ProbeOutcome::Kind::kResult;
  o.result = std::move(result);
  return o;
}

ProbeOutcome RpcError(int code, Json data) {
  ProbeOutcome o;
  o.kind = ProbeOutcome::Kind::kRpcError;
  o.code = code;
  o.message = "nope";
  o.data = std::move(data);
  return o;
}

ProbeOutcome Http(int status, std::string body = "") {
  ProbeOutcome o;
  o.kind = ProbeOutcome::Kind::kHttpError;
  o.http_status = status;
  o.body = std::move(body);
  return o;
}

const Json kDiscover = {{"supportedVersions", {"2026-07-28"}},
                        {"capabilities", {{"tools", Json::object()}}},
                        {"instructions", "be nice"},
                        {"resultType", "complete"},
                        {"_meta", {{"io.modelcontextprotocol/serverInfo", {{"name", "s"}, {"version", "1"}}}}}};

TEST_CASE("era: a discover result sharing a version is modern", "[upstream][era]") {
  ProbeVerdict v = ClassifyProbe(Result(kDiscover), "2026-07-28");
  CHECK(v.kind == ProbeVerdict::Kind::kModern);
  CHECK(v.version == "2026-07-28");
  CHECK(v.discover == kDiscover);
}

TEST_CASE("era: a discover result without a shared version, or not a discover result, is legacy", "[upstream][era]") {
  Json other = kDiscover;
  other["supportedVersions"] = {"2027-01-01"};
  CHECK(ClassifyProbe(Result(other), "2026-07-28").kind == ProbeVerdict::Kind::kLegacy);
  CHECK(ClassifyProbe(Result(Json::object()), "2026-07-28").kind == ProbeVerdict::Kind::kLegacy);
  CHECK(ClassifyProbe(Result({{"supportedVersions", {"2026-07-28"}}}), "2026-07-28").kind ==
        ProbeVerdict::Kind::kLegacy);  // no capabilities
}

TEST_CASE("era: -32022 naming a shared version is a corrective retry", "[upstream][era]") {
  ProbeVerdict v = ClassifyProbe(RpcError(-32022, {{"supported", {"2027-01-01", "2026-07-28"}}}), "2027-01-01");
  CHECK(v.kind == ProbeVerdict::Kind::kCorrective);
  CHECK(v.version == "2026-07-28");
}

TEST_CASE("era: -32022 with only unknown modern versions is an error - with only 2025 versions legacy", "[upstream][era]") {
  ProbeVerdict v = ClassifyProbe(RpcError(-32022, {{"supported", {"2027-01-01"}}}), "2026-07-28");
  CHECK(v.kind == ProbeVerdict::Kind::kError);
  CHECK_THAT(v.error, Catch::Contains("2027-01-01"));
  CHECK(ClassifyProbe(RpcError(-32022, {{"supported", {"2025-11-25", "2025-06-18"}}}), "2026-07-28").kind ==
        ProbeVerdict::Kind::kLegacy);
  CHECK(ClassifyProbe(RpcError(-32022, Json()), "2026-07-28").kind == ProbeVerdict::Kind::kLegacy);  // no list
}

TEST_CASE("era: other JSON-RPC errors are no era evidence: legacy", "[upstream][era]") {
  for (int code : {-32601, -32600, -32000, -32001, -32020, -32021}) {
    INFO(code);
    CHECK(ClassifyProbe(RpcError(code, Json()), "2026-07-28").kind == ProbeVerdict::Kind::kLegacy);
  }
}

TEST_CASE("era: HTTP 4xx is legacy unless its body is a -32022 - 401/403 and 5xx are hard errors", "[upstream][era]") {
  CHECK(ClassifyProbe(Http(400, "Bad Request: Server not initialized"), "2026-07-28").kind ==
        ProbeVerdict::Kind::kLegacy);
  CHECK(ClassifyProbe(Http(404), "2026-07-28").kind == ProbeVerdict::Kind::kLegacy);
  CHECK(ClassifyProbe(Http(405), "2026-07-28").kind == ProbeVerdict::Kind::kLegacy);
  CHECK(ClassifyProbe(Http(400, R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"no session"}})"),
                      "2026-07-28").kind == ProbeVerdict::Kind::kLegacy);
  ProbeVerdict corrective = ClassifyProbe(
      Http(400, R"({"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"x","data":{"supported":["2026-07-28"]}}})"),
      "2027-01-01");
  CHECK(corrective.kind == ProbeVerdict::Kind::kCorrective);
  CHECK(corrective.version == "2026-07-28");
  for (int status : {401, 403, 500, 502, 503}) {
    INFO(status);
    ProbeVerdict v = ClassifyProbe(Http(status, "boom"), "2026-07-28");
    CHECK(v.kind == ProbeVerdict::Kind::kError);
    CHECK_THAT(v.error, Catch::Contains(std::to_string(status)));
  }
}

TEST_CASE("era: network failures and unusable 2xx replies are hard errors", "[upstream][era]") {
  ProbeOutcome net;
  net.kind = ProbeOutcome::Kind::kNetworkError;
  net.detail = "Connection";
  ProbeVerdict v = ClassifyProbe(net, "2026-07-28");
  CHECK(v.kind == ProbeVerdict::Kind::kError);
  CHECK_THAT(v.error, Catch::Contains("unreachable"));
  ProbeOutcome unusable;
  unusable.kind = ProbeOutcome::Kind::kUnusable;
  CHECK(ClassifyProbe(unusable, "2026-07-28").kind == ProbeVerdict::Kind::kError);
}

TEST_CASE("era: the capabilities sent upstream lose the tasks extension and 2025 tasks, nothing else", "[upstream][era]") {
  Json caps = {{"sampling", Json::object()},
               {"elicitation", {{"form", Json::object()}}},
               {"tasks", {{"requests", Json::object()}}},
               {"extensions", {{"io.modelcontextprotocol/tasks", Json::object()}, {"x.y/z", {{"a", 1}}}}}};
  Json out = UpstreamClientCapabilities(caps);
  CHECK(out == Json{{"sampling", Json::object()},
                    {"elicitation", {{"form", Json::object()}}},
                    {"extensions", {{"x.y/z", {{"a", 1}}}}}});
  CHECK(UpstreamClientCapabilities({{"extensions", {{"io.modelcontextprotocol/tasks", Json::object()}}}}) ==
        Json::object());
  CHECK(UpstreamClientCapabilities(nullptr) == Json::object());
}

TEST_CASE("era: the envelope joins params._meta, keeps an agent's own identity, never tasks", "[upstream][era]") {
  Json request = {{"jsonrpc", "2.0"}, {"id", 7}, {"method", "tools/call"},
                  {"params", {{"name", "t"}, {"_meta", {{"progressToken", "p"}}}}}};
  Json out = WithEnvelope(request, "2026-07-28", {{"name", "agent"}}, {{"sampling", Json::object()}}, "");
  const Json& meta = out["params"]["_meta"];
  CHECK(meta["progressToken"] == "p");
  CHECK(meta[kMetaProtocolVersion] == "2026-07-28");
  CHECK(meta[kMetaClientInfo] == Json{{"name", "agent"}});
  CHECK(meta[kMetaClientCapabilities] == Json{{"sampling", Json::object()}});
  CHECK_FALSE(meta.contains(kMetaLogLevel));
  Json list = WithEnvelope({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/list"}}, "2026-07-28", Json::object(),
                           Json::object(), "debug");
  CHECK(list["params"]["_meta"][kMetaLogLevel] == "debug");
  // A 2026 agent's own envelope: its identity stays, the version is the negotiated one, no tasks.
  Json own = {{"method", "tools/list"},
              {"params", {{"_meta", {{kMetaProtocolVersion, "2099-01-01"},
                                     {kMetaClientInfo, {{"name", "modern-agent"}}},
                                     {kMetaClientCapabilities, {{"extensions", {{kTasksExtension, Json::object()}}},
                                                                {"sampling", Json::object()}}}}}}}};
  Json kept = WithEnvelope(own, "2026-07-28", {{"name", "holdgate"}}, Json::object(), "")["params"]["_meta"];
  CHECK(kept[kMetaProtocolVersion] == "2026-07-28");
  CHECK(kept[kMetaClientInfo] == Json{{"name", "modern-agent"}});
  CHECK(kept[kMetaClientCapabilities] == Json{{"sampling", Json::object()}});
}

TEST_CASE("era: headers name the method and the tool, resource, prompt or task", "[upstream][era]") {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  CHECK(ModernHeaders({{"method", "tools/call"}, {"params", {{"name", "cancel_job"}}}}, "2026-07-28") ==
        Headers{{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", "cancel_job"}});
  CHECK(ModernHeaders({{"method", "resources/read"}, {"params", {{"uri", "file:///a b"}}}}, "2026-07-28").back() ==
        std::pair<std::string, std::string>{"Mcp-Name", "file:///a b"});
  CHECK(ModernHeaders({{"method", "prompts/get"}, {"params", {{"name", "p"}}}}, "2026-07-28").back().second == "p");
  CHECK(ModernHeaders({{"method", "tasks/get"}, {"params", {{"taskId", "t-1"}}}}, "2026-07-28").back().second == "t-1");
  CHECK(ModernHeaders({{"method", "tools/list"}}, "2026-07-28") ==
        Headers{{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/list"}});
  // Not plain printable ASCII: the base64 form ("é" is C3 A9).
  CHECK(ModernHeaders({{"method", "tools/call"}, {"params", {{"name", "caf\xC3\xA9"}}}}, "2026-07-28").back().second ==
        "=?base64?Y2Fmw6k=?=");
  CHECK(ModernHeaders({{"method", "tools/call"}, {"params", {{"name", " x"}}}}, "2026-07-28").back().second ==
        "=?base64?IHg=?=");
}

TEST_CASE("era: the synthesized InitializeResult", "[upstream][era]") {
  Json init = SynthesizeInitializeResult(kDiscover, "2026-07-28");
  CHECK(init == Json{{"protocolVersion", "2026-07-28"},
                     {"capabilities", {{"tools", Json::object()}}},
                     {"serverInfo", {{"name", "s"}, {"version", "1"}}},
                     {"instructions", "be nice"}});
  Json bare = SynthesizeInitializeResult({{"supportedVersions", {"2026-07-28"}}, {"capabilities", Json::object()}},
                                         "2026-07-28");
  CHECK(bare["serverInfo"]["name"] == "upstream");
  CHECK_FALSE(bare.contains("instructions"));
}

TEST_CASE("era: results: complete is stripped of 2026 members - input_required and others are told apart", "[upstream][era]") {
  Json complete = {{"resultType", "complete"}, {"tools", Json::array()}, {"ttlMs", 0}, {"cacheScope", "private"},
                   {"_meta", {{"k", 1}}}};
  CHECK(ClassifyResult(complete) == ResultKind::kComplete);
  CHECK(StripModernResultFields(complete) == Json{{"tools", Json::array()}, {"_meta", {{"k", 1}}}});
  CHECK(ClassifyResult({{"content", Json::array()}}) == ResultKind::kComplete);
  CHECK(ClassifyResult({{"resultType", "input_required"}}) == ResultKind::kInputRequired);
  CHECK(ClassifyResult({{"resultType", "task"}, {"taskId", "x"}}) == ResultKind::kUnsupported);
}

}  // namespace
}  // namespace holdgate::upstream
