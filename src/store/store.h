#pragma once
// Store: the durable approvals core over one SQLite file (WAL): approvals, votes, comments, the
// hash-chained audit log, the notification outbox, schema migrations, and an in-process change
// feed. The only module that touches SQLite.
//
// Thread-safe. Every method blocks on SQLite I/O. Writes go through one writer connection behind
// a mutex, each in one BEGIN IMMEDIATE transaction holding the conditional state change, its audit
// event and its outbox rows; reads use a second connection and never wait for writers.
// Listeners run after commit, outside the database locks, in commit order (see AddListener).
// All timestamps come from the injected Clock (ms since epoch).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json_util.h"
#include "common/status.h"
#include "store/approval.h"
#include "store/audit.h"
#include "store/grant.h"
#include "store/outbox.h"

namespace holdgate::store {

struct StoreOptions {
  int busy_timeout_ms = 5000;
  // How long FindReusable keeps answering a retry with a rejection/expiry (see FindReusable).
  int64_t rejection_memory_ms = 60 * 60 * 1000;
  // How long a claimed outbox row stays claimed before another worker may take it again.
  int64_t outbox_lease_ms = 60 * 1000;
};

// Builds extra outbox rows for a transition, inside its transaction (the notifier registers one).
// Called under the writer lock: must be pure and cheap, must not call the Store.
// `holdgate audit archive`: which prefix of the chain to move to an archive file and prune.
struct AuditArchiveOptions {
  std::string out_path;     // archive file to create; refused if it exists
  int64_t before_ms = 0;    // the longest prefix of events whose ts < before_ms ...
  int64_t through_seq = 0;  // ... and/or whose seq <= through_seq (both set: the shorter prefix)
  std::string actor = "holdgate";  // recorded in the audit.archived event
  // The audit checkpoint key. Given, the prune also appends an audit.checkpoint that vouches for
  // the new anchor (audit.h). Required when the chain already carries checkpoints.
  std::string checkpoint_key;
};

struct AuditArchiveResult {
  AuditArchiveInfo info;  // info.count == 0: nothing to archive; no file written, nothing pruned
  int64_t archived_event_seq = 0;  // the audit.archived event appended by the prune
  std::optional<AuditEvent> checkpoint;  // the signed checkpoint after it (with checkpoint_key)
};

// Whether the store can take writes now, judged without writing (see Store::Health).
struct StoreHealth {
  enum class State { kOk, kDiskFull, kWriteFailed, kReadFailed };
  State state = State::kOk;
  std::string why;          // empty when kOk
  int64_t free_bytes = -1;  // available to holdgate on the database's filesystem; -1 unknown
  bool ok() const { return state == State::kOk; }
};
const char* StoreHealthName(StoreHealth::State state);  // "ok", "disk_full", "write_failed", "read_failed"

using OutboxFactory =
    std::function<std::vector<NewOutboxRow>(const std::string& event_type, const Approval&)>;
using ChangeListener = std::function<void(const ChangeEvent&)>;

// Whether `approval` may be remembered as `grant` asks (the rule's caps, quorum, edits, session),
// without the state and approver checks CreateGrant adds. Pure. Errors as CreateGrant's.
Status CheckRememberable(const Approval& approval, const NewGrant& grant);

class Store {
 public:
  // Opens (creating if needed) the database, applies pending migrations in one transaction.
  // REQUIRES: `clock` outlives the Store.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const Clock& clock,
                                             const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- approvals ------------------------------------------------------------------------------
  // Writes a pending approval (+ "approval.created" audit event + outbox rows) in one transaction.
  // kInvalidArgument for an empty principal/tool, approvers_needed < 1, negative timeout, an
  // on_timeout other than "reject", or a `reviewers` value that is not {"roles":[..],"names":[..]}.
  // kResourceExhausted when the principal is at input.max_pending_for_principal.
  Result<Approval> CreatePending(const NewApproval& input);

  // kNotFound if absent.
  Result<Approval> Get(const std::string& id);
  Result<ApprovalPage> List(const ApprovalFilter& filter);
  Result<std::vector<Comment>> ListComments(const std::string& approval_id);

  // For a retried call: the approval a call by `principal` with this fingerprint should attach
  // to, or nullopt to create a new one. Returns, preferring live ones, the newest approval that is
  //   pending / executing                                -> re-attach (wait, or report running)
  //   approved and not past its use-by time (use_within) -> re-attach and run it
  //   rejected / expired decided within options.rejection_memory_ms -> answer with that decision
  // Completed, failed, cancelled and lapsed approvals are never returned (they were consumed,
  // withdrawn or went stale: the same call again is a new request), nor are approved ones past
  // their use-by time, nor older rejections/expiries.
  Result<std::optional<Approval>> FindReusable(const std::string& principal,
                                               const std::string& fingerprint);

