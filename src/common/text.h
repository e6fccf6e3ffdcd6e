#pragma once
// Small text helpers shared by the HTTP code and the review API. Pure; ASCII only.
#include <string_view>

namespace holdgate {

// `s` without leading and trailing spaces and tabs (HTTP's optional white space).
std::string_view TrimOws(std::string_view s);
// `s` without leading and trailing white space (spaces, tabs, CR, LF).
std::string_view TrimSpace(std::string_view s);
// Equal ignoring ASCII case (header names, tokens).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace holdgate
