#include "demo/demo_server.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/crypto.h"
#include "common/log.h"

namespace holdgate::demo {
namespace {

constexpr const char* kServerVersion = "0.1.0";
constexpr int64_t kMaxDelayMs = 3600 * 1000;  // one hour: enough for any hold test

// Sktime-style tool output: one text block holding pretty-printed JSON.
Json JsonTextResult(const Json& value, bool is_error = false) {
  return mcp::ToolTextResult(value.dump(2, ' ', false, Json::error_handler_t::replace), is_error);
}

Json ValidationError(const std::string& message) {
  return mcp::ToolTextResult("Input validation error: " + message, true);
}

Json Schema(Json properties, Json required) {
  Json s = {{"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

Json Annotations(const char* title, bool read_only, bool destructive, bool idempotent) {
  Json a = {{"title", title}, {"readOnlyHint", read_only}, {"openWorldHint", false}};
  if (!read_only) {
    a["destructiveHint"] = destructive;
    a["idempotentHint"] = idempotent;
  }
  return a;
}

Json BuildCatalogue(int extra_tools) {
  Json tools = Json::array();
  tools.push_back({
      {"name", "start_job"},
      {"title", "Start a background job"},
      {"description",
       "Start a background job that runs for duration_ms milliseconds in `steps` equal steps. Returns the "
       "job_id at once; poll check_job_status or list_jobs. With wait=true the call returns only when the "
       "job ends, sending notifications/progress after each step if the request carries a progressToken."},
      {"inputSchema",
       Schema({{"duration_ms", {{"type", "integer"}, {"minimum", 0}, {"maximum", kMaxDelayMs},
                                {"description", "How long the job runs, in milliseconds"}}},
               {"label", {{"type", "string"}, {"maxLength", 200}, {"default", "job"},
                          {"description", "A name for the job"}}},
               {"steps", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 5}}},
               {"wait", {{"type", "boolean"}, {"default", false},
                         {"description", "Answer only when the job has ended"}}}},
              {"duration_ms"})},
      {"annotations", Annotations("Start a background job", false, false, false)},
  });
  tools.push_back({
      {"name", "list_jobs"},
      {"title", "List background jobs"},
      {"description", "List all background jobs, newest first, with an optional status filter"},
      {"inputSchema",
       Schema({{"status", {{"type", "string"},
                           {"enum", {"pending", "running", "completed", "failed", "cancelled"}}}},
               {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 20}}},
               {"offset", {{"type", "integer"}, {"minimum", 0}, {"default", 0}}}},
              Json::array())},
      {"annotations", Annotations("List background jobs", true, false, true)},
  });
  tools.push_back({
      {"name", "check_job_status"},
      {"title", "Check a background job"},
      {"description", "Check the status and progress of a background job"},
      {"inputSchema", Schema({{"job_id", {{"type", "string"}}}}, {"job_id"})},
      {"annotations", Annotations("Check a background job", true, false, true)},
  });
  tools.push_back({
      {"name", "cancel_job"},
      {"title", "Cancel a background job"},
      {"description",
       "Cancel a running or pending background job. Set delete=true to also remove the job record entirely "
       "(useful for cleaning up completed/failed jobs)."},
      {"inputSchema", Schema({{"job_id", {{"type", "string"}}},
                              {"delete", {{"type", "boolean"}, {"default", false}}}},
                             {"job_id"})},
      {"annotations", Annotations("Cancel a background job", false, true, false)},
  });
  tools.push_back({
      {"name", "slow_echo"},
      {"title", "Echo after a delay"},
      {"description",
       "Echo `message` back after delay_ms milliseconds. Stops at once on notifications/cancelled "
       "(for timeout and cancellation tests)."},
      {"inputSchema", Schema({{"message", {{"type", "string"}}},
                              {"delay_ms", {{"type", "integer"}, {"minimum", 0}, {"maximum", kMaxDelayMs},
                                            {"default", 1000}}}},
                             {"message"})},
      {"annotations", Annotations("Echo after a delay", true, false, true)},
  });
  tools.push_back({
      {"name", "whoami"},
      {"title", "What the server saw of this call"},
      {"description",
       "Report the transport and the HTTP headers of this call that matter for tests: whether an "
       "Authorization header arrived (only its scheme and SHA-256, never the value), Host, Origin, "
       "Mcp-Session-Id, MCP-Protocol-Version, traceparent (header, and params._meta.traceparent as "
       "meta_traceparent); plus the server's process id."},
      {"inputSchema", Schema(Json::object(), Json::array())},
      {"annotations", Annotations("Who am I", true, false, true)},
  });
  tools.push_back({
      {"name", "stats"},
      {"title", "Server counters"},
      {"description",
       "The server's counters: cancel_job calls, jobs started/completed/cancelled, requests cancelled, "
       "slow_echo completions, total tools/call requests (the same JSON as --counters-file)."},
      {"inputSchema", Schema(Json::object(), Json::array())},
      {"annotations", Annotations("Server counters", true, false, true)},
  });
  for (int i = 1; i <= extra_tools; ++i) {
    std::string name = "noop_" + std::to_string(i);
    tools.push_back({
        {"name", name},
        {"description", "Does nothing; padding for tools/list pagination tests"},
        {"inputSchema", Schema(Json::object(), Json::array())},
        {"annotations", Annotations("No-op", true, false, true)},
    });
  }
  return tools;
}

// Reads an optional integer argument; false (and *error) when present but not an integer in range.
bool IntArg(const Json& args, const char* name, int64_t min, int64_t max, int64_t* out, std::string* error) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return true;
  if (!it->is_number_integer() && !it->is_number_unsigned()) {
    // Accept integral floats (some clients send 1000.0).
    if (it->is_number_float() && it->get<double>() == static_cast<double>(static_cast<int64_t>(it->get<double>()))) {
      *out = static_cast<int64_t>(it->get<double>());
    } else {
      *error = std::string("'") + name + "' must be an integer";
      return false;
    }
  } else if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    *out = v > static_cast<uint64_t>(max) ? max + 1 : static_cast<int64_t>(v);
  } else {
    *out = it->get<int64_t>();
  }
  if (*out < min || *out > max) {
    *error = std::string("'") + name + "' must be between " + std::to_string(min) + " and " + std::to_string(max);
    return false;
  }
  return true;
}

