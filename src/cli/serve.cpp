#include "cli/serve.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "common/config.h"
#include "cli/ops_commands.h"
#include "common/status.h"
#include "server/config_check.h"
#include "server/server.h"

namespace holdgate::cli {
namespace {

constexpr char kServeUsage[] = R"(usage: holdgate serve [flags]
       holdgate stdio [flags]     (one agent over stdin/stdout; the reviewer listener still runs)

  --config FILE            JSON config file (flags override it)
  --mcp-listen HOST:PORT   agents' MCP endpoint (default 127.0.0.1:8080, path /mcp)
  --review-listen HOST:PORT  reviewer UI/API (default 127.0.0.1:8081)
  --upstream-cmd "CMD ARGS"  upstream MCP server as a child process over stdio
  --upstream-url URL       upstream MCP server over Streamable HTTP
  --upstream-sessions per_agent|shared
                           an upstream session per agent session (default for --upstream-url;
                           over stdio a child per agent) or one shared by all (default for
                           --upstream-cmd)
  --policy FILE            policy file (PolicyLayer-compatible JSON)
  --db FILE|URL            SQLite database file (default data/holdgate.db), or a PostgreSQL URL
                           postgresql://user@host:port/dbname shared by several replicas
  --ready-file FILE        written once both listeners are bound:
                           {"mcp":"http://127.0.0.1:PORT/mcp","review":"http://127.0.0.1:PORT"}
  --log-level LEVEL        debug|info|warn|error

Every flag but --config can also come from the environment as HOLDGATE_<FLAG> (HOLDGATE_DB,
HOLDGATE_MCP_LISTEN, HOLDGATE_UPSTREAM_CMD, …); the config file comes from $HOLDGATE_CONFIG when
--config is not given. Precedence: flag, then environment, then config file, then default.
The config file is validated as `holdgate config check` does; every error is printed.
)";

struct Flags {
  std::string config_path;
  std::vector<std::pair<std::string, std::string>> overrides;
};

Status ParseFlags(const std::vector<std::string>& args, Flags* flags) {
  static const std::vector<std::string> kValued = {"--config", "--mcp-listen", "--review-listen", "--upstream-cmd",
                                                   "--upstream-url", "--upstream-sessions", "--policy", "--db", "--ready-file",
                                                   "--log-level"};
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (std::find(kValued.begin(), kValued.end(), name) != kValued.end()) {
      if (i + 1 >= args.size()) return InvalidArgument(name + " needs a value");
      value = args[++i];
    }
    if (std::find(kValued.begin(), kValued.end(), name) == kValued.end()) {
      return InvalidArgument("unknown flag " + name);
    }
    if (name == "--config") flags->config_path = value;
    else flags->overrides.emplace_back(name, value);
  }
  return Status::Ok();
}

// HOLDGATE_<FLAG> for each valued flag but --config ("--mcp-listen" -> HOLDGATE_MCP_LISTEN).
std::string EnvName(const std::string& flag) {
  std::string name = "HOLDGATE_";
  for (char c : flag.substr(2)) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// Environment overrides go first, so flags (applied after them) win.
void AddEnvOverrides(Flags* flags) {
  std::vector<std::pair<std::string, std::string>> env;
  for (const char* flag : {"--mcp-listen", "--review-listen", "--upstream-cmd", "--upstream-url",
                           "--upstream-sessions", "--policy", "--db", "--ready-file", "--log-level"}) {
    const char* v = std::getenv(EnvName(flag).c_str());
    if (v != nullptr && *v != '\0') env.emplace_back(flag, v);
  }
  flags->overrides.insert(flags->overrides.begin(), env.begin(), env.end());
}

void ApplyOverrides(const Flags& flags, Config* c) {
  for (const auto& [name, value] : flags.overrides) {
    if (name == "--mcp-listen") c->mcp_listen = value;
    else if (name == "--review-listen") c->review_listen = value;
    else if (name == "--upstream-cmd") { c->upstream_cmd = value; c->upstream_url.clear(); }
    else if (name == "--upstream-url") { c->upstream_url = value; c->upstream_cmd.clear(); }
    else if (name == "--upstream-sessions") c->upstream_sessions = value;
    else if (name == "--policy") c->policy_path = value;
    else if (name == "--db") c->db_path = value;
    else if (name == "--ready-file") c->ready_file = value;
    else if (name == "--log-level") c->log_level = value;
  }
}

}  // namespace

int RunServe(const std::vector<std::string>& args, bool stdio_mode) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << kServeUsage;
      return 0;
    }
  }
  Flags flags;
  Status s = ParseFlags(args, &flags);
  if (!s.ok()) {
    std::cerr << "holdgate: " << s.message() << "\n" << kServeUsage;
    return 2;
  }
  AddEnvOverrides(&flags);
  if (flags.config_path.empty()) flags.config_path = DefaultConfigPath(false);
  Config config;
  if (!flags.config_path.empty()) {
    // The same validation as `holdgate config check` (the upstream may come from a flag).
    server::ConfigCheck check = server::CheckConfigFile(flags.config_path, {.require_upstream = false});
    if (!check.ok()) {
      std::cerr << "holdgate: config " << flags.config_path << " is not valid:\n" << server::FormatConfigErrors(check.errors);
      return 2;
    }
    config = std::move(check.config);
    setenv("HOLDGATE_CONFIG_DIR", std::filesystem::path(flags.config_path).parent_path().c_str(), 0);
  }
  const bool had_list = !config.upstreams.empty();
  ApplyOverrides(flags, &config);
  if (had_list && (!config.upstream_cmd.empty() || !config.upstream_url.empty())) {
    std::cerr << "holdgate: the config lists upstreams; --upstream-cmd / --upstream-url cannot be combined with it\n";
    return 2;
  }
  if (!had_list && config.upstream_cmd.empty() == config.upstream_url.empty()) {
    std::cerr << "holdgate: give exactly one of --upstream-cmd or --upstream-url\n" << kServeUsage;
    return 2;
  }
  if (!config.upstream_sessions.empty() && config.upstream_sessions != "per_agent" &&
      config.upstream_sessions != "shared") {
    std::cerr << "holdgate: --upstream-sessions must be per_agent or shared, got \"" << config.upstream_sessions
              << "\"\n";
    return 2;
  }
  return server::Run(std::move(config), stdio_mode);
}

}  // namespace holdgate::cli
