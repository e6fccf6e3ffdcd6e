#include "upstream/http_conn.h"

#include <httplib.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "common/text.h"

namespace holdgate::upstream {
namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kMaxLineBytes = 8 * 1024;  // a chunk-size or trailer line
constexpr char kUserAgent[] = "cpp-httplib/0.11.4";  // what the upstream saw before this client

constexpr char kConnectError[] = "Could not establish connection";
constexpr char kReadError[] = "Failed to read connection";
constexpr char kWriteError[] = "Failed to write connection";
constexpr char kCanceled[] = "Connection handling canceled";

// Whether the comma-separated header value lists `token` (case-insensitively).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    if (EqualsIgnoreCase(TrimOws(item), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

struct Origin {
  bool tls = false;
  std::string host;  // without brackets
  int port = 80;
  std::string host_header;
};

bool ParseOrigin(const std::string& origin, Origin* out) {
  std::string_view rest = origin;
  if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
  } else if (rest.rfind("https://", 0) == 0) {
    rest.remove_prefix(8);
    out->tls = true;
    out->port = 443;
  } else {
    return false;
  }
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return false;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return false;
      port = rest.substr(close + 2);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return false;
  if (!port.empty()) {
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), out->port);
    if (ec != std::errc() || p != port.data() + port.size() || out->port <= 0 || out->port > 65535) return false;
  }
  out->host = std::string(host);
  const bool default_port = out->port == (out->tls ? 443 : 80);
  const std::string bracketed = host.find(':') != std::string_view::npos ? "[" + out->host + "]" : out->host;
  out->host_header = default_port ? bracketed : bracketed + ":" + std::to_string(out->port);
  return true;
}

timeval ToTimeval(int64_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

}  // namespace

std::string HttpResponseHead::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

// ---- HttpResponseParser ------------------------------------------------------------------------

HttpResponseParser::HttpResponseParser(OnHttpHead on_head, OnHttpBody on_body)
    : on_head_(std::move(on_head)), on_body_(std::move(on_body)) {}

HttpResponseParser::Progress HttpResponseParser::Fail(std::string message) {
  error_ = std::move(message);
  reusable_ = false;
  state_ = Progress::kError;
  return state_;
}

bool HttpResponseParser::Deliver(std::string_view data) {
  if (data.empty() || !on_body_) return true;
  if (on_body_(data)) return true;
  state_ = Progress::kAbandoned;
  reusable_ = false;
  return false;
}

bool HttpResponseParser::DeliverCounted() {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size() - pos_));
  if (!Deliver(std::string_view(buf_.data() + pos_, n))) return false;
  pos_ += n;
  remaining_ -= n;
  return remaining_ == 0;
}

bool HttpResponseParser::NextLine(std::string_view* line) {
  size_t nl = buf_.find('\n', pos_);
  if (nl == std::string::npos) return false;
  std::string_view l(buf_.data() + pos_, nl - pos_);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  *line = l;
  pos_ = nl + 1;
  return true;
}

