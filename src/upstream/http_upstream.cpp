// Upstream over Streamable HTTP: every message is a POST to the endpoint; replies come as JSON or
// as an SSE stream; a GET stream carries what the server says outside any request. Workers each
// own a keep-alive connection (one exchange at a time on each), so calls run concurrently.
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <unordered_set>

#include "common/log.h"
#include "common/periodic_thread.h"
#include "mcp/jsonrpc.h"
#include "mcp/trace_meta.h"
#include "transport/sse.h"
#include "upstream/correlator.h"
#include "upstream/era.h"
#include "upstream/handshake.h"
#include "upstream/http_conn.h"
#include "upstream/upstream.h"

namespace holdgate::upstream {
namespace {

constexpr int64_t kInitializeTimeoutMs = 30000;
// Rounds of input_required one request may go through before holdgate gives up (the reference
// client's default cap).
constexpr int kMaxInputRounds = 10;
constexpr size_t kMaxWorkers = 512;
// Without a request timeout a tool may stream nothing for a long time; with one, the watchdog
// ends the exchange at the timeout and the socket read timeout is only a backstop.
constexpr time_t kStreamReadTimeoutSec = 24 * 3600;

struct Endpoint {
  std::string origin;  // scheme://host:port, what httplib::Client takes
  std::string path;
};

bool SplitUrl(const std::string& url, Endpoint* out) {
  static const std::regex re(R"(^(https?://[^/?#]+)([^?#]*(\?[^#]*)?)$)");
  std::smatch m;
  if (!std::regex_match(url, m, re)) return false;
  out->origin = m[1].str();
  out->path = m[2].str().empty() ? "/" : m[2].str();
  return true;
}

class HttpUpstream final : public Upstream {
 public:
  explicit HttpUpstream(Options options)
      : options_(std::move(options)),
        correlator_(false, [this](const Json& m) { Respond(m); }, options_.request_timeout_ms,
                    options_.keep_caller_ids),
        watchdog_(OverdueCheckInterval(options_.request_timeout_ms), [this] { CancelOverdue(); },
                  PeriodicThread::First::kWaitFirst) {}
  ~HttpUpstream() override { Stop(); }

  Status Start() override {
    if (!SplitUrl(options_.url, &endpoint_)) {
      return InvalidArgument("upstream URL must look like http://host:port/path: " + options_.url);
    }
    connection_key_ = endpoint_.origin + '\x1f' + std::to_string(options_.request_timeout_ms);
    if (options_.request_timeout_ms > 0) watchdog_.Start();
    Status s = Handshake();
    if (!s.ok()) return s;
    // A modern upstream has no GET stream: it speaks only within a request's own response, and
    // list changes and resource updates come on a subscriptions/listen request held open.
    if (IsModern()) get_stream_ = std::thread([this] { RunListen(); });
    else get_stream_ = std::thread([this] { RunGetStream(); });
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || !started_) {
        stopping_ = true;
        return;
      }
      stopping_ = true;
    }
    cv_.notify_all();
    watchdog_.Stop();
    {
      std::lock_guard<std::mutex> lock(get_mu_);
      if (get_client_) get_client_->stop();
    }
    if (get_stream_.joinable()) get_stream_.join();
    // End the session politely; ignore failures.
    std::string sid = session_id();
    if (!sid.empty()) {
      httplib::Client cli(endpoint_.origin);
      cli.set_connection_timeout(2, 0);
      cli.set_read_timeout(2, 0);
      cli.Delete(endpoint_.path.c_str(), {{"Mcp-Session-Id", sid}});
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto* c : active_clients_) c->Stop();
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    correlator_.FailAll(mcp::kConnectionClosed, "holdgate is shutting down");
    std::map<RequestHandle, std::shared_ptr<ModernCall>> flows;
    {
      std::lock_guard<std::mutex> lock(mu_);
      flows.swap(flows_);
      inputs_.clear();
    }
    for (auto& [handle, call] : flows) call->Abandon(mcp::kConnectionClosed, "holdgate is shutting down");
  }

