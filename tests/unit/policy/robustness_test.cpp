#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "policy/regex.h"
#include "test_util.h"

namespace holdgate::policy {
namespace {

// Deterministic mutation fuzzing of the parser: truncations, byte flips and splices of a real
// policy must each end in a policy or in an error message of the documented shape.
TEST_CASE("robustness: mutated policies never crash the parser", "[policy][robustness]") {
  const std::string base = testutil::ReadFile(testutil::RepoRoot() + "/schema/policies/sktime.json");
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\":,.*?$\\ 0123456789-eE+truefalsnl_abcxyz\n\xff\xc3";
  int parsed = 0, refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % (text.size() + 1);
      switch (rng() % 4) {
        case 0: text.resize(pos); break;
        case 1: if (pos < text.size()) text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 2: text.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        case 3: if (pos < text.size()) text.erase(pos, 1 + rng() % 8); break;
      }
    }
    auto p = Policy::Parse(text);
    if (p.ok()) {
      ++parsed;
      Json args = {{"delete", true}, {"path", "../x"}};
      CallContext ctx;
      ctx.tool = "cancel_job";
      ctx.arguments = &args;
      (void)(*p)->Evaluate(ctx);
    } else {
      ++refused;
      const std::string& m = p.status().message();
      REQUIRE_FALSE(m.empty());
      // Every line names a place: a JSON path, "(document)" or "line N, column M".
      size_t start = 0;
      while (start < m.size()) {
        size_t end = m.find('\n', start);
        std::string line = m.substr(start, end == std::string::npos ? std::string::npos : end - start);
        INFO(line);
        CHECK(line.find(": ") != std::string::npos);
        CHECK(line.find(": ") > 0);
        if (end == std::string::npos) break;
        start = end + 1;
      }
    }
    CheckReport r = Check(text, nullptr);
    CHECK(r.ok == p.ok());
  }
  CHECK(parsed > 0);
  CHECK(refused > 0);
}

TEST_CASE("robustness: random regexes compile or fail cleanly, and search terminates", "[policy][robustness]") {
  std::mt19937 rng(777);
  const std::string alphabet = "ab.()[]^$*+?{}|\\-0123,dws";
  const std::string input = "aab-ba12 x\nbbba" + std::string(300, 'a');
  int compiled = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    std::string pattern;
    size_t len = 1 + rng() % 12;
    for (size_t i = 0; i < len; ++i) pattern.push_back(alphabet[rng() % alphabet.size()]);
    Regex re;
    std::string error;
    if (re.Compile(pattern, &error)) {
      ++compiled;
      (void)re.Search(input);
      (void)re.Search("");
    } else {
      CHECK_THAT(error, Catch::Contains("at offset"));
    }
  }
  CHECK(compiled > 100);
}

}  // namespace
}  // namespace holdgate::policy
