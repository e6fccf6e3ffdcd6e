#include "common/line_splitter.h"

namespace holdgate {

bool LineSplitter::Feed(std::string_view data, const std::function<void(std::string_view)>& on_line) {
  buffer_.append(data);
  size_t start = 0;
  for (size_t nl; (nl = buffer_.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (discarding_) {  // the rest of a line already dropped as too long
      discarding_ = false;
      continue;
    }
    std::string_view line(buffer_.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) on_line(line);
  }
  buffer_.erase(0, start);
  if (buffer_.size() > max_line_bytes_) {
    buffer_.clear();
    discarding_ = true;
    return false;
  }
  return true;
}

}  // namespace holdgate