  // Records one reviewer's vote; see DecisionOutcome for the rules and the error codes. Quorum:
  // approvers_needed distinct approvers -> approved; any reject -> rejected. A reviewer votes
  // once: a repeated vote (either way, in any state) is an outcome with changed=false.
  // Overdue pending approvals are expired instead (kConflict "expired at …").
  Result<DecisionOutcome> Decide(const DecisionInput& input);
  // Several votes in ONE write transaction (a bulk decision), each with exactly Decide's rules and
  // results, in input order; one refused vote does not stop the others. A database error fails
  // them all (nothing is decided).
  std::vector<Result<DecisionOutcome>> DecideMany(const std::vector<DecisionInput>& inputs);

  // approved -> executing: the exactly-once gate before the upstream call. kConflict otherwise
  // (message names the current state), kNotFound if absent. An approved approval past its use-by
  // time lapses instead (committed, with its event) and kConflict says so.
  Result<Approval> MarkExecuting(const std::string& id);
  // executing -> completed (failed=false) or failed (failed=true), storing `result` (the upstream
  // result or error). kConflict if not executing.
  Result<Approval> Complete(const std::string& id, const Json& result, bool failed);
  // pending and past expires_at -> expired (on_timeout "reject"; never approves). kConflict if not
  // pending or not yet due.
  Result<Approval> Expire(const std::string& id);
  // Expires every pending approval with expires_at <= now_ms (at most `limit` per call, oldest
  // deadline first); returns them.
  Result<std::vector<Approval>> ExpireDue(int64_t now_ms, int limit = 1000);
  // Lapses every approved approval whose use-by time (decided_at + use_within) is <= now_ms, at
  // most `limit` per call, oldest decision first; returns them. A lapsed call never runs.
  Result<std::vector<Approval>> LapseDue(int64_t now_ms, int limit = 1000);
  // pending -> cancelled. `actor` defaults to the agent side. kConflict if not pending.
  Result<Approval> Cancel(const std::string& id, const std::string& why,
                          const std::string& actor = "agent");
  // Flags that the agent's held request went away (pending/approved only). Idempotent: a second
  // call changes nothing and writes no event. kConflict in other states.
  Result<Approval> MarkAgentLeft(const std::string& id);
  // At start-up: executing -> failed with reason "unknown: holdgate stopped while the tool was
  // running; not re-run". Returns how many.
  Result<int> RecoverAfterCrash();
  // kNotFound if the approval is absent; kInvalidArgument for an empty author/body.
  Result<Comment> AddComment(const std::string& approval_id, const std::string& author,
                             const std::string& body);

  // ---- grants (remembered approvals, store/grant.h) ---------------------------------------------
  // Remembers an approval (+ "grant.created" audit event, one transaction). Refused with
  //   kNotFound            no such approval
  //   kConflict            the approval is not approved (pending, rejected, …)
  //   kPermissionDenied    input.created_by did not vote to approve it; it needs more than one
  //                        approver; its arguments were edited; its rule does not let it be
  //                        remembered (remember_max_ms 0); any_arguments where the rule does not
  //                        allow it
  //   kInvalidArgument     for_ms <= 0 or longer than the rule allows (message names the cap), a
  //                        session scope for an approval without a session, a bad via
  Result<Grant> CreateGrant(const NewGrant& input);
  // The live grant covering `call`, or nullopt: a grant for identical arguments before one for
  // any arguments, then the newest. Read only.
  Result<std::optional<Grant>> FindGrant(const GrantQuery& call);
  // Records one use of grant `id` for `call` (uses + 1, a "grant.used" audit event with
  // decision "allow"), in one transaction that re-checks the grant is live and covers the call;
  // nullopt (nothing written) when it no longer is. `detail` goes into the audit event.
  Result<std::optional<Grant>> UseGrant(const std::string& id, const GrantQuery& call, Json detail);
  // Live grants (not revoked, not expired), newest first; with include_ended also ended ones.
  Result<std::vector<Grant>> ListGrants(bool include_ended = false, int limit = 500);
  Result<Grant> GetGrant(const std::string& id);  // kNotFound if absent
  // Live -> revoked (+ "grant.revoked"). kNotFound; kConflict when already revoked or expired.
  // Who may revoke is the caller's rule (the review API: admins and the grant's maker).
  Result<Grant> RevokeGrant(const std::string& id, const std::string& actor, const std::string& via,
                            const std::string& reason);
  // Marks grants whose expires_at <= now_ms as expired, one "grant.expired" event each (at most
  // `limit` per call); returns them. A grant past its time covers nothing even before this runs.
  Result<std::vector<Grant>> ExpireDueGrants(int64_t now_ms, int limit = 1000);

