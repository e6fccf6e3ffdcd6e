#include "mcp/era.h"

#include <ctime>

#include "common/crypto.h"
#include "mcp/jsonrpc.h"

namespace holdgate::mcp {
namespace {

const Json* MetaOf(const Json& params) {
  if (!params.is_object()) return nullptr;
  auto it = params.find("_meta");
  return it != params.end() && it->is_object() ? &*it : nullptr;
}

EraVerdict Reject(int code, std::string message, Json data = nullptr, int http_status = 400) {
  EraVerdict v;
  v.kind = EraVerdict::Kind::kReject;
  v.code = code;
  v.message = std::move(message);
  v.data = std::move(data);
  v.http_status = http_status;
  return v;
}

EraVerdict Mismatch(const std::string& header, const std::string& what) {
  return Reject(kHeaderMismatch, "Bad Request: the request headers and body disagree: " + what,
                Json{{"mismatch", {{"header", header}, {"body", what}}}});
}

// The body field Mcp-Name mirrors for `method`, or nullptr when the method has none.
const char* NameField(std::string_view method) {
  if (method == "tools/call" || method == "prompts/get") return "name";
  if (method == "resources/read") return "uri";
  if (method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel") return "taskId";
  return nullptr;
}

// Mcp-Name as sent, or decoded from "=?base64?…?="; false when the sentinel's payload is not
// canonical base64.
bool DecodeParamHeader(const std::string& value, std::string* out) {
  static constexpr std::string_view kPrefix = "=?base64?";
  static constexpr std::string_view kSuffix = "?=";
  if (value.size() < kPrefix.size() + kSuffix.size() || value.compare(0, kPrefix.size(), kPrefix) != 0 ||
      value.compare(value.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    *out = value;
    return true;
  }
  std::string b64 = value.substr(kPrefix.size(), value.size() - kPrefix.size() - kSuffix.size());
  if (!Base64Decode(b64, out)) return false;
  return Base64Encode(*out) == b64;  // canonical only
}

// The first problem with a 2026 envelope, or "" when it is valid.
std::string EnvelopeProblem(const Json& meta) {
  if (!meta.contains(kMetaProtocolVersion)) return std::string(kMetaProtocolVersion) + ": missing";
  if (!meta.contains(kMetaClientCapabilities)) return std::string(kMetaClientCapabilities) + ": missing";
  if (!meta[kMetaProtocolVersion].is_string()) return std::string(kMetaProtocolVersion) + ": expected a string";
  if (!meta[kMetaClientCapabilities].is_object()) return std::string(kMetaClientCapabilities) + ": expected an object";
  if (meta.contains(kMetaClientInfo)) {
    const Json& info = meta[kMetaClientInfo];
    if (!info.is_object() || !info.contains("name") || !info["name"].is_string() || !info.contains("version") ||
        !info["version"].is_string()) {
      return std::string(kMetaClientInfo) + ": expected {name, version} strings";
    }
  }
  return "";
}

}  // namespace

bool IsModernProtocolVersion(std::string_view version) { return version >= kModernProtocolVersion; }

const std::vector<std::string>& SupportedModernVersions() {
  static const std::vector<std::string> versions = {std::string(kModernProtocolVersion)};
  return versions;
}

std::vector<std::string> AllSupportedVersions() {
  std::vector<std::string> all = SupportedModernVersions();
  for (const auto& v : SupportedProtocolVersions()) all.push_back(v);
  return all;
}

EraVerdict ClassifyPost(const Json& body, const PostHeaders& headers) {
  EraVerdict legacy;
  if (!body.is_object() || !body.contains("method")) return legacy;  // responses, invalid shapes
  const std::string method = body["method"].is_string() ? body["method"].get<std::string>() : "";
  const bool is_request = body.contains("id");
  const Json params = body.contains("params") ? body["params"] : Json();
  const Json* meta = MetaOf(params);
  const bool claim = meta != nullptr && meta->contains(kMetaProtocolVersion);
  const bool header_modern = headers.protocol_version && IsModernProtocolVersion(*headers.protocol_version);

  if (is_request && method == "initialize" && !(claim && (*meta)[kMetaProtocolVersion].is_string() &&
                                                IsModernProtocolVersion((*meta)[kMetaProtocolVersion].get<std::string>()) &&
                                                EnvelopeProblem(*meta).empty())) {
    if (header_modern) {
      return Mismatch(*headers.protocol_version,
                      "an initialize request (2025 handshake) was sent with MCP-Protocol-Version " +
                          *headers.protocol_version);
    }
    return legacy;
  }
  if (!claim) {
    if (header_modern) {
      return Reject(kInvalidParams,
                    "Invalid params: the MCP-Protocol-Version header names protocol revision " +
                        *headers.protocol_version + ", but the request has no _meta envelope (" +
                        kMetaProtocolVersion + ", " + kMetaClientCapabilities + ")",
                    Json{{"envelope", {{"missing", Json::array({kMetaProtocolVersion, kMetaClientCapabilities})}}}});
    }
    return legacy;
  }
  if (std::string problem = EnvelopeProblem(*meta); !problem.empty()) {
    return Reject(kInvalidParams, "Invalid _meta envelope for protocol revision 2026-07-28: " + problem);
  }
  const std::string claimed = (*meta)[kMetaProtocolVersion].get<std::string>();
  if (headers.protocol_version && *headers.protocol_version != claimed) {
    return Mismatch(*headers.protocol_version, "the body envelope names protocol version " + claimed +
                                                   " but the MCP-Protocol-Version header names " +
                                                   *headers.protocol_version);
  }
  if (headers.method && *headers.method != method) {
    return Mismatch(*headers.method, "the body names method " + method + " but the Mcp-Method header names " +
                                         *headers.method);
  }
  if (!IsModernProtocolVersion(claimed)) return legacy;  // an envelope naming a 2025 revision
  bool served = false;
  for (const auto& v : SupportedModernVersions()) served = served || v == claimed;
  if (!served) {
    return Reject(kUnsupportedProtocolVersion, "Unsupported protocol version: " + claimed,
                  Json{{"supported", AllSupportedVersions()}, {"requested", claimed}});
  }
  if (is_request) {
    if (!headers.protocol_version) {
      return Mismatch("(missing)", "the body envelope names protocol version " + claimed +
                                       " but the required MCP-Protocol-Version header is absent");
    }
    if (!headers.method) {
      return Mismatch("(missing)", "the body names method " + method + " but the required Mcp-Method header is absent");
    }
    if (const char* field = NameField(method)) {
      const bool body_has = params.is_object() && params.contains(field) && params[field].is_string();
      const std::string body_value = body_has ? params[field].get<std::string>() : "";
      if (!headers.name) {
        if (body_has) {
          return Mismatch("(missing)", std::string("the body carries params.") + field + "=\"" + body_value +
                                           "\" but the required Mcp-Name header is absent");
        }
      } else {
        std::string decoded;
        if (!DecodeParamHeader(*headers.name, &decoded)) {
          return Mismatch(*headers.name, "the Mcp-Name header carries an invalid Base64 sentinel value");
        }
        if (body_has && decoded != body_value) {
          return Mismatch(*headers.name, std::string("the body carries params.") + field + "=\"" + body_value +
                                             "\" but the Mcp-Name header names \"" + decoded + "\"");
        }
      }
    }
  }
  EraVerdict modern;
  modern.kind = EraVerdict::Kind::kModern;
  modern.version = claimed;
  modern.client_capabilities = (*meta)[kMetaClientCapabilities];
  modern.client_info = meta->contains(kMetaClientInfo) ? (*meta)[kMetaClientInfo] : Json();
  return modern;
}

Json StripEnvelope(Json params) {
  if (!params.is_object()) return params;
  auto it = params.find("_meta");
  if (it == params.end() || !it->is_object()) return params;
  for (auto m = it->begin(); m != it->end();) {
    if (m.key().rfind("io.modelcontextprotocol/", 0) == 0) m = it->erase(m);
    else ++m;
  }
  if (it->empty()) params.erase(it);
  return params;
}

bool IsModernRequestMethod(std::string_view method) {
  static constexpr std::string_view kMethods[] = {
      "server/discover", "tools/call",     "tools/list",          "prompts/get",         "prompts/list",
      "resources/list",  "resources/read", "resources/templates/list", "completion/complete", "subscriptions/listen"};
  for (auto m : kMethods) {
    if (m == method) return true;
  }
  return false;
}

bool IsModernTaskMethod(std::string_view method) {
  return method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel";
}

void ShapeModernResponse(std::string_view method, Json* response) {
  auto r = response->find("result");
  if (r == response->end() || !r->is_object()) return;
  if (!r->contains("resultType")) (*r)["resultType"] = "complete";
  const bool cacheable = method == "tools/list" || method == "prompts/list" || method == "resources/list" ||
                         method == "resources/templates/list" || method == "resources/read";
  if (cacheable) {
    if (!r->contains("ttlMs")) (*r)["ttlMs"] = 0;
    if (!r->contains("cacheScope")) (*r)["cacheScope"] = "private";
  }
  if (method == "tools/list" && r->contains("tools") && (*r)["tools"].is_array()) {
    for (auto& tool : (*r)["tools"]) {
      if (tool.is_object()) tool.erase("execution");
    }
  }
}

bool DeclaresTasksExtension(const Json& caps) {
  if (!caps.is_object()) return false;
  auto ext = caps.find("extensions");
  return ext != caps.end() && ext->is_object() && ext->contains(kTasksExtension);
}

std::string IsoTime(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace holdgate::mcp
