#pragma once
// TaskTable: MCP tasks (2025-11-25) that holdgate runs for agents that task-augment a tools/call.
// A held call becomes a "working" task at once ("awaiting approval") and completes with the tool
// result or fails with the rejection; allowed calls complete when the upstream answers.
// Tasks are bound to the session that created them. Thread-safe; nothing blocks: tasks/result on
// an unfinished task parks the agent's reply stream until the task ends.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/json_util.h"
#include "transport/session.h"

namespace holdgate::gateway {

class TaskTable {
 public:
  explicit TaskTable(const Clock& clock) : clock_(clock) {}

  // Creates a working task for `session_id`; returns its id.
  std::string Create(const std::string& session_id, int64_t ttl_ms, const std::string& status_message);
  // The reply stream a task's call answers into: Finish() completes the task.
  std::shared_ptr<transport::ClientStream> StreamFor(const std::string& task_id,
                                                     std::shared_ptr<transport::Session> session);
  void SetStatusMessage(const std::string& task_id, const std::string& message);
  void SetApproval(const std::string& task_id, const std::string& approval_id);

  // The Task object (taskId, status, statusMessage, createdAt, lastUpdatedAt, ttl, pollInterval)
  // or null when unknown to this session.
  Json Get(const std::string& session_id, const std::string& task_id) const;
  // Answers `stream` with the task's stored response now if it is done, else when it ends.
  // Returns false when the task is unknown to this session.
  bool AwaitResult(const std::string& session_id, const std::string& task_id, const Json& request_id,
                   std::shared_ptr<transport::ClientStream> stream);
  // Marks a working task cancelled. Returns the approval id it was waiting on ("" if none), or
  // an error: kNotFound (unknown), kConflict (already terminal).
  Result<std::string> Cancel(const std::string& session_id, const std::string& task_id);
  Json List(const std::string& session_id) const;
  // Finishes a task with a JSON-RPC response (the call's outcome).
  void Complete(const std::string& task_id, const Json& response);
  size_t size() const;

  static constexpr int64_t kPollIntervalMs = 2000;

 private:
  struct Waiter {
    Json request_id;
    std::shared_ptr<transport::ClientStream> stream;
  };
  struct Task {
    std::string id;
    std::string session_id;
    std::string status = "working";
    std::string status_message;
    std::string approval_id;
    int64_t created_ms = 0;
    int64_t updated_ms = 0;
    int64_t ttl_ms = 0;
    Json response;  // the call's final JSON-RPC response once done
    std::vector<Waiter> waiters;
  };
  Json TaskJson(const Task& t) const;
  static Json ResultFor(const Task& t, const Json& request_id);
  void DropExpiredLocked(int64_t now_ms);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Task> tasks_;  // guarded by mu_
};

}  // namespace holdgate::gateway
