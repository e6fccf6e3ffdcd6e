#include "gateway/release_batcher.h"

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace holdgate::gateway {
namespace {

// Moves at most `n` items from the front of `from`.
template <typename T>
std::vector<T> TakeFront(std::vector<T>& from, size_t n) {
  std::vector<T> taken;
  if (from.size() <= n) {
    taken.swap(from);
    return taken;
  }
  taken.assign(std::make_move_iterator(from.begin()), std::make_move_iterator(from.begin() + static_cast<long>(n)));
  from.erase(from.begin(), from.begin() + static_cast<long>(n));
  return taken;
}

// A continuation that throws must not stop the drain (every later release would wait forever).
void Continue(const std::string& id, const ReleaseBatcher::Done& done, Result<store::Approval> written) {
  try {
    done(std::move(written));
  } catch (const std::exception& e) {
    log::Error("release continuation failed", {{"approval", id}, {"error", e.what()}});
  } catch (...) {
    log::Error("release continuation failed", {{"approval", id}});
  }
}

}  // namespace

ReleaseBatcher::ReleaseBatcher(HoldStore& store, Post post, size_t max_batch)
    : store_(store), post_(std::move(post)), max_batch_(std::max<size_t>(1, max_batch)) {}

void ReleaseBatcher::MarkExecuting(std::string id, Done done) {
  bool start_drain = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gates_.push_back(Gate{std::move(id), std::move(done)});
    start_drain = !std::exchange(draining_, true);  // else the running drain takes it next round
  }
  if (start_drain) post_([this] { Drain(); });  // outside mu_: `post_` may run the drain at once
}

void ReleaseBatcher::Complete(std::string id, Json result, bool failed, Done done) {
  bool start_drain = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    outcomes_.push_back(Outcome{store::Store::Completion{std::move(id), std::move(result), failed}, std::move(done)});
    start_drain = !std::exchange(draining_, true);
  }
  if (start_drain) post_([this] { Drain(); });
}

void ReleaseBatcher::Drain() {
  for (;;) {
    std::vector<Gate> gates;
    std::vector<Outcome> outcomes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      outcomes = TakeFront(outcomes_, max_batch_);
      gates = TakeFront(gates_, max_batch_);
      if (gates.empty() && outcomes.empty()) {
        draining_ = false;
        return;
      }
    }
    // Outcomes first: their agents are waiting for nothing else.
    if (!outcomes.empty()) {
      std::vector<store::Store::Completion> batch;
      batch.reserve(outcomes.size());
      for (Outcome& o : outcomes) batch.push_back(std::move(o.completion));
      std::vector<Result<store::Approval>> written = store_.CompleteMany(batch);
      for (size_t i = 0; i < outcomes.size(); ++i) Continue(batch[i].id, outcomes[i].done, std::move(written[i]));
    }
    if (!gates.empty()) {
      std::vector<std::string> ids;
      ids.reserve(gates.size());
      for (const Gate& g : gates) ids.push_back(g.id);
      std::vector<Result<store::Approval>> written = store_.MarkExecutingMany(ids);
      for (size_t i = 0; i < gates.size(); ++i) Continue(gates[i].id, gates[i].done, std::move(written[i]));
    }
  }
}

}  // namespace holdgate::gateway
