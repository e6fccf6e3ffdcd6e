#pragma once
// Online backup of a holdgate database file: SQLite's backup API copies every page in one step
// under one read transaction, so the copy is a consistent snapshot even while `holdgate serve`
// keeps writing (WAL: the server's writers are not blocked; they simply are not in the copy).
//
// Blocking (file I/O); safe to call from any thread and from another process than the server.
#include <cstdint>
#include <string>

#include "common/status.h"

namespace holdgate::store {

struct BackupReport {
  int64_t pages = 0;        // pages copied
  int64_t bytes = 0;        // size of the finished copy
  int64_t audit_head_seq = 0;  // newest audit event in the copy
  int64_t approvals = 0;    // approval rows in the copy
};

// Copies database `from` to a new file `to` (mode 0600). The copy is written as `to.partial`,
// synced and renamed into place, so `to` is either absent or complete; an existing `to` is never
// overwritten (kAlreadyExists). kNotFound if `from` does not exist; kIo when it is not a
// holdgate database or the copy fails.
Result<BackupReport> BackupDatabase(const std::string& from, const std::string& to);

}  // namespace holdgate::store
