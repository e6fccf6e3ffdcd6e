#pragma once
// Counters: what the demo upstream has done, for tests to observe side effects (how many times
// cancel_job ran, how many jobs really stopped). Thread-safe. When a counters file is set, every
// Bump() rewrites it atomically (temp file + rename) before returning, so a client that has seen a
// tool's response finds the file already up to date. Bump() blocks on that small file write only.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/json_util.h"

namespace holdgate::demo {

class Counters {
 public:
  enum Field {
    kCancelJobCalls = 0,  // tools/call of cancel_job, whatever the outcome
    kJobsCancelled,       // jobs that ended in state "cancelled" (cancel_job or a cancelled waiting call)
    kJobsCompleted,       // jobs that ran to the end
    kJobsStarted,         // start_job calls that started a job
    kRequestsCancelled,   // in-flight requests stopped by notifications/cancelled (or session end)
    kSlowEchoCompleted,   // slow_echo calls that answered
    kToolsCallTotal,      // every tools/call received, known tool or not
    kFieldCount,
  };

  // `path` empty: no file is written.
  explicit Counters(std::string path);

  void Bump(Field field);
  int64_t Get(Field field) const;
  // {"cancel_job_calls":N, "jobs_cancelled":N, ...}: the same object the file holds.
  Json ToJson() const;
  // Writes the file now (also done by Bump). No-op without a path.
  void Flush();

 private:
  std::string path_;
  std::atomic<int64_t> values_[kFieldCount] = {};
  std::mutex file_mu_;  // serialises file writes; each write snapshots the latest values
};

}  // namespace holdgate::demo
