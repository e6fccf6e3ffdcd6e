#include "httpd/parked_connections.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "common/log.h"

namespace holdgate::httpd {
namespace {

constexpr uint64_t kWakeupKey = 0;  // epoll key of the eventfd; connections count from 1
constexpr int kMaxEvents = 256;
constexpr size_t kKeepCapacity = 4096;  // an output buffer larger than this is freed once sent

// Appends `body` as one HTTP/1.1 chunk.
void AppendChunk(std::string* out, const std::string& body) {
  char size[20];
  const int n = std::snprintf(size, sizeof(size), "%zx\r\n", body.size());
  out->append(size, static_cast<size_t>(n));
  out->append(body);
  out->append("\r\n");
}

void CloseSocket(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace

// Wake-ups from replies: ids queued for the loop, and the eventfd that rouses it. Shared with
// the replies' wake functions, so a late wake-up after the loop ended is harmless.
struct ParkedConnections::Wakeups {
  Wakeups() : fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Wakeups() {
    if (fd >= 0) ::close(fd);
  }
  void Wake(uint64_t id) {
    bool first = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      first = ready.empty();
      ready.push_back(id);
    }
    if (first) Rouse();
  }
  void Rouse() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof(one));
  }
  // Resets the eventfd. Called before the loop looks at what was queued: whatever is queued
  // later rouses the loop again, so nothing waits for another wake-up.
  void Clear() const {
    uint64_t count;
    [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof(count));
  }
  std::vector<uint64_t> Take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::exchange(ready, {});
  }

  const int fd;
  std::mutex mu;
  std::vector<uint64_t> ready;  // guarded by mu
};

struct ParkedConnections::Conn {
  uint64_t id = 0;
  int fd = -1;
  std::string peer;
  std::shared_ptr<ParkedReply> reply;
  bool close_after = false;
  bool heartbeats = true;  // the reply's WantsHeartbeats
  size_t keep_alive_left = 0;
  bool ended = false;  // the reply's last chunk is in `out` (or sent)
  bool idle = false;   // the reply is sent; waiting for the next request
  std::string out;     // bytes not yet sent, from out_off
  size_t out_off = 0;
  uint32_t watching = 0;
  SteadyClock::time_point last_write;  // the last write that made progress
  SteadyClock::time_point idle_deadline;
};

ParkedConnections::ParkedConnections(ParkedConnectionOptions options)
    : options_(std::move(options)), wakeups_(std::make_shared<Wakeups>()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeupKey;
  if (epoll_fd_ < 0 || wakeups_->fd < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wakeups_->fd, &ev) != 0) {
    // Without a loop nothing can be parked: Adopt closes at once, as after Stop.
    log::Error("cannot start the parked-connection loop", {{"errno", errno}});
    stopping_ = true;
    return;
  }
  thread_ = std::thread([this] { Loop(); });
}

ParkedConnections::~ParkedConnections() {
  Stop();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void ParkedConnections::Adopt(int fd, std::string peer, std::shared_ptr<ParkedReply> reply, bool close_after,
                              size_t keep_alive_left) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      adopted_.push_back(Adoption{fd, std::move(peer), std::move(reply), close_after, keep_alive_left});
      ++count_;
      wakeups_->Rouse();
      return;
    }
  }
  reply->Abandoned();
  CloseSocket(fd);
  if (options_.closed) options_.closed(peer);
}

void ParkedConnections::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wakeups_->Rouse();
  if (thread_.joinable()) thread_.join();
}

