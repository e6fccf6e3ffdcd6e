#include "cli/admin_commands.h"

#include <iostream>

#include "cli/reviewer_commands.h"
#include "common/crypto.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "policy/policy.h"

namespace holdgate::cli {
namespace {

constexpr char kPolicyUsage[] = R"(usage: holdgate policy check FILE [--tools TOOLS.json]
       holdgate policy check --url URL --tool T [--arguments JSON] [--principal P] [--upstream NAME]   (admin token)
       holdgate policy reload [--url URL] [--upstream NAME]                                             (admin token)

Validates a policy file (PolicyLayer policy.json plus holdgate's additions) and names every
error with its JSON path and a hint. With --tools (a tools/list result, as a JSON-RPC response,
{"tools":[...]} or a bare array) it prints the effective decision for every tool and flags rules
that name no listed tool.
Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage error or unreadable file.
)";

constexpr char kAgentKeyUsage[] = R"(usage: holdgate agent-key --name NAME [--principal PRINCIPAL]

Prints a new random API key for an agent and the entry to add under "mcp": {"agent_keys": [...]}
in the config file. Only the key's SHA-256 goes into the config; give the key to the agent
(Authorization: Bearer <key>). The principal defaults to NAME.
)";

}  // namespace

int RunPolicyCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kPolicyUsage;
    return args.empty() ? 2 : 0;
  }
  // Against a running holdgate: policy reload, policy check --url/--tool (the admin policy API).
  if (args[0] == "reload") return RunRemotePolicy(args);
  if (args[0] == "check") {
    for (const std::string& a : args) {
      if (a == "--url" || a == "--tool") return RunRemotePolicy(args);
    }
  }
  if (args[0] != "check") {
    std::cerr << "holdgate policy: unknown subcommand " << args[0] << "\n" << kPolicyUsage;
    return 2;
  }
  std::string file, tools_file;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kPolicyUsage;
      return 0;
    }
    if (args[i] == "--tools" && i + 1 < args.size()) tools_file = args[++i];
    else if (file.empty() && args[i].rfind("--", 0) != 0) file = args[i];
    else {
      std::cerr << "holdgate policy check: unexpected argument " << args[i] << "\n" << kPolicyUsage;
      return 2;
    }
  }
  if (file.empty()) {
    std::cerr << kPolicyUsage;
    return 2;
  }
  std::string text;
  if (!ReadWholeFile(file, &text)) {
    std::cerr << "holdgate policy check: cannot read " << file << "\n";
    return 2;
  }
  Json tools;
  if (!tools_file.empty()) {
    std::string tools_text;
    if (!ReadWholeFile(tools_file, &tools_text)) {
      std::cerr << "holdgate policy check: cannot read " << tools_file << "\n";
      return 2;
    }
    auto parsed = ParseJson(tools_text);
    if (!parsed.ok()) {
      std::cerr << "holdgate policy check: " << tools_file << ": " << parsed.status().message() << "\n";
      return 2;
    }
    tools = parsed.value();
  }
  policy::CheckReport report = policy::Check(text, tools.is_null() ? nullptr : &tools);
  std::cout << policy::FormatCheckReport(report);
  return report.ok ? 0 : 1;
}

int RunAgentKeyCommand(const std::vector<std::string>& args) {
  std::string name, principal;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kAgentKeyUsage;
      return 0;
    }
    if (args[i] == "--name" && i + 1 < args.size()) name = args[++i];
    else if (args[i] == "--principal" && i + 1 < args.size()) principal = args[++i];
    else {
      std::cerr << "holdgate agent-key: unexpected argument " << args[i] << "\n" << kAgentKeyUsage;
      return 2;
    }
  }
  if (name.empty()) {
    std::cerr << kAgentKeyUsage;
    return 2;
  }
  std::string key = "hgk_" + RandomHex(24);
  Json entry = {{"name", name}, {"principal", principal.empty() ? name : principal}, {"sha256", Sha256Hex(key)}};
  std::cout << "key: " << key << "\n"
            << "config entry (mcp.agent_keys): " << DumpJson(entry) << "\n";
  return 0;
}

}  // namespace holdgate::cli
