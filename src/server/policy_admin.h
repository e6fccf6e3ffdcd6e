#pragma once
// PolicyAdmin: the running server's record of its active policy (the document, its hash, when and
// why it was loaded) and the admin API's view of it (review::PolicyControl): the policy as JSON,
// a what-if check of one call, and a reload. Every load and reload is audited ("policy.loaded",
// "policy.reload_failed"); a failed reload keeps the previous policy.
//
// The policy editor (admin API) goes through here too: Validate and DryRun judge a draft with the
// same parser as `holdgate policy check` (nothing is written); Save writes a draft to the policy
// file atomically, records it as a version (server/policy_versions.h), reloads and audits
// "policy.saved" with who and why; Rollback saves an earlier version the same way.
//
// Thread-safe: Load/Reload/Save/Rollback serialise on one mutex (they read or write the file and
// swap the gateway's policy through `apply`); Get, Check, Validate and DryRun read a snapshot and
// never block on a load (DryRun blocks on the store).
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/json_util.h"
#include "common/status.h"
#include "policy/policy.h"
#include "review/review_server.h"

namespace holdgate::store {
class Store;
}

namespace holdgate::server {

// With several upstreams, one upstream's own policy file (a PolicyAdmin of its own).
struct UpstreamPolicyScope {
  std::string name;    // the upstream: named in every audit event and in Get()
  std::string prefix;  // its tools' prefix in the merged list
  // Which upstream a (prefixed) tool name belongs to; DryRun looks at that upstream's calls only.
  std::function<std::string(const std::string& tool)> owner;
  // The top-level policy (null: none), whose defaults the file takes (Policy::ParseUpstream).
  std::function<std::shared_ptr<const policy::Policy>()> defaults;
};

class PolicyAdmin {
 public:
  using Apply = std::function<void(std::shared_ptr<const policy::Policy>)>;
  // `path` empty: no policy file (every call allowed; Load returns null, reload is refused).
  // `upstream`: this is that upstream's own policy file: it is parsed over the top-level
  // defaults, Check and DryRun see its tools by their unprefixed names (DryRun only its calls),
  // and every audit event names it ("upstream").
  // REQUIRES: store and clock outlive the PolicyAdmin; `store` may be null (no audit, no grants).
  PolicyAdmin(std::string path, store::Store* store, const Clock& clock,
              std::optional<UpstreamPolicyScope> upstream = std::nullopt);

  // The first load at start-up (not audited here: config.started carries the hash). Does not apply.
  Result<std::shared_ptr<const policy::Policy>> LoadInitial();
  // Re-reads the file; applies it through `apply` on success. Audited with `actor` and `trigger`.
  // kInvalidArgument with the file's problems (the old policy stays); kNotFound without a file.
  Status Reload(const std::string& actor, const std::string& trigger, const Apply& apply);

  // With several upstreams, the top-level PolicyAdmin's Check asks the policy the gateway
  // enforces (the top-level one composed with each upstream's own), so a what-if on a prefixed
  // tool answers as a call would be decided. REQUIRES: called before the review server serves.
  void SetCheckPolicy(std::function<std::shared_ptr<const policy::Policy>()> effective) {
    check_policy_ = std::move(effective);
  }

  // The policy loaded last (by LoadInitial or Reload); null without a policy.
  std::shared_ptr<const policy::Policy> Current() const;
  // {"hash", "loaded_at", "loaded_by", "trigger", "path", "shadow", "policy", "text"}; null
  // without a policy.
  Json Get() const;
  // What the active policy decides for {"tool", "arguments", "principal", "session_id"} (pure;
  // rate limits are listed, not counted), and whether a live grant would cover a held call.
  Result<Json> Check(const Json& call) const;

  // The MCP annotations of a tool from the upstream's tools/list (null when unknown).
  using Annotations = std::function<Json(const std::string& tool)>;

  // `policy check` of a draft text: {"ok", "errors": [...], "warnings": [...], "hash"?,
  // "effective": [{"tool", "decision"}]} (effective only when `tools_list` is given). Pure.
  Json Validate(const std::string& text, const Json* tools_list) const;

  // Re-decides the last `limit` audited tool calls (call.allowed/denied/hidden/rate_limited,
  // approval.created, grant.used: tool, recorded arguments, principal) under the draft and
  // compares with what happened. kInvalidArgument with the parser's message for a bad draft.
  // {"hash", "compared", "changed": n, "changes": [{"seq", "at", "tool", "principal",
  //  "arguments", "arguments_recorded", "was", "was_rule", "draft", "draft_rule", "reason"}],
  //  "by_transition": {"allow → hold": n, ...}}. Reads the store; writes nothing.
  Result<Json> DryRun(const std::string& text, int limit, const Annotations& annotations) const;

  struct SaveRequest {
    std::string text;       // the new policy file, exactly as it is to be written
    std::string why;        // required: recorded in the version and the audit event
    std::string actor, via;
    std::string base_hash;  // when set: refuse (kConflict) if the file's hash is no longer this
    std::string rollback_of;  // set by Rollback
  };
  // Validates (kInvalidArgument with the parser's message; the file is untouched), refuses an
  // empty `why` (kInvalidArgument), a stale base_hash or a draft identical to the file
  // (kConflict); else keeps the current file as version 1 if there is no history yet, writes the
  // text atomically (temp + fsync + rename), records it as the next version, reloads (applying
  // through `apply`) and audits "policy.saved" {file, hash, previous_hash, version, why,
  // rollback_of?}. Returns {"version": {...}, "hash", "previous_hash", "loaded_at"}.
  // kNotFound without a policy file.
  Result<Json> Save(const SaveRequest& request, const Apply& apply);
  // {"versions": [newest first], "current_hash"} (the file's hash on disk).
  Result<Json> Versions() const;
  // {"version": {...}, "text"}. kNotFound for an unknown id.
  Result<Json> Version(const std::string& id) const;
  // Saves version `id`'s text as a new version (rollback_of = id), as Save does.
  Result<Json> Rollback(const std::string& id, const std::string& actor, const std::string& via,
                        const std::string& why, const Apply& apply);

  // The admin API's callbacks over this object (which must outlive the review server).
  // `annotations` may be empty (annotation-driven rules are then judged as for a tool without any).
  review::PolicyControl Control(Apply apply, Annotations annotations = nullptr);

 private:
  struct Snapshot {
    std::shared_ptr<const policy::Policy> policy;
    Json document;
    std::string text;  // the file as read (key order and layout kept, for the editor)
    int64_t loaded_at_ms = 0;
    std::string loaded_by, trigger;
  };
  Result<Snapshot> Read(const std::string& by, const std::string& trigger) const;
  // Policy::Parse, or for an upstream's file Policy::ParseUpstream over the top-level policy.
  Result<std::shared_ptr<const policy::Policy>> ParseText(const std::string& text) const;
  // An audit event's detail naming the file (and the upstream).
  Json FileDetail() const;
  // Reload's body. REQUIRES: load_mu_ held.
  Status ReloadLocked(const std::string& actor, const std::string& trigger, const Apply& apply);

  const std::string path_;
  const std::optional<UpstreamPolicyScope> upstream_;
  std::function<std::shared_ptr<const policy::Policy>()> check_policy_;  // fixed before serving
  store::Store* const store_;
  const Clock& clock_;
  std::mutex load_mu_;  // one load at a time
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;  // guarded by mu_
};

// The JSON form of one decision, as /api/policy/check answers it.
Json DecisionJson(const policy::Decision& decision);

}  // namespace holdgate::server
