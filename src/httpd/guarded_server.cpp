#include "httpd/guarded_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/text.h"

namespace holdgate::httpd {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Set on the accepting thread while it runs a connection inline because no thread could be
// started for it: the connection is refused at once.
thread_local bool tl_over_capacity = false;

// Thrown from the request-setup hook when the headers frame the request ambiguously; caught by
// the connection loop, which answers 400 and closes.
struct FramingRejected {
  std::string why;
};

// The address and port of a socket's peer (getpeername) or its own end (getsockname); empty and 0
// when the call fails.
template <typename Fn>
void SocketAddress(Fn fn, int fd, std::string& ip, int& port) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  ip.clear();
  port = 0;
  if (fn(fd, reinterpret_cast<struct sockaddr*>(&addr), &len) != 0) return;
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<struct sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<struct sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

// httplib's Stream over one connection, for all of its requests, with deadlines: the request
// head must arrive within header_timeout of its first byte, the body within body_timeout of the
// head's end, and the next request within idle_timeout. Reads wait in slices and give up when
// the listener stops.
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(socket_t fd, const ListenerLimits& limits, int64_t write_timeout_ms, const std::atomic<socket_t>& listener)
      : fd_(fd), limits_(limits), write_timeout_ms_(write_timeout_ms), listener_(listener) {}

  // Waits for the first byte of the next request (the first request gets header_timeout, later
  // ones idle_timeout) and starts its header deadline. False: closed, idle too long or stopping.
  bool NextRequest(bool first) {
    const auto now = SteadyClock::now();
    // Not TryFill first: an agent sends its next request only after reading this answer, so
    // it is rarely here yet, and the attempt would cost a system call for nothing.
    if (off_ >= len_) {
      const int64_t wait_ms = first ? limits_.header_timeout_ms : limits_.idle_timeout_ms;
      deadline_ = now + std::chrono::milliseconds(wait_ms);
      if (!WaitReadable()) return false;
    }
    deadline_ = SteadyClock::now() + std::chrono::milliseconds(limits_.header_timeout_ms);
    return true;
  }
  void HeadersDone() { deadline_ = SteadyClock::now() + std::chrono::milliseconds(limits_.body_timeout_ms); }
  bool timed_out() const { return timed_out_; }
  // Bytes read from the socket and not yet taken (after a request's body: the next request's).
  bool has_buffered_input() const { return off_ < len_; }

  bool is_readable() const override { return off_ < len_ || WaitReadable(); }

