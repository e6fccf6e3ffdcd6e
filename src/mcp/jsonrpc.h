#pragma once
// JSON-RPC 2.0 messages as MCP uses them (2025-11-25, accepting 2025-06-18 and 2025-03-26 peers).
// Pure: no I/O, no threads. A message is kept as the JSON the peer sent, so fields we do not know
// pass through untouched; ids are kept as JSON and echoed back unchanged.
#include <string>
#include <string_view>
#include <vector>

#include "common/json_util.h"

namespace holdgate::mcp {

// JSON-RPC and MCP error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kConnectionClosed = -32000;  // also "server error" for transport failures
inline constexpr int kRequestTimeout = -32001;

inline constexpr std::string_view kLatestProtocolVersion = "2025-11-25";
// Newest first. A client asking for another version is answered with the latest.
const std::vector<std::string>& SupportedProtocolVersions();
bool IsSupportedProtocolVersion(std::string_view version);

enum class Kind { kRequest, kNotification, kResponse };

struct Message {
  Kind kind = Kind::kNotification;
  Json json;  // the whole message object

  bool is_request() const { return kind == Kind::kRequest; }
  bool is_notification() const { return kind == Kind::kNotification; }
  bool is_response() const { return kind == Kind::kResponse; }
  // REQUIRES: request or notification.
  std::string method() const;
  // REQUIRES: request or response. Number or string.
  const Json& id() const { return json.at("id"); }
  // params, or an empty object when absent.
  Json params() const;
};

// Why a text could not become a Message: answered with an error response carrying `id` (null when
// the id could not be read).
struct RpcError {
  int code = 0;
  std::string message;
  Json id;  // null when unknown
  bool ok() const { return code == 0; }
};

// Parses one JSON-RPC message. Batches (arrays) are refused with kInvalidRequest, as 2025-06-18
// removed them.
RpcError ParseMessage(std::string_view text, Message* out);
// Classifies an already-parsed JSON value.
RpcError ClassifyMessage(Json value, Message* out);

Json MakeRequest(const Json& id, std::string_view method, Json params);
Json MakeNotification(std::string_view method, Json params);
Json MakeResult(const Json& id, Json result);
Json MakeError(const Json& id, int code, std::string_view message, const Json& data = nullptr);

// A CallToolResult with one text block; isError set when `is_error`.
Json ToolTextResult(std::string_view text, bool is_error);

// The progress token of a request (params._meta.progressToken), or null.
Json ProgressToken(const Json& request);

}  // namespace holdgate::mcp
