#include "cli/cli.h"

#include <iostream>
#include <string>
#include <vector>

#include "cli/admin_commands.h"
#include "cli/ops_commands.h"
#include "cli/reviewer_commands.h"
#include "cli/serve.h"

namespace holdgate::cli {
namespace {

constexpr char kUsage[] = R"(holdgate: a human-in-the-loop approval gateway for MCP

usage: holdgate <command> [flags]     (holdgate <command> --help for details)

  serve          run the gateway: agents' MCP endpoint + reviewer UI/API
  stdio          serve one agent over stdin/stdout (desktop clients spawn this)
  config check   validate a config file (every error with its JSON path)
  backup         online copy of the database, with its audit chain verified
  db copy        copy an SQLite database into PostgreSQL (moving to several replicas)
  db migrate     create or migrate the schema and exit (PostgreSQL: as the owner role)
  list           list approvals (pending by default)
  show ID        one approval with votes and timeline
  approve ID     approve a held call        reject ID --reason R   reject it
                 (approve ID --remember 30m: also let identical calls run for 30 minutes)
  grants         remembered approvals that are live; revoke GRANT_ID ends one
  tools          the upstream's tools: decision, risk, calls/denials/holds in the last 24 h
  watch          follow approval events
  token          mint a reviewer token (HS256)
  audit          audit events; `audit verify` checks the hash chain; `audit archive` prunes
  deliveries     notification deliveries (webhooks, Slack): attempts, state, next try
  redeliver      queue a notification delivery again
  policy check   validate a policy file and show effective decisions
  agent-key      create an agent API key and the hash to put in the config
  help           this list (man holdgate for everything in one page)
)";

}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "serve") return RunServe(rest, false);
  if (command == "stdio") return RunServe(rest, true);
  if (command == "policy") return RunPolicyCommand(rest);
  if (command == "agent-key") return RunAgentKeyCommand(rest);
  if (command == "config") return RunConfigCommand(rest);
  if (command == "backup") return RunBackupCommand(rest);
  if (command == "db") return RunDbCommand(rest);
  if (int rc = RunReviewerCommand(args); rc != -1) return rc;
  std::cerr << "holdgate: unknown command " << command << "\n" << kUsage;
  return 2;
}

}  // namespace holdgate::cli
