#pragma once
// A small fixed pool of threads running queued tasks in FIFO order. Decisions arrive on whatever
// thread made them (an API request, the expiry sweeper); the gateway hands the work of releasing
// or answering a held call to this pool, so deciders never wait on SQLite or the upstream.
// Thread-safe. Stop() runs what is queued, then joins.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace holdgate::gateway {

class WorkQueue {
 public:
  explicit WorkQueue(int threads);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // False when the queue has stopped: the task was not queued (and will not run).
  bool Post(std::function<void()> task);
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace holdgate::gateway
