#pragma once
// Bench harness: one epoll thread driving many non-blocking HTTP/1.1 client connections, each
// with at most one request in flight (keep-alive, no pipelining). A Driver reacts to what happens
// on the connections (connected, response head, SSE events, complete response, failure) and to a
// periodic tick. Everything runs on the thread that calls Run(); only Stop() may be called from
// another thread.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/harness/http_wire.h"

namespace holdgate::bench {

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One client connection. The fields after the wire state belong to the driver.
struct Conn {
  size_t id = 0;
  int fd = -1;
  bool connecting = false;
  std::string out;
  size_t out_off = 0;
  std::string in;
  ResponseParser parser;
  bool awaiting = false;  // a request was sent and its response is not complete yet
  bool head_seen = false;

  // Driver state.
  int stage = 0;
  int64_t sent_ns = 0;
  int64_t mark_ns = 0;
  uint64_t next_id = 1;
  std::string session_id;
  std::string protocol;
};

class Loop;

class Driver {
 public:
  virtual ~Driver() = default;
  virtual void OnConnected(Loop&, Conn&) {}
  virtual void OnHead(Loop&, Conn&) {}
  // conn.parser.events() holds the SSE payloads parsed so far; a driver that reads them as they
  // come clears them (by default they stay for OnResponse).
  virtual void OnEvents(Loop&, Conn&) {}
  virtual void OnResponse(Loop&, Conn&) = 0;
  virtual void OnFailed(Loop&, Conn&, const std::string& why) = 0;
  virtual void OnTick(Loop&, int64_t /*now_ns*/) {}
  virtual bool Done() const = 0;
};

class Loop {
 public:
  explicit Loop(Endpoint endpoint) : endpoint_(std::move(endpoint)) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(static_cast<uint16_t>(endpoint_.port));
    inet_pton(AF_INET, endpoint_.host == "localhost" ? "127.0.0.1" : endpoint_.host.c_str(), &addr_.sin_addr);
  }
  ~Loop() {
    for (auto& c : conns_) CloseFd(*c);
    close(wake_fd_);
    close(epfd_);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }
  size_t size() const { return conns_.size(); }
  Conn& conn(size_t i) { return *conns_[i]; }

  Conn& NewConn() {
    conns_.push_back(std::make_unique<Conn>());
    conns_.back()->id = conns_.size() - 1;
    return *conns_.back();
  }