bool StringArg(const Json& args, const char* name, bool required, std::string* out, std::string* error) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) {
    if (required) *error = std::string("'") + name + "' is a required property";
    return !required;
  }
  if (!it->is_string()) {
    *error = std::string("'") + name + "' must be a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool BoolArg(const Json& args, const char* name, bool* out, std::string* error) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return true;
  if (!it->is_boolean()) {
    *error = std::string("'") + name + "' must be a boolean";
    return false;
  }
  *out = it->get<bool>();
  return true;
}

}  // namespace

// A worker's cancellation flag: set by notifications/cancelled or shutdown.
class DemoServer::CancelToken {
 public:
  void Cancel() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
  }
  // Waits until `deadline` or cancellation; true when cancelled.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return cancelled_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;  // guarded by mu_
};

// --- Session -------------------------------------------------------------------------------

bool Session::Track(const Json& request_id, std::shared_ptr<InFlight> entry) {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_.emplace(DumpJson(request_id), std::move(entry)).second;
}

std::shared_ptr<Session::InFlight> Session::Take(const Json& request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(DumpJson(request_id));
  if (it == in_flight_.end()) return nullptr;
  auto entry = std::move(it->second);
  in_flight_.erase(it);
  return entry;
}

std::vector<std::shared_ptr<Session::InFlight>> Session::TakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<InFlight>> out;
  for (auto& [key, entry] : in_flight_) out.push_back(std::move(entry));
  in_flight_.clear();
  return out;
}

void Session::set_protocol_version(std::string v) {
  std::lock_guard<std::mutex> lock(mu_);
  protocol_version_ = std::move(v);
}

std::string Session::protocol_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return protocol_version_;
}

// --- DemoServer ----------------------------------------------------------------------------

DemoServer::DemoServer(DemoOptions options, Counters* counters)
    : options_(std::move(options)), counters_(counters), jobs_(counters),
      tools_(BuildCatalogue(options_.extra_tools)) {}

