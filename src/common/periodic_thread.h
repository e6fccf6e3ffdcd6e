#pragma once
// A background thread that runs one callback at a fixed interval until stopped (the expiry
// sweeper, the audit checkpointer). Start and Stop must not race each other; Stop blocks until
// a running callback has returned and the thread has ended. The callback runs on that thread
// only, never concurrently with itself.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace holdgate {

class PeriodicThread {
 public:
  enum class First { kRunAtStart, kWaitFirst };

  PeriodicThread(std::chrono::milliseconds interval, std::function<void()> tick, First first);
  ~PeriodicThread();  // Stop()s
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  void Start();  // no-op when running
  void Stop();   // no-op when not running
  bool running() const { return thread_.joinable(); }

 private:
  void Run();

  const std::chrono::milliseconds interval_;
  const std::function<void()> tick_;
  const First first_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace holdgate