  bool is_writable() const override {
    struct pollfd p = {fd_, POLLOUT, 0};
    int rc;
    do {
      rc = poll(&p, 1, static_cast<int>(write_timeout_ms_));
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
    // Still there? A peer that closed reads as EOF.
    char c;
    ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
  }

  ssize_t read(char* ptr, size_t size) override {
    if (off_ < len_) return TakeBuffered(ptr, size);
    if (SteadyClock::now() >= deadline_) {  // bytes trickled in one at a time still meet it
      timed_out_ = true;
      return -1;
    }
    if (TryFill()) return TakeBuffered(ptr, size);
    if (eof_) return 0;
    if (!WaitReadable()) return -1;
    ssize_t n;
    do {
      n = recv(fd_, buf_, sizeof(buf_), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return n;
    off_ = 0;
    len_ = static_cast<size_t>(n);
    return TakeBuffered(ptr, size);
  }

  // A fixed-length response's head is held back and sent with the first body bytes in one
  // segment (Flush() sends a head without a body); a send to a peer that reset fails by itself.
  // Any other write goes out at once, so a streamed (SSE) reply is never delayed, and is refused
  // (-1) when the peer has closed, as is_writable() says.
  ssize_t write(const char* ptr, size_t size) override {
    if (head_.empty() && IsFixedLengthHead(ptr, size)) {
      head_.assign(ptr, size);
      return static_cast<ssize_t>(size);
    }
    if (!head_.empty()) {
      const size_t head = head_.size();
      struct iovec iov[2] = {{head_.data(), head}, {const_cast<char*>(ptr), size}};
      const ssize_t n = SendAll(iov, 2, head + size);
      head_.clear();
      if (n < 0 || static_cast<size_t>(n) < head) return -1;
      return n - static_cast<ssize_t>(head);
    }
    if (PeerClosed()) return -1;
    struct iovec iov = {const_cast<char*>(ptr), size};
    return SendAll(&iov, 1, size);
  }

  // Sends a held-back response head (a response without a body). False when it could not be sent.
  bool Flush() {
    if (head_.empty()) return true;
    struct iovec iov = {head_.data(), head_.size()};
    const ssize_t n = SendAll(&iov, 1, head_.size());
    const bool ok = n == static_cast<ssize_t>(head_.size());
    head_.clear();
    return ok;
  }

  // Asked for every request; a connection's addresses do not change, so they are read once.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    if (remote_port_ < 0) SocketAddress(getpeername, fd_, remote_ip_, remote_port_);
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    if (local_port_ < 0) SocketAddress(getsockname, fd_, local_ip_, local_port_);
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return fd_; }

 private:
  // One read without waiting, into the empty buffer: true when it brought bytes. Once
  // NextRequest has seen the request begin, it has usually arrived whole, so this spares a poll
  // before each read. Notes an orderly close in eof_.
  bool TryFill() {
    ssize_t n;
    do {
      n = recv(fd_, buf_, sizeof(buf_), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0) eof_ = true;
    if (n <= 0) return false;
    off_ = 0;
    len_ = static_cast<size_t>(n);
    return true;
  }

  ssize_t TakeBuffered(char* ptr, size_t size) {
    const size_t n = std::min(size, len_ - off_);
    std::memcpy(ptr, buf_ + off_, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }

  // Until the socket is readable (true), or the deadline passes or the listener stops (false).
  bool WaitReadable() const {
    constexpr int64_t kSliceMs = 250;  // how soon a stopping listener is noticed
    while (listener_.load() != INVALID_SOCKET) {
      const int64_t left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - SteadyClock::now()).count();
      if (left <= 0) {
        timed_out_ = true;
        return false;
      }
      struct pollfd p = {fd_, POLLIN, 0};
      const int rc = poll(&p, 1, static_cast<int>(std::min(left, kSliceMs)));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
    }
    return false;
  }

  // The peer sent FIN (or the socket failed): one non-blocking peek, no poll.
  bool PeerClosed() const {
    char c;
    ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return !(n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)));
  }

  // httplib writes a response's status line and headers in one write; a head that announces a
  // Content-Length is followed by its body within the same request.
  static bool IsFixedLengthHead(const char* ptr, size_t size) {
    const std::string_view text(ptr, size);
    return text.starts_with("HTTP/1.") && text.ends_with("\r\n\r\n") && text.find("\r\nContent-Length: ") != std::string_view::npos &&
           text.find("\r\nTransfer-Encoding:") == std::string_view::npos;
  }

  // Writes all of `iov` (sendmsg without waiting; polls for room, within the write timeout, only
  // when the socket buffer is full). Returns the bytes sent, or -1 when nothing could be sent.
  ssize_t SendAll(struct iovec* iov, int count, size_t total) {
    size_t sent = 0;
    while (sent < total) {
      struct msghdr msg = {};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(count);
      const ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return sent > 0 ? static_cast<ssize_t>(sent) : -1;
        struct pollfd p = {fd_, POLLOUT, 0};
        int rc;
        do {
          rc = poll(&p, 1, static_cast<int>(write_timeout_ms_));
        } while (rc < 0 && errno == EINTR);
        if (rc <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return sent > 0 ? static_cast<ssize_t>(sent) : -1;
        continue;
      }
      sent += static_cast<size_t>(n);
      for (size_t left = static_cast<size_t>(n); left > 0 && count > 0;) {  // skip what went out
        const size_t take = std::min(left, iov->iov_len);
        iov->iov_base = static_cast<char*>(iov->iov_base) + take;
        iov->iov_len -= take;
        left -= take;
        if (iov->iov_len == 0) ++iov, --count;
      }
    }
    return static_cast<ssize_t>(sent);
  }

  const socket_t fd_;
  const ListenerLimits& limits_;
  const int64_t write_timeout_ms_;
  const std::atomic<socket_t>& listener_;
  SteadyClock::time_point deadline_ = SteadyClock::now();
  mutable bool timed_out_ = false;
  char buf_[4096];
  size_t off_ = 0;
  size_t len_ = 0;
  bool eof_ = false;  // the peer closed its side (seen by TryFill)
  std::string head_;  // a fixed-length response's head, sent with its body
  mutable std::string remote_ip_, local_ip_;
  mutable int remote_port_ = -1, local_port_ = -1;
};

// The connection a GuardedServer thread is serving, for ParkConnection.
struct ServingConnection {
  ParkedConnections* parker = nullptr;  // null: this server does not park
  const ConnStream* stream = nullptr;
  std::shared_ptr<ParkedReply> parked;  // set by ParkConnection
};
thread_local ServingConnection* tl_serving = nullptr;

const char* Reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// Writes what fits of `data` and closes after the peer's last bytes, so the answer is read
// rather than lost to a reset caused by unread input. Bounded: at most ~200 ms.
void AnswerAndClose(socket_t fd, const std::string& data) {
  send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown(fd, SHUT_WR);
  const auto until = SteadyClock::now() + std::chrono::milliseconds(200);
  char sink[4096];
  while (SteadyClock::now() < until) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0) break;
  }
}

}  // namespace

