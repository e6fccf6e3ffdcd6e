#pragma once
// Policy: a parsed, validated policy file (a superset of PolicyLayer's policy.json) and the
// decision it makes for each tools/call and tools/list entry. Format: schema/policy.schema.json
// and schema/policies/README.md. A Policy is immutable after Parse; Evaluate and IsHidden are
// pure, never block, never allocate more than a few short strings, and may be called from any
// number of threads at once. Rate counting lives in RateLimiter (rate_limiter.h), so a reloaded
// Policy keeps the counters.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"

namespace holdgate::policy {

enum class Action {
  kAllow,        // forward the call upstream
  kDeny,         // answer with an isError tool result carrying Decision::reason
  kHide,         // hidden tool: absent from tools/list, JSON-RPC -32602 "Unknown tool" on call
  kRateLimited,  // set only by RateLimiter: isError result, retry after Decision::retry_after_ms
  kHold,         // require_approval: hold the call per Decision::approval
};
// "allow", "deny", "hide", "rate_limited", "hold".
const char* ActionName(Action action);

enum class Scope { kGrant, kPrincipal, kSession, kGlobal };
const char* ScopeName(Scope scope);

// One quota: at most `max` calls per fixed window of `window_ms`, counted in the bucket
// (counter, window_ms, scope, the caller's scope value). Limits with the same counter name,
// window and scope share one count wherever they appear in the policy.
struct Limit {
  std::string counter;
  int64_t window_ms = 60'000;
  int64_t max = 0;
  Scope scope = Scope::kGrant;
  std::string path;  // JSON path of the limit in the policy, e.g. "tools.fit.limits[0]"
};

struct ApprovalSettings {
  int approvers = 1;                   // distinct approvals needed (quorum)
  std::vector<std::string> reviewers;  // roles or names allowed to decide; empty = any reviewer
  int64_t timeout_ms = 30 * 60'000;    // pending approval expires after this ("timeout")
  int64_t hold_ms = 50'000;            // keep the request open this long before deferring ("hold")
  // An approved call must be released within this long after the decision ("use_within"): a
  // deferred agent has that long to retry; after it the approval lapses and an identical call
  // needs a new approval.
  int64_t use_within_ms = 10 * 60'000;
  std::string on_timeout = "reject";   // the only accepted value: a timed-out call never runs
  std::vector<std::string> notify;     // notification targets, e.g. "slack:#ml", "webhook:ops"
  bool editable = false;               // reviewers may edit the arguments before approving
  bool cancel_on_disconnect = false;   // cancel the pending approval when the agent disconnects
  // Remembered approvals ("remember"): the longest a reviewer may remember an approval of this
  // rule for (0 = not rememberable), and whether a remembered approval may cover any arguments
  // (else only identical canonical arguments). Without "remember" in the policy: 1h, identical
  // arguments only, and not rememberable at all when the rule's risk level is "critical".
  int64_t remember_max_ms = 60 * 60'000;
  bool remember_any_arguments = false;
};

class Policy;

// What the policy decided for one call. The pointer members point into `policy`, which the
// Decision keeps alive, so a Decision stays valid across a policy reload.
struct Decision {
  Action action = Action::kDeny;  // what the gateway must do (kAllow whenever `shadow` is set)
  std::string rule;    // JSON path of what decided: "tools.cancel_job", "tools.cancel_job.cases[0]",
                       // "tools[\"fs.*\"]", "tools.save_data.deny_if[0]", "hide[0]", "default",
                       // "annotations.destructive_requires_approval"; after RateLimiter::Reserve
                       // refuses, the limit's path ("tools.fit.limits[0]")
  std::string reason;  // agent-facing text for kDeny / kHold / kRateLimited; may be empty for kAllow
  const Json* risk = nullptr;                  // the rule's `risk` object, or null
  const ApprovalSettings* approval = nullptr;  // non-null iff action or shadow_action is kHold
  const std::vector<Limit>* limits = nullptr;  // quotas to reserve (all_tools + rule); may be null
  int64_t retry_after_ms = 0;                  // kRateLimited only
  // Shadow mode: the rule (or the whole policy) only observes. `action` is then kAllow and
  // `shadow_action` is what the policy would have done; log/audit it when it is not kAllow.
  bool shadow = false;
  Action shadow_action = Action::kAllow;
  std::shared_ptr<const Policy> policy;
};

// The call being decided. Views must outlive the Evaluate and Reserve calls only.
struct CallContext {
  std::string_view tool;
  const Json* arguments = nullptr;    // params.arguments; null or non-object = no arguments
  std::string_view principal;         // authenticated agent name
  std::string_view grant;             // the agent's credential / API key id
  std::string_view session;           // Mcp-Session-Id (or the stdio session)
  const Json* annotations = nullptr;  // the tool's MCP annotations from upstream tools/list, or null
};

// One upstream's own policy among several upstreams (Policy::Compose).
struct PolicyRoute {
  std::string upstream;  // its name, put in front of the rule path of its decisions
  std::string prefix;    // tool names of this upstream start with it ("" takes what no other prefix does)
  std::shared_ptr<const Policy> policy;  // decides on the name without the prefix; null: `top` decides
};

class Policy : public std::enable_shared_from_this<Policy> {
 public:
  // Parses and validates a policy document. On failure the status message lists every problem,
  // one per line, as "<json path>: <what is wrong>; hint: <how to fix>" (syntax errors name
  // line and column). Never throws.
  static Result<std::shared_ptr<const Policy>> Parse(std::string_view text);
  static Result<std::shared_ptr<const Policy>> LoadFile(const std::string& path);
  // An upstream's own policy file among several upstreams. Parsed like Parse, except that the
  // top-level keys it leaves out among "default", "all_tools" (its limits) and, key by key,
  // "annotations" ("destructive_requires_approval", "approval") are taken from `defaults` (the
  // top-level policy) as if written here; what the file sets wins. Without `defaults` it is
  // Parse ("default" is then required). The hash is the file's own. Compose re-derives such a
  // policy over its `top`, so a reloaded top-level policy reaches the upstreams that inherit.
  static Result<std::shared_ptr<const Policy>> ParseUpstream(std::string_view text, const Policy* defaults);
  // A policy for several upstreams: a tool whose name starts with a route's prefix (the longest
  // matching one) is decided by that route's policy on the name without the prefix, its rule path
  // reading "upstreams.NAME: <path>"; any other tool by `top` on the full name (null: allowed).
  // `top`'s shadow mode applies to every route, and a route policy made by ParseUpstream takes
  // its left-out keys from `top`. Give every upstream a route (its policy may be null), so that
  // the empty prefix only takes the names no other upstream owns.
  static std::shared_ptr<const Policy> Compose(std::shared_ptr<const Policy> top, std::vector<PolicyRoute> routes);