  // Starts a non-blocking connect; Driver::OnConnected follows (or OnFailed).
  void Open(Conn& c) {
    if (c.fd >= 0) return;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      pending_failures_.push_back({c.id, std::string("socket: ") + std::strerror(errno)});
      return;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof(addr_));
    if (rc != 0 && errno != EINPROGRESS) {
      std::string why = std::string("connect: ") + std::strerror(errno);
      CloseFd(c);
      pending_failures_.push_back({c.id, why});
      return;
    }
    c.connecting = true;
    c.in.clear();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = c.id;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev);
    ++open_count_;
  }

  // Sends one request and expects its response. Reconnects first if the connection is closed.
  void Send(Conn& c, std::string request) {
    c.out = std::move(request);
    c.out_off = 0;
    c.parser.Reset();
    c.awaiting = true;
    c.head_seen = false;
    c.sent_ns = NowNs();
    if (c.fd < 0) {
      Open(c);
      return;  // flushed once connected
    }
    if (!c.connecting) Flush(c);
  }

  void Close(Conn& c) {
    c.awaiting = false;
    CloseFd(c);
  }
  void CloseAll() {
    for (auto& c : conns_) Close(*c);
  }
  size_t open_count() const { return open_count_; }

  // Runs until the driver is done, Stop() is called, or `max_ms` passes. Returns true when done.
  bool Run(Driver& driver, int tick_ms, int64_t max_ms) {
    const int64_t deadline = NowNs() + max_ms * 1'000'000;
    int64_t next_tick = NowNs() + tick_ms * 1'000'000LL;
    std::vector<epoll_event> events(1024);
    while (!driver.Done()) {
      DeliverPendingFailures(driver);
      if (driver.Done()) break;
      if (stop_.load(std::memory_order_relaxed)) return false;
      int64_t now = NowNs();
      if (now >= deadline) return false;
      if (now >= next_tick) {
        driver.OnTick(*this, now);
        next_tick = now + tick_ms * 1'000'000LL;
        continue;
      }
      int timeout_ms = static_cast<int>((std::min(next_tick, deadline) - now) / 1'000'000) + 1;
      int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout_ms);
      if (n < 0 && errno != EINTR) return false;
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kWakeTag) {
          uint64_t v;
          while (read(wake_fd_, &v, sizeof(v)) > 0) {
          }
          continue;
        }
        Conn& c = *conns_[events[i].data.u64];
        if (c.fd < 0) continue;
        Handle(driver, c, events[i].events);
      }
    }
    return true;
  }

  void Stop() {
    stop_.store(true);
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof(one));
    (void)ignored;
  }

 private:
  static constexpr uint64_t kWakeTag = ~uint64_t{0};

  struct PendingFailure {
    size_t id;
    std::string why;
  };

  void DeliverPendingFailures(Driver& driver) {
    while (!pending_failures_.empty()) {
      PendingFailure f = std::move(pending_failures_.back());
      pending_failures_.pop_back();
      Conn& c = *conns_[f.id];
      c.awaiting = false;
      driver.OnFailed(*this, c, f.why);
    }
  }

  void CloseFd(Conn& c) {
    if (c.fd < 0) return;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    c.connecting = false;
    --open_count_;
  }

  void Fail(Driver& driver, Conn& c, const std::string& why) {
    CloseFd(c);
    c.awaiting = false;
    driver.OnFailed(*this, c, why);
  }

  void WantWrite(Conn& c, bool on) {
    epoll_event ev{};
    ev.events = on ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.u64 = c.id;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  // Writes what it can; keeps EPOLLOUT armed while something is left.
  bool Flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (w > 0) {
        c.out_off += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        WantWrite(c, true);
        return true;
      }
      return false;
    }
    c.out.clear();
    c.out_off = 0;
    return true;
  }

  void Handle(Driver& driver, Conn& c, uint32_t events) {
    if (c.connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return Fail(driver, c, std::string("connect: ") + std::strerror(err));
      c.connecting = false;
      WantWrite(c, false);
      if (!c.out.empty()) {
        c.sent_ns = NowNs();
        if (!Flush(c)) return Fail(driver, c, std::string("send: ") + std::strerror(errno));
      } else {
        driver.OnConnected(*this, c);
      }
      if (c.fd < 0) return;
    }
    if ((events & EPOLLOUT) && !c.connecting && !c.out.empty()) {
      if (!Flush(c)) return Fail(driver, c, std::string("send: ") + std::strerror(errno));
      if (c.out.empty()) WantWrite(c, false);
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) Read(driver, c);
  }

  void Read(Driver& driver, Conn& c) {
    char buf[65536];
    bool eof = false;
    while (true) {
      ssize_t r = recv(c.fd, buf, sizeof(buf), 0);
      if (r > 0) {
        if (c.awaiting) c.in.append(buf, static_cast<size_t>(r));
        if (static_cast<size_t>(r) < sizeof(buf)) break;
        continue;
      }
      if (r == 0) {
        eof = true;
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      if (c.awaiting) return Fail(driver, c, std::string("recv: ") + std::strerror(errno));
      CloseFd(c);
      return;
    }
    if (c.awaiting && !c.in.empty()) {
      if (!c.parser.Feed(c.in)) return Fail(driver, c, "malformed HTTP response");
      if (c.parser.head_ready() && !c.head_seen) {
        c.head_seen = true;
        driver.OnHead(*this, c);
        if (c.fd < 0 || !c.awaiting) return;
      }
      if (!c.parser.events().empty()) {
        driver.OnEvents(*this, c);
        if (c.fd < 0 || !c.awaiting) return;
      }
    }
    if (eof && c.awaiting) c.parser.OnEof();
    if (c.awaiting && c.parser.done()) {
      c.awaiting = false;
      if (c.parser.head().close || eof) CloseFd(c);
      driver.OnResponse(*this, c);
      return;
    }
    if (eof) {
      if (c.awaiting) return Fail(driver, c, "connection closed before the response ended");
      CloseFd(c);  // an idle keep-alive connection the server let go; Send() reconnects
    }
  }

  Endpoint endpoint_;
  sockaddr_in addr_{};
  int epfd_ = -1;
  int wake_fd_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<PendingFailure> pending_failures_;
  size_t open_count_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace holdgate::bench