// One detached thread per connection being served, with a small stack: a held call parks its
// connection's thread and nothing else waits behind it (a fixed pool would let as many held or
// trickling connections as it has threads block every other request). A thread whose connection
// ends waits a little (kSpareFor) as a spare, at most kMaxSpare of them, and serves the next
// connection instead of a new thread being started: an agent that reconnects for every call (a
// held call's reply closes its connection) or a parked connection that resumes then costs no
// thread creation, and keeps the thread's caches (its upstream connection, its trace ids).
class GuardedServer::Threads {
 public:
  Threads(size_t stack_bytes, size_t max_live) : stack_bytes_(stack_bytes), max_live_(max_live) {}

  // Runs `fn` on a thread of its own. When none can be started (the cap, or pthread_create
  // failed), it still runs (it owns the socket and closes it), here and at once, with
  // tl_over_capacity set so that it refuses the connection.
  void enqueue(std::function<void()> fn) {
    if (TryStart(fn)) return;
    tl_over_capacity = true;
    fn();
    tl_over_capacity = false;
  }

  // Hands `fn` (moved from) to a spare thread, or starts a thread for it, and returns true; or
  // returns false with `fn` untouched.
  bool TryStart(std::function<void()>& fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!spares_.empty()) {
        Spare* spare = spares_.back();
        spares_.pop_back();
        spare->task = std::move(fn);
        spare->cv.notify_one();
        return true;
      }
      if (live_ >= max_live_) return false;
      ++live_;
    }
    auto* arg = new Arg{this, std::move(fn)};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, stack_bytes_);
    pthread_t thread;
    const int rc = pthread_create(&thread, &attr, &Threads::Run, arg);
    pthread_attr_destroy(&attr);
    if (rc == 0) return true;
    log::Error("pthread_create failed; connection refused", {{"errno", rc}});
    fn = std::move(arg->task);
    delete arg;
    Done();
    return false;
  }

  // Ends the spare threads and waits until every connection's thread has ended. Later threads
  // are not kept as spares.
  void shutdown() {
    std::unique_lock<std::mutex> lock(mu_);
    stopping_ = true;
    for (Spare* spare : spares_) spare->cv.notify_one();
    cv_.wait(lock, [&] { return live_ == 0; });
  }

 private:
  static constexpr size_t kMaxSpare = 32;
  static constexpr std::chrono::seconds kSpareFor{2};

  struct Arg {
    Threads* self;
    std::function<void()> task;
  };
  // A thread waiting for its next connection; lives on that thread's stack.
  struct Spare {
    std::condition_variable cv;
    std::function<void()> task;  // guarded by mu_; set by TryStart
  };

  static void* Run(void* p) {
    auto* arg = static_cast<Arg*>(p);
    Threads* self = arg->self;
    std::function<void()> task = std::move(arg->task);
    delete arg;
    do {
      task();
      task = nullptr;
    } while (self->WaitAsSpare(&task));
    self->Done();
    return nullptr;
  }
  // Waits up to kSpareFor for a connection to serve; false when none came (or no spare is wanted).
  bool WaitAsSpare(std::function<void()>* task) {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_ || spares_.size() >= kMaxSpare) return false;
    Spare me;
    spares_.push_back(&me);
    me.cv.wait_for(lock, kSpareFor, [&] { return me.task != nullptr || stopping_; });
    if (me.task) {  // TryStart took it off the list
      *task = std::move(me.task);
      return true;
    }
    spares_.erase(std::find(spares_.begin(), spares_.end(), &me));
    return false;
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--live_ == 0) cv_.notify_all();
  }

  const size_t stack_bytes_;
  const size_t max_live_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t live_ = 0;              // guarded by mu_: threads started and not ended (spares too)
  std::vector<Spare*> spares_;   // guarded by mu_
  bool stopping_ = false;        // guarded by mu_
};