DemoServer::~DemoServer() { Shutdown(); }

const std::vector<std::string>& DemoServer::ProtocolVersions() {
  static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26"};
  return versions;
}

bool DemoServer::SpeaksVersion(const std::string& version) {
  for (const auto& v : ProtocolVersions()) {
    if (v == version) return true;
  }
  return false;
}

void DemoServer::Dispatch(const mcp::Message& message, const std::shared_ptr<Session>& session,
                          const CallContext& context, const std::shared_ptr<Exchange>& exchange) {
  if (message.is_response()) return;  // the demo never sends requests to the client
  if (message.is_notification()) {
    std::string method = message.method();
    if (method == "notifications/cancelled") {
      Json params = message.params();
      auto it = params.find("requestId");
      if (it != params.end()) CancelRequest(*session, *it);
    } else {
      log::Debug("notification", {{"method", method}, {"session", session->id()}});
    }
    return;
  }
  bool deferred = false;
  Json response;
  try {
    response = HandleRequest(message, session, context, exchange, &deferred);
  } catch (const std::exception& e) {  // nlohmann type errors on odd input must not kill the server
    log::Warn("request failed", {{"method", message.method()}, {"error", e.what()}});
    response = mcp::MakeError(message.id(), mcp::kInternalError, std::string("Internal error: ") + e.what());
    deferred = false;
  }
  if (!deferred) exchange->Finish(response);
}

Json DemoServer::HandleRequest(const mcp::Message& request, const std::shared_ptr<Session>& session,
                               const CallContext& context, const std::shared_ptr<Exchange>& exchange,
                               bool* deferred) {
  const std::string method = request.method();
  const Json& id = request.id();
  if (method == "tools/call") {
    Json rpc_error;
    Json result = CallTool(request, session, context, exchange, deferred, &rpc_error);
    if (!rpc_error.is_null()) return rpc_error;
    return mcp::MakeResult(id, std::move(result));
  }
  if (method == "tools/list") {
    bool bad_cursor = false;
    Json result = ListTools(request.params(), &bad_cursor);
    if (bad_cursor) return mcp::MakeError(id, mcp::kInvalidParams, "Invalid cursor");
    return mcp::MakeResult(id, std::move(result));
  }
  if (method == "ping") return mcp::MakeResult(id, Json::object());
  if (method == "initialize") return mcp::MakeResult(id, Initialize(request.params(), *session));
  return mcp::MakeError(id, mcp::kMethodNotFound, "Method not found: " + method);
}

Json DemoServer::Initialize(const Json& params, Session& session) {
  auto pv = params.find("protocolVersion");
  std::string requested = pv != params.end() && pv->is_string() ? pv->get<std::string>() : std::string();
  std::string version = SpeaksVersion(requested) ? requested : ProtocolVersions().front();
  session.set_protocol_version(version);
  log::Info("initialize", {{"session", session.id()}, {"requested", requested}, {"version", version},
                           {"client", params.value("clientInfo", Json::object())}});
  return Json{
      {"protocolVersion", version},
      {"capabilities", {{"tools", {{"listChanged", false}}}}},
      {"serverInfo", {{"name", options_.server_name},
                      {"title", "holdgate demo upstream (Sktime-style background jobs)"},
                      {"version", kServerVersion}}},
      {"instructions",
       "Start background jobs with start_job, follow them with list_jobs and check_job_status, stop them "
       "with cancel_job (irreversible)."},
  };
}

