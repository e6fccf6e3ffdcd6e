#pragma once
// Offline commands that need no running holdgate: `policy check` and `agent-key`.
// Blocking; write to stdout/stderr; return the exit code.
#include <string>
#include <vector>

namespace holdgate::cli {

// `holdgate policy check FILE [--tools TOOLS.json]`: 0 valid, 1 invalid, 2 usage.
int RunPolicyCommand(const std::vector<std::string>& args);
// `holdgate agent-key --name NAME [--principal P]`: prints a new random agent API key and the
// config entry (with the key's SHA-256) to paste under mcp.agent_keys.
int RunAgentKeyCommand(const std::vector<std::string>& args);

}  // namespace holdgate::cli
