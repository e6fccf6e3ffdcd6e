#pragma once
// Small file helpers shared by the config, policy and CLI readers. Blocking; thread-compatible.
#include <string>

namespace holdgate {

// Reads the whole file at `path` into `*out`. False when it cannot be opened or read.
bool ReadWholeFile(const std::string& path, std::string* out);

}  // namespace holdgate
