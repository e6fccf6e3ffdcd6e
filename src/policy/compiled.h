#pragma once
// Internal to the policy module: the compiled form of a policy document (what Parse builds and
// Evaluate/Check read). Immutable once built.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "policy/condition.h"
#include "policy/glob.h"
#include "policy/policy.h"

namespace holdgate::policy {

// One rule after compilation: a `tools` entry, or one of its `cases` merged over it.
struct CompiledRule {
  std::string path;            // "tools.cancel_job" / "tools.cancel_job.cases[0]"
  Action action = Action::kAllow;  // kAllow, kDeny or kHold
  std::string reason;          // as written (may be empty)
  std::string default_reason;  // used for deny/hold when `reason` is empty (precomputed)
  std::optional<Json> risk;
  ApprovalSettings approval;
  std::vector<Condition> when;
  std::vector<Condition> deny_if;
  std::vector<Condition> require;
  std::vector<Limit> own_limits;  // the rule's (and for a case, its base's) limits
  std::vector<Limit> limits;      // all_tools limits followed by own_limits
  bool shadow = false;
  std::vector<CompiledRule> cases;  // first case whose `when` holds replaces this rule
};

struct ToolEntry {
  std::string pattern;  // the `tools` key
  Glob glob;            // for glob keys
  CompiledRule rule;
};

struct HideEntry {
  std::string path;  // "hide[0]"
  Glob glob;
};

// Hash for heterogeneous (std::string_view) lookup in unordered maps keyed by std::string.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using NameIndex = std::unordered_map<std::string, size_t, NameHash, std::equal_to<>>;

struct Policy::Compiled {
  bool default_allow = false;
  bool shadow = false;
  bool destructive_requires_approval = false;
  std::vector<HideEntry> hide_exact;  // sorted by pattern
  std::vector<HideEntry> hide_globs;
  std::vector<ToolEntry> exact;  // sorted by pattern
  std::vector<ToolEntry> globs;  // most specific first (Glob::MoreSpecificThan)
  NameIndex hide_index;          // name -> index in hide_exact
  NameIndex exact_index;         // name -> index in exact
  std::vector<Limit> all_tools_limits;
  ApprovalSettings default_approval;  // for annotation-driven holds
  std::vector<std::string> warnings;  // non-fatal findings, surfaced by Check
  // The document's "default", "all_tools" and "annotations" as written (what an upstream's own
  // policy takes from this one when it is the top-level policy: Policy::ParseUpstream).
  Json inheritable = Json::object();
};

class PolicyAccess {
 public:
  static const Policy::Compiled& Get(const Policy& p) { return *p.compiled_; }
};

// Parses and compiles `text`. On failure returns false and fills *errors (one message each).
// `inherited` (another policy's Compiled::inheritable, or null): the keys the document leaves out
// are taken from it before it is checked.
bool CompilePolicy(std::string_view text, Policy::Compiled* out, std::vector<std::string>* errors,
                   const Json* inherited = nullptr);

// The hide entry that hides `tool`, or null.
const HideEntry* FindHide(const Policy::Compiled& c, std::string_view tool);
// Candidate rules for `tool` in precedence order: the exact entry, then matching globs.
void CandidateRules(const Policy::Compiled& c, std::string_view tool, std::vector<const ToolEntry*>* out);

// JSON path of a child key: `tools.cancel_job`, or `tools["fs.*"]` for keys that are not plain.
std::string ChildPath(const std::string& parent, std::string_view key);
std::string IndexPath(const std::string& parent, size_t index);
// "minute", "hour", "90s" ...
std::string FormatWindow(int64_t window_ms);

}  // namespace holdgate::policy
