// Upstream over Streamable HTTP: every message is a POST to the endpoint; replies come as JSON or
// as an SSE stream; a GET stream carries what the server says outside any request. Workers each
// own an httplib::Client (a Client serialises its requests), so calls run concurrently.
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <thread>
#include <unordered_set>

#include "common/log.h"
#include "common/periodic_thread.h"
#include "mcp/jsonrpc.h"
#include "mcp/trace_meta.h"
#include "transport/sse.h"
#include "upstream/correlator.h"
#include "upstream/handshake.h"
#include "upstream/upstream.h"

namespace holdgate::upstream {
namespace {

constexpr int64_t kInitializeTimeoutMs = 30000;
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
    if (options_.request_timeout_ms > 0) watchdog_.Start();
    Status s = Handshake();
    if (!s.ok()) return s;
    get_stream_ = std::thread([this] { RunGetStream(); });
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
      for (auto* c : active_clients_) c->stop();
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    correlator_.FailAll(mcp::kConnectionClosed, "holdgate is shutting down");
  }

  Json InitializeResult() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return initialize_result_;
  }

  RequestHandle Send(const Json& request, std::shared_ptr<ReplyHandler> handler) override {
    Correlator::Registered reg = correlator_.Register(request, std::move(handler));
    const RequestHandle handle = reg.handle;
    if (!Enqueue([this, reg = std::move(reg)](httplib::Client& cli) { Post(cli, reg.wire, reg.handle, true); })) {
      correlator_.Fail(handle, mcp::kConnectionClosed, "the upstream session has ended");
    }
    return handle;
  }

  void SendOnThisThread(const Json& request, std::shared_ptr<ReplyHandler> handler,
                        const std::function<void(RequestHandle)>& on_sent) override {
    Correlator::Registered reg = correlator_.Register(request, std::move(handler));
    on_sent(reg.handle);
    httplib::Client* cli = CallerClient();
    if (cli == nullptr) {  // stopping
      correlator_.Fail(reg.handle, mcp::kConnectionClosed, "holdgate is shutting down");
      return;
    }
    Post(*cli, reg.wire, reg.handle, true);
    std::lock_guard<std::mutex> lock(mu_);
    active_clients_.erase(cli);
  }

  void Cancel(RequestHandle handle, const std::string& reason) override {
    Json wire_id = correlator_.Fail(handle, mcp::kRequestTimeout, "request cancelled: " + reason);
    if (wire_id.is_null()) return;
    // The notification travels on another connection and may overtake the request itself; cutting
    // the exchange frees a thread waiting in SendOnThisThread whatever the server makes of it.
    CutExchange(handle);
    Notify(mcp::MakeNotification("notifications/cancelled", {{"requestId", wire_id}, {"reason", reason}}));
  }

  // Shuts down the socket of the exchange POSTing request `handle`, if it is still running; the
  // thread in it returns (httplib's stop() is safe against a request in flight).
  void CutExchange(RequestHandle handle) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = exchanges_.find(handle);
    if (it != exchanges_.end()) it->second->stop();
  }

  // The request timeout: the caller already has its error; the hung exchange is cut (its
  // client's socket shut down, so the thread in it returns), the server is told to stop, and a
  // late answer, if any, is dropped by the correlator.
  void CancelOverdue() {
    for (const Correlator::Overdue& overdue : correlator_.FailOverdue(std::chrono::steady_clock::now())) {
      log::Warn("upstream request timed out; cancelled",
                {{"transport", "http"}, {"request_id", overdue.wire_id}, {"timeout_ms", options_.request_timeout_ms}});
      CutExchange(overdue.handle);
      Notify(mcp::MakeNotification("notifications/cancelled",
                                   {{"requestId", overdue.wire_id}, {"reason", correlator_.TimeoutMessage()}}));
    }
  }

  void Notify(const Json& notification) override {
    Enqueue([this, notification](httplib::Client& cli) { Post(cli, notification, 0, true); });
  }
  void Respond(const Json& response) override { Notify(response); }

  void SetUnsolicitedHandler(std::function<void(const Json&)> handler) override {
    correlator_.SetUnsolicitedHandler(std::move(handler));
  }

 private:
  std::string session_id() const {
    std::lock_guard<std::mutex> lock(mu_);
    return session_id_;
  }

  Status Handshake() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      session_id_.clear();
      started_ = true;
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
    httplib::Client cli(endpoint_.origin);
    cli.set_connection_timeout(10, 0);
    cli.set_read_timeout(30, 0);
    Post(cli, mcp::MakeNotification("notifications/initialized", nullptr), 0, false);
    log::Info("upstream ready", {{"transport", "http"}, {"url", options_.url},
                                 {"server", init.value().value("serverInfo", Json())}});
    return Status::Ok();
  }

  // Queues `job` for a worker. False once stopping (no worker would ever run it).
  bool Enqueue(std::function<void(httplib::Client&)> job) {
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

  void ConfigureClient(httplib::Client& cli) const {
    cli.set_keep_alive(true);
    cli.set_tcp_nodelay(true);  // small JSON-RPC writes must not wait for delayed ACKs
    cli.set_connection_timeout(10, 0);
    cli.set_read_timeout(options_.request_timeout_ms > 0 ? options_.request_timeout_ms / 1000 + 30 : kStreamReadTimeoutSec,
                         0);
    cli.set_write_timeout(30, 0);
  }

  // The calling thread's own keep-alive client for this upstream's origin (created on first use,
  // freed when the thread ends), registered in active_clients_ so Stop() can interrupt it; the
  // caller unregisters it when its exchange is done. nullptr once stopping. Keyed by origin and
  // timeout, not by instance: with a session per agent, upstreams come and go, and a client per
  // instance would pile up (with its socket) in every thread that ever served one. The thread runs
  // one exchange at a time, so instances on one origin can take turns with one client; the session
  // travels in each request's headers.
  httplib::Client* CallerClient() {
    thread_local std::map<std::string, std::unique_ptr<httplib::Client>> clients;
    auto& slot = clients[endpoint_.origin + '\x1f' + std::to_string(options_.request_timeout_ms)];
    if (!slot) {
      slot = std::make_unique<httplib::Client>(endpoint_.origin);
      ConfigureClient(*slot);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return nullptr;
    active_clients_.insert(slot.get());
    return slot.get();
  }

  void Work() {
    httplib::Client cli(endpoint_.origin);
    ConfigureClient(cli);
    std::unique_lock<std::mutex> lock(mu_);
    active_clients_.insert(&cli);
    while (true) {
      ++idle_workers_;
      work_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      --idle_workers_;
      if (stopping_) break;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job(cli);
      lock.lock();
    }
    active_clients_.erase(&cli);
  }

  httplib::Headers BaseHeaders() const {
    httplib::Headers h = {{"Accept", "application/json, text/event-stream"}};
    std::lock_guard<std::mutex> lock(mu_);
    if (!session_id_.empty()) h.emplace("Mcp-Session-Id", session_id_);
    if (!protocol_version_.empty()) h.emplace("MCP-Protocol-Version", protocol_version_);
    return h;
  }

  // POSTs one message. For a request (handle != 0) the reply is routed through the correlator,
  // and the exchange is registered so that the request timeout can cut it.
  void Post(httplib::Client& cli, const Json& message, RequestHandle handle, bool may_reinitialize) {
    struct Registration {
      HttpUpstream* self;
      RequestHandle handle;
      Registration(HttpUpstream* s, RequestHandle h, httplib::Client* c) : self(s), handle(h) {
        if (!handle) return;
        std::lock_guard<std::mutex> lock(self->mu_);
        self->exchanges_[handle] = c;
      }
      ~Registration() {
        if (!handle) return;
        std::lock_guard<std::mutex> lock(self->mu_);
        self->exchanges_.erase(handle);
      }
    } registration(this, handle, &cli);
    httplib::Request req;
    req.method = "POST";
    req.path = endpoint_.path;
    req.headers = BaseHeaders();
    req.body = DumpJson(message);
    req.set_header("Content-Type", "application/json");
    // W3C trace context of the call (holdgate's hop) also as the traceparent header.
    if (std::string tp = mcp::MetaTraceparent(message); !tp.empty()) req.set_header("traceparent", tp);
    std::string content_type;
    int status = 0;
    req.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      content_type = r.get_header_value("Content-Type");
      std::string sid = r.get_header_value("Mcp-Session-Id");
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
      if (mcp::ParseMessage(ev.data, &msg).ok()) correlator_.Route(msg.json, handle);
    });
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (status >= 200 && status < 300 && content_type.rfind("text/event-stream", 0) == 0) {
        parser.Feed(std::string_view(data, n));
      } else if (body.size() < (16u << 20)) {
        body.append(data, n);
      }
      return true;
    };
    auto res = cli.send(req);
    if (!res) {
      if (handle) {
        correlator_.Fail(handle, mcp::kConnectionClosed,
                         "upstream MCP server unreachable: " + httplib::to_string(res.error()));
      }
      return;
    }
    if (status == 404 && may_reinitialize && message.value("method", "") != "initialize" &&
        !session_id().empty()) {
      // The upstream forgot our session (it restarted): initialize again, then retry once.
      log::Warn("upstream session expired; re-initializing", {{"url", options_.url}});
      std::lock_guard<std::mutex> guard(reinit_mu_);
      if (ReinitializeIfStale(req.get_header_value("Mcp-Session-Id")).ok()) {
        Post(cli, message, handle, false);
        return;
      }
    }
    if (status >= 200 && status < 300 && content_type.rfind("application/json", 0) == 0 && !body.empty()) {
      mcp::Message msg;
      if (mcp::ParseMessage(body, &msg).ok()) correlator_.Route(msg.json, handle);
      else if (handle) correlator_.Fail(handle, mcp::kInternalError, "upstream sent malformed JSON");
      return;
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
        if (mcp::ParseMessage(ev.data, &msg).ok()) correlator_.Route(msg.json, 0);
      });
      httplib::Headers headers = BaseHeaders();
      headers.erase("Accept");
      headers.emplace("Accept", "text/event-stream");
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
  Correlator correlator_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable work_cv_;
  bool stopping_ = false;                                  // guarded by mu_
  bool started_ = false;                                   // guarded by mu_
  std::string session_id_;                                 // guarded by mu_
  std::string protocol_version_;                           // guarded by mu_
  Json initialize_result_;                                 // guarded by mu_
  std::deque<std::function<void(httplib::Client&)>> jobs_; // guarded by mu_
  std::vector<std::thread> workers_;                       // guarded by mu_
  std::unordered_set<httplib::Client*> active_clients_;    // guarded by mu_
  std::map<RequestHandle, httplib::Client*> exchanges_;    // guarded by mu_; requests being POSTed
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
