#include "upstream/session_pool.h"

#include "common/log.h"

namespace holdgate::upstream {

bool ParseSessionMode(const std::string& text, SessionMode* out) {
  if (text == "per_agent") *out = SessionMode::kPerAgent;
  else if (text == "shared") *out = SessionMode::kShared;
  else return false;
  return true;
}

const char* SessionModeName(SessionMode mode) { return mode == SessionMode::kPerAgent ? "per_agent" : "shared"; }

bool WantsOwnSession(const std::string& protocol_version) {
  // Versions are dates: a plain string comparison orders them.
  return protocol_version.size() == 10 && protocol_version >= "2025-03-26";
}

SessionPool::SessionPool(Options base, size_t max_sessions, Factory factory)
    : base_(std::move(base)),
      max_sessions_(max_sessions),
      factory_(factory ? std::move(factory) : Factory([](const Options& o) {
        return o.command.empty() ? MakeHttpUpstream(o) : MakeStdioUpstream(o);
      })),
      closer_([this] { RunCloser(); }) {}

SessionPool::~SessionPool() { Stop(); }

Result<std::shared_ptr<Upstream>> SessionPool::Open(const AgentHello& hello, UnsolicitedFn unsolicited) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Unavailable("holdgate is shutting down");
    if (max_sessions_ > 0 && count_ >= max_sessions_) {
      return Status(Code::kResourceExhausted,
                    "holdgate already has " + std::to_string(count_) + " upstream sessions open, its limit "
                    "(upstream.max_sessions); try again when another agent session has ended");
    }
    ++count_;
  }
  Options options = base_;
  options.client_info = hello.client_info;
  options.client_capabilities = hello.capabilities.is_object() ? hello.capabilities : Json::object();
  options.protocol_version = hello.protocol_version;
  options.keep_caller_ids = true;  // one agent: its ids and tokens go upstream as it sent them
  std::shared_ptr<Upstream> session = factory_(options);
  std::weak_ptr<Upstream> weak = session;
  session->SetUnsolicitedHandler([weak, unsolicited = std::move(unsolicited)](const Json& message) {
    if (auto s = weak.lock()) unsolicited(s, message);
  });
  Status started = session->Start();
  std::lock_guard<std::mutex> lock(mu_);
  if (!started.ok() || stopping_) {
    // Stopped by the closer, which also gives the slot back (a failed Start may leave threads).
    closing_.push_back(std::move(session));
    cv_.notify_all();
    if (!started.ok()) return started;
    return Unavailable("holdgate is shutting down");
  }
  open_.insert(session);
  return session;
}

void SessionPool::Close(std::shared_ptr<Upstream> session) {
  if (!session) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (open_.erase(session) == 0) return;  // not ours, or closed already
  closing_.push_back(std::move(session));
  cv_.notify_all();
}

void SessionPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !closer_.joinable()) return;
    stopping_ = true;
    for (auto& s : open_) closing_.push_back(s);
    open_.clear();
  }
  cv_.notify_all();
  if (closer_.joinable()) closer_.join();
}

size_t SessionPool::open_sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

void SessionPool::RunCloser() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !closing_.empty() || stopping_; });
    if (closing_.empty()) {
      // Stopping: wait for Opens still in their handshake (they hand their session over here).
      if (count_ == 0) return;
      cv_.wait(lock, [&] { return !closing_.empty() || count_ == 0; });
      continue;
    }
    std::shared_ptr<Upstream> session = std::move(closing_.front());
    closing_.pop_front();
    lock.unlock();
    session->Stop();  // HTTP: DELETE the session; stdio: end the child. In-flight requests fail.
    session.reset();
    lock.lock();
    --count_;
    if (count_ == 0) cv_.notify_all();
  }
}

}  // namespace holdgate::upstream
