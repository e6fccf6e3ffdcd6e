#include "store/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "common/crypto.h"
#include "common/trace.h"
#include "store/rules.h"
#include "store/store_impl.h"

namespace holdgate::store {
namespace {

using internal::ScopedReset;
using internal::StatementCache;

// The WAL checkpointer (store_impl.h): its period, the WAL size that wakes it early, and the size
// past which it restarts the WAL.
constexpr std::chrono::milliseconds kWalCheckpointInterval{200};
constexpr int kWalPagesToCheckpoint = 1000;
constexpr int kWalPagesToRestart = 4000;
constexpr int kWalPagesForcedRestart = 8000;

using internal::AlreadyDecidedMessage;
using internal::ApprovalIdPrefix;
using internal::AuditValue;
using internal::CheckDecisionInput;
using internal::ExecutingAuditDetail;
using internal::ExpiryReason;
using internal::JsonText;
using internal::kRecoveredReason;
using internal::NewPendingApproval;
using internal::NotPending;
using internal::ReviewerAllowed;
using internal::VotesSummary;

// The reloaded approval inside a transaction; it must exist (we just wrote it).
Approval MustLoad(SqliteStore::Impl::Tx& tx, const std::string& id) {
  std::optional<Approval> a = SqliteStore::Impl::LoadApproval(tx.stmts, id);
  if (!a) throw std::runtime_error("approval " + id + " vanished inside its transaction");
  return std::move(*a);
}

// Expires one pending approval in `tx` (the caller checked it is due). Returns it afterwards.
Approval ExpireTx(SqliteStore::Impl& impl, SqliteStore::Impl::Tx& tx, const Approval& a) {
  SQLite::Statement& up = tx.stmts.Get(
      "UPDATE approvals SET state = 'expired', decided_at = ?, decided_by = 'holdgate', "
      "decided_via = 'system', reason = ?, updated_at = ? WHERE id = ? AND state = 'pending'");
  BindInt(up, 1, tx.now);
  up.bind(2, ExpiryReason(a));
  BindInt(up, 3, tx.now);
  up.bind(4, a.id);
  if (up.exec() != 1) throw std::runtime_error("expire: approval " + a.id + " is not pending");
  Approval after = MustLoad(tx, a.id);
  impl.EmitTx(tx, "approval.expired", after, "holdgate", "system", "expire",
              Json{{"expires_at", a.expires_at_ms}, {"on_timeout", a.on_timeout},
                   {"reason", after.reason}});
  return after;
}

// Lapses one approved approval in `tx` (the caller checked it is past its use-by time).
Approval LapseTx(SqliteStore::Impl& impl, SqliteStore::Impl::Tx& tx, const Approval& a) {
  const std::string reason = "approved at " + FormatTimeMs(a.decided_at_ms) + " but not released within " +
                             FormatDuration(a.use_within_ms) +
                             " (use_within); not run. An identical call needs a new approval.";
  SQLite::Statement& up = tx.stmts.Get(
      "UPDATE approvals SET state = 'lapsed', reason = ?, updated_at = ? WHERE id = ? AND state = 'approved'");
  up.bind(1, reason);
  BindInt(up, 2, tx.now);
  up.bind(3, a.id);
  if (up.exec() != 1) throw std::runtime_error("lapse: approval " + a.id + " is not approved");
  Approval after = MustLoad(tx, a.id);
  impl.EmitTx(tx, "approval.lapsed", after, "holdgate", "system", "lapse",
              Json{{"use_by", a.UseByMs()}, {"use_within_ms", a.use_within_ms}, {"reason", reason}});
  return after;
}

// One reviewer's vote inside `tx` (see Store::Decide). REQUIRES: CheckDecisionInput(in) is OK.
Result<DecisionOutcome> DecideTx(SqliteStore::Impl& impl, SqliteStore::Impl::Tx& tx, const DecisionInput& in) {
  std::optional<Approval> found = SqliteStore::Impl::LoadApproval(tx.stmts, in.id);
  if (!found) return NotFound("no approval " + in.id);
  Approval a = std::move(*found);

  DecisionOutcome out;
  out.approvals_needed = a.approvers_needed;
  // A reviewer votes once, whatever has happened since: repeating is a no-op, not an error.
  for (const Vote& v : a.votes) {
    if (!SameIdentity(v.reviewer, in.reviewer)) continue;
    out.changed = false;
    out.state = a.state;
    out.approvals_so_far = a.ApprovalsSoFar();
    out.message = in.reviewer + " already voted " + (v.approve ? "approve" : "reject") + " at " +
                  FormatTimeMs(v.at_ms) + " via " + v.via + "; approval is " + StateName(a.state);
    if (a.state == State::kPending) {
      out.message += " (" + std::to_string(out.approvals_so_far) + " of " +
                     std::to_string(a.approvers_needed) + " approvals)";
    }
    out.approval = std::move(a);
    return out;
  }
  if (a.state != State::kPending) return Conflict(AlreadyDecidedMessage(a));
  if (a.expires_at_ms > 0 && tx.now >= a.expires_at_ms) {
    // Overdue but not swept yet: time decides first, and never in favour of running the tool.
    Approval expired = ExpireTx(impl, tx, a);
    tx.commit_on_error = true;
    return Conflict("expired at " + FormatTimeMs(a.expires_at_ms) + " before this decision: " +
                    expired.reason);
  }
  if (in.approve && SameIdentity(in.reviewer, a.principal)) {
    return Status(Code::kPermissionDenied,
                  in.reviewer + " requested this call and cannot approve it");
  }
  std::string need;
  if (!ReviewerAllowed(a.reviewers, in.reviewer, in.roles, &need)) {
    return Status(Code::kPermissionDenied,
                  in.reviewer + " may not decide this approval: it needs " + need);
  }
  bool edit = false;
  if (in.edited_arguments) {
    if (!a.editable) return InvalidArgument("this approval does not allow editing the arguments");
    const Json& current = a.EffectiveArguments();
    if (CanonicalJson(*in.edited_arguments) != CanonicalJson(current)) {
      if (a.ApprovalsSoFar() > 0) {
        return Conflict("other reviewers already approved the arguments as they are; edits must "
                        "come with the first approval");
      }
      edit = true;
    }
  }

  SQLite::Statement& vote = tx.stmts.Get(
      "INSERT INTO votes (approval_id, reviewer, decision, via, reason, at) VALUES (?, ?, ?, ?, ?, ?)");
  vote.bind(1, a.id);
  vote.bind(2, in.reviewer);
  vote.bind(3, in.approve ? "approve" : "reject");
  vote.bind(4, in.via);
  vote.bind(5, in.reason);
  BindInt(vote, 6, tx.now);
  vote.exec();
  const std::string id = a.id;
  const int approvers_needed = a.approvers_needed;
  Approval voted;
  if (edit) {
    SQLite::Statement& up = tx.stmts.Get(
        "UPDATE approvals SET edited_arguments = ?, updated_at = ? WHERE id = ? AND state = 'pending'");
    up.bind(1, CanonicalJson(*in.edited_arguments));
    BindInt(up, 2, tx.now);
    up.bind(3, id);
    up.exec();
    voted = MustLoad(tx, id);  // the arguments as stored
  } else {
    // The row as it now reads, without reading it back: the vote joins the others, which are
    // read ordered by time, then by insertion.
    voted = std::move(a);
    const auto after = std::upper_bound(voted.votes.begin(), voted.votes.end(), tx.now,
                                        [](int64_t at, const Vote& v) { return at < v.at_ms; });
    voted.votes.insert(after, Vote{id, in.reviewer, in.approve, in.via, in.reason, tx.now});
  }
  const int approvals = voted.ApprovalsSoFar();
  Json vote_detail = VotesSummary(voted);
  vote_detail["reason"] = in.reason;
  if (!in.via_source.empty()) vote_detail["via_source"] = in.via_source;
  if (edit) vote_detail["edited_arguments"] = AuditValue(*in.edited_arguments);

  const bool reject = !in.approve;
  const bool quorum = in.approve && approvals >= approvers_needed;
  // The vote event carries the caller's outbox rows only when it does not decide; a deciding
  // vote's rows go with the decision event.
  impl.EmitTx(tx, "approval.vote", voted, in.reviewer, in.via, in.approve ? "approve" : "reject",
                vote_detail, (reject || quorum) ? nullptr : &in.outbox);

  if (reject || quorum) {
    std::string decided_by = in.reviewer;
    if (quorum) {
      decided_by.clear();
      for (const Vote& v : voted.votes) {
        if (!v.approve) continue;
        if (!decided_by.empty()) decided_by += ", ";
        decided_by += v.reviewer;
      }
    }
    SQLite::Statement& up = tx.stmts.Get(
        "UPDATE approvals SET state = ?, decided_at = ?, decided_by = ?, decided_via = ?, "
        "reason = ?, updated_at = ? WHERE id = ? AND state = 'pending'");
    up.bind(1, reject ? "rejected" : "approved");
    BindInt(up, 2, tx.now);
    up.bind(3, decided_by);
    up.bind(4, in.via);
    up.bind(5, in.reason);
    BindInt(up, 6, tx.now);
    up.bind(7, id);
    if (up.exec() != 1) throw std::runtime_error("decide: approval " + id + " left pending state");
    // As the UPDATE wrote it (not read back).
    voted.state = reject ? State::kRejected : State::kApproved;
    voted.decided_at_ms = tx.now;
    voted.decided_by = decided_by;
    voted.decided_via = in.via;
    voted.reason = in.reason;
    voted.updated_at_ms = tx.now;
    Json detail = VotesSummary(voted);
    detail["reason"] = in.reason;
    detail["decided_by"] = decided_by;
    if (!in.via_source.empty()) detail["via_source"] = in.via_source;
    if (!voted.edited_arguments.is_null()) detail["edited_arguments"] = AuditValue(voted.edited_arguments);
    impl.EmitTx(tx, reject ? "approval.rejected" : "approval.approved", voted, in.reviewer, in.via,
                  reject ? "reject" : "approve", std::move(detail), &in.outbox);
  }

  out.changed = true;
  out.state = voted.state;
  out.approvals_so_far = approvals;
  if (reject) {
    out.message = "rejected by " + in.reviewer + ": " + in.reason;
  } else if (quorum) {
    out.message = "approved (" + std::to_string(approvals) + " of " +
                  std::to_string(approvers_needed) + ")";
  } else {
    out.message = "vote recorded (" + std::to_string(approvals) + " of " +
                  std::to_string(approvers_needed) + " approvals)";
  }
  out.approval = std::move(voted);
  return out;
}

// The id FindReusable answers with (see Store::FindReusable for the rule), read in `stmts`'s
// transaction.
std::optional<std::string> ReusableApprovalId(StatementCache& stmts, const std::string& principal,
                                              const std::string& fingerprint, int64_t now, int64_t remember_since) {
  SQLite::Statement& q = stmts.Get(
      "SELECT id FROM approvals WHERE principal = :p AND fingerprint = :f AND ("
      " state IN ('pending', 'executing') OR"
      " (state = 'approved' AND (use_within IS NULL OR decided_at + use_within > :now)) OR"
      " (state IN ('rejected', 'expired') AND decided_at >= :since))"
      " ORDER BY CASE WHEN state IN ('pending', 'approved', 'executing') THEN 0 ELSE 1 END,"
      " id DESC LIMIT 1");
  ScopedReset reset(q);
  q.bind(":p", principal);
  q.bind(":f", fingerprint);
  q.bind(":since", remember_since);
  q.bind(":now", now);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

}  // namespace

Approval ReadApprovalRow(SQLite::Statement& s) {
  using internal::ParseStoredJson;
  Approval a;
  a.id = s.getColumn(0).getString();
  a.principal = s.getColumn(1).getString();
  a.session_id = s.getColumn(2).getString();
  a.tool = s.getColumn(3).getString();
  a.arguments = ParseStoredJson(s.getColumn(4).getString());
  a.fingerprint = s.getColumn(5).getString();
  a.rule = s.getColumn(6).getString();
  a.risk = ParseStoredJson(s.getColumn(7).getString());
  ParseState(s.getColumn(8).getString(), &a.state);
  a.approvers_needed = s.getColumn(9).getInt();
  a.reviewers = ParseStoredJson(s.getColumn(10).getString());
  a.editable = s.getColumn(11).getInt() != 0;
  if (!s.getColumn(12).isNull()) a.edited_arguments = ParseStoredJson(s.getColumn(12).getString());
  a.on_timeout = s.getColumn(13).getString();
  a.notify = ParseStoredJson(s.getColumn(14).getString());
  a.created_at_ms = s.getColumn(15).getInt64();
  a.expires_at_ms = s.getColumn(16).isNull() ? 0 : s.getColumn(16).getInt64();
  a.decided_at_ms = s.getColumn(17).isNull() ? 0 : s.getColumn(17).getInt64();
  a.decided_by = s.getColumn(18).getString();
  a.decided_via = s.getColumn(19).getString();
  a.reason = s.getColumn(20).getString();
  if (!s.getColumn(21).isNull()) a.result = ParseStoredJson(s.getColumn(21).getString());
  a.agent_left = s.getColumn(22).getInt() != 0;
  a.updated_at_ms = s.getColumn(23).getInt64();
  a.use_within_ms = s.getColumn(24).isNull() ? 0 : s.getColumn(24).getInt64();
  a.trace_id = s.getColumn(25).getString();
  a.rule_reason = s.getColumn(26).getString();
  a.remember_max_ms = s.getColumn(27).getInt64();
  a.remember_any_arguments = s.getColumn(28).getInt() != 0;
  return a;
}

// ---- Impl ---------------------------------------------------------------------------------------

SqliteStore::Impl::~Impl() {
  if (checkpointer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(checkpoint_mu_);
      checkpoint_stop_ = true;
    }
    checkpoint_cv_.notify_all();
    checkpointer_.join();
  }
  if (wdb_) sqlite3_wal_hook(wdb_->getHandle(), nullptr, nullptr);
  cdb_.reset();
  // Statements hold the raw sqlite3*: destroy them before their connections.
  wstmts_.reset();
  rstmts_.reset();
  if (wdb_) {
    try {
      wdb_->exec("PRAGMA optimize");
    } catch (const std::exception&) {
    }
  }
  rdb_.reset();
  wdb_.reset();
}

Status SqliteStore::Impl::Open(const std::string& path) {
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) {
    return InvalidArgument("the store needs a database file path (got \"" + path + "\")");
  }
  const size_t slash = path.rfind('/');
  dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  try {
    wdb_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                                              options_.busy_timeout_ms);
    const std::string mode = wdb_->execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") return IoError("cannot switch " + path + " to WAL (journal_mode=" + mode + ")");
    wdb_->exec("PRAGMA synchronous = NORMAL");
    wdb_->exec("PRAGMA cache_size = -16000");  // 16 MB: the hot index pages stay cached
    // Foreign keys are switched on only after the migrations (see ApplyMigrations); the pragma
    // is a no-op inside a transaction, so this is the only place it can be set.
    wdb_->exec("PRAGMA foreign_keys = OFF");
    Status migrated = internal::ApplyMigrations(*wdb_, clock_.NowMs());
    if (!migrated.ok()) return migrated;
    wdb_->exec("PRAGMA foreign_keys = ON");
    wstmts_ = std::make_unique<StatementCache>(*wdb_);

