#pragma once
// JobManager: Sktime-style background jobs that really run. Each job is a thread that sleeps
// through `steps` equal slices of `duration_ms`, reporting progress after each slice; cancel_job
// wakes it at once and it stops. Job ids and records are process-global (any session may list or
// cancel any job), as in sktime-mcp. Thread-safe; no call blocks except Shutdown(), which cancels
// every running job and waits (bounded) for the job threads to end.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "demo/counters.h"

namespace holdgate::demo {

// Called on the job thread after each completed step (1..total).
using JobProgressFn = std::function<void(int completed, int total)>;
// Called on the job thread once the job has ended (completed or cancelled), with its record.
using JobFinishFn = std::function<void(const Json& job)>;

struct JobSpec {
  int64_t duration_ms = 0;
  std::string label;
  int steps = 5;
  JobProgressFn on_progress;  // may be empty
  JobFinishFn on_finish;      // may be empty
};

enum class CancelOutcome {
  kCancelled,        // was pending/running, now cancelled (record kept)
  kRemoved,          // had finished, record deleted (delete=true)
  kNotFound,
  kAlreadyFinished,  // had finished and delete=false; *status says how
};

class JobManager {
 public:
  static constexpr int kMaxActiveJobs = 1000;

  explicit JobManager(Counters* counters);
  ~JobManager();  // calls Shutdown()

  // Starts a job; returns its id, or an empty string when kMaxActiveJobs are already running.
  std::string Start(JobSpec spec);
  // Jobs newest first, optionally only those in `status`; `limit`/`offset` page through them.
  // Returns {"jobs":[…], "count":n, "total":N}.
  Json List(const std::string& status, int limit, int offset) const;
  // The job record, or null when unknown.
  Json Get(const std::string& job_id) const;
  // Cancels a pending/running job (and, with `remove`, deletes a finished record).
  // `status` receives the job's status when the outcome is kAlreadyFinished.
  CancelOutcome Cancel(const std::string& job_id, bool remove, std::string* status);
  // Cancels all running jobs without counting them, waits up to 3 s for their threads.
  void Shutdown();

 private:
  struct Job;
  void Run(std::shared_ptr<Job> job);
  static Json ToJson(const Job& job, int64_t now_ms);

  Counters* counters_;
  mutable std::mutex mu_;
  std::condition_variable threads_cv_;  // signalled when a job thread exits
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // guarded by mu_
  std::vector<std::string> order_;                    // ids in creation order; guarded by mu_
  int running_threads_ = 0;                           // guarded by mu_
  bool stopping_ = false;                             // guarded by mu_
};

}  // namespace holdgate::demo
