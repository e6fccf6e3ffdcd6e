#pragma once
// PolicyAdmin: the running server's record of its active policy (the document, its hash, when and
// why it was loaded) and the admin API's view of it (review::PolicyControl): the policy as JSON,
// a what-if check of one call, and a reload. Every load and reload is audited ("policy.loaded",
// "policy.reload_failed"); a failed reload keeps the previous policy.
//
// Thread-safe: Load/Reload serialise on one mutex (they read the file and swap the gateway's
// policy through `apply`); Get and Check read a snapshot and never block on a load.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
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

class PolicyAdmin {
 public:
  using Apply = std::function<void(std::shared_ptr<const policy::Policy>)>;
  // `path` empty: no policy file (every call allowed; Load returns null, reload is refused).
  // REQUIRES: store and clock outlive the PolicyAdmin; `store` may be null (no audit, no grants).
  PolicyAdmin(std::string path, store::Store* store, const Clock& clock);

  // The first load at start-up (not audited here: config.started carries the hash). Does not apply.
  Result<std::shared_ptr<const policy::Policy>> LoadInitial();
  // Re-reads the file; applies it through `apply` on success. Audited with `actor` and `trigger`.
  // kInvalidArgument with the file's problems (the old policy stays); kNotFound without a file.
  Status Reload(const std::string& actor, const std::string& trigger, const Apply& apply);

  // The policy loaded last (by LoadInitial or Reload); null without a policy.
  std::shared_ptr<const policy::Policy> Current() const;
  // {"hash", "loaded_at", "loaded_by", "trigger", "path", "shadow", "policy"}; null without a policy.
  Json Get() const;
  // What the active policy decides for {"tool", "arguments", "principal", "session_id"} (pure;
  // rate limits are listed, not counted), and whether a live grant would cover a held call.
  Result<Json> Check(const Json& call) const;

  // The admin API's callbacks over this object (which must outlive the review server).
  review::PolicyControl Control(Apply apply);

 private:
  struct Snapshot {
    std::shared_ptr<const policy::Policy> policy;
    Json document;
    int64_t loaded_at_ms = 0;
    std::string loaded_by, trigger;
  };
  Result<Snapshot> Read(const std::string& by, const std::string& trigger) const;

  const std::string path_;
  store::Store* const store_;
  const Clock& clock_;
  std::mutex load_mu_;  // one load at a time
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;  // guarded by mu_
};

// The JSON form of one decision, as /api/policy/check answers it.
Json DecisionJson(const policy::Decision& decision);

}  // namespace holdgate::server