    rdb_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY, options_.busy_timeout_ms);
    rstmts_ = std::make_unique<StatementCache>(*rdb_);

    wdb_->exec("PRAGMA wal_autocheckpoint = 0");  // CheckpointWal's thread does it (store_impl.h)
    cdb_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, options_.busy_timeout_ms);
    // Runs on the committing thread, after each commit: wakes the checkpointer (or, past the
    // backstop size, checkpoints itself).
    sqlite3_wal_hook(
        wdb_->getHandle(),
        [](void* self, sqlite3* db, const char* name, int pages) {
          if (pages >= kWalPagesForcedRestart) {
            // The backstop when the checkpointer cannot keep up (a slow disk): this commit's
            // writer, still holding write_mu_, starts the WAL over before the next commit. BUSY
            // (the checkpointer is mid-copy and restarts it itself next) leaves it to the next commit.
            const int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
            if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
              log::Warn("forced WAL checkpoint failed", {{"error", sqlite3_errstr(rc)}});
            }
          } else if (pages >= kWalPagesToCheckpoint) {
            auto* impl = static_cast<Impl*>(self);
            {
              std::lock_guard<std::mutex> lock(impl->checkpoint_mu_);
              impl->checkpoint_due_ = true;
            }
            impl->checkpoint_cv_.notify_one();
          }
          return SQLITE_OK;
        },
        this);
    checkpointer_ = std::thread([this] { CheckpointLoop(); });
  } catch (const SQLite::Exception& e) {
    return IoError("cannot open store " + path + ": " + e.what());
  } catch (const std::exception& e) {
    return Internal("cannot open store " + path + ": " + e.what());
  }
  return Status::Ok();
}

