#pragma once
// JSON helpers shared by every module: safe parsing of untrusted text, serialisation that never
// throws on invalid UTF-8, and the canonical form used for fingerprints and the audit chain.
// Pure functions; thread-safe.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace holdgate {

using Json = nlohmann::json;

// Parses untrusted text; never throws. Rejects nesting deeper than `max_depth`.
Result<Json> ParseJson(std::string_view text, int max_depth = 64);

// Compact serialisation; invalid UTF-8 is replaced, never thrown on.
std::string DumpJson(const Json& value);

// Canonical JSON: object keys sorted (nlohmann's object is ordered by key), no whitespace,
// integers as integers. Stable across runs, so SHA-256 of it is a fingerprint.
std::string CanonicalJson(const Json& value);

}  // namespace holdgate
