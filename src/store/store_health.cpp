// Store::Health: whether writes can succeed, without writing. A write probe cannot tell: in WAL
// mode a rolled-back transaction never reaches the disk, and a committed one reuses WAL space
// already allocated, so both succeed on a full disk while a real approval (new pages) fails.
// Free space (statvfs) sees the full disk before any write fails; the newest write's outcome
// sees what statvfs cannot (I/O errors, a read-only remount, quotas).
#include <sqlite3.h>
#include <sys/statvfs.h>

#include "store/store.h"
#include "store/store_impl.h"

namespace holdgate::store {

const char* StoreHealthName(StoreHealth::State state) {
  switch (state) {
    case StoreHealth::State::kOk: return "ok";
    case StoreHealth::State::kDiskFull: return "disk_full";
    case StoreHealth::State::kWriteFailed: return "write_failed";
    case StoreHealth::State::kReadFailed: return "read_failed";
  }
  return "unknown";
}

void SqliteStore::Impl::RecordWriteOutcome(int code, const std::string& what) {
  const bool storage = code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_READONLY ||
                       code == SQLITE_CANTOPEN || code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
  if (code != SQLITE_OK && !storage) return;
  std::lock_guard<std::mutex> lock(health_mu_);
  last_write_failure_ = code == SQLITE_OK ? "" : what;
  last_write_failure_code_ = code;
}

StoreHealth SqliteStore::Health() {
  StoreHealth h;
  struct statvfs vfs;
  if (statvfs(impl_->dir_.c_str(), &vfs) == 0) {
    h.free_bytes = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
  }
  std::string failure;
  int failure_code = SQLITE_OK;
  {
    std::lock_guard<std::mutex> lock(impl_->health_mu_);
    failure = impl_->last_write_failure_;
    failure_code = impl_->last_write_failure_code_;
  }
  // A write refused for lack of space is over once the space is back (the next write would
  // succeed); any other storage failure counts until a write commits again.
  if (failure_code == SQLITE_FULL && h.free_bytes >= kMinFreeBytes) failure.clear();
  auto read = impl_->Read<int>("health", [](internal::StatementCache& stmts) {
    SQLite::Statement& q = stmts.Get("SELECT 1");
    internal::ScopedReset reset(q);
    q.executeStep();
    return Result<int>(q.getColumn(0).getInt());
  });
  if (h.free_bytes >= 0 && h.free_bytes < kMinFreeBytes) {
    h.state = StoreHealth::State::kDiskFull;
    h.why = std::to_string(h.free_bytes) + " bytes free on the database's filesystem (" + impl_->dir_ +
            "); new approvals cannot be recorded";
  } else if (!failure.empty()) {
    h.state = StoreHealth::State::kWriteFailed;
    h.why = "the last write failed: " + failure;
  } else if (!read.ok()) {
    h.state = StoreHealth::State::kReadFailed;
    h.why = read.status().message();
  }
  return h;
}

}  // namespace holdgate::store
