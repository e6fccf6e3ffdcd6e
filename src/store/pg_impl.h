#pragma once
// Internal to src/store/: PgStore::Impl, shared by pg_store.cpp (approvals, lifecycle),
// pg_store_audit.cpp (audit chain, change feed, leases) and pg_store_outbox.cpp. The only files
// that include libpqxx; its exceptions are caught in Write/Read and never leave the store.
//
// Locks (never held together except as listed): pool_mu_ alone; feed_mu_ alone; dispatch_mu_ ->
// feed_mu_. Listeners run holding only dispatch_mu_. No lock is held across a database call but
// the pool's per-connection ownership (a connection is used by one thread at a time).
#include <pqxx/pqxx>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "store/pg_store.h"

namespace holdgate::store {

// pg_advisory_xact_lock keys: the audit chain (every write that appends) and migrations.
inline constexpr int64_t kPgChainLock = 0x686f6c6467617465;      // "holdgate"
inline constexpr int64_t kPgMigrationLock = 0x686f6c646d696772;  // "holdmigr"

class PgStore::Impl {
 public:
  Impl(const Clock& clock, const StoreOptions& options) : clock_(clock), options_(options) {}
  ~Impl();

  Status Open(const std::string& url);

  // ---- connection pool ------------------------------------------------------------------------
  // A connection of the pool, or kUnavailable when none frees up within busy_timeout_ms or the
  // server cannot be reached.
  Result<std::unique_ptr<pqxx::connection>> Acquire(const char* what);
  // Returns a connection; a broken one is closed instead (the next Acquire opens a new one).
  void Release(std::unique_ptr<pqxx::connection> conn);
  Result<std::unique_ptr<pqxx::connection>> Connect();

  // One write transaction: the body's state change, its audit events and outbox rows.
  // A change event in the delivery queue. This replica's events are queued inside their
  // transaction (under the chain lock, so in seq order) as kPending and delivered once kCommitted;
  // the queue is delivered from the front and waits at a kPending one.
  struct Queued {
    enum State { kPending, kCommitted, kAborted };
    ChangeEvent event;
    State state = kPending;  // guarded by feed_mu_
  };
  struct Tx {
    pqxx::work& w;
    int64_t now;
    std::vector<std::shared_ptr<Queued>> queued;  // settled after commit or rollback
    bool commit_on_error = false;                 // commit even when the body returns an error
  };
  // Runs `body(Tx&) -> Result<T>` in one transaction on a pooled connection; with `chain`, first
  // takes the audit chain lock (every body that appends an audit event must). Commits when the
  // body succeeds (or commit_on_error), then delivers the change events.
  template <typename T, typename F>
  Result<T> Write(const char* what, F&& body, bool chain = true);
  // Runs `body(pqxx::transaction_base&) -> Result<T>` in one read-only snapshot.
  template <typename T, typename F>
  Result<T> Read(const char* what, F&& body);
  // Maps a libpqxx exception to a Status, logging it; records write failures for Health.
  Status Failure(const char* what, const std::exception& e, bool write, bool* broken);

  // ---- inside a write transaction ---------------------------------------------------------------
  AuditEvent AppendAuditTx(Tx& tx, AuditEvent event);
  void EmitTx(Tx& tx, const std::string& type, const Approval& approval, const std::string& actor,
              const std::string& via, const std::string& decision, Json detail,
              const std::vector<NewOutboxRow>* extra = nullptr);
  void InsertOutboxTx(Tx& tx, const std::string& approval_id, const NewOutboxRow& row);

  static std::optional<Approval> LoadApproval(pqxx::transaction_base& t, const std::string& id);
  static std::vector<Vote> LoadVotes(pqxx::transaction_base& t, const std::string& id);

  // ---- change feed, heartbeat, leases (pg_store_audit.cpp) ---------------------------------------
  // Queues this transaction's change event (kPending) when anyone listens.
  void QueueTx(Tx& tx, ChangeEvent event);
  // Marks a transaction's queued events committed or aborted.
  void Settle(const std::vector<std::shared_ptr<Queued>>& queued, bool committed);
  // Queues other replicas' committed events, in seq order among the queued ones.
  void PublishRemote(std::vector<ChangeEvent> events);
  void Dispatch();
  void FeedLoop();
  // Delivers other replicas' approval events committed since feed_seq_.
  void CatchUp();
  void Heartbeat();
  // Fails approvals left executing by replicas whose heartbeat is older than the lease.
  Result<int> FailExpiredLeases(bool include_self);

  const Clock& clock_;
  const StoreOptions options_;
  std::string url_;
  std::string replica_id_;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // guarded by pool_mu_
  int open_ = 0;                                           // guarded by pool_mu_; idle + lent