HttpResponseParser::Progress HttpResponseParser::Feed(std::string_view data) {
  if (state_ != Progress::kMore) return state_;
  if (phase_ == Phase::kDone) {
    if (!data.empty()) reusable_ = false;  // bytes nobody asked for: do not reuse
    return state_;
  }
  // Body bytes of a known length or until close go straight through when nothing is buffered.
  if (pos_ == buf_.size() && (phase_ == Phase::kUntilClose || phase_ == Phase::kLength)) {
    buf_.clear();
    pos_ = 0;
    if (phase_ == Phase::kUntilClose) {
      Deliver(data);
      return state_;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
    if (!Deliver(data.substr(0, n))) return state_;
    remaining_ -= n;
    if (remaining_ > 0) return state_;
    phase_ = Phase::kDone;
    reusable_ = keep_alive_ && n == data.size();
    state_ = Progress::kDone;
    return state_;
  }
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  buf_.append(data);
  return Run();
}

HttpResponseParser::Progress HttpResponseParser::Eof() {
  if (state_ != Progress::kMore) return state_;
  if (phase_ == Phase::kUntilClose) {
    phase_ = Phase::kDone;
    reusable_ = false;
    state_ = Progress::kDone;
    return state_;
  }
  return Fail("the connection closed before the response was complete");
}

HttpResponseParser::Progress HttpResponseParser::Run() {
  while (state_ == Progress::kMore) {
    switch (phase_) {
      case Phase::kHead: {
        size_t end = std::string::npos, after = 0;
        for (size_t nl = buf_.find('\n', pos_); nl != std::string::npos; nl = buf_.find('\n', nl + 1)) {
          // An empty line ("\n" or "\r\n" right after the previous "\n") ends the head.
          if (nl + 1 < buf_.size() && buf_[nl + 1] == '\n') {
            end = nl + 1, after = nl + 2;
            break;
          }
          if (nl + 2 < buf_.size() && buf_[nl + 1] == '\r' && buf_[nl + 2] == '\n') {
            end = nl + 1, after = nl + 3;
            break;
          }
        }
        if (end == std::string::npos) {
          if (buf_.size() - pos_ > kMaxHeadBytes) return Fail("response head too large");
          return state_;
        }
        if (end - pos_ > kMaxHeadBytes) return Fail("response head too large");
        std::string_view head(buf_.data() + pos_, end - pos_);
        pos_ = after;
        if (ParseHead(head) != Progress::kMore) return state_;
        break;
      }
      case Phase::kLength:
      case Phase::kChunkData: {
        if (!DeliverCounted()) return state_;
        phase_ = phase_ == Phase::kLength ? Phase::kDone : Phase::kChunkEnd;
        break;
      }
      case Phase::kUntilClose: {
        if (!Deliver(std::string_view(buf_.data() + pos_, buf_.size() - pos_))) return state_;
        pos_ = buf_.size();
        return state_;
      }
      case Phase::kChunkSize: {
        std::string_view line;
        if (!NextLine(&line)) {
          if (buf_.size() - pos_ > kMaxLineBytes) return Fail("chunk size line too long");
          return state_;
        }
        std::string_view digits = TrimOws(line.substr(0, line.find(';')));
        uint64_t size = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
        if (digits.empty() || digits.size() > 15 || ec != std::errc() || p != digits.data() + digits.size()) {
          return Fail("malformed chunk size");
        }
        remaining_ = size;
        phase_ = size == 0 ? Phase::kTrailers : Phase::kChunkData;
        break;
      }
      case Phase::kChunkEnd: {
        std::string_view line;
        if (!NextLine(&line)) {
          // Only the start of the line end ("\r") may be pending.
          const std::string_view pending(buf_.data() + pos_, buf_.size() - pos_);
          if (!pending.empty() && pending != "\r") return Fail("malformed chunk end");
          return state_;
        }
        if (!line.empty()) return Fail("malformed chunk end");
        phase_ = Phase::kChunkSize;
        break;
      }
      case Phase::kTrailers: {
        std::string_view line;
        if (!NextLine(&line)) {
          if (buf_.size() - pos_ > kMaxLineBytes) return Fail("trailer line too long");
          return state_;
        }
        if (line.empty()) phase_ = Phase::kDone;
        break;
      }
      case Phase::kDone:
        reusable_ = keep_alive_ && pos_ == buf_.size();
        state_ = Progress::kDone;
        return state_;
    }
  }
  return state_;
}

HttpResponseParser::Progress HttpResponseParser::ParseHead(std::string_view head) {
  size_t eol = head.find('\n');
  std::string_view status_line = head.substr(0, eol);
  if (!status_line.empty() && status_line.back() == '\r') status_line.remove_suffix(1);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') {
    return Fail("malformed status line");
  }
  const std::string_view version = status_line.substr(5, 3);
  int status = 0;
  auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  if (ec != std::errc() || p != status_line.data() + 12 || status < 100 ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return Fail("malformed status line");
  }
  HttpResponseHead out;
  out.status = status;
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 1);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    out.headers.emplace_back(std::string(line.substr(0, colon)), std::string(TrimOws(line.substr(colon + 1))));
  }
  if (status < 200 && status != 101) return Progress::kMore;  // interim: the real head follows
  if (status == 101) return Fail("unexpected protocol switch");

  const std::string connection = out.Header("Connection");
  keep_alive_ = version == "1.1" ? !HasToken(connection, "close") : HasToken(connection, "keep-alive");
  const std::string te = out.Header("Transfer-Encoding");
  const std::string length = out.Header("Content-Length");
  if (status == 204 || status == 304) {
    phase_ = Phase::kDone;
  } else if (!te.empty()) {
    if (!HasToken(te, "chunked")) return Fail("unsupported transfer coding: " + te);
    phase_ = Phase::kChunkSize;
  } else if (!length.empty()) {
    uint64_t n = 0;
    auto [lp, lec] = std::from_chars(length.data(), length.data() + length.size(), n);
    if (lec != std::errc() || lp != length.data() + length.size()) return Fail("malformed Content-Length");
    remaining_ = n;
    phase_ = n == 0 ? Phase::kDone : Phase::kLength;
  } else {
    keep_alive_ = false;
    phase_ = Phase::kUntilClose;
  }
  if (on_head_ && !on_head_(out)) {
    state_ = Progress::kAbandoned;
    reusable_ = false;
    return state_;
  }
  return Progress::kMore;
}

