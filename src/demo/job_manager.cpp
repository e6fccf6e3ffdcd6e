#include "demo/job_manager.h"

#include <algorithm>
#include <thread>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"

namespace holdgate::demo {
namespace {

// A random RFC 4122 version-4 UUID, as sktime-mcp's job ids are.
std::string NewUuid() {
  std::string h = RandomHex(16);
  h[12] = '4';
  static const char kVariant[] = "89ab";
  h[16] = kVariant[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
         h.substr(20);
}

int64_t NowMs() { return SystemClock::Instance().NowMs(); }

bool IsActive(const std::string& status) { return status == "pending" || status == "running"; }

}  // namespace

struct JobManager::Job {
  std::string id;
  std::string label;
  int64_t duration_ms = 0;
  int steps = 1;
  // All below guarded by JobManager::mu_.
  std::string status = "pending";
  int64_t created_ms = 0;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int completed_steps = 0;
  bool stop = false;           // wake the thread and end the job
  std::condition_variable cv;  // waits on JobManager::mu_
  JobProgressFn on_progress;
  JobFinishFn on_finish;
};

JobManager::JobManager(Counters* counters) : counters_(counters) {}

JobManager::~JobManager() { Shutdown(); }

std::string JobManager::Start(JobSpec spec) {
  auto job = std::make_shared<Job>();
  job->id = NewUuid();
  job->label = std::move(spec.label);
  job->duration_ms = std::max<int64_t>(0, spec.duration_ms);
  job->steps = std::max(1, spec.steps);
  job->on_progress = std::move(spec.on_progress);
  job->on_finish = std::move(spec.on_finish);
  job->created_ms = NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || running_threads_ >= kMaxActiveJobs) return std::string();
    jobs_[job->id] = job;
    order_.push_back(job->id);
    job->status = "running";
    job->start_ms = job->created_ms;
    ++running_threads_;
  }
  counters_->Bump(Counters::kJobsStarted);
  log::Info("job started", {{"job_id", job->id}, {"label", job->label}, {"duration_ms", job->duration_ms}});
  std::thread([this, job] { Run(job); }).detach();
  return job->id;
}

void JobManager::Run(std::shared_ptr<Job> job) {
  auto start = std::chrono::steady_clock::now();
  bool completed = true;
  for (int k = 1; k <= job->steps; ++k) {
    auto deadline = start + std::chrono::milliseconds(job->duration_ms * k / job->steps);
    {
      std::unique_lock<std::mutex> lock(mu_);
      job->cv.wait_until(lock, deadline, [&] { return job->stop; });
      if (job->stop) {
        completed = false;
        break;
      }
      job->completed_steps = k;
    }
    if (job->on_progress) job->on_progress(k, job->steps);
  }
  Json record;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (completed && job->status == "running") {
      job->status = "completed";
      job->end_ms = NowMs();
    } else {
      completed = false;
    }
    record = ToJson(*job, NowMs());
  }
  if (completed) {
    counters_->Bump(Counters::kJobsCompleted);
    log::Info("job completed", {{"job_id", job->id}});
  }
  if (job->on_finish) job->on_finish(record);
  {
    std::lock_guard<std::mutex> lock(mu_);
    job->on_progress = nullptr;
    job->on_finish = nullptr;
    --running_threads_;
  }
  threads_cv_.notify_all();
}

Json JobManager::ToJson(const Job& job, int64_t now_ms) {
  int64_t end = job.end_ms ? job.end_ms : now_ms;
  double elapsed_s = job.start_ms ? static_cast<double>(end - job.start_ms) / 1000.0 : 0.0;
  double pct = 100.0 * job.completed_steps / job.steps;
  Json j = {
      {"job_id", job.id},
      {"job_type", "demo"},
      {"label", job.label},
      {"status", job.status},
      {"created_at", FormatTimeMs(job.created_ms)},
      {"start_time", job.start_ms ? Json(FormatTimeMs(job.start_ms)) : Json(nullptr)},
      {"end_time", job.end_ms ? Json(FormatTimeMs(job.end_ms)) : Json(nullptr)},
      {"duration_ms", job.duration_ms},
      {"total_steps", job.steps},
      {"completed_steps", job.completed_steps},
      {"current_step", "step " + std::to_string(job.completed_steps) + "/" + std::to_string(job.steps)},
      {"progress_percentage", pct},
      {"elapsed_time", elapsed_s},
      {"result", nullptr},
      {"errors", Json::array()},
  };
  if (job.status == "completed") {
    j["result"] = {{"label", job.label}, {"message", "Job '" + job.id + "' finished"}};
  } else if (IsActive(job.status) && job.completed_steps > 0) {
    double remaining_ms = static_cast<double>(job.duration_ms) * (job.steps - job.completed_steps) / job.steps;
    j["estimated_time_remaining"] = remaining_ms / 1000.0;
  }
  return j;
}

Json JobManager::List(const std::string& status, int limit, int offset) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = NowMs();
  Json jobs = Json::array();
  int total = 0;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const Job& job = *jobs_.at(*it);
    if (!status.empty() && job.status != status) continue;
    if (total >= offset && static_cast<int>(jobs.size()) < limit) jobs.push_back(ToJson(job, now));
    ++total;
  }
  size_t count = jobs.size();
  return Json{{"jobs", std::move(jobs)}, {"count", count}, {"total", total}};
}

Json JobManager::Get(const std::string& job_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return nullptr;
  return ToJson(*it->second, NowMs());
}

CancelOutcome JobManager::Cancel(const std::string& job_id, bool remove, std::string* status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return CancelOutcome::kNotFound;
    Job& job = *it->second;
    if (!IsActive(job.status)) {
      if (!remove) {
        if (status) *status = job.status;
        return CancelOutcome::kAlreadyFinished;
      }
      jobs_.erase(it);
      order_.erase(std::remove(order_.begin(), order_.end(), job_id), order_.end());
      return CancelOutcome::kRemoved;
    }
    job.status = "cancelled";
    job.end_ms = NowMs();
    job.stop = true;
    job.cv.notify_all();
  }
  counters_->Bump(Counters::kJobsCancelled);
  log::Info("job cancelled", {{"job_id", job_id}});
  return CancelOutcome::kCancelled;
}

void JobManager::Shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  for (auto& [id, job] : jobs_) {
    if (IsActive(job->status)) {
      job->status = "cancelled";
      job->end_ms = NowMs();
      job->stop = true;
      job->cv.notify_all();
    }
  }
  threads_cv_.wait_for(lock, std::chrono::seconds(3), [&] { return running_threads_ == 0; });
}

}  // namespace holdgate::demo
