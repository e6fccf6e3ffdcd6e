#include "gateway/gateway.h"

#include <array>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/crypto.h"
#include "common/log.h"
#include "common/trace.h"
#include "gateway/agent_messages.h"
#include "gateway/held_call.h"
#include "gateway/hold_store.h"
#include "gateway/task_table.h"
#include "gateway/release_batcher.h"
#include "gateway/work_queue.h"
#include "gateway/method_guard.h"
#include "gateway/modern.h"
#include "hold/hold_coordinator.h"
#include "mcp/era.h"
#include "mcp/jsonrpc.h"
#include "policy/policy.h"
#include "policy/rate_limiter.h"
#include "common/metrics.h"
#include "store/store.h"
#include "upstream/session_pool.h"
#include "upstream/upstream.h"

namespace holdgate::gateway {
namespace {

using transport::ClientStream;
using transport::Session;
using UpstreamPtr = std::shared_ptr<upstream::Upstream>;

// Key of one agent request: its session and its JSON-RPC id.
std::string RequestKey(const Session& session, const Json& id) {
  return session.id() + '\x1f' + DumpJson(id);
}

// A reply holdgate made up because the upstream failed (crashed, unreachable, bad HTTP answer),
// as opposed to an error the upstream itself returned.
bool IsUpstreamFailure(const Json& response) {
  auto e = response.find("error");
  if (e == response.end() || !e->is_object()) return false;
  int code = e->value("code", 0);
  return code == mcp::kConnectionClosed ||
         (code == mcp::kInternalError && e->value("message", "").rfind("upstream", 0) == 0);
}

// The client capability a server->client request needs, or "" when none.
std::string RequiredClientCapability(const std::string& method) {
  if (method == "sampling/createMessage") return "sampling";
  if (method == "elicitation/create") return "elicitation";
  if (method == "roots/list") return "roots";
  return "";
}

// A held call's agent reply over a transport stream.
class StreamReply final : public HeldCallReply {
 public:
  explicit StreamReply(std::shared_ptr<ClientStream> stream) : stream_(std::move(stream)) {}
  void Progress(const Json& notification) override { stream_->SendRelated(notification); }
  void Answer(const Json& response) override { stream_->Finish(response); }
  void Drop() override { stream_->Close(); }

 private:
  std::shared_ptr<ClientStream> stream_;
};

// The session_id of a 2026 task's approval starts with this (see Gateway::Impl::ResumeTasks).
constexpr char kTaskSessionPrefix[] = "mcp-task:";

// A 2026-07-28 request (its session is the request's own, see transport/session.h).
bool IsModern(const Session& session) { return mcp::IsModernProtocolVersion(session.protocol_version()); }

// The reply channel of a 2026-07-28 request. The final response is shaped for the revision
// (resultType, cache fields; mcp::ShapeModernResponse) and carries the id of the agent request it
// answers. A 2026 agent cannot be sent a server->client request: one that arrives goes to the
// input hook, which answers the agent with "input_required" (Suspend); the agent's retry takes the
// rest of the reply (Attach), so one upstream call may be answered across several agent requests.
class ModernStream final : public ClientStream, public std::enable_shared_from_this<ModernStream> {
 public:
  // Called (outside any lock) with a server->client request meant for the agent.
  using InputHook = std::function<void(const std::shared_ptr<ModernStream>&, const Json& request)>;

  ModernStream(std::shared_ptr<ClientStream> inner, std::string method, Json agent_id)
      : method_(std::move(method)), inner_(std::move(inner)), agent_id_(std::move(agent_id)) {}
  void SetInputHook(InputHook hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }

  void SendRelated(const Json& message) override {
    InputHook hook;
    std::shared_ptr<ClientStream> inner;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_) return;
      if (!inner_) {  // between two agent requests: kept for the next one
        pending_.push_back(message);
        return;
      }
      if (message.contains("id") && message.contains("method")) hook = hook_;
      inner = inner_;
    }
    if (hook) return hook(shared_from_this(), message);
    inner->SendRelated(message);
  }
  void Finish(const Json& response) override {
    Json shaped = response;
    mcp::ShapeModernResponse(method_, &shaped);
    std::shared_ptr<ClientStream> inner;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_) return;
      done_ = true;
      if (shaped.contains("id")) shaped["id"] = agent_id_;
      if (!inner_) {
        final_ = std::move(shaped);
        return;
      }
      inner = inner_;
    }
    inner->Finish(shaped);
  }
  void Close() override {
    std::shared_ptr<ClientStream> inner;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      inner = inner_;
    }
    if (inner) inner->Close();
  }
  bool finished() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  void SetGoneCallback(std::function<void()> on_gone) override {
    std::shared_ptr<ClientStream> inner;
    {
      std::lock_guard<std::mutex> lock(mu_);
      inner = inner_;
    }
    if (inner) inner->SetGoneCallback(std::move(on_gone));
  }
  bool CallerWaitsForReply() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return inner_ && inner_->CallerWaitsForReply();
  }
  void CloseConnectionAfterReply() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (inner_) inner_->CloseConnectionAfterReply();
  }

  // Answers the current agent request with `result` (an input_required result) and keeps what
  // follows until Attach. False when the reply already ended.
  bool Suspend(Json result) {
    std::shared_ptr<ClientStream> inner;
    Json id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_ || !inner_) return false;
      inner = std::move(inner_);
      inner_ = nullptr;
      id = agent_id_;
    }
    result["resultType"] = "input_required";
    inner->Finish(mcp::MakeResult(id, std::move(result)));
    return true;
  }
  // The agent's retry (request `agent_id`, reply `next`) takes the rest of the reply.
  void Attach(std::shared_ptr<ClientStream> next, Json agent_id) {
    std::vector<Json> pending;
    Json final_response;
    {
      std::lock_guard<std::mutex> lock(mu_);
      inner_ = next;
      agent_id_ = std::move(agent_id);
      pending.swap(pending_);
      final_response = std::move(final_);
      final_ = nullptr;
      if (final_response.is_object()) final_response["id"] = agent_id_;
    }
    for (const auto& m : pending) SendRelated(m);
    if (final_response.is_object()) next->Finish(final_response);
  }

 private:
  const std::string method_;
  mutable std::mutex mu_;
  std::shared_ptr<ClientStream> inner_;  // guarded by mu_: the agent request now answered; null while suspended
  Json agent_id_;                        // guarded by mu_: that request's id
  InputHook hook_;                       // guarded by mu_
  std::vector<Json> pending_;            // guarded by mu_: related messages while suspended
  Json final_;                           // guarded by mu_: the response, when it came while suspended
  bool done_ = false;                    // guarded by mu_
};

// Where a task's released call answers: nobody waits on it (the outcome is read from the approval
// row by tasks/get), so everything is dropped.
class DiscardStream final : public ClientStream {
 public:
  void SendRelated(const Json&) override {}
  void Finish(const Json&) override { finished_.store(true); }
  void Close() override { finished_.store(true); }
  bool finished() const override { return finished_.load(); }
  void SetGoneCallback(std::function<void()>) override {}

 private:
  std::atomic<bool> finished_{false};
};

// The session a task's approved call runs under: the agent that asked is gone (it polls), so it
// declares no capabilities and the upstream's server->client requests are refused at once.
class TaskSession final : public Session {
 public:
  using Session::Session;
  void SendUnsolicited(const Json&) override {}
};

// A held call whose agent polls a task: the answer is only kept (a store failure at Start is the
// one the agent is told directly); the approval row carries the outcome.
class TaskReply final : public HeldCallReply {
 public:
  explicit TaskReply(std::unique_ptr<HoldStore> owned_store = nullptr) : owned_store_(std::move(owned_store)) {}
  void Progress(const Json&) override {}
  void Answer(const Json& response) override {
    std::lock_guard<std::mutex> lock(mu_);
    answer_ = response;
  }
  void Drop() override {}
  Json answer() const {
    std::lock_guard<std::mutex> lock(mu_);
    return answer_;
  }

 private:
  const std::unique_ptr<HoldStore> owned_store_;  // kept alive as long as the call (see AttachHoldStore)
  mutable std::mutex mu_;
  Json answer_;  // guarded by mu_
};

// Attaches a held call to one given approval (a task polled after a restart): FindOrCreate finds
// exactly that approval and never creates one.
class AttachHoldStore final : public HoldStore {
 public:
  AttachHoldStore(HoldStore& inner, std::string approval_id) : inner_(inner), id_(std::move(approval_id)) {}
  Result<FoundOrCreated> FindOrCreate(const store::NewApproval&) override {
    auto found = inner_.Get(id_);
    if (!found.ok()) return found.status();
    return FoundOrCreated{std::move(found).value(), false};
  }
  Result<store::Approval> Get(const std::string& id) override { return inner_.Get(id); }
  Result<store::Approval> MarkExecuting(const std::string& id) override { return inner_.MarkExecuting(id); }
  Result<store::Approval> Complete(const std::string& id, const Json& result, bool failed) override {
    return inner_.Complete(id, result, failed);
  }
  Result<store::Approval> Cancel(const std::string& id, const std::string& why) override { return inner_.Cancel(id, why); }
  Result<store::Approval> MarkAgentLeft(const std::string& id) override { return inner_.MarkAgentLeft(id); }
  void RecordReleaseFailure(const store::Approval& approval, const Status& why) override {
    inner_.RecordReleaseFailure(approval, why);
  }

