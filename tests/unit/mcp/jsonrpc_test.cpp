#include <catch2/catch.hpp>

#include "mcp/jsonrpc.h"

namespace holdgate::mcp {

TEST_CASE("requests, notifications and responses are classified", "[mcp]") {
  Message m;
  REQUIRE(ParseMessage(R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}})", &m).ok());
  CHECK(m.is_request());
  CHECK(m.method() == "tools/call");
  CHECK(m.id() == 7);
  REQUIRE(ParseMessage(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", &m).ok());
  CHECK(m.is_notification());
  CHECK(m.params().is_object());
  REQUIRE(ParseMessage(R"({"jsonrpc":"2.0","id":"a","result":{}})", &m).ok());
  CHECK(m.is_response());
  REQUIRE(ParseMessage(R"({"jsonrpc":"2.0","id":"a","error":{"code":-1,"message":"x"}})", &m).ok());
  CHECK(m.is_response());
}

TEST_CASE("malformed messages get the JSON-RPC error codes", "[mcp]") {
  Message m;
  CHECK(ParseMessage("{nope", &m).code == kParseError);
  CHECK(ParseMessage("[]", &m).code == kInvalidRequest);
  CHECK(ParseMessage("42", &m).code == kInvalidRequest);
  CHECK(ParseMessage(R"({"id":1,"method":"x"})", &m).code == kInvalidRequest);
  RpcError e = ParseMessage(R"({"jsonrpc":"2.0","id":3,"method":5})", &m);
  CHECK(e.code == kInvalidRequest);
  CHECK(e.id == 3);
  CHECK(ParseMessage(R"({"jsonrpc":"2.0","id":null,"method":"x"})", &m).code == kInvalidRequest);
  CHECK(ParseMessage(R"({"jsonrpc":"2.0","id":{},"method":"x"})", &m).code == kInvalidRequest);
  CHECK(ParseMessage(R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})", &m).code == kInvalidRequest);
  CHECK(ParseMessage(R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1}})", &m).code == kInvalidRequest);
}

TEST_CASE("builders and progress tokens", "[mcp]") {
  Json r = MakeError(5, kInvalidParams, "Unknown tool: x");
  CHECK(r["error"]["code"] == kInvalidParams);
  CHECK(r["id"] == 5);
  Json t = ToolTextResult("no", true);
  CHECK(t["isError"] == true);
  CHECK(t["content"][0]["text"] == "no");
  CHECK(ProgressToken(Json::parse(R"({"params":{"_meta":{"progressToken":"p"}}})")) == "p");
  CHECK(ProgressToken(Json::parse(R"({"params":{}})")).is_null());
  CHECK(IsSupportedProtocolVersion("2025-06-18"));
  CHECK_FALSE(IsSupportedProtocolVersion("1.0.0"));
}

}  // namespace holdgate::mcp
