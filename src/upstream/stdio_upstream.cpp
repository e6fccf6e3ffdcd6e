// Upstream over stdio: a child process speaking newline-delimited JSON-RPC on stdin/stdout.
// A supervisor thread restarts the child when it dies; requests in flight then get an error.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

#include "common/line_splitter.h"
#include "common/periodic_thread.h"
#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "upstream/correlator.h"
#include "upstream/handshake.h"
#include "upstream/upstream.h"

namespace holdgate::upstream {
namespace {

constexpr int64_t kInitializeTimeoutMs = 30000;
constexpr size_t kMaxLineBytes = 64 * 1024 * 1024;

class StdioUpstream final : public Upstream {
 public:
  explicit StdioUpstream(Options options)
      : options_(std::move(options)),
        correlator_(true, [this](const Json& m) { WriteLine(DumpJson(m)); }, options_.request_timeout_ms,
                    options_.keep_caller_ids),
        watchdog_(OverdueCheckInterval(options_.request_timeout_ms), [this] { CancelOverdue(); },
                  PeriodicThread::First::kWaitFirst) {}
  ~StdioUpstream() override { Stop(); }

  // The child is spawned (and respawned) only on the supervisor thread: its parent-death signal
  // (PR_SET_PDEATHSIG) fires when the *thread* that forked it ends, and the caller of Start may be
  // a short-lived one (an agent's connection thread, for a per-agent session).
  Status Start() override {
    if (options_.request_timeout_ms > 0) watchdog_.Start();
    std::promise<Status> first;
    std::future<Status> started = first.get_future();
    supervisor_ = std::thread([this, first = std::move(first)]() mutable {
      Status s = SpawnAndInitialize();
      const bool ok = s.ok();
      first.set_value(std::move(s));
      if (ok) Supervise();
    });
    Status s = started.get();
    if (!s.ok()) supervisor_.join();
    return s;
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    watchdog_.Stop();
    KillChild();
    if (supervisor_.joinable()) supervisor_.join();
    JoinReaders();
    correlator_.FailAll(mcp::kConnectionClosed, "holdgate is shutting down");
  }

  Json InitializeResult() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return initialize_result_;
  }

  RequestHandle Send(const Json& request, std::shared_ptr<ReplyHandler> handler) override {
    Correlator::Registered reg = correlator_.Register(request, std::move(handler));
    if (!WriteLine(DumpJson(reg.wire))) {
      correlator_.Fail(reg.handle, mcp::kConnectionClosed,
                       "upstream MCP server is not running (restarting)");
    }
    return reg.handle;
  }

  void Cancel(RequestHandle handle, const std::string& reason) override {
    Json wire_id = correlator_.Fail(handle, mcp::kRequestTimeout, "request cancelled: " + reason);
    if (wire_id.is_null()) return;
    Notify(mcp::MakeNotification("notifications/cancelled",
                                 {{"requestId", wire_id}, {"reason", reason}}));
  }

  // The request timeout: the caller already has its error; the child is told to stop, and its
  // late answer, if any, is dropped by the correlator.
  void CancelOverdue() {
    for (const Correlator::Overdue& overdue : correlator_.FailOverdue(std::chrono::steady_clock::now())) {
      log::Warn("upstream request timed out; cancelled",
                {{"transport", "stdio"}, {"request_id", overdue.wire_id}, {"timeout_ms", options_.request_timeout_ms}});
      Notify(mcp::MakeNotification("notifications/cancelled",
                                   {{"requestId", overdue.wire_id}, {"reason", correlator_.TimeoutMessage()}}));
    }
  }

  void Notify(const Json& notification) override { WriteLine(DumpJson(notification)); }
  void Respond(const Json& response) override { WriteLine(DumpJson(response)); }

  void SetUnsolicitedHandler(std::function<void(const Json&)> handler) override {
    correlator_.SetUnsolicitedHandler(std::move(handler));
  }

 private:
  Status SpawnAndInitialize() {
    Status s = Spawn();
    if (!s.ok()) return s;
    auto send = [this](const Json& req, std::shared_ptr<ReplyHandler> h) { Send(req, std::move(h)); };
    Result<Json> init = Initialize(send, options_, kInitializeTimeoutMs);
    if (!init.ok()) {
      KillChild();
      JoinReaders();
      return init.status();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      initialize_result_ = init.value();
    }
    Notify(mcp::MakeNotification("notifications/initialized", nullptr));
    log::Info("upstream ready", {{"transport", "stdio"},
                                 {"server", init.value().value("serverInfo", Json())},
                                 {"protocolVersion", init.value()["protocolVersion"]}});
    return Status::Ok();
  }