// ---- HttpConnection ----------------------------------------------------------------------------

class HttpConnection::Impl {
 public:
  explicit Impl(HttpConnectionOptions options) : options_(std::move(options)) {
    valid_origin_ = ParseOrigin(options_.origin, &origin_);
    if (origin_.tls) {
      tls_ = std::make_unique<httplib::Client>(options_.origin);
      tls_->set_keep_alive(true);
      tls_->set_tcp_nodelay(true);
      tls_->set_connection_timeout(options_.connect_timeout_ms / 1000, (options_.connect_timeout_ms % 1000) * 1000);
      tls_->set_read_timeout(options_.read_timeout_ms / 1000, (options_.read_timeout_ms % 1000) * 1000);
      tls_->set_write_timeout(options_.write_timeout_ms / 1000, (options_.write_timeout_ms % 1000) * 1000);
    }
  }
  ~Impl() { CloseSocket(); }

  Status Post(const std::string& path, const HttpHeaders& headers, std::string_view body, const OnHttpHead& on_head,
              const OnHttpBody& on_body) {
    if (!valid_origin_) return Unavailable(kConnectError);
    if (tls_) return PostTls(path, headers, body, on_head, on_body);
    std::string head;
    head.reserve(256 + path.size());
    head.append("POST ").append(path).append(" HTTP/1.1\r\n");
    bool has_host = false, has_agent = false;
    for (const auto& [name, value] : headers) {
      if (EqualsIgnoreCase(name, "Content-Length")) continue;
      has_host = has_host || EqualsIgnoreCase(name, "Host");
      has_agent = has_agent || EqualsIgnoreCase(name, "User-Agent");
      head.append(name).append(": ").append(value).append("\r\n");
    }
    if (!has_host) head.append("Host: ").append(origin_.host_header).append("\r\n");
    if (!has_agent) head.append("User-Agent: ").append(kUserAgent).append("\r\n");
    head.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");

    int fd = Connected();
    if (fd < 0) return Unavailable(kConnectError);
    if (!WriteAll(fd, head, body)) {
      CloseSocket();
      return Unavailable(kWriteError);
    }
    HttpResponseParser parser(on_head, on_body);
    HttpResponseParser::Progress progress = HttpResponseParser::Progress::kMore;
    while (progress == HttpResponseParser::Progress::kMore) {
      ssize_t n = recv(fd, in_, sizeof(in_), 0);
      if (n > 0) {
        progress = parser.Feed(std::string_view(in_, static_cast<size_t>(n)));
      } else if (n == 0) {
        progress = parser.Eof();
      } else if (errno != EINTR) {
        break;  // timeout (EAGAIN) or reset, or shut down by Stop()
      }
    }
    const bool reusable = progress == HttpResponseParser::Progress::kDone && parser.reusable();
    if (!reusable) CloseSocket();
    switch (progress) {
      case HttpResponseParser::Progress::kDone:
        return Status::Ok();
      case HttpResponseParser::Progress::kAbandoned:
        return Unavailable(kCanceled);
      default:
        return Unavailable(kReadError);
    }
  }

  void Stop() {
    if (tls_) tls_->stop();
    std::lock_guard<std::mutex> lock(mu_);
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
  }