 private:
  HoldStore& inner_;
  const std::string id_;
};

// Keeps a held call's rate-limit reservation until its approval is decided: a call that is
// rejected, expires, is cancelled or lapses never ran, so it gives its count back.
class ReservationWaiter final : public hold::Waiter {
 public:
  ReservationWaiter(std::string approval_id, policy::RateLimiter& limiter, policy::RateLimiter::Reservation reservation)
      : approval_id_(std::move(approval_id)), limiter_(limiter), reservation_(std::move(reservation)) {}
  const std::string& approval_id() const override { return approval_id_; }
  void OnDecision(const store::Approval& approval) override { Settle(approval.state); }
  void Settle(store::State state) {
    if (settled_.exchange(true)) return;
    if (state == store::State::kRejected || state == store::State::kExpired || state == store::State::kCancelled ||
        state == store::State::kLapsed) {
      limiter_.Rollback(reservation_);
    }
  }

 private:
  const std::string approval_id_;
  policy::RateLimiter& limiter_;
  policy::RateLimiter::Reservation reservation_;
  std::atomic<bool> settled_{false};
};

}  // namespace

class Gateway::Impl {
 public:
  Impl(GatewayOptions options, upstream::Upstream& upstream, store::Store* store,
       hold::HoldCoordinator* holds, policy::RateLimiter* limiter, const Clock& clock)
      : options_(std::move(options)),
        upstream_(upstream),
        shared_(&upstream, [](upstream::Upstream*) {}),
        store_(store),
        holds_(holds),
        limiter_(limiter),
        clock_(clock),
        hold_store_(store ? MakeHoldStore(*store) : nullptr),
        tasks_(clock),
        releases_(hold_store_ ? std::make_unique<ReleaseBatcher>(
                                    *hold_store_, [this](std::function<void()> drain) { PostOrRun(std::move(drain)); })
                              : nullptr),
        work_(options_.decision_threads) {}

  ~Impl() { Shutdown(); }