  std::mutex health_mu_;
  std::string last_write_failure_;  // guarded by health_mu_; "" after a commit

  std::mutex write_cfg_mu_;
  OutboxFactory outbox_factory_;  // guarded by write_cfg_mu_

  struct ListenerEntry {
    ChangeListener fn;
    std::atomic<bool> removed{false};
  };
  std::mutex feed_mu_;
  std::deque<std::shared_ptr<Queued>> queue_;                // guarded by feed_mu_
  std::map<int, std::shared_ptr<ListenerEntry>> listeners_;  // guarded by feed_mu_
  int next_listener_id_ = 1;                                 // guarded by feed_mu_
  // This replica's own approval events (seq -> hash), recorded before commit so the feed thread
  // does not deliver them a second time; entries at or below feed_seq_ are dropped.
  std::map<int64_t, std::string> local_;  // guarded by feed_mu_
  int64_t feed_seq_ = 0;                  // guarded by feed_mu_; newest seq the feed has seen
  std::atomic<bool> has_listeners_{false};
  std::mutex dispatch_mu_;

  std::atomic<bool> stop_{false};
  std::thread feed_thread_;
};

// The rate_counters table (schema/postgres/004) as SharedCounters. REQUIRES: `impl` outlives it.
std::unique_ptr<SharedCounters> MakePgRateCounters(PgStore::Impl& impl);

// Columns read by PgReadApproval / PgReadOutbox, in order (the SQLite store's lists).
Approval PgReadApproval(const pqxx::row& r);
OutboxRow PgReadOutbox(const pqxx::row& r);
AuditEvent PgReadAudit(const pqxx::row& r);

inline std::string PgStr(const pqxx::field& f) { return f.is_null() ? std::string() : std::string(f.c_str()); }
inline int64_t PgInt(const pqxx::field& f) { return f.is_null() ? 0 : f.as<int64_t>(); }

// A pooled connection broken while idle (the server restarted, a proxy dropped it) fails on its
// first statement; nothing was done yet, so the operation is retried once on a new connection.
// A failure after the body ran is never retried: the caller gets it.
template <typename T, typename F>
Result<T> PgStore::Impl::Write(const char* what, F&& body, bool chain) {
  for (int attempt = 0;; ++attempt) {
    auto conn = Acquire(what);
    if (!conn.ok()) return conn.status();
    std::unique_ptr<pqxx::connection> c = std::move(conn).value();
    std::optional<Result<T>> out;
    std::vector<std::shared_ptr<Queued>> queued;
    bool committed = false;
    bool broken = false;
    bool began = false;  // the body started: no retry past this point
    try {
      pqxx::work w(*c);
      if (chain) w.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kPgChainLock) + ")");
      else w.exec("SELECT 1");
      began = true;
      Tx tx{w, clock_.NowMs(), {}, false};
      try {
        out.emplace(body(tx));
        if (out->ok() || tx.commit_on_error) {
          w.commit();
          committed = true;
        }
      } catch (...) {
        queued = std::move(tx.queued);
        throw;
      }
      queued = std::move(tx.queued);
      if (committed) {
        std::lock_guard<std::mutex> lock(health_mu_);
        last_write_failure_.clear();
      }
    } catch (const std::exception& e) {
      out.emplace(Failure(what, e, true, &broken));
    }
    if (broken) {
      c.reset();
      std::lock_guard<std::mutex> lock(pool_mu_);
      --open_;
      pool_cv_.notify_one();
    } else {
      Release(std::move(c));
    }
    // An in-doubt commit may have committed: its events are dropped here, and the feed thread
    // delivers them if it did (they are not recorded as this replica's own until settled).
    if (!queued.empty()) Settle(queued, committed);
    if (broken && !began && attempt == 0) continue;
    Dispatch();
    return std::move(*out);
  }
}

template <typename T, typename F>
Result<T> PgStore::Impl::Read(const char* what, F&& body) {
  for (int attempt = 0;; ++attempt) {
    auto conn = Acquire(what);
    if (!conn.ok()) return conn.status();
    std::unique_ptr<pqxx::connection> c = std::move(conn).value();
    std::optional<Result<T>> out;
    bool broken = false;
    try {
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(*c);
      out.emplace(body(static_cast<pqxx::transaction_base&>(t)));
      t.commit();
    } catch (const std::exception& e) {
      out.emplace(Failure(what, e, false, &broken));
    }
    if (broken) {
      c.reset();
      std::lock_guard<std::mutex> lock(pool_mu_);
      --open_;
      pool_cv_.notify_one();
    } else {
      Release(std::move(c));
    }
    if (broken && attempt == 0) continue;  // reads change nothing: always safe to retry once
    return std::move(*out);
  }
}

}  // namespace holdgate::store
