#include "review/event_hub.h"

#include <algorithm>

namespace holdgate::review {

EventHub::EventHub(store::Store& store, size_t ring_capacity)
    : store_(store), capacity_(std::max<size_t>(ring_capacity, 16)) {}

EventHub::~EventHub() { Stop(); }

Status EventHub::Start() {
  // Listen first, then read the head: an event committed in between is both in the ring and
  // <= head, which is harmless (clients filter by seq).
  listener_id_ = store_.AddListener([this](const store::ChangeEvent& e) { OnChange(e); });
  store::AuditFilter f;
  f.newest_first = true;
  f.limit = 1;
  auto page = store_.ListAudit(f);
  if (!page.ok()) {
    store_.RemoveListener(listener_id_);
    listener_id_ = -1;
    return page.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  int64_t head = page->events.empty() ? 0 : page->events.front().seq;
  floor_seq_ = head;
  // Keep ring events newer than the floor only (they are covered); drop older ones.
  while (!ring_.empty() && ring_.front().seq <= head) ring_.pop_front();
  head_seq_ = std::max(head, ring_.empty() ? head : ring_.back().seq);
  stopped_ = false;
  return Status::Ok();
}

void EventHub::Stop() {
  int id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    id = listener_id_;
    listener_id_ = -1;
  }
  cv_.notify_all();
  if (id >= 0) store_.RemoveListener(id);
}

int64_t EventHub::head_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return head_seq_;
}

void EventHub::OnChange(const store::ChangeEvent& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (event.seq <= floor_seq_) return;
    if (!ring_.empty() && event.seq <= ring_.back().seq) return;  // delivered in seq order; ignore repeats
    ring_.push_back(event);
    if (ring_.size() > capacity_) {
      floor_seq_ = ring_.front().seq;
      ring_.pop_front();
    }
    head_seq_ = std::max(head_seq_, event.seq);
  }
  cv_.notify_all();
}

EventHub::WaitResult EventHub::Wait(int64_t* after_seq, std::chrono::milliseconds timeout,
                                    std::vector<store::ChangeEvent>* out, int max_events) {
  out->clear();
  const int64_t after = *after_seq;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return stopped_ || head_seq_ > after; });
  if (stopped_) return WaitResult::kStopped;
  if (head_seq_ <= after) return WaitResult::kTimeout;
  if (after >= floor_seq_) {
    // The ring holds every approval event after `after`, and head_seq_ > after means one exists.
    for (const auto& e : ring_) {
      if (e.seq <= after) continue;
      out->push_back(e);
      if (static_cast<int>(out->size()) >= max_events) break;
    }
    if (out->empty()) return WaitResult::kTimeout;
    *after_seq = out->back().seq;
    return WaitResult::kEvents;
  }
  const int64_t floor = floor_seq_;
  lock.unlock();
  auto events = store_.EventsSince(after, max_events);
  if (!events.ok()) return WaitResult::kError;
  *out = std::move(*events);
  if (out->empty()) {
    // Nothing but non-approval rows up to the ring's floor: skip ahead so the next wait uses the ring.
    *after_seq = floor;
    return WaitResult::kTimeout;
  }
  *after_seq = out->back().seq;
  return WaitResult::kEvents;
}

}  // namespace holdgate::review