Json DemoServer::ListTools(const Json& params, bool* bad_cursor) const {
  size_t offset = 0;
  auto c = params.find("cursor");
  if (c != params.end() && !c->is_null()) {
    // Cursors are "c<offset>"; anything else is refused.
    if (!c->is_string()) {
      *bad_cursor = true;
      return nullptr;
    }
    const std::string& text = c->get_ref<const std::string&>();
    if (text.size() < 2 || text.size() > 10 || text[0] != 'c' ||
        text.find_first_not_of("0123456789", 1) != std::string::npos) {
      *bad_cursor = true;
      return nullptr;
    }
    offset = std::stoul(text.substr(1));
    if (offset >= tools_.size()) {
      *bad_cursor = true;
      return nullptr;
    }
  }
  if (options_.page_size <= 0) return Json{{"tools", tools_}};
  Json page = Json::array();
  size_t end = std::min(tools_.size(), offset + static_cast<size_t>(options_.page_size));
  for (size_t i = offset; i < end; ++i) page.push_back(tools_[i]);
  Json result = {{"tools", std::move(page)}};
  if (end < tools_.size()) result["nextCursor"] = "c" + std::to_string(end);
  return result;
}

bool DemoServer::IsSlowCall(const mcp::Message& request) const {
  if (!request.is_request() || request.method() != "tools/call") return false;
  auto p = request.json.find("params");
  if (p == request.json.end() || !p->is_object()) return false;
  auto n = p->find("name");
  if (n == p->end() || !n->is_string()) return false;
  if (*n == "slow_echo") return true;
  if (*n == "start_job") {
    auto a = p->find("arguments");
    if (a == p->end() || !a->is_object()) return false;
    auto w = a->find("wait");
    return w != a->end() && w->is_boolean() && w->get<bool>();
  }
  return false;
}

Json DemoServer::CallTool(const mcp::Message& request, const std::shared_ptr<Session>& session,
                          const CallContext& context, const std::shared_ptr<Exchange>& exchange,
                          bool* deferred, Json* rpc_error) {
  counters_->Bump(Counters::kToolsCallTotal);
  Json params = request.params();
  auto n = params.find("name");
  if (n == params.end() || !n->is_string()) {
    *rpc_error = mcp::MakeError(request.id(), mcp::kInvalidParams, "Invalid params: 'name' must be a string");
    return nullptr;
  }
  const std::string name = n->get<std::string>();
  Json args = params.value("arguments", Json::object());
  if (args.is_null()) args = Json::object();
  if (!args.is_object()) return ValidationError("arguments must be an object");
  std::string error;

  if (name == "list_jobs") {
    std::string status;
    int64_t limit = 20, offset = 0;
    if (!StringArg(args, "status", false, &status, &error) || !IntArg(args, "limit", 1, 1000, &limit, &error) ||
        !IntArg(args, "offset", 0, 1 << 30, &offset, &error)) {
      return ValidationError(error);
    }
    Json listed = jobs_.List(status, static_cast<int>(limit), static_cast<int>(offset));
    Json out = {{"success", true}, {"count", listed["count"]}, {"total", listed["total"]},
                {"limit", limit}, {"offset", offset}, {"jobs", std::move(listed["jobs"])}};
    return JsonTextResult(out);
  }
  if (name == "check_job_status") {
    std::string job_id;
    if (!StringArg(args, "job_id", true, &job_id, &error)) return ValidationError(error);
    Json job = jobs_.Get(job_id);
    if (job.is_null()) return JsonTextResult({{"success", false}, {"error", "Job '" + job_id + "' not found"}});
    Json out = {{"success", true}};
    out.update(job);
    return JsonTextResult(out);
  }
  if (name == "cancel_job") {
    counters_->Bump(Counters::kCancelJobCalls);
    std::string job_id;
    bool remove = false;
    if (!StringArg(args, "job_id", true, &job_id, &error) || !BoolArg(args, "delete", &remove, &error)) {
      return ValidationError(error);
    }
    std::string status;
    switch (jobs_.Cancel(job_id, remove, &status)) {
      case CancelOutcome::kCancelled: {
        std::string message = "Job '" + job_id + "' cancelled";
        if (remove) message += "; record retained because active jobs cannot be removed immediately";
        return JsonTextResult({{"success", true}, {"cancelled", true}, {"job_id", job_id}, {"message", message}});
      }
      case CancelOutcome::kRemoved:
        return JsonTextResult({{"success", true}, {"cancelled", false}, {"removed", true}, {"job_id", job_id},
                               {"message", "Job '" + job_id + "' removed"}});
      case CancelOutcome::kNotFound:
        return JsonTextResult({{"success", false}, {"cancelled", false}, {"not_found", true}, {"job_id", job_id},
                               {"error", "Job '" + job_id + "' not found"}});
      case CancelOutcome::kAlreadyFinished:
        return JsonTextResult({{"success", false}, {"cancelled", false}, {"job_id", job_id}, {"status", status},
                               {"error", "Job is already '" + status + "'. Use delete=true to remove the record."}});
    }
    return nullptr;
  }
  if (name == "start_job") return StartJob(request, args, session, exchange, deferred);
  if (name == "slow_echo") return SlowEcho(request, args, session, exchange, deferred);
  if (name == "stats") return JsonTextResult(Stats());
  if (name == "whoami") {
    Json out = {{"transport", context.transport}, {"pid", static_cast<int64_t>(::getpid())},
                {"session", session->id()}, {"protocol_version", session->protocol_version()}};
    if (context.http.is_object()) out.update(context.http);
    // Trace context as it arrived in the message (a gateway's hop), for tracing tests.
    Json params = request.params();
    if (params.contains("_meta") && params["_meta"].is_object() && params["_meta"].contains("traceparent")) {
      out["meta_traceparent"] = params["_meta"]["traceparent"];
    }
    return JsonTextResult(out);
  }
  if (name.rfind("noop_", 0) == 0) {
    for (const auto& t : tools_) {
      if (t["name"] == name) return mcp::ToolTextResult(name, false);
    }
  }
  *rpc_error = mcp::MakeError(request.id(), mcp::kInvalidParams, "Unknown tool: " + name);
  return nullptr;
}