  Json InitializeResult() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return initialize_result_;
  }

  std::string ProtocolEra() const override { return IsModern() ? "modern" : "legacy"; }

  RequestHandle Send(const Json& request, std::shared_ptr<ReplyHandler> handler) override {
    if (IsModern()) {
      if (auto local = AnswerLocally(request, handler)) return *local;
      return SendLeg(std::make_shared<ModernCall>(this, request, std::move(handler)), request);
    }
    Correlator::Registered reg = correlator_.Register(request, std::move(handler));
    const RequestHandle handle = reg.handle;
    if (!Enqueue([this, reg = std::move(reg)](HttpConnection& conn) { Post(conn, reg.wire, reg.handle, true); })) {
      correlator_.Fail(handle, mcp::kConnectionClosed, "the upstream session has ended");
    }
    return handle;
  }

  void SendOnThisThread(const Json& request, std::shared_ptr<ReplyHandler> handler,
                        const std::function<void(RequestHandle)>& on_sent) override {
    std::shared_ptr<ModernCall> call;
    if (IsModern()) {
      if (auto local = AnswerLocally(request, handler)) {
        on_sent(*local);
        return;
      }
      call = std::make_shared<ModernCall>(this, request, handler);
      handler = call;
    }
    Correlator::Registered reg = correlator_.Register(request, std::move(handler));
    if (call) call->SetLeg(reg.handle);
    on_sent(reg.handle);
    HttpConnection* conn = CallerConnection();
    if (conn == nullptr) {  // stopping
      correlator_.Fail(reg.handle, mcp::kConnectionClosed, "holdgate is shutting down");
      return;
    }
    Post(*conn, reg.wire, reg.handle, true);
    std::lock_guard<std::mutex> lock(mu_);
    active_clients_.erase(conn);
  }

  void Cancel(RequestHandle handle, const std::string& reason) override {
    std::shared_ptr<ModernCall> call;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = flows_.find(handle);
      if (it != flows_.end()) call = it->second;
    }
    if (call) {
      // A request in its input rounds: cancel the leg in flight, or end the wait for the agent.
      RequestHandle leg = call->leg();
      if (leg != 0) CancelLeg(leg, reason);
      call->Abandon(mcp::kRequestTimeout, "request cancelled: " + reason);
      return;
    }
    CancelLeg(handle, reason);
  }

  void CancelLeg(RequestHandle handle, const std::string& reason) {
    Json wire_id = correlator_.Fail(handle, mcp::kRequestTimeout, "request cancelled: " + reason);
    if (wire_id.is_null()) return;
    // The notification travels on another connection and may overtake the request itself; cutting
    // the exchange frees a thread waiting in SendOnThisThread whatever the server makes of it.
    CutExchange(handle);
    Notify(mcp::MakeNotification("notifications/cancelled", {{"requestId", wire_id}, {"reason", reason}}));
  }

  // Shuts down the socket of the exchange POSTing request `handle`, if it is still running; the
  // thread in it returns (HttpConnection::Stop is safe against a request in flight).
  void CutExchange(RequestHandle handle) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = exchanges_.find(handle);
    if (it != exchanges_.end()) it->second->Stop();
  }

  // The request timeout: the caller already has its error; the hung exchange is cut (its
  // client's socket shut down, so the thread in it returns), the server is told to stop, and a
  // late answer, if any, is dropped by the correlator.
  void CancelOverdue() {
    // Calls waiting for their agent's input longer than the request timeout end the same way (an
    // agent that went away without cancelling must not leave its call here for good).
    std::vector<std::shared_ptr<ModernCall>> waiting;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [handle, call] : flows_) waiting.push_back(call);
    }
    const auto started_before = std::chrono::steady_clock::now() - std::chrono::milliseconds(options_.request_timeout_ms);
    for (auto& call : waiting) {
      if (call->WaitingSince(started_before)) {
        call->Abandon(mcp::kRequestTimeout, "the agent did not answer the upstream's input requests within the "
                                            "upstream request timeout; the call did not complete");
      }
    }
    for (const Correlator::Overdue& overdue : correlator_.FailOverdue(std::chrono::steady_clock::now())) {
      log::Warn("upstream request timed out; cancelled",
                {{"transport", "http"}, {"request_id", overdue.wire_id}, {"timeout_ms", options_.request_timeout_ms}});
      CutExchange(overdue.handle);
      Notify(mcp::MakeNotification("notifications/cancelled",
                                   {{"requestId", overdue.wire_id}, {"reason", correlator_.TimeoutMessage()}}));
    }
  }

  void Notify(const Json& notification) override {
    Enqueue([this, notification](HttpConnection& conn) { Post(conn, notification, 0, true); });
  }
  void Respond(const Json& response) override {
    if (!IsModern()) {
      Notify(response);
      return;
    }
    // A modern upstream sends no requests of its own: an answer is for one of the input requests
    // this upstream made out of an input_required result.
    std::shared_ptr<ModernCall> call;
    std::string key;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = inputs_.find(DumpJson(response.value("id", Json())));
      if (it == inputs_.end()) return;  // the call is over (finished, cancelled)
      call = it->second.call;
      key = it->second.key;
      inputs_.erase(it);
    }
    call->Answer(key, response);
  }

  void SetUnsolicitedHandler(std::function<void(const Json&)> handler) override {
    correlator_.SetUnsolicitedHandler(std::move(handler));
  }

 private:
  // One request forwarded to a modern upstream, through all its input_required rounds: it stands
  // between the correlator and the caller's handler. Thread-safe; never calls out with mu_ held.
  // Lock order: the upstream's mu_ before a call's own mu_ (TrackFlow); never the reverse.
  class ModernCall final : public ReplyHandler, public std::enable_shared_from_this<ModernCall> {
   public:
    ModernCall(HttpUpstream* up, Json request, std::shared_ptr<ReplyHandler> inner)
        : up_(up), request_(std::move(request)), inner_(std::move(inner)) {}

    void OnRelated(const Json& message) override { inner_->OnRelated(message); }
    std::string Owner() const override { return inner_->Owner(); }

    void OnResponse(const Json& response) override {
      {
        std::lock_guard<std::mutex> lock(mu_);
        leg_ = 0;
      }
      if (!response.contains("result")) return Finish(response);
      switch (ClassifyResult(response["result"])) {
        case ResultKind::kComplete: {
          Json out = response;
          out["result"] = StripModernResultFields(response["result"]);
          return Finish(out);
        }
        case ResultKind::kUnsupported:
          return Fail(mcp::kInternalError,
                      "upstream answered " + request_.value("method", std::string("the request")) +
                          " with resultType " + DumpJson(response["result"]["resultType"]) +
                          ", which holdgate does not handle (it does not consume upstream tasks)");
        case ResultKind::kInputRequired:
          return StartRound(response["result"]);
      }
    }

    // The agent's answer to input request `key` (a JSON-RPC response with the id it was sent with).
    // The last answer of a round sends the request again with every answer and the requestState.
    void Answer(const std::string& key, const Json& response) {
      Json retry;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (done_ || !pending_.count(key)) return;
        pending_ids_.erase(DumpJson(response.value("id", Json())));
        if (response.contains("result")) {
          answers_[key] = response["result"];
          pending_.erase(key);
          if (!pending_.empty()) return;
          retry = RetryRequest();
        }
      }
      if (retry.is_null()) {
        const Json error = response.value("error", Json::object());
        return Fail(mcp::kInternalError, "the agent did not answer the upstream's input request \"" + key +
                                             "\": " + error.value("message", std::string("an error")));
      }
      up_->SendLeg(shared_from_this(), retry);
    }

    // Ends the call with an error unless it is over (cancel while waiting for the agent, stop).
    void Abandon(int code, const std::string& message) { Fail(code, message); }

    void SetLeg(RequestHandle handle) {
      std::lock_guard<std::mutex> lock(mu_);
      if (first_ == 0) first_ = handle;
      leg_ = handle;
    }
    RequestHandle leg() const {
      std::lock_guard<std::mutex> lock(mu_);
      return leg_;
    }
    bool finished() const {
      std::lock_guard<std::mutex> lock(mu_);
      return done_;
    }
    // True while the call waits for the agent's answers and has since before `deadline_start`.
    bool WaitingSince(std::chrono::steady_clock::time_point deadline_start) const {
      std::lock_guard<std::mutex> lock(mu_);
      return !done_ && leg_ == 0 && waiting_since_ <= deadline_start;
    }

   private:
    // REQUIRES: mu_ held. The request as the caller sent it, plus this round's answers and the
    // requestState exactly as the upstream sent it.
    Json RetryRequest() const {
      Json retry = request_;
      if (!retry.contains("params") || !retry["params"].is_object()) retry["params"] = Json::object();
      if (!answers_.empty()) retry["params"]["inputResponses"] = answers_;
      else retry["params"].erase("inputResponses");
      if (!request_state_.is_null()) retry["params"]["requestState"] = request_state_;
      else retry["params"].erase("requestState");
      return retry;
    }

    // An input_required result: its input requests go to the agent as server->client requests.
    void StartRound(const Json& result) {
      const Json inputs = result.value("inputRequests", Json::object());
      const bool has_state = result.contains("requestState") && !result["requestState"].is_null();
      if (!inputs.is_object() || (inputs.empty() && !has_state)) {
        return Fail(mcp::kInternalError, "upstream sent an input_required result without inputRequests or requestState");
      }
      for (const auto& [key, entry] : inputs.items()) {
        const std::string method = entry.is_object() ? entry.value("method", "") : "";
        if (method != "elicitation/create" && method != "sampling/createMessage" && method != "roots/list") {
          return Fail(mcp::kInternalError, "upstream asked for input \"" + key + "\" with " +
                                               (method.empty() ? std::string("no method") : "method " + method) +
                                               " (expected elicitation/create, sampling/createMessage or roots/list)");
        }
      }
      bool over_cap = false;
      std::vector<Json> requests;
      std::vector<std::string> keys;
      Json retry;
      RequestHandle first;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (done_) return;
        over_cap = ++rounds_ > kMaxInputRounds;
      }
      if (over_cap) {
        return Fail(mcp::kInternalError, "upstream asked for input more than " + std::to_string(kMaxInputRounds) +
                                             " rounds for one request; holdgate gave up");
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (done_) return;
        request_state_ = has_state ? result["requestState"] : Json();
        waiting_since_ = std::chrono::steady_clock::now();
        answers_ = Json::object();
        pending_.clear();
        pending_ids_.clear();
        first = first_;
        for (const auto& [key, entry] : inputs.items()) {
          Json id = "hg-input-" + std::to_string(up_->NextInputId()) + "-" + key;
          pending_.insert(key);
          pending_ids_.insert(DumpJson(id));
          keys.push_back(key);
          Json request = {{"jsonrpc", "2.0"}, {"id", id}, {"method", entry["method"]}};
          if (entry.contains("params") && entry["params"].is_object()) request["params"] = entry["params"];
          requests.push_back(std::move(request));
        }
        if (requests.empty()) retry = RetryRequest();  // a requestState-only round: retry at once
      }
      up_->TrackFlow(first, shared_from_this(), requests, keys);
      if (!retry.is_null()) {
        up_->SendLeg(shared_from_this(), retry);
        return;
      }
      for (const Json& request : requests) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (done_) return;  // an earlier input request was refused
        }
        inner_->OnRelated(request);
      }
    }
    void Fail(int code, const std::string& message) {
      Finish(mcp::MakeError(request_.value("id", Json()), code, message));
    }
    // Hands the final response to the caller's handler, once.
    void Finish(const Json& response) {
      std::vector<std::string> stale;
      RequestHandle first;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (done_) return;
        done_ = true;
        stale.assign(pending_ids_.begin(), pending_ids_.end());
        pending_.clear();
        pending_ids_.clear();
        first = first_;
      }
      up_->ForgetFlow(first, stale);
      inner_->OnResponse(response);
    }

    HttpUpstream* const up_;  // outlives the call: calls end (FailAll, Abandon) in Stop()
    const Json request_;      // as the caller sent it (its own id and progress token)
    const std::shared_ptr<ReplyHandler> inner_;
    mutable std::mutex mu_;
    bool done_ = false;                          // guarded by mu_
    RequestHandle first_ = 0;                    // guarded by mu_: the handle Send returned
    RequestHandle leg_ = 0;                      // guarded by mu_: the leg in flight, 0 while waiting
    int rounds_ = 0;                             // guarded by mu_
    std::chrono::steady_clock::time_point waiting_since_;  // guarded by mu_: the current round began
    Json request_state_;                         // guarded by mu_: as received; null when none
    Json answers_ = Json::object();              // guarded by mu_: key -> the agent's result
    std::set<std::string> pending_;              // guarded by mu_: keys not answered yet
    std::set<std::string> pending_ids_;          // guarded by mu_: their ids (DumpJson)
    friend class HttpUpstream;
  };

  struct PendingInput {
    std::shared_ptr<ModernCall> call;
    std::string key;
  };

  bool IsModern() const {
    std::lock_guard<std::mutex> lock(mu_);
    return modern_;
  }

  // Methods the 2026-07-28 revision removed, answered here for a caller that speaks 2025. Returns
  // the handle, or nothing when the request goes upstream.
  std::optional<RequestHandle> AnswerLocally(const Json& request, const std::shared_ptr<ReplyHandler>& handler) {
    const std::string method = request.value("method", "");
    Json answer;
    if (method == "ping") {
      answer = Json::object();
    } else if (method == "logging/setLevel") {
      std::lock_guard<std::mutex> lock(mu_);
      log_level_ = request.value("params", Json::object()).value("level", "");
      answer = Json::object();
    } else if (method == "resources/subscribe" || method == "resources/unsubscribe") {
      // The revision subscribes on the subscriptions/listen stream: change its filter.
      const Json uri = request.value("params", Json::object()).value("uri", Json());
      if (!uri.is_string()) {
        Correlator::Registered reg = correlator_.Register(request, handler);
        correlator_.Fail(reg.handle, mcp::kInvalidParams, method + " needs params.uri");
        return reg.handle;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (method == "resources/subscribe") resource_subscriptions_.insert(uri.get<std::string>());
        else resource_subscriptions_.erase(uri.get<std::string>());
      }
      RestartListen();
      answer = Json::object();
    } else {
      return std::nullopt;
    }
    Correlator::Registered reg = correlator_.Register(request, handler);
    correlator_.Route(mcp::MakeResult(reg.wire["id"], std::move(answer)), reg.handle);
    return reg.handle;
  }

  // Sends one leg of a modern call (the first, or a retry with input responses) from a worker.
  RequestHandle SendLeg(const std::shared_ptr<ModernCall>& call, const Json& request) {
    Correlator::Registered reg = correlator_.Register(request, call);
    const RequestHandle handle = reg.handle;
    call->SetLeg(handle);
    if (!Enqueue([this, reg = std::move(reg)](HttpConnection& conn) { Post(conn, reg.wire, reg.handle, true); })) {
      correlator_.Fail(handle, mcp::kConnectionClosed, "the upstream session has ended");
    }
    return handle;
  }

  // Removes a finished call's flow entry and its unanswered input requests.
  void ForgetFlow(RequestHandle first, const std::vector<std::string>& input_ids) {
    std::lock_guard<std::mutex> lock(mu_);
    flows_.erase(first);
    for (const std::string& id : input_ids) inputs_.erase(id);
  }

  // Records a call entering an input round (Cancel finds it by the handle Send returned) and the
  // ids of its input requests (Respond finds the call by them).
  void TrackFlow(RequestHandle first, const std::shared_ptr<ModernCall>& call, const std::vector<Json>& requests,
                 const std::vector<std::string>& keys) {
    std::lock_guard<std::mutex> lock(mu_);
    if (call->finished()) return;  // ended (cancel, stop) while its round was being set up
    flows_[first] = call;
    for (size_t i = 0; i < requests.size(); ++i) inputs_[DumpJson(requests[i]["id"])] = PendingInput{call, keys[i]};
  }
  uint64_t NextInputId() { return ++next_input_id_; }

  std::string modern_version() const {
    std::lock_guard<std::mutex> lock(mu_);
    return modern_version_;
  }

  std::string session_id() const {
    std::lock_guard<std::mutex> lock(mu_);
    return session_id_;
  }

  // The client info and capabilities a modern request's envelope carries.
  Json EnvelopeClientInfo() const {
    return options_.client_info.is_object() ? options_.client_info : Json{{"name", "holdgate"}, {"version", "0.1.0"}};
  }

  // One server/discover exchange asking for `version`, on a client of its own (nothing else may go
  // out before the era is known).
  ProbeOutcome ProbeOnce(const std::string& version) {
    ProbeOutcome out;
    Json probe = WithEnvelope(mcp::MakeRequest("server-discover-probe-" + std::to_string(++probes_), "server/discover",
                                               Json::object()),
                              version, EnvelopeClientInfo(), UpstreamClientCapabilities(options_.client_capabilities), "");
    httplib::Client cli(endpoint_.origin);
    cli.set_connection_timeout(10, 0);
    cli.set_read_timeout(kInitializeTimeoutMs / 1000, 0);
    httplib::Headers headers = {{"Accept", "application/json, text/event-stream"}};
    for (auto& [name, value] : ModernHeaders(probe, version)) headers.emplace(name, value);
    auto res = cli.Post(endpoint_.path, headers, DumpJson(probe), "application/json");
    if (!res) {
      out.kind = ProbeOutcome::Kind::kNetworkError;
      out.detail = httplib::to_string(res.error());
      return out;
    }
    if (res->status < 200 || res->status >= 300) {
      out.kind = ProbeOutcome::Kind::kHttpError;
      out.http_status = res->status;
      out.body = res->body.substr(0, 4096);
      return out;
    }
    // The reply to the probe: the JSON body, or the first response on the SSE stream.
    Json reply;
    const std::string type = res->get_header_value("Content-Type");
    if (type.rfind("text/event-stream", 0) == 0) {
      transport::SseParser parser([&](const transport::SseEvent& ev) {
        Result<Json> msg = ParseJson(ev.data);
        if (reply.is_null() && msg.ok() && msg.value().is_object() && msg.value().value("id", Json()) == probe["id"]) {
          reply = msg.value();
        }
      });
      parser.Feed(res->body);
    } else if (Result<Json> body = ParseJson(res->body); body.ok()) {
      reply = body.value();
    }
    if (!reply.is_object() || (!reply.contains("result") && !reply.contains("error"))) {
      out.kind = ProbeOutcome::Kind::kUnusable;
      out.detail = "HTTP " + std::to_string(res->status) + " " + type + ": " + res->body.substr(0, 300);
      return out;
    }
    if (reply.contains("error")) {
      const Json e = reply["error"].is_object() ? reply["error"] : Json::object();
      out.kind = ProbeOutcome::Kind::kRpcError;
      out.code = e.value("code", Json(0)).is_number_integer() ? e["code"].get<int>() : 0;
      out.message = e.value("message", Json("")).is_string() ? e["message"].get<std::string>() : "";
      out.data = e.value("data", Json());
      return out;
    }
    out.kind = ProbeOutcome::Kind::kResult;
    out.result = reply["result"];
    return out;
  }

  // Decides the era: true = modern (state set), false = fall back to initialize.
  Result<bool> NegotiateEra() {
    std::string requested = mcp::SupportedModernVersions().front();
    bool corrective_used = false;
    while (true) {
      ProbeVerdict verdict = ClassifyProbe(ProbeOnce(requested), requested);
      switch (verdict.kind) {
        case ProbeVerdict::Kind::kModern: {
          std::lock_guard<std::mutex> lock(mu_);
          modern_ = true;
          modern_version_ = verdict.version;
          initialize_result_ = SynthesizeInitializeResult(verdict.discover, verdict.version);
          return true;
        }
        case ProbeVerdict::Kind::kCorrective:
          if (corrective_used) {
            return Unavailable("upstream refused server/discover twice with -32022 (last offered " + verdict.version + ")");
          }
          corrective_used = true;
          requested = verdict.version;
          continue;
        case ProbeVerdict::Kind::kLegacy:
          return false;
        case ProbeVerdict::Kind::kError:
          return Unavailable(verdict.error);
      }
    }
  }

  Status Handshake() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      session_id_.clear();
      started_ = true;
    }
    Result<bool> modern = NegotiateEra();
    if (!modern.ok()) return modern.status();
    if (modern.value()) {
      Json init = InitializeResult();
      log::Info("upstream ready", {{"transport", "http"}, {"url", options_.url}, {"era", "modern"},
                                   {"protocol_version", init.value("protocolVersion", "")},
                                   {"server", init.value("serverInfo", Json())}});
      return Status::Ok();
    }
    auto send = [this](const Json& req, std::shared_ptr<ReplyHandler> h) { Send(req, std::move(h)); };
    Result<Json> init = Initialize(send, options_, kInitializeTimeoutMs);
    if (!init.ok()) return init.status();
    {
      std::lock_guard<std::mutex> lock(mu_);
      initialize_result_ = init.value();
      protocol_version_ = init.value().value("protocolVersion", "");
    }
    // Sent before anything else may go out: a request racing ahead of it would be refused.
    HttpConnection conn(HttpConnectionOptions{endpoint_.origin, 10'000, 30'000, 30'000});
    Post(conn, mcp::MakeNotification("notifications/initialized", nullptr), 0, false);
    log::Info("upstream ready", {{"transport", "http"}, {"url", options_.url}, {"era", "legacy"},
                                 {"server", init.value().value("serverInfo", Json())}});
    return Status::Ok();
  }

  // Queues `job` for a worker. False once stopping (no worker would ever run it).
  bool Enqueue(std::function<void(HttpConnection&)> job) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    jobs_.push_back(std::move(job));
    if (idle_workers_ == 0 && workers_.size() < kMaxWorkers && !stopping_) {
      workers_.emplace_back([this] { Work(); });
    } else {
      work_cv_.notify_one();
    }
    return true;
  }

  HttpConnectionOptions ConnectionOptions() const {
    HttpConnectionOptions o;
    o.origin = endpoint_.origin;
    o.connect_timeout_ms = 10'000;
    o.read_timeout_ms = 1000 * (options_.request_timeout_ms > 0 ? options_.request_timeout_ms / 1000 + 30
                                                                : static_cast<int64_t>(kStreamReadTimeoutSec));
    o.write_timeout_ms = 30'000;
    return o;
  }

  // The calling thread's own keep-alive connection to this upstream's origin (created on first
  // use, freed when the thread ends), registered in active_clients_ so Stop() can interrupt it;
  // the caller unregisters it when its exchange is done. nullptr once stopping. Keyed by origin
  // and timeout, not by instance: with a session per agent, upstreams come and go, and a
  // connection per instance would pile up (with its socket) in every thread that ever served one.
  // The thread runs one exchange at a time, so instances on one origin can take turns with one
  // connection; the session travels in each request's headers.
  HttpConnection* CallerConnection() {
    thread_local std::map<std::string, std::unique_ptr<HttpConnection>> connections;
    auto& slot = connections[connection_key_];
    if (!slot) slot = std::make_unique<HttpConnection>(ConnectionOptions());
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return nullptr;
    active_clients_.insert(slot.get());
    return slot.get();
  }

  void Work() {
    HttpConnection conn(ConnectionOptions());
    std::unique_lock<std::mutex> lock(mu_);
    active_clients_.insert(&conn);
    while (true) {
      ++idle_workers_;
      work_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      --idle_workers_;
      if (stopping_) break;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job(conn);
      lock.lock();
    }
    active_clients_.erase(&conn);
  }

  // Accept (`accept`), and the session's id and protocol version once known; `session` gets the
  // id sent ("" before there is one).
  HttpHeaders BaseHeaders(const char* accept, std::string* session = nullptr) const {
    HttpHeaders h = {{"Accept", accept}};
    std::lock_guard<std::mutex> lock(mu_);
    if (session != nullptr) *session = session_id_;
    if (!session_id_.empty()) h.emplace_back("Mcp-Session-Id", session_id_);
    if (!protocol_version_.empty()) h.emplace_back("MCP-Protocol-Version", protocol_version_);
    return h;
  }

  // POSTs one message. For a request (handle != 0) the reply is routed through the correlator,
  // and the exchange is registered so that the request timeout can cut it.
  void Post(HttpConnection& conn, const Json& message, RequestHandle handle, bool may_reinitialize) {
    struct Registration {
      HttpUpstream* self;
      RequestHandle handle;
      Registration(HttpUpstream* s, RequestHandle h, HttpConnection* c) : self(s), handle(h) {
        if (!handle) return;
        std::lock_guard<std::mutex> lock(self->mu_);
        self->exchanges_[handle] = c;
      }
      ~Registration() {
        if (!handle) return;
        std::lock_guard<std::mutex> lock(self->mu_);
        self->exchanges_.erase(handle);
      }
    } registration(this, handle, &conn);
    std::string sent_session, version, log_level;
    HttpHeaders headers = BaseHeaders("application/json, text/event-stream", &sent_session);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (modern_) {
        version = modern_version_;
        log_level = log_level_;
      }
    }
    std::string request_body;
    if (!version.empty() && message.contains("method")) {
      // The agent's own identity and capabilities (never its credentials) on every message.
      Json wire = WithEnvelope(message, version, EnvelopeClientInfo(),
                               UpstreamClientCapabilities(options_.client_capabilities), log_level);
      for (auto& [name, value] : ModernHeaders(wire, version)) headers.emplace_back(name, value);
      request_body = DumpJson(wire);
    } else {
      request_body = DumpJson(message);
    }
    headers.emplace_back("Content-Type", "application/json");
    // W3C trace context of the call (holdgate's hop) also as the traceparent header.
    if (std::string tp = mcp::MetaTraceparent(message); !tp.empty()) headers.emplace_back("traceparent", tp);
    // A name or value that could end the header line early is not sent (as httplib did).
    std::erase_if(headers, [](const auto& h) {
      return h.first.find_first_of("\r\n") != std::string::npos || h.second.find_first_of("\r\n") != std::string::npos;
    });
    std::string content_type;
    int status = 0;
    auto on_head = [&](const HttpResponseHead& r) {
      status = r.status;
      content_type = r.Header("Content-Type");
      std::string sid = r.Header("Mcp-Session-Id");
      if (!sid.empty() && message.value("method", "") == "initialize") {
        std::lock_guard<std::mutex> lock(mu_);
        session_id_ = sid;
      }
      return true;
    };
    std::string body;
    transport::SseParser parser([&](const transport::SseEvent& ev) {
      if (ev.data.empty()) return;  // priming event
      mcp::Message msg;
      if (mcp::ParseMessage(ev.data, &msg).ok()) correlator_.Route(std::move(msg.json), handle);
    });
    auto on_body = [&](std::string_view data) {
      if (status >= 200 && status < 300 && content_type.rfind("text/event-stream", 0) == 0) {
        parser.Feed(data);
      } else if (body.size() < (16u << 20)) {
        body.append(data);
      }
      return true;
    };
    Status sent = conn.Post(endpoint_.path, headers, request_body, on_head, on_body);
    if (!sent.ok()) {
      if (handle) {
        correlator_.Fail(handle, mcp::kConnectionClosed, "upstream MCP server unreachable: " + sent.message());
      }
      return;
    }
    if (status == 404 && may_reinitialize && message.value("method", "") != "initialize" &&
        !session_id().empty()) {
      // The upstream forgot our session (it restarted): initialize again, then retry once.
      log::Warn("upstream session expired; re-initializing", {{"url", options_.url}});
      std::lock_guard<std::mutex> guard(reinit_mu_);
      if (ReinitializeIfStale(sent_session).ok()) {
        Post(conn, message, handle, false);
        return;
      }
    }
    if (status >= 200 && status < 300 && content_type.rfind("application/json", 0) == 0 && !body.empty()) {
      mcp::Message msg;
      if (mcp::ParseMessage(body, &msg).ok()) correlator_.Route(std::move(msg.json), handle);
      else if (handle) correlator_.Fail(handle, mcp::kInternalError, "upstream sent malformed JSON");
      return;
    }
    if (handle && !version.empty() && status >= 400 && status < 500) {
      // A 2026 server answers protocol errors (HeaderMismatch, MissingRequiredClientCapability,
      // invalid params, …) with HTTP 400 and the JSON-RPC error as the body: hand that on as is.
      Result<Json> parsed = ParseJson(body);
      if (parsed.ok() && parsed.value().is_object() && parsed.value().value("error", Json()).is_object() &&
          parsed.value().value("id", Json()) == message.value("id", Json())) {
        correlator_.Route(std::move(parsed).value(), handle);
        return;
      }
    }
    if (handle && (status < 200 || status >= 300)) {
      std::string detail = body.substr(0, 500);
      correlator_.Fail(handle, mcp::kInternalError,
                       "upstream answered HTTP " + std::to_string(status) + (detail.empty() ? "" : ": " + detail));
      return;
    }
    // 2xx stream ended without a response for this request: the upstream dropped it.
    if (handle) correlator_.Fail(handle, mcp::kConnectionClosed, "upstream closed the stream without a response");
  }

  // Runs with reinit_mu_ held: only the first of many concurrent 404s re-initializes.
  Status ReinitializeIfStale(const std::string& stale_session) {
    if (session_id() != stale_session) return Status::Ok();
    Status s = Handshake();
    if (s.ok()) log::Info("upstream session re-established", {});
    return s;
  }

  // REQUIRES: mu_ held. What the subscriptions/listen stream asks for: the list changes the
  // upstream announces it can report, and the resources subscribed to. Empty: nothing to listen to.
  Json ListenFilterLocked() const {
    Json filter = Json::object();
    const Json caps = initialize_result_.value("capabilities", Json::object());
    auto announces = [&](const char* kind) {
      return caps.contains(kind) && caps[kind].is_object() && caps[kind].value("listChanged", false) == true;
    };
    if (announces("tools")) filter["toolsListChanged"] = true;
    if (announces("prompts")) filter["promptsListChanged"] = true;
    if (announces("resources")) filter["resourcesListChanged"] = true;
    if (!resource_subscriptions_.empty()) filter["resourceSubscriptions"] = resource_subscriptions_;
    return filter;
  }

  // Ends the current subscriptions/listen exchange so the next one carries the new filter.
  void RestartListen() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      listen_restart_ = true;
    }
    cv_.notify_all();
    std::lock_guard<std::mutex> lock(get_mu_);
    if (get_client_) get_client_->stop();
  }

  // Modern era: holds a subscriptions/listen request open and hands what arrives on it (list
  // changes, resource updates) to the unsolicited handler, without the listen's own bookkeeping
  // (the acknowledgement, the subscription id in _meta). Reconnects with backoff when the stream
  // ends; restarts at once when the filter changes.
  void RunListen() {
    int64_t backoff_ms = 500;
    uint64_t listens = 0;
    while (true) {
      Json filter;
      std::string version, log_level;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !ListenFilterLocked().empty(); });
        if (stopping_) return;
        filter = ListenFilterLocked();
        version = modern_version_;
        log_level = log_level_;
        listen_restart_ = false;
      }
      httplib::Client cli(endpoint_.origin);
      cli.set_connection_timeout(10, 0);
      cli.set_read_timeout(kStreamReadTimeoutSec, 0);
      {
        std::lock_guard<std::mutex> lock(get_mu_);
        get_client_ = &cli;
      }
      bool skip;
      {
        std::lock_guard<std::mutex> lock(mu_);
        skip = stopping_ || listen_restart_;  // a restart or stop that came before get_client_ was set
      }
      int status = 0;
      bool acknowledged = false;
      if (!skip) {
        Json wire = WithEnvelope(mcp::MakeRequest("hg-listen-" + std::to_string(++listens), "subscriptions/listen",
                                                  {{"notifications", filter}}),
                                 version, EnvelopeClientInfo(), UpstreamClientCapabilities(options_.client_capabilities),
                                 log_level);
        httplib::Request req;
        req.method = "POST";
        req.path = endpoint_.path;
        req.headers = {{"Accept", "text/event-stream, application/json"}};
        for (auto& [name, value] : ModernHeaders(wire, version)) req.set_header(name, value);
        req.set_header("Content-Type", "application/json");
        req.body = DumpJson(wire);
        transport::SseParser parser([&](const transport::SseEvent& ev) {
          Result<Json> msg = ParseJson(ev.data);
          if (!msg.ok() || !msg.value().is_object() || !msg.value().contains("method")) return;
          Json message = msg.value();
          if (message["method"] == "notifications/subscriptions/acknowledged") {
            acknowledged = true;
            return;
          }
          if (message.contains("params") && message["params"].is_object() && message["params"].contains("_meta") &&
              message["params"]["_meta"].is_object()) {
            message["params"]["_meta"].erase("io.modelcontextprotocol/subscriptionId");
            if (message["params"]["_meta"].empty()) message["params"].erase("_meta");
            if (message["params"].empty()) message.erase("params");
          }
          correlator_.Route(message, 0);
        });
        std::string content_type;
        req.response_handler = [&](const httplib::Response& r) {
          status = r.status;
          content_type = r.get_header_value("Content-Type");
          return true;
        };
        req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
          if (status == 200 && content_type.rfind("text/event-stream", 0) == 0) parser.Feed(std::string_view(data, n));
          return true;
        };
        cli.send(req);
      }
      {
        std::lock_guard<std::mutex> lock(get_mu_);
        get_client_ = nullptr;
      }
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
      if (listen_restart_) {
        backoff_ms = 500;
        continue;
      }
      if (status >= 400 && status < 500) {
        // Refused (no subscriptions/listen, a filter it does not accept): not again until the
        // filter changes.
        log::Warn("upstream refused subscriptions/listen", {{"status", status}, {"filter", filter}});
        cv_.wait(lock, [&] { return stopping_ || listen_restart_; });
        continue;
      }
      if (cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_ || listen_restart_; })) {
        if (stopping_) return;
        continue;
      }
      backoff_ms = acknowledged ? 500 : std::min<int64_t>(backoff_ms * 2, 30000);
    }
  }

  void RunGetStream() {
    int64_t backoff_ms = 500;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (stopping_) return;
      }
      httplib::Client cli(endpoint_.origin);
      cli.set_connection_timeout(10, 0);
      cli.set_read_timeout(kStreamReadTimeoutSec, 0);
      {
        std::lock_guard<std::mutex> lock(get_mu_);
        get_client_ = &cli;
      }
      int status = 0;
      transport::SseParser parser([&](const transport::SseEvent& ev) {
        if (ev.data.empty()) return;
        mcp::Message msg;
        if (mcp::ParseMessage(ev.data, &msg).ok()) correlator_.Route(std::move(msg.json), 0);
      });
      const HttpHeaders base = BaseHeaders("text/event-stream");
      const httplib::Headers headers(base.begin(), base.end());
      auto res = cli.Get(endpoint_.path.c_str(), headers,
                         [&](const httplib::Response& r) {
                           status = r.status;
                           return r.status == 200;
                         },
                         [&](const char* data, size_t n) {
                           parser.Feed(std::string_view(data, n));
                           return true;
                         });
      {
        std::lock_guard<std::mutex> lock(get_mu_);
        get_client_ = nullptr;
      }
      if (status == 405) {
        log::Info("upstream offers no GET stream", {});
        return;
      }
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; })) return;
      backoff_ms = res && status == 200 ? 500 : std::min<int64_t>(backoff_ms * 2, 30000);
    }
  }

  const Options options_;
  Endpoint endpoint_;
  std::string connection_key_;  // CallerConnection's: origin and request timeout; set by Start
  Correlator correlator_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable work_cv_;
  bool stopping_ = false;                                  // guarded by mu_
  bool started_ = false;                                   // guarded by mu_
  std::string session_id_;                                 // guarded by mu_
  std::string protocol_version_;                           // guarded by mu_; legacy era only
  bool modern_ = false;                                    // guarded by mu_; set by the handshake
  std::string modern_version_;                             // guarded by mu_
  std::string log_level_;                                  // guarded by mu_; from logging/setLevel
  std::set<std::string> resource_subscriptions_;           // guarded by mu_; modern: on the listen stream
  bool listen_restart_ = false;                            // guarded by mu_; the listen filter changed
  std::map<RequestHandle, std::shared_ptr<ModernCall>> flows_;  // guarded by mu_; calls in input rounds
  std::map<std::string, PendingInput> inputs_;             // guarded by mu_; DumpJson(input id) -> call
  std::atomic<uint64_t> next_input_id_{0};
  std::atomic<uint64_t> probes_{0};
  Json initialize_result_;                                 // guarded by mu_
  std::deque<std::function<void(HttpConnection&)>> jobs_;  // guarded by mu_
  std::vector<std::thread> workers_;                       // guarded by mu_
  std::unordered_set<HttpConnection*> active_clients_;     // guarded by mu_
  std::map<RequestHandle, HttpConnection*> exchanges_;     // guarded by mu_; requests being POSTed
  size_t idle_workers_ = 0;                                // guarded by mu_

  std::mutex reinit_mu_;
  std::mutex get_mu_;
  httplib::Client* get_client_ = nullptr;                  // guarded by get_mu_
  std::thread get_stream_;
  PeriodicThread watchdog_;  // request timeouts (CancelOverdue); stopped first in Stop()
};

}  // namespace

std::unique_ptr<Upstream> MakeHttpUpstream(const Options& options) {
  return std::make_unique<HttpUpstream>(options);
}

}  // namespace holdgate::upstream
