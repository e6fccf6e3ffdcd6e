#include <catch2/catch.hpp>

#include "common/text.h"

namespace holdgate {

TEST_CASE("text: trimming and case-blind comparison", "[common][text]") {
  CHECK(TrimOws(" \tchunked \t") == "chunked");
  CHECK(TrimOws("\r\nkept\r\n") == "\r\nkept\r\n");  // only spaces and tabs
  CHECK(TrimOws(" \t ").empty());
  CHECK(TrimSpace("\r\n a reason \t\n") == "a reason");
  CHECK(TrimSpace("").empty());
  CHECK(TrimSpace("inner  space") == "inner  space");
  CHECK(EqualsIgnoreCase("Content-Length", "content-LENGTH"));
  CHECK_FALSE(EqualsIgnoreCase("chunked", "chunked "));
  CHECK_FALSE(EqualsIgnoreCase("keep-alive", "keep_alive"));
  CHECK(EqualsIgnoreCase("", ""));
}

}  // namespace holdgate