void ParkedConnections::Loop() {
  const int64_t shortest = std::min(options_.heartbeat.empty() ? options_.idle_timeout_ms : options_.heartbeat_ms,
                                    options_.idle_timeout_ms);
  const auto sweep_every = std::chrono::milliseconds(std::clamp<int64_t>(shortest / 4, 20, 1000));
  auto next_sweep = SteadyClock::now() + sweep_every;
  struct epoll_event events[kMaxEvents];
  for (;;) {
    // Heartbeats still due go out a few at a time between rounds of events, so that an answer
    // never waits behind thousands of them.
    const int64_t wait_ms =
        heartbeats_due_.empty()
            ? std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(next_sweep - SteadyClock::now()).count()) + 1
            : 0;
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>(wait_ms));
    if (n < 0 && errno != EINTR) {
      log::Error("parked-connection loop failed", {{"errno", errno}});
      break;
    }
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      // epoll_event is packed on x86-64: copy its fields out rather than bind references to them.
      const uint64_t key = events[i].data.u64;
      const uint32_t what = events[i].events;
      if (key == kWakeupKey) {
        woken = true;
        continue;
      }
      auto it = conns_.find(key);
      if (it != conns_.end()) OnSocketEvent(*it->second, what);
    }
    if (woken) {
      wakeups_->Clear();
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) break;
      }
      TakeQueued();
    }
    const auto now = SteadyClock::now();
    if (now >= next_sweep) {
      Sweep(now);
      next_sweep = now + sweep_every;
    }
    SendHeartbeats(now);
  }
  Drain();
}

void ParkedConnections::TakeAdopted() {
  std::vector<Adoption> adopted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    adopted.swap(adopted_);
  }
  const auto now = SteadyClock::now();
  for (Adoption& a : adopted) {
    auto conn = std::make_unique<Conn>();
    conn->id = next_id_++;
    conn->fd = a.fd;
    conn->peer = std::move(a.peer);
    conn->reply = std::move(a.reply);
    conn->close_after = a.close_after;
    conn->heartbeats = conn->reply->WantsHeartbeats();
    conn->keep_alive_left = a.keep_alive_left;
    conn->last_write = now;
    struct epoll_event ev = {};
    ev.events = EPOLLRDHUP;
    ev.data.u64 = conn->id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, conn->fd, &ev) != 0) {
      log::Error("cannot watch a parked connection", {{"errno", errno}});
      conn->reply->Abandoned();
      CloseSocket(conn->fd);
      --count_;
      if (options_.closed) options_.closed(conn->peer);
      continue;
    }
    conn->watching = EPOLLRDHUP;
    Conn& c = *conn;
    conns_.emplace(c.id, std::move(conn));
    std::weak_ptr<Wakeups> wakeups = wakeups_;
    c.reply->SetWakeup([wakeups, id = c.id] {
      if (auto w = wakeups.lock()) w->Wake(id);
    });
    Pump(c);  // anything that arrived before the wake-up was installed
  }
}

void ParkedConnections::OnSocketEvent(Conn& conn, uint32_t events) {
  if (conn.idle) {
    char c;
    const ssize_t n = recv(conn.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {  // the next request: back to a thread
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn.fd, nullptr);
      const int fd = conn.fd;
      const std::string peer = std::move(conn.peer);
      const size_t left = conn.keep_alive_left;
      conns_.erase(conn.id);
      --count_;
      options_.resume(fd, peer, left);
      return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    Close(conn.id, false);
    return;
  }
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    Close(conn.id, !conn.ended);
    return;
  }
  if (events & EPOLLOUT) Flush(conn);
}

void ParkedConnections::Pump(Conn& conn) {
  if (conn.ended || conn.idle) return;
  std::string body;
  const bool ended = conn.reply->TakeReady(&body);
  if (!body.empty()) AppendChunk(&conn.out, body);
  if (ended) {
    conn.out.append("0\r\n\r\n");
    conn.ended = true;
    conn.close_after = conn.close_after || conn.reply->CloseAfter();
    conn.reply->SetWakeup(nullptr);
  }
  Flush(conn);
}