void SqliteStore::Impl::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(checkpoint_mu_);
  while (!checkpoint_stop_) {
    checkpoint_cv_.wait_for(lock, kWalCheckpointInterval, [&] { return checkpoint_due_ || checkpoint_stop_; });
    if (checkpoint_stop_) break;
    checkpoint_due_ = false;
    lock.unlock();
    CheckpointWal();
    lock.lock();
  }
}

void SqliteStore::Impl::CheckpointWal() {
  try {
    // One row: busy, pages in the WAL, pages copied back.
    SQLite::Statement passive(*cdb_, "PRAGMA wal_checkpoint(PASSIVE)");
    if (passive.executeStep() && passive.getColumn(1).getInt() >= kWalPagesToRestart) {
      passive.reset();
      // Holding the writer's lock keeps commits out without racing them for SQLite's write lock
      // (a busy handler polling between back-to-back commits can miss every gap), so RESTART
      // waits only for readers and copies just the frames written since the PASSIVE pass.
      std::lock_guard<std::mutex> no_commits(write_mu_);
      cdb_->exec("PRAGMA wal_checkpoint(RESTART)");
    }
  } catch (const SQLite::Exception& e) {
    // The next pass tries again; the WAL only grows meanwhile.
    log::Warn("WAL checkpoint failed", {{"error", e.what()}});
  }
}