Json DemoServer::Stats() const { return counters_->ToJson(); }

Json DemoServer::SlowEcho(const mcp::Message& request, const Json& args, const std::shared_ptr<Session>& session,
                          const std::shared_ptr<Exchange>& exchange, bool* deferred) {
  std::string message, error;
  int64_t delay_ms = 1000;
  if (!StringArg(args, "message", true, &message, &error) ||
      !IntArg(args, "delay_ms", 0, kMaxDelayMs, &delay_ms, &error)) {
    return ValidationError(error);
  }
  auto token = std::make_shared<CancelToken>();
  auto entry = std::make_shared<Session::InFlight>();
  entry->cancel = [token] { token->Cancel(); };
  entry->exchange = exchange;
  Json id = request.id();
  {
    std::lock_guard<std::mutex> lock(workers_mu_);
    if (stopping_) return mcp::ToolTextResult("server is shutting down", true);
    if (!session->Track(id, entry)) {
      return mcp::ToolTextResult("a request with this id is already in flight", true);
    }
    ++workers_;
    tokens_.push_back(token);
  }
  *deferred = true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
  std::thread([this, token, session, exchange, id, message, delay_ms, deadline] {
    bool cancelled = token->WaitUntil(deadline);
    if (!cancelled && session->Take(id)) {
      counters_->Bump(Counters::kSlowEchoCompleted);
      exchange->Finish(mcp::MakeResult(
          id, JsonTextResult({{"success", true}, {"echo", message}, {"delay_ms", delay_ms}})));
    }
    std::lock_guard<std::mutex> lock(workers_mu_);
    tokens_.erase(std::find(tokens_.begin(), tokens_.end(), token));
    if (--workers_ == 0) workers_cv_.notify_all();
  }).detach();
  return nullptr;
}

