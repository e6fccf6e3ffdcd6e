#pragma once
// Bench harness: the client side of HTTP/1.1 on the wire. Builds POST/GET requests and parses
// responses incrementally (Content-Length, chunked, read-until-close), splitting text/event-stream
// bodies into Server-Sent Events. No I/O and no allocation beyond the buffers it owns.
// Single-threaded: one parser per connection.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace holdgate::bench {

struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/mcp";
};

// Parses "http://HOST:PORT/PATH" (no https, no user info). False when it does not look like that.
inline bool ParseHttpUrl(const std::string& url, Endpoint* out) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return false;
  size_t host_begin = kScheme.size();
  size_t slash = url.find('/', host_begin);
  std::string authority = url.substr(host_begin, slash == std::string::npos ? std::string::npos : slash - host_begin);
  size_t colon = authority.rfind(':');
  if (colon == std::string::npos) return false;
  out->host = authority.substr(0, colon);
  out->port = std::atoi(authority.c_str() + colon + 1);
  out->path = slash == std::string::npos ? "/" : url.substr(slash);
  return out->port > 0;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// An MCP Streamable HTTP POST of one JSON-RPC message.
inline std::string BuildMcpPost(const Endpoint& ep, const std::string& session_id,
                                const std::string& protocol_version, std::string_view body) {
  std::string r;
  r.reserve(256 + body.size());
  r += "POST ";
  r += ep.path;
  r += " HTTP/1.1\r\nHost: ";
  r += ep.host;
  r += ':';
  r += std::to_string(ep.port);
  r += "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";
  if (!session_id.empty()) {
    r += "Mcp-Session-Id: ";
    r += session_id;
    r += "\r\n";
  }
  if (!protocol_version.empty()) {
    r += "MCP-Protocol-Version: ";
    r += protocol_version;
    r += "\r\n";
  }
  r += "Content-Length: ";
  r += std::to_string(body.size());
  r += "\r\n\r\n";
  r += body;
  return r;
}

struct ResponseHead {
  int status = 0;
  std::string content_type;
  std::string session_id;  // Mcp-Session-Id
  bool close = false;      // Connection: close
  bool event_stream = false;
};

// Splits an SSE byte stream into events; keeps the data of each event (data lines joined by \n).
class SseFramer {
 public:
  void Feed(const char* data, size_t n, std::vector<std::string>* events) {
    for (size_t i = 0; i < n; ++i) {
      if (data[i] != '\r') buffer_.push_back(data[i]);
    }
    size_t start = 0;
    while (true) {
      size_t end = buffer_.find("\n\n", start);
      if (end == std::string::npos) break;
      std::string data_field;
      bool has_data = false;
      size_t line = start;
      while (line < end) {
        size_t eol = buffer_.find('\n', line);
        if (eol == std::string::npos || eol > end) eol = end;
        std::string_view text(buffer_.data() + line, eol - line);
        if (text.rfind("data:", 0) == 0) {
          text.remove_prefix(5);
          if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
          if (has_data) data_field.push_back('\n');
          data_field.append(text);
          has_data = true;
        }
        line = eol + 1;
      }
      if (has_data && !data_field.empty()) events->push_back(std::move(data_field));
      start = end + 2;
    }
    buffer_.erase(0, start);
  }
  void Clear() { buffer_.clear(); }

 private:
  std::string buffer_;
};

