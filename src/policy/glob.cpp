#include "policy/glob.h"

namespace holdgate::policy {

Glob::Glob(std::string pattern) : pattern_(std::move(pattern)) {
  size_t first = pattern_.find_first_of("*?");
  prefix_ = pattern_.substr(0, first == std::string::npos ? pattern_.size() : first);
  size_t last_star = pattern_.rfind('*');
  if (last_star != std::string::npos) {
    std::string tail = pattern_.substr(last_star + 1);
    if (tail.find('?') == std::string::npos) suffix_ = tail;
  }
  for (char c : pattern_) {
    if (c == '*') ++stars_;
    else if (c != '?') ++literals_;
  }
}

bool Glob::HasWildcard(std::string_view pattern) {
  return pattern.find_first_of("*?") != std::string_view::npos;
}

bool Glob::Match(std::string_view name) const {
  if (!prefix_.empty() && (name.empty() || name[0] != prefix_[0])) return false;  // cheap common reject
  if (name.substr(0, prefix_.size()) != prefix_) return false;
  if (!suffix_.empty() &&
      (name.size() < suffix_.size() || name.substr(name.size() - suffix_.size()) != suffix_)) {
    return false;
  }
  // Iterative wildcard match with single-star backtracking: O(|pattern| * |name|) worst case.
  std::string_view p = pattern_;
  size_t pi = 0, ni = 0;
  size_t star_p = std::string_view::npos, star_n = 0;
  while (ni < name.size()) {
    if (pi < p.size() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == name[ni]))) {
      ++pi;
      ++ni;
    } else if (pi < p.size() && p[pi] == '*') {
      star_p = pi++;
      star_n = ni;
    } else if (star_p != std::string_view::npos) {
      pi = star_p + 1;
      ni = ++star_n;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool Glob::MoreSpecificThan(const Glob& other) const {
  if (literals_ != other.literals_) return literals_ > other.literals_;
  if (stars_ != other.stars_) return stars_ < other.stars_;
  return pattern_ < other.pattern_;
}

}  // namespace holdgate::policy
