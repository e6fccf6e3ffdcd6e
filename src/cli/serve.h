#pragma once
// `holdgate serve` and `holdgate stdio`: read the config file, apply the flags over it, and hand
// the result to the composition root (server/server.h), which runs until stopped. Blocks the
// calling thread.
#include <string>
#include <vector>

namespace holdgate::cli {

// `args` excludes the subcommand. Returns the exit code.
int RunServe(const std::vector<std::string>& args, bool stdio_mode);

}  // namespace holdgate::cli
