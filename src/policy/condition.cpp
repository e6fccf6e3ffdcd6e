#include "policy/condition.h"

#include <cctype>
#include <charconv>
#include <cmath>

namespace holdgate::policy {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Strictly parses a whole string (surrounding blanks allowed) as a finite number.
bool ParseNumber(std::string_view s, long double* out) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  long double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// Numeric view of a value the way lenient servers coerce it: numbers, numeric strings, booleans.
bool AsNumber(const Json& j, long double* out, bool allow_bool) {
  switch (j.type()) {
    case Json::value_t::number_integer: *out = static_cast<long double>(j.get<int64_t>()); return true;
    case Json::value_t::number_unsigned: *out = static_cast<long double>(j.get<uint64_t>()); return true;
    case Json::value_t::number_float: *out = static_cast<long double>(j.get<double>()); return true;
    case Json::value_t::string: return ParseNumber(j.get_ref<const std::string&>(), out);
    case Json::value_t::boolean:
      if (!allow_bool) return false;
      *out = j.get<bool>() ? 1 : 0;
      return true;
    default: return false;
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Boolean view of a string the way pydantic's lax mode reads it.
bool StringAsBool(std::string_view s, bool* out) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  for (const char* t : {"true", "1", "yes", "on", "t", "y"}) {
    if (EqualsIgnoreCase(s, t)) { *out = true; return true; }
  }
  for (const char* f : {"false", "0", "no", "off", "f", "n"}) {
    if (EqualsIgnoreCase(s, f)) { *out = false; return true; }
  }
  return false;
}

// Equality with lenient-server coercion, so quoting a value ("true", "42") cannot dodge a rule.
bool LooseEquals(const Json& arg, const Json& val) {
  if (arg == val) return true;
  if (val.is_boolean()) {
    bool b;
    if (arg.is_string()) return StringAsBool(arg.get_ref<const std::string&>(), &b) && b == val.get<bool>();
    long double n;
    if (arg.is_number() && AsNumber(arg, &n, false)) return (n == 1 && val.get<bool>()) || (n == 0 && !val.get<bool>());
    return false;
  }
  if (val.is_number()) {
    long double a, v;
    return (arg.is_string() || arg.is_boolean()) && AsNumber(arg, &a, true) && AsNumber(val, &v, false) && a == v;
  }
  if (val.is_string()) {
    if (arg.is_number()) {
      long double a, v;
      return AsNumber(arg, &a, false) && ParseNumber(val.get_ref<const std::string&>(), &v) && a == v;
    }
    if (arg.is_boolean()) {
      bool b;
      return StringAsBool(val.get_ref<const std::string&>(), &b) && b == arg.get<bool>();
    }
  }
  return false;
}

// -1, 0, 1 or 2 (not comparable).
int Compare(const Json& arg, const Json& val) {
  long double a, v;
  if (val.is_number()) {
    if (!AsNumber(arg, &a, false) || !AsNumber(val, &v, false)) return 2;
    return a < v ? -1 : (a > v ? 1 : 0);
  }
  if (val.is_string()) {
    if (ParseNumber(val.get_ref<const std::string&>(), &v)) {
      if (!AsNumber(arg, &a, false)) return 2;
      return a < v ? -1 : (a > v ? 1 : 0);
    }
    if (!arg.is_string()) return 2;
    int c = arg.get_ref<const std::string&>().compare(val.get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return 2;
}

bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

bool ArgPath::Parse(std::string_view text, std::string* error) {
  text_.assign(text);
  steps_.clear();
  size_t i = 0;
  auto fail = [&](const std::string& what) {
    *error = what + " at offset " + std::to_string(i);
    return false;
  };
  if (text.empty()) return fail("empty path");
  // Optional root: "$" or "args" (only as a whole first segment).
  if (text[0] == '$') {
    i = 1;
  } else if (text.substr(0, 4) == "args" && (text.size() == 4 || text[4] == '.' || text[4] == '[')) {
    i = 4;
  }
  bool need_sep = i > 0;  // after a root, a segment must start with '.' or '['
  while (i < text.size()) {
    char c = text[i];
    if (c == '.') {
      if (!need_sep) return fail("unexpected '.'");
      ++i;
      size_t start = i;
      while (i < text.size() && text[i] != '.' && text[i] != '[' && text[i] != ']') ++i;
      if (i == start) return fail("empty key");
      steps_.push_back({std::string(text.substr(start, i - start)), -1});
    } else if (c == '[') {
      ++i;
      if (i < text.size() && (text[i] == '"' || text[i] == '\'')) {
        char quote = text[i++];
        std::string key;
        while (i < text.size() && text[i] != quote) {
          if (text[i] == '\\' && i + 1 < text.size()) ++i;
          key.push_back(text[i++]);
        }
        if (i >= text.size()) return fail("unterminated quoted key");
        ++i;
        if (i >= text.size() || text[i] != ']') return fail("expected ']'");
        ++i;
        steps_.push_back({std::move(key), -1});
      } else {
        size_t start = i;
        int64_t index = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
          index = index * 10 + (text[i] - '0');
          if (index > (int64_t{1} << 40)) return fail("index too large");
          ++i;
        }
        if (i == start) return fail("expected an array index or a quoted key inside []");
        if (i >= text.size() || text[i] != ']') return fail("expected ']'");
        ++i;
        steps_.push_back({std::string(), index});
      }
    } else if (!need_sep) {
      size_t start = i;
      while (i < text.size() && text[i] != '.' && text[i] != '[' && text[i] != ']') ++i;
      if (i == start) return fail("unexpected ']'");
      steps_.push_back({std::string(text.substr(start, i - start)), -1});
    } else {
      return fail(std::string("unexpected '") + c + "'");
    }
    need_sep = true;
  }
  if (steps_.empty()) {
    *error = "the path names the whole arguments object; name an argument, e.g. \"args.job_id\"";
    return false;
  }
  display_.clear();
  for (const Step& s : steps_) {
    if (s.index >= 0) {
      display_ += "[" + std::to_string(s.index) + "]";
    } else if (IsPlainKey(s.key)) {
      if (!display_.empty()) display_ += ".";
      display_ += s.key;
    } else {
      display_ += "[" + Json(s.key).dump() + "]";
    }
  }
  return true;
}

const Json* ArgPath::Resolve(const Json* arguments) const {
  const Json* cur = arguments;
  for (const Step& s : steps_) {
    if (cur == nullptr) return nullptr;
    if (s.index >= 0) {
      if (!cur->is_array() || static_cast<size_t>(s.index) >= cur->size()) return nullptr;
      cur = &(*cur)[static_cast<size_t>(s.index)];
    } else {
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(s.key);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    }
  }
  return cur;
}

const char* CondOpName(CondOp op) {
  switch (op) {
    case CondOp::kEq: return "eq";
    case CondOp::kNe: return "ne";
    case CondOp::kIn: return "in";
    case CondOp::kNotIn: return "not_in";
    case CondOp::kLt: return "lt";
    case CondOp::kLe: return "le";
    case CondOp::kGt: return "gt";
    case CondOp::kGe: return "ge";
    case CondOp::kMatches: return "matches";
    case CondOp::kExists: return "exists";
    case CondOp::kContains: return "contains";
  }
  return "?";
}

bool ParseCondOp(std::string_view name, CondOp* op) {
  struct Entry { std::string_view name; CondOp op; };
  static constexpr Entry kOps[] = {
      {"eq", CondOp::kEq},       {"ne", CondOp::kNe},         {"neq", CondOp::kNe},
      {"in", CondOp::kIn},       {"not_in", CondOp::kNotIn},  {"lt", CondOp::kLt},
      {"le", CondOp::kLe},       {"lte", CondOp::kLe},        {"gt", CondOp::kGt},
      {"ge", CondOp::kGe},       {"gte", CondOp::kGe},        {"matches", CondOp::kMatches},
      {"regex", CondOp::kMatches}, {"exists", CondOp::kExists}, {"contains", CondOp::kContains},
  };
  for (const Entry& e : kOps) {
    if (e.name == name) {
      *op = e.op;
      return true;
    }
  }
  return false;
}

bool Condition::Test(const Json* arguments) const {
  const Json* arg = path.Resolve(arguments);
  const bool present = arg != nullptr && !arg->is_null();
  switch (op) {
    case CondOp::kExists:
      return present == exists;
    case CondOp::kEq:
      return arg != nullptr && LooseEquals(*arg, value);
    case CondOp::kNe:
      return arg == nullptr || !LooseEquals(*arg, value);
    case CondOp::kIn:
    case CondOp::kNotIn: {
      bool found = false;
      if (arg != nullptr) {
        for (const Json& v : set) {
          if (LooseEquals(*arg, v)) {
            found = true;
            break;
          }
        }
      }
      return op == CondOp::kIn ? found : !found;
    }
    case CondOp::kLt: case CondOp::kLe: case CondOp::kGt: case CondOp::kGe: {
      if (!present) return false;
      int c = Compare(*arg, value);
      if (c == 2) return false;
      if (op == CondOp::kLt) return c < 0;
      if (op == CondOp::kLe) return c <= 0;
      if (op == CondOp::kGt) return c > 0;
      return c >= 0;
    }
    case CondOp::kMatches:
      if (!present) return false;
      if (arg->is_string()) return regex.Search(arg->get_ref<const std::string&>());
      return regex.Search(DumpJson(*arg));
    case CondOp::kContains:
      if (!present) return false;
      if (arg->is_string()) {
        return value.is_string() &&
               arg->get_ref<const std::string&>().find(value.get_ref<const std::string&>()) != std::string::npos;
      }
      if (arg->is_array()) {
        for (const Json& e : *arg) {
          if (LooseEquals(e, value)) return true;
        }
        return false;
      }
      if (arg->is_object()) return value.is_string() && arg->contains(value.get_ref<const std::string&>());
      return false;
  }
  return false;
}

std::string Condition::Describe() const {
  std::string out = path.display();
  out += ' ';
  out += CondOpName(op);
  if (op == CondOp::kExists) {
    if (!exists) out += " false";
  } else {
    out += ' ';
    out += DumpJson(value);
  }
  return out;
}

}  // namespace holdgate::policy
