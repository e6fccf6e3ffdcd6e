#pragma once
// Files compiled into the binary at build time (scripts/embed.cmake): SQL migrations and the
// approval UI. Immutable after static initialisation; safe from any thread.
#include <string_view>
#include <vector>

namespace holdgate {

struct EmbeddedFile {
  std::string_view path;     // relative to the embedded directory, '/'-separated
  std::string_view content;  // raw bytes
};

// schema/migrations/*.sql, sorted by name.
const std::vector<EmbeddedFile>& EmbeddedMigrations();
// schema/postgres/*.sql (the PostgreSQL store's migrations), sorted by name.
const std::vector<EmbeddedFile>& EmbeddedPgMigrations();
// approval-ui/**, sorted by path.
const std::vector<EmbeddedFile>& EmbeddedApprovalUi();

}  // namespace holdgate
