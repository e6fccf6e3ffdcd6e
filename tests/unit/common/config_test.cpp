#include "common/config.h"

#include <catch2/catch.hpp>

#include <set>

namespace holdgate {
namespace {

std::vector<std::string> Paths(const std::vector<ConfigError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.path);
  return out;
}

}  // namespace

TEST_CASE("config: every problem is reported with its JSON path, not only the first", "[config]") {
  Json doc = Json::parse(R"({
    "colour": "blue",
    "mcp": {"listen": "nowhere", "agent_keys": [{"name": "", "sha256": "short"}], "max_body_bytes": 10},
    "review": {"listen": "127.0.0.1:0", "auth": {"jwt_secret": "x", "kid": "k"}},
    "hold": {"default_hold": "soon", "progress": "5s"},
    "audit": {"all_calls": "yes"},
    "log_level": "loud"
  })");
  std::vector<ConfigError> errors;
  Result<Config> c = ConfigFromJson(doc, &errors);
  REQUIRE_FALSE(c.ok());
  using Catch::Matchers::VectorContains;
  auto paths = Paths(errors);
  for (const char* p : {"colour", "mcp.listen", "mcp.agent_keys[0].name", "mcp.agent_keys[0].sha256",
                        "mcp.max_body_bytes", "review.auth.kid", "hold.default_hold", "hold.progress",
                        "audit.all_calls", "log_level"}) {
    INFO(p);
    CHECK_THAT(paths, VectorContains(std::string(p)));
  }
  CHECK(c.status().message().find("more: holdgate config check lists them") != std::string::npos);
}

TEST_CASE("config: a valid document parses, with $schema and $comment allowed", "[config]") {
  Json doc = Json::parse(R"({"$schema": "config.schema.json", "$comment": "hi",
    "mcp": {"listen": "[::1]:0"}, "upstream": {"command": "demo --stdio"}, "db": "x.db",
    "hold": {"default_hold": 30}, "log_level": "debug"})");
  std::vector<ConfigError> errors;
  Result<Config> c = ConfigFromJson(doc, &errors);
  REQUIRE(c.ok());
  CHECK(errors.empty());
  CHECK(c->mcp_listen == "[::1]:0");
  CHECK(c->default_hold_ms == 30000);
  CHECK(c->upstream_cmd == "demo --stdio");
}

TEST_CASE("config: command and url together are refused", "[config]") {
  std::vector<ConfigError> errors;
  CHECK_FALSE(ConfigFromJson(Json{{"upstream", {{"command", "a"}, {"url", "http://b/mcp"}}}}, &errors).ok());
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "upstream");
}