std::optional<Approval> SqliteStore::Impl::LoadApproval(StatementCache& stmts, const std::string& id) {
  std::optional<Approval> out;
  {
    SQLite::Statement& q =
        stmts.Get(std::string("SELECT ") + kApprovalColumns + " FROM approvals WHERE id = ?");
    ScopedReset reset(q);
    q.bind(1, id);
    if (!q.executeStep()) return std::nullopt;
    out = ReadApprovalRow(q);
  }
  out->votes = LoadVotes(stmts, id);
  return out;
}

std::vector<Vote> SqliteStore::Impl::LoadVotes(StatementCache& stmts, const std::string& id) {
  SQLite::Statement& q = stmts.Get(
      "SELECT reviewer, decision, via, reason, at FROM votes WHERE approval_id = ? "
      "ORDER BY at, rowid");
  ScopedReset reset(q);
  q.bind(1, id);
  std::vector<Vote> votes;
  while (q.executeStep()) {
    Vote v;
    v.approval_id = id;
    v.reviewer = q.getColumn(0).getString();
    v.approve = q.getColumn(1).getString() == "approve";
    v.via = q.getColumn(2).getString();
    v.reason = q.getColumn(3).getString();
    v.at_ms = q.getColumn(4).getInt64();
    votes.push_back(std::move(v));
  }
  return votes;
}

void SqliteStore::Impl::EmitTx(Tx& tx, const std::string& type, const Approval& approval,
                         const std::string& actor, const std::string& via,
                         const std::string& decision, Json detail,
                         const std::vector<NewOutboxRow>* extra) {
  // The approval's events carry the trace id of the call that created it, whichever thread
  // writes them (a reviewer's request, the sweeper, a release).
  std::optional<trace::ScopedTrace> traced;
  if (!approval.trace_id.empty() && trace::CurrentTraceId().empty()) traced.emplace(approval.trace_id);
  AuditEvent e;
  e.ts_ms = tx.now;
  e.type = type;
  e.approval_id = approval.id;
  e.principal = approval.principal;
  e.actor = actor;
  e.via = via;
  e.tool = approval.tool;
  e.rule = approval.rule;
  e.decision = decision;
  e.detail = std::move(detail);
  AuditEvent written = AppendAuditTx(tx, std::move(e));
  if (extra) {
    for (const NewOutboxRow& row : *extra) InsertOutboxTx(tx, approval.id, row);
  }
  if (outbox_factory_) {
    for (const NewOutboxRow& row : outbox_factory_(type, approval)) InsertOutboxTx(tx, approval.id, row);
  }
  if (has_listeners_.load()) {
    tx.events.push_back(ChangeEvent{written.seq, type, written.ts_ms, actor, approval});
  }
}

void SqliteStore::Impl::RunWriter(Writer* w) {
  constexpr size_t kMaxBatch = 128;
  std::unique_lock<std::mutex> queue(queue_mu_);
  writers_.push_back(w);
  while (!w->done && w != writers_.front()) w->cv.wait(queue);
  if (w->done) return;  // a leader committed it
  std::vector<Writer*> batch(writers_.begin(),
                             writers_.begin() + static_cast<long>(std::min(writers_.size(), kMaxBatch)));
  queue.unlock();
  {
    std::lock_guard<std::mutex> db(write_mu_);
    CommitBatch(batch);
  }
  queue.lock();
  for (Writer* b : batch) {
    writers_.pop_front();
    b->done = true;
    if (b != w) b->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
}

void SqliteStore::Impl::CommitBatch(const std::vector<Writer*>& batch) {
  const bool savepoints = batch.size() > 1;
  std::vector<bool> kept(batch.size(), false);
  std::vector<bool> settled(batch.size(), false);  // result final (a body's own error)
  std::vector<std::vector<ChangeEvent>> events(batch.size());
  try {
    SQLite::Transaction transaction(*wdb_, SQLite::TransactionBehavior::IMMEDIATE);
    for (size_t i = 0; i < batch.size(); ++i) {
      Tx tx{*wdb_, *wstmts_, clock_.NowMs(), {}, false};
      if (savepoints) wstmts_->Get("SAVEPOINT w").exec();
      try {
        kept[i] = batch[i]->run(tx);
      } catch (const SQLite::Exception& e) {
        log::Error("store write failed", {{"op", batch[i]->what}, {"error", e.what()},
                                          {"code", e.getExtendedErrorCode()}});
        RecordWriteOutcome(e.getErrorCode(), e.what());
        batch[i]->fail(IoError(std::string(batch[i]->what) + ": database error: " + e.what()));
      } catch (const std::exception& e) {
        log::Error("store write failed", {{"op", batch[i]->what}, {"error", e.what()}});
        batch[i]->fail(Internal(std::string(batch[i]->what) + ": " + e.what()));
      }
      settled[i] = !kept[i];
      if (kept[i]) events[i] = std::move(tx.events);
      if (!kept[i]) wstmts_->ResetAll();
      if (savepoints) {
        if (!kept[i]) wstmts_->Get("ROLLBACK TO w").exec();
        wstmts_->Get("RELEASE w").exec();
      }
    }
    if (std::find(kept.begin(), kept.end(), true) == kept.end()) return;  // destructor rolls back
    transaction.commit();
    RecordWriteOutcome(SQLITE_OK, "");
  } catch (const std::exception& e) {
    // BEGIN, a savepoint or COMMIT failed: nothing of this batch is durable.
    log::Error("store commit failed", {{"error", e.what()}, {"batch", batch.size()}});
    const auto* sqlite_error = dynamic_cast<const SQLite::Exception*>(&e);
    RecordWriteOutcome(sqlite_error != nullptr ? sqlite_error->getErrorCode() : -1, e.what());
    wstmts_->ResetAll();
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!settled[i]) batch[i]->fail(IoError(std::string(batch[i]->what) + ": commit failed: " + e.what()));
    }
    return;
  }
  if (!has_listeners_.load()) return;
  std::lock_guard<std::mutex> feed(feed_mu_);
  for (auto& list : events) {
    for (ChangeEvent& e : list) queue_.push_back(std::move(e));
  }
}

