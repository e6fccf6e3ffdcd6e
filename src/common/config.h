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

// Limits of one HTTP listener against slow and greedy clients (enforced by httpd::GuardedServer).
// Config keys, in the "mcp" and "review" sections: header_timeout, body_timeout, idle_timeout
// (durations), max_connections, max_connections_per_ip (0 = no per-IP cap).
struct ListenerLimits {
  int64_t header_timeout_ms = 10'000;  // from a request's first byte to the end of its headers
  int64_t body_timeout_ms = 30'000;    // the whole body, from the end of the headers
  int64_t idle_timeout_ms = 5'000;     // keep-alive wait for the next request
  size_t max_connections = 1024;       // open at once, all clients
  size_t max_connections_per_ip = 256;  // open at once from one address; 0 = no cap
};
// The agents' listener: agents share addresses (loopback, NAT) and each held call keeps its
// connection open, so no per-IP cap by default; idle sockets still cannot hold a thread past the
// header and idle timeouts.
inline constexpr ListenerLimits kMcpListenerDefaults = {10'000, 30'000, 2'000, 19'000, 0};
// Reads the limit keys present in `section` (a config object at `path`) over `limits`.
Status ReadListenerLimits(const Json& section, const std::string& path, ListenerLimits* limits);

// One entry of the "upstreams" array: an MCP server among several behind one gateway. Its tools,
// prompts and resource templates reach agents with `prefix` in front of their names; its calls are
// decided by `policy_path` (a policy file naming its own, unprefixed tool names), falling back to
// the top-level policy when it has none.
struct UpstreamConfig {
  std::string name;     // [A-Za-z0-9_-]+, unique; names the upstream in logs, audit and the catalogue
  std::string command;  // exactly one of command / url
  std::string url;
  std::string prefix;   // default name + "_"; "" allowed
  std::string policy_path;
  Json client_capabilities;      // null: the top-level upstream.client_capabilities
  int64_t request_timeout_ms = 0;  // 0: the top-level upstream.request_timeout
};

struct Config {
  // Agents' MCP listener.
  std::string mcp_listen = "127.0.0.1:8080";
  std::string mcp_path = "/mcp";
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_hosts;
  size_t max_body_bytes = 4 * 1024 * 1024;
  std::vector<AgentKeyConfig> agent_keys;
  ListenerLimits mcp_limits = kMcpListenerDefaults;
  int64_t session_idle_timeout_ms = 3'600'000;  // a session unused this long is closed
  size_t max_sessions_per_principal = 1000;

  // Reviewers' listener.
  std::string review_listen = "127.0.0.1:8081";
  std::string public_url;  // base URL reviewers reach the page at; default derived from review_listen

  // Upstream MCP server: exactly one of these.
  std::string upstream_cmd;
  std::string upstream_url;
  Json upstream_client_capabilities = Json{{"sampling", Json::object()},
                                           {"elicitation", Json::object()},
                                           {"roots", Json{{"listChanged", true}}}};
  // "upstreams": several servers behind one gateway (empty: the single upstream above). When set,
  // upstream.command / url are refused; upstream's other settings are the defaults for every entry.
  std::vector<UpstreamConfig> upstreams;
  // With several upstreams: upstream.list_timeout (one slower than this is left out of a merged
  // list) and upstream.health_interval (how often each is probed).
  int64_t upstream_list_timeout_ms = 10'000;
  int64_t upstream_health_interval_ms = 5'000;
  // upstream.request_timeout: a request the upstream has not answered by then gets an error and
  // is cancelled upstream (a held call then ends failed, not re-run).
  int64_t upstream_request_timeout_ms = 5 * 60 * 1000;
  // upstream.sessions: "per_agent" (an upstream session per agent session: an HTTP session, or a
  // child process per agent over stdio) or "shared" (one for everyone). "" = the default for the
  // transport: per_agent for a URL, shared for a command.
  std::string upstream_sessions;
  // upstream.max_sessions: per_agent sessions open at once at most (stdio: children). 0 = the
  // default for the transport (kDefaultMaxStdioSessions / kDefaultMaxHttpSessions).
  size_t upstream_max_sessions = 0;
  static constexpr size_t kDefaultMaxStdioSessions = 16;
  static constexpr size_t kDefaultMaxHttpSessions = 1000;
  // The effective values of the two above.
  bool UpstreamPerAgent() const {
    if (!upstream_sessions.empty()) return upstream_sessions == "per_agent";
    if (!upstreams.empty()) return false;  // several upstreams: shared unless asked
    return !upstream_url.empty();
  }
  size_t UpstreamMaxSessions() const {
    if (upstream_max_sessions > 0) return upstream_max_sessions;
    bool any_stdio = upstreams.empty() ? upstream_url.empty() : false;
    for (const auto& u : upstreams) any_stdio = any_stdio || !u.command.empty();
    return any_stdio ? kDefaultMaxStdioSessions : kDefaultMaxHttpSessions;
  }

  // True when an upstream is configured (the single one or the "upstreams" list).
  bool HasUpstream() const { return !upstream_cmd.empty() || !upstream_url.empty() || !upstreams.empty(); }

  std::string policy_path;  // empty: the embedded demo policy is not assumed; everything allowed
  std::string db_path = "data/holdgate.db";
  // "database" section, PostgreSQL only (store::StoreOptions): connections per replica, how long a
  // silent replica's executing calls are kept before survivors fail them, and the change-feed poll.
  int db_pool_size = 8;
  int64_t db_executing_lease_ms = 30'000;
  int64_t db_change_poll_ms = 1'000;
  std::string ready_file;
  std::string log_level = "info";

  int64_t default_hold_ms = 50'000;
  int64_t progress_interval_ms = 5'000;
  // "approval": {"max_pending_per_principal": N}: a principal with N pending approvals gets its
  // next held call refused (nothing recorded, nothing run) until some are decided. 0 = no cap.
  int max_pending_per_principal = 100;
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
