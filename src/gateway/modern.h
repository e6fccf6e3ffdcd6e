#pragma once
// What holdgate tells 2026-07-28 agents that no upstream says for it: the server/discover answer,
// and a held call seen as a task of the tasks extension (io.modelcontextprotocol/tasks). A held
// call's task is its approval: the task id is the approval id and every field of the task is
// derived from the approval row, so a task survives a restart (and, with PostgreSQL, is the same
// on every replica) without any table of its own. Pure functions; safe from any thread.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/json_util.h"
#include "common/status.h"
#include "store/approval.h"

namespace holdgate::gateway {

inline constexpr int64_t kTaskPollIntervalMs = 2000;

// The server/discover result: every revision holdgate serves, the upstream's capabilities as a
// 2026 agent can use them (no 2025 `tasks` slot; no list-changed or subscribe flags, since holdgate
// does not serve subscriptions/listen) plus the tasks extension, instructions, and holdgate's
// server info under _meta. `upstream_init` is the upstream's InitializeResult.
Json DiscoverResult(const Json& upstream_init);

// The task of a held call (CreateTaskResult fields, without resultType): taskId, status
// (working | completed | failed | cancelled), statusMessage (while pending: the approval id, who
// must decide and the review link), createdAt, lastUpdatedAt (ISO 8601), ttlMs (null: kept as
// long as the approval row) and pollIntervalMs.
Json TaskOf(const store::Approval& approval, const std::string& review_url);

// tasks/get's DetailedTask: TaskOf plus, once done, `result` (the tool's result; a rejected,
// expired or lapsed approval is a completed task whose result isError and says why) or `error`
// (failed: the upstream answered with a JSON-RPC error).
Json DetailedTaskOf(const store::Approval& approval, const std::string& review_url);

// MRTR (multi round-trip requests): the opaque requestState holdgate gives a 2026 agent with
// resultType "input_required", and must get back unchanged on the retry. It names one waiting
// upstream call (`id`) and is bound to the caller, to a digest of the request and to an expiry,
// integrity-protected with HMAC-SHA256 under a key only holdgate knows. Single use is the
// gateway's job (the id is forgotten when used).
struct RequestState {
  std::string id;
  std::string principal;
  std::string digest;
  int64_t expires_ms = 0;
};
std::string EncodeRequestState(const RequestState& state, std::string_view key);
// kInvalidArgument when the token is malformed, its MAC does not match (compared in constant
// time) or it expired at `now_ms`.
Result<RequestState> DecodeRequestState(std::string_view token, std::string_view key, int64_t now_ms);
// SHA-256 of the canonical JSON of {method, params}, params without _meta, inputResponses and
// requestState: the same for the first request and every retry of it, different for any other
// tool, arguments or method.
std::string RequestDigest(const std::string& method, const Json& params);

}  // namespace holdgate::gateway
