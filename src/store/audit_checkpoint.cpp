#include "store/audit_checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.h"

namespace holdgate::store {

Result<AuditCheckpointConfig> ParseAuditCheckpointConfig(const Json& audit, const std::string& base_dir) {
  AuditCheckpointConfig c;
  if (!audit.is_object()) return c;
  auto it = audit.find("checkpoint");
  if (it == audit.end() || it->is_null()) return c;
  const Json& cp = *it;
  if (!cp.is_object()) return InvalidArgument("config audit.checkpoint: must be an object {key|key_file, every}");
  for (auto k = cp.begin(); k != cp.end(); ++k) {
    if (k.key() != "key" && k.key() != "key_file" && k.key() != "every" && k.key() != "file") {
      return InvalidArgument("config audit.checkpoint." + k.key() +
                             ": unknown setting (known: key, key_file, file, every)");
    }
  }
  if (cp.contains("file")) {
    if (!cp["file"].is_string() || cp["file"].get<std::string>().empty()) {
      return InvalidArgument("config audit.checkpoint.file: must be a file path");
    }
    std::filesystem::path file = cp["file"].get<std::string>();
    if (file.is_relative() && !base_dir.empty()) file = std::filesystem::path(base_dir) / file;
    c.file = file.string();
  }
  if (cp.contains("key") == cp.contains("key_file")) {
    return InvalidArgument("config audit.checkpoint: give exactly one of key or key_file");
  }
  if (cp.contains("key")) {
    if (!cp["key"].is_string()) return InvalidArgument("config audit.checkpoint.key: must be a string");
    c.key = cp["key"].get<std::string>();
  } else {
    if (!cp["key_file"].is_string()) return InvalidArgument("config audit.checkpoint.key_file: must be a string");
    std::filesystem::path file = cp["key_file"].get<std::string>();
    if (file.is_relative() && !base_dir.empty()) file = std::filesystem::path(base_dir) / file;
    std::ifstream in(file);
    if (!in) return InvalidArgument("config audit.checkpoint.key_file: cannot read " + file.string());
    std::stringstream ss;
    ss << in.rdbuf();
    c.key = ss.str();
    while (!c.key.empty() && (c.key.back() == '\n' || c.key.back() == '\r' || c.key.back() == ' ')) c.key.pop_back();
  }
  if (c.key.size() < 32) return InvalidArgument("config audit.checkpoint.key: at least 32 bytes are required");
  if (cp.contains("every")) {
    if (!cp["every"].is_string()) return InvalidArgument("config audit.checkpoint.every: must be a duration such as \"1h\"");
    c.every_ms = ParseDurationMs(cp["every"].get<std::string>());
    if (c.every_ms < 1000) return InvalidArgument("config audit.checkpoint.every: must be a duration of at least 1s");
  }
  c.enabled = true;
  return c;
}

AuditCheckpointer::AuditCheckpointer(Store& store, const Clock& clock, AuditCheckpointConfig config,
                                     std::chrono::milliseconds poll)
    : store_(store),
      clock_(clock),
      config_(std::move(config)),
      next_due_ms_(clock.NowMs() + config_.every_ms),
      thread_(poll, [this] {
        auto r = Tick();
        if (!r.ok()) log::Error("audit checkpoint failed", {{"error", r.status().ToString()}});
      }, PeriodicThread::First::kWaitFirst) {}

AuditCheckpointer::~AuditCheckpointer() { Stop(); }

void AuditCheckpointer::Start() { thread_.Start(); }

void AuditCheckpointer::Stop() {
  if (!thread_.running()) return;
  thread_.Stop();
  (void)CheckpointNow();
}

Result<std::optional<AuditEvent>> AuditCheckpointer::Tick() {
  const int64_t now = clock_.NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now < next_due_ms_) return std::optional<AuditEvent>();
    next_due_ms_ = now + config_.every_ms;
  }
  return CheckpointNow();
}

Status AppendAuditCheckpointFile(const std::string& path, const AuditEvent& checkpoint) {
  const std::string line = CanonicalJson(AuditCheckpointFileLine(checkpoint)) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot open the audit checkpoint file " + path + ": " + std::strerror(errno));
  const ssize_t n = ::write(fd, line.data(), line.size());
  const int write_errno = errno;
  const bool synced = n == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  const int sync_errno = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return IoError("cannot write the audit checkpoint file " + path + ": " +
                   (n < 0 ? std::strerror(write_errno) : "short write"));
  }
  if (!synced) return IoError("cannot fsync the audit checkpoint file " + path + ": " + std::strerror(sync_errno));
  return Status::Ok();
}

Result<std::optional<AuditEvent>> AuditCheckpointer::CheckpointNow() {
  auto written = store_.AppendAuditCheckpoint(config_.key, /*skip_if_idle=*/true);
  if (written.ok() && written->has_value()) {
    const AuditEvent& e = **written;
    if (!config_.file.empty()) {
      Status s = AppendAuditCheckpointFile(config_.file, e);
      if (!s.ok()) return s;  // in the chain, not in the file: the caller logs it
    }
    log::Info("audit.checkpoint", {{"event", "audit.checkpoint"},
                                   {"seq", e.detail["seq"]},
                                   {"hash", e.detail["hash"]},
                                   {"anchor_seq", e.detail["anchor_seq"]},
                                   {"anchor_hash", e.detail["anchor_hash"]},
                                   {"hmac", e.detail["hmac"]},
                                   {"key_id", e.detail["key_id"]},
                                   {"checkpoint_seq", e.seq},
                                   {"checkpoint_hash", e.hash}});
  }
  return written;
}

}  // namespace holdgate::store
