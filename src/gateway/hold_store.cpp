#include "gateway/hold_store.h"

#include "common/log.h"
#include "store/store.h"

namespace holdgate::gateway {
namespace {

class StoreHoldStore final : public HoldStore {
 public:
  explicit StoreHoldStore(store::Store& store) : store_(store) {}

  Result<FoundOrCreated> FindOrCreate(const store::NewApproval& input) override {
    auto r = store_.FindOrCreatePending(input);
    if (!r.ok()) return r.status();
    return FoundOrCreated{std::move(r->approval), r->created};
  }
  Result<store::Approval> Get(const std::string& id) override { return store_.Get(id); }
  Result<store::Approval> MarkExecuting(const std::string& id) override { return store_.MarkExecuting(id); }
  Result<store::Approval> Complete(const std::string& id, const Json& result, bool failed) override {
    return store_.Complete(id, result, failed);
  }
  std::vector<Result<store::Approval>> MarkExecutingMany(const std::vector<std::string>& ids) override {
    return store_.MarkExecutingMany(ids);
  }
  std::vector<Result<store::Approval>> CompleteMany(const std::vector<store::Store::Completion>& outcomes) override {
    return store_.CompleteMany(outcomes);
  }
  Result<store::Approval> Cancel(const std::string& id, const std::string& why) override {
    return store_.Cancel(id, why);
  }
  Result<store::Approval> MarkAgentLeft(const std::string& id) override { return store_.MarkAgentLeft(id); }
  void RecordReleaseFailure(const store::Approval& approval, const Status& why) override {
    store::AuditEvent ev;
    ev.type = "approval.release_failed";
    ev.approval_id = approval.id;
    ev.principal = approval.principal;
    ev.actor = "holdgate";
    ev.via = "system";
    ev.tool = approval.tool;
    ev.rule = approval.rule;
    ev.decision = "not_run";
    ev.detail = {{"error", why.ToString()}};
    auto r = store_.AppendAudit(ev);
    if (!r.ok()) {
      log::Error("cannot audit a failed release", {{"approval", approval.id}, {"error", r.status().ToString()}});
    }
  }

 private:
  store::Store& store_;
};

}  // namespace

std::vector<Result<store::Approval>> HoldStore::MarkExecutingMany(const std::vector<std::string>& ids) {
  std::vector<Result<store::Approval>> out;
  out.reserve(ids.size());
  for (const std::string& id : ids) out.push_back(MarkExecuting(id));
  return out;
}

std::vector<Result<store::Approval>> HoldStore::CompleteMany(const std::vector<store::Store::Completion>& outcomes) {
  std::vector<Result<store::Approval>> out;
  out.reserve(outcomes.size());
  for (const auto& c : outcomes) out.push_back(Complete(c.id, c.result, c.failed));
  return out;
}

std::unique_ptr<HoldStore> MakeHoldStore(store::Store& store) { return std::make_unique<StoreHoldStore>(store); }

}  // namespace holdgate::gateway
