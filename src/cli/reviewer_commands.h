#pragma once
// The reviewer subcommands of `holdgate`: list, show, approve, reject, watch, token, audit.
// All but `token`, `audit archive` and offline `audit verify` (--db/--archive) are clients of the
// review API (--url / HOLDGATE_URL, --token / HOLDGATE_TOKEN). Blocking; write results to stdout
// and diagnostics to stderr.
//
// Exit codes (stable, for scripts): 0 ok, 1 server or network error, 2 usage error, 3 not found,
// 4 conflict (already decided), 5 authentication/authorisation, 6 audit chain broken (audit verify).
#include <string>
#include <vector>

namespace holdgate::cli {

// `args[0]` is the subcommand ("list", "show", …), the rest its flags. Returns the exit code, or
// -1 when args[0] is not a reviewer command (the dispatcher then tries others).
int RunReviewerCommand(const std::vector<std::string>& args);

// `holdgate policy check --url …` and `holdgate policy reload`: the running server's admin policy
// API. `args[0]` is "check" or "reload".
int RunRemotePolicy(const std::vector<std::string>& args);

}  // namespace holdgate::cli
