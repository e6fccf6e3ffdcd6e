#include "common/json_util.h"

namespace holdgate {
namespace {

// Depth check before parsing: nlohmann's recursive parser would otherwise recurse without limit.
bool NestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace

Result<Json> ParseJson(std::string_view text, int max_depth) {
  if (!NestingWithin(text, max_depth)) {
    return InvalidArgument("JSON nested deeper than " + std::to_string(max_depth) + " levels");
  }
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return InvalidArgument("malformed JSON");
  return value;
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string CanonicalJson(const Json& value) { return DumpJson(value); }

}  // namespace holdgate
