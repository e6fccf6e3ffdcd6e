#pragma once
// Server-Sent Events framing, shared by the downstream HTTP transport (encoding) and the HTTP
// upstream client (parsing). Pure; an SseParser instance is not thread-safe (one per stream).
#include <functional>
#include <string>
#include <string_view>

namespace holdgate::transport {

struct SseEvent {
  std::string id;
  std::string event;  // empty means "message"
  std::string data;   // multi-line data joined with '\n'
  int retry_ms = -1;
};

// One event; `data` may hold newlines (each line becomes a data: field).
std::string EncodeSseEvent(std::string_view data, std::string_view id = {},
                           std::string_view event = {});
// A comment line that keeps a connection alive and lets the server notice a vanished peer.
inline constexpr std::string_view kSseHeartbeat = ": ping\n\n";

// Incremental parser: feed chunks as they arrive (chunks need not align with events); each
// complete event is passed to the callback. CRLF and CR line endings are accepted.
class SseParser {
 public:
  using Callback = std::function<void(const SseEvent&)>;
  explicit SseParser(Callback on_event) : on_event_(std::move(on_event)) {}
  void Feed(std::string_view chunk);
  // Bytes buffered but not yet parsed; a caller may cap this to bound memory.
  size_t buffered() const { return buffer_.size(); }

 private:
  void ProcessLine(std::string_view line);
  void Dispatch();

  Callback on_event_;
  std::string buffer_;
  SseEvent current_;
  bool has_data_ = false;
  bool last_was_cr_ = false;
};

}  // namespace holdgate::transport
