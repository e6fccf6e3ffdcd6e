#pragma once
// Small cryptographic helpers over OpenSSL: random ids, SHA-256, HMAC-SHA256, base64 and
// constant-time comparison. Stateless and thread-safe; none of them block.
#include <cstdint>
#include <string>
#include <string_view>

namespace holdgate {

// `bytes` cryptographically random bytes, hex-encoded (2*bytes characters).
std::string RandomHex(size_t bytes);
// A random identifier with a readable prefix, e.g. "apr_3f2c9a…" (16 random bytes).
std::string NewId(std::string_view prefix);

std::string Sha256Hex(std::string_view data);
std::string Sha256Raw(std::string_view data);
std::string HmacSha256Raw(std::string_view key, std::string_view data);
std::string HmacSha256Hex(std::string_view key, std::string_view data);

std::string HexEncode(std::string_view raw);
std::string Base64Encode(std::string_view raw);
// Returns false on malformed input.
bool Base64Decode(std::string_view text, std::string* out);

// Compares secrets in time independent of where they differ (length differences still leak).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace holdgate
