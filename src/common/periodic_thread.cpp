#include "common/periodic_thread.h"

namespace holdgate {

PeriodicThread::PeriodicThread(std::chrono::milliseconds interval, std::function<void()> tick, First first)
    : interval_(interval), tick_(std::move(tick)), first_(first) {}

PeriodicThread::~PeriodicThread() { Stop(); }

void PeriodicThread::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void PeriodicThread::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PeriodicThread::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  bool wait_first = first_ == First::kWaitFirst;
  while (!stopping_) {
    if (wait_first) {
      cv_.wait_for(lock, interval_, [this] { return stopping_; });
      if (stopping_) break;
    }
    wait_first = true;
    lock.unlock();
    tick_();
    lock.lock();
  }
}

}  // namespace holdgate
