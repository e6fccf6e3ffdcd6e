// Store: the readiness probe.
#include <sqlite3.h>

#include "store/store_impl.h"

namespace holdgate::store {

Status SqliteStore::CheckWritable() {
  auto r = impl_->Write<bool>("readiness probe", [](Impl::Tx& tx) -> Result<bool> {
    // SQLite opens a file it may not write read-only without failing; writes fail later.
    if (sqlite3_db_readonly(tx.db.getHandle(), "main") == 1) return IoError("the database is read-only");
    return true;
  });
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace holdgate::store
