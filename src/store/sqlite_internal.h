#pragma once
// Internal to src/store/: SQLiteCpp helpers shared by the store's .cpp files (statement cache,
// migrations, audit-chain walk). Never include outside src/store/.
#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"
#include "store/audit.h"

namespace holdgate::store::internal {

// Prepared statements of one connection, keyed by SQL text and reused across calls.
// Thread-compatible: used only under the lock of the connection it belongs to.
// REQUIRES: destroyed before its Database (declare it after the Database member).
class StatementCache {
 public:
  explicit StatementCache(SQLite::Database& db) : db_(db) {}
  // A statement ready to bind: reset, bindings cleared. Do not hold two uses of the same SQL
  // at once.
  SQLite::Statement& Get(const std::string& sql);
  void Clear() { stmts_.clear(); }
  // Resets every statement (before rolling back after an error mid-statement).
  void ResetAll() {
    for (auto& [sql, stmt] : stmts_) stmt->tryReset();
  }

 private:
  SQLite::Database& db_;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> stmts_;
};

// Resets a statement when leaving scope, so read statements never keep a snapshot open.
class ScopedReset {
 public:
  explicit ScopedReset(SQLite::Statement& stmt) : stmt_(stmt) {}
  ~ScopedReset() { stmt_.tryReset(); }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  SQLite::Statement& stmt_;
};

// Applies every embedded migration not yet recorded in schema_migrations, in one
// BEGIN IMMEDIATE transaction. Refuses a database that records a migration this binary does not
// know (newer holdgate) or one whose text changed since it was applied.
// REQUIRES: foreign keys off on `db` (a migration may rebuild a referenced table); they are
// checked before the migrations commit.
Status ApplyMigrations(SQLite::Database& db, int64_t now_ms);

// Walks the audit chain of `db` in seq order from its newest anchor (one read transaction).
// REQUIRES: no transaction open on `db`.
AuditVerdict WalkAuditChain(SQLite::Database& db, const AuditVerifyOptions& options = {});
// audit_anchors, oldest first (empty on a database from before migration 002).
std::vector<AuditAnchor> ReadAuditAnchors(SQLite::Database& db);

// Reads an audit_events row selected with kAuditColumns.
inline constexpr char kAuditColumns[] =
    "seq, ts, type, approval_id, principal, actor, via, tool, rule, decision, detail, prev_hash, "
    "hash";
AuditEvent ReadAuditRow(SQLite::Statement& stmt);

// Parses a JSON column written by the store; null on (impossible) garbage.
Json ParseStoredJson(const std::string& text);

// Opaque cursors: base64 of a small JSON value.
std::string EncodeCursor(const Json& value);
bool DecodeCursor(const std::string& cursor, Json* out);

}  // namespace holdgate::store::internal