// ---- Store: lifecycle -------------------------------------------------------------------------

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<Store>> SqliteStore::Open(const std::string& path, const Clock& clock,
                                           const StoreOptions& options) {
  auto impl = std::make_unique<Impl>(clock, options);
  Status s = impl->Open(path);
  if (!s.ok()) return s;
  return std::unique_ptr<Store>(new SqliteStore(std::move(impl)));
}

const Clock& SqliteStore::clock() const { return impl_->clock_; }

// ---- Store: approvals -------------------------------------------------------------------------

Result<Approval> SqliteStore::CreatePending(const NewApproval& in) {
  Result<PendingFor> r = CreateOrReuse(in, /*reuse_identical=*/false);
  if (!r.ok()) return r.status();
  return std::move(r->approval);
}

Result<PendingFor> SqliteStore::FindOrCreatePending(const NewApproval& in) {
  return CreateOrReuse(in, /*reuse_identical=*/true);
}

Result<PendingFor> SqliteStore::CreateOrReuse(const NewApproval& in, bool reuse_identical) {
  Result<Approval> built = NewPendingApproval(in);
  if (!built.ok()) return built.status();
  Approval a = std::move(built).value();

  const std::string random_part = RandomHex(10);
  return impl_->Write<PendingFor>("create approval", [&](Impl::Tx& tx) -> Result<PendingFor> {
    if (reuse_identical) {
      std::optional<std::string> id = ReusableApprovalId(tx.stmts, a.principal, a.fingerprint, tx.now,
                                                         tx.now - impl_->options_.rejection_memory_ms);
      if (id) {
        std::optional<Approval> found = Impl::LoadApproval(tx.stmts, *id);
        if (found) return PendingFor{std::move(*found), false};
      }
    }
    if (in.max_pending_for_principal > 0) {
      SQLite::Statement& q = tx.stmts.Get(
          "SELECT count(*) FROM (SELECT 1 FROM approvals WHERE principal = ? AND state = 'pending' LIMIT ?)");
      ScopedReset reset(q);
      q.bind(1, a.principal);
      q.bind(2, in.max_pending_for_principal);
      if (q.executeStep() && q.getColumn(0).getInt() >= in.max_pending_for_principal) {
        return Status(Code::kResourceExhausted,
                      a.principal + " already has " + std::to_string(in.max_pending_for_principal) +
                          " pending approvals (approval.max_pending_per_principal); wait until some are decided");
      }
    }
    a.id = ApprovalIdPrefix(tx.now) + random_part;
    a.created_at_ms = tx.now;
    a.updated_at_ms = tx.now;
    a.expires_at_ms = in.timeout_ms > 0 ? tx.now + in.timeout_ms : 0;
    SQLite::Statement& ins = tx.stmts.Get(
        "INSERT INTO approvals (id, principal, session_id, tool, arguments, fingerprint, rule, risk, "
        "state, approvers_needed, reviewers, editable, on_timeout, notify, created_at, expires_at, "
        "updated_at, use_within, trace_id, rule_reason, remember_max, remember_any) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ins.bind(1, a.id);
    ins.bind(2, a.principal);
    ins.bind(3, a.session_id);
    ins.bind(4, a.tool);
    ins.bind(5, JsonText(a.arguments));
    ins.bind(6, a.fingerprint);
    ins.bind(7, a.rule);
    ins.bind(8, JsonText(a.risk));
    ins.bind(9, a.approvers_needed);
    ins.bind(10, JsonText(a.reviewers));
    ins.bind(11, a.editable ? 1 : 0);
    ins.bind(12, a.on_timeout);
    ins.bind(13, JsonText(a.notify));
    BindInt(ins, 14, a.created_at_ms);
    if (a.expires_at_ms > 0) BindInt(ins, 15, a.expires_at_ms);
    else ins.bind(15);
    BindInt(ins, 16, a.updated_at_ms);
    if (a.use_within_ms > 0) BindInt(ins, 17, a.use_within_ms);
    else ins.bind(17);
    ins.bind(18, a.trace_id);
    ins.bind(19, a.rule_reason);
    BindInt(ins, 20, a.remember_max_ms);
    ins.bind(21, a.remember_any_arguments ? 1 : 0);
    ins.exec();
    impl_->EmitTx(tx, "approval.created", a, a.principal, "mcp", "hold",
                  Json{{"arguments", AuditValue(a.arguments)},
                       {"fingerprint", a.fingerprint},
                       {"session_id", a.session_id},
                       {"risk", a.risk},
                       {"approvers_needed", a.approvers_needed},
                       {"reviewers", a.reviewers},
                       {"expires_at", a.expires_at_ms},
                       {"use_within_ms", a.use_within_ms},
                       {"rule_reason", a.rule_reason}},
                  &in.outbox);
    return PendingFor{std::move(a), true};
  });
}

Result<Approval> SqliteStore::Get(const std::string& id) {
  return impl_->Read<Approval>("get approval", [&](StatementCache& stmts) -> Result<Approval> {
    std::optional<Approval> a = Impl::LoadApproval(stmts, id);
    if (!a) return NotFound("no approval " + id);
    return std::move(*a);
  });
}

Result<ApprovalPage> SqliteStore::List(const ApprovalFilter& f) {
  const int limit = std::clamp(f.limit, 1, 500);
  // Ids sort by creation time (ApprovalIdPrefix), so the primary key gives the order, the time
  // range and the cursor.
  std::string sql = std::string("SELECT ") + kApprovalColumns + " FROM approvals WHERE 1 = 1";
  if (!f.states.empty()) {
    sql += " AND state IN (";
    for (size_t i = 0; i < f.states.size(); ++i) sql += i ? ", ?" : "?";
    sql += ")";
  }
  if (!f.tool.empty()) sql += " AND tool = :tool";
  if (!f.principal.empty()) sql += " AND principal = :principal";
  if (f.created_from_ms > 0) sql += " AND id >= :from";
  if (f.created_to_ms > 0) sql += " AND id < :to";
  std::string cursor_id;
  if (!f.cursor.empty()) {
    Json c;
    if (!internal::DecodeCursor(f.cursor, &c) || !c.is_object() || !c.contains("i") || !c["i"].is_string()) {
      return InvalidArgument("malformed cursor");
    }
    cursor_id = c["i"].get<std::string>();
    sql += " AND id < :cursor";
  }
  sql += " ORDER BY id DESC LIMIT :limit";

  return impl_->Read<ApprovalPage>("list approvals", [&](StatementCache& stmts) -> Result<ApprovalPage> {
    ApprovalPage page;
    {
      SQLite::Statement& q = stmts.Get(sql);
      ScopedReset reset(q);
      int index = 1;
      for (State s : f.states) q.bind(index++, StateName(s));
      if (!f.tool.empty()) q.bind(":tool", f.tool);
      if (!f.principal.empty()) q.bind(":principal", f.principal);
      if (f.created_from_ms > 0) q.bind(":from", ApprovalIdPrefix(f.created_from_ms));
      if (f.created_to_ms > 0) q.bind(":to", ApprovalIdPrefix(f.created_to_ms));
      if (!f.cursor.empty()) q.bind(":cursor", cursor_id);
      q.bind(":limit", limit + 1);
      while (q.executeStep()) page.approvals.push_back(ReadApprovalRow(q));
    }
    if (static_cast<int>(page.approvals.size()) > limit) {
      page.approvals.pop_back();
      const Approval& last = page.approvals.back();
      page.next_cursor = internal::EncodeCursor(Json{{"i", last.id}});
    }
    for (Approval& a : page.approvals) a.votes = Impl::LoadVotes(stmts, a.id);
    return page;
  });
}

Result<std::vector<Comment>> SqliteStore::ListComments(const std::string& approval_id) {
  using Comments = std::vector<Comment>;
  return impl_->Read<Comments>("list comments", [&](StatementCache& stmts) -> Result<Comments> {
    SQLite::Statement& q = stmts.Get(
        "SELECT id, author, body, at FROM comments WHERE approval_id = ? ORDER BY id");
    ScopedReset reset(q);
    q.bind(1, approval_id);
    Comments out;
    while (q.executeStep()) {
      out.push_back(Comment{q.getColumn(0).getInt64(), approval_id, q.getColumn(1).getString(),
                            q.getColumn(2).getString(), q.getColumn(3).getInt64()});
    }
    return out;
  });
}

Result<std::optional<Approval>> SqliteStore::FindReusable(const std::string& principal,
                                                    const std::string& fingerprint) {
  using Found = std::optional<Approval>;
  const int64_t now = impl_->clock_.NowMs();
  const int64_t remember_since = now - impl_->options_.rejection_memory_ms;
  return impl_->Read<Found>("find reusable approval", [&](StatementCache& stmts) -> Result<Found> {
    std::optional<std::string> id = ReusableApprovalId(stmts, principal, fingerprint, now, remember_since);
    if (!id) return Found();
    return Impl::LoadApproval(stmts, *id);
  });
}

Result<DecisionOutcome> SqliteStore::Decide(const DecisionInput& in) {
  Status valid = CheckDecisionInput(in);
  if (!valid.ok()) return valid;
  return impl_->Write<DecisionOutcome>("decide",
                                      [&](Impl::Tx& tx) { return DecideTx(*impl_, tx, in); });
}

std::vector<Result<DecisionOutcome>> SqliteStore::DecideMany(const std::vector<DecisionInput>& inputs) {
  std::vector<Result<DecisionOutcome>> out(inputs.size(), Result<DecisionOutcome>(Internal("not run")));
  std::vector<size_t> valid;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Status s = CheckDecisionInput(inputs[i]);
    if (s.ok()) valid.push_back(i);
    else out[i] = s;
  }
  if (valid.empty()) return out;
  using Outcomes = std::vector<Result<DecisionOutcome>>;
  auto written = impl_->Write<Outcomes>("decide many", [&](Impl::Tx& tx) -> Result<Outcomes> {
    Outcomes each;
    each.reserve(valid.size());
    // One vote's refusal (decided already, not allowed) changes nothing and does not stop the
    // others; an overdue approval's expiry is kept like Decide keeps it.
    for (size_t i : valid) each.push_back(DecideTx(*impl_, tx, inputs[i]));
    return each;
  });
  for (size_t k = 0; k < valid.size(); ++k) {
    out[valid[k]] = written.ok() ? std::move((*written)[k]) : Result<DecisionOutcome>(written.status());
  }
  return out;
}

