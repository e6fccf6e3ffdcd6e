#pragma once
// AuditCheckpointer: periodic signed checkpoints of the audit chain (config audit.checkpoint).
// Every `every` of the injected Clock it appends an "audit.checkpoint" event (Store::
// AppendAuditCheckpoint: HMAC-SHA256 of the head and the vouched archive anchor with a secret key),
// appends the same as a JSON line to the checkpoint file (`file`: O_APPEND, fsynced, whatever the
// log level) and logs it as an "audit.checkpoint" info line on stderr, so copies live outside the
// database. Idle periods (head already a checkpoint) write nothing.
//
// Thread-safe. Start() spawns a thread that polls every `poll` of real time and calls Tick();
// Stop() (and the destructor) joins it after one final Tick (so a clean stop leaves a signed head).
// Tests drive Tick() directly with a FakeClock.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/json_util.h"
#include "common/periodic_thread.h"
#include "common/status.h"
#include "store/store.h"

namespace holdgate::store {

struct AuditCheckpointConfig {
  bool enabled = false;
  std::string key;  // >= 32 bytes
  int64_t every_ms = 60 * 60 * 1000;
  std::string file;  // checkpoint file (JSON lines); "" = none
};

// Parses the "audit" config section's "checkpoint" object:
//   {"key": "<secret>"} or {"key_file": "path"}, "file": "path" (relative paths resolve against
//   base_dir), "every": duration (default "1h", at least 1s). No "checkpoint" key: disabled.
// Errors name the JSON path.
Result<AuditCheckpointConfig> ParseAuditCheckpointConfig(const Json& audit_section, const std::string& base_dir);

// Appends AuditCheckpointFileLine(checkpoint) as one line to `path` (created 0600; O_APPEND, one
// write, then fsync), so concurrent writers (the server and `audit archive`) never interleave.
// Blocks on disk I/O.
Status AppendAuditCheckpointFile(const std::string& path, const AuditEvent& checkpoint);

class AuditCheckpointer {
 public:
  // REQUIRES: store and clock outlive the checkpointer; config.enabled with a key.
  AuditCheckpointer(Store& store, const Clock& clock, AuditCheckpointConfig config,
                    std::chrono::milliseconds poll = std::chrono::seconds(1));
  ~AuditCheckpointer();
  AuditCheckpointer(const AuditCheckpointer&) = delete;
  AuditCheckpointer& operator=(const AuditCheckpointer&) = delete;

  void Start();
  void Stop();

  // Writes a checkpoint when one is due at clock.NowMs() (the first falls `every` after
  // construction); returns the event written, or nullopt (not due, or idle).
  Result<std::optional<AuditEvent>> Tick();
  // Writes one now (unless idle), regardless of the schedule.
  Result<std::optional<AuditEvent>> CheckpointNow();

 private:
  Store& store_;
  const Clock& clock_;
  const AuditCheckpointConfig config_;

  std::mutex mu_;
  int64_t next_due_ms_;    // guarded by mu_
  PeriodicThread thread_;  // last: stopped before the members its callback uses go away
};

}  // namespace holdgate::store
