#include <catch2/catch.hpp>

#include "common/config.h"

namespace holdgate {

TEST_CASE("config: listener limits and session settings have defaults and parse", "[common][config]") {
  auto defaults = ConfigFromJson(Json::object());
  REQUIRE(defaults.ok());
  CHECK(defaults->session_idle_timeout_ms == 3'600'000);
  CHECK(defaults->max_sessions_per_principal == 1000);
  CHECK(defaults->mcp_limits.header_timeout_ms == 10'000);
  CHECK(defaults->mcp_limits.max_connections_per_ip == 0);

  auto c = ConfigFromJson(Json::parse(R"({"mcp":{"session_idle_timeout":"15m","max_sessions_per_principal":5,
      "header_timeout":"2s","body_timeout":"1m","idle_timeout":"500ms","max_connections":100,
      "max_connections_per_ip":10}})"));
  REQUIRE(c.ok());
  CHECK(c->session_idle_timeout_ms == 900'000);
  CHECK(c->max_sessions_per_principal == 5);
  CHECK(c->mcp_limits.header_timeout_ms == 2000);
  CHECK(c->mcp_limits.body_timeout_ms == 60'000);
  CHECK(c->mcp_limits.idle_timeout_ms == 500);
  CHECK(c->mcp_limits.max_connections == 100);
  CHECK(c->mcp_limits.max_connections_per_ip == 10);

  ListenerLimits review;
  REQUIRE(ReadListenerLimits(Json::parse(R"({"max_connections_per_ip":3})"), "review", &review).ok());
  CHECK(review.max_connections_per_ip == 3);
  CHECK(review.max_connections == 1024);
}

TEST_CASE("config: bad limits are refused with their path", "[common][config]") {
  auto bad = [](const char* text) {
    auto c = ConfigFromJson(Json::parse(text));
    return c.ok() ? std::string() : c.status().message();
  };
  CHECK(bad(R"({"mcp":{"header_timeout":"soon"}})").find("mcp.header_timeout") != std::string::npos);
  CHECK(bad(R"({"mcp":{"header_timeout":"10ms"}})").find("at least 100ms") != std::string::npos);
  CHECK(bad(R"({"mcp":{"max_connections":0}})").find("mcp.max_connections") != std::string::npos);
  CHECK(bad(R"({"mcp":{"max_sessions_per_principal":-1}})").find("mcp.max_sessions_per_principal") != std::string::npos);
  CHECK(bad(R"({"mcp":{"session_idle_timeout":"10ms"}})").find("mcp.session_idle_timeout") != std::string::npos);
}

}  // namespace holdgate