// One response at a time; Reset() before the next request on the same connection.
class ResponseParser {
 public:
  // Consumes what it can from `in` (consumed bytes are erased). False on a malformed response.
  bool Feed(std::string& in) {
    size_t pos = 0;
    bool ok = true;
    while (ok && state_ != State::kDone) {
      if (state_ == State::kHead) {
        size_t end = in.find("\r\n\r\n", pos);
        if (end == std::string::npos) break;
        ok = ParseHead(std::string_view(in.data() + pos, end - pos));
        pos = end + 4;
        continue;
      }
      if (state_ == State::kLength || state_ == State::kChunkData) {
        size_t n = std::min<uint64_t>(remaining_, in.size() - pos);
        if (n == 0) break;
        Body(in.data() + pos, n);
        pos += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = state_ == State::kLength ? State::kDone : State::kChunkEnd;
        continue;
      }
      if (state_ == State::kUntilClose) {
        Body(in.data() + pos, in.size() - pos);
        pos = in.size();
        break;
      }
      // Line-based states: chunk size, the CRLF after chunk data, trailers.
      size_t eol = in.find("\r\n", pos);
      if (eol == std::string::npos) break;
      std::string_view line(in.data() + pos, eol - pos);
      pos = eol + 2;
      if (state_ == State::kChunkSize) {
        char* parse_end = nullptr;
        std::string size_text(line.substr(0, line.find(';')));
        remaining_ = std::strtoull(size_text.c_str(), &parse_end, 16);
        if (size_text.empty() || parse_end == size_text.c_str()) ok = false;
        state_ = remaining_ == 0 ? State::kTrailer : State::kChunkData;
      } else if (state_ == State::kChunkEnd) {
        if (!line.empty()) ok = false;
        state_ = State::kChunkSize;
      } else if (state_ == State::kTrailer) {
        if (line.empty()) state_ = State::kDone;
      }
    }
    in.erase(0, pos);
    return ok;
  }

  // The peer closed the connection: completes a read-until-close body. True if now done.
  bool OnEof() {
    if (state_ == State::kUntilClose) state_ = State::kDone;
    return state_ == State::kDone;
  }

  void Reset() {
    state_ = State::kHead;
    head_ = ResponseHead();
    head_ready_ = false;
    body_.clear();
    events_.clear();
    sse_.Clear();
    remaining_ = 0;
  }

  bool head_ready() const { return head_ready_; }
  const ResponseHead& head() const { return head_; }
  bool done() const { return state_ == State::kDone; }
  bool started() const { return state_ != State::kHead || head_ready_; }
  std::string& body() { return body_; }
  // SSE data payloads parsed so far and not yet taken (the caller clears it).
  std::vector<std::string>& events() { return events_; }

 private:
  enum class State { kHead, kLength, kChunkSize, kChunkData, kChunkEnd, kTrailer, kUntilClose, kDone };

  bool ParseHead(std::string_view text) {
    size_t eol = text.find("\r\n");
    std::string_view status_line = text.substr(0, eol);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) return false;
    int status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    if (status >= 100 && status < 200) return true;  // interim (100 Continue): the real head follows
    head_.status = status;
    bool chunked = false;
    bool has_length = false;
    uint64_t length = 0;
    size_t pos = eol == std::string_view::npos ? text.size() : eol + 2;
    while (pos < text.size()) {
      size_t next = text.find("\r\n", pos);
      if (next == std::string_view::npos) next = text.size();
      std::string_view line = text.substr(pos, next - pos);
      pos = next + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      if (EqualsIgnoreCase(name, "content-length")) {
        has_length = true;
        length = std::strtoull(std::string(value).c_str(), nullptr, 10);
      } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
        chunked = value.find("chunked") != std::string_view::npos;
      } else if (EqualsIgnoreCase(name, "content-type")) {
        head_.content_type = value;
        head_.event_stream = value.rfind("text/event-stream", 0) == 0;
      } else if (EqualsIgnoreCase(name, "mcp-session-id")) {
        head_.session_id = value;
      } else if (EqualsIgnoreCase(name, "connection")) {
        head_.close = EqualsIgnoreCase(value, "close");
      }
    }
    head_ready_ = true;
    if (status == 204 || status == 304) {
      state_ = State::kDone;
    } else if (chunked) {
      state_ = State::kChunkSize;
    } else if (has_length) {
      remaining_ = length;
      state_ = length == 0 ? State::kDone : State::kLength;
    } else {
      state_ = State::kUntilClose;
      head_.close = true;
    }
    return true;
  }

  void Body(const char* data, size_t n) {
    if (head_.event_stream) sse_.Feed(data, n, &events_);
    else body_.append(data, n);
  }

  State state_ = State::kHead;
  ResponseHead head_;
  bool head_ready_ = false;
  uint64_t remaining_ = 0;
  std::string body_;
  std::vector<std::string> events_;
  SseFramer sse_;
};

}  // namespace holdgate::bench