  // Queues `task` on work_, or runs it here once work_ has stopped: an outcome that arrives while
  // holdgate stops is still recorded and answered.
  void PostOrRun(std::function<void()> task) {
    if (!work_.Post(task)) task();
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  void UsePerAgentSessions(upstream::SessionPool* pool) { pool_ = pool; }

  void Start() {
    upstream_.SetUnsolicitedHandler([this](const Json& m) { OnUpstreamUnsolicited(m); });
    ResumeTasks();
  }

  void Shutdown() {
    std::vector<std::shared_ptr<HeldCall>> open;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shut_down_) return;
      shut_down_ = true;
      for (auto& [k, call] : held_) open.push_back(call);
    }
    for (auto& call : open) call->Shutdown();
    work_.Stop();
  }

  void SetPolicy(std::shared_ptr<const policy::Policy> p) {
    bool had_policy;
    {
      std::lock_guard<std::mutex> lock(policy_mu_);
      had_policy = policy_ != nullptr;
      policy_ = std::move(p);
    }
    if (had_policy) Broadcast(mcp::MakeNotification("notifications/tools/list_changed", nullptr), /*shared_only=*/false);
  }

  std::shared_ptr<const policy::Policy> policy() const {
    std::lock_guard<std::mutex> lock(policy_mu_);
    return policy_;
  }

  size_t open_holds() const {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }

  // ---- agent -> gateway -------------------------------------------------------------------------

  void OnRequest(const std::shared_ptr<Session>& session, const mcp::Message& request,
                 const std::shared_ptr<ClientStream>& stream) {
    if (IsModern(*session)) return ModernRequest(session, request, stream);
    {
      std::lock_guard<std::mutex> lock(mu_);
      sessions_.try_emplace(session->id(), session);
    }
    const std::string method = request.method();
    if (!mcp::IsClientRequestMethod(method)) return RefuseUnknownRequest(store_, *session, request, *stream);
    if (method == "initialize") return Initialize(session, request, stream);
    if (WithoutUpstream(*session)) {
      // Its initialize could not open its own upstream session: serving it from the shared one
      // would show it another client's view.
      return stream->Finish(mcp::MakeError(request.id(), mcp::kInvalidRequest,
                                           "this session has no upstream session (its initialize failed); "
                                           "start a new session"));
    }
    if (method == "ping") return stream->Finish(mcp::MakeResult(request.id(), Json::object()));
    if (method == "tools/call") return ToolsCall(session, request, stream);
    if (method.rfind("tasks/", 0) == 0) return TaskRequest(session, request, stream);
    if (method == "resources/subscribe" || method == "resources/unsubscribe") {
      return Subscription(session, request, stream);
    }
    if (method == "tools/list") {
      auto p = policy();
      return Forward(session, request.json, stream,
                     [this, p, session](Json& response) { FilterToolList(p, response, *session); },
                     /*from_request_thread=*/true);
    }
    Forward(session, request.json, stream, nullptr, /*from_request_thread=*/true);
  }

  void OnMessage(const std::shared_ptr<Session>& session, const mcp::Message& message) {
    if (message.is_response()) return RelayClientResponse(session, message);
    const std::string method = message.method();
    const mcp::NotificationVerdict verdict = mcp::ClassifyClientNotification(method);
    if (verdict != mcp::NotificationVerdict::kAccept) return DropNotification(store_, *session, message, verdict);
    if (method == "notifications/initialized") return;  // we did our own handshake upstream
    if (method == "notifications/cancelled") return ClientCancelled(session, message);
    if (WithoutUpstream(*session)) return;
    UpstreamFor(*session)->Notify(message.json);
  }

  void OnSessionClosed(const std::shared_ptr<Session>& session) {
    UpstreamPtr own;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sessions_.erase(session->id());
      for (auto& [uri, subscribers] : subscriptions_) subscribers.erase(session->id());
      std::erase_if(server_requests_, [&](const auto& kv) { return kv.second.session_id == session->id(); });
      without_upstream_.erase(session->id());
      if (auto it = own_.find(session->id()); it != own_.end()) {
        own = std::move(it->second);
        own_.erase(it);
      }
    }
    // Its upstream session ends too (HTTP DELETE / the child exits), off this thread.
    if (own && pool_) pool_->Close(std::move(own));
  }

 private:
  struct ServerRequest {
    std::string session_id;
    Json upstream_id;
    UpstreamPtr via;  // the upstream session that asked, which gets the answer
    Json agent_id;    // the id the agent sees
  };
  // An upstream call waiting for a 2026 agent's answers (MRTR).
  struct InputWait {
    RequestState state;
    std::shared_ptr<Session> session;  // the request's session (server_requests_ keys)
    std::shared_ptr<ModernStream> stream;
    std::vector<std::pair<std::string, Json>> asked;  // inputRequests key -> the agent-side request id
  };

  // The upstream session that serves `session`: its own (per-agent sessions), else the shared one.
  UpstreamPtr UpstreamFor(const Session& session) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = own_.find(session.id());
    return it != own_.end() ? it->second : shared_;
  }
  // REQUIRES: mu_ held.
  bool UsesSharedLocked(const std::string& session_id) const { return own_.count(session_id) == 0; }
  bool WithoutUpstream(const Session& session) const {
    std::lock_guard<std::mutex> lock(mu_);
    return without_upstream_.count(session.id()) > 0;
  }

  // Relays one upstream reply (and what the upstream says along the way) to an agent stream.
  class ForwardHandler final : public upstream::ReplyHandler {
   public:
    ForwardHandler(Impl* impl, std::shared_ptr<Session> session, UpstreamPtr upstream,
                   std::shared_ptr<ClientStream> stream, std::string key, std::function<void(Json&)> on_response,
                   std::function<void(Json)> deliver)
        : impl_(impl), session_(std::move(session)), upstream_(std::move(upstream)), stream_(std::move(stream)),
          key_(std::move(key)), on_response_(std::move(on_response)), deliver_(std::move(deliver)) {}
    void OnRelated(const Json& message) override { impl_->RelayRelated(session_, upstream_, stream_, message); }
    std::string Owner() const override { return session_->id(); }
    void OnResponse(const Json& response) override {
      impl_->ForgetForwarded(key_);
      if (IsUpstreamFailure(response)) metrics::GlobalMetrics().upstream_errors_total.Inc();
      if (deliver_) {
        deliver_(response);
      } else if (on_response_) {
        Json copy = response;
        on_response_(copy);
        stream_->Finish(copy);
      } else {
        stream_->Finish(response);
      }
    }

   private:
    Impl* impl_;
    std::shared_ptr<Session> session_;
    UpstreamPtr upstream_;  // where the request went: server->client requests are answered there
    std::shared_ptr<ClientStream> stream_;
    std::string key_;
    std::function<void(Json&)> on_response_;
    std::function<void(Json)> deliver_;  // when set, the response goes here instead of the stream
  };

  void Initialize(const std::shared_ptr<Session>& session, const mcp::Message& request,
                  const std::shared_ptr<ClientStream>& stream) {
    Json params = request.params();
    std::string asked = params.value("protocolVersion", "");
    std::string version = mcp::IsSupportedProtocolVersion(asked) ? asked : std::string(mcp::kLatestProtocolVersion);
    Json client_caps = params.value("capabilities", Json::object());
    if (!client_caps.is_object()) client_caps = Json::object();
    session->SetNegotiated(version, client_caps);
    UpstreamPtr up = shared_;
    if (pool_ && upstream::WantsOwnSession(version)) {
      Result<UpstreamPtr> opened = OpenOwnSession(session, params, version, client_caps);
      if (!opened.ok()) {
        log::Warn("no upstream session for an agent", {{"session", session->id()}, {"error", opened.status().ToString()}});
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (sessions_.count(session->id())) without_upstream_.insert(session->id());
        }
        return stream->Finish(mcp::MakeError(request.id(), mcp::kInternalError,
                                             "holdgate could not open an upstream session for this agent: " +
                                                 opened.status().message()));
      }
      up = opened.value();
      // The agent gets the version its upstream session agreed to (the upstream may pick an older one).
      std::string agreed = up->InitializeResult().value("protocolVersion", "");
      if (mcp::IsSupportedProtocolVersion(agreed) && agreed != version) {
        version = agreed;
        session->SetNegotiated(version, client_caps);
      }
    }
    Json upstream_init = up->InitializeResult();
    Json caps = upstream_init.value("capabilities", Json::object());
    // holdgate itself announces tool-list changes when the policy is reloaded.
    if (!caps.contains("tools") || !caps["tools"].is_object()) caps["tools"] = Json::object();
    caps["tools"]["listChanged"] = true;
    // holdgate runs task-augmented tools/call itself (a held call is the canonical long task).
    caps["tasks"] = {{"list", Json::object()}, {"cancel", Json::object()},
                     {"requests", {{"tools", {{"call", Json::object()}}}}}};
    Json result = {{"protocolVersion", version},
                   {"capabilities", caps},
                   {"serverInfo", upstream_init.value("serverInfo", Json{{"name", "holdgate"}, {"version", "0.1.0"}})}};
    if (upstream_init.contains("instructions")) result["instructions"] = upstream_init["instructions"];
    stream->Finish(mcp::MakeResult(request.id(), std::move(result)));
  }

  // `from_request_thread`: called from OnRequest on the transport thread that delivered the
  // request. The exchange then runs on that thread when nothing in it can need the agent's answer
  // meanwhile (see ExchangeOnRequestThread).
  // `deliver`, when set, receives the upstream's response instead of the agent's stream (a
  // released held call answers its agent itself).
  void Forward(const std::shared_ptr<Session>& session, const Json& request,
               const std::shared_ptr<ClientStream>& stream, std::function<void(Json&)> on_response,
               bool from_request_thread = false, std::function<void(Json)> deliver = nullptr) {
    std::string key = RequestKey(*session, request["id"]);
    UpstreamPtr up = UpstreamFor(*session);
    auto handler = std::make_shared<ForwardHandler>(this, session, up, stream, key, std::move(on_response),
                                                    std::move(deliver));
    // Register before sending so a cancel racing the reply finds it; the handle is filled in after.
    {
      std::lock_guard<std::mutex> lock(mu_);
      forwarded_[key] = Forwarded{0, stream, up};
    }
    auto sent = [this, &key](upstream::RequestHandle handle) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = forwarded_.find(key);
      if (it != forwarded_.end()) it->second.handle = handle;
    };
    if (from_request_thread && ExchangeOnRequestThread(*session, request, *stream)) {
      up->SendOnThisThread(request, handler, sent);
    } else {
      sent(up->Send(request, handler));
    }
  }

  // Running the upstream exchange on the agent's request thread saves two thread hand-offs per
  // call, but that thread cannot write to the agent until the upstream has answered. So only when
  // the thread just waits for this reply (HTTP), the request asked for no progress, and the agent
  // declared no capability the upstream could call back into (sampling, elicitation, roots) —
  // those requests must reach the agent while the call is still open.
  static bool ExchangeOnRequestThread(const Session& session, const Json& request, const ClientStream& stream) {
    if (!stream.CallerWaitsForReply()) return false;
    if (!mcp::ProgressToken(request).is_null()) return false;
    for (const char* capability : {"sampling", "elicitation", "roots"}) {
      if (session.HasClientCapability(capability)) return false;
    }
    return true;
  }

  void ForgetForwarded(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    forwarded_.erase(key);
  }

  // A message the upstream sent along with a reply: server->client requests are tracked (and, from
  // the shared session, get a gateway id).
  void RelayRelated(const std::shared_ptr<Session>& session, const UpstreamPtr& up,
                    const std::shared_ptr<ClientStream>& stream, const Json& message) {
    if (message.contains("id") && message.contains("method")) {
      std::optional<Json> rewritten = PrepareServerRequest(session, up, message);
      if (!rewritten) return;
      if (!stream->finished()) stream->SendRelated(*rewritten);
      else session->SendUnsolicited(*rewritten);
      return;
    }
    stream->SendRelated(message);
  }

  // Records a server->client request from upstream session `up` for `session`, or answers it
  // here (ping, or a capability the agent did not declare). Requests from the shared session get
  // a gateway id (several upstream sessions' ids could meet in one agent's id space only there);
  // from the agent's own session they keep the upstream's id. Returns the message for the agent.
  std::optional<Json> PrepareServerRequest(const std::shared_ptr<Session>& session, const UpstreamPtr& up,
                                           const Json& message) {
    const std::string method = message.value("method", "");
    if (method == "ping") {
      up->Respond(mcp::MakeResult(message["id"], Json::object()));
      return std::nullopt;
    }
    std::string capability = RequiredClientCapability(method);
    // A 2026 request's stream answers the agent -32021 for it instead (see AskForInput).
    if (!capability.empty() && !session->HasClientCapability(capability) && !IsModern(*session)) {
      up->Respond(mcp::MakeError(message["id"], mcp::kMethodNotFound,
                                 "the agent's client does not support " + capability));
      return std::nullopt;
    }
    Json out = message;
    std::lock_guard<std::mutex> lock(mu_);
    Json down_id = up == shared_ ? Json("hg-" + std::to_string(++next_server_request_)) : message["id"];
    server_requests_[RequestKey(*session, down_id)] = ServerRequest{session->id(), message["id"], up, down_id};
    out["id"] = down_id;
    return out;
  }

  void RelayClientResponse(const std::shared_ptr<Session>& session, const mcp::Message& message) {
    ServerRequest request;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = server_requests_.find(RequestKey(*session, message.id()));
      if (it == server_requests_.end()) return;
      request = std::move(it->second);
      server_requests_.erase(it);
    }
    Json out = message.json;
    out["id"] = request.upstream_id;
    request.via->Respond(out);
  }

  // Opens the agent's own upstream session (blocking: spawn or connect, and the handshake) and
  // makes it the session's upstream. A previous one (a second initialize) is closed.
  Result<UpstreamPtr> OpenOwnSession(const std::shared_ptr<Session>& session, const Json& params,
                                     const std::string& version, const Json& client_caps) {
    upstream::AgentHello hello;
    hello.client_info = params.value("clientInfo", Json());
    hello.capabilities = client_caps;
    hello.protocol_version = version;
    std::weak_ptr<Session> weak = session;
    Result<UpstreamPtr> opened = pool_->Open(hello, [this, weak](const UpstreamPtr& up, const Json& message) {
      OnOwnUpstreamUnsolicited(weak, up, message);
    });
    if (!opened.ok()) return opened;
    UpstreamPtr previous;
    bool session_gone;
    {
      std::lock_guard<std::mutex> lock(mu_);
      session_gone = sessions_.count(session->id()) == 0;  // closed during the handshake
      if (!session_gone) {
        previous = std::move(own_[session->id()]);
        own_[session->id()] = opened.value();
        without_upstream_.erase(session->id());
      }
    }
    if (previous) pool_->Close(std::move(previous));
    if (session_gone) {
      pool_->Close(opened.value());
      return Unavailable("the agent session ended");
    }
    return opened;
  }

  // What an agent's own upstream session says outside a call: it is all for that agent.
  void OnOwnUpstreamUnsolicited(const std::weak_ptr<Session>& weak, const UpstreamPtr& up, const Json& message) {
    auto session = weak.lock();
    const bool is_request = message.contains("id") && message.contains("method");
    if (!session) {
      if (is_request) up->Respond(mcp::MakeError(message["id"], mcp::kInternalError, "the agent session has ended"));
      return;
    }
    if (is_request) {
      if (auto prepared = PrepareServerRequest(session, up, message)) session->SendUnsolicited(*prepared);
      return;
    }
    if (message.value("method", "") == "notifications/cancelled") {
      // The upstream withdrew one of its requests to this agent (ids were kept as they are).
      Json upstream_id = message.value("params", Json::object()).value("requestId", Json());
      std::lock_guard<std::mutex> lock(mu_);
      server_requests_.erase(RequestKey(*session, upstream_id));
    }
    session->SendUnsolicited(message);
  }

  void OnUpstreamUnsolicited(const Json& message) {
    const std::string method = message.value("method", "");
    if (message.contains("id")) {
      // A server->client request outside any call: only unambiguous when exactly one connected
      // agent can answer it; never guess, or one agent could see another's request.
      std::shared_ptr<Session> target;
      int candidates = 0;
      std::string capability = RequiredClientCapability(method);
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& [id, weak] : sessions_) {
          if (!UsesSharedLocked(id)) continue;  // agents with a session of their own never see it
          auto s = weak.lock();
          if (s && (capability.empty() || s->HasClientCapability(capability))) {
            target = s;
            ++candidates;
          }
        }
      }
      if (method == "ping" || candidates != 1) {
        upstream_.Respond(method == "ping" ? mcp::MakeResult(message["id"], Json::object())
                                           : mcp::MakeError(message["id"], mcp::kMethodNotFound,
                                                            candidates == 0 ? "no connected agent can answer " + method
                                                                            : "several agents could answer " + method +
                                                                                  "; holdgate does not guess"));
        return;
      }
      if (auto rewritten = PrepareServerRequest(target, shared_, message)) target->SendUnsolicited(*rewritten);
      return;
    }
    if (method == "notifications/cancelled") {
      // The upstream withdrew one of its server->client requests: tell the agent that has it.
      Json upstream_id = message.value("params", Json::object()).value("requestId", Json());
      std::shared_ptr<Session> target;
      Json out = message;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto it = server_requests_.begin(); it != server_requests_.end(); ++it) {
          if (it->second.via == shared_ && it->second.upstream_id == upstream_id) {
            auto s = sessions_.find(it->second.session_id);
            if (s != sessions_.end()) target = s->second.lock();
            out["params"]["requestId"] = it->second.agent_id;
            server_requests_.erase(it);
            break;
          }
        }
      }
      if (target) target->SendUnsolicited(out);
      return;
    }
    if (method == "notifications/resources/updated") {
      // Only to the agents that subscribed to this resource.
      std::string uri = message.value("params", Json::object()).value("uri", "");
      std::vector<std::shared_ptr<Session>> targets;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = subscriptions_.find(uri);
        if (it == subscriptions_.end()) return;
        for (const auto& sid : it->second) {
          auto s = sessions_.find(sid);
          if (s != sessions_.end()) {
            if (auto locked = s->second.lock()) targets.push_back(locked);
          }
        }
      }
      for (auto& s : targets) s->SendUnsolicited(message);
      return;
    }
    Broadcast(message);
  }

  // On the shared upstream session, subscriptions are kept per agent here: updates go only to
  // subscribers, and one agent's unsubscribe does not end another's subscription.
  void Subscription(const std::shared_ptr<Session>& session, const mcp::Message& request,
                    const std::shared_ptr<ClientStream>& stream) {
    const std::string uri = request.params().value("uri", "");
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!UsesSharedLocked(session->id())) {
        // Its own upstream session keeps its subscriptions, as it would directly.
        lock.unlock();
        return Forward(session, request.json, stream, nullptr);
      }
    }
    if (request.method() == "resources/subscribe") {
      std::string sid = session->id();
      return Forward(session, request.json, stream, [this, sid, uri](Json& response) {
        if (response.contains("error")) return;
        std::lock_guard<std::mutex> lock(mu_);
        subscriptions_[uri].insert(sid);
      });
    }
    bool others_remain;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& subscribers = subscriptions_[uri];
      subscribers.erase(session->id());
      others_remain = !subscribers.empty();
      if (!others_remain) subscriptions_.erase(uri);
    }
    if (others_remain) return stream->Finish(mcp::MakeResult(request.id(), Json::object()));
    Forward(session, request.json, stream, nullptr);
  }

  // To every agent (holdgate's own news), or only to the agents on the shared upstream session
  // (what that session says: agents with their own session hear their own).
  void Broadcast(const Json& message, bool shared_only = true) {
    std::vector<std::shared_ptr<Session>> targets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, weak] : sessions_) {
        if (shared_only && !UsesSharedLocked(id)) continue;
        if (auto s = weak.lock()) targets.push_back(s);
      }
    }
    for (auto& s : targets) s->SendUnsolicited(message);
  }

  void ClientCancelled(const std::shared_ptr<Session>& session, const mcp::Message& message) {
    Json params = message.params();
    if (!params.contains("requestId")) return;
    std::string key = RequestKey(*session, params["requestId"]);
    std::string reason = params.value("reason", "cancelled by the client");
    upstream::RequestHandle handle = 0;
    UpstreamPtr up;
    std::shared_ptr<ClientStream> stream;
    std::shared_ptr<HeldCall> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto f = forwarded_.find(key);
      if (f != forwarded_.end()) {
        handle = f->second.handle;
        up = f->second.upstream;
        stream = f->second.stream.lock();
      }
      auto h = held_.find(key);
      if (h != held_.end()) held = h->second;
    }
    // A cancelled request gets no response (the upstream's late answer is dropped too).
    if (stream) stream->Close();
    if (handle && up) up->Cancel(handle, reason);
    if (held) held->OnAgentGone("the agent cancelled the request: " + reason);
  }

  // Drops hidden tools. For a 2025-11-25 agent, a tool the policy holds (judged without arguments,
  // for the agent's principal) is marked execution.taskSupport "optional" when the upstream says
  // nothing, so SDK clients may task-augment the call and poll instead of holding a request open.
  void FilterToolList(const std::shared_ptr<const policy::Policy>& p, Json& response, const Session& session) {
    auto r = response.find("result");
    if (r == response.end() || !r->is_object() || !r->contains("tools") || !(*r)["tools"].is_array()) return;
    Json& tools = (*r)["tools"];
    Json kept = Json::array();
    const bool mark_tasks = p && session.protocol_version() == "2025-11-25" && store_ && holds_;
    const Json no_arguments = Json::object();
    std::lock_guard<std::mutex> lock(annotations_mu_);
    for (auto& tool : tools) {
      std::string name = tool.value("name", "");
      if (tool.contains("annotations")) annotations_[name] = tool["annotations"];
      if (p && p->IsHidden(name)) continue;
      if (mark_tasks && !(tool.contains("execution") && tool["execution"].is_object() &&
                          tool["execution"].contains("taskSupport"))) {
        policy::CallContext ctx;
        ctx.tool = name;
        ctx.arguments = &no_arguments;
        ctx.principal = session.principal();
        ctx.grant = session.grant();
        ctx.session = session.id();
        ctx.annotations = tool.contains("annotations") ? &tool["annotations"] : nullptr;
        if (p->Evaluate(ctx).action == policy::Action::kHold) {
          if (!tool.contains("execution") || !tool["execution"].is_object()) tool["execution"] = Json::object();
          tool["execution"]["taskSupport"] = "optional";
        }
      }
      kept.push_back(std::move(tool));
    }
    tools = std::move(kept);
  }

  // ---- MCP 2026-07-28 (stateless) ---------------------------------------------------------------

  // A 2026-07-28 request: holdgate answers server/discover and the tasks extension itself, refuses
  // what the revision removed, and serves the rest like a 2025 request on the shared upstream
  // session (the envelope stripped: the upstream speaks 2025), its answer shaped for the revision.
  void ModernRequest(const std::shared_ptr<Session>& session, const mcp::Message& request,
                     const std::shared_ptr<ClientStream>& raw_stream) {
    const std::string method = request.method();
    const Json params = request.params();
    if ((params.contains("requestState") || params.contains("inputResponses")) && !mcp::IsModernTaskMethod(method)) {
      return ResumeWithInput(session, request, raw_stream);
    }
    auto stream = std::make_shared<ModernStream>(raw_stream, method, request.id());
    const std::string digest = RequestDigest(method, params);
    stream->SetInputHook([this, session, digest](const std::shared_ptr<ModernStream>& s, const Json& asked) {
      AskForInput(session, digest, s, asked);
    });
    if (method == "server/discover") {
      return stream->Finish(mcp::MakeResult(request.id(), DiscoverResult(upstream_.InitializeResult())));
    }
    if (mcp::IsModernTaskMethod(method)) {
      if (!mcp::DeclaresTasksExtension(session->client_capabilities())) {
        return stream->Finish(mcp::MakeError(
            request.id(), mcp::kMissingRequiredClientCapability,
            method + " needs the " + mcp::kTasksExtension + " extension in the request's clientCapabilities",
            Json{{"requiredCapabilities", {{"extensions", {{mcp::kTasksExtension, Json::object()}}}}}}));
      }
      return ModernTaskRequest(session, request, stream);
    }
    if (!mcp::IsModernRequestMethod(method) || method == "subscriptions/listen") {
      return stream->Finish(mcp::MakeError(
          request.id(), mcp::kMethodNotFound,
          method == "subscriptions/listen" ? "Method not found: holdgate does not serve subscriptions/listen"
                                           : "Method not found: " + method + " (not a 2026-07-28 request method)"));
    }
    Json inner = request.json;
    if (inner.contains("params")) {
      // A 2026 upstream is sent the agent's own envelope (its clientInfo and capabilities; the
      // upstream connection sets the version and leaves the tasks extension out), so it sees the
      // agent as it would without holdgate. A 2025 upstream gets none of it.
      const UpstreamPtr up = UpstreamFor(*session);
      if (up == nullptr || up->ProtocolEra() != "modern") inner["params"] = mcp::StripEnvelope(inner["params"]);
      if (inner["params"].is_object()) inner["params"].erase("task");  // 2025 task augmentation
    }
    mcp::Message stripped;
    if (!mcp::ClassifyMessage(std::move(inner), &stripped).ok()) {
      return stream->Finish(mcp::MakeError(request.id(), mcp::kInvalidRequest, "Invalid Request"));
    }
    if (method == "tools/call") return ToolsCall(session, stripped, stream);
    if (method == "tools/list") {
      auto p = policy();
      return Forward(session, stripped.json, stream,
                     [this, p, session](Json& response) { FilterToolList(p, response, *session); },
                     /*from_request_thread=*/true);
    }
    Forward(session, stripped.json, stream, nullptr, /*from_request_thread=*/true);
  }

  // MRTR: the upstream asked the 2026 agent something (elicitation, sampling, roots) during its
  // request. The agent gets "input_required" with the question and a requestState naming the
  // waiting upstream call (see gateway/modern.h); its retry answers it (ResumeWithInput).
  void AskForInput(const std::shared_ptr<Session>& session, const std::string& digest,
                   const std::shared_ptr<ModernStream>& stream, const Json& asked) {
    const std::string capability = RequiredClientCapability(asked.value("method", ""));
    if (!capability.empty() && !session->HasClientCapability(capability)) {
      // The request did not declare what the upstream needs: the upstream is told no, and the
      // agent gets MissingRequiredClientCapability (its later answer is dropped).
      InputWait refused{RequestState{}, session, stream, {{"", asked["id"]}}};
      AnswerAsked(refused, nullptr, "the agent's request did not declare the " + capability + " capability");
      stream->Finish(mcp::MakeError(nullptr, mcp::kMissingRequiredClientCapability,
                                    "the upstream server needs the client capability \"" + capability +
                                        "\", which this request's clientCapabilities do not declare",
                                    Json{{"requiredCapabilities", {{capability, Json::object()}}}}));
      return;
    }
    const int64_t now = clock_.NowMs();
    RequestState state{RandomHex(16), session->principal(), digest, now + kInputWaitMs};
    const std::string key = "holdgate-" + std::to_string(next_input_key_.fetch_add(1) + 1);
    std::vector<InputWait> expired;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = input_waits_.begin(); it != input_waits_.end();) {
        if (it->second.state.expires_ms <= now) {
          expired.push_back(std::move(it->second));
          it = input_waits_.erase(it);
        } else {
          ++it;
        }
      }
      input_waits_[state.id] = InputWait{state, session, stream, {{key, asked["id"]}}};
    }
    for (auto& w : expired) AnswerAsked(w, nullptr);
    Json input_request = {{"method", asked.value("method", "")}, {"params", asked.value("params", Json::object())}};
    Json result = {{"inputRequests", {{key, std::move(input_request)}}},
                   {"requestState", EncodeRequestState(state, input_state_key_)}};
    if (!stream->Suspend(std::move(result))) {
      std::lock_guard<std::mutex> lock(mu_);
      input_waits_.erase(state.id);
    }
  }

  // The retry of a request that got "input_required": checks the requestState (HMAC, expiry,
  // caller, request digest, single use) and the answers before anything is used, feeds the answers
  // to the upstream and lets the retry take the rest of the same upstream call. The call was
  // already approved (or allowed): no policy decision is made again.
  void ResumeWithInput(const std::shared_ptr<Session>& session, const mcp::Message& request,
                       const std::shared_ptr<ClientStream>& raw_stream) {
    const Json params = request.params();
    auto refuse = [&](const std::string& why) {
      Json response = mcp::MakeError(request.id(), mcp::kInvalidParams, why);
      raw_stream->Finish(response);
    };
    if (!params.contains("requestState") || !params["requestState"].is_string()) {
      return refuse("inputResponses without the requestState holdgate gave: send the request again without them");
    }
    if (!params.contains("inputResponses") || !params["inputResponses"].is_object()) {
      return refuse("requestState without inputResponses (an object keyed like inputRequests)");
    }
    auto decoded = DecodeRequestState(params["requestState"].get<std::string>(), input_state_key_, clock_.NowMs());
    if (!decoded.ok()) return refuse(decoded.status().message());
    const RequestState& state = decoded.value();
    if (state.principal != session->principal() || state.digest != RequestDigest(request.method(), params)) {
      return refuse("requestState belongs to another request or caller");
    }
    const Json& answers = params["inputResponses"];
    InputWait wait;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = input_waits_.find(state.id);
      if (it == input_waits_.end()) return refuse("requestState was already used or is unknown");
      for (const auto& [key, id] : it->second.asked) {
        if (!answers.contains(key) || !answers[key].is_object()) {
          return refuse("inputResponses has no object for \"" + key + "\"");
        }
      }
      wait = std::move(it->second);
      input_waits_.erase(it);
    }
    AnswerAsked(wait, &answers);
    wait.stream->Attach(raw_stream, request.id());
  }

  // Answers the upstream's questions of `wait` with `answers` (null: an error, the agent never
  // answered).
  void AnswerAsked(const InputWait& wait, const Json* answers,
                   const std::string& why = "the agent did not answer in time") {
    for (const auto& [key, down_id] : wait.asked) {
      ServerRequest asked;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = server_requests_.find(RequestKey(*wait.session, down_id));
        if (it == server_requests_.end()) continue;
        asked = std::move(it->second);
        server_requests_.erase(it);
      }
      asked.via->Respond(answers ? mcp::MakeResult(asked.upstream_id, (*answers)[key])
                                 : mcp::MakeError(asked.upstream_id, mcp::kInternalError, why));
    }
  }

  // tasks/get, tasks/cancel, tasks/update of a held call's task. The task is its approval (task id
  // = approval id), visible only to the principal that made the call; an unknown id and another
  // principal's id get the same -32602.
  void ModernTaskRequest(const std::shared_ptr<Session>& session, const mcp::Message& request,
                         const std::shared_ptr<ClientStream>& stream) {
    const Json params = request.params();
    const std::string task_id = params.contains("taskId") && params["taskId"].is_string()
                                    ? params["taskId"].get<std::string>() : "";
    auto unknown = [&] {
      stream->Finish(mcp::MakeError(request.id(), mcp::kInvalidParams, "Unknown task: " + task_id));
    };
    if (task_id.empty() || !store_ || !hold_store_) return unknown();
    auto found = store_->Get(task_id);
    if (!found.ok()) {
      if (found.status().code() == Code::kNotFound) return unknown();
      return stream->Finish(mcp::MakeError(request.id(), mcp::kInternalError,
                                           "holdgate could not read the task: " + found.status().message()));
    }
    store::Approval approval = std::move(found).value();
    if (approval.principal != session->principal()) return unknown();
    const std::string method = request.method();
    if (method == "tasks/get") {
      if (approval.state == store::State::kPending || approval.state == store::State::kApproved) {
        EnsureTaskCall(session->principal(), session->grant(), approval);
        if (auto again = store_->Get(task_id); again.ok()) approval = std::move(again).value();
      }
      return stream->Finish(mcp::MakeResult(request.id(), DetailedTaskOf(approval, options_.review_url)));
    }
    if (method == "tasks/cancel") {
      // Idempotent: a task that is no longer pending acknowledges the same way.
      if (approval.state == store::State::kPending) {
        std::shared_ptr<HeldCall> live;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (auto it = task_calls_.find(task_id); it != task_calls_.end()) live = it->second.lock();
        }
        Status withdrawn = live ? live->Withdraw("the agent cancelled the task")
                                : hold_store_->Cancel(task_id, "the agent cancelled the task").status();
        if (!withdrawn.ok()) log::Info("task cancel: approval not withdrawn", {{"task", task_id}, {"error", withdrawn.ToString()}});
      }
      return stream->Finish(mcp::MakeResult(request.id(), Json::object()));
    }
    // tasks/update: a held call's task never asks its agent for input.
    stream->Finish(mcp::MakeError(request.id(), mcp::kInvalidParams,
                                  "task " + task_id + " is not waiting for input (holdgate's tasks never ask for any)"));
  }

  // Makes sure a pending or approved task has a held call waiting on its approval, which releases
  // the call when it is approved: after a restart nothing in memory waits on it any more.
  void EnsureTaskCall(const std::string& principal, const std::string& grant, const store::Approval& approval) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shut_down_) return;
      auto it = task_calls_.find(approval.id);
      if (it != task_calls_.end()) {
        auto live = it->second.lock();
        if (live && live->phase() != HeldCall::Phase::kDone) return;
      }
    }
    HeldRequest held;
    held.id = "task:" + approval.id;
    held.params = {{"name", approval.tool}};
    held.task = true;
    store::NewApproval ignored;  // AttachHoldStore finds the approval itself
    auto attach = std::make_unique<AttachHoldStore>(*hold_store_, approval.id);
    HeldCallDeps deps = HeldDeps(attach.get());
    auto reply = std::make_shared<TaskReply>(std::move(attach));
    const std::string key = "task\x1f" + approval.id;
    HeldCall::Started started = HeldCall::Start(std::move(deps), std::move(held), ignored, reply,
                                                TaskRelease(principal, grant), [this, key] { ForgetHeld(key); });
    RegisterTaskCall(key, approval.id, started.call);
  }

  // At start: every pending or approved approval of a 2026 task (approval.session_id starts with
  // kTaskSessionPrefix) gets a held call again, so an approval decided later, or while holdgate was
  // down, is released without waiting for the agent's next tasks/get.
  void ResumeTasks() {
    if (!store_ || !hold_store_ || !holds_) return;
    store::ApprovalFilter filter;
    filter.states = {store::State::kPending, store::State::kApproved};
    filter.limit = 500;
    size_t resumed = 0;
    for (;;) {
      auto page = store_->List(filter);
      if (!page.ok()) {
        log::Error("could not resume the tasks of 2026 agents", {{"error", page.status().ToString()}});
        return;
      }
      for (const auto& a : page->approvals) {
        if (a.session_id.rfind(kTaskSessionPrefix, 0) != 0) continue;
        EnsureTaskCall(a.principal, "task", a);
        ++resumed;
      }
      if (page->next_cursor.empty()) break;
      filter.cursor = page->next_cursor;
    }
    if (resumed > 0) log::Info("resumed the held calls of 2026 tasks", {{"count", resumed}});
  }

  // What a held call needs from the gateway (a hold-open call's and a 2026 task's alike).
  HeldCallDeps HeldDeps(HoldStore* store) {
    HeldCallDeps deps;
    deps.store = store;
    deps.coordinator = holds_;
    deps.clock = &clock_;
    deps.post = [this](std::function<void()> work) { work_.Post(std::move(work)); };
    deps.releases = releases_.get();
    deps.options.review_url = options_.review_url;
    deps.options.default_hold_ms = options_.default_hold_ms;
    deps.options.progress_interval_ms = options_.progress_interval_ms;
    return deps;
  }

  // Runs a task's approved call upstream under a session of its own (see TaskSession).
  ReleaseFn TaskRelease(const std::string& principal, const std::string& grant) {
    return [this, principal, grant](Json upstream_request, std::function<void(Json)> done) {
      auto session = std::make_shared<TaskSession>("task-" + RandomHex(12), principal, grant);
      Forward(session, upstream_request, std::make_shared<DiscardStream>(), nullptr, /*from_request_thread=*/false,
              std::move(done));
    };
  }

  void ForgetHeld(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    held_.erase(key);
  }

  void RegisterTaskCall(const std::string& key, const std::string& approval_id, const std::shared_ptr<HeldCall>& call) {
    if (!call) return;
    std::lock_guard<std::mutex> lock(mu_);
    // Finished calls are dropped when the map has doubled since the last sweep, not on every
    // registration: a sweep per call made opening N task holds cost O(N²).
    if (task_calls_.size() >= task_calls_sweep_at_) {
      std::erase_if(task_calls_, [](const auto& kv) { return kv.second.expired(); });
      task_calls_sweep_at_ = std::max<size_t>(kTaskCallsSweepMin, 2 * task_calls_.size());
    }
    task_calls_[approval_id] = call;
    if (call->phase() != HeldCall::Phase::kDone) held_[key] = call;
  }

  // ---- tools/call -----------------------------------------------------------------------------

  void ToolsCall(const std::shared_ptr<Session>& session, const mcp::Message& request,
                 const std::shared_ptr<ClientStream>& stream) {
    // References into the request (no copies): it outlives this call.
    static const Json kEmptyObject = Json::object();
    const auto params_it = request.json.find("params");
    const Json& params = params_it == request.json.end() || params_it->is_null() ? kEmptyObject : *params_it;
    const auto name_it = params.find("name");
    if (name_it == params.end() || !name_it->is_string()) {
      return stream->Finish(mcp::MakeError(request.id(), mcp::kInvalidParams, "tools/call needs a string \"name\""));
    }
    const std::string tool = name_it->get<std::string>();
    const auto arguments_it = params.find("arguments");
    const Json& arguments = arguments_it == params.end() ? kEmptyObject : *arguments_it;
    if (params.contains("task") && params["task"].is_object()) return StartTask(session, request, stream);
    auto p = policy();
    if (!p) {
      metrics::GlobalMetrics().calls_total.Inc("allow");
      return Forward(session, request.json, stream, nullptr, /*from_request_thread=*/true);
    }

    Json annotations;
    {
      std::lock_guard<std::mutex> lock(annotations_mu_);
      auto a = annotations_.find(tool);
      if (a != annotations_.end()) annotations = a->second;
    }
    policy::CallContext ctx;
    ctx.tool = tool;
    ctx.arguments = &arguments;
    ctx.principal = session->principal();
    ctx.grant = session->grant();
    ctx.session = session->id();
    ctx.annotations = annotations.is_null() ? nullptr : &annotations;
    policy::Decision decision = p->Evaluate(ctx);
    policy::RateLimiter::Reservation reservation;
    // A retry of a call that already has an open approval is the same call, not another one:
    // it re-attaches without counting against the limits again (and cannot be rate-limited out
    // of learning its decision). Otherwise a live grant (a remembered approval) covering the call
    // lets it run at once, counted against the limits like any allowed call.
    const bool reusable = decision.action == policy::Action::kHold && HasReusableApproval(*session, tool, arguments);
    std::optional<store::Grant> grant;
    if (decision.action == policy::Action::kHold && !reusable) {
      grant = FindGrant(*session, tool, arguments);
      if (grant) decision.action = policy::Action::kAllow;
    }
    const bool has_limits = decision.limits != nullptr && !decision.limits->empty();
    if (limiter_ && has_limits && !reusable) {
      reservation = limiter_->Reserve(ctx, &decision);
    }
    if (grant && decision.action == policy::Action::kAllow && !UseGrant(*session, tool, arguments, *grant)) {
      // Revoked or expired between the look-up and the use: hold as the policy says.
      decision.action = policy::Action::kHold;
      grant.reset();
    }

    if (decision.shadow && decision.shadow_action != policy::Action::kAllow) {
      Audit("call.shadow", *session, tool, decision, policy::ActionName(decision.shadow_action),
            {{"arguments", arguments}, {"would", policy::ActionName(decision.shadow_action)}});
    }
    static const char* const kMetricLabel[] = {"allow", "deny", "hide", "deny", "hold"};  // by Action
    metrics::GlobalMetrics().calls_total.Inc(kMetricLabel[static_cast<int>(decision.action)]);
    switch (decision.action) {
      case policy::Action::kAllow:
        // A call run under a grant is audited by the grant's use ("grant.used", decision allow).
        if (options_.audit_all_calls && !grant) Audit("call.allowed", *session, tool, decision, "allow", {{"arguments", arguments}});
        return Forward(session, request.json, stream, nullptr, /*from_request_thread=*/true);
      case policy::Action::kHide:
        Audit("call.hidden", *session, tool, decision, "hide", nullptr);
        return stream->Finish(mcp::MakeError(request.id(), mcp::kInvalidParams, "Unknown tool: " + tool));
      case policy::Action::kDeny:
        Audit("call.denied", *session, tool, decision, "deny", {{"arguments", arguments}});
        return stream->Finish(mcp::MakeResult(request.id(), mcp::ToolTextResult(DenialText(tool, decision), true)));
      case policy::Action::kRateLimited:
        Audit("call.rate_limited", *session, tool, decision, "rate_limited", {{"retry_after_ms", decision.retry_after_ms}});
        return stream->Finish(mcp::MakeResult(request.id(), mcp::ToolTextResult(decision.reason, true)));
      case policy::Action::kHold:
        return Hold(session, request, stream, tool, arguments, decision, std::move(reservation));
    }
  }

  std::optional<store::Grant> FindGrant(const Session& session, const std::string& tool, const Json& arguments) {
    if (!store_) return std::nullopt;
    auto found = store_->FindGrant(store::GrantQuery{session.principal(), session.id(), tool,
                                                     store::Fingerprint(tool, arguments)});
    if (!found.ok()) {
      log::Error("grant look-up failed; the call is held", {{"tool", tool}, {"error", found.status().ToString()}});
      return std::nullopt;
    }
    return std::move(found).value();
  }

  // Records the use (audited); false when the grant no longer covers the call or the store failed.
  bool UseGrant(const Session& session, const std::string& tool, const Json& arguments, const store::Grant& grant) {
    auto used = store_->UseGrant(grant.id,
                                 store::GrantQuery{session.principal(), session.id(), tool,
                                                   store::Fingerprint(tool, arguments)},
                                 // Large arguments are named by their fingerprint only (call_fingerprint).
                                 DumpJson(arguments).size() <= 16 * 1024 ? Json{{"arguments", arguments}}
                                                                         : Json{{"arguments_truncated", true}});
    if (!used.ok()) {
      log::Error("grant use not recorded; the call is held", {{"grant", grant.id}, {"error", used.status().ToString()}});
      return false;
    }
    if (used->has_value()) log::Info("call allowed by grant", {{"grant", grant.id}, {"tool", tool}});
    return used->has_value();
  }

  bool HasReusableApproval(const Session& session, const std::string& tool, const Json& arguments) {
    if (!store_) return false;
    auto reusable = store_->FindReusable(session.principal(), store::Fingerprint(tool, arguments));
    return reusable.ok() && reusable.value().has_value();
  }

  void KeepReservation(const std::string& approval_id, policy::RateLimiter::Reservation reservation) {
    if (!limiter_ || reservation.empty()) return;
    auto waiter = std::make_shared<ReservationWaiter>(approval_id, *limiter_, std::move(reservation));
    holds_->Add(waiter);
    // Decided before the waiter was registered: settle now.
    auto current = store_->Get(approval_id);
    if (current.ok() && store::IsDecided(current->state) && holds_->Remove(*waiter)) waiter->Settle(current->state);
  }

  // A task-augmented tools/call: answer with the task at once, then run the call into it.
  void StartTask(const std::shared_ptr<Session>& session, const mcp::Message& request,
                 const std::shared_ptr<ClientStream>& stream) {
    Json params = request.params();
    int64_t ttl = params["task"].value("ttl", int64_t{3600000});
    std::string task_id = tasks_.Create(session->id(), ttl, "running");
    Json created = tasks_.Get(session->id(), task_id);
    stream->Finish(mcp::MakeResult(request.id(), Json{{"task", created}}));
    Json inner = request.json;
    inner["params"].erase("task");
    inner["id"] = "task:" + task_id;  // a private id: the agent's id is already answered
    mcp::Message call;
    if (!mcp::ClassifyMessage(inner, &call).ok()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      task_keys_[task_id] = RequestKey(*session, call.id());
    }
    ToolsCall(session, call, tasks_.StreamFor(task_id, session));
  }

  void TaskRequest(const std::shared_ptr<Session>& session, const mcp::Message& request,
                   const std::shared_ptr<ClientStream>& stream) {
    const std::string method = request.method();
    Json params = request.params();
    std::string task_id = params.value("taskId", "");
    if (method == "tasks/list") return stream->Finish(mcp::MakeResult(request.id(), tasks_.List(session->id())));
    auto unknown = [&] {
      stream->Finish(mcp::MakeError(request.id(), mcp::kInvalidParams, "Unknown task: " + task_id));
    };
    if (method == "tasks/get") {
      Json t = tasks_.Get(session->id(), task_id);
      return t.is_null() ? unknown() : stream->Finish(mcp::MakeResult(request.id(), t));
    }
    if (method == "tasks/result") {
      if (!tasks_.AwaitResult(session->id(), task_id, request.id(), stream)) unknown();
      return;
    }
    if (method == "tasks/cancel") {
      auto cancelled = tasks_.Cancel(session->id(), task_id);
      if (!cancelled.ok()) {
        return stream->Finish(mcp::MakeError(request.id(), mcp::kInvalidParams, cancelled.status().message()));
      }
      std::string key;
      upstream::RequestHandle handle = 0;
      UpstreamPtr up;
      std::shared_ptr<HeldCall> held;
      {
        std::lock_guard<std::mutex> lock(mu_);
        key = task_keys_[task_id];
        if (auto f = forwarded_.find(key); f != forwarded_.end()) {
          handle = f->second.handle;
          up = f->second.upstream;
        }
        if (auto h = held_.find(key); h != held_.end()) held = h->second;
      }
      if (handle && up) up->Cancel(handle, "the agent cancelled the task");
      // The cancellation reaches the held call through the change feed, like any decision.
      if (held) {
        Status withdrawn = held->Withdraw("the agent cancelled the task");
        if (!withdrawn.ok()) log::Info("task cancel: approval not withdrawn", {{"error", withdrawn.ToString()}});
      } else if (!cancelled.value().empty() && store_) {
        store_->Cancel(cancelled.value(), "the agent cancelled the task");
      }
      return stream->Finish(mcp::MakeResult(request.id(), tasks_.Get(session->id(), task_id)));
    }
    stream->Finish(mcp::MakeError(request.id(), mcp::kMethodNotFound, "Method not found: " + method));
  }

  void Audit(const std::string& type, const Session& session, const std::string& tool,
             const policy::Decision& decision, const std::string& verdict, Json detail) {
    if (!store_) return;
    store::AuditEvent ev;
    ev.type = type;
    ev.principal = session.principal();
    ev.actor = session.principal();
    ev.via = "mcp";
    ev.tool = tool;
    ev.rule = decision.rule;
    ev.decision = verdict;
    if (detail.is_null()) detail = Json::object();
    detail["session"] = session.id();
    if (!decision.reason.empty()) detail["reason"] = decision.reason;
    ev.detail = std::move(detail);
    auto r = store_->AppendAudit(ev);
    if (!r.ok()) log::Error("audit write failed", {{"type", type}, {"error", r.status().ToString()}});
  }

  void Hold(const std::shared_ptr<Session>& session, const mcp::Message& request,
            const std::shared_ptr<ClientStream>& stream, const std::string& tool, const Json& arguments,
            const policy::Decision& decision, policy::RateLimiter::Reservation reservation) {
    if (!hold_store_ || !holds_) {
      return stream->Finish(mcp::MakeResult(request.id(),
          mcp::ToolTextResult("Not executed: this call needs human approval and holdgate has no approval store.", true)));
    }
    const std::string key = RequestKey(*session, request.id());
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shut_down_) {
        return stream->Finish(mcp::MakeError(request.id(), mcp::kInternalError, "holdgate is shutting down"));
      }
      if (held_.count(key)) {
        // Two open requests with one id cannot both be answered: refuse the second, keep the first.
        return stream->Finish(mcp::MakeError(request.id(), mcp::kInvalidRequest,
            "request id " + DumpJson(request.id()) + " is already in use by a held call in this session; "
            "use a new id for each request"));
      }
    }
    const policy::ApprovalSettings& settings = *decision.approval;
    store::NewApproval input;
    input.principal = session->principal();
    input.session_id = session->id();
    input.tool = tool;
    input.arguments = arguments;
    input.rule = decision.rule;
    input.risk = decision.risk ? *decision.risk : Json();
    input.approvers_needed = settings.approvers;
    input.reviewers = ReviewersJson(settings.reviewers);
    input.editable = settings.editable;
    input.on_timeout = settings.on_timeout;
    input.timeout_ms = settings.timeout_ms;
    input.use_within_ms = settings.use_within_ms;
    input.rule_reason = decision.reason;
    input.remember_max_ms = settings.remember_max_ms;
    input.remember_any_arguments = settings.remember_any_arguments;
    input.max_pending_for_principal = options_.max_pending_per_principal;
    input.trace_id = trace::CurrentTraceId();
    input.notify = settings.notify;

    HeldRequest held;
    held.id = request.id();
    held.params = request.params();
    held.params.erase("arguments");
    held.progress_token = mcp::ProgressToken(request.json);
    held.hold_ms = settings.hold_ms;
    held.cancel_on_disconnect = settings.cancel_on_disconnect;
    const std::string request_id = request.id().is_string() ? request.id().get<std::string>() : "";
    held.task = request_id.rfind("task:", 0) == 0;
    const bool is_task = held.task;
    // A 2026-07-28 agent that declared the tasks extension gets a task at once and polls it.
    if (IsModern(*session) && mcp::DeclaresTasksExtension(session->client_capabilities())) {
      return HoldAsTask(session, request, stream, std::move(held), input, std::move(reservation));
    }

    HeldCallDeps deps = HeldDeps(hold_store_.get());
    ReleaseFn release = [this, session, stream](Json upstream_request, std::function<void(Json)> done) {
      Forward(session, upstream_request, stream, nullptr, /*from_request_thread=*/false, std::move(done));
    };
    auto forget = [this, key] {
      std::lock_guard<std::mutex> lock(mu_);
      held_.erase(key);
    };
    stream->CloseConnectionAfterReply();
    HeldCall::Started started = HeldCall::Start(std::move(deps), std::move(held), input,
                                                std::make_shared<StreamReply>(stream), std::move(release), forget);
    if (!started.call) {  // the store failed; the agent was told nothing ran
      if (limiter_ && !reservation.empty()) limiter_->Rollback(reservation);
      return;
    }
    if (started.created) {
      KeepReservation(started.approval.id, std::move(reservation));
    } else if (limiter_ && !reservation.empty()) {
      limiter_->Rollback(reservation);  // an identical call's approval: counted once
    }
    if (is_task) {
      const std::string task_id = request_id.substr(5);
      tasks_.SetApproval(task_id, started.approval.id);
      tasks_.SetStatusMessage(task_id, ProgressText(started.approval.id, WaitingFor(started.approval), options_.review_url));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Finished already (decided before it was registered): forget ran first, nothing to keep.
      if (started.call->phase() != HeldCall::Phase::kDone) held_[key] = started.call;
    }
    std::weak_ptr<HeldCall> weak = started.call;
    stream->SetGoneCallback([weak] {
      if (auto c = weak.lock()) c->OnAgentGone("the agent's connection closed");
    });
  }

  // A held call whose 2026 agent polls a task (mcp::kTasksExtension): answered at once with the
  // task (its approval, see gateway/modern.h); the held call releases the approved call itself.
  void HoldAsTask(const std::shared_ptr<Session>& session, const mcp::Message& request,
                  const std::shared_ptr<ClientStream>& stream, HeldRequest held, const store::NewApproval& input,
                  policy::RateLimiter::Reservation reservation) {
    held.task = true;
    held.progress_token = nullptr;
    auto reply = std::make_shared<TaskReply>();
    const std::string key = RequestKey(*session, request.id());
    store::NewApproval task_input = input;
    task_input.session_id = kTaskSessionPrefix + session->id();  // marks the approval as a task's (ResumeTasks)
    HeldCall::Started started = HeldCall::Start(HeldDeps(hold_store_.get()), std::move(held), task_input, reply,
                                                TaskRelease(session->principal(), session->grant()),
                                                [this, key] { ForgetHeld(key); });
    if (!started.call) {  // the store failed: the agent is told nothing ran
      if (limiter_ && !reservation.empty()) limiter_->Rollback(reservation);
      Json answer = reply->answer();
      if (answer.is_object()) answer["id"] = request.id();
      return stream->Finish(answer.is_object() ? answer
                                               : mcp::MakeError(request.id(), mcp::kInternalError, "not executed"));
    }
    if (started.created) {
      KeepReservation(started.approval.id, std::move(reservation));
    } else if (limiter_ && !reservation.empty()) {
      limiter_->Rollback(reservation);
    }
    RegisterTaskCall(key, started.approval.id, started.call);
    Json task = TaskOf(started.approval, options_.review_url);
    task["resultType"] = "task";
    stream->Finish(mcp::MakeResult(request.id(), std::move(task)));
  }

  static Json ReviewersJson(const std::vector<std::string>& reviewers) {
    if (reviewers.empty()) return nullptr;
    static const std::vector<std::string> kRoles = {"reviewer", "admin", "auditor"};
    Json roles = Json::array(), names = Json::array();
    for (const auto& r : reviewers) {
      if (r.rfind("role:", 0) == 0) roles.push_back(r.substr(5));
      else if (std::find(kRoles.begin(), kRoles.end(), r) != kRoles.end()) roles.push_back(r);
      else names.push_back(r);
    }
    return Json{{"roles", roles}, {"names", names}};
  }

  const GatewayOptions options_;
  upstream::Upstream& upstream_;    // the shared session
  const UpstreamPtr shared_;        // the same, not owned
  upstream::SessionPool* pool_ = nullptr;  // per-agent sessions; null = everyone shares; set before Start
  store::Store* const store_;
  hold::HoldCoordinator* const holds_;
  policy::RateLimiter* const limiter_;
  const Clock& clock_;
  const std::unique_ptr<HoldStore> hold_store_;  // null in pass-through mode

  mutable std::mutex policy_mu_;
  std::shared_ptr<const policy::Policy> policy_;  // guarded by policy_mu_

  std::mutex annotations_mu_;
  std::unordered_map<std::string, Json> annotations_;  // guarded by annotations_mu_: tool -> MCP annotations

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<Session>> sessions_;     // guarded by mu_
  std::unordered_map<std::string, UpstreamPtr> own_;                    // guarded by mu_: session id -> its upstream session
  std::set<std::string> without_upstream_;                              // guarded by mu_: own session could not be opened
  struct Forwarded {
    upstream::RequestHandle handle = 0;
    std::weak_ptr<ClientStream> stream;
    UpstreamPtr upstream;  // the upstream session the request went to
  };
  std::unordered_map<std::string, Forwarded> forwarded_;                // guarded by mu_
  std::unordered_map<std::string, std::shared_ptr<HeldCall>> held_;     // guarded by mu_
  std::unordered_map<std::string, ServerRequest> server_requests_;      // guarded by mu_
  std::unordered_map<std::string, std::string> task_keys_;              // guarded by mu_: task id -> request key
  // MRTR: upstream calls waiting for a 2026 agent's answers, by requestState id.
  static constexpr int64_t kInputWaitMs = 10 * 60 * 1000;
  std::unordered_map<std::string, InputWait> input_waits_;              // guarded by mu_
  std::atomic<uint64_t> next_input_key_{0};
  const std::string input_state_key_ = RandomHex(32);  // HMAC key of requestState; per process
  std::unordered_map<std::string, std::weak_ptr<HeldCall>> task_calls_;  // guarded by mu_: approval id -> a 2026 task's call
  static constexpr size_t kTaskCallsSweepMin = 1024;
  size_t task_calls_sweep_at_ = kTaskCallsSweepMin;  // guarded by mu_: task_calls_'s size that triggers the next sweep
  std::unordered_map<std::string, std::set<std::string>> subscriptions_;  // guarded by mu_: uri -> session ids
  uint64_t next_server_request_ = 0;                                    // guarded by mu_
  bool shut_down_ = false;                                              // guarded by mu_

  TaskTable tasks_;

  // Posts to work_ (runs inline once it has stopped); declared before it, so work_ has run what
  // was queued before the batcher goes.
  const std::unique_ptr<ReleaseBatcher> releases_;  // null in pass-through mode
  WorkQueue work_;
};

