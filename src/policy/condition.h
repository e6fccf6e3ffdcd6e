#pragma once
// Argument conditions (`when`, `deny_if`, `require` elements): {path, op, value[, reason]},
// compiled at policy load. Path syntax (see schema/policies/README.md):
//   [ "$" ] [ "args" ] segment*      e.g. delete, args.delete, config.limits[0].max,
//   segment := "." key | "[" index "]" | "[" quoted-key "]"   args["key.with.dots"]
// A leading `args` segment (PolicyLayer / Intercept) or `$` is the arguments object itself.
// Immutable after Compile; Test is thread-safe and does not allocate for string/number ops.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_util.h"
#include "policy/regex.h"

namespace holdgate::policy {

class ArgPath {
 public:
  // Returns false and sets *error on a malformed path.
  bool Parse(std::string_view text, std::string* error);
  // The value at this path inside `arguments`, or null if any step is missing.
  const Json* Resolve(const Json* arguments) const;
  const std::string& text() const { return text_; }
  // The path without the optional `args`/`$` prefix, for messages ("delete").
  const std::string& display() const { return display_; }

 private:
  struct Step {
    std::string key;
    int64_t index = -1;  // >= 0: array index
  };
  std::string text_;
  std::string display_;
  std::vector<Step> steps_;
};

enum class CondOp { kEq, kNe, kIn, kNotIn, kLt, kLe, kGt, kGe, kMatches, kExists, kContains };
const char* CondOpName(CondOp op);

struct Condition {
  ArgPath path;
  CondOp op = CondOp::kEq;
  Json value;            // as written (for messages and for eq/ne/contains)
  std::vector<Json> set; // in / not_in
  Regex regex;           // matches
  bool exists = true;    // exists: the expected presence
  std::string reason;    // optional agent-facing text
  std::string default_reason;  // precomputed text for deny_if/require when `reason` is empty
  std::string where;     // JSON path of this condition, e.g. "tools.cancel_job.deny_if[0]"

  // True when the condition holds for `arguments` (null = no arguments).
  bool Test(const Json* arguments) const;
  // "delete eq true", for reasons and `policy check`.
  std::string Describe() const;
};

// Parses an op name, accepting Intercept's aliases (neq, lte, gte, regex). False if unknown.
bool ParseCondOp(std::string_view name, CondOp* op);

}  // namespace holdgate::policy
