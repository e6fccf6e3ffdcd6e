#pragma once
// Regex: the `matches` operator's pattern, compiled once at policy load and matched in time
// linear in the input (a Thompson NFA simulation; no backtracking, no recursion while matching).
// std::regex is not used because it recurses per input character: an agent-supplied argument a
// few thousand characters long would overflow the small stacks of the handler threads.
// Syntax (an RE2-like subset, byte oriented): literals, `.` (any byte but \n), classes `[a-z]`
// `[^...]`, escapes `\d \D \w \W \s \S \t \n \r \.` etc., anchors `^` `$` (input start/end),
// groups `(...)` `(?:...)`, `|`, quantifiers `* + ? {n} {n,} {n,m}` (lazy forms accepted), and a
// leading `(?i)` for case-insensitive matching. Backreferences and lookaround are refused.
// Search semantics: Search() is true when the pattern matches anywhere (anchor with ^...$).
// Immutable after Compile; Search is thread-safe.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace holdgate::policy {

class Regex {
 public:
  Regex() = default;
  // Returns false and sets *error (with the character offset) when the pattern is invalid or
  // compiles to more than kMaxProgram instructions.
  bool Compile(std::string_view pattern, std::string* error);
  bool Search(std::string_view input) const;
  const std::string& pattern() const { return pattern_; }

  static constexpr size_t kMaxProgram = 20000;

 private:
  struct ByteSet {
    std::array<uint64_t, 4> bits{};
    void Set(unsigned char c) { bits[c >> 6] |= uint64_t{1} << (c & 63); }
    bool Has(unsigned char c) const { return (bits[c >> 6] >> (c & 63)) & 1; }
  };
  enum class Op : uint8_t { kSet, kSplit, kJmp, kBegin, kEnd, kMatch };
  struct Inst {
    Op op;
    uint32_t x = 0;  // kSet: index into sets_; kSplit/kJmp: target
    uint32_t y = 0;  // kSplit: second target
  };
  friend class RegexCompiler;

  std::string pattern_;
  std::vector<Inst> prog_;
  std::vector<ByteSet> sets_;
  bool anchored_start_ = false;
  // Bytes that can begin a match at a position > 0; when no thread is alive the search skips
  // ahead to the next such byte. Disabled when the pattern can match the empty string there.
  ByteSet first_;
  bool can_skip_ = false;
};

}  // namespace holdgate::policy
