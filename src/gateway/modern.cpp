#include "gateway/modern.h"

#include "common/crypto.h"
#include "gateway/agent_messages.h"
#include "mcp/era.h"
#include "mcp/jsonrpc.h"

namespace holdgate::gateway {
namespace {

const char* TaskStatus(store::State state, const Json& stored_result) {
  switch (state) {
    case store::State::kPending:
    case store::State::kApproved:
    case store::State::kExecuting:
      return "working";
    case store::State::kCancelled:
      return "cancelled";
    case store::State::kFailed:
      // A JSON-RPC error from the upstream is a protocol failure; anything else is a tool error.
      return stored_result.is_object() && stored_result.contains("error") ? "failed" : "completed";
    default:
      return "completed";
  }
}

std::string StatusMessage(const store::Approval& a, const std::string& review_url) {
  switch (a.state) {
    case store::State::kPending:
      return ProgressText(a.id, WaitingFor(a), review_url);
    case store::State::kApproved:
      return "Approved by " + a.decided_by + " (approval " + a.id + "); " + a.tool + " is about to run.";
    case store::State::kExecuting:
      return "Approved (approval " + a.id + "); " + a.tool + " is running.";
    case store::State::kCompleted:
      return "Approved and run (approval " + a.id + ").";
    case store::State::kFailed:
      return "Approved, but the call did not complete normally (approval " + a.id + "): " + a.reason;
    default:
      return RejectionText(a);
  }
}

}  // namespace

Json DiscoverResult(const Json& upstream_init) {
  Json caps = upstream_init.value("capabilities", Json::object());
  if (!caps.is_object()) caps = Json::object();
  caps.erase("tasks");
  for (const char* kind : {"tools", "prompts", "resources"}) {
    if (caps.contains(kind) && caps[kind].is_object()) {
      caps[kind].erase("listChanged");
      caps[kind].erase("subscribe");
    }
  }
  if (!caps.contains("tools") || !caps["tools"].is_object()) caps["tools"] = Json::object();
  if (!caps.contains("extensions") || !caps["extensions"].is_object()) caps["extensions"] = Json::object();
  caps["extensions"][mcp::kTasksExtension] = Json::object();
  Json result = {{"supportedVersions", mcp::AllSupportedVersions()},
                 {"capabilities", caps},
                 {"ttlMs", 0},
                 {"cacheScope", "private"},
                 {"resultType", "complete"}};
  if (upstream_init.contains("instructions") && upstream_init["instructions"].is_string()) {
    result["instructions"] = upstream_init["instructions"];
  }
  Json info = upstream_init.value("serverInfo", Json());
  if (!info.is_object()) info = Json{{"name", "holdgate"}, {"version", "0.1.0"}};
  result["_meta"] = {{mcp::kMetaServerInfo, info}};
  return result;
}

Json TaskOf(const store::Approval& a, const std::string& review_url) {
  int64_t updated = a.updated_at_ms > 0 ? a.updated_at_ms : (a.decided_at_ms > 0 ? a.decided_at_ms : a.created_at_ms);
  return Json{{"taskId", a.id},
              {"status", TaskStatus(a.state, a.result)},
              {"statusMessage", StatusMessage(a, review_url)},
              {"createdAt", mcp::IsoTime(a.created_at_ms)},
              {"lastUpdatedAt", mcp::IsoTime(updated)},
              {"ttlMs", nullptr},
              {"pollIntervalMs", kTaskPollIntervalMs}};
}

Json DetailedTaskOf(const store::Approval& a, const std::string& review_url) {
  Json task = TaskOf(a, review_url);
  switch (a.state) {
    case store::State::kPending:
    case store::State::kApproved:
    case store::State::kExecuting:
    case store::State::kCancelled:
      return task;
    case store::State::kCompleted:
    case store::State::kFailed: {
      Json outcome = StoredOutcome(0, a);
      if (outcome.contains("error")) {
        task["error"] = outcome["error"];
      } else {
        NoteEditedArguments(a, &outcome);
        task["result"] = outcome["result"];
      }
      return task;
    }
    default:
      task["result"] = mcp::ToolTextResult(RejectionText(a), true);
      return task;
  }
}

std::string EncodeRequestState(const RequestState& state, std::string_view key) {
  const std::string payload = Base64Encode(CanonicalJson(
      Json{{"i", state.id}, {"p", state.principal}, {"d", state.digest}, {"e", state.expires_ms}}));
  return payload + "." + HmacSha256Hex(key, payload);
}

Result<RequestState> DecodeRequestState(std::string_view token, std::string_view key, int64_t now_ms) {
  const size_t dot = token.rfind('.');
  if (dot == std::string_view::npos) return InvalidArgument("requestState is not one holdgate issued");
  const std::string_view payload = token.substr(0, dot);
  if (!ConstantTimeEquals(HmacSha256Hex(key, payload), token.substr(dot + 1))) {
    return InvalidArgument("requestState was altered or is not one holdgate issued");
  }
  std::string text;
  if (!Base64Decode(payload, &text)) return InvalidArgument("requestState is not one holdgate issued");
  Result<Json> parsed = ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) return InvalidArgument("requestState is not one holdgate issued");
  const Json& j = parsed.value();
  RequestState state;
  state.id = j.value("i", "");
  state.principal = j.value("p", "");
  state.digest = j.value("d", "");
  state.expires_ms = j.value("e", int64_t{0});
  if (state.expires_ms <= now_ms) return InvalidArgument("requestState expired; send the request again without it");
  return state;
}

std::string RequestDigest(const std::string& method, const Json& params) {
  Json p = params.is_object() ? params : Json::object();
  p.erase("_meta");
  p.erase("inputResponses");
  p.erase("requestState");
  return Sha256Hex(CanonicalJson(Json{{"method", method}, {"params", p}}));
}

}  // namespace holdgate::gateway
