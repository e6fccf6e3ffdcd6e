#pragma once
// Protocol eras on the upstream side: the client half of MCP 2026-07-28 version negotiation
// (`server/discover` first, one corrective retry on -32022, the 2025 `initialize` only on a legacy
// verdict), the per-request `_meta` envelope and standard headers a 2026 request carries, and the
// translation of 2026 results into what a 2025-shaped gateway understands. Pure: no I/O, no
// threads, no locks; the HTTP upstream does the exchanges.
//
// The decisions mirror the reference (TypeScript v2) client's `auto` negotiation mode: a usable
// discover result sharing a version is modern; a -32022 naming a shared modern version gets one
// corrective retry; any other 4xx or JSON-RPC error, or a result that is not a discover result, is
// a legacy verdict (fall back to `initialize`); 401/403, 5xx, network failures and unusable 2xx
// replies are hard errors.
#include <string>
#include <utility>
#include <vector>

#include "common/json_util.h"
#include "mcp/era.h"

namespace holdgate::upstream {

// The revisions, envelope keys, extension name and error codes are the protocol's (mcp/era.h);
// the modern revisions holdgate speaks upstream are mcp::SupportedModernVersions().
using mcp::kMetaClientCapabilities;
using mcp::kMetaClientInfo;
using mcp::kMetaLogLevel;
using mcp::kMetaProtocolVersion;
using mcp::kMetaServerInfo;
using mcp::kTasksExtension;
using mcp::kUnsupportedProtocolVersion;

// What one `server/discover` probe got back.
struct ProbeOutcome {
  enum class Kind {
    kResult,        // a JSON-RPC result (`result`)
    kRpcError,      // a JSON-RPC error in a 2xx reply (`code`, `message`, `data`)
    kHttpError,     // a non-2xx status (`http_status`, `body`)
    kNetworkError,  // no HTTP answer at all (`detail`)
    kUnusable,      // 2xx without a JSON-RPC response to the probe (`detail`)
  };
  Kind kind = Kind::kNetworkError;
  Json result;
  int code = 0;
  std::string message;
  Json data;
  int http_status = 0;
  std::string body;
  std::string detail;
};

struct ProbeVerdict {
  enum class Kind {
    kModern,      // speak `version`; `discover` is the server's discover result
    kCorrective,  // probe again once, asking for `version`
    kLegacy,      // fall back to the 2025 initialize handshake
    kError,       // give up: `error` says why
  };
  Kind kind = Kind::kLegacy;
  std::string version;
  Json discover;
  std::string error;
};

// Classifies one probe outcome (the request asked for `requested`). A 2025 fallback is always
// available to holdgate, so a discover result without a shared version is a legacy verdict.
ProbeVerdict ClassifyProbe(const ProbeOutcome& outcome, const std::string& requested);

// The client capabilities sent upstream: the agent's, without what holdgate does not consume from
// an upstream (the tasks extension `io.modelcontextprotocol/tasks` and 2025 `tasks`: holdgate does
// not poll upstream tasks yet, so the upstream must not answer with one).
Json UpstreamClientCapabilities(const Json& capabilities);

// `message` (a request or notification) with the envelope added to params._meta. The protocol
// version is always `version`; a clientInfo or logLevel the message already carries (a 2026 agent's
// own envelope) is kept, and so are its clientCapabilities, minus what UpstreamClientCapabilities
// removes. `log_level` empty: none.
Json WithEnvelope(const Json& message, const std::string& version, const Json& client_info,
                  const Json& client_capabilities, const std::string& log_level);

// The standard headers of a 2026 POST: MCP-Protocol-Version, Mcp-Method and, for tools/call,
// prompts/get, resources/read and tasks/*, Mcp-Name (the tool or prompt name, resource URI or task
// id; values outside printable ASCII, with outer spaces or empty, in the `=?base64?…?=` form).
std::vector<std::pair<std::string, std::string>> ModernHeaders(const Json& message, const std::string& version);

// The 2025-style InitializeResult a 2026 upstream is presented as: protocolVersion = `version`,
// capabilities, serverInfo (from the discover result's `_meta` or body; a placeholder when absent),
// instructions.
Json SynthesizeInitializeResult(const Json& discover, const std::string& version);

// How a 2026 result is handed on.
enum class ResultKind { kComplete, kInputRequired, kUnsupported };
ResultKind ClassifyResult(const Json& result);
// A complete result without its 2026-only members (resultType, ttlMs, cacheScope).
Json StripModernResultFields(Json result);

}  // namespace holdgate::upstream
