#pragma once
// HoldStore: the approval operations a held call needs, and nothing else: find-or-create the
// approval a call waits on, the executing gate, the outcome, the agent side's cancel and "left".
// The production implementation (MakeHoldStore) wraps store::Store; held-call unit tests use a
// fake. Every method may block on storage I/O; all are thread-safe.
#include <memory>
#include <string>

#include <vector>

#include "common/status.h"
#include "store/approval.h"
#include "store/store.h"

namespace holdgate::gateway {

struct FoundOrCreated {
  store::Approval approval;
  bool created = false;  // false: an identical call's approval was reused (see Store::FindReusable)
};

class HoldStore {
 public:
  virtual ~HoldStore() = default;
  // The approval an identical call (same principal, same tool + canonical arguments) waits on, or
  // a new pending one built from `input`. Atomic per (principal, fingerprint): identical calls
  // arriving at once share one approval, on every replica of one database.
  virtual Result<FoundOrCreated> FindOrCreate(const store::NewApproval& input) = 0;
  virtual Result<store::Approval> Get(const std::string& id) = 0;
  // The exactly-once gate (store::Store::MarkExecuting).
  virtual Result<store::Approval> MarkExecuting(const std::string& id) = 0;
  virtual Result<store::Approval> Complete(const std::string& id, const Json& result, bool failed) = 0;
  // MarkExecuting and Complete for many approvals, results in input order (store::Store's
  // batches: one transaction). Default: one call each.
  virtual std::vector<Result<store::Approval>> MarkExecutingMany(const std::vector<std::string>& ids);
  virtual std::vector<Result<store::Approval>> CompleteMany(const std::vector<store::Store::Completion>& outcomes);
  // The agent withdrew the call (pending -> cancelled).
  virtual Result<store::Approval> Cancel(const std::string& id, const std::string& why) = 0;
  virtual Result<store::Approval> MarkAgentLeft(const std::string& id) = 0;
  // Records (audit) that an approved call could not be released because the gate write failed.
  // Best effort: the store may be failing too.
  virtual void RecordReleaseFailure(const store::Approval& approval, const Status& why) = 0;
};

// REQUIRES: `store` outlives the result.
std::unique_ptr<HoldStore> MakeHoldStore(store::Store& store);

}  // namespace holdgate::gateway
