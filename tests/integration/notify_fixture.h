#pragma once
// Fixtures for notifier integration tests: a real httplib receiver on 127.0.0.1 (port 0, or a
// given port to come back on after a stop) that records every request and answers with scripted
// status codes, and an environment with a Store on a temp file, a FakeClock and a Notifier.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "notify/notifier.h"
#include "store/store.h"
#include "support/fake_clock.h"

namespace holdgate::notifytest {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hg_notify_it_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// One request the receiver saw.
struct Hit {
  std::string path;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int answered = 0;
};

class Receiver {
 public:
  // port 0: any free port.
  explicit Receiver(int port = 0) { Listen(port); }
  ~Receiver() { Stop(); }

  void Stop() {
    std::unique_ptr<httplib::Server> server;
    std::thread thread;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
      server = std::move(server_);
      thread = std::move(thread_);
    }
    cv_.notify_all();
    if (server) server->stop();
    if (thread.joinable()) thread.join();
  }
  // Listens again on the same port (after Stop).
  void Restart() {
    Stop();
    Listen(port_);
  }

  int port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Statuses to answer next, in order; then `default_status`.
  void Script(std::deque<int> statuses) {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(statuses);
  }
  void SetDefault(int status, std::string body = "ok") {
    std::lock_guard<std::mutex> lock(mu_);
    default_status_ = status;
    default_body_ = std::move(body);
  }
  // While held, requests wait in the handler until Release().
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }

  std::vector<Hit> Hits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hits_;
  }
  size_t Count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hits_.size();
  }
  // Waits (real time) until at least n requests arrived.
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return hits_.size() >= n; });
  }
  bool WaitForWaiting(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return waiting_ >= n; });
  }

 private:
  void Listen(int port) {
    auto server = std::make_unique<httplib::Server>();
    server->Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); });
    int bound = -1;
    if (port == 0) {
      bound = server->bind_to_any_port("127.0.0.1");
    } else {
      // The old socket may linger briefly; httplib sets SO_REUSEADDR, so this normally binds at once.
      for (int i = 0; i < 200 && bound < 0; ++i) {
        if (server->bind_to_port("127.0.0.1", port)) bound = port;
        else std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    REQUIRE(bound > 0);
    port_ = bound;
    httplib::Server* raw = server.get();
    std::thread thread([raw] { raw->listen_after_bind(); });
    // httplib 0.11.4 has no wait_until_ready(): poll is_running.
    while (!raw->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard<std::mutex> lock(mu_);
    server_ = std::move(server);
    thread_ = std::move(thread);
  }

  void Handle(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_; });
    --waiting_;
    Hit hit;
    hit.path = req.path;
    for (const auto& [k, v] : req.headers) {
      std::string lower = k;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      hit.headers[lower] = v;
    }
    hit.body = req.body;
    int status = default_status_;
    if (!script_.empty()) {
      status = script_.front();
      script_.pop_front();
    }
    hit.answered = status;
    hits_.push_back(std::move(hit));
    res.status = status;
    res.set_content(status < 300 ? default_body_ : "nope", "text/plain");
    cv_.notify_all();
  }

  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::deque<int> script_;
  int default_status_ = 200;
  std::string default_body_ = "ok";
  bool held_ = false;
  size_t waiting_ = 0;
  std::vector<Hit> hits_;
};

// A Store on a temp file, a FakeClock at the real time (receivers may check timestamps against
// it), and a Notifier wired as `holdgate serve` wires it.
struct NotifyEnv {
  TempDir dir;
  testing::FakeClock clock{SystemClock::Instance().NowMs()};
  std::string db_path = dir.File("holdgate.db");
  std::unique_ptr<store::Store> store;
  std::unique_ptr<notify::Notifier> notifier;
  Json config;

  explicit NotifyEnv(Json notify_config, const store::StoreOptions& options = {}) : config(std::move(notify_config)) {
    OpenStore(options);
    MakeNotifier();
  }
  ~NotifyEnv() {
    if (notifier) notifier->Stop();
    notifier.reset();
  }
  void OpenStore(const store::StoreOptions& options = {}) {
    auto s = store::Store::Open(db_path, clock, options);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    store = std::move(*s);
  }
  void MakeNotifier() {
    if (notifier) notifier->Stop();
    notifier.reset();
    auto n = notify::Notifier::Create(config, *store, clock, "http://review.test");
    INFO(n.status().ToString());
    REQUIRE(n.ok());
    notifier = std::move(*n);
    store->SetOutboxFactory(notifier->OutboxFactory());
  }
  // A restart: everything closed, then the same database opened again.
  void Restart(const store::StoreOptions& options = {}) {
    if (notifier) notifier->Stop();
    notifier.reset();
    store.reset();
    OpenStore(options);
    MakeNotifier();
  }

  store::Approval Create(Json notify = Json::array(), const std::string& principal = "agent-1",
                         int approvers = 1, int64_t timeout_ms = 24LL * 3600 * 1000) {
    store::NewApproval n;
    n.principal = principal;
    n.tool = "cancel_job";
    n.arguments = Json{{"job_id", NewId("job")}};
    n.rule = "tools.cancel_job";
    n.risk = Json{{"level", "critical"}, {"category", "Destructive"}};
    n.approvers_needed = approvers;
    n.timeout_ms = timeout_ms;
    n.notify = std::move(notify);
    auto a = store->CreatePending(n);
    INFO(a.status().ToString());
    REQUIRE(a.ok());
    return *a;
  }
  store::DecisionOutcome Decide(const std::string& id, const std::string& reviewer, bool approve,
                                const std::string& reason = "") {
    store::DecisionInput d;
    d.id = id;
    d.reviewer = reviewer;
    d.via = "api";
    d.approve = approve;
    d.reason = reason.empty() && !approve ? "no" : reason;
    auto r = store->Decide(d);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }
  std::vector<store::OutboxRow> Rows(const std::string& approval_id = "", const std::string& target = "") {
    store::OutboxFilter f;
    f.approval_id = approval_id;
    f.target = target;
    f.limit = 1000;
    auto r = store->ListOutbox(f);
    REQUIRE(r.ok());
    return *r;
  }
  int AuditCount(const std::string& type) {
    store::AuditFilter f;
    f.type = type;
    f.limit = 10000;
    auto r = store->ListAudit(f);
    REQUIRE(r.ok());
    return static_cast<int>(r->events.size());
  }
  std::vector<store::AuditEvent> Audit(const std::string& type) {
    store::AuditFilter f;
    f.type = type;
    f.limit = 10000;
    auto r = store->ListAudit(f);
    REQUIRE(r.ok());
    return r->events;
  }
};

}  // namespace holdgate::notifytest
