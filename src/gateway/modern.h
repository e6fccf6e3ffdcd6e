#pragma once
// What holdgate tells 2026-07-28 agents that no upstream says for it: the server/discover answer,
// and a held call seen as a task of the tasks extension (io.modelcontextprotocol/tasks). A held
// call's task is its approval: the task id is the approval id and every field of the task is
// derived from the approval row, so a task survives a restart (and, with PostgreSQL, is the same
// on every replica) without any table of its own. Pure functions; safe from any thread.
#include <string>

#include "common/json_util.h"
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

}  // namespace holdgate::gateway
