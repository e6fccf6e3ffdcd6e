#include "transport/sse.h"

#include <charconv>

namespace holdgate::transport {

std::string EncodeSseEvent(std::string_view data, std::string_view id, std::string_view event) {
  std::string out;
  out.reserve(data.size() + id.size() + event.size() + 32);
  if (!event.empty()) {
    out.append("event: ").append(event).push_back('\n');
  }
  if (!id.empty()) {
    out.append("id: ").append(id).push_back('\n');
  }
  size_t start = 0;
  while (true) {
    size_t nl = data.find('\n', start);
    out.append("data: ").append(data.substr(start, nl == std::string_view::npos ? nl : nl - start));
    out.push_back('\n');
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out.push_back('\n');
  return out;
}

void SseParser::Feed(std::string_view chunk) {
  for (char c : chunk) {
    if (c == '\n' && last_was_cr_) {  // the LF of a CRLF pair: line already processed
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = (c == '\r');
    if (c == '\n' || c == '\r') {
      ProcessLine(buffer_);
      buffer_.clear();
    } else {
      buffer_.push_back(c);
    }
  }
}

void SseParser::ProcessLine(std::string_view line) {
  if (line.empty()) {
    Dispatch();
    return;
  }
  if (line.front() == ':') return;  // comment
  std::string_view field = line, value;
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "id") {
    current_.id.assign(value);
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "retry") {
    int ms = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec == std::errc() && ptr == value.data() + value.size()) current_.retry_ms = ms;
  }
}

void SseParser::Dispatch() {
  if (has_data_ || !current_.id.empty() || !current_.event.empty()) {
    on_event_(current_);
  }
  current_ = SseEvent();
  has_data_ = false;
}

}  // namespace holdgate::transport
