#pragma once
// Small file helpers shared by the config, policy and CLI readers and the policy editor's writer.
// Blocking; thread-compatible (two writers of one path must be serialised by the caller).
#include <string>

#include "common/status.h"

namespace holdgate {

// Reads the whole file at `path` into `*out`. False when it cannot be opened or read.
bool ReadWholeFile(const std::string& path, std::string* out);

// Replaces the file at `path` with `contents` so that a reader (or a crash) sees either the old
// file or the new one, never a mix: writes a temporary file in the same directory, fsyncs it,
// renames it over `path`, then fsyncs the directory. The new file gets `mode` (the old file's
// permission bits when it exists). On failure the temporary file is removed, `path` is
// untouched, and kIo names the step that failed.
Status WriteFileAtomically(const std::string& path, const std::string& contents, unsigned mode = 0644);

}  // namespace holdgate