  // The policy that decides `tool` and the name it sees there (for a composed policy: the route's
  // policy and the unprefixed name, or `top`; null when nothing decides: allowed). Else itself.
  std::pair<const Policy*, std::string_view> Resolve(std::string_view tool) const;

  // True if `tool` must be left out of tools/list (and is answered kHide on call). Always false
  // under top-level shadow mode, which enforces nothing.
  bool IsHidden(std::string_view tool) const;
  // The decision for one call; pure (no rate counting, see RateLimiter::Reserve).
  Decision Evaluate(const CallContext& ctx) const;

  // Lowercase hex SHA-256 of the policy text, for the audit log.
  const std::string& hash() const { return hash_; }
  // True when the top-level "shadow" is set: nothing is enforced.
  bool shadow() const;

  ~Policy();
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  struct Compiled;  // implementation detail (compiled.h)

 private:
  friend class PolicyAccess;  // compiled.h: read-only access for Check()
  explicit Policy(std::unique_ptr<Compiled> compiled, std::string hash);
  static Result<std::shared_ptr<const Policy>> ParseWith(std::string_view text, const Json* inherited);
  std::unique_ptr<Compiled> compiled_;
  std::string hash_;
  // ParseUpstream only: the file's text, to be derived again over another top-level policy.
  bool upstream_ = false;
  std::string upstream_text_;
  // Composed policies only (compiled_ then allows everything and is not consulted).
  bool composed_ = false;
  std::shared_ptr<const Policy> top_;
  std::vector<PolicyRoute> routes_;
};

// `holdgate policy check FILE [--tools TOOLS.json]`: validates the policy and, given a
// tools/list result ({"tools":[...]}, a JSON-RPC response carrying it, or a bare array), reports
// the effective decision for each listed tool and warns about rules naming no listed tool.
struct CheckReport {
  bool ok = false;                    // no errors (warnings allowed)
  std::vector<std::string> errors;    // "<json path>: <problem>; hint: <fix>"
  std::vector<std::string> warnings;
  std::vector<std::pair<std::string, std::string>> effective;  // tool -> decision summary
};
// `upstream_defaults`: check the text as an upstream's own policy over that top-level policy
// (Policy::ParseUpstream); null: as a policy of its own.
CheckReport Check(std::string_view policy_text, const Json* tools_list_result,
                  const Policy* upstream_defaults = nullptr);
std::string FormatCheckReport(const CheckReport& report);

}  // namespace holdgate::policy
