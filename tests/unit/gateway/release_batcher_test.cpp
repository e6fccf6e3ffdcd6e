// The release batcher without SQLite: a fake store that records how its writes were grouped, and
// an executor the test drains by hand.
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <stdexcept>

#include "gateway/release_batcher.h"

namespace holdgate::gateway {
namespace {

using store::Approval;
using store::State;

class BatchRecordingStore final : public HoldStore {
 public:
  void Add(const std::string& id, State state) {
    Approval a;
    a.id = id;
    a.state = state;
    approvals_[id] = a;
  }
  State StateOf(const std::string& id) { return approvals_.at(id).state; }

  Result<FoundOrCreated> FindOrCreate(const store::NewApproval&) override { return Internal("unused"); }
  Result<Approval> Get(const std::string& id) override { return approvals_.at(id); }
  Result<Approval> MarkExecuting(const std::string& id) override {
    if (fail) return IoError("disk I/O error");
    Approval& a = approvals_.at(id);
    if (a.state != State::kApproved) return Conflict("approval " + id + " was already released");
    a.state = State::kExecuting;
    return a;
  }
  Result<Approval> Complete(const std::string& id, const Json& result, bool failed) override {
    Approval& a = approvals_.at(id);
    if (a.state != State::kExecuting) return Conflict("not executing");
    a.result = result;
    a.state = failed ? State::kFailed : State::kCompleted;
    return a;
  }
  std::vector<Result<Approval>> MarkExecutingMany(const std::vector<std::string>& ids) override {
    gate_batches.push_back(ids.size());
    return HoldStore::MarkExecutingMany(ids);
  }
  std::vector<Result<Approval>> CompleteMany(const std::vector<store::Store::Completion>& outcomes) override {
    outcome_batches.push_back(outcomes.size());
    return HoldStore::CompleteMany(outcomes);
  }
  Result<Approval> Cancel(const std::string&, const std::string&) override { return Internal("unused"); }
  Result<Approval> MarkAgentLeft(const std::string&) override { return Internal("unused"); }
  void RecordReleaseFailure(const Approval&, const Status&) override {}

  std::vector<size_t> gate_batches;     // ids per MarkExecutingMany
  std::vector<size_t> outcome_batches;  // outcomes per CompleteMany
  bool fail = false;

 private:
  std::map<std::string, Approval> approvals_;
};

struct Harness {
  BatchRecordingStore store;
  std::deque<std::function<void()>> posted;
  std::vector<std::string> continued;  // "id state-or-error", in the order continuations ran

  ReleaseBatcher::Done Record(const std::string& id) {
    return [this, id](Result<Approval> r) {
      continued.push_back(id + " " + (r.ok() ? store::StateName(r->state) : r.status().message()));
    };
  }
  void RunPosted() {
    while (!posted.empty()) {
      auto work = std::move(posted.front());
      posted.pop_front();
      work();
    }
  }
};

}  // namespace

TEST_CASE("gates queued before the drain run as one batch, continuations in queue order", "[gateway][release]") {
  Harness h;
  ReleaseBatcher releases(h.store, [&h](std::function<void()> w) { h.posted.push_back(std::move(w)); });
  for (const char* id : {"a", "b", "c"}) h.store.Add(id, State::kApproved);
  h.store.Add("done", State::kCompleted);
  for (const char* id : {"a", "b", "done", "c"}) releases.MarkExecuting(id, h.Record(id));
  CHECK(h.posted.size() == 1);  // one drain for all of them
  CHECK(h.continued.empty());   // nothing runs on the caller's thread
  h.RunPosted();
  CHECK(h.store.gate_batches == std::vector<size_t>{4});
  CHECK(h.continued == std::vector<std::string>{"a executing", "b executing",
                                                "done approval done was already released", "c executing"});
  // Exactly once: a second gate for the same approval is refused.
  releases.MarkExecuting("a", h.Record("a"));
  h.RunPosted();
  CHECK(h.continued.back() == "a approval a was already released");
}

TEST_CASE("outcomes are written in one batch and reported only after the write", "[gateway][release]") {
  Harness h;
  ReleaseBatcher releases(h.store, [&h](std::function<void()> w) { h.posted.push_back(std::move(w)); });
  for (const char* id : {"a", "b"}) h.store.Add(id, State::kExecuting);
  releases.Complete("a", Json{{"ok", true}}, false, h.Record("a"));
  releases.Complete("b", Json{{"error", "boom"}}, true, h.Record("b"));
  CHECK(h.store.StateOf("a") == State::kExecuting);
  h.RunPosted();
  CHECK(h.store.outcome_batches == std::vector<size_t>{2});
  CHECK(h.continued == std::vector<std::string>{"a completed", "b failed"});
}

TEST_CASE("a batch is at most max_batch long, the rest follows in the same drain", "[gateway][release]") {
  Harness h;
  ReleaseBatcher releases(h.store, [&h](std::function<void()> w) { h.posted.push_back(std::move(w)); }, 2);
  for (const char* id : {"a", "b", "c", "d", "e"}) {
    h.store.Add(id, State::kApproved);
    releases.MarkExecuting(id, h.Record(id));
  }
  h.RunPosted();
  CHECK(h.store.gate_batches == std::vector<size_t>{2, 2, 1});
  CHECK(h.continued.size() == 5);
}

TEST_CASE("requests made by a continuation join the running drain", "[gateway][release]") {
  Harness h;
  ReleaseBatcher releases(h.store, [&h](std::function<void()> w) { h.posted.push_back(std::move(w)); });
  h.store.Add("a", State::kApproved);
  releases.MarkExecuting("a", [&](Result<Approval> r) {
    REQUIRE(r.ok());
    releases.Complete("a", Json::object(), false, h.Record("a"));  // as a release answered at once would
  });
  h.RunPosted();
  CHECK(h.store.StateOf("a") == State::kCompleted);
  CHECK(h.continued == std::vector<std::string>{"a completed"});
}

TEST_CASE("a store error reaches every caller of the batch, a throwing continuation stops nothing",
          "[gateway][release]") {
  Harness h;
  ReleaseBatcher releases(h.store, [&h](std::function<void()> w) { h.posted.push_back(std::move(w)); });
  h.store.Add("a", State::kApproved);
  h.store.Add("b", State::kApproved);
  h.store.fail = true;
  releases.MarkExecuting("a", [](Result<Approval>) { throw std::runtime_error("bug"); });
  releases.MarkExecuting("b", h.Record("b"));
  h.RunPosted();
  CHECK(h.continued == std::vector<std::string>{"b disk I/O error"});
  CHECK(h.store.StateOf("a") == State::kApproved);
  // The batcher still works afterwards.
  h.store.fail = false;
  releases.MarkExecuting("a", h.Record("a"));
  h.RunPosted();
  CHECK(h.continued.back() == "a executing");
}

TEST_CASE("an executor that runs the drain on the caller's thread (a stopped work queue) finishes it there",
          "[gateway][release]") {
  Harness h;
  ReleaseBatcher releases(h.store, [](std::function<void()> w) { w(); });
  h.store.Add("a", State::kApproved);
  releases.MarkExecuting("a", h.Record("a"));  // returns only after its drain ran
  CHECK(h.continued == std::vector<std::string>{"a executing"});
  releases.Complete("a", Json{{"ok", true}}, false, h.Record("a"));
  CHECK(h.continued == std::vector<std::string>{"a executing", "a completed"});
}

}  // namespace holdgate::gateway