TEST_CASE("config: the database section sets the PostgreSQL pool, lease and poll", "[config]") {
  std::vector<ConfigError> errors;
  Result<Config> defaults = ConfigFromJson(Json::object(), &errors);
  REQUIRE(defaults.ok());
  CHECK(defaults->db_pool_size == 8);
  CHECK(defaults->db_executing_lease_ms == 30'000);
  CHECK(defaults->db_change_poll_ms == 1'000);
  Result<Config> set = ConfigFromJson(
      Json{{"database", {{"pool_size", 16u}, {"executing_lease", "2m"}, {"change_poll", "250ms"}}}}, &errors);
  REQUIRE(set.ok());
  CHECK(set->db_pool_size == 16);
  CHECK(set->db_executing_lease_ms == 120'000);
  CHECK(set->db_change_poll_ms == 250);

  errors.clear();
  CHECK_FALSE(ConfigFromJson(Json{{"database", {{"pool_size", 1u}, {"executing_lease", "1s"}, {"poll", "1s"}}}},
                             &errors)
                  .ok());
  REQUIRE(errors.size() == 3);
  std::set<std::string> paths;
  for (const ConfigError& e : errors) paths.insert(e.path);
  CHECK(paths == std::set<std::string>{"database.pool_size", "database.executing_lease", "database.poll"});
}

TEST_CASE("config: upstream.sessions and max_sessions default by transport", "[config]") {
  std::vector<ConfigError> errors;
  Result<Config> url = ConfigFromJson(Json{{"upstream", {{"url", "http://b/mcp"}}}}, &errors);
  REQUIRE(url.ok());
  CHECK(url->UpstreamPerAgent());  // a session per agent is cheap over HTTP
  CHECK(url->UpstreamMaxSessions() == Config::kDefaultMaxHttpSessions);
  Result<Config> cmd = ConfigFromJson(Json{{"upstream", {{"command", "demo --stdio"}}}}, &errors);
  REQUIRE(cmd.ok());
  CHECK_FALSE(cmd->UpstreamPerAgent());  // a child per agent is not: opt in
  Result<Config> opted = ConfigFromJson(
      Json{{"upstream", {{"command", "demo --stdio"}, {"sessions", "per_agent"}, {"max_sessions", 4u}}}}, &errors);
  REQUIRE(opted.ok());
  CHECK(opted->UpstreamPerAgent());
  CHECK(opted->UpstreamMaxSessions() == 4);
  CHECK_FALSE(ConfigFromJson(Json{{"upstream", {{"url", "http://b/mcp"}, {"sessions", "shared"}}}}, &errors)
                  ->UpstreamPerAgent());

  errors.clear();
  CHECK_FALSE(ConfigFromJson(Json{{"upstream", {{"url", "http://b/mcp"}, {"sessions", "per-agent"}, {"max_sessions", 0}}}},
                             &errors)
                  .ok());
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].path == "upstream.sessions");
  CHECK(errors[0].message.find("per_agent") != std::string::npos);
  CHECK(errors[1].path == "upstream.max_sessions");
}


TEST_CASE("config: an upstreams list is read with default prefixes, and bad entries name their path", "[config]") {
  Json doc = Json::parse(R"({
    "upstream": {"request_timeout": "30s"},
    "upstreams": [
      {"name": "sktime", "command": "sktime-mcp", "policy": "p/sktime.json"},
      {"name": "gh", "url": "http://127.0.0.1:9/mcp", "prefix": "", "request_timeout": "5s",
       "client_capabilities": {"roots": {}}}
    ]
  })");
  Result<Config> c = ConfigFromJson(doc);
  REQUIRE(c.ok());
  REQUIRE(c->upstreams.size() == 2);
  CHECK(c->upstreams[0].prefix == "sktime_");
  CHECK(c->upstreams[0].policy_path == "p/sktime.json");
  CHECK(c->upstreams[0].request_timeout_ms == 0);
  CHECK(c->upstreams[1].prefix == "");
  CHECK(c->upstreams[1].request_timeout_ms == 5000);
  CHECK(c->upstreams[1].client_capabilities.contains("roots"));
  CHECK(c->HasUpstream());
  CHECK_FALSE(c->UpstreamPerAgent());
  CHECK(c->upstream_list_timeout_ms == 10'000);
  CHECK(c->upstream_health_interval_ms == 5'000);

  Json bad = Json::parse(R"({
    "upstream": {"command": "x", "list_timeout": "1ms"},
    "upstreams": [
      {"name": "a b", "command": "x", "url": "http://h/"},
      {"name": "two", "prefix": "t_"},
      {"name": "three", "url": "ftp://h", "prefix": "t_x", "colour": 1},
      {"name": "two", "command": "y", "prefix": "z_"},
      7
    ]
  })");
  std::vector<ConfigError> errors;
  REQUIRE_FALSE(ConfigFromJson(bad, &errors).ok());
  using Catch::Matchers::VectorContains;
  auto paths = Paths(errors);
  for (const char* p : {"upstream", "upstream.list_timeout", "upstreams[0].name", "upstreams[0]", "upstreams[1]", "upstreams[2].url",
                        "upstreams[2].prefix", "upstreams[2].colour", "upstreams[3].name", "upstreams[4]"}) {
    INFO(p);
    CHECK_THAT(paths, VectorContains(std::string(p)));
  }
}

}  // namespace holdgate
