#pragma once
// Operator commands that work on files, with no running holdgate needed: `config check` and
// `backup`. Blocking; write to stdout/stderr; return the exit code.
#include <string>
#include <vector>

namespace holdgate::cli {

// The config file serve/stdio/config check use when --config is not given: $HOLDGATE_CONFIG, or
// "" (none) for serve and /etc/holdgate/holdgate.json for config check.
std::string DefaultConfigPath(bool for_check);

// `holdgate config check [--config FILE] [--json]`: 0 valid, 1 invalid, 2 usage/unreadable.
int RunConfigCommand(const std::vector<std::string>& args);
// `holdgate backup --db FILE --to FILE [--json]` (or --config FILE for the database path):
// 0 copied and its audit chain verifies, 1 failed, 2 usage, 6 the copy's chain is broken.
int RunBackupCommand(const std::vector<std::string>& args);
// `holdgate db migrate --db URL|FILE`: 0 the schema is current (created or migrated), 1 failed, 2 usage.
// `holdgate db copy --from FILE --to URL [--json]`: 0 copied and the copy's audit chain verifies
// to the file's head, 1 failed, 2 usage / no such file, 5 the target is not empty, 6 the file's
// own chain is broken (nothing copied).
int RunDbCommand(const std::vector<std::string>& args);

}  // namespace holdgate::cli
