// Parsing and validation of policy documents into Policy::Compiled. Every problem is reported
// as "<json path>: <what is wrong>; hint: <how to fix>", and parsing continues so that one run
// of `holdgate policy check` lists all of them.
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "policy/compiled.h"

namespace holdgate::policy {
namespace {

constexpr int kMaxDepth = 64;
constexpr int64_t kMaxDurationMs = int64_t{366} * 86400 * 1000;

std::string TypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return j.get<bool>() ? "true" : "false";
    case Json::value_t::string: return "a string";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return DumpJson(j);
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

std::string Quoted(std::string_view s) { return Json(std::string(s)).dump(); }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                          std::tolower(static_cast<unsigned char>(b[j - 1]))
                                      ? 0
                                      : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Suggestion for a misspelled word among `choices`, or "".
std::string Closest(std::string_view word, std::initializer_list<std::string_view> choices) {
  std::string best;
  size_t best_d = std::string::npos;
  for (std::string_view c : choices) {
    size_t d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = std::string(c);
    }
  }
  size_t limit = std::max<size_t>(2, word.size() / 3);
  return best_d <= limit ? best : "";
}

std::string JoinChoices(std::initializer_list<std::string_view> choices) {
  std::string out;
  for (std::string_view c : choices) {
    if (!out.empty()) out += ", ";
    out += c;
  }
  return out;
}

// Fields people bring from PolicyLayer's FAQ, Intercept's YAML or similar gateways.
std::string KnownFieldHint(std::string_view key) {
  if (key == "rate_limit")
    return "write quotas as \"limits\": [{\"counter\": \"name\", \"window\": \"minute\", \"max\": 10}]";
  if (key == "rules")
    return "holdgate takes one rule object per tool; put conditional variants in \"cases\" "
           "(see schema/policies/README.md)";
  if (key == "on_deny") return "use \"reason\" for the text returned to the agent";
  if (key == "approval_timeout") return "use \"approval\": {\"timeout\": \"30m\"}";
  if (key == "conditions")
    return "use \"when\" (rule applies only if all match), \"deny_if\" (deny if any matches) or "
           "\"require\" (deny unless all match)";
  if (key == "state") return "holdgate counts calls with \"limits\"";
  return "";
}

struct ApprovalSpec {
  bool present = false;
  std::optional<int> approvers;
  std::optional<std::vector<std::string>> reviewers;
  std::optional<int64_t> timeout_ms;
  std::optional<int64_t> hold_ms;
  std::optional<int64_t> use_within_ms;
  std::optional<std::string> on_timeout;
  std::optional<std::vector<std::string>> notify;
  std::optional<bool> editable;
  std::optional<bool> cancel_on_disconnect;
  std::optional<int64_t> remember_max_ms;  // 0 for "remember": false
  std::optional<bool> remember_any_arguments;

  void ApplyTo(ApprovalSettings* s) const {
    if (approvers) s->approvers = *approvers;
    if (reviewers) s->reviewers = *reviewers;
    if (timeout_ms) s->timeout_ms = *timeout_ms;
    if (hold_ms) s->hold_ms = *hold_ms;
    if (use_within_ms) s->use_within_ms = *use_within_ms;
    if (on_timeout) s->on_timeout = *on_timeout;
    if (notify) s->notify = *notify;
    if (editable) s->editable = *editable;
    if (cancel_on_disconnect) s->cancel_on_disconnect = *cancel_on_disconnect;
    if (remember_max_ms) s->remember_max_ms = *remember_max_ms;
    if (remember_any_arguments) s->remember_any_arguments = *remember_any_arguments;
  }
};

struct RuleSpec {
  std::string path;
  std::string quoted_name;  // "\"cancel_job\"" for exact keys, empty for globs
  std::optional<Action> action;
  bool rate_limit_alias = false;
  std::optional<std::string> reason;
  std::optional<Json> risk;
  ApprovalSpec approval;
  std::vector<Condition> when, deny_if, require;
  std::vector<Limit> limits;
  std::optional<bool> shadow;
  std::vector<RuleSpec> cases;
};

// Tracks the JSON path while nlohmann parses, to report duplicate keys (which JSON would
// otherwise silently resolve to the last one) and excessive nesting.
class DuplicateKeyTracker {
 public:
  explicit DuplicateKeyTracker(std::vector<std::string>* errors) : errors_(errors) {}

  struct TooDeep {};

  bool operator()(int depth, nlohmann::json::parse_event_t event, Json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (depth > kMaxDepth) throw TooDeep{};
    switch (event) {
      case E::object_start:
      case E::array_start: {
        Frame f;
        f.is_array = event == E::array_start;
        f.path = ElementPath();
        frames_.push_back(std::move(f));
        break;
      }
      case E::object_end:
      case E::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case E::key: {
        Frame& f = frames_.back();
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!f.keys.insert(key).second) {
          errors_->push_back(ChildPath(f.path, key) +
                             ": duplicate key; hint: JSON keeps only the last one, so merge the "
                             "two entries into one");
        }
        f.pending_key = key;
        break;
      }
      case E::value:
        ElementPath();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool is_array = false;
    std::string path;
    size_t index = 0;
    std::set<std::string> keys;
    std::string pending_key;
  };
  // The path of the element that starts now (advances the array index).
  std::string ElementPath() {
    if (frames_.empty()) return "";
    Frame& f = frames_.back();
    if (f.is_array) return IndexPath(f.path, f.index++);
    return ChildPath(f.path, f.pending_key);
  }

