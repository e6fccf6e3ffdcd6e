#pragma once
// Config: everything `holdgate serve` / `holdgate stdio` need, read from a JSON file and then
// overridden by command-line flags. Sections owned by other modules (review, notify) are kept
// as JSON and validated by those modules. Plain value; thread-compatible.
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"

namespace holdgate {

struct AgentKeyConfig {
  std::string name;       // grant name
  std::string principal;  // defaults to name
  std::string sha256;     // hex SHA-256 of the key (the key itself is never stored)
};

struct Config {
  // Agents' MCP listener.
  std::string mcp_listen = "127.0.0.1:8080";
  std::string mcp_path = "/mcp";
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_hosts;
  size_t max_body_bytes = 4 * 1024 * 1024;
  std::vector<AgentKeyConfig> agent_keys;

  // Reviewers' listener.
  std::string review_listen = "127.0.0.1:8081";
  std::string public_url;  // base URL reviewers reach the page at; default derived from review_listen

  // Upstream MCP server: exactly one of these.
  std::string upstream_cmd;
  std::string upstream_url;
  Json upstream_client_capabilities = Json{{"sampling", Json::object()},
                                           {"elicitation", Json::object()},
                                           {"roots", Json{{"listChanged", true}}}};

  std::string policy_path;  // empty: the embedded demo policy is not assumed; everything allowed
  std::string db_path = "data/holdgate.db";
  std::string ready_file;
  std::string log_level = "info";

  int64_t default_hold_ms = 50'000;
  int64_t progress_interval_ms = 5'000;
  bool audit_all_calls = false;

  Json review = Json::object();  // "review" section: auth, roles … (review module)
  Json notify = Json::object();  // "notify" section: webhooks, slack … (notify module)
  Json raw = Json::object();     // the whole file
  std::string source_path;       // the file it was read from ("" when built otherwise)
};

// One problem of a config document: its JSON path ("mcp.agent_keys[0].sha256") and what is wrong.
struct ConfigError {
  std::string path;
  std::string message;
};

// Reads a config file. Errors name the JSON path.
Result<Config> LoadConfigFile(const std::string& path);
// Builds a Config from an already-parsed document (used by LoadConfigFile and tests). Checks the
// whole document: unknown keys, types, durations, listen addresses, log level. The error names
// the first problem and how many more there are; `errors`, when given, receives every one.
// Sections owned by other modules (review, notify, audit.checkpoint) are only type-checked here.
Result<Config> ConfigFromJson(const Json& doc, std::vector<ConfigError>* errors = nullptr);

// "host:port" → parts. Accepts "[::1]:8080". Port 0 allowed.
bool SplitHostPort(const std::string& text, std::string* host, int* port);

}  // namespace holdgate