namespace {

// MarkExecuting's body inside `tx` (also run once per id by MarkExecutingMany).
Result<Approval> MarkExecutingTx(SqliteStore::Impl& impl, SqliteStore::Impl::Tx& tx, const std::string& id) {
  SQLite::Statement& up = tx.stmts.Get(
      "UPDATE approvals SET state = 'executing', updated_at = ? WHERE id = ? AND state = 'approved' AND "
      "(use_within IS NULL OR decided_at + use_within > ?)");
  BindInt(up, 1, tx.now);
  up.bind(2, id);
  BindInt(up, 3, tx.now);
  if (up.exec() != 1) {
    std::optional<Approval> a = SqliteStore::Impl::LoadApproval(tx.stmts, id);
    if (!a) return NotFound("no approval " + id);
    if (a->state == State::kExecuting || a->state == State::kCompleted || a->state == State::kFailed) {
      return Conflict("approval " + id + " was already released (" + StateName(a->state) +
                      "); it runs at most once");
    }
    if (a->state == State::kApproved) {
      // Past its use-by time and not swept yet: it lapses now, and is not run.
      Approval lapsed = LapseTx(impl, tx, *a);
      tx.commit_on_error = true;
      return Conflict("approval " + id + " lapsed: " + lapsed.reason);
    }
    return NotPending(*a, "approved");
  }
  Approval a = MustLoad(tx, id);
  impl.EmitTx(tx, "approval.executing", a, "holdgate", "system", "release", ExecutingAuditDetail(a));
  return a;
}

// Complete's body inside `tx` (also run once per outcome by CompleteMany).
Result<Approval> CompleteTx(SqliteStore::Impl& impl, SqliteStore::Impl::Tx& tx, const std::string& id,
                            const Json& result, bool failed) {
  SQLite::Statement& up = tx.stmts.Get(
      "UPDATE approvals SET state = ?, result = ?, updated_at = ? WHERE id = ? AND state = 'executing'");
  up.bind(1, failed ? "failed" : "completed");
  up.bind(2, CanonicalJson(result));
  BindInt(up, 3, tx.now);
  up.bind(4, id);
  if (up.exec() != 1) {
    std::optional<Approval> a = SqliteStore::Impl::LoadApproval(tx.stmts, id);
    if (!a) return NotFound("no approval " + id);
    return NotPending(*a, "executing");
  }
  Approval a = MustLoad(tx, id);
  impl.EmitTx(tx, failed ? "approval.failed" : "approval.completed", a, "holdgate", "system",
              failed ? "failed" : "completed", Json{{"result", AuditValue(result)}});
  return a;
}

// `each(tx, i)` for i in [0, n) in one write transaction; every result is what `each` returned, or
// the transaction's error for all of them. A refused item (an error result) wrote nothing but
// what its own rules keep (a lapse), so the others are committed with it.
template <typename Each>
std::vector<Result<Approval>> WriteEach(SqliteStore::Impl& impl, const char* what, size_t n, Each each) {
  using Each_ = std::vector<Result<Approval>>;
  if (n == 0) return {};
  auto written = impl.Write<Each_>(what, [&](SqliteStore::Impl::Tx& tx) -> Result<Each_> {
    Each_ out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back(each(tx, i));
    return out;
  });
  if (written.ok()) return std::move(written).value();
  return Each_(n, Result<Approval>(written.status()));
}

}  // namespace

