#include <catch2/catch.hpp>

#include "policy/condition.h"

namespace holdgate::policy {
namespace {

Condition Make(const std::string& path, const std::string& op, const Json& value = Json()) {
  Condition c;
  std::string error;
  INFO(path << ": " << error);
  REQUIRE(c.path.Parse(path, &error));
  REQUIRE(ParseCondOp(op, &c.op));
  c.value = value;
  if (c.op == CondOp::kIn || c.op == CondOp::kNotIn) c.set.assign(value.begin(), value.end());
  if (c.op == CondOp::kMatches) REQUIRE(c.regex.Compile(value.get<std::string>(), &error));
  if (c.op == CondOp::kExists) c.exists = value.is_boolean() ? value.get<bool>() : true;
  return c;
}

bool Test(const std::string& path, const std::string& op, const Json& value, const Json& args) {
  return Make(path, op, value).Test(&args);
}

std::string PathError(const std::string& path) {
  ArgPath p;
  std::string error;
  REQUIRE_FALSE(p.Parse(path, &error));
  return error;
}

TEST_CASE("path: accepted spellings resolve to the same argument", "[policy][condition]") {
  Json args = {{"delete", true}, {"config", {{"limits", {{{"max", 7}}}}}}, {"a.b", 1}, {"args", {{"x", 2}}}};
  for (const char* spelling : {"delete", "args.delete", "$.delete", "args[\"delete\"]", "['delete']", "$['delete']"}) {
    ArgPath p;
    std::string error;
    INFO(spelling);
    REQUIRE(p.Parse(spelling, &error));
    const Json* v = p.Resolve(&args);
    REQUIRE(v != nullptr);
    CHECK(*v == true);
    CHECK(p.display() == "delete");
  }
  ArgPath deep;
  std::string error;
  REQUIRE(deep.Parse("config.limits[0].max", &error));
  REQUIRE(deep.Resolve(&args) != nullptr);
  CHECK(*deep.Resolve(&args) == 7);
  CHECK(deep.display() == "config.limits[0].max");
  ArgPath dotted;
  REQUIRE(dotted.Parse("args[\"a.b\"]", &error));
  REQUIRE(dotted.Resolve(&args) != nullptr);
  CHECK(*dotted.Resolve(&args) == 1);
  CHECK(dotted.display() == "[\"a.b\"]");
  // A real argument called "args" is reached as args.args.
  ArgPath literal_args;
  REQUIRE(literal_args.Parse("args.args.x", &error));
  REQUIRE(literal_args.Resolve(&args) != nullptr);
  CHECK(*literal_args.Resolve(&args) == 2);
  // "argsfoo" is a key, not the prefix.
  ArgPath argsfoo;
  REQUIRE(argsfoo.Parse("argsfoo", &error));
  CHECK(argsfoo.display() == "argsfoo");
}

TEST_CASE("path: missing steps and wrong container types resolve to nothing", "[policy][condition]") {
  Json args = {{"config", {{"limits", {1, 2}}}}, {"s", "text"}};
  std::string error;
  ArgPath p;
  REQUIRE(p.Parse("config.limits[5]", &error));
  CHECK(p.Resolve(&args) == nullptr);
  REQUIRE(p.Parse("config.limits.x", &error));
  CHECK(p.Resolve(&args) == nullptr);
  REQUIRE(p.Parse("s[0]", &error));
  CHECK(p.Resolve(&args) == nullptr);
  REQUIRE(p.Parse("nothing", &error));
  CHECK(p.Resolve(&args) == nullptr);
  CHECK(p.Resolve(nullptr) == nullptr);
  Json not_object = Json::array();
  CHECK(p.Resolve(&not_object) == nullptr);
}

TEST_CASE("path: malformed paths are refused", "[policy][condition]") {
  CHECK_THAT(PathError(""), Catch::Contains("empty path"));
  CHECK_THAT(PathError("args"), Catch::Contains("whole arguments object"));
  CHECK_THAT(PathError("$"), Catch::Contains("whole arguments object"));
  CHECK_THAT(PathError("a..b"), Catch::Contains("empty key"));
  CHECK_THAT(PathError("a["), Catch::Contains("expected an array index"));
  CHECK_THAT(PathError("a[x]"), Catch::Contains("expected an array index"));
  CHECK_THAT(PathError("a[0"), Catch::Contains("expected ']'"));
  CHECK_THAT(PathError(".a"), Catch::Contains("unexpected '.'"));
  CHECK_THAT(PathError("a]"), Catch::Contains("unexpected ']'"));
  CHECK_THAT(PathError("a[\"b]"), Catch::Contains("unterminated"));
  CHECK_THAT(PathError("$x"), Catch::Contains("unexpected 'x'"));
}

TEST_CASE("op eq: JSON equality with lenient coercion", "[policy][condition]") {
  CHECK(Test("delete", "eq", true, {{"delete", true}}));
  CHECK_FALSE(Test("delete", "eq", true, {{"delete", false}}));
  CHECK_FALSE(Test("delete", "eq", true, Json::object()));  // missing never equals
  CHECK(Test("n", "eq", 1, {{"n", 1.0}}));
  CHECK(Test("s", "eq", "x", {{"s", "x"}}));
  CHECK(Test("o", "eq", Json({{"a", 1}}), {{"o", {{"a", 1}}}}));
  // Quoting a value cannot dodge a rule (lenient servers coerce "true" and "42").
  CHECK(Test("delete", "eq", true, {{"delete", "true"}}));
  CHECK(Test("delete", "eq", true, {{"delete", "True"}}));
  CHECK(Test("delete", "eq", true, {{"delete", 1}}));
  CHECK(Test("delete", "eq", false, {{"delete", "0"}}));
  CHECK_FALSE(Test("delete", "eq", true, {{"delete", "nope"}}));
  CHECK(Test("n", "eq", 42, {{"n", "42"}}));
  CHECK(Test("n", "eq", 42, {{"n", " 42.0 "}}));
  CHECK(Test("n", "eq", "42", {{"n", 42}}));
  CHECK_FALSE(Test("n", "eq", 42, {{"n", "42x"}}));
}

TEST_CASE("op ne: missing arguments are not equal", "[policy][condition]") {
  CHECK(Test("mode", "ne", "predict", {{"mode", "predict_interval"}}));
  CHECK_FALSE(Test("mode", "ne", "predict", {{"mode", "predict"}}));
  CHECK(Test("mode", "ne", "predict", Json::object()));
  CHECK(Test("mode", "neq", "predict", Json::object()));  // Intercept alias
}

TEST_CASE("op in / not_in", "[policy][condition]") {
  Json set = {"fit", "predict", 3};
  CHECK(Test("m", "in", set, {{"m", "fit"}}));
  CHECK(Test("m", "in", set, {{"m", "3"}}));
  CHECK_FALSE(Test("m", "in", set, {{"m", "evaluate"}}));
  CHECK_FALSE(Test("m", "in", set, Json::object()));
  CHECK(Test("m", "not_in", set, {{"m", "evaluate"}}));
  CHECK_FALSE(Test("m", "not_in", set, {{"m", "fit"}}));
  CHECK(Test("m", "not_in", set, Json::object()));
}

TEST_CASE("ops lt le gt ge: numbers, numeric strings, strings", "[policy][condition]") {
  Json a = {{"amount", 10000}};
  CHECK(Test("amount", "gt", 9999, a));
  CHECK_FALSE(Test("amount", "gt", 10000, a));
  CHECK(Test("amount", "ge", 10000, a));
  CHECK(Test("amount", "gte", 10000, a));
  CHECK(Test("amount", "lt", 10000.5, a));
  CHECK_FALSE(Test("amount", "lt", 10000, a));
  CHECK(Test("amount", "le", 10000, a));
  CHECK(Test("amount", "lte", 10000, a));
  // Numeric strings compare as numbers (the server would coerce them).
  CHECK(Test("amount", "gt", 100, {{"amount", "1e3"}}));
  CHECK(Test("amount", "gt", "100", {{"amount", 1000}}));
  // Large integers keep their precision.
  CHECK(Test("n", "gt", 9007199254740992LL, {{"n", 9007199254740993LL}}));
  // Non-numeric string values compare lexicographically with strings only.
  CHECK(Test("d", "lt", "2026-01-01", {{"d", "2025-12-31"}}));
  CHECK_FALSE(Test("d", "lt", "2026-01-01", {{"d", 5}}));
  // Missing, null or incomparable: false.
  CHECK_FALSE(Test("amount", "gt", 1, Json::object()));
  CHECK_FALSE(Test("amount", "gt", 1, {{"amount", nullptr}}));
  CHECK_FALSE(Test("amount", "gt", 1, {{"amount", "lots"}}));
  CHECK_FALSE(Test("amount", "gt", 1, {{"amount", {1, 2}}}));
  CHECK_FALSE(Test("amount", "gt", 0, {{"amount", true}}));
}

TEST_CASE("op matches: regex search over strings and over the JSON text of others", "[policy][condition]") {
  CHECK(Test("path", "matches", "(^|/)\\.\\.(/|$)", {{"path", "data/../../etc/passwd"}}));
  CHECK_FALSE(Test("path", "matches", "(^|/)\\.\\.(/|$)", {{"path", "data/..hidden/x"}}));
  CHECK(Test("path", "regex", "^/tmp/", {{"path", "/tmp/x"}}));
  CHECK(Test("n", "matches", "^12$", {{"n", 12}}));
  CHECK(Test("config", "matches", "connection_string", {{"config", {{"connection_string", "x"}}}}));
  CHECK_FALSE(Test("path", "matches", ".", Json::object()));
}

TEST_CASE("op exists: present and not null", "[policy][condition]") {
  CHECK(Test("reason", "exists", Json(), {{"reason", "because"}}));
  CHECK_FALSE(Test("reason", "exists", Json(), Json::object()));
  CHECK_FALSE(Test("reason", "exists", Json(), {{"reason", nullptr}}));
  CHECK(Test("reason", "exists", false, Json::object()));
  CHECK_FALSE(Test("reason", "exists", false, {{"reason", ""}}));
  Condition c = Make("reason", "exists");
  CHECK(c.Test(nullptr) == false);
}

TEST_CASE("op contains: substring, array element, object key", "[policy][condition]") {
  CHECK(Test("q", "contains", "DROP", {{"q", "x; DROP TABLE"}}));
  CHECK_FALSE(Test("q", "contains", "DROP", {{"q", "select"}}));
  CHECK(Test("tags", "contains", "prod", {{"tags", {"dev", "prod"}}}));
  CHECK(Test("ids", "contains", 3, {{"ids", {1, "3"}}}));
  CHECK_FALSE(Test("tags", "contains", "prod", {{"tags", {"dev"}}}));
  CHECK(Test("config", "contains", "url", {{"config", {{"url", "http://x"}}}}));
  CHECK_FALSE(Test("q", "contains", "x", Json::object()));
}

TEST_CASE("op names and descriptions", "[policy][condition]") {
  CondOp op;
  CHECK_FALSE(ParseCondOp("==", &op));
  CHECK_FALSE(ParseCondOp("EQ", &op));
  CHECK(Make("args.delete", "eq", true).Describe() == "delete eq true");
  CHECK(Make("reason", "exists").Describe() == "reason exists");
  CHECK(Make("reason", "exists", false).Describe() == "reason exists false");
  CHECK(Make("m", "in", Json({"a", "b"})).Describe() == "m in [\"a\",\"b\"]");
  CHECK(std::string(CondOpName(CondOp::kNotIn)) == "not_in");
}

}  // namespace
}  // namespace holdgate::policy
