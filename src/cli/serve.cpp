#include "cli/serve.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "common/config.h"
#include "common/status.h"
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
  --policy FILE            policy file (PolicyLayer-compatible JSON)
  --db FILE                SQLite database (default data/holdgate.db)
  --ready-file FILE        written once both listeners are bound:
                           {"mcp":"http://127.0.0.1:PORT/mcp","review":"http://127.0.0.1:PORT"}
  --log-level LEVEL        debug|info|warn|error
)";

struct Flags {
  std::string config_path;
  std::vector<std::pair<std::string, std::string>> overrides;
};

Status ParseFlags(const std::vector<std::string>& args, Flags* flags) {
  static const std::vector<std::string> kValued = {"--config", "--mcp-listen", "--review-listen", "--upstream-cmd",
                                                   "--upstream-url", "--policy", "--db", "--ready-file", "--log-level"};
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

void ApplyOverrides(const Flags& flags, Config* c) {
  for (const auto& [name, value] : flags.overrides) {
    if (name == "--mcp-listen") c->mcp_listen = value;
    else if (name == "--review-listen") c->review_listen = value;
    else if (name == "--upstream-cmd") { c->upstream_cmd = value; c->upstream_url.clear(); }
    else if (name == "--upstream-url") { c->upstream_url = value; c->upstream_cmd.clear(); }
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
  Config config;
  if (!flags.config_path.empty()) {
    auto loaded = LoadConfigFile(flags.config_path);
    if (!loaded.ok()) {
      std::cerr << "holdgate: " << loaded.status().message() << "\n";
      return 2;
    }
    config = std::move(loaded.value());
    setenv("HOLDGATE_CONFIG_DIR", std::filesystem::path(flags.config_path).parent_path().c_str(), 0);
  }
  ApplyOverrides(flags, &config);
  if (config.upstream_cmd.empty() == config.upstream_url.empty()) {
    std::cerr << "holdgate: give exactly one of --upstream-cmd or --upstream-url\n" << kServeUsage;
    return 2;
  }
  return server::Run(std::move(config), stdio_mode);
}

}  // namespace holdgate::cli