  std::vector<std::string>* errors_;
  std::vector<Frame> frames_;
};

// The top-level keys an upstream's own policy takes from the top-level policy when it leaves
// them out (Policy::ParseUpstream). "annotations" is merged key by key, its "approval" too.
constexpr const char* kInheritedKeys[] = {"default", "all_tools", "annotations"};

// Adds to `own` the keys of `from` it lacks, recursing into objects both have.
void AddMissing(const Json& from, Json* own) {
  for (auto it = from.begin(); it != from.end(); ++it) {
    auto mine = own->find(it.key());
    if (mine == own->end()) (*own)[it.key()] = it.value();
    else if (mine->is_object() && it.value().is_object()) AddMissing(it.value(), &*mine);
  }
}

void Inherit(const Json& inherited, Json* doc) {
  for (const char* key : kInheritedKeys) {
    auto from = inherited.find(key);
    if (from == inherited.end()) continue;
    auto own = doc->find(key);
    if (own == doc->end()) (*doc)[key] = *from;
    else if (std::string_view(key) == "annotations" && own->is_object() && from->is_object()) AddMissing(*from, &*own);
  }
}

class Parser {
 public:
  explicit Parser(std::vector<std::string>* errors) : errors_(errors) {}

  bool Run(std::string_view text, const Json* inherited, Policy::Compiled* out) {
    Json doc;
    if (!ParseText(text, &doc)) return false;
    if (inherited != nullptr && doc.is_object()) Inherit(*inherited, &doc);
    if (doc.is_object()) {
      for (const char* key : kInheritedKeys) {
        if (doc.contains(key)) out->inheritable[key] = doc[key];
      }
    }
    size_t errors_before = errors_->size();
    Top(doc, out);
    return errors_->size() == errors_before;
  }

 private:
  void Err(const std::string& path, const std::string& what, const std::string& hint) {
    std::string msg = (path.empty() ? std::string("(document)") : path) + ": " + what;
    if (!hint.empty()) msg += "; hint: " + hint;
    errors_->push_back(std::move(msg));
  }
  void Warn(Policy::Compiled* out, const std::string& path, const std::string& what) {
    out->warnings.push_back(path + ": " + what);
  }

  bool ParseText(std::string_view text, Json* doc) {
    std::vector<std::string> dup_errors;
    DuplicateKeyTracker tracker(&dup_errors);
    try {
      *doc = Json::parse(text.begin(), text.end(), std::ref(tracker), /*allow_exceptions=*/true,
                         /*ignore_comments=*/false);
    } catch (const DuplicateKeyTracker::TooDeep&) {
      Err("", "nested deeper than " + std::to_string(kMaxDepth) + " levels",
          "a policy is a few levels deep; check for runaway brackets");
      return false;
    } catch (const nlohmann::json::parse_error& e) {
      size_t byte = e.byte == 0 ? 0 : e.byte - 1;
      if (byte > text.size()) byte = text.size();
      size_t line = 1, col = 1;
      for (size_t i = 0; i < byte; ++i) {
        if (text[i] == '\n') {
          ++line;
          col = 1;
        } else {
          ++col;
        }
      }
      std::string detail = e.what();
      size_t c = detail.find("column ");
      if (c != std::string::npos) {
        size_t colon = detail.find(": ", c);
        if (colon != std::string::npos) detail = detail.substr(colon + 2);
      }
      errors_->push_back("line " + std::to_string(line) + ", column " + std::to_string(col) +
                         ": " + detail +
                         "; hint: policy files are strict JSON (no comments, no trailing commas, "
                         "keys in double quotes)");
      return false;
    } catch (const std::exception& e) {
      Err("", std::string("could not be parsed: ") + e.what(), "");
      return false;
    }
    if (!dup_errors.empty()) {
      errors_->insert(errors_->end(), dup_errors.begin(), dup_errors.end());
      return false;
    }
    return true;
  }

  // Reports fields of `obj` not in `allowed`. Returns false if there were any.
  bool CheckFields(const Json& obj, const std::string& path,
                   std::initializer_list<std::string_view> allowed) {
    bool ok = true;
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const std::string& key = it.key();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string hint = KnownFieldHint(key);
      if (hint.empty()) {
        std::string close = Closest(key, allowed);
        hint = close.empty() ? "allowed fields here: " + JoinChoices(allowed)
                             : "did you mean " + Quoted(close) + "?";
      }
      Err(ChildPath(path, key), "unknown field", hint);
      ok = false;
    }
    return ok;
  }