Result<Approval> SqliteStore::MarkExecuting(const std::string& id) {
  return impl_->Write<Approval>("mark executing", [&](Impl::Tx& tx) { return MarkExecutingTx(*impl_, tx, id); });
}

std::vector<Result<Approval>> SqliteStore::MarkExecutingMany(const std::vector<std::string>& ids) {
  return WriteEach(*impl_, "mark executing many", ids.size(),
                   [&](Impl::Tx& tx, size_t i) { return MarkExecutingTx(*impl_, tx, ids[i]); });
}

Result<Approval> SqliteStore::Complete(const std::string& id, const Json& result, bool failed) {
  return impl_->Write<Approval>("complete",
                                [&](Impl::Tx& tx) { return CompleteTx(*impl_, tx, id, result, failed); });
}

std::vector<Result<Approval>> SqliteStore::CompleteMany(const std::vector<Completion>& outcomes) {
  return WriteEach(*impl_, "complete many", outcomes.size(), [&](Impl::Tx& tx, size_t i) {
    return CompleteTx(*impl_, tx, outcomes[i].id, outcomes[i].result, outcomes[i].failed);
  });
}

Result<Approval> SqliteStore::Expire(const std::string& id) {
  return impl_->Write<Approval>("expire", [&](Impl::Tx& tx) -> Result<Approval> {
    std::optional<Approval> a = Impl::LoadApproval(tx.stmts, id);
    if (!a) return NotFound("no approval " + id);
    if (a->state != State::kPending) return NotPending(*a, "pending");
    if (a->expires_at_ms == 0 || tx.now < a->expires_at_ms) {
      return Conflict("approval " + id + " is not due to expire" +
                      (a->expires_at_ms ? " until " + FormatTimeMs(a->expires_at_ms) : std::string()));
    }
    return ExpireTx(*impl_, tx, *a);
  });
}

namespace {

// Applies `transition(tx, approval)` to every approval `due_sql` selects (its parameters: a time
// and a row limit), in the query's order, inside `tx`. The caller's clock reading decides what is
// due; the transaction's own time stamps the change.
template <typename Transition>
std::vector<Approval> TransitionDueTx(SqliteStore::Impl::Tx& tx, const char* due_sql, int64_t now_ms, int limit,
                                      Transition transition) {
  std::vector<std::string> ids;
  {
    SQLite::Statement& q = tx.stmts.Get(due_sql);
    ScopedReset reset(q);
    BindInt(q, 1, now_ms);
    q.bind(2, limit);
    while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
  }
  std::vector<Approval> out;
  for (const std::string& id : ids) out.push_back(transition(tx, MustLoad(tx, id)));
  return out;
}

}  // namespace

