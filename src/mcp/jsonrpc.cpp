#include "mcp/jsonrpc.h"

#include <algorithm>

namespace holdgate::mcp {

const std::vector<std::string>& SupportedProtocolVersions() {
  static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                    "2024-11-05"};
  return versions;
}

bool IsSupportedProtocolVersion(std::string_view version) {
  const auto& v = SupportedProtocolVersions();
  return std::find(v.begin(), v.end(), version) != v.end();
}

std::string Message::method() const {
  auto it = json.find("method");
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Json Message::params() const {
  auto it = json.find("params");
  if (it == json.end() || it->is_null()) return Json::object();
  return *it;
}

RpcError ParseMessage(std::string_view text, Message* out) {
  Result<Json> parsed = ParseJson(text);
  if (!parsed.ok()) return RpcError{kParseError, "Parse error: " + parsed.status().message(), nullptr};
  return ClassifyMessage(std::move(parsed.value()), out);
}

RpcError ClassifyMessage(Json value, Message* out) {
  if (value.is_array()) {
    return RpcError{kInvalidRequest, "Invalid Request: JSON-RPC batches are not supported", nullptr};
  }
  if (!value.is_object()) return RpcError{kInvalidRequest, "Invalid Request: not an object", nullptr};
  Json id = nullptr;
  auto id_it = value.find("id");
  bool has_id = id_it != value.end();
  if (has_id) {
    if (id_it->is_string() || id_it->is_number_integer() || id_it->is_number_unsigned()) id = *id_it;
    else if (!id_it->is_null()) return RpcError{kInvalidRequest, "Invalid Request: id must be a string or integer", nullptr};
  }
  auto v = value.find("jsonrpc");
  if (v == value.end() || !v->is_string() || *v != "2.0") {
    return RpcError{kInvalidRequest, "Invalid Request: jsonrpc must be \"2.0\"", id};
  }
  auto m = value.find("method");
  bool has_method = m != value.end();
  if (has_method) {
    if (!m->is_string() || m->get_ref<const std::string&>().empty()) {
      return RpcError{kInvalidRequest, "Invalid Request: method must be a non-empty string", id};
    }
    auto p = value.find("params");
    if (p != value.end() && !p->is_object() && !p->is_null()) {
      return RpcError{kInvalidRequest, "Invalid Request: params must be an object", id};
    }
    if (has_id && id.is_null()) return RpcError{kInvalidRequest, "Invalid Request: id must not be null", nullptr};
    out->kind = has_id ? Kind::kRequest : Kind::kNotification;
    out->json = std::move(value);
    return {};
  }
  bool has_result = value.contains("result");
  bool has_error = value.contains("error");
  if (!has_id || has_result == has_error) {
    return RpcError{kInvalidRequest, "Invalid Request: neither a request, a notification nor a response", id};
  }
  if (has_error) {
    const Json& e = value["error"];
    if (!e.is_object() || !e.contains("code") || !e["code"].is_number_integer()) {
      return RpcError{kInvalidRequest, "Invalid Request: error must carry an integer code", id};
    }
  }
  out->kind = Kind::kResponse;
  out->json = std::move(value);
  return {};
}

Json MakeRequest(const Json& id, std::string_view method, Json params) {
  Json j = {{"jsonrpc", "2.0"}, {"id", id}, {"method", std::string(method)}};
  if (!params.is_null()) j["params"] = std::move(params);
  return j;
}

Json MakeNotification(std::string_view method, Json params) {
  Json j = {{"jsonrpc", "2.0"}, {"method", std::string(method)}};
  if (!params.is_null()) j["params"] = std::move(params);
  return j;
}

Json MakeResult(const Json& id, Json result) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

Json MakeError(const Json& id, int code, std::string_view message, const Json& data) {
  Json err = {{"code", code}, {"message", std::string(message)}};
  if (!data.is_null()) err["data"] = data;
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

Json ToolTextResult(std::string_view text, bool is_error) {
  return Json{{"content", Json::array({Json{{"type", "text"}, {"text", std::string(text)}}})},
              {"isError", is_error}};
}

Json ProgressToken(const Json& request) {
  auto p = request.find("params");
  if (p == request.end() || !p->is_object()) return nullptr;
  auto meta = p->find("_meta");
  if (meta == p->end() || !meta->is_object()) return nullptr;
  auto t = meta->find("progressToken");
  return t == meta->end() ? Json(nullptr) : *t;
}

}  // namespace holdgate::mcp
