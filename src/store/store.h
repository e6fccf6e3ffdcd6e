#pragma once
// Store: the durable approvals core: approvals, votes, comments, the hash-chained audit log, the
// notification outbox, schema migrations, and the change feed. One interface, two
// implementations, chosen by Store::Open from the database name:
//   * an SQLite file (WAL; the embedded default; store/sqlite_store.h), one holdgate process;
//   * a PostgreSQL URL (postgresql://… or postgres://…; store/pg_store.h), shared by several
//     holdgate replicas. The rest of holdgate does not know which one it uses.
//
// Thread-safe. Every method blocks on database I/O. Every transition is one write transaction
// holding the conditional state change, its audit event and its outbox rows (SQLite: one writer
// connection, BEGIN IMMEDIATE; PostgreSQL: a pooled connection, conditional UPDATEs, audit
// appends serialised cluster-wide). Listeners run after commit, outside the database locks (see
// AddListener). All timestamps come from the injected Clock (ms since epoch).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json_util.h"
#include "common/shared_counters.h"
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
  // PostgreSQL only. Connections a replica keeps (writes and reads share them; a call waits for a
  // free one up to busy_timeout_ms, then fails with kUnavailable).
  int pg_pool_size = 8;
  // PostgreSQL only. A replica that has not refreshed its heartbeat for this long is dead: the
  // approvals it left executing are failed ("unknown: … not re-run") by the survivors.
  int64_t executing_lease_ms = 30 * 1000;
  // PostgreSQL only. Changes made by other replicas arrive by LISTEN/NOTIFY; this poll catches
  // what a lost notification or a dropped connection missed.
  int64_t feed_poll_ms = 1000;
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
// A reviewer's single sign-on session (review/sessions.h owns the rules), keyed by the SHA-256
// (64 hex) of the session id; the id itself is never stored.
struct ReviewerSessionRow {
  std::string id_hash;
  std::string subject;
  std::string role;          // "auditor" | "reviewer" | "admin"
  std::string display_name;
  std::string csrf_token;    // 64 hex
  int64_t created_at_ms = 0;
  int64_t last_seen_at_ms = 0;
  int64_t expires_at_ms = 0;  // the absolute end
};

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
  // Opens the database `path` names, applying pending migrations: a PostgreSQL URL
  // (IsPostgresUrl) opens a PgStore, anything else an SQLite file (created if needed).
  // REQUIRES: `clock` outlives the Store.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const Clock& clock,
                                             const StoreOptions& options = {});
  Store() = default;
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- approvals ------------------------------------------------------------------------------
  // Writes a pending approval (+ "approval.created" audit event + outbox rows) in one transaction.
  // kInvalidArgument for an empty principal/tool, approvers_needed < 1, negative timeout, an
  // on_timeout other than "reject", or a `reviewers` value that is not {"roles":[..],"names":[..]}.
  // kResourceExhausted when the principal is at input.max_pending_for_principal.
  virtual Result<Approval> CreatePending(const NewApproval& input) = 0;

  // kNotFound if absent.
  virtual Result<Approval> Get(const std::string& id) = 0;
  virtual Result<ApprovalPage> List(const ApprovalFilter& filter) = 0;
  virtual Result<std::vector<Comment>> ListComments(const std::string& approval_id) = 0;

  // For a retried call: the approval a call by `principal` with this fingerprint should attach
  // to, or nullopt to create a new one. Returns, preferring live ones, the newest approval that is
  //   pending / executing                                -> re-attach (wait, or report running)
  //   approved and not past its use-by time (use_within) -> re-attach and run it
  //   rejected / expired decided within options.rejection_memory_ms -> answer with that decision
  // Completed, failed, cancelled and lapsed approvals are never returned (they were consumed,
  // withdrawn or went stale: the same call again is a new request), nor are approved ones past
  // their use-by time, nor older rejections/expiries.
  virtual Result<std::optional<Approval>> FindReusable(const std::string& principal,
                                               const std::string& fingerprint) = 0;

  // FindReusable and CreatePending as one write transaction: the approval an identical call (same
  // principal, same tool and canonical arguments) can attach to by FindReusable's rule, else a new
  // pending one (created = true). Identical calls arriving at once share one approval, also when
  // they arrive on different replicas of one PostgreSQL database. CreatePending's errors.
  virtual Result<PendingFor> FindOrCreatePending(const NewApproval& input) = 0;

  // Records one reviewer's vote; see DecisionOutcome for the rules and the error codes. Quorum:
  // approvers_needed distinct approvers -> approved; any reject -> rejected. A reviewer votes
  // once: a repeated vote (either way, in any state) is an outcome with changed=false.
  // Overdue pending approvals are expired instead (kConflict "expired at …").
  virtual Result<DecisionOutcome> Decide(const DecisionInput& input) = 0;
  // Several votes in ONE write transaction (a bulk decision), each with exactly Decide's rules and
  // results, in input order; one refused vote does not stop the others. A database error fails
  // them all (nothing is decided).
  virtual std::vector<Result<DecisionOutcome>> DecideMany(const std::vector<DecisionInput>& inputs) = 0;

  // approved -> executing: the exactly-once gate before the upstream call. kConflict otherwise
  // (message names the current state), kNotFound if absent. An approved approval past its use-by
  // time lapses instead (committed, with its event) and kConflict says so.
  virtual Result<Approval> MarkExecuting(const std::string& id) = 0;
  // executing -> completed (failed=false) or failed (failed=true), storing `result` (the upstream
  // result or error). kConflict if not executing.
  virtual Result<Approval> Complete(const std::string& id, const Json& result, bool failed) = 0;
  // Many gates (a decision storm's releases) in ONE write transaction: each with exactly
  // MarkExecuting's rules and result, in input order. A database error fails them all (none is
  // released).
  virtual std::vector<Result<Approval>> MarkExecutingMany(const std::vector<std::string>& ids) = 0;
  // One outcome for Complete: executing -> completed / failed.
  struct Completion {
    std::string id;
    Json result;
    bool failed = false;
  };
  // Many outcomes with exactly Complete's rules and results, in input order (SQLite: one write
  // transaction; a database error fails them all. PostgreSQL: Complete each, with its retries).
  virtual std::vector<Result<Approval>> CompleteMany(const std::vector<Completion>& outcomes) = 0;
  // pending and past expires_at -> expired (on_timeout "reject"; never approves). kConflict if not
  // pending or not yet due.
  virtual Result<Approval> Expire(const std::string& id) = 0;
  // Expires every pending approval with expires_at <= now_ms (at most `limit` per call, oldest
  // deadline first); returns them.
  virtual Result<std::vector<Approval>> ExpireDue(int64_t now_ms, int limit = 1000) = 0;
  // Lapses every approved approval whose use-by time (decided_at + use_within) is <= now_ms, at
  // most `limit` per call, oldest decision first; returns them. A lapsed call never runs.
  virtual Result<std::vector<Approval>> LapseDue(int64_t now_ms, int limit = 1000) = 0;
  // pending -> cancelled. `actor` defaults to the agent side. kConflict if not pending.
  virtual Result<Approval> Cancel(const std::string& id, const std::string& why,
                          const std::string& actor = "agent") = 0;
  // Flags that the agent's held request went away (pending/approved only). Idempotent: a second
  // call changes nothing and writes no event. kConflict in other states.
  virtual Result<Approval> MarkAgentLeft(const std::string& id) = 0;
  // At start-up: executing -> failed with reason "unknown: holdgate stopped while the tool was
  // running; not re-run". Returns how many.
  virtual Result<int> RecoverAfterCrash() = 0;
  // kNotFound if the approval is absent; kInvalidArgument for an empty author/body.
  virtual Result<Comment> AddComment(const std::string& approval_id, const std::string& author,
                             const std::string& body) = 0;

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
  virtual Result<Grant> CreateGrant(const NewGrant& input) = 0;
  // The live grant covering `call`, or nullopt: a grant for identical arguments before one for
  // any arguments, then the newest. Read only.
  virtual Result<std::optional<Grant>> FindGrant(const GrantQuery& call) = 0;
  // Records one use of grant `id` for `call` (uses + 1, a "grant.used" audit event with
  // decision "allow"), in one transaction that re-checks the grant is live and covers the call;
  // nullopt (nothing written) when it no longer is. `detail` goes into the audit event.
  virtual Result<std::optional<Grant>> UseGrant(const std::string& id, const GrantQuery& call, Json detail) = 0;
  // Live grants (not revoked, not expired), newest first; with include_ended also ended ones.
  virtual Result<std::vector<Grant>> ListGrants(bool include_ended = false, int limit = 500) = 0;
  virtual Result<Grant> GetGrant(const std::string& id) = 0;  // kNotFound if absent
  // Live -> revoked (+ "grant.revoked"). kNotFound; kConflict when already revoked or expired.
  // Who may revoke is the caller's rule (the review API: admins and the grant's maker).
  virtual Result<Grant> RevokeGrant(const std::string& id, const std::string& actor, const std::string& via,
                                    const std::string& reason) = 0;
  // Marks grants whose expires_at <= now_ms as expired, one "grant.expired" event each (at most
  // `limit` per call); returns them. A grant past its time covers nothing even before this runs.
  virtual Result<std::vector<Grant>> ExpireDueGrants(int64_t now_ms, int limit = 1000) = 0;

  // ---- reviewer sessions (single sign-on) -----------------------------------------------------
  // Stores a new session; kAlreadyExists when the id_hash is taken, kInvalidArgument for a row the
  // table's checks refuse.
  virtual Status PutReviewerSession(const ReviewerSessionRow& row) = 0;
  virtual Result<std::optional<ReviewerSessionRow>> GetReviewerSession(const std::string& id_hash) = 0;
  // Sets last_seen_at (never backwards). OK when the session is gone.
  virtual Status TouchReviewerSession(const std::string& id_hash, int64_t last_seen_ms) = 0;
  // True when a session was deleted.
  virtual Result<bool> DeleteReviewerSession(const std::string& id_hash) = 0;
  // Deletes sessions last seen before `idle_before_ms` or whose expires_at <= `now_ms`; returns how many.
  virtual Result<int> PruneReviewerSessions(int64_t idle_before_ms, int64_t now_ms) = 0;

  // ---- audit ----------------------------------------------------------------------------------
  // Appends an event not tied to a transition (call received/allowed/denied, auth failures,
  // policy loaded, …). Returns it with seq, ts, prev_hash and hash filled in.
  virtual Result<AuditEvent> AppendAudit(const AuditEvent& event) = 0;
  virtual Result<AuditPage> ListAudit(const AuditFilter& filter) = 0;
  // Counts per tool of the events with ts >= since_ms (see ToolActivity), in ONE query; tools
  // without events are absent. Sorted by tool.
  virtual Result<std::vector<ToolActivity>> ToolActivitySince(int64_t since_ms) = 0;
  // Walks the whole chain on this database (from its newest archive anchor, if any).
  virtual Result<AuditVerdict> VerifyAuditChain(const AuditVerifyOptions& options = {}) = 0;
  virtual Result<std::vector<AuditAnchor>> ListAuditAnchors() = 0;

  // Retention. Writes the events through the cut point (see AuditArchiveOptions) to a new archive
  // file (0600; see audit.h for the format), fsyncs it, then in ONE write transaction records an
  // audit_anchors row (last archived seq + hash), deletes those rows, and appends an
  // "audit.archived" event; the archive is removed again if that transaction fails. Refuses
  // (kConflict) to archive a prefix whose chain does not verify. Safe beside a live holdgate on the
  // same file: the prune is a BEGIN IMMEDIATE transaction that re-checks the anchor and the cut
  // row, and appends always continue from the newest row or anchor, so the chain cannot fork.
  // A second archive starts where the previous one ended.
  virtual Result<AuditArchiveResult> ArchiveAudit(const AuditArchiveOptions& options) = 0;

  // Signed checkpoint: appends an "audit.checkpoint" event whose detail carries the head (seq,
  // hash) it follows, the anchor the newest checkpoint vouched for (genesis before any archive)
  // and AuditCheckpointHmac over both (audit.h). With skip_if_idle, nothing is written (nullopt)
  // when the head already is a checkpoint. kInvalidArgument for an empty key; kConflict (nothing
  // written) when the newest checkpoint does not match the key, or the chain starts at an anchor
  // with no checkpoint left to carry it.
  virtual Result<std::optional<AuditEvent>> AppendAuditCheckpoint(const std::string& key, bool skip_if_idle = true) = 0;

  // ---- change feed ----------------------------------------------------------------------------
  // `listener` sees every approval change, after commit, in seq order, outside the database
  // locks, on the thread that made the change (or one that committed concurrently). It must be
  // cheap; it may read the store; store writes made from a listener are delivered after it
  // returns. Returns an id for RemoveListener.
  virtual int AddListener(ChangeListener listener) = 0;
  // After it returns, the listener is not running and will not be called again.
  virtual void RemoveListener(int id) = 0;
  // Approval events with seq > after_seq, oldest first, at most `limit` (SSE resume).
  virtual Result<std::vector<ChangeEvent>> EventsSince(int64_t after_seq, int limit = 500) = 0;

  // ---- outbox ---------------------------------------------------------------------------------
  virtual void SetOutboxFactory(OutboxFactory factory) = 0;
  // A row written outside an approval change (a reminder, a Slack reply, a policy notice);
  // row.approval_id, when set, must name an existing approval.
  virtual Result<OutboxRow> EnqueueOutbox(const NewOutboxRow& row) = 0;
  // Claims up to `limit` due rows (pending with next_attempt_at <= now_ms, or delivering with an
  // expired lease): state -> delivering, attempts += 1. Oldest due first.
  virtual Result<std::vector<OutboxRow>> ClaimDueOutbox(int64_t now_ms, int limit) = 0;
  // delivering -> delivered. kConflict if the row is not delivering.
  virtual Status MarkOutboxDelivered(int64_t id, const std::string& status) = 0;
  // delivering -> pending at next_attempt_at_ms, or -> dead when give_up.
  virtual Status MarkOutboxFailed(int64_t id, const std::string& status, int64_t next_attempt_at_ms,
                          bool give_up) = 0;
  virtual Result<std::vector<OutboxRow>> ListOutbox(const OutboxFilter& filter) = 0;
  // Any state -> pending, due now, attempts kept. kNotFound if absent.
  virtual Status RequeueOutbox(int64_t id) = 0;

  virtual const Clock& clock() const = 0;

  // Cheap (one statvfs and one read; no write, so it never adds to a full disk): kDiskFull when
  // less than kMinFreeBytes is free on the database's filesystem, kWriteFailed when the newest
  // write transaction failed (I/O error, read-only file, corruption; disk full only while space
  // is still short) and none has committed since, kReadFailed when the database cannot be read.
  static constexpr int64_t kMinFreeBytes = 1024 * 1024;
  virtual StoreHealth Health() = 0;
  // Readiness probe: takes the write lock (BEGIN IMMEDIATE) and checks the connection may write
  // (not opened read-only); commits an empty transaction. Blocks up to the busy timeout.
  virtual Status CheckWritable() = 0;

  // ---- shared rate-limit counters ---------------------------------------------------------------
  // The policy's rate-limit counters, shared by every replica of this database, or null when this
  // process is the store's only user (SQLite: the rate limiter counts in memory). Owned by the
  // store; valid while it lives.
  virtual SharedCounters* RateCounters() { return nullptr; }
};

// True for "postgresql://…" and "postgres://…" (a libpq URI; PG* environment variables fill in
// what it leaves out); every other database name is an SQLite file.
bool IsPostgresUrl(const std::string& db);

}  // namespace holdgate::store
