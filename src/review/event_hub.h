#pragma once
// EventHub: fans the store's approval change feed out to SSE connections. Keeps the most recent
// events in a ring so live clients never touch SQLite; a client resuming from further back
// (Last-Event-ID older than the ring) is served from Store::EventsSince.
//
// Thread-safe. Wait() blocks the calling (HTTP pool) thread for at most its timeout; Stop() wakes
// every waiter and makes later waits return at once. The store listener only appends and notifies.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace holdgate::review {

class EventHub {
 public:
  // REQUIRES: `store` outlives the hub.
  explicit EventHub(store::Store& store, size_t ring_capacity = 1024);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Subscribes to the store's change feed and records the current head of the audit chain.
  Status Start();
  // Unsubscribes and wakes every waiter. Idempotent.
  void Stop();

  // The seq a new client (no Last-Event-ID) starts after.
  int64_t head_seq() const;

  enum class WaitResult { kEvents, kTimeout, kStopped, kError };
  // Blocks until an approval event with seq > *after_seq exists (then fills *out with up to
  // `max_events` of them, oldest first, and advances *after_seq to the last one), `timeout`
  // passes, or Stop(). kTimeout may also advance *after_seq past rows that are not approval events.
  WaitResult Wait(int64_t* after_seq, std::chrono::milliseconds timeout, std::vector<store::ChangeEvent>* out,
                  int max_events = 100);

 private:
  void OnChange(const store::ChangeEvent& event);

  store::Store& store_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<store::ChangeEvent> ring_;  // guarded by mu_; ascending seq
  int64_t floor_seq_ = 0;  // guarded by mu_: the ring holds every approval event with seq > floor_seq_
  int64_t head_seq_ = 0;   // guarded by mu_: highest seq seen (or the chain head at start)
  bool stopped_ = false;   // guarded by mu_
  int listener_id_ = -1;
};

}  // namespace holdgate::review
