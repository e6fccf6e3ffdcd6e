#pragma once
// The two eras of MCP an agent may speak to holdgate's HTTP endpoint, and how one POST is told
// apart, the way the v2 TypeScript SDK's server does it (body first, headers cross-checked):
//  - 2025 ("legacy"): initialize, then Mcp-Session-Id on every request (2025-11-25 and older).
//  - 2026-07-28 ("modern"): stateless. Every request carries a `_meta` envelope
//    (io.modelcontextprotocol/protocolVersion, …/clientCapabilities, optionally …/clientInfo)
//    and the headers MCP-Protocol-Version, Mcp-Method and (tools/call, prompts/get,
//    resources/read, tasks/get|update|cancel) Mcp-Name, which must agree with the body.
// Also what a 2026 answer must look like (resultType, cache fields) and the tasks extension's
// shape. Pure: no I/O, no state; safe from any thread.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_util.h"

namespace holdgate::mcp {

inline constexpr std::string_view kModernProtocolVersion = "2026-07-28";
inline constexpr char kMetaProtocolVersion[] = "io.modelcontextprotocol/protocolVersion";
inline constexpr char kMetaClientInfo[] = "io.modelcontextprotocol/clientInfo";
inline constexpr char kMetaClientCapabilities[] = "io.modelcontextprotocol/clientCapabilities";
inline constexpr char kMetaServerInfo[] = "io.modelcontextprotocol/serverInfo";
inline constexpr char kMetaLogLevel[] = "io.modelcontextprotocol/logLevel";
inline constexpr char kTasksExtension[] = "io.modelcontextprotocol/tasks";

inline constexpr int kHeaderMismatch = -32020;
inline constexpr int kMissingRequiredClientCapability = -32021;
inline constexpr int kUnsupportedProtocolVersion = -32022;

// Revisions are ISO dates: 2026-07-28 and later are the modern era.
bool IsModernProtocolVersion(std::string_view version);
// The modern revisions holdgate serves (newest first).
const std::vector<std::string>& SupportedModernVersions();
// Every revision holdgate serves, modern first, for server/discover and -32022's data.supported.
std::vector<std::string> AllSupportedVersions();

// The MCP headers of one POST, with optional whitespace already trimmed; nullopt = absent.
struct PostHeaders {
  std::optional<std::string> protocol_version;  // MCP-Protocol-Version
  std::optional<std::string> method;            // Mcp-Method
  std::optional<std::string> name;              // Mcp-Name (may be =?base64?…?=)
};

struct EraVerdict {
  enum class Kind { kLegacy, kModern, kReject };
  Kind kind = Kind::kLegacy;
  // kModern: the revision, the client's capabilities and info from the envelope.
  std::string version;
  Json client_capabilities = Json::object();
  Json client_info;
  // kReject: HTTP status and a JSON-RPC error (code, message, data) answered with the request's id.
  int http_status = 400;
  int code = 0;
  std::string message;
  Json data;
};

// Classifies one parsed POST body (a JSON-RPC request or notification; responses are legacy).
//  - initialize without a modern envelope: legacy (-32020 when the header names a modern revision).
//  - a body with an envelope claim: the envelope must be valid (-32602), header and body must
//    agree on version and method (-32020); a modern claim holdgate does not serve is -32022 with
//    data.supported; then, for requests, the standard headers must be present and Mcp-Name must
//    mirror params.name / uri / taskId (-32020). An envelope naming a 2025 revision is legacy.
//  - no claim but a modern MCP-Protocol-Version header: -32602 (the envelope is missing).
//  - anything else: legacy (the 2025 session path).
EraVerdict ClassifyPost(const Json& body, const PostHeaders& headers);

// `params` without the envelope's reserved keys (what a 2025 upstream should see): every
// `io.modelcontextprotocol/` key of params._meta is removed, other keys (progressToken,
// traceparent, …) stay; an emptied _meta is removed.
Json StripEnvelope(Json params);

// Request methods of the 2026-07-28 revision (server/discover, tools/*, prompts/*, resources/list,
// resources/templates/list, resources/read, completion/complete, subscriptions/listen).
bool IsModernRequestMethod(std::string_view method);
// tasks/get, tasks/update, tasks/cancel (the tasks extension).
bool IsModernTaskMethod(std::string_view method);

// Makes a JSON-RPC response fit a 2026 agent: a result gets resultType "complete" when it has no
// resultType, list results and resources/read get ttlMs 0 and cacheScope "private" when absent,
// and tools/list drops the 2025 `execution` member. Errors are left alone.
void ShapeModernResponse(std::string_view method, Json* response);

// Whether capabilities (the envelope's clientCapabilities) declare the tasks extension.
bool DeclaresTasksExtension(const Json& client_capabilities);

// ISO 8601 UTC with milliseconds, e.g. "2026-12-06T10:00:00.000Z".
std::string IsoTime(int64_t ms_since_epoch);

}  // namespace holdgate::mcp
