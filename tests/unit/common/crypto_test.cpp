#include <catch2/catch.hpp>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/json_util.h"

#include <vector>

namespace holdgate {

TEST_CASE("sha256 and hmac match known vectors", "[common]") {
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  CHECK(HmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("base64 round-trips and rejects garbage", "[common]") {
  for (const std::string& raw : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    std::string decoded;
    REQUIRE(Base64Decode(Base64Encode(raw), &decoded));
    CHECK(decoded == raw);
  }
  std::string out;
  CHECK_FALSE(Base64Decode("abc", &out));
}

TEST_CASE("constant-time compare", "[common]") {
  CHECK(ConstantTimeEquals("secret", "secret"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secreT"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secret2"));
}

TEST_CASE("random ids are distinct and prefixed", "[common]") {
  std::string a = NewId("apr_"), b = NewId("apr_");
  CHECK(a != b);
  CHECK(a.rfind("apr_", 0) == 0);
  CHECK(a.size() == 4 + 32);
}

TEST_CASE("durations parse", "[common]") {
  CHECK(ParseDurationMs("30m") == 30 * 60 * 1000);
  CHECK(ParseDurationMs("50s") == 50000);
  CHECK(ParseDurationMs("50") == 50000);
  CHECK(ParseDurationMs("2h") == 7200000);
  CHECK(ParseDurationMs("1d") == 86400000);
  CHECK(ParseDurationMs("250ms") == 250);
  CHECK(ParseDurationMs("") == -1);
  CHECK(ParseDurationMs("m") == -1);
  CHECK(ParseDurationMs("5y") == -1);
}

TEST_CASE("time formats as RFC 3339 UTC", "[common]") {
  CHECK(FormatTimeMs(0) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatTimeMs(1764079914123) == "2025-11-25T14:11:54.123Z");
}

TEST_CASE("json parsing is safe on hostile input", "[common]") {
  CHECK_FALSE(ParseJson("{").ok());
  CHECK_FALSE(ParseJson(std::string(1000, '[') + std::string(1000, ']')).ok());
  CHECK(ParseJson("\"[[[[\"").ok());  // brackets inside strings do not count
  auto v = ParseJson(R"({"b":1,"a":[1,2]})");
  REQUIRE(v.ok());
  CHECK(CanonicalJson(*v) == R"({"a":[1,2],"b":1})");
  CHECK(DumpJson(Json(std::string("\xff"))) == "\"\xEF\xBF\xBD\"");
}

}  // namespace holdgate
