#pragma once
// Internal to src/store/: the PostgreSQL implementation of Store (store.h), for several holdgate
// replicas sharing one database. Only Store::Open constructs it; the only file with libpqxx.
//
// Connections: a pool of at most StoreOptions::pg_pool_size (a broken one is dropped and
// replaced on next use), plus one LISTEN connection owned by the feed thread.
// Writes: one transaction per operation, READ COMMITTED. Every write that appends to the audit
// chain first takes one cluster-wide transaction advisory lock (held until commit), so the chain
// stays one chain across replicas, seq order is commit order, and each transition's conditional
// UPDATE … WHERE state = … sees every earlier decision. Outbox claims skip rows another replica
// holds (FOR UPDATE SKIP LOCKED).
// Change feed: this replica's changes reach its listeners after commit on the committing thread;
// other replicas' changes arrive on the feed thread (LISTEN/NOTIFY, and a poll every
// feed_poll_ms as the safety net), each seq once.
// Leases: the feed thread refreshes this replica's heartbeat; approvals left executing by a
// replica silent for executing_lease_ms are failed ("unknown: … not re-run"), never re-run.
// Errors: libpqxx exceptions stop at this boundary: a lost connection or a server that does not
// answer is kUnavailable; a commit whose outcome is unknown is kUnavailable saying so.
#include <memory>
#include <string>

#include "store/store.h"

namespace holdgate::store {

class PgStore final : public Store {
 public:
  // Connects to `url`, applies pending migrations (schema/postgres/) under an advisory lock,
  // registers this replica and starts the feed thread.
  static Result<std::unique_ptr<Store>> Open(const std::string& url, const Clock& clock,
                                             const StoreOptions& options = {});
  ~PgStore() override;

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

  SharedCounters* RateCounters() override { return rate_counters_.get(); }

 private:
  explicit PgStore(std::unique_ptr<Impl> impl);
  // CreatePending, or with reuse_identical FindOrCreatePending, in one write transaction.
  Result<PendingFor> CreateOrReuse(const NewApproval& input, bool reuse_identical);
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<SharedCounters> rate_counters_;  // over impl_; declared after it, destroyed first
};

// VerifyAuditChainFile for a PostgreSQL URL: connects (no migrations, no replica registration)
// and walks the chain in one read-only snapshot; with a checkpoint file, checks its signed heads
// are still on the chain, as for SQLite.
Result<AuditVerdict> VerifyPgAuditChain(const std::string& url, const AuditVerifyOptions& options);

}  // namespace holdgate::store