  Status Spawn() {
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
        pipe2(err_pipe, O_CLOEXEC) != 0) {
      return IoError(std::string("pipe: ") + std::strerror(errno));
    }
    // Everything the child needs is prepared before fork: between fork and exec the child of a
    // multithreaded process may only make async-signal-safe calls (no allocation: another thread
    // may have held the allocator's lock at the fork, and the child would wait for it forever).
    const std::string cmd = "exec " + options_.command;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return IoError(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      // Child: die with holdgate, wire the pipes, run the command through the shell.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    JoinReaders();
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      stdin_fd_ = in_pipe[1];
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      child_pid_ = pid;
      child_exited_ = false;
    }
    stdout_reader_ = std::thread([this, fd = out_pipe[0]] { ReadStdout(fd); });
    stderr_reader_ = std::thread([this, fd = err_pipe[0]] { ReadStderr(fd); });
    log::Info("upstream started", {{"command", options_.command}, {"pid", pid}});
    return Status::Ok();
  }

  bool WriteLine(std::string line) {
    line.push_back('\n');
    std::lock_guard<std::mutex> lock(write_mu_);
    if (stdin_fd_ < 0) return false;
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(stdin_fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return true;
  }

  void ReadStdout(int fd) {
    LineSplitter lines(kMaxLineBytes);
    char chunk[65536];
    while (true) {
      ssize_t n = ::read(fd, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!lines.Feed(std::string_view(chunk, static_cast<size_t>(n)), [this](std::string_view line) { HandleLine(line); })) {
        log::Error("upstream sent an over-long line; dropping it", {{"max_bytes", kMaxLineBytes}});
      }
    }
    close(fd);
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      if (stdin_fd_ >= 0) close(stdin_fd_);
      stdin_fd_ = -1;
    }
    correlator_.FailAll(mcp::kConnectionClosed,
                        "upstream MCP server exited while the request was in flight; "
                        "it was not completed");
    {
      std::lock_guard<std::mutex> lock(mu_);
      child_exited_ = true;
    }
    cv_.notify_all();
  }

  void HandleLine(std::string_view line) {
    mcp::Message msg;
    mcp::RpcError err = mcp::ParseMessage(line, &msg);
    if (!err.ok()) {
      log::Warn("upstream wrote a line that is not JSON-RPC", {{"error", err.message}});
      return;
    }
    correlator_.Route(std::move(msg.json), 0);
  }

  void ReadStderr(int fd) {
    LineSplitter lines(65536);
    char chunk[4096];
    while (true) {
      ssize_t n = ::read(fd, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      lines.Feed(std::string_view(chunk, static_cast<size_t>(n)),
                 [](std::string_view line) { log::Info("upstream stderr", {{"line", std::string(line)}}); });
    }
    close(fd);
  }

  // Waits for the child to die, reaps it, and restarts it with backoff until Stop().
  void Supervise() {
    int64_t backoff = options_.restart_backoff_ms;
    while (true) {
      pid_t pid;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || child_exited_; });
        if (stopping_) return;
        pid = child_pid_;
        child_pid_ = -1;
      }
      int wstatus = 0;
      if (pid > 0) waitpid(pid, &wstatus, 0);
      log::Error("upstream exited; restarting",
                 {{"pid", pid}, {"status", WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -WTERMSIG(wstatus)},
                  {"backoff_ms", backoff}});
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, std::chrono::milliseconds(backoff), [&] { return stopping_; })) return;
      }
      Status s = SpawnAndInitialize();
      if (s.ok()) {
        backoff = options_.restart_backoff_ms;
      } else {
        log::Error("upstream restart failed", {{"error", s.ToString()}});
        backoff = std::min<int64_t>(backoff * 2, 30000);
        std::lock_guard<std::mutex> lock(mu_);
        child_exited_ = true;
      }
    }
  }

  void KillChild() {
    pid_t pid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pid = child_pid_;
    }
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      if (stdin_fd_ >= 0) close(stdin_fd_);
      stdin_fd_ = -1;
    }
    if (pid > 0) {
      kill(pid, SIGTERM);
      for (int i = 0; i < 200; ++i) {  // up to 2 s for a graceful exit, then SIGKILL
        if (waitpid(pid, nullptr, WNOHANG) == pid) {
          std::lock_guard<std::mutex> lock(mu_);
          if (child_pid_ == pid) child_pid_ = -1;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      std::lock_guard<std::mutex> lock(mu_);
      if (child_pid_ == pid) child_pid_ = -1;
    }
  }

  void JoinReaders() {
    if (stdout_reader_.joinable() && stdout_reader_.get_id() != std::this_thread::get_id()) stdout_reader_.join();
    if (stderr_reader_.joinable()) stderr_reader_.join();
  }

  const Options options_;
  Correlator correlator_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;        // guarded by mu_
  bool child_exited_ = false;    // guarded by mu_
  pid_t child_pid_ = -1;         // guarded by mu_
  Json initialize_result_;       // guarded by mu_

  std::mutex write_mu_;
  int stdin_fd_ = -1;            // guarded by write_mu_

  std::thread supervisor_;
  std::thread stdout_reader_;
  std::thread stderr_reader_;
  PeriodicThread watchdog_;  // request timeouts (CancelOverdue); stopped first in Stop()
};

}  // namespace

std::unique_ptr<Upstream> MakeStdioUpstream(const Options& options) {
  return std::make_unique<StdioUpstream>(options);
}

}  // namespace holdgate::upstream