  // ---- audit ----------------------------------------------------------------------------------
  // Appends an event not tied to a transition (call received/allowed/denied, auth failures,
  // policy loaded, …). Returns it with seq, ts, prev_hash and hash filled in.
  Result<AuditEvent> AppendAudit(const AuditEvent& event);
  Result<AuditPage> ListAudit(const AuditFilter& filter);
  // Walks the whole chain on this database (from its newest archive anchor, if any).
  Result<AuditVerdict> VerifyAuditChain(const AuditVerifyOptions& options = {});
  Result<std::vector<AuditAnchor>> ListAuditAnchors();

  // Retention. Writes the events through the cut point (see AuditArchiveOptions) to a new archive
  // file (0600; see audit.h for the format), fsyncs it, then in ONE write transaction records an
  // audit_anchors row (last archived seq + hash), deletes those rows, and appends an
  // "audit.archived" event; the archive is removed again if that transaction fails. Refuses
  // (kConflict) to archive a prefix whose chain does not verify. Safe beside a live holdgate on the
  // same file: the prune is a BEGIN IMMEDIATE transaction that re-checks the anchor and the cut
  // row, and appends always continue from the newest row or anchor, so the chain cannot fork.
  // A second archive starts where the previous one ended.
  Result<AuditArchiveResult> ArchiveAudit(const AuditArchiveOptions& options);

  // Signed checkpoint: appends an "audit.checkpoint" event whose detail carries the head (seq,
  // hash) it follows, the anchor the newest checkpoint vouched for (genesis before any archive)
  // and AuditCheckpointHmac over both (audit.h). With skip_if_idle, nothing is written (nullopt)
  // when the head already is a checkpoint. kInvalidArgument for an empty key; kConflict (nothing
  // written) when the newest checkpoint does not match the key, or the chain starts at an anchor
  // with no checkpoint left to carry it.
  Result<std::optional<AuditEvent>> AppendAuditCheckpoint(const std::string& key, bool skip_if_idle = true);

  // ---- change feed ----------------------------------------------------------------------------
  // `listener` sees every approval change, after commit, in seq order, outside the database
  // locks, on the thread that made the change (or one that committed concurrently). It must be
  // cheap; it may read the store; store writes made from a listener are delivered after it
  // returns. Returns an id for RemoveListener.
  int AddListener(ChangeListener listener);
  // After it returns, the listener is not running and will not be called again.
  void RemoveListener(int id);
  // Approval events with seq > after_seq, oldest first, at most `limit` (SSE resume).
  Result<std::vector<ChangeEvent>> EventsSince(int64_t after_seq, int limit = 500);

  // ---- outbox ---------------------------------------------------------------------------------
  void SetOutboxFactory(OutboxFactory factory);
  // A row written outside an approval change (a reminder, a Slack reply, a policy notice);
  // row.approval_id, when set, must name an existing approval.
  Result<OutboxRow> EnqueueOutbox(const NewOutboxRow& row);
  // Claims up to `limit` due rows (pending with next_attempt_at <= now_ms, or delivering with an
  // expired lease): state -> delivering, attempts += 1. Oldest due first.
  Result<std::vector<OutboxRow>> ClaimDueOutbox(int64_t now_ms, int limit);
  // delivering -> delivered. kConflict if the row is not delivering.
  Status MarkOutboxDelivered(int64_t id, const std::string& status);
  // delivering -> pending at next_attempt_at_ms, or -> dead when give_up.
  Status MarkOutboxFailed(int64_t id, const std::string& status, int64_t next_attempt_at_ms,
                          bool give_up);
  Result<std::vector<OutboxRow>> ListOutbox(const OutboxFilter& filter);
  // Any state -> pending, due now, attempts kept. kNotFound if absent.
  Status RequeueOutbox(int64_t id);

  const Clock& clock() const;

  // Cheap (one statvfs and one read; no write, so it never adds to a full disk): kDiskFull when
  // less than kMinFreeBytes is free on the database's filesystem, kWriteFailed when the newest
  // write transaction failed (I/O error, read-only file, corruption; disk full only while space
  // is still short) and none has committed since, kReadFailed when the database cannot be read.
  static constexpr int64_t kMinFreeBytes = 1024 * 1024;
  StoreHealth Health();
  // Readiness probe: takes the write lock (BEGIN IMMEDIATE) and checks the connection may write
  // (not opened read-only); commits an empty transaction. Blocks up to the busy timeout.
  Status CheckWritable();

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdgate::store
