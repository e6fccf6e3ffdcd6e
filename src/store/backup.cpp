#include "store/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace holdgate::store {
namespace {

// fsync a file or directory by path; false on failure.
bool SyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Result<BackupReport> BackupDatabase(const std::string& from, const std::string& to) {
  struct stat st;
  if (::stat(from.c_str(), &st) != 0) return NotFound("no such database file: " + from);
  if (::stat(to.c_str(), &st) == 0) return Status(Code::kAlreadyExists, to + " exists; a backup never overwrites a file");
  const std::string partial = to + ".partial";
  ::unlink(partial.c_str());  // a leftover of an interrupted backup
  // Create it 0600 ourselves: SQLite would use the umask, and the database holds arguments.
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot create " + partial + ": " + std::strerror(errno));
  ::close(fd);
  BackupReport report;
  try {
    SQLite::Database src(from, SQLite::OPEN_READONLY, /*busyTimeoutMs=*/10000);
    if (!src.tableExists("audit_events") || !src.tableExists("approvals")) {
      ::unlink(partial.c_str());
      return IoError(from + " is not a holdgate database");
    }
    {
      SQLite::Database dst(partial, SQLite::OPEN_READWRITE, /*busyTimeoutMs=*/10000);
      SQLite::Backup backup(dst, src);
      // All pages in one step: one read transaction on the source, so the copy is one snapshot.
      // (Stepping in slices would restart whenever the server commits meanwhile.)
      int rc = backup.executeStep(-1);
      if (rc != SQLITE_DONE) {
        ::unlink(partial.c_str());
        return IoError("backup of " + from + " did not finish (sqlite code " + std::to_string(rc) + ")");
      }
      report.pages = backup.getTotalPageCount();
    }
    // Read the copy back: it must open on its own, with no -wal beside it.
    SQLite::Database copy(partial, SQLite::OPEN_READONLY);
    report.approvals = copy.execAndGet("SELECT COUNT(*) FROM approvals").getInt64();
    report.audit_head_seq = copy.execAndGet("SELECT COALESCE(MAX(seq), 0) FROM audit_events").getInt64();
  } catch (const SQLite::Exception& e) {
    ::unlink(partial.c_str());
    return IoError("backup of " + from + " failed: " + e.what());
  }
  if (!SyncPath(partial, O_RDONLY)) {
    ::unlink(partial.c_str());
    return IoError("cannot sync " + partial + ": " + std::strerror(errno));
  }
  // link() instead of rename(): fails rather than replaces when `to` appeared meanwhile.
  if (::link(partial.c_str(), to.c_str()) != 0) {
    const int err = errno;
    ::unlink(partial.c_str());
    if (err == EEXIST) return Status(Code::kAlreadyExists, to + " exists; a backup never overwrites a file");
    return IoError("cannot create " + to + ": " + std::strerror(err));
  }
  ::unlink(partial.c_str());
  SyncPath(DirOf(to), O_RDONLY | O_DIRECTORY);
  if (::stat(to.c_str(), &st) == 0) report.bytes = st.st_size;
  return report;
}

}  // namespace holdgate::store
