#pragma once
// `holdgate serve` and `holdgate stdio`: assemble the gateway from the config file and flags,
// run until SIGINT/SIGTERM (serve) or end of input (stdio), and shut down in order: answer held
// calls, stop the listeners, stop the upstream. SIGHUP (and a change of the policy file) reloads
// the policy; a bad new policy keeps the old one. Blocks the calling thread.
#include <string>
#include <vector>

namespace holdgate::cli {

// `args` excludes the subcommand. Returns the exit code.
int RunServe(const std::vector<std::string>& args, bool stdio_mode);

}  // namespace holdgate::cli
