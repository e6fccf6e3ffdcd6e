// libFuzzer target: the JSON-RPC/MCP message parser (mcp::ParseMessage) and what the gateway does
// with a parsed message before policy: method, id, params, progress token, error replies,
// canonical JSON (the approval fingerprint) and serialisation of untrusted strings.
#include <cstdint>
#include <string>

#include "common/json_util.h"
#include "fuzz/fuzz_util.h"
#include "mcp/jsonrpc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace holdgate;
  std::string_view text = fuzz::AsView(data, size);
  mcp::Message msg;
  mcp::RpcError err = mcp::ParseMessage(text, &msg);
  if (!err.ok()) {
    // The error reply must serialise whatever id the peer sent.
    (void)DumpJson(mcp::MakeError(err.id, err.code, err.message));
    return 0;
  }
  if (msg.is_request() || msg.is_notification()) {
    std::string method = msg.method();
    Json params = msg.params();
    (void)mcp::ProgressToken(msg.json);
    if (msg.is_request()) (void)DumpJson(mcp::MakeResult(msg.id(), Json::object()));
    if (method == "tools/call" && params.is_object()) {
      auto name = params.find("name");
      auto args = params.find("arguments");
      Json fp = {{"tool", name != params.end() ? *name : Json()},
                 {"arguments", args != params.end() ? *args : Json::object()}};
      (void)CanonicalJson(fp);
    }
  } else {
    (void)msg.id();
  }
  (void)DumpJson(msg.json);
  (void)CanonicalJson(msg.json);
  return 0;
}