Gateway::Gateway(GatewayOptions options, upstream::Upstream& upstream, store::Store* store,
                 hold::HoldCoordinator* holds, policy::RateLimiter* limiter, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), upstream, store, holds, limiter, clock)) {}
Gateway::~Gateway() = default;
void Gateway::SetPolicy(std::shared_ptr<const policy::Policy> policy) { impl_->SetPolicy(std::move(policy)); }
std::shared_ptr<const policy::Policy> Gateway::policy() const { return impl_->policy(); }
void Gateway::UsePerAgentSessions(upstream::SessionPool* pool) { impl_->UsePerAgentSessions(pool); }
void Gateway::Start() { impl_->Start(); }
void Gateway::Shutdown() { impl_->Shutdown(); }
size_t Gateway::open_holds() const { return impl_->open_holds(); }
void Gateway::OnRequest(const std::shared_ptr<transport::Session>& session, const mcp::Message& request,
                        const std::shared_ptr<transport::ClientStream>& stream) {
  impl_->OnRequest(session, request, stream);
}
void Gateway::OnMessage(const std::shared_ptr<transport::Session>& session, const mcp::Message& message) {
  impl_->OnMessage(session, message);
}
void Gateway::OnSessionClosed(const std::shared_ptr<transport::Session>& session) {
  impl_->OnSessionClosed(session);
}

}  // namespace holdgate::gateway
