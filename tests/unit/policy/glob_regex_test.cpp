#include <catch2/catch.hpp>

#include <pthread.h>

#include <string>

#include "policy/glob.h"
#include "policy/regex.h"

namespace holdgate::policy {
namespace {

TEST_CASE("glob: literal patterns match only themselves", "[policy][glob]") {
  Glob g("cancel_job");
  CHECK(g.Match("cancel_job"));
  CHECK_FALSE(g.Match("cancel_jobs"));
  CHECK_FALSE(g.Match("cancel_jo"));
  CHECK_FALSE(g.Match(""));
  CHECK_FALSE(Glob::HasWildcard("cancel_job"));
  CHECK(Glob::HasWildcard("list_*"));
  CHECK(Glob::HasWildcard("fi?"));
}

TEST_CASE("glob: star matches any run, also empty", "[policy][glob]") {
  CHECK(Glob("*").Match(""));
  CHECK(Glob("*").Match("anything"));
  Glob list("list_*");
  CHECK(list.Match("list_jobs"));
  CHECK(list.Match("list_"));
  CHECK_FALSE(list.Match("xlist_jobs"));
  CHECK_FALSE(list.Match("list"));
  Glob suffix("*_status");
  CHECK(suffix.Match("check_job_status"));
  CHECK_FALSE(suffix.Match("check_job_status2"));
  Glob mid("*_job*");
  CHECK(mid.Match("cancel_job"));
  CHECK(mid.Match("start_job_now"));
  CHECK_FALSE(mid.Match("jobs"));
}

TEST_CASE("glob: question mark matches exactly one character", "[policy][glob]") {
  Glob g("fi?");
  CHECK(g.Match("fit"));
  CHECK_FALSE(g.Match("fi"));
  CHECK_FALSE(g.Match("fitt"));
  CHECK(Glob("?*").Match("a"));
  CHECK_FALSE(Glob("?*").Match(""));
}

TEST_CASE("glob: backtracking over several stars", "[policy][glob]") {
  Glob g("a*b*c");
  CHECK(g.Match("abc"));
  CHECK(g.Match("aXbYc"));
  CHECK(g.Match("abbbcbc"));
  CHECK_FALSE(g.Match("acb"));
  CHECK_FALSE(g.Match("abcd"));
  CHECK(Glob("**x").Match("x"));
}

TEST_CASE("glob: specificity order", "[policy][glob]") {
  // More literal characters first.
  CHECK(Glob("list_*").MoreSpecificThan(Glob("l*")));
  CHECK(Glob("l*").MoreSpecificThan(Glob("*")));
  CHECK_FALSE(Glob("*").MoreSpecificThan(Glob("l*")));
  // Same literals: fewer stars first ('?' is not a star).
  CHECK(Glob("fi?").MoreSpecificThan(Glob("fi*")));
  CHECK(Glob("a*b").MoreSpecificThan(Glob("*a*b")));
  // Total order: ties broken by text.
  CHECK(Glob("a*").MoreSpecificThan(Glob("b*")) != Glob("b*").MoreSpecificThan(Glob("a*")));
}

bool Re(const std::string& pattern, const std::string& input) {
  Regex re;
  std::string error;
  INFO(pattern << ": " << error);
  REQUIRE(re.Compile(pattern, &error));
  return re.Search(input);
}

std::string ReError(const std::string& pattern) {
  Regex re;
  std::string error;
  REQUIRE_FALSE(re.Compile(pattern, &error));
  return error;
}

TEST_CASE("regex: search semantics and anchors", "[policy][regex]") {
  CHECK(Re("job", "cancel_job_now"));
  CHECK_FALSE(Re("^job", "cancel_job"));
  CHECK(Re("^cancel", "cancel_job"));
  CHECK(Re("job$", "cancel_job"));
  CHECK_FALSE(Re("job$", "cancel_jobs"));
  CHECK(Re("^$", ""));
  CHECK_FALSE(Re("^$", "x"));
  CHECK(Re("", "anything"));
  CHECK(Re("^a|b$", "ab"));
  CHECK(Re("^a|b$", "xb"));
  CHECK_FALSE(Re("^a|b$", "xa"));
}

TEST_CASE("regex: classes, escapes and dot", "[policy][regex]") {
  CHECK(Re("^[a-c]+$", "abcabc"));
  CHECK_FALSE(Re("^[a-c]+$", "abcd"));
  CHECK(Re("^[^0-9]+$", "abc"));
  CHECK_FALSE(Re("^[^0-9]+$", "a1"));
  CHECK(Re("^\\d{3}-\\d{4}$", "555-1234"));
  CHECK_FALSE(Re("^\\d{3}-\\d{4}$", "55-1234"));
  CHECK(Re("^\\w+$", "snake_case9"));
  CHECK_FALSE(Re("^\\w+$", "a-b"));
  CHECK(Re("\\s", "a b"));
  CHECK_FALSE(Re("\\S", "  \t"));
  CHECK(Re("\\.\\.", "../etc"));
  CHECK_FALSE(Re("\\.\\.", "./etc"));
  CHECK(Re("^a.c$", "abc"));
  CHECK_FALSE(Re("^a.c$", "a\nc"));
  CHECK(Re("[.]", "."));
  CHECK_FALSE(Re("[.]", "x"));
  CHECK(Re("^[\\d_]+$", "1_2"));
  CHECK(Re("^[-a]+$", "-a-"));
  CHECK(Re("^[]a]+$", "]a"));
}

TEST_CASE("regex: groups, alternation and quantifiers", "[policy][regex]") {
  CHECK(Re("^(ab)+$", "ababab"));
  CHECK_FALSE(Re("^(ab)+$", "aba"));
  CHECK(Re("^(cat|dog)s?$", "dogs"));
  CHECK_FALSE(Re("^(cat|dog)s?$", "cow"));
  CHECK(Re("^a{2}$", "aa"));
  CHECK_FALSE(Re("^a{2}$", "aaa"));
  CHECK(Re("^a{2,}$", "aaaa"));
  CHECK_FALSE(Re("^a{2,}$", "a"));
  CHECK(Re("^a{1,3}$", "aaa"));
  CHECK_FALSE(Re("^a{1,3}$", "aaaa"));
  CHECK(Re("^a*?b$", "aab"));
  CHECK(Re("^(a*)*$", "aaaa"));
  CHECK(Re("^(|a)+$", "aa"));
}

TEST_CASE("regex: case-insensitive flag", "[policy][regex]") {
  CHECK(Re("(?i)^drop table", "DROP TABLE users"));
  CHECK_FALSE(Re("^drop table", "DROP TABLE users"));
  CHECK(Re("(?i)^[a-c]+$", "AbC"));
}

TEST_CASE("regex: invalid patterns are refused with an offset", "[policy][regex]") {
  CHECK_THAT(ReError("("), Catch::Contains("missing ')'"));
  CHECK_THAT(ReError("a)"), Catch::Contains("unmatched ')'"));
  CHECK_THAT(ReError("[a"), Catch::Contains("missing ']'"));
  CHECK_THAT(ReError("a{2,1}"), Catch::Contains("m < n"));
  CHECK_THAT(ReError("*a"), Catch::Contains("nothing to repeat"));
  CHECK_THAT(ReError("(\\w)\\1"), Catch::Contains("backreferences"));
  CHECK_THAT(ReError("(?=x)"), Catch::Contains("lookaround"));
  CHECK_THAT(ReError("a{1001}"), Catch::Contains("repeat count"));
  CHECK_THAT(ReError("[z-a]"), Catch::Contains("invalid range"));
  CHECK_THAT(ReError("a\\"), Catch::Contains("trailing"));
  CHECK_THAT(ReError("(a{1000}){1000}"), Catch::Contains("too large"));
  CHECK_THAT(ReError("*a"), Catch::Contains("offset 0"));
}

struct LongSearch {
  Regex* re;
  std::string* input;
  bool result = true;
};

void* RunSearch(void* arg) {
  auto* s = static_cast<LongSearch*>(arg);
  s->result = s->re->Search(*s->input);
  return nullptr;
}

TEST_CASE("regex: a megabyte of input on a 64 KiB stack, in linear time", "[policy][regex]") {
  // std::regex would recurse per character here and overflow; the NFA simulation must not.
  Regex re;
  std::string error;
  REQUIRE(re.Compile("^(a|aa)*(x+x+)+y$", &error));
  std::string input(1 << 20, 'a');
  LongSearch job{&re, &input};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t thread;
  REQUIRE(pthread_create(&thread, &attr, &RunSearch, &job) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  CHECK_FALSE(job.result);
  input += "xxy";
  CHECK(re.Search(input));
}

}  // namespace
}  // namespace holdgate::policy
