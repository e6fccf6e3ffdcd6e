#pragma once
// A raw TCP connection to a loopback listener, for tests that send bytes no HTTP client would
// (ambiguous framing, headers trickled one line at a time). Header-only; blocking; one thread.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

namespace holdgate::testing {

class RawConn {
 public:
  // Connects to 127.0.0.1:port from `source` (any 127/8 address, so tests can stand for several
  // clients). ok() tells whether it connected.
  // Takes over a connected socket (one end of a socketpair).
  static RawConn Adopt(int fd) { return RawConn(AdoptTag{}, fd); }
  RawConn(RawConn&& other) noexcept : fd_(other.fd_), ok_(other.ok_) { other.fd_ = -1; }

  explicit RawConn(int port, const char* source = "127.0.0.1") {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, source, &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src)) == 0 &&
          connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) == 0;
  }
  ~RawConn() {
    if (fd_ >= 0) close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool ok() const { return ok_; }
  bool Send(const std::string& s) {
    return send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Everything received until the peer closes (*closed = true) or `timeout_ms` passes.
  std::string ReadAll(int timeout_ms, bool* closed = nullptr) { return Read(nullptr, timeout_ms, closed); }
  // What is received until it contains `needle` (returned at once then), the peer closes or
  // `timeout_ms` passes; a test asserts on the result.
  std::string ReadUntil(const std::string& needle, int timeout_ms) { return Read(&needle, timeout_ms, nullptr); }
  // Without waiting: true once the peer has closed (buffered bytes are consumed).
  bool PeerClosed() {
    char buf[4096];
    while (true) {
      ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    }
  }

 private:
  std::string Read(const std::string* needle, int timeout_ms, bool* closed) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    if (closed != nullptr) *closed = false;
    while (std::chrono::steady_clock::now() < until) {
      if (needle != nullptr && out.find(*needle) != std::string::npos) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed != nullptr) *closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  struct AdoptTag {};
  RawConn(AdoptTag, int fd) : fd_(fd), ok_(fd >= 0) {}

  int fd_ = -1;
  bool ok_ = false;
};

}  // namespace holdgate::testing
