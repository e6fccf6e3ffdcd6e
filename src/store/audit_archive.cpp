#include "store/audit_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/clock.h"
#include "store/store.h"

namespace holdgate::store {
namespace {

// One archive line: the hashed form plus the hash, keys sorted.
std::string ArchiveLine(const AuditEvent& e) {
  Json j = Json{{"seq", e.seq},           {"ts", e.ts_ms},         {"type", e.type},
                {"approval_id", e.approval_id}, {"principal", e.principal}, {"actor", e.actor},
                {"via", e.via},           {"tool", e.tool},        {"rule", e.rule},
                {"decision", e.decision}, {"detail", e.detail},    {"prev_hash", e.prev_hash},
                {"hash", e.hash}};
  return CanonicalJson(j) + "\n";
}

// A file written whole or not at all: `<path>.partial`, fsynced, then linked to `path` (never
// replacing an existing file) and the directory fsynced.
class ArchiveWriter {
 public:
  ~ArchiveWriter() {
    if (file_ != nullptr) std::fclose(file_);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
  }
  Status Open(const std::string& path) {
    path_ = path;
    const std::string tmp = path + ".partial";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return IoError("cannot create " + tmp + ": " + std::strerror(errno));
    tmp_ = tmp;
    file_ = ::fdopen(fd, "w");
    if (file_ == nullptr) {
      ::close(fd);
      return IoError("cannot open " + tmp);
    }
    return Status::Ok();
  }
  bool Write(const std::string& text) { return std::fwrite(text.data(), 1, text.size(), file_) == text.size(); }
  Status Finish() {
    bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
    ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    if (!ok) return IoError("cannot write " + tmp_ + ": " + std::strerror(errno));
    if (::link(tmp_.c_str(), path_.c_str()) != 0) {
      return errno == EEXIST ? Conflict(path_ + " already exists; refusing to overwrite an archive")
                             : IoError("cannot create " + path_ + ": " + std::strerror(errno));
    }
    ::unlink(tmp_.c_str());
    tmp_.clear();
    std::string dir = std::filesystem::path(path_).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return Status::Ok();
  }

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
};

}  // namespace

Status CheckAuditArchiveRequest(Store& store, const AuditArchiveOptions& o) {
  if (o.out_path.empty()) return InvalidArgument("an archive file path is required");
  if (o.before_ms <= 0 && o.through_seq <= 0) {
    return InvalidArgument("a cut point is required: a time (events before it) and/or a last seq");
  }
  struct stat st;
  if (::stat(o.out_path.c_str(), &st) == 0) return Conflict(o.out_path + " already exists; refusing to overwrite an archive");
  if (!o.checkpoint_key.empty()) {
    AuditVerifyOptions keyed;
    keyed.checkpoint_key = o.checkpoint_key;
    auto verdict = store.VerifyAuditChain(keyed);
    if (!verdict.ok()) return verdict.status();
    if (!verdict->ok) {
      return Conflict("the audit chain does not verify with the checkpoint key at seq " +
                      std::to_string(verdict->broken_seq) + " (" + verdict->why + "); nothing archived or pruned");
    }
    return Status::Ok();
  }
  AuditFilter signed_rows;
  signed_rows.type = "audit.checkpoint";
  signed_rows.limit = 1;
  auto page = store.ListAudit(signed_rows);
  if (!page.ok()) return page.status();
  if (!page->events.empty()) {
    return InvalidArgument("this audit chain carries signed checkpoints: give the checkpoint key so that a "
                           "checkpoint in the prune vouches for the new anchor (else audit verify with the key "
                           "cannot tell this archive from rows cut behind a forged anchor)");
  }
  return Status::Ok();
}

Result<AuditArchiveInfo> WriteAuditArchive(const std::string& path, const AuditChainPoint& start, int64_t cut,
                                           int64_t now_ms, const AuditPageReader& read_page) {
  ArchiveWriter out;
  Status s = out.Open(path);
  if (!s.ok()) return s;
  AuditChainChecker checker(start.seq, start.hash, {});
  int64_t after = start.seq;
  while (after < cut) {
    auto page = read_page(after, cut);
    if (!page.ok()) return page.status();
    if (page->empty()) return Conflict("audit rows " + std::to_string(after + 1) + ".." + std::to_string(cut) +
                                       " vanished while archiving (another archive ran?)");
    std::string chunk;
    for (const AuditEvent& e : *page) {
      if (!checker.Feed(e)) {
        return Conflict("the audit chain is broken at seq " + std::to_string(checker.verdict().broken_seq) + " (" +
                        checker.verdict().why + "); nothing archived or pruned: run holdgate audit verify");
      }
      chunk += ArchiveLine(e);
    }
    if (!out.Write(chunk)) return IoError("cannot write " + path + ": " + std::strerror(errno));
    after = page->back().seq;
  }
  AuditArchiveInfo info;
  info.first_seq = start.seq + 1;
  info.last_seq = cut;
  info.count = cut - start.seq;
  info.start_hash = start.hash;
  info.head_hash = checker.verdict().head_hash;
  info.created_at = FormatTimeMs(now_ms);
  Json trailer = {{"archive", "holdgate-audit"}, {"version", 1},           {"first_seq", info.first_seq},
                  {"last_seq", info.last_seq},   {"count", info.count},    {"start_hash", info.start_hash},
                  {"head_hash", info.head_hash}, {"created_at", info.created_at}};
  if (!out.Write(CanonicalJson(trailer) + "\n")) return IoError("cannot write " + path);
  s = out.Finish();
  if (!s.ok()) return s;
  return info;
}

AuditArchiveResult NothingToArchive(const AuditChainPoint& start) {
  AuditArchiveResult result;
  result.info.first_seq = start.seq + 1;
  result.info.last_seq = start.seq;
  result.info.start_hash = result.info.head_hash = start.hash;
  return result;
}

AuditEvent AuditArchivedEvent(const AuditArchiveOptions& o, const AuditArchiveInfo& info) {
  AuditEvent ev;
  ev.type = "audit.archived";
  ev.actor = o.actor.empty() ? "holdgate" : o.actor;
  ev.via = "cli";
  ev.decision = "archive";
  ev.detail = {{"first_seq", info.first_seq}, {"last_seq", info.last_seq}, {"count", info.count},
               {"start_hash", info.start_hash}, {"head_hash", info.head_hash}, {"archive", o.out_path}};
  return ev;
}

}  // namespace holdgate::store