Json DemoServer::StartJob(const mcp::Message& request, const Json& args, const std::shared_ptr<Session>& session,
                          const std::shared_ptr<Exchange>& exchange, bool* deferred) {
  std::string label = "job", error;
  int64_t duration_ms = 0, steps = 5;
  bool wait = false;
  if (!args.contains("duration_ms")) return ValidationError("'duration_ms' is a required property");
  if (!IntArg(args, "duration_ms", 0, kMaxDelayMs, &duration_ms, &error) ||
      !StringArg(args, "label", false, &label, &error) || !IntArg(args, "steps", 1, 1000, &steps, &error) ||
      !BoolArg(args, "wait", &wait, &error)) {
    return ValidationError(error);
  }
  const Json token = mcp::ProgressToken(request.json);
  const Json id = request.id();
  JobSpec spec;
  spec.duration_ms = duration_ms;
  spec.label = label;
  spec.steps = static_cast<int>(steps);

  if (!wait) {
    std::string job_id = jobs_.Start(std::move(spec));
    if (job_id.empty()) return mcp::ToolTextResult("too many active jobs", true);
    if (!token.is_null()) {
      exchange->Notify(mcp::MakeNotification(
          "notifications/progress",
          {{"progressToken", token}, {"progress", 0}, {"total", steps}, {"message", "job " + job_id + " started"}}));
    }
    return JsonTextResult({{"success", true}, {"job_id", job_id}, {"status", "running"},
                           {"message", "Job started. Use check_job_status('" + job_id + "') to follow it."}});
  }

  // wait=true: the job thread answers when the job ends; notifications/cancelled cancels the job.
  struct Pending {
    std::mutex mu;
    std::string job_id;     // guarded by mu
    bool cancel = false;    // guarded by mu: cancelled before the job id was known
  };
  auto pending = std::make_shared<Pending>();
  auto entry = std::make_shared<Session::InFlight>();
  entry->exchange = exchange;
  entry->cancel = [this, pending] {
    std::string job_id;
    {
      std::lock_guard<std::mutex> lock(pending->mu);
      pending->cancel = true;
      job_id = pending->job_id;
    }
    if (!job_id.empty()) jobs_.Cancel(job_id, false, nullptr);
  };
  if (!session->Track(id, entry)) return mcp::ToolTextResult("a request with this id is already in flight", true);
  if (!token.is_null()) {
    spec.on_progress = [exchange, token](int done, int total) {
      exchange->Notify(mcp::MakeNotification(
          "notifications/progress", {{"progressToken", token}, {"progress", done}, {"total", total},
                                     {"message", "step " + std::to_string(done) + "/" + std::to_string(total)}}));
    };
  }
  spec.on_finish = [session, exchange, id](const Json& job) {
    if (!session->Take(id)) return;  // cancelled: no response
    Json out = {{"success", job["status"] == "completed"}};
    if (job["status"] != "completed") {
      out["error"] = "Job '" + job["job_id"].get<std::string>() + "' ended " + job["status"].get<std::string>();
    }
    out.update(job);
    exchange->Finish(mcp::MakeResult(id, JsonTextResult(out)));
  };
  *deferred = true;
  std::string job_id = jobs_.Start(std::move(spec));
  if (job_id.empty()) {
    if (session->Take(id)) exchange->Finish(mcp::MakeResult(id, mcp::ToolTextResult("too many active jobs", true)));
    return nullptr;
  }
  bool cancel_now = false;
  {
    std::lock_guard<std::mutex> lock(pending->mu);
    pending->job_id = job_id;
    cancel_now = pending->cancel;
  }
  if (cancel_now) jobs_.Cancel(job_id, false, nullptr);
  return nullptr;
}

void DemoServer::CancelRequest(Session& session, const Json& request_id) {
  auto entry = session.Take(request_id);
  if (!entry) {
    log::Debug("cancel for a request not in flight", {{"request_id", request_id}});
    return;
  }
  if (entry->cancel) entry->cancel();
  counters_->Bump(Counters::kRequestsCancelled);
  log::Info("request cancelled", {{"session", session.id()}, {"request_id", request_id}});
  if (entry->exchange) entry->exchange->Abandon();
}

void DemoServer::EndSession(const std::shared_ptr<Session>& session) {
  for (auto& entry : session->TakeAll()) {
    if (entry->cancel) entry->cancel();
    counters_->Bump(Counters::kRequestsCancelled);
    if (entry->exchange) entry->exchange->Abandon();
  }
}

void DemoServer::Shutdown() {
  {
    std::unique_lock<std::mutex> lock(workers_mu_);
    stopping_ = true;
    for (auto& t : tokens_) t->Cancel();
  }
  jobs_.Shutdown();
  std::unique_lock<std::mutex> lock(workers_mu_);
  workers_cv_.wait_for(lock, std::chrono::seconds(3), [&] { return workers_ == 0; });
}

}  // namespace holdgate::demo
