#pragma once
// The `holdgate` command line: `serve`, `stdio`, and the reviewer subcommands (`list`, `show`,
// `approve`, `reject`, `watch`, `token`, `audit`, `policy check`). Main() blocks until the
// subcommand is done; for `serve` and `stdio`, until SIGINT/SIGTERM or end of input.
namespace holdgate::cli {

// Returns the process exit code: 0 success, 1 runtime failure, 2 usage error, others per command.
int Main(int argc, char** argv);

}  // namespace holdgate::cli