// The task queue httplib's accept loop gets: connections go to the server's Threads. When the
// accept loop ends, parked connections are closed first, then every connection thread is awaited.
class GuardedServer::QueueHandle final : public httplib::TaskQueue {
 public:
  explicit QueueHandle(GuardedServer* server) : server_(server) {}
  void enqueue(std::function<void()> fn) override { server_->threads_->enqueue(std::move(fn)); }
  void shutdown() override {
    if (server_->parked_) server_->parked_->Stop();
    server_->threads_->shutdown();
  }

 private:
  GuardedServer* const server_;
};

bool ParkConnection(std::shared_ptr<ParkedReply> reply) {
  ServingConnection* serving = tl_serving;
  if (serving == nullptr || serving->parker == nullptr || serving->stream->has_buffered_input() || serving->parked) return false;
  serving->parked = std::move(reply);
  return true;
}

void ReleaseStackBelowCaller(size_t keep_bytes) {
  // The stack's lowest address, found once per thread.
  thread_local uintptr_t stack_low = [] {
    pthread_attr_t attr;
    void* base = nullptr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return uintptr_t{0};
    const bool ok = pthread_attr_getstack(&attr, &base, &size) == 0;
    pthread_attr_destroy(&attr);
    return ok ? reinterpret_cast<uintptr_t>(base) : uintptr_t{0};
  }();
  if (stack_low == 0) return;
  volatile char here = 0;  // an address in this frame, just below the caller's
  const uintptr_t sp = reinterpret_cast<uintptr_t>(&here);
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  if (sp <= stack_low + keep_bytes + page) return;
  const uintptr_t begin = (stack_low + page - 1) & ~(page - 1);
  const uintptr_t end = (sp - keep_bytes) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

GuardedServer::GuardedServer(GuardOptions options)
    : options_(std::move(options)),
      threads_(std::make_unique<Threads>(options_.thread_stack_bytes, options_.limits.max_connections)) {
  if (options_.park_replies) {
    ParkedConnectionOptions parking;
    parking.heartbeat_ms = options_.heartbeat_ms;
    parking.heartbeat = options_.heartbeat;
    parking.idle_timeout_ms = options_.limits.idle_timeout_ms;
    parking.write_timeout_ms = options_.parked_write_timeout_ms;
    parking.resume = [this](int fd, const std::string& peer, size_t keep_alive_left) {
      std::function<void()> serve = [this, fd, peer, keep_alive_left] { Serve(fd, peer, keep_alive_left, /*first=*/false); };
      if (threads_->TryStart(serve)) return;
      // Runs on the parked loop's thread: answer without lingering for the peer's last bytes.
      const std::string refusal = Refusal(503, "Service Unavailable: too many open connections");
      send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(fd, SHUT_RDWR);
      ::close(fd);
      Release(peer);
    };
    parking.closed = [this](const std::string& peer) { Release(peer); };
    parked_ = std::make_unique<ParkedConnections>(std::move(parking));
  }
  new_task_queue = [this] { return new QueueHandle(this); };
  set_read_timeout(std::chrono::milliseconds(options_.limits.body_timeout_ms));
}

GuardedServer::~GuardedServer() {
  if (parked_) parked_->Stop();  // its callbacks use this object
}

std::string GuardedServer::FramingError(const httplib::Headers& headers) {
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of(" \t\r\n") != std::string::npos) return "malformed header name";
  }
  const size_t lengths = headers.count("Content-Length");
  const size_t encodings = headers.count("Transfer-Encoding");
  if (lengths > 0 && encodings > 0) return "Content-Length together with Transfer-Encoding";
  if (encodings > 1) return "more than one Transfer-Encoding";
  if (encodings == 1 && !EqualsIgnoreCase(TrimOws(headers.find("Transfer-Encoding")->second), "chunked")) {
    return "Transfer-Encoding other than chunked";
  }
  std::string length;
  auto [begin, end] = headers.equal_range("Content-Length");
  for (auto it = begin; it != end; ++it) {
    const std::string v(TrimOws(it->second));
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
      return "Content-Length is not a number";
    }
    if (!length.empty() && v != length) return "two different Content-Lengths";
    length = v;
  }
  return "";
}

