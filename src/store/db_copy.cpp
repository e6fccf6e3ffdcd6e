// CopyDatabase: SQLite file -> PostgreSQL, row for row, in one PostgreSQL transaction.
//
// The copy runs with session_replication_role = replica for its transaction: the anchor trigger
// would refuse an anchor whose rows were archived away (they are not in the file either), and
// the change-feed trigger has nobody to wake. That setting needs a superuser or the database
// owner with the privilege; without it the copy fails with PostgreSQL's message and writes nothing.
#include "store/db_copy.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/stat.h>

#include <pqxx/pqxx>

#include "common/clock.h"
#include "common/log.h"
#include "store/audit.h"
#include "store/pg_impl.h"
#include "store/store.h"

namespace holdgate::store {
namespace {

// Reads a column as text, or nullptr for NULL (libpqxx binds a null pointer as SQL NULL).
struct Cell {
  bool null = false;
  std::string text;
  const char* get() const { return null ? nullptr : text.c_str(); }
};

Cell Read(SQLite::Statement& q, int i) {
  SQLite::Column c = q.getColumn(i);
  if (c.isNull()) return Cell{true, ""};
  return Cell{false, c.getString()};
}

// Copies every row of `select` (on SQLite) into `insert` (PostgreSQL, $1..$n text parameters).
int64_t CopyRows(SQLite::Database& from, pqxx::work& w, const std::string& select, const std::string& insert,
                 int columns) {
  SQLite::Statement q(from, select);
  int64_t n = 0;
  std::vector<Cell> cells(columns);
  std::vector<const char*> params(columns);
  while (q.executeStep()) {
    for (int i = 0; i < columns; ++i) {
      cells[i] = Read(q, i);
      params[i] = cells[i].get();
    }
    w.exec_params(insert, pqxx::prepare::make_dynamic_params(params));
    ++n;
  }
  return n;
}

std::string Placeholders(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += (i > 1 ? ", $" : "$") + std::to_string(i);
  return s;
}

}  // namespace

Result<CopyReport> CopyDatabase(const std::string& from_file, const std::string& to_url) {
  if (!IsPostgresUrl(to_url)) return InvalidArgument("--to must be a PostgreSQL URL (postgresql://…), got " + to_url);
  struct stat st;
  if (::stat(from_file.c_str(), &st) != 0) return NotFound("no such database file: " + from_file);
  // Bring the file to the current schema (and check it is a holdgate database), then create or
  // migrate the target's schema: both through the ordinary Open.
  {
    auto src = Store::Open(from_file, SystemClock::Instance());
    if (!src.ok()) return src.status();
  }
  auto source_chain = VerifyAuditChainFile(from_file);
  if (!source_chain.ok()) return source_chain.status();
  if (!source_chain->ok) {
    return Conflict("the audit chain of " + from_file + " does not verify (seq " +
                    std::to_string(source_chain->broken_seq) + ": " + source_chain->why + "); not copying it");
  }
  {
    auto dst = Store::Open(to_url, SystemClock::Instance());
    if (!dst.ok()) return dst.status();
  }

  CopyReport report;
  try {
    SQLite::Database from(from_file, SQLite::OPEN_READONLY, 5000);
    SQLite::Transaction snapshot(from, SQLite::TransactionBehavior::DEFERRED);
    pqxx::connection to(to_url);
    pqxx::work w(to);
    // No replica may append while the chain is copied underneath it.
    w.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kPgChainLock) + ")");
    pqxx::result busy = w.exec("SELECT (SELECT count(*) FROM approvals) + (SELECT count(*) FROM audit_events)");
    if (busy[0][0].as<int64_t>() > 0) {
      return Status(Code::kAlreadyExists, "the target database already holds approvals or audit events; db copy "
                                          "only fills an empty holdgate database");
    }
    w.exec("SET LOCAL session_replication_role = replica");
    const std::string approval_cols =
        "id, principal, session_id, tool, arguments, fingerprint, rule, risk, state, approvers_needed, reviewers, "
        "editable, edited_arguments, on_timeout, notify, created_at, expires_at, decided_at, decided_by, "
        "decided_via, reason, result, agent_left, updated_at, use_within, trace_id";
    // A copied approval left executing belongs to no live replica: the lease fails it, never re-runs it.
    report.approvals = CopyRows(
        from, w,
        "SELECT " + approval_cols + ", CASE WHEN state = 'executing' THEN 'copied-from-sqlite' END FROM approvals ORDER BY id",
        "INSERT INTO approvals (" + approval_cols + ", executing_by) VALUES (" + Placeholders(27) + ")", 27);
    report.votes = CopyRows(from, w, "SELECT approval_id, reviewer, decision, via, reason, at FROM votes ORDER BY rowid",
                            "INSERT INTO votes (approval_id, reviewer, decision, via, reason, at) VALUES (" +
                                Placeholders(6) + ")",
                            6);
    report.comments = CopyRows(from, w, "SELECT id, approval_id, author, body, at FROM comments ORDER BY id",
                               "INSERT INTO comments (id, approval_id, author, body, at) VALUES (" + Placeholders(5) + ")",
                               5);
    const std::string audit_cols =
        "seq, ts, type, approval_id, principal, actor, via, tool, rule, decision, detail, prev_hash, hash";
    report.audit_events = CopyRows(from, w, "SELECT " + audit_cols + " FROM audit_events ORDER BY seq",
                                   "INSERT INTO audit_events (" + audit_cols + ") VALUES (" + Placeholders(13) + ")", 13);
    if (from.tableExists("audit_anchors")) {
      report.anchors = CopyRows(from, w,
                                "SELECT seq, hash, first_seq, start_hash, count, archived_at, archive FROM audit_anchors "
                                "ORDER BY seq",
                                "INSERT INTO audit_anchors (seq, hash, first_seq, start_hash, count, archived_at, "
                                "archive) VALUES (" + Placeholders(7) + ")",
                                7);
    }
    const std::string outbox_cols =
        "id, approval_id, event_type, target, payload, state, attempts, next_attempt_at, claimed_until, created_at, "
        "updated_at, last_status";
    report.outbox = CopyRows(from, w, "SELECT " + outbox_cols + " FROM outbox ORDER BY id",
                             "INSERT INTO outbox (" + outbox_cols + ") VALUES (" + Placeholders(12) + ")", 12);
    for (const char* table : {"votes", "comments", "outbox"}) {
      w.exec(std::string("SELECT setval(pg_get_serial_sequence('") + table + "', 'id'), COALESCE((SELECT MAX(id) FROM " +
             table + "), 0) + 1, false)");
    }
    w.commit();
    snapshot.commit();
  } catch (const SQLite::Exception& e) {
    return IoError("db copy: reading " + from_file + ": " + e.what());
  } catch (const pqxx::broken_connection& e) {
    return Status(Code::kUnavailable, std::string("db copy: lost the connection to PostgreSQL: ") + e.what());
  } catch (const std::exception& e) {
    return IoError(std::string("db copy: ") + e.what());
  }
  // The copy's chain must verify to the same head as the file's.
  auto copied_chain = VerifyAuditChainFile(to_url);
  if (!copied_chain.ok()) return copied_chain.status();
  if (!copied_chain->ok || copied_chain->head_hash != source_chain->head_hash) {
    return Internal("the copied audit chain does not verify to the file's head (" + copied_chain->why + ")");
  }
  report.audit_head_seq = copied_chain->head_seq;
  return report;
}

}  // namespace holdgate::store
