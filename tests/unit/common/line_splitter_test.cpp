#include "common/line_splitter.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace holdgate {
namespace {

std::vector<std::string> FeedAll(LineSplitter& s, const std::vector<std::string>& chunks, int* overflows = nullptr) {
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    bool ok = s.Feed(c, [&](std::string_view line) { out.emplace_back(line); });
    if (!ok && overflows) ++*overflows;
  }
  return out;
}

TEST_CASE("line splitter: lines across reads, CRLF, empty lines", "[common][lines]") {
  LineSplitter s(1024);
  auto lines = FeedAll(s, {"{\"a\":1}\n{\"b\"", ":2}\r\n\n\r\n", "{\"c\":3}", "\n"});
  REQUIRE(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"});
}

TEST_CASE("line splitter: an over-long line is dropped whole, the next one survives", "[common][lines]") {
  LineSplitter s(16);
  int overflows = 0;
  auto lines = FeedAll(s, {"short\n", std::string(40, 'x'), std::string(10, 'y') + "\nafter\n"}, &overflows);
  CHECK(overflows == 1);
  // Nothing of the long line (neither its head nor its tail) comes out as a line.
  REQUIRE(lines == std::vector<std::string>{"short", "after"});
}

TEST_CASE("line splitter: a line exactly at the limit is kept", "[common][lines]") {
  LineSplitter s(8);
  int overflows = 0;
  auto lines = FeedAll(s, {"12345678", "\n"}, &overflows);
  CHECK(overflows == 0);
  REQUIRE(lines == std::vector<std::string>{"12345678"});
}

}  // namespace
}  // namespace holdgate
