#pragma once
// The one config validation of holdgate: `holdgate config check`, `holdgate serve` at start and
// the running server on SIGHUP all call it, so they agree on what a valid config is. It checks the
// whole document (ConfigFromJson: keys, types, durations, listen addresses), then each section
// owned by another module the way that module will parse it (review listener and reviewer auth,
// notify, audit checkpoints), and reads the policy file the config names.
//
// Blocking (reads the config, policy and key files); no other side effects; thread-compatible.
#include <string>
#include <vector>

#include "common/config.h"

namespace holdgate::server {

struct ConfigCheckOptions {
  // The upstream must be given by the file (true for `config check` and the service unit; false
  // when flags supply it).
  bool require_upstream = true;
};

struct ConfigCheck {
  std::vector<ConfigError> errors;  // empty: valid
  Config config;                    // as parsed (meaningful only without errors)
  bool ok() const { return errors.empty(); }
};

// Relative file names inside the config (key files, CA files) resolve against the config file's
// directory. An unreadable or unparsable file is one error with path "$".
ConfigCheck CheckConfigFile(const std::string& path, const ConfigCheckOptions& options = {});

// SIGHUP: checks the running server's config file again and logs the outcome (the errors, or
// that it is valid). Only the policy is reloaded; other settings apply at the next start, so a bad
// file changes nothing now but is reported before a restart would fail on it. "" does nothing.
void RecheckConfigOnReload(const std::string& path);

// "<path>: <message>" lines, one per error.
std::string FormatConfigErrors(const std::vector<ConfigError>& errors);

}  // namespace holdgate::server