 private:
  // The live socket, connecting anew when there is none or the peer has closed or reset the idle
  // one (or sent bytes no request asked for). -1 when the connection cannot be made.
  int Connected() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fd_ >= 0) {
        char c;
        ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return fd_;
      }
    }
    CloseSocket();
    int fd = Connect();
    std::lock_guard<std::mutex> lock(mu_);
    fd_ = fd;
    return fd_;
  }

  int Connect() const {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(origin_.port);
    if (getaddrinfo(origin_.host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
    int fd = -1;
    for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
      fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
      if (fd < 0) continue;
      if (!ConnectWithin(fd, ai->ai_addr, ai->ai_addrlen, options_.connect_timeout_ms)) {
        close(fd);
        fd = -1;
      }
    }
    freeaddrinfo(found);
    if (fd < 0) return -1;
    int flags = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &flags, sizeof(flags));
    const timeval rcv = ToTimeval(options_.read_timeout_ms), snd = ToTimeval(options_.write_timeout_ms);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
    return fd;
  }

  // Connects the non-blocking `fd` within `timeout_ms`, then makes it blocking.
  static bool ConnectWithin(int fd, const sockaddr* addr, socklen_t len, int64_t timeout_ms) {
    if (connect(fd, addr, len) != 0) {
      if (errno != EINPROGRESS) return false;
      pollfd p{fd, POLLOUT, 0};
      int r;
      do r = poll(&p, 1, static_cast<int>(std::min<int64_t>(timeout_ms, INT32_MAX)));
      while (r < 0 && errno == EINTR);
      if (r <= 0) return false;
      int err = 0;
      socklen_t err_len = sizeof(err);
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0) return false;
    }
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0;
  }

  static bool WriteAll(int fd, std::string_view head, std::string_view body) {
    iovec iov[2] = {{const_cast<char*>(head.data()), head.size()}, {const_cast<char*>(body.data()), body.size()}};
    int first = 0;
    while (first < 2) {
      msghdr msg{};
      msg.msg_iov = iov + first;
      msg.msg_iovlen = static_cast<size_t>(2 - first);
      ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      size_t sent = static_cast<size_t>(n);
      while (first < 2 && sent >= iov[first].iov_len) {
        sent -= iov[first].iov_len;
        ++first;
      }
      if (first < 2) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + sent;
        iov[first].iov_len -= sent;
      }
    }
    return true;
  }

  void CloseSocket() {
    std::lock_guard<std::mutex> lock(mu_);
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  Status PostTls(const std::string& path, const HttpHeaders& headers, std::string_view body,
                 const OnHttpHead& on_head, const OnHttpBody& on_body) {
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    std::string content_type = "text/plain";
    for (const auto& [name, value] : headers) {
      if (EqualsIgnoreCase(name, "Content-Type")) content_type = value;
      else req.headers.emplace(name, value);
    }
    req.set_header("Content-Type", content_type);
    req.body.assign(body.data(), body.size());
    req.response_handler = [&](const httplib::Response& r) {
      HttpResponseHead h;
      h.status = r.status;
      for (const auto& kv : r.headers) h.headers.emplace_back(kv.first, kv.second);
      return !on_head || on_head(h);
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      return !on_body || on_body(std::string_view(data, n));
    };
    auto res = tls_->send(req);
    if (res) return Status::Ok();
    return Unavailable(httplib::to_string(res.error()));
  }

  const HttpConnectionOptions options_;
  Origin origin_;
  bool valid_origin_ = false;
  std::unique_ptr<httplib::Client> tls_;  // https:// origins only
  std::mutex mu_;
  int fd_ = -1;  // guarded by mu_; opened and closed only by the thread running Post
  char in_[16 * 1024];
};

HttpConnection::HttpConnection(HttpConnectionOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpConnection::~HttpConnection() = default;

Status HttpConnection::Post(const std::string& path, const HttpHeaders& headers, std::string_view body,
                            const OnHttpHead& on_head, const OnHttpBody& on_body) {
  return impl_->Post(path, headers, body, on_head, on_body);
}

void HttpConnection::Stop() { impl_->Stop(); }

}  // namespace holdgate::upstream
