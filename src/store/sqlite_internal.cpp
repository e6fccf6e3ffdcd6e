#include "store/sqlite_internal.h"

#include <set>

#include "common/crypto.h"
#include "common/embedded.h"

namespace holdgate::store::internal {

SQLite::Statement& StatementCache::Get(const std::string& sql) {
  auto it = stmts_.find(sql);
  if (it == stmts_.end()) {
    it = stmts_.emplace(sql, std::make_unique<SQLite::Statement>(db_, sql)).first;
  } else {
    it->second->tryReset();
    it->second->clearBindings();
  }
  return *it->second;
}

Status ApplyMigrations(SQLite::Database& db, int64_t now_ms) {
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version TEXT PRIMARY KEY, sha256 TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT");
  std::set<std::string> known;
  for (const EmbeddedFile& m : EmbeddedMigrations()) {
    const std::string version(m.path);
    if (version.size() < 4 || version.compare(version.size() - 4, 4, ".sql") != 0) continue;
    known.insert(version);
    const std::string digest = Sha256Hex(m.content);
    SQLite::Statement find(db, "SELECT sha256 FROM schema_migrations WHERE version = ?");
    find.bind(1, version);
    if (find.executeStep()) {
      if (find.getColumn(0).getString() != digest) {
        return Internal("migration " + version +
                        " was edited after it was applied to this database; migrations are "
                        "append-only: add a new numbered file instead");
      }
      continue;
    }
    db.exec(std::string(m.content));
    SQLite::Statement record(db,
                             "INSERT INTO schema_migrations (version, sha256, applied_at) "
                             "VALUES (?, ?, ?)");
    record.bind(1, version);
    record.bind(2, digest);
    record.bind(3, static_cast<int64_t>(now_ms));
    record.exec();
  }
  // Migrations run with foreign keys off (a table rebuild drops and renames a referenced table);
  // every reference must still resolve before they commit.
  {
    SQLite::Statement fk(db, "PRAGMA foreign_key_check");
    if (fk.executeStep()) {
      return Internal("migration left a dangling reference in table " + fk.getColumn(0).getString());
    }
  }
  SQLite::Statement applied(db, "SELECT version FROM schema_migrations ORDER BY version");
  while (applied.executeStep()) {
    std::string version = applied.getColumn(0).getString();
    if (known.count(version) == 0) {
      return Internal("database has migration " + version +
                      " that this holdgate does not know: it was written by a newer version");
    }
  }
  tx.commit();
  return Status::Ok();
}

Json ParseStoredJson(const std::string& text) {
  auto parsed = ParseJson(text, /*max_depth=*/512);
  return parsed.ok() ? std::move(parsed).value() : Json();
}

std::string EncodeCursor(const Json& value) { return Base64Encode(DumpJson(value)); }

bool DecodeCursor(const std::string& cursor, Json* out) {
  std::string raw;
  if (!Base64Decode(cursor, &raw)) return false;
  auto parsed = ParseJson(raw, 4);
  if (!parsed.ok()) return false;
  *out = std::move(parsed).value();
  return true;
}

}  // namespace holdgate::store::internal
