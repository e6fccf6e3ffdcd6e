#pragma once
// Glob: a tool-name pattern from the policy (`hide` entries and `tools` keys). `*` matches any
// run of characters (also none), `?` exactly one; every other character is literal. Precompiled
// at policy load; Match never allocates. Immutable; thread-safe.
#include <string>
#include <string_view>

namespace holdgate::policy {

class Glob {
 public:
  Glob() = default;
  explicit Glob(std::string pattern);

  static bool HasWildcard(std::string_view pattern);
  bool Match(std::string_view name) const;
  const std::string& pattern() const { return pattern_; }

  // Specificity order used for precedence between globs that match the same tool: more literal
  // characters first, then fewer `*`, then the pattern text (so the order is total and stable).
  bool MoreSpecificThan(const Glob& other) const;

 private:
  std::string pattern_;
  std::string prefix_;  // literal characters before the first wildcard
  std::string suffix_;  // literal characters after the last `*` (empty if none)
  size_t literals_ = 0;
  int stars_ = 0;
};

}  // namespace holdgate::policy