bool ParkedConnections::Flush(Conn& conn) {
  while (conn.out_off < conn.out.size()) {
    const ssize_t n = send(conn.fd, conn.out.data() + conn.out_off, conn.out.size() - conn.out_off,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      conn.out_off += static_cast<size_t>(n);
      conn.last_write = SteadyClock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Watch(conn, EPOLLRDHUP | EPOLLOUT);
      return true;
    }
    Close(conn.id, !conn.ended);
    return false;
  }
  if (conn.out.capacity() > kKeepCapacity) std::string().swap(conn.out);
  else conn.out.clear();
  conn.out_off = 0;
  if (!conn.ended) {
    Watch(conn, EPOLLRDHUP);
    return true;
  }
  bool stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping = stopping_;
  }
  if (conn.close_after || conn.keep_alive_left == 0 || stopping || !options_.resume) {
    Close(conn.id, false);
    return false;
  }
  conn.reply.reset();
  conn.idle = true;
  conn.idle_deadline = SteadyClock::now() + std::chrono::milliseconds(options_.idle_timeout_ms);
  Watch(conn, EPOLLIN | EPOLLRDHUP);
  return true;
}

void ParkedConnections::Watch(Conn& conn, uint32_t events) {
  if (conn.watching == events) return;
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = conn.id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.fd, &ev) == 0) conn.watching = events;
}

void ParkedConnections::Close(uint64_t id, bool abandon) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  std::unique_ptr<Conn> conn = std::move(it->second);
  conns_.erase(it);
  --count_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn->fd, nullptr);
  if (conn->reply) {
    conn->reply->SetWakeup(nullptr);
    if (abandon) conn->reply->Abandoned();
  }
  CloseSocket(conn->fd);
  if (options_.closed) options_.closed(conn->peer);
}

void ParkedConnections::Sweep(SteadyClock::time_point now) {
  // Close changes conns_: first collect, then act.
  std::vector<uint64_t> expired;
  const bool collect_heartbeats = heartbeats_due_.empty() && !options_.heartbeat.empty();
  for (auto& [id, conn] : conns_) {
    if (conn->idle) {
      if (now >= conn->idle_deadline) expired.push_back(id);
    } else if (conn->out_off < conn->out.size()) {
      if (now - conn->last_write >= std::chrono::milliseconds(options_.write_timeout_ms)) expired.push_back(id);
    } else if (collect_heartbeats && conn->heartbeats && !conn->ended && HeartbeatDue(*conn, now)) {
      heartbeats_due_.push_back(id);
    }
  }
  for (uint64_t id : expired) {
    auto it = conns_.find(id);
    if (it != conns_.end()) Close(id, !it->second->ended);
  }
}

bool ParkedConnections::HeartbeatDue(const Conn& conn, SteadyClock::time_point now) const {
  return now - conn.last_write >= std::chrono::milliseconds(options_.heartbeat_ms);
}

void ParkedConnections::SendHeartbeats(SteadyClock::time_point now) {
  constexpr size_t kPerRound = 32;
  size_t sent = 0;
  while (!heartbeats_due_.empty() && sent < kPerRound) {
    const uint64_t id = heartbeats_due_.back();
    heartbeats_due_.pop_back();
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;  // closed or resumed meanwhile
    Conn& conn = *it->second;
    // Whatever was written since the sweep counts as a heartbeat.
    if (conn.ended || conn.idle || conn.out_off < conn.out.size() || !HeartbeatDue(conn, now)) continue;
    AppendChunk(&conn.out, options_.heartbeat);
    Flush(conn);
    ++sent;
  }
}

void ParkedConnections::TakeQueued() {
  TakeAdopted();
  for (uint64_t id : wakeups_->Take()) {
    auto it = conns_.find(id);
    if (it != conns_.end()) Pump(*it->second);
  }
}

void ParkedConnections::Drain() {
  TakeQueued();
  std::vector<uint64_t> ids;
  ids.reserve(conns_.size());
  for (const auto& [id, conn] : conns_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = conns_.find(id);
    if (it != conns_.end()) Close(id, !it->second->ended);
  }
}

}  // namespace holdgate::httpd
