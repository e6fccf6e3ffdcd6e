#pragma once
// Internal to src/store/: Store::Impl, shared by store.cpp (approvals), store_audit.cpp (audit,
// change feed) and store_outbox.cpp.
//
// Locks (never held together except as listed): queue_mu_ alone; write_mu_ (writer connection,
// taken by the leading writer) -> feed_mu_;
// read_mu_ (reader connection) alone; dispatch_mu_ -> feed_mu_. dispatch_mu_ is never taken
// while holding write_mu_ or read_mu_, and listeners run holding only dispatch_mu_.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/sqlite_store.h"

namespace holdgate::store {

class SqliteStore::Impl {
 public:
  Impl(const Clock& clock, const StoreOptions& options) : clock_(clock), options_(options) {}
  ~Impl();

  Status Open(const std::string& path);

  // One write transaction: the body's state change, its audit events and outbox rows.
  struct Tx {
    SQLite::Database& db;
    internal::StatementCache& stmts;
    int64_t now;
    std::vector<ChangeEvent> events;  // published after commit
    bool commit_on_error = false;     // commit even when the body returns an error
  };

  // Runs `body(Tx&) -> Result<T>` under write_mu_ in BEGIN IMMEDIATE; commits when it succeeds
  // (or commit_on_error), then delivers the change events outside the lock.
  template <typename T, typename F>
  Result<T> Write(const char* what, F&& body);

  // A queued write (group commit, as LevelDB's writer queue): the writer at the front of the
  // queue runs every queued writer's body in ONE transaction, each inside its own SAVEPOINT so a
  // body that fails rolls back alone, commits once, and wakes the others. Each caller still
  // returns only after its change is committed.
  struct Writer {
    const char* what = "";
    std::function<bool(Tx&)> run;             // true: keep the body's changes
    std::function<void(const Status&)> fail;  // replaces the body's result
    bool done = false;                        // guarded by queue_mu_
    std::condition_variable cv;
  };
  void RunWriter(Writer* w);
  // REQUIRES: write_mu_ held.
  void CommitBatch(const std::vector<Writer*>& batch);
  // Runs `body(StatementCache&) -> Result<T>` on the reader connection under read_mu_.
  template <typename T, typename F>
  Result<T> Read(const char* what, F&& body);

  // ---- inside a write transaction --------------------------------------------------------------
  // Appends `event` to the chain (fills seq, ts, prev_hash, hash).
  AuditEvent AppendAuditTx(Tx& tx, AuditEvent event);
  // The audit event of an approval transition, its change event, and its outbox rows (`extra`
  // plus whatever the outbox factory makes).
  void EmitTx(Tx& tx, const std::string& type, const Approval& approval, const std::string& actor,
              const std::string& via, const std::string& decision, Json detail,
              const std::vector<NewOutboxRow>* extra = nullptr);
  void InsertOutboxTx(Tx& tx, const std::string& approval_id, const NewOutboxRow& row);

  // ---- either connection -----------------------------------------------------------------------
  static std::optional<Approval> LoadApproval(internal::StatementCache& stmts,
                                              const std::string& id);
  static std::vector<Vote> LoadVotes(internal::StatementCache& stmts, const std::string& id);

  // ---- change feed -----------------------------------------------------------------------------
  void Dispatch();

  const Clock& clock_;
  const StoreOptions options_;
  std::string dir_;  // the database file's directory; set by Open

  // The newest write transaction's storage failure (full, I/O, read-only, corrupt; `code` is the
  // primary SQLite result code), cleared by the next commit (SQLITE_OK). Other errors are ignored.
  void RecordWriteOutcome(int code, const std::string& what);
  std::mutex health_mu_;
  std::string last_write_failure_;  // guarded by health_mu_
  int last_write_failure_code_ = 0;  // guarded by health_mu_

  std::mutex queue_mu_;
  std::deque<Writer*> writers_;  // guarded by queue_mu_; the front one leads

  std::mutex write_mu_;
  std::unique_ptr<SQLite::Database> wdb_;            // guarded by write_mu_
  std::unique_ptr<internal::StatementCache> wstmts_;  // guarded by write_mu_; before wdb_ dies
  OutboxFactory outbox_factory_;                      // guarded by write_mu_