Result<std::vector<Approval>> SqliteStore::ExpireDue(int64_t now_ms, int limit) {
  limit = std::clamp(limit, 1, 10000);
  return impl_->Write<std::vector<Approval>>("expire due", [&](Impl::Tx& tx) -> Result<std::vector<Approval>> {
    return TransitionDueTx(tx,
                           "SELECT id FROM approvals WHERE state = 'pending' AND expires_at IS NOT NULL AND "
                           "expires_at <= ? ORDER BY expires_at, id LIMIT ?",
                           now_ms, limit, [&](Impl::Tx& t, const Approval& a) { return ExpireTx(*impl_, t, a); });
  });
}

Result<std::vector<Approval>> SqliteStore::LapseDue(int64_t now_ms, int limit) {
  limit = std::clamp(limit, 1, 10000);
  return impl_->Write<std::vector<Approval>>("lapse due", [&](Impl::Tx& tx) -> Result<std::vector<Approval>> {
    return TransitionDueTx(tx,
                           "SELECT id FROM approvals WHERE state = 'approved' AND use_within IS NOT NULL AND "
                           "decided_at + use_within <= ? ORDER BY decided_at, id LIMIT ?",
                           now_ms, limit, [&](Impl::Tx& t, const Approval& a) { return LapseTx(*impl_, t, a); });
  });
}

Result<Approval> SqliteStore::Cancel(const std::string& id, const std::string& why, const std::string& actor) {
  const std::string who = actor.empty() ? "agent" : actor;
  return impl_->Write<Approval>("cancel", [&](Impl::Tx& tx) -> Result<Approval> {
    SQLite::Statement& up = tx.stmts.Get(
        "UPDATE approvals SET state = 'cancelled', decided_at = ?, decided_by = ?, decided_via = ?, "
        "reason = ?, updated_at = ? WHERE id = ? AND state = 'pending'");
    BindInt(up, 1, tx.now);
    up.bind(2, who);
    up.bind(3, who == "agent" ? "agent" : "system");
    up.bind(4, why.empty() ? std::string("cancelled") : why);
    BindInt(up, 5, tx.now);
    up.bind(6, id);
    if (up.exec() != 1) {
      std::optional<Approval> a = Impl::LoadApproval(tx.stmts, id);
      if (!a) return NotFound("no approval " + id);
      return Conflict("cannot cancel: " + AlreadyDecidedMessage(*a));
    }
    Approval a = MustLoad(tx, id);
    impl_->EmitTx(tx, "approval.cancelled", a, who, a.decided_via, "cancel", Json{{"reason", a.reason}});
    return a;
  });
}

Result<Approval> SqliteStore::MarkAgentLeft(const std::string& id) {
  return impl_->Write<Approval>("mark agent left", [&](Impl::Tx& tx) -> Result<Approval> {
    SQLite::Statement& up = tx.stmts.Get(
        "UPDATE approvals SET agent_left = 1, updated_at = ? WHERE id = ? AND agent_left = 0 AND "
        "state IN ('pending', 'approved')");
    BindInt(up, 1, tx.now);
    up.bind(2, id);
    const bool changed = up.exec() == 1;
    std::optional<Approval> a = Impl::LoadApproval(tx.stmts, id);
    if (!a) return NotFound("no approval " + id);
    if (!changed) {
      if (a->agent_left && (a->state == State::kPending || a->state == State::kApproved)) return *a;
      return NotPending(*a, "pending or approved");
    }
    impl_->EmitTx(tx, "approval.agent_left", *a, a->principal, "agent", "", Json());
    return *a;
  });
}

Result<int> SqliteStore::RecoverAfterCrash() {
  return impl_->Write<int>("recover after crash", [&](Impl::Tx& tx) -> Result<int> {
    std::vector<std::string> ids;
    {
      SQLite::Statement& q = tx.stmts.Get("SELECT id FROM approvals WHERE state = 'executing' ORDER BY id");
      ScopedReset reset(q);
      while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
    }
    const Json result = Json{{"error", kRecoveredReason}, {"recovered", true}};
    for (const std::string& id : ids) {
      SQLite::Statement& up = tx.stmts.Get(
          "UPDATE approvals SET state = 'failed', reason = ?, result = ?, updated_at = ? "
          "WHERE id = ? AND state = 'executing'");
      up.bind(1, kRecoveredReason);
      up.bind(2, CanonicalJson(result));
      BindInt(up, 3, tx.now);
      up.bind(4, id);
      up.exec();
      Approval a = MustLoad(tx, id);
      impl_->EmitTx(tx, "approval.failed", a, "holdgate", "system", "failed",
                    Json{{"result", result}, {"reason", kRecoveredReason}});
    }
    return static_cast<int>(ids.size());
  });
}

Result<Comment> SqliteStore::AddComment(const std::string& approval_id, const std::string& author,
                                  const std::string& body) {
  if (author.empty()) return InvalidArgument("comment author is required");
  if (body.empty()) return InvalidArgument("comment body is empty");
  return impl_->Write<Comment>("add comment", [&](Impl::Tx& tx) -> Result<Comment> {
    std::optional<Approval> a = Impl::LoadApproval(tx.stmts, approval_id);
    if (!a) return NotFound("no approval " + approval_id);
    SQLite::Statement& ins =
        tx.stmts.Get("INSERT INTO comments (approval_id, author, body, at) VALUES (?, ?, ?, ?)");
    ins.bind(1, approval_id);
    ins.bind(2, author);
    ins.bind(3, body);
    BindInt(ins, 4, tx.now);
    ins.exec();
    Comment c{tx.db.getLastInsertRowid(), approval_id, author, body, tx.now};
    impl_->EmitTx(tx, "approval.comment", *a, author, "", "",
                  Json{{"comment_id", c.id}, {"body", AuditValue(body)}});
    return c;
  });
}

}  // namespace holdgate::store
