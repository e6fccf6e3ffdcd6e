#include "upstream/era.h"

#include <algorithm>

#include "common/crypto.h"

namespace holdgate::upstream {
namespace {

// Error codes that are deliberately no era evidence (a 2025 server's "session not found",
// HeaderMismatch, MissingRequiredClientCapability): like any other error they mean legacy.
bool IsStringArray(const Json& value) {
  if (!value.is_array()) return false;
  return std::all_of(value.begin(), value.end(), [](const Json& v) { return v.is_string(); });
}

std::vector<std::string> Strings(const Json& array) {
  std::vector<std::string> out;
  for (const Json& v : array) out.push_back(v.get<std::string>());
  return out;
}

// The first of our modern versions that `supported` lists, or "".
std::string Mutual(const std::vector<std::string>& supported) {
  for (const std::string& ours : mcp::SupportedModernVersions()) {
    if (std::find(supported.begin(), supported.end(), ours) != supported.end()) return ours;
  }
  return "";
}

ProbeVerdict Legacy() { return ProbeVerdict{ProbeVerdict::Kind::kLegacy, "", nullptr, ""}; }
ProbeVerdict Error(std::string message) {
  return ProbeVerdict{ProbeVerdict::Kind::kError, "", nullptr, std::move(message)};
}

ProbeVerdict ClassifyRpcError(int code, const std::string& message, const Json& data, const std::string& requested) {
  if (code != kUnsupportedProtocolVersion) return Legacy();
  if (!data.is_object() || !IsStringArray(data.value("supported", Json()))) return Legacy();
  std::vector<std::string> supported = Strings(data["supported"]);
  std::string mutual = Mutual(supported);
  if (!mutual.empty()) return ProbeVerdict{ProbeVerdict::Kind::kCorrective, mutual, nullptr, ""};
  bool offers_modern = std::any_of(supported.begin(), supported.end(), [](const std::string& v) {
    return v.size() == 10 && mcp::IsModernProtocolVersion(v);
  });
  if (offers_modern) {
    return Error("upstream supports only protocol versions " + DumpJson(data["supported"]) +
                 ", none of which holdgate speaks (asked for " + requested + "): " + message);
  }
  return Legacy();
}

// Mirrors what a 2025 agent could send: the Mcp-Name value, base64-wrapped when it is not plain
// printable ASCII.
std::string EncodeHeaderValue(const std::string& value) {
  static const std::string prefix = "=?base64?", suffix = "?=";
  bool plain = !value.empty() && value.front() != ' ' && value.back() != ' ' &&
               !(value.rfind(prefix, 0) == 0 && value.size() >= suffix.size() &&
                 value.compare(value.size() - suffix.size(), suffix.size(), suffix) == 0);
  for (unsigned char c : value) {
    if (!(c == '\t' || (c >= 32 && c <= 126))) plain = false;
  }
  if (value.front() == '\t' || value.back() == '\t') plain = false;
  return plain ? value : prefix + Base64Encode(value) + suffix;
}

const char* NameField(const std::string& method) {
  if (method == "tools/call" || method == "prompts/get") return "name";
  if (method == "resources/read") return "uri";
  if (method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel") return "taskId";
  return nullptr;
}

}  // namespace

ProbeVerdict ClassifyProbe(const ProbeOutcome& outcome, const std::string& requested) {
  switch (outcome.kind) {
    case ProbeOutcome::Kind::kResult: {
      const Json& r = outcome.result;
      if (!r.is_object() || !IsStringArray(r.value("supportedVersions", Json())) ||
          !r.value("capabilities", Json()).is_object()) {
        return Legacy();  // not a discover result: a 2025 server that answered something else
      }
      std::string mutual = Mutual(Strings(r["supportedVersions"]));
      if (mutual.empty()) return Legacy();
      return ProbeVerdict{ProbeVerdict::Kind::kModern, mutual, r, ""};
    }
    case ProbeOutcome::Kind::kRpcError:
      return ClassifyRpcError(outcome.code, outcome.message, outcome.data, requested);
    case ProbeOutcome::Kind::kHttpError: {
      if (outcome.http_status == 401 || outcome.http_status == 403) {
        return Error("upstream refused server/discover with HTTP " + std::to_string(outcome.http_status) +
                     " (it needs credentials holdgate does not send)");
      }
      if (outcome.http_status >= 500 || outcome.http_status < 400) {
        return Error("upstream answered server/discover with HTTP " + std::to_string(outcome.http_status) +
                     (outcome.body.empty() ? "" : ": " + outcome.body.substr(0, 300)));
      }
      Result<Json> body = ParseJson(outcome.body);
      if (body.ok() && body.value().is_object() && body.value().contains("error") &&
          body.value()["error"].is_object() && body.value()["error"].value("code", Json()).is_number_integer()) {
        const Json& e = body.value()["error"];
        return ClassifyRpcError(e["code"].get<int>(), e.value("message", ""), e.value("data", Json()), requested);
      }
      return Legacy();
    }
    case ProbeOutcome::Kind::kNetworkError:
      return Error("upstream MCP server unreachable: " + outcome.detail);
    case ProbeOutcome::Kind::kUnusable:
      return Error("upstream answered server/discover with an unusable reply: " + outcome.detail);
  }
  return Legacy();
}

Json UpstreamClientCapabilities(const Json& capabilities) {
  Json caps = capabilities.is_object() ? capabilities : Json::object();
  caps.erase("tasks");
  auto ext = caps.find("extensions");
  if (ext != caps.end() && ext->is_object()) {
    ext->erase(kTasksExtension);
    if (ext->empty()) caps.erase("extensions");
  }
  return caps;
}

Json WithEnvelope(const Json& message, const std::string& version, const Json& client_info,
                  const Json& client_capabilities, const std::string& log_level) {
  Json out = message;
  if (!out.contains("params") || !out["params"].is_object()) out["params"] = Json::object();
  Json& meta = out["params"]["_meta"];
  if (!meta.is_object()) meta = Json::object();
  meta[kMetaProtocolVersion] = version;  // the negotiated one, whatever the message said
  if (!meta.contains(kMetaClientInfo)) meta[kMetaClientInfo] = client_info;
  meta[kMetaClientCapabilities] = meta.contains(kMetaClientCapabilities)
                                      ? UpstreamClientCapabilities(meta[kMetaClientCapabilities])
                                      : client_capabilities;
  if (!log_level.empty() && !meta.contains(kMetaLogLevel)) meta[kMetaLogLevel] = log_level;
  return out;
}

std::vector<std::pair<std::string, std::string>> ModernHeaders(const Json& message, const std::string& version) {
  std::vector<std::pair<std::string, std::string>> out = {{"MCP-Protocol-Version", version}};
  const std::string method = message.value("method", "");
  if (method.empty()) return out;
  out.emplace_back("Mcp-Method", method);
  if (const char* field = NameField(method)) {
    const Json params = message.value("params", Json::object());
    if (params.is_object() && params.value(field, Json()).is_string()) {
      out.emplace_back("Mcp-Name", EncodeHeaderValue(params[field].get<std::string>()));
    }
  }
  return out;
}

Json SynthesizeInitializeResult(const Json& discover, const std::string& version) {
  Json out = {{"protocolVersion", version},
              {"capabilities", discover.value("capabilities", Json::object())}};
  Json server_info;
  if (discover.contains("_meta") && discover["_meta"].is_object()) {
    server_info = discover["_meta"].value(kMetaServerInfo, Json());
  }
  if (!server_info.is_object()) server_info = discover.value("serverInfo", Json());
  if (!server_info.is_object()) server_info = Json{{"name", "upstream"}, {"version", "unknown"}};
  out["serverInfo"] = server_info;
  if (discover.value("instructions", Json()).is_string()) out["instructions"] = discover["instructions"];
  return out;
}

ResultKind ClassifyResult(const Json& result) {
  if (!result.is_object()) return ResultKind::kComplete;
  auto it = result.find("resultType");
  if (it == result.end() || *it == "complete") return ResultKind::kComplete;
  if (*it == "input_required") return ResultKind::kInputRequired;
  return ResultKind::kUnsupported;
}

Json StripModernResultFields(Json result) {
  if (!result.is_object()) return result;
  result.erase("resultType");
  result.erase("ttlMs");
  result.erase("cacheScope");
  return result;
}

}  // namespace holdgate::upstream
