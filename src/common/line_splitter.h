#pragma once
// Newline-delimited framing (MCP's stdio transport, a child's stderr): bytes in, whole lines out.
// Holds the unfinished tail between reads. Thread-compatible; never blocks.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace holdgate {

class LineSplitter {
 public:
  // `max_line_bytes`: an unfinished line longer than this is dropped (Feed reports it).
  explicit LineSplitter(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

  // Appends `data` and calls `on_line` for every complete line, without its "\n" or "\r\n";
  // empty lines are skipped. Returns false when the unfinished tail grew past the limit and was
  // dropped (the caller reports it); the next line starts after the next newline.
  bool Feed(std::string_view data, const std::function<void(std::string_view)>& on_line);

 private:
  const size_t max_line_bytes_;
  std::string buffer_;
  bool discarding_ = false;  // inside an over-long line: skip up to its newline
};

}  // namespace holdgate
