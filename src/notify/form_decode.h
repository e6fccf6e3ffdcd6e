#pragma once
// application/x-www-form-urlencoded bodies (Slack's interaction requests: payload=<url-encoded
// JSON>). Parsed by hand because httplib 0.11.4 refuses form bodies over 8 KiB before routing.
// Pure functions; thread-safe.
#include <map>
#include <string>
#include <string_view>

namespace holdgate::notify {

// "+" -> space, %XX -> byte. Returns false on a malformed escape.
bool UrlDecode(std::string_view in, std::string* out);

// name -> value (the first occurrence wins). Returns false on a malformed escape.
bool ParseFormUrlEncoded(std::string_view body, std::map<std::string, std::string>* out);

// The inverse, for tests and clients: escapes everything but unreserved characters.
std::string UrlEncode(std::string_view in);

}  // namespace holdgate::notify