bool GuardedServer::Admit(const std::string& ip) {
  std::lock_guard<std::mutex> lock(mu_);
  // Parked connections have no thread, so the thread cap alone does not bound them.
  if (options_.limits.max_connections > 0 && open_.load() >= options_.limits.max_connections) return false;
  const size_t cap = options_.limits.max_connections_per_ip;
  size_t& n = per_ip_[ip];
  if (cap > 0 && n >= cap) {
    if (n == 0) per_ip_.erase(ip);
    return false;
  }
  ++n;
  ++open_;
  return true;
}

void GuardedServer::Release(const std::string& ip) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  --open_;
}

std::string GuardedServer::Refusal(int status, const std::string& message) const {
  const std::string body = options_.error_body ? options_.error_body(message) : message;
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
  out += "Content-Type: " + options_.error_content_type + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += body;
  return out;
}

void GuardedServer::Refuse(socket_t sock, int status, const std::string& message) const {
  AnswerAndClose(sock, Refusal(status, message));
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  std::string ip;
  int port = 0;
  SocketAddress(getpeername, sock, ip, port);
  if (tl_over_capacity) {
    log::Debug("connection refused: too many open connections", {{"remote", ip}});
    Refuse(sock, 503, "Service Unavailable: too many open connections");
  } else if (!Admit(ip)) {
    log::Debug("connection refused: too many connections from one address", {{"remote", ip}});
    Refuse(sock, 503, "Service Unavailable: too many open connections from " + ip);
  } else {
    Serve(sock, ip, keep_alive_max_count_, /*first=*/true);
    return true;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return false;
}

void GuardedServer::Serve(socket_t sock, const std::string& ip, size_t keep_alive_left, bool first) {
  ConnStream strm(sock, options_.limits, write_timeout_sec_ * 1000 + write_timeout_usec_ / 1000, svr_sock_);
  ServingConnection serving{parked_.get(), &strm, nullptr};
  ServingConnection* const outer = tl_serving;
  tl_serving = &serving;
  size_t count = keep_alive_left;
  for (; svr_sock_ != INVALID_SOCKET && count > 0 && strm.NextRequest(first); first = false) {
    bool connection_closed = false;
    bool ok = false;
    try {
      ok = process_request(strm, count == 1, connection_closed, [&strm](httplib::Request& req) {
        strm.HeadersDone();
        std::string why = FramingError(req.headers);
        if (!why.empty()) throw FramingRejected{std::move(why)};
      });
    } catch (const FramingRejected& e) {
      log::Warn("request refused: ambiguous framing", {{"why", e.why}, {"remote", ip}});
      Refuse(sock, 400, "Bad Request: " + e.why);
      break;
    }
    if (serving.parked) {  // the rest of the reply, and the connection, belong to the parker now
      tl_serving = outer;
      parked_->Adopt(sock, ip, std::move(serving.parked), connection_closed || count == 1, count - 1);
      return;
    }
    if (!strm.Flush()) break;  // a response without a body: its head goes now
    if (strm.timed_out()) {
      log::Debug("connection closed: request not received in time", {{"remote", ip}});
      break;
    }
    if (!ok || connection_closed) break;
    --count;
  }
  tl_serving = outer;
  Release(ip);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
}

}  // namespace holdgate::httpd