  bool ExpectObject(const Json& j, const std::string& path, const std::string& hint) {
    if (j.is_object()) return true;
    Err(path, "must be an object (got " + TypeName(j) + ")", hint);
    return false;
  }

  std::optional<std::string> String(const Json& j, const std::string& path, const std::string& hint,
                                    bool allow_empty = false) {
    if (!j.is_string()) {
      Err(path, "must be a string (got " + TypeName(j) + ")", hint);
      return std::nullopt;
    }
    const std::string& s = j.get_ref<const std::string&>();
    if (s.empty() && !allow_empty) {
      Err(path, "must not be empty", hint);
      return std::nullopt;
    }
    return s;
  }

  std::optional<bool> Bool(const Json& j, const std::string& path) {
    if (j.is_boolean()) return j.get<bool>();
    Err(path, "must be true or false (got " + TypeName(j) + ")", "write the JSON literal true or false, without quotes");
    return std::nullopt;
  }

  std::optional<std::vector<std::string>> StringList(const Json& j, const std::string& path,
                                                     const std::string& hint) {
    if (!j.is_array()) {
      Err(path, "must be an array of strings (got " + TypeName(j) + ")", hint);
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (size_t i = 0; i < j.size(); ++i) {
      auto s = String(j[i], IndexPath(path, i), hint);
      if (s) out.push_back(*s);
      else ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // A duration: "30m", "50s", "2h", "1d", "500ms" or a number of seconds.
  std::optional<int64_t> Duration(const Json& j, const std::string& path, int64_t min_ms,
                                  const std::string& example) {
    int64_t ms = -1;
    if (j.is_number_integer()) {
      int64_t secs = j.get<int64_t>();
      if (secs >= 0 && secs <= kMaxDurationMs / 1000) ms = secs * 1000;
    } else if (j.is_string()) {
      ms = ParseDurationMs(j.get_ref<const std::string&>());
    } else {
      Err(path, "must be a duration string or a whole number of seconds (got " + TypeName(j) + ")",
          "for example " + example);
      return std::nullopt;
    }
    if (ms < 0 || ms > kMaxDurationMs) {
      Err(path, "is not a valid duration (" + DumpJson(j) + ")",
          "use a number with a unit: ms, s, m, h or d, for example " + example);
      return std::nullopt;
    }
    if (ms < min_ms) {
      Err(path, "must be at least " + FormatDuration(min_ms) + " (got " + DumpJson(j) + ")",
          "for example " + example);
      return std::nullopt;
    }
    return ms;
  }

  void Top(const Json& doc, Policy::Compiled* out) {
    if (!doc.is_object()) {
      Err("", "a policy must be a JSON object (got " + TypeName(doc) + ")",
          "start from {\"version\": \"1\", \"default\": \"deny\", \"tools\": {}}");
      return;
    }
    CheckFields(doc, "", {"version", "default", "hide", "all_tools", "tools", "shadow",
                          "annotations", "description", "$schema"});

    // version
    if (!doc.contains("version")) {
      Err("version", "is required", "add \"version\": \"1\"");
    } else if (!(doc["version"].is_string() && doc["version"].get_ref<const std::string&>() == "1")) {
      const Json& v = doc["version"];
      Err("version", "must be \"1\" (got " + DumpJson(v) + ")",
          v.is_number() ? "write the version as a string: \"1\"" : "only version \"1\" is recognised");
    }

    // default
    if (!doc.contains("default")) {
      Err("default", "is required", "add \"default\": \"deny\" (tools not named are blocked) or \"allow\"");
    } else {
      const Json& d = doc["default"];
      if (d == "allow") out->default_allow = true;
      else if (d == "deny") out->default_allow = false;
      else
        Err("default", "must be \"allow\" or \"deny\" (got " + DumpJson(d) + ")",
            "\"deny\" blocks every tool not named under \"tools\"");
    }

    if (doc.contains("description")) String(doc["description"], "description", "a human-readable note", true);
    if (doc.contains("$schema")) String(doc["$schema"], "$schema", "the URL or path of policy.schema.json");
    if (doc.contains("shadow")) {
      if (auto b = Bool(doc["shadow"], "shadow")) out->shadow = *b;
    }

    // annotations
    if (doc.contains("annotations")) {
      const Json& a = doc["annotations"];
      if (ExpectObject(a, "annotations", "{\"destructive_requires_approval\": true}")) {
        CheckFields(a, "annotations", {"destructive_requires_approval", "approval"});
        if (a.contains("destructive_requires_approval")) {
          if (auto b = Bool(a["destructive_requires_approval"], "annotations.destructive_requires_approval"))
            out->destructive_requires_approval = *b;
        }
        if (a.contains("approval")) {
          ApprovalSpec spec;
          ParseApproval(a["approval"], "annotations.approval", &spec);
          spec.ApplyTo(&out->default_approval);
        }
        if (out->destructive_requires_approval && !out->default_allow && doc.contains("default") &&
            doc["default"] == "deny") {
          Warn(out, "annotations.destructive_requires_approval",
               "has no effect under \"default\": \"deny\" (tools not named are already denied)");
        }
      }
    }

    // hide
    if (doc.contains("hide")) {
      const Json& h = doc["hide"];
      if (auto names = StringList(h, "hide", "tool names or globs, e.g. [\"run_command\", \"debug_*\"]")) {
        for (size_t i = 0; i < names->size(); ++i) {
          HideEntry e{IndexPath("hide", i), Glob((*names)[i])};
          if (Glob::HasWildcard((*names)[i])) out->hide_globs.push_back(std::move(e));
          else out->hide_exact.push_back(std::move(e));
        }
      }
    }

    // all_tools
    if (doc.contains("all_tools")) {
      const Json& a = doc["all_tools"];
      if (ExpectObject(a, "all_tools", "{\"limits\": [...]}")) {
        CheckFields(a, "all_tools", {"limits"});
        if (a.contains("limits")) ParseLimits(a["limits"], "all_tools.limits", &out->all_tools_limits);
      }
    }

    // tools
    if (doc.contains("tools")) {
      const Json& t = doc["tools"];
      if (ExpectObject(t, "tools", "map tool names (or globs) to rules, e.g. {\"list_jobs\": {}}")) {
        for (auto it = t.begin(); it != t.end(); ++it) {
          const std::string& name = it.key();
          std::string path = ChildPath("tools", name);
          if (name.empty()) {
            Err(path, "tool name must not be empty", "use the tool's name from tools/list, or a glob like \"list_*\"");
            continue;
          }
          RuleSpec spec;
          spec.path = path;
          if (!Glob::HasWildcard(name)) spec.quoted_name = Quoted(name);
          if (!ParseRule(it.value(), path, /*is_case=*/false, &spec)) continue;
          ToolEntry entry;
          entry.pattern = name;
          entry.glob = Glob(name);
          entry.rule = Build(spec, nullptr, out);
          if (Glob::HasWildcard(name)) out->globs.push_back(std::move(entry));
          else out->exact.push_back(std::move(entry));
        }
      }
    }

    auto by_pattern = [](const auto& a, const auto& b) { return a.glob.pattern() < b.glob.pattern(); };
    std::sort(out->hide_exact.begin(), out->hide_exact.end(), by_pattern);
    std::sort(out->exact.begin(), out->exact.end(),
              [](const ToolEntry& a, const ToolEntry& b) { return a.pattern < b.pattern; });
    std::stable_sort(out->globs.begin(), out->globs.end(), [](const ToolEntry& a, const ToolEntry& b) {
      return a.glob.MoreSpecificThan(b.glob);
    });

    for (size_t i = 0; i < out->hide_exact.size(); ++i) out->hide_index.emplace(out->hide_exact[i].glob.pattern(), i);
    for (size_t i = 0; i < out->exact.size(); ++i) out->exact_index.emplace(out->exact[i].pattern, i);

    // Rules that can never apply because `hide` wins.
    for (const ToolEntry& e : out->exact) {
      if (const HideEntry* h = FindHide(*out, e.pattern)) {
        Warn(out, e.rule.path, "never applies: the tool is hidden by " + h->path + " (hide wins)");
      }
    }
  }

  bool ParseRule(const Json& j, const std::string& path, bool is_case, RuleSpec* spec) {
    if (!j.is_object()) {
      Err(path, "must be an object (got " + TypeName(j) + ")",
          is_case ? "a case looks like {\"when\": [...], \"approval\": {\"approvers\": 2}}"
                  : "use {} to allow the tool, or {\"action\": \"require_approval\"}");
      return false;
    }
    if (is_case) {
      CheckFields(j, path, {"when", "action", "reason", "risk", "approval", "deny_if", "require",
                            "limits", "shadow", "description"});
    } else {
      CheckFields(j, path, {"action", "reason", "risk", "when", "deny_if", "require", "limits",
                            "approval", "shadow", "cases", "description"});
    }
    if (j.contains("description")) String(j["description"], ChildPath(path, "description"), "a note", true);
    if (j.contains("action")) {
      std::string p = ChildPath(path, "action");
      const Json& a = j["action"];
      if (!a.is_string()) {
        Err(p, "must be a string (got " + TypeName(a) + ")", "one of \"allow\", \"deny\", \"require_approval\"");
      } else {
        const std::string& s = a.get_ref<const std::string&>();
        if (s == "allow") spec->action = Action::kAllow;
        else if (s == "deny") spec->action = Action::kDeny;
        else if (s == "require_approval") spec->action = Action::kHold;
        else if (s == "rate_limit") {
          spec->action = Action::kAllow;
          spec->rate_limit_alias = true;
        } else {
          std::string hint;
          if (s == "hide") hint = "hiding is top-level: add the tool to \"hide\"";
          else if (s == "hold" || s == "approve" || s == "ask" || s == "approval" || s == "require-approval")
            hint = "did you mean \"require_approval\"?";
          else {
            std::string close = Closest(s, {"allow", "deny", "require_approval", "rate_limit"});
            hint = close.empty() ? "one of \"allow\", \"deny\", \"require_approval\"" : "did you mean " + Quoted(close) + "?";
          }
          Err(p, "unknown action " + Quoted(s), hint);
        }
      }
    }
    if (j.contains("reason")) {
      if (auto s = String(j["reason"], ChildPath(path, "reason"), "the text returned to the agent")) spec->reason = *s;
    }
    if (j.contains("risk")) ParseRisk(j["risk"], ChildPath(path, "risk"), spec);
    if (j.contains("shadow")) spec->shadow = Bool(j["shadow"], ChildPath(path, "shadow"));
    if (j.contains("when")) ParseConditions(j["when"], ChildPath(path, "when"), &spec->when);
    if (j.contains("deny_if")) {
      ParseConditions(j["deny_if"], ChildPath(path, "deny_if"), &spec->deny_if);
      for (Condition& c : spec->deny_if)
        c.default_reason = "Denied by policy (" + c.where + "): argument " + c.Describe() + " is not allowed.";
    }
    if (j.contains("require")) {
      ParseConditions(j["require"], ChildPath(path, "require"), &spec->require);
      for (Condition& c : spec->require)
        c.default_reason = "Denied by policy (" + c.where + "): the call must satisfy " + c.Describe() + ".";
    }
    if (j.contains("limits")) ParseLimits(j["limits"], ChildPath(path, "limits"), &spec->limits);
    if (j.contains("approval")) ParseApproval(j["approval"], ChildPath(path, "approval"), &spec->approval);
    if (spec->rate_limit_alias && spec->limits.empty()) {
      Err(ChildPath(path, "action"), "\"rate_limit\" needs at least one entry in \"limits\"",
          "add \"limits\": [{\"counter\": \"name\", \"window\": \"minute\", \"max\": 10}]");
    }
    if (is_case && !j.contains("when")) {
      Err(ChildPath(path, "when"), "is required in a case", "a case applies when all its \"when\" conditions hold");
    } else if (is_case && j["when"].is_array() && j["when"].empty()) {
      Err(ChildPath(path, "when"), "must list at least one condition",
          "a case without conditions would always apply; put its fields on the rule itself");
    }
    if (!is_case && j.contains("cases")) {
      std::string p = ChildPath(path, "cases");
      const Json& c = j["cases"];
      if (!c.is_array()) {
        Err(p, "must be an array (got " + TypeName(c) + ")", "[{\"when\": [...], ...overrides}]");
      } else {
        for (size_t i = 0; i < c.size(); ++i) {
          RuleSpec cs;
          cs.path = IndexPath(p, i);
          cs.quoted_name = spec->quoted_name;
          if (ParseRule(c[i], cs.path, /*is_case=*/true, &cs)) spec->cases.push_back(std::move(cs));
        }
      }
    }
    return true;
  }

  void ParseRisk(const Json& j, const std::string& path, RuleSpec* spec) {
    if (!ExpectObject(j, path, "{\"category\": \"Destructive\", \"level\": \"critical\"}")) return;
    CheckFields(j, path, {"category", "level"});
    bool ok = true;
    if (j.contains("category")) {
      ok &= String(j["category"], ChildPath(path, "category"), "e.g. Read, Write, Execute, Destructive, Financial").has_value();
    }
    if (j.contains("level")) {
      const Json& l = j["level"];
      if (!(l == "low" || l == "medium" || l == "high" || l == "critical")) {
        Err(ChildPath(path, "level"), "must be one of \"low\", \"medium\", \"high\", \"critical\" (got " + DumpJson(l) + ")",
            "PolicyLayer's scale: Read=low, Write=medium, Execute=high, Destructive=critical");
        ok = false;
      }
    }
    if (ok) spec->risk = j;
  }

  void ParseConditions(const Json& j, const std::string& path, std::vector<Condition>* out) {
    if (!j.is_array()) {
      Err(path, "must be an array of conditions (got " + TypeName(j) + ")",
          "[{\"path\": \"args.delete\", \"op\": \"eq\", \"value\": true}]");
      return;
    }
    for (size_t i = 0; i < j.size(); ++i) {
      Condition c;
      if (ParseCondition(j[i], IndexPath(path, i), &c)) out->push_back(std::move(c));
    }
  }

  bool ParseCondition(const Json& j, const std::string& path, Condition* c) {
    c->where = path;
    if (!ExpectObject(j, path, "{\"path\": \"args.delete\", \"op\": \"eq\", \"value\": true}")) return false;
    CheckFields(j, path, {"path", "op", "value", "reason"});
    bool ok = true;
    if (!j.contains("path")) {
      Err(ChildPath(path, "path"), "is required", "the argument to test, e.g. \"args.delete\" or \"config.limits[0].max\"");
      ok = false;
    } else if (auto p = String(j["path"], ChildPath(path, "path"), "e.g. \"args.delete\"")) {
      std::string error;
      if (!c->path.Parse(*p, &error)) {
        Err(ChildPath(path, "path"), "is not a valid argument path " + Quoted(*p) + ": " + error,
            "dotted keys and [index]: \"args.config.limits[0].max\"; quote odd keys: \"args[\\\"a.b\\\"]\"");
        ok = false;
      }
    } else {
      ok = false;
    }
    if (!j.contains("op")) {
      Err(ChildPath(path, "op"), "is required", "one of eq, ne, in, not_in, lt, le, gt, ge, matches, exists, contains");
      return false;
    }
    std::string op_path = ChildPath(path, "op");
    auto op_name = String(j["op"], op_path, "e.g. \"eq\"");
    if (!op_name) return false;
    if (!ParseCondOp(*op_name, &c->op)) {
      std::string close = Closest(*op_name, {"eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "matches", "exists", "contains"});
      std::string hint = (*op_name == "==" || *op_name == "equals") ? "did you mean \"eq\"?"
                         : (*op_name == "!=")                         ? "did you mean \"ne\"?"
                         : close.empty() ? "one of eq, ne, in, not_in, lt, le, gt, ge, matches, exists, contains"
                                         : "did you mean " + Quoted(close) + "?";
      Err(op_path, "unknown operator " + Quoted(*op_name), hint);
      return false;
    }
    std::string vpath = ChildPath(path, "value");
    if (j.contains("reason")) {
      if (auto r = String(j["reason"], ChildPath(path, "reason"), "text returned to the agent")) c->reason = *r;
      else ok = false;
    }
    if (c->op == CondOp::kExists) {
      if (j.contains("value")) {
        if (!j["value"].is_boolean()) {
          Err(vpath, "must be true or false for \"exists\" (got " + TypeName(j["value"]) + ")",
              "omit it to require the argument, or false to require its absence");
          return false;
        }
        c->exists = j["value"].get<bool>();
      }
      c->value = c->exists;
      return ok;
    }
    if (!j.contains("value")) {
      Err(vpath, "is required for \"" + *op_name + "\"", "the value to compare the argument with");
      return false;
    }
    c->value = j["value"];
    switch (c->op) {
      case CondOp::kIn:
      case CondOp::kNotIn:
        if (!c->value.is_array()) {
          Err(vpath, "must be an array for \"" + *op_name + "\" (got " + TypeName(c->value) + ")", "e.g. [\"fit\", \"predict\"]");
          return false;
        }
        c->set.assign(c->value.begin(), c->value.end());
        break;
      case CondOp::kLt: case CondOp::kLe: case CondOp::kGt: case CondOp::kGe:
        if (!c->value.is_number() && !c->value.is_string()) {
          Err(vpath, "must be a number or a string for \"" + *op_name + "\" (got " + TypeName(c->value) + ")", "e.g. 10000");
          return false;
        }
        break;
      case CondOp::kMatches: {
        if (!c->value.is_string()) {
          Err(vpath, "must be a regular expression string (got " + TypeName(c->value) + ")", "e.g. \"^/tmp/\"");
          return false;
        }
        std::string error;
        if (!c->regex.Compile(c->value.get_ref<const std::string&>(), &error)) {
          Err(vpath, "is not a valid regular expression " + Quoted(c->value.get_ref<const std::string&>()) + ": " + error,
              "RE2-style syntax without backreferences or lookaround; escape literal characters such as \\\\. and \\\\(");
          return false;
        }
        break;
      }
      case CondOp::kContains:
        if (c->value.is_object() || c->value.is_array()) {
          Err(vpath, "must be a string, number or boolean for \"contains\" (got " + TypeName(c->value) + ")", "e.g. \"DROP\"");
          return false;
        }
        break;
      default:
        break;
    }
    return ok;
  }

  void ParseLimits(const Json& j, const std::string& path, std::vector<Limit>* out) {
    if (!j.is_array()) {
      Err(path, "must be an array of limits (got " + TypeName(j) + ")",
          "[{\"counter\": \"fit_rate\", \"window\": \"minute\", \"max\": 10, \"scope\": \"grant\"}]");
      return;
    }
    for (size_t i = 0; i < j.size(); ++i) {
      std::string p = IndexPath(path, i);
      const Json& l = j[i];
      if (!ExpectObject(l, p, "{\"counter\": \"fit_rate\", \"window\": \"minute\", \"max\": 10, \"scope\": \"grant\"}")) continue;
      CheckFields(l, p, {"counter", "window", "max", "scope"});
      Limit limit;
      limit.path = p;
      limit.counter = p;
      bool ok = true;
      if (l.contains("counter")) {
        if (auto s = String(l["counter"], ChildPath(p, "counter"), "a name; limits with the same counter, window and scope share one count"))
          limit.counter = *s;
        else ok = false;
      }
      if (!l.contains("window")) {
        Err(ChildPath(p, "window"), "is required", "\"second\", \"minute\", \"hour\", \"day\" or a number of seconds");
        ok = false;
      } else {
        const Json& w = l["window"];
        std::string wp = ChildPath(p, "window");
        if (w == "second") limit.window_ms = 1000;
        else if (w == "minute") limit.window_ms = 60'000;
        else if (w == "hour") limit.window_ms = 3'600'000;
        else if (w == "day") limit.window_ms = 86'400'000;
        else if (w.is_number_integer() || w.is_string()) {
          if (auto ms = Duration(w, wp, 1000, "\"minute\", 60 or \"90s\"")) limit.window_ms = *ms;
          else ok = false;
        } else {
          Err(wp, "must be \"second\", \"minute\", \"hour\", \"day\" or a whole number of seconds (got " + TypeName(w) + ")",
              "e.g. \"minute\" or 60");
          ok = false;
        }
      }
      if (!l.contains("max")) {
        Err(ChildPath(p, "max"), "is required", "the number of calls allowed per window, e.g. 10");
        ok = false;
      } else {
        const Json& m = l["max"];
        if (!m.is_number_integer() || (m.is_number_integer() && !m.is_number_unsigned() && m.get<int64_t>() < 0)) {
          Err(ChildPath(p, "max"), "must be an integer ≥ 0 (got " + TypeName(m) + ")", "the number of calls allowed per window, e.g. 10");
          ok = false;
        } else if (m.is_number_unsigned() && m.get<uint64_t>() > (uint64_t{1} << 53)) {
          Err(ChildPath(p, "max"), "is too large", "use a number below 2^53");
          ok = false;
        } else {
          limit.max = m.get<int64_t>();
        }
      }
      if (l.contains("scope")) {
        const Json& s = l["scope"];
        if (s == "grant") limit.scope = Scope::kGrant;
        else if (s == "principal") limit.scope = Scope::kPrincipal;
        else if (s == "session") limit.scope = Scope::kSession;
        else if (s == "global") limit.scope = Scope::kGlobal;
        else {
          Err(ChildPath(p, "scope"), "must be \"grant\", \"principal\", \"session\" or \"global\" (got " + DumpJson(s) + ")",
              "\"grant\" counts per agent credential (PolicyLayer's default)");
          ok = false;
        }
      }
      if (ok) out->push_back(std::move(limit));
    }
  }

  void ParseApproval(const Json& j, const std::string& path, ApprovalSpec* spec) {
    if (!ExpectObject(j, path, "{\"approvers\": 1, \"timeout\": \"30m\", \"hold\": \"50s\"}")) return;
    spec->present = true;
    CheckFields(j, path, {"approvers", "reviewers", "timeout", "hold", "use_within", "on_timeout", "notify",
                          "editable", "cancel_on_disconnect", "remember"});
    if (j.contains("remember")) ParseRemember(j["remember"], ChildPath(path, "remember"), spec);
    if (j.contains("approvers")) {
      const Json& a = j["approvers"];
      std::string p = ChildPath(path, "approvers");
      const bool too_small = !a.is_number_integer() || (a.is_number_unsigned() ? a.get<uint64_t>() == 0 : a.get<int64_t>() < 1);
      if (too_small) {
        Err(p, "must be an integer ≥ 1 (got " + TypeName(a) + ")", "the number of distinct reviewers who must approve, e.g. 2");
      } else if (a.get<uint64_t>() > 100) {
        Err(p, "must be at most 100 (got " + TypeName(a) + ")", "the number of distinct reviewers who must approve, e.g. 2");
      } else {
        spec->approvers = static_cast<int>(a.get<int64_t>());
      }
    }
    if (j.contains("reviewers")) {
      spec->reviewers = StringList(j["reviewers"], ChildPath(path, "reviewers"),
                                   "reviewer roles or names, e.g. [\"role:ml-oncall\", \"alice\"]");
    }
    if (j.contains("notify")) {
      spec->notify = StringList(j["notify"], ChildPath(path, "notify"),
                                "notification targets, e.g. [\"slack:#ml-approvals\", \"webhook:ops\"]");
    }
    if (j.contains("timeout")) spec->timeout_ms = Duration(j["timeout"], ChildPath(path, "timeout"), 1000, "\"30m\"");
    if (j.contains("hold")) spec->hold_ms = Duration(j["hold"], ChildPath(path, "hold"), 0, "\"50s\"");
    if (j.contains("use_within")) {
      spec->use_within_ms = Duration(j["use_within"], ChildPath(path, "use_within"), 1000, "\"10m\"");
    }
    if (j.contains("on_timeout")) {
      const Json& o = j["on_timeout"];
      std::string p = ChildPath(path, "on_timeout");
      if (o == "reject") {
        spec->on_timeout = "reject";
      } else if (o == "approve" || o == "allow" || o == "run" || o == "execute") {
        Err(p, "must be \"reject\" (got " + DumpJson(o) + ")",
            "holdgate never runs a tool because a wait timed out; an expired approval is rejected");
      } else {
        Err(p, "must be \"reject\" (got " + DumpJson(o) + ")", "an expired approval is rejected back to the agent");
      }
    }
    if (j.contains("editable")) spec->editable = Bool(j["editable"], ChildPath(path, "editable"));
    if (j.contains("cancel_on_disconnect"))
      spec->cancel_on_disconnect = Bool(j["cancel_on_disconnect"], ChildPath(path, "cancel_on_disconnect"));
  }

  // "remember": false | {"max": "1h", "any_arguments": false}
  void ParseRemember(const Json& j, const std::string& path, ApprovalSpec* spec) {
    if (j.is_boolean() && !j.get<bool>()) {
      spec->remember_max_ms = 0;
      return;
    }
    if (!ExpectObject(j, path, "{\"max\": \"1h\", \"any_arguments\": false} or false")) return;
    CheckFields(j, path, {"max", "any_arguments"});
    if (j.contains("max")) {
      spec->remember_max_ms = Duration(j["max"], ChildPath(path, "max"), 60'000, "\"1h\"");
    } else {
      spec->remember_max_ms = 60 * 60'000;
    }
    if (j.contains("any_arguments")) spec->remember_any_arguments = Bool(j["any_arguments"], ChildPath(path, "any_arguments"));
  }

  // Builds the compiled rule for `spec` (a top-level rule when base == null, else a case of base).
  CompiledRule Build(const RuleSpec& spec, const RuleSpec* base, Policy::Compiled* out) {
    CompiledRule r;
    r.path = spec.path;
    if (base == nullptr) {
      r.action = spec.action.value_or(Action::kAllow);
      r.reason = spec.reason.value_or("");
      r.risk = spec.risk;
      spec.approval.ApplyTo(&r.approval);
      r.when = spec.when;
      r.deny_if = spec.deny_if;
      r.require = spec.require;
      r.own_limits = spec.limits;
      r.shadow = spec.shadow.value_or(false);
      bool any_case_holds = false;
      for (const RuleSpec& c : spec.cases) {
        r.cases.push_back(Build(c, &spec, out));
        any_case_holds |= r.cases.back().action == Action::kHold;
      }
      if (spec.approval.present && r.action != Action::kHold && !any_case_holds) {
        Warn(out, ChildPath(spec.path, "approval"), "is ignored: the rule's action is not \"require_approval\"");
      }
    } else {
      r.action = spec.action ? *spec.action : base->action.value_or(Action::kAllow);
      r.reason = spec.reason ? *spec.reason : base->reason.value_or("");
      r.risk = spec.risk ? spec.risk : base->risk;
      base->approval.ApplyTo(&r.approval);
      spec.approval.ApplyTo(&r.approval);
      r.when = spec.when;
      r.deny_if = base->deny_if;
      r.deny_if.insert(r.deny_if.end(), spec.deny_if.begin(), spec.deny_if.end());
      r.require = base->require;
      r.require.insert(r.require.end(), spec.require.begin(), spec.require.end());
      r.own_limits = base->limits;
      r.own_limits.insert(r.own_limits.end(), spec.limits.begin(), spec.limits.end());
      r.shadow = spec.shadow ? *spec.shadow : base->shadow.value_or(false);
      if (spec.approval.present && r.action != Action::kHold) {
        Warn(out, ChildPath(spec.path, "approval"), "is ignored: the case's action is not \"require_approval\"");
      }
    }
    // A critical rule is not rememberable unless its "remember" (or its base rule's) says so.
    const bool remember_set = spec.approval.remember_max_ms || (base && base->approval.remember_max_ms);
    if (!remember_set && r.risk && r.risk->is_object() && r.risk->value("level", "") == "critical") {
      r.approval.remember_max_ms = 0;
    }
    if (r.action == Action::kDeny && !r.own_limits.empty()) {
      Warn(out, ChildPath(spec.path, "limits"), "never count: the rule denies every call");
    }
    if (r.action == Action::kHold && r.approval.hold_ms > r.approval.timeout_ms) {
      Warn(out, ChildPath(ChildPath(spec.path, "approval"), "hold"), "is longer than approval.timeout; the approval expires while the call is still held");
    }
    if (r.action == Action::kDeny) {
      r.default_reason = (spec.quoted_name.empty() ? std::string("This tool") : "Tool " + spec.quoted_name) +
                         " is denied by policy (" + r.path + ").";
    } else if (r.action == Action::kHold) {
      r.default_reason = "Calling " + (spec.quoted_name.empty() ? std::string("this tool") : spec.quoted_name) +
                         " requires human approval (" + r.path + ").";
    }
    r.limits = out->all_tools_limits;
    r.limits.insert(r.limits.end(), r.own_limits.begin(), r.own_limits.end());
    return r;
  }

  std::vector<std::string>* errors_;
};

bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '$')) return false;
  }
  return true;
}

}  // namespace

std::string ChildPath(const std::string& parent, std::string_view key) {
  if (IsPlainKey(key)) return parent.empty() ? std::string(key) : parent + "." + std::string(key);
  return parent + "[" + Quoted(key) + "]";
}

std::string IndexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string FormatWindow(int64_t window_ms) {
  switch (window_ms) {
    case 1000: return "second";
    case 60'000: return "minute";
    case 3'600'000: return "hour";
    case 86'400'000: return "day";
    default: return FormatDuration(window_ms);
  }
}

bool CompilePolicy(std::string_view text, Policy::Compiled* out, std::vector<std::string>* errors,
                   const Json* inherited) {
  Parser parser(errors);
  return parser.Run(text, inherited, out);
}

}  // namespace holdgate::policy