  std::mutex read_mu_;
  std::unique_ptr<SQLite::Database> rdb_;            // guarded by read_mu_
  std::unique_ptr<internal::StatementCache> rstmts_;  // guarded by read_mu_

  // The WAL is copied back into the database file by a thread of its own on its own connection,
  // not by whichever commit crosses SQLite's auto-checkpoint size: that commit, and every writer
  // queued behind it, would wait for the copy and its fsyncs. The thread runs every 200 ms, and
  // at once when a commit leaves 1,000 pages in the WAL (the writer's WAL hook); a PASSIVE
  // checkpoint neither waits for nor blocks the writer. Under a steady stream of commits PASSIVE
  // never catches up with the last frame, so the WAL would never start over: past 4,000 pages a
  // RESTART checkpoint, run holding write_mu_ so commits wait for the rest of the copy, lets it
  // start over. Should the WAL still reach 8,000 pages (the copy is slower than the commits), the
  // committing writer runs the RESTART itself, so the WAL stays near 32 MiB whatever the disk.
  // Lock order: write_mu_ before checkpoint_mu_ (the WAL hook runs under write_mu_).
  void CheckpointLoop();
  void CheckpointWal();
  std::unique_ptr<SQLite::Database> cdb_;  // the checkpointer thread's only
  std::thread checkpointer_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_due_ = false;   // guarded by checkpoint_mu_
  bool checkpoint_stop_ = false;  // guarded by checkpoint_mu_

  struct ListenerEntry {
    ChangeListener fn;
    std::atomic<bool> removed{false};
  };
  std::mutex feed_mu_;
  std::deque<ChangeEvent> queue_;                               // guarded by feed_mu_
  std::map<int, std::shared_ptr<ListenerEntry>> listeners_;     // guarded by feed_mu_
  int next_listener_id_ = 1;                                    // guarded by feed_mu_
  std::atomic<bool> has_listeners_{false};
  std::mutex dispatch_mu_;  // one dispatcher at a time, so listeners see seq order
};

// Columns read by ReadApprovalRow, in order.
inline constexpr char kApprovalColumns[] =
    "id, principal, session_id, tool, arguments, fingerprint, rule, risk, state, approvers_needed, "
    "reviewers, editable, edited_arguments, on_timeout, notify, created_at, expires_at, "
    "decided_at, decided_by, decided_via, reason, result, agent_left, updated_at, use_within, trace_id, "
    "rule_reason, remember_max, remember_any";
Approval ReadApprovalRow(SQLite::Statement& stmt);

inline constexpr char kOutboxColumns[] =
    "id, approval_id, event_type, target, payload, state, attempts, next_attempt_at, created_at, "
    "updated_at, last_status";
OutboxRow ReadOutboxRow(SQLite::Statement& stmt);

// Binds an integer: SQLiteCpp's bind(int, size_t) and bind(int, long long) are ambiguous
// overloads, so every integer goes through int64_t.
inline void BindInt(SQLite::Statement& s, int index, int64_t v) { s.bind(index, static_cast<int64_t>(v)); }

template <typename T, typename F>
Result<T> SqliteStore::Impl::Write(const char* what, F&& body) {
  std::optional<Result<T>> out;
  Writer w;
  w.what = what;
  w.run = [&](Tx& tx) {
    out.emplace(body(tx));
    return out->ok() || tx.commit_on_error;
  };
  w.fail = [&](const Status& status) { out.emplace(status); };
  RunWriter(&w);
  Dispatch();
  return std::move(*out);
}

template <typename T, typename F>
Result<T> SqliteStore::Impl::Read(const char* what, F&& body) {
  std::lock_guard<std::mutex> lock(read_mu_);
  try {
    return body(*rstmts_);
  } catch (const SQLite::Exception& e) {
    log::Error("store read failed", {{"op", what}, {"error", e.what()}});
    return Result<T>(IoError(std::string(what) + ": database error: " + e.what()));
  } catch (const std::exception& e) {
    log::Error("store read failed", {{"op", what}, {"error", e.what()}});
    return Result<T>(Internal(std::string(what) + ": " + e.what()));
  }
}

}  // namespace holdgate::store
