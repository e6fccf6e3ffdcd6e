#include "mcp/trace_meta.h"

namespace holdgate::mcp {

std::string MetaTraceparent(const Json& message) {
  if (!message.is_object()) return "";
  auto params = message.find("params");
  if (params == message.end() || !params->is_object()) return "";
  auto meta = params->find("_meta");
  if (meta == params->end() || !meta->is_object()) return "";
  auto tp = meta->find("traceparent");
  return tp != meta->end() && tp->is_string() ? tp->get<std::string>() : "";
}

void SetMetaTraceparent(Json* message, const std::string& traceparent) {
  if (!message->is_object()) return;
  Json& params = (*message)["params"];
  if (params.is_null()) params = Json::object();
  if (!params.is_object()) return;
  Json& meta = params["_meta"];
  if (!meta.is_object()) meta = Json::object();
  meta["traceparent"] = traceparent;
}

}  // namespace holdgate::mcp
