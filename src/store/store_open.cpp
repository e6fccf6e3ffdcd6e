// Store::Open: picks the implementation from the database name.
#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace holdgate::store {

bool IsPostgresUrl(const std::string& db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const Clock& clock,
                                           const StoreOptions& options) {
  if (IsPostgresUrl(path)) return PgStore::Open(path, clock, options);
  return SqliteStore::Open(path, clock, options);
}

}  // namespace holdgate::store
