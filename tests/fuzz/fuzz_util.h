#pragma once
// Helpers shared by the libFuzzer targets in tests/fuzz/: splitting one fuzzer input into the
// parts a target needs. Header-only; no state.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace holdgate::fuzz {

// Splits `data` on `separator` into at most `max_parts` parts (the last part keeps the rest).
inline std::vector<std::string_view> Split(std::string_view data, std::string_view separator,
                                           size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    size_t at = data.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(data.substr(0, at));
    data.remove_prefix(at + separator.size());
  }
  parts.push_back(data);
  return parts;
}

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace holdgate::fuzz
