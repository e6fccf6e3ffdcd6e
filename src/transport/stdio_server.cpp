#include "transport/stdio_server.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <vector>

#include "common/crypto.h"
#include "common/line_splitter.h"
#include "common/log.h"

namespace holdgate::transport {
namespace {

// Serialises whole lines onto the output fd.
class LineWriter {
 public:
  explicit LineWriter(int fd) : fd_(fd) {}
  void Write(const Json& message) {
    std::string line = DumpJson(message);
    line.push_back('\n');
    std::lock_guard<std::mutex> lock(mu_);
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // the agent closed its end; Run() will see EOF
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

 private:
  const int fd_;
  std::mutex mu_;
};

class StdioSession final : public Session {
 public:
  StdioSession(std::string principal, std::shared_ptr<LineWriter> writer)
      : Session(RandomHex(8), principal, "stdio"), writer_(std::move(writer)) {}
  void SendUnsolicited(const Json& message) override { writer_->Write(message); }

 private:
  std::shared_ptr<LineWriter> writer_;
};

class StdioClientStream final : public ClientStream {
 public:
  explicit StdioClientStream(std::shared_ptr<LineWriter> writer) : writer_(std::move(writer)) {}
  void SendRelated(const Json& message) override {
    if (!finished()) writer_->Write(message);
  }
  void Finish(const Json& response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
      on_gone_ = nullptr;
    }
    writer_->Write(response);
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    on_gone_ = nullptr;
  }
  bool finished() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }
  void SetGoneCallback(std::function<void()> on_gone) override {
    std::lock_guard<std::mutex> lock(mu_);
    on_gone_ = std::move(on_gone);
  }
  void MarkGone() {
    std::function<void()> cb;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      cb = std::move(on_gone_);
      on_gone_ = nullptr;
    }
    if (cb) cb();
  }

 private:
  std::shared_ptr<LineWriter> writer_;
  mutable std::mutex mu_;
  bool finished_ = false;          // guarded by mu_
  std::function<void()> on_gone_;  // guarded by mu_
};

}  // namespace

class StdioServer::Impl {
 public:
  Impl(StdioServerOptions options, Dispatcher& dispatcher)
      : options_(std::move(options)),
        dispatcher_(dispatcher),
        writer_(std::make_shared<LineWriter>(options_.out_fd)),
        session_(std::make_shared<StdioSession>(options_.principal, writer_)) {
    if (pipe(stop_pipe_) != 0) stop_pipe_[0] = stop_pipe_[1] = -1;
  }
  ~Impl() {
    if (stop_pipe_[0] >= 0) close(stop_pipe_[0]);
    if (stop_pipe_[1] >= 0) close(stop_pipe_[1]);
  }

  void Run() {
    LineSplitter lines(options_.max_line_bytes);
    char chunk[65536];
    while (true) {
      struct pollfd fds[2] = {{options_.in_fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      int rc = poll(fds, stop_pipe_[0] >= 0 ? 2 : 1, -1);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0 || (fds[1].revents & POLLIN)) break;
      ssize_t n = ::read(options_.in_fd, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!lines.Feed(std::string_view(chunk, static_cast<size_t>(n)), [this](std::string_view line) { HandleLine(line); })) {
        writer_->Write(mcp::MakeError(nullptr, mcp::kInvalidRequest, "Invalid Request: message too large"));
      }
    }
    // EOF: the agent is gone. Streams still open learn it; then the session closes.
    std::vector<std::shared_ptr<StdioClientStream>> open;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& w : streams_) {
        if (auto s = w.lock()) open.push_back(s);
      }
      streams_.clear();
    }
    for (auto& s : open) s->MarkGone();
    dispatcher_.OnSessionClosed(session_);
  }

  void Stop() {
    if (stop_pipe_[1] >= 0) {
      char c = 'x';
      (void)!::write(stop_pipe_[1], &c, 1);
    }
  }

  std::shared_ptr<Session> session() const { return session_; }

 private:
  void HandleLine(std::string_view line) {
    mcp::Message msg;
    mcp::RpcError err = mcp::ParseMessage(line, &msg);
    if (!err.ok()) {
      writer_->Write(mcp::MakeError(err.id, err.code, err.message));
      return;
    }
    if (!msg.is_request()) {
      dispatcher_.OnMessage(session_, msg);
      return;
    }
    auto stream = std::make_shared<StdioClientStream>(writer_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Drop finished streams now and then so the list stays small.
      if (streams_.size() > 1024) {
        std::erase_if(streams_, [](const std::weak_ptr<StdioClientStream>& w) {
          auto s = w.lock();
          return !s || s->finished();
        });
      }
      streams_.push_back(stream);
    }
    dispatcher_.OnRequest(session_, msg, stream);
  }

  const StdioServerOptions options_;
  Dispatcher& dispatcher_;
  std::shared_ptr<LineWriter> writer_;
  std::shared_ptr<StdioSession> session_;
  int stop_pipe_[2] = {-1, -1};
  std::mutex mu_;
  std::vector<std::weak_ptr<StdioClientStream>> streams_;  // guarded by mu_
};

StdioServer::StdioServer(StdioServerOptions options, Dispatcher& dispatcher)
    : impl_(std::make_unique<Impl>(std::move(options), dispatcher)) {}
StdioServer::~StdioServer() = default;
void StdioServer::Run() { impl_->Run(); }
void StdioServer::Stop() { impl_->Stop(); }
std::shared_ptr<Session> StdioServer::session() const { return impl_->session(); }

}  // namespace holdgate::transport
