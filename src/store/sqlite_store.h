#pragma once
// Internal to src/store/: the SQLite implementation of Store (store.h): one database file in WAL
// mode, one writer connection (group commit: store_impl.h) and one reader connection. Only
// Store::Open constructs it.
#include <memory>
#include <string>

#include "store/store.h"

namespace holdgate::store {

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database file, applies pending migrations in one transaction.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const Clock& clock,
                                             const StoreOptions& options = {});
  ~SqliteStore() override;

  Result<Approval> CreatePending(const NewApproval& input) override;
  Result<PendingFor> FindOrCreatePending(const NewApproval& input) override;
  Result<Approval> Get(const std::string& id) override;
  Result<ApprovalPage> List(const ApprovalFilter& filter) override;
  Result<std::vector<Comment>> ListComments(const std::string& approval_id) override;
  Result<std::optional<Approval>> FindReusable(const std::string& principal,
                                               const std::string& fingerprint) override;
  Result<DecisionOutcome> Decide(const DecisionInput& input) override;
  std::vector<Result<DecisionOutcome>> DecideMany(const std::vector<DecisionInput>& inputs) override;
  Result<Approval> MarkExecuting(const std::string& id) override;
  Result<Approval> Complete(const std::string& id, const Json& result, bool failed) override;
  std::vector<Result<Approval>> MarkExecutingMany(const std::vector<std::string>& ids) override;
  std::vector<Result<Approval>> CompleteMany(const std::vector<Completion>& outcomes) override;
  Result<Approval> Expire(const std::string& id) override;
  Result<std::vector<Approval>> ExpireDue(int64_t now_ms, int limit) override;
  Result<std::vector<Approval>> LapseDue(int64_t now_ms, int limit) override;
  Result<Approval> Cancel(const std::string& id, const std::string& why,
                          const std::string& actor) override;
  Result<Approval> MarkAgentLeft(const std::string& id) override;
  Result<int> RecoverAfterCrash() override;
  Result<Comment> AddComment(const std::string& approval_id, const std::string& author,
                             const std::string& body) override;
  Result<Grant> CreateGrant(const NewGrant& input) override;
  Result<std::optional<Grant>> FindGrant(const GrantQuery& call) override;
  Result<std::optional<Grant>> UseGrant(const std::string& id, const GrantQuery& call, Json detail) override;
  Result<std::vector<Grant>> ListGrants(bool include_ended, int limit) override;
  Result<Grant> GetGrant(const std::string& id) override;
  Result<Grant> RevokeGrant(const std::string& id, const std::string& actor, const std::string& via,
                            const std::string& reason) override;
  Result<std::vector<Grant>> ExpireDueGrants(int64_t now_ms, int limit) override;
  Status PutReviewerSession(const ReviewerSessionRow& row) override;
  Result<std::optional<ReviewerSessionRow>> GetReviewerSession(const std::string& id_hash) override;
  Status TouchReviewerSession(const std::string& id_hash, int64_t last_seen_ms) override;
  Result<bool> DeleteReviewerSession(const std::string& id_hash) override;
  Result<int> PruneReviewerSessions(int64_t idle_before_ms, int64_t now_ms) override;
  Result<AuditEvent> AppendAudit(const AuditEvent& event) override;
  Result<AuditPage> ListAudit(const AuditFilter& filter) override;
  Result<std::vector<ToolActivity>> ToolActivitySince(int64_t since_ms) override;
  Result<AuditVerdict> VerifyAuditChain(const AuditVerifyOptions& options) override;
  Result<std::vector<AuditAnchor>> ListAuditAnchors() override;
  Result<AuditArchiveResult> ArchiveAudit(const AuditArchiveOptions& options) override;
  Result<std::optional<AuditEvent>> AppendAuditCheckpoint(const std::string& key, bool skip_if_idle) override;
  int AddListener(ChangeListener listener) override;
  void RemoveListener(int id) override;
  Result<std::vector<ChangeEvent>> EventsSince(int64_t after_seq, int limit) override;
  void SetOutboxFactory(OutboxFactory factory) override;
  Result<OutboxRow> EnqueueOutbox(const NewOutboxRow& row) override;
  Result<std::vector<OutboxRow>> ClaimDueOutbox(int64_t now_ms, int limit) override;
  Status MarkOutboxDelivered(int64_t id, const std::string& status) override;
  Status MarkOutboxFailed(int64_t id, const std::string& status, int64_t next_attempt_at_ms,
                          bool give_up) override;
  Result<std::vector<OutboxRow>> ListOutbox(const OutboxFilter& filter) override;
  Status RequeueOutbox(int64_t id) override;
  const Clock& clock() const override;
  StoreHealth Health() override;
  Status CheckWritable() override;

  class Impl;

 private:
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  // CreatePending, or with reuse_identical FindOrCreatePending, in one write transaction.
  Result<PendingFor> CreateOrReuse(const NewApproval& input, bool reuse_identical);
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdgate::store
