#include "gateway/task_table.h"

#include "common/crypto.h"
#include "mcp/jsonrpc.h"

namespace holdgate::gateway {
namespace {

constexpr size_t kMaxTasks = 100000;
constexpr char kRelatedTask[] = "io.modelcontextprotocol/related-task";

bool Terminal(const std::string& status) {
  return status == "completed" || status == "failed" || status == "cancelled";
}

// A reply stream that completes a task instead of writing to an agent; related messages
// (progress) go to the agent's session, since progress tokens stay valid for the task's life.
class TaskStream final : public transport::ClientStream {
 public:
  TaskStream(TaskTable* table, std::string task_id, std::shared_ptr<transport::Session> session)
      : table_(table), task_id_(std::move(task_id)), session_(std::move(session)) {}
  void SendRelated(const Json& message) override {
    if (!finished()) session_->SendUnsolicited(message);
  }
  void Finish(const Json& response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
    }
    table_->Complete(task_id_, response);
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
  }
  bool finished() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }
  // A task outlives its agent's connection: nothing to report.
  void SetGoneCallback(std::function<void()>) override {}

 private:
  TaskTable* table_;
  const std::string task_id_;
  std::shared_ptr<transport::Session> session_;
  mutable std::mutex mu_;
  bool finished_ = false;  // guarded by mu_
};

}  // namespace

std::string TaskTable::Create(const std::string& session_id, int64_t ttl_ms, const std::string& status_message) {
  int64_t now = clock_.NowMs();
  Task t;
  t.id = NewId("task_");
  t.session_id = session_id;
  t.status_message = status_message;
  t.created_ms = t.updated_ms = now;
  t.ttl_ms = ttl_ms;
  std::lock_guard<std::mutex> lock(mu_);
  if (tasks_.size() >= kMaxTasks) DropExpiredLocked(now);
  std::string id = t.id;
  tasks_.emplace(id, std::move(t));
  return id;
}

std::shared_ptr<transport::ClientStream> TaskTable::StreamFor(const std::string& task_id,
                                                              std::shared_ptr<transport::Session> session) {
  return std::make_shared<TaskStream>(this, task_id, std::move(session));
}

void TaskTable::SetStatusMessage(const std::string& task_id, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || Terminal(it->second.status)) return;
  it->second.status_message = message;
  it->second.updated_ms = clock_.NowMs();
}

void TaskTable::SetApproval(const std::string& task_id, const std::string& approval_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(task_id);
  if (it != tasks_.end()) it->second.approval_id = approval_id;
}

Json TaskTable::TaskJson(const Task& t) const {
  Json j = {{"taskId", t.id},
            {"status", t.status},
            {"createdAt", FormatTimeMs(t.created_ms)},
            {"lastUpdatedAt", FormatTimeMs(t.updated_ms)},
            {"ttl", t.ttl_ms},
            {"pollInterval", kPollIntervalMs}};
  if (!t.status_message.empty()) j["statusMessage"] = t.status_message;
  return j;
}

Json TaskTable::ResultFor(const Task& t, const Json& request_id) {
  Json related = {{kRelatedTask, {{"taskId", t.id}}}};
  if (t.status == "cancelled") {
    return mcp::MakeError(request_id, mcp::kInvalidParams, "task " + t.id + " was cancelled", related);
  }
  if (t.response.contains("error")) {
    Json e = t.response["error"];
    return mcp::MakeError(request_id, e.value("code", mcp::kInternalError), e.value("message", "error"), related);
  }
  Json result = t.response.value("result", Json::object());
  result["_meta"][kRelatedTask] = {{"taskId", t.id}};
  return mcp::MakeResult(request_id, std::move(result));
}

Json TaskTable::Get(const std::string& session_id, const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.session_id != session_id) return nullptr;
  return TaskJson(it->second);
}

bool TaskTable::AwaitResult(const std::string& session_id, const std::string& task_id, const Json& request_id,
                            std::shared_ptr<transport::ClientStream> stream) {
  Json ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.session_id != session_id) return false;
    if (!Terminal(it->second.status)) {
      it->second.waiters.push_back(Waiter{request_id, std::move(stream)});
      return true;
    }
    ready = ResultFor(it->second, request_id);
  }
  stream->Finish(ready);
  return true;
}

Result<std::string> TaskTable::Cancel(const std::string& session_id, const std::string& task_id) {
  std::vector<std::pair<Json, std::shared_ptr<transport::ClientStream>>> answers;
  std::string approval;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.session_id != session_id) return NotFound("unknown task " + task_id);
    Task& t = it->second;
    if (Terminal(t.status)) return Conflict("task " + task_id + " is already " + t.status);
    t.status = "cancelled";
    t.status_message = "cancelled by the agent";
    t.updated_ms = clock_.NowMs();
    approval = t.approval_id;
    for (auto& w : t.waiters) answers.emplace_back(ResultFor(t, w.request_id), std::move(w.stream));
    t.waiters.clear();
  }
  for (auto& [resp, stream] : answers) stream->Finish(resp);
  return approval;
}

Json TaskTable::List(const std::string& session_id) const {
  Json tasks = Json::array();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, t] : tasks_) {
    if (t.session_id == session_id) tasks.push_back(TaskJson(t));
  }
  return Json{{"tasks", tasks}};
}

void TaskTable::Complete(const std::string& task_id, const Json& response) {
  std::vector<std::pair<Json, std::shared_ptr<transport::ClientStream>>> answers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || Terminal(it->second.status)) return;
    Task& t = it->second;
    t.response = response;
    bool failed = response.contains("error") ||
                  (response.contains("result") && response["result"].value("isError", false));
    t.status = failed ? "failed" : "completed";
    t.status_message.clear();
    t.updated_ms = clock_.NowMs();
    for (auto& w : t.waiters) answers.emplace_back(ResultFor(t, w.request_id), std::move(w.stream));
    t.waiters.clear();
  }
  for (auto& [resp, stream] : answers) stream->Finish(resp);
}

size_t TaskTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

void TaskTable::DropExpiredLocked(int64_t now_ms) {
  std::erase_if(tasks_, [&](const auto& kv) {
    const Task& t = kv.second;
    return Terminal(t.status) && t.ttl_ms > 0 && now_ms - t.created_ms > t.ttl_ms;
  });
}

}  // namespace holdgate::gateway
