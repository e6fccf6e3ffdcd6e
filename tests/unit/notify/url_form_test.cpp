// URL splitting for httplib's Client (scheme://host:port + path) and form decoding of Slack's
// interaction bodies.
#include <catch2/catch.hpp>

#include "notify/form_decode.h"
#include "notify/http_client.h"

namespace holdgate::notify {
namespace {

ParsedUrl Split(const std::string& url) {
  auto r = SplitUrl(url);
  INFO(url << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("SplitUrl: origin for the client, path for the request", "[notify][url]") {
  ParsedUrl u = Split("https://hooks.slack.com/services/T000/B000/XXXX");
  CHECK(u.scheme == "https");
  CHECK(u.host == "hooks.slack.com");
  CHECK(u.port == 443);
  CHECK(u.path == "/services/T000/B000/XXXX");
  CHECK(u.Origin() == "https://hooks.slack.com:443");

  u = Split("http://127.0.0.1:8080/hook?x=1&y=2");
  CHECK(u.Origin() == "http://127.0.0.1:8080");
  CHECK(u.path == "/hook?x=1&y=2");

  u = Split("HTTP://Example.COM");
  CHECK(u.scheme == "http");
  CHECK(u.host == "example.com");
  CHECK(u.port == 80);
  CHECK(u.path == "/");

  u = Split("http://[::1]:9000");
  CHECK(u.host == "::1");
  CHECK(u.port == 9000);
  CHECK(u.Origin() == "http://[::1]:9000");

  u = Split("https://example.com?q=1");
  CHECK(u.path == "/?q=1");
}

TEST_CASE("SplitUrl: refuses what httplib would misread", "[notify][url]") {
  for (const char* bad : {"ftp://example.com/x", "example.com/hook", "https://user:pw@example.com/",
                          "https://example.com:99999/", "https://example.com:0/", "https://example.com:/x",
                          "https:///path", "http://exa mple.com/", "https://example.com/a#frag",
                          "https://[::1/x", "http://a:b:c/", "https://example.com:8x/", "http://host/\x01"}) {
    INFO(bad);
    CHECK_FALSE(SplitUrl(bad).ok());
  }
}

TEST_CASE("IsLoopbackHost", "[notify][url]") {
  CHECK(IsLoopbackHost("127.0.0.1"));
  CHECK(IsLoopbackHost("127.1.2.3"));
  CHECK(IsLoopbackHost("localhost"));
  CHECK(IsLoopbackHost("LOCALHOST"));
  CHECK(IsLoopbackHost("::1"));
  CHECK_FALSE(IsLoopbackHost("127.0.0.1.example.com"));
  CHECK_FALSE(IsLoopbackHost("128.0.0.1"));
  CHECK_FALSE(IsLoopbackHost("127.0.0.256"));
  CHECK_FALSE(IsLoopbackHost("10.0.0.1"));
  CHECK_FALSE(IsLoopbackHost("localhost.evil.com"));
}

TEST_CASE("PostHttp refuses plain http to a non-loopback host before connecting", "[notify][url]") {
  HttpPost post;
  post.url = "http://example.invalid/hook";
  HttpOutcome out = PostHttp(post);
  CHECK(out.status == 0);
  CHECK(out.error.find("loopback") != std::string::npos);
  CHECK(out.Summary().rfind("error: ", 0) == 0);
}

TEST_CASE("HttpOutcome summaries for the delivery log", "[notify][url]") {
  HttpOutcome o;
  o.status = 503;
  CHECK(o.Summary() == "503 Service Unavailable");
  o.status = 299;
  CHECK(o.Summary() == "299");
  CHECK(o.ok());
  o.status = 302;
  CHECK_FALSE(o.ok());
}

TEST_CASE("form decoding of Slack interaction bodies", "[notify][form]") {
  std::map<std::string, std::string> form;
  REQUIRE(ParseFormUrlEncoded("payload=%7B%22a%22%3A%22x+y%22%7D&token=abc&empty=&flag", &form));
  CHECK(form["payload"] == "{\"a\":\"x y\"}");
  CHECK(form["token"] == "abc");
  CHECK(form["empty"].empty());
  CHECK(form.count("flag") == 1);

  std::map<std::string, std::string> bad;
  CHECK_FALSE(ParseFormUrlEncoded("payload=%7", &bad));
  CHECK_FALSE(ParseFormUrlEncoded("payload=%zz", &bad));

  const std::string raw = "{\"text\":\"a&b=c +%\",\"u\":\"\xc3\xa9\"}";
  std::string decoded;
  REQUIRE(UrlDecode(UrlEncode(raw), &decoded));
  CHECK(decoded == raw);
  CHECK(UrlEncode("a b&c") == "a%20b%26c");
}

}  // namespace
}  // namespace holdgate::notify
