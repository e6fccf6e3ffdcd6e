#include "cli/ops_commands.h"

#include <cstdlib>
#include <iostream>

#include "common/clock.h"
#include "common/config.h"
#include "common/json_util.h"
#include "server/config_check.h"
#include "store/audit.h"
#include "store/backup.h"
#include "store/db_copy.h"
#include "store/store.h"

namespace holdgate::cli {
namespace {

constexpr char kConfigUsage[] = R"(usage: holdgate config check [--config FILE] [--json]

Validates a holdgate config file exactly as `holdgate serve` does at start and on SIGHUP: every
setting (unknown keys, types, durations, listen addresses, log level), the review, notify and
audit sections as their modules read them (reviewer keys, webhook secrets, key files), that an
upstream is given, and the policy file it names. Prints every error with its JSON path.
FILE defaults to $HOLDGATE_CONFIG, else /etc/holdgate/holdgate.json.
Exit codes: 0 valid, 1 invalid, 2 usage error or unreadable file.
)";

constexpr char kBackupUsage[] = R"(usage: holdgate backup (--db FILE | --config FILE) --to COPY [--json]

Copies the database with SQLite's online backup API: one consistent snapshot, also while
holdgate serves (it is not stopped or blocked). COPY is written as COPY.partial, synced and then
linked into place with mode 0600; an existing COPY is never overwritten. Then the copy's audit
hash chain is verified. Restore: stop holdgate, move the copy over the database file (remove
its -wal and -shm files first), start holdgate; then `holdgate audit verify --db FILE`.
Exit codes: 0 copied and verified, 1 copy failed, 2 usage error, 6 the copy's chain is broken.
)";

constexpr int kExitChainBroken = 6;

}  // namespace

std::string DefaultConfigPath(bool for_check) {
  if (const char* env = std::getenv("HOLDGATE_CONFIG"); env != nullptr && *env != '\0') return env;
  return for_check ? "/etc/holdgate/holdgate.json" : "";
}

int RunConfigCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kConfigUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "check") {
    std::cerr << "holdgate config: unknown subcommand " << args[0] << "\n" << kConfigUsage;
    return 2;
  }
  std::string file = DefaultConfigPath(true);
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kConfigUsage;
      return 0;
    }
    if (args[i] == "--config" && i + 1 < args.size()) file = args[++i];
    else if (args[i].rfind("--config=", 0) == 0) file = args[i].substr(9);
    else if (args[i] == "--json") json = true;
    else {
      std::cerr << "holdgate config check: unexpected argument " << args[i] << "\n" << kConfigUsage;
      return 2;
    }
  }
  server::ConfigCheck check = server::CheckConfigFile(file);
  const bool unreadable = check.errors.size() == 1 && check.errors[0].path == "$" &&
                          check.errors[0].message.rfind("cannot read", 0) == 0;
  if (json) {
    Json errors = Json::array();
    for (const auto& e : check.errors) errors.push_back({{"path", e.path}, {"message", e.message}});
    std::cout << Json{{"file", file}, {"ok", check.ok()}, {"errors", errors}}.dump(2) << "\n";
  } else if (check.ok()) {
    std::cout << file << ": OK\n";
  } else {
    std::cout << file << ": " << check.errors.size() << (check.errors.size() == 1 ? " error" : " errors") << "\n"
              << server::FormatConfigErrors(check.errors);
  }
  if (unreadable) return 2;
  return check.ok() ? 0 : 1;
}

int RunBackupCommand(const std::vector<std::string>& args) {
  std::string db, to, config;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kBackupUsage;
      return 0;
    }
    if (a == "--db" && i + 1 < args.size()) db = args[++i];
    else if (a == "--to" && i + 1 < args.size()) to = args[++i];
    else if (a == "--config" && i + 1 < args.size()) config = args[++i];
    else if (a == "--json") json = true;
    else {
      std::cerr << "holdgate backup: unexpected argument " << a << "\n" << kBackupUsage;
      return 2;
    }
  }
  if (db.empty() && !config.empty()) {
    auto c = LoadConfigFile(config);
    if (!c.ok()) {
      std::cerr << "holdgate backup: " << c.status().message() << "\n";
      return 2;
    }
    db = c->db_path;
  }
  if (db.empty() || to.empty()) {
    std::cerr << "holdgate backup: give --db FILE (or --config FILE) and --to COPY\n" << kBackupUsage;
    return 2;
  }
  if (store::IsPostgresUrl(db)) {
    std::cerr << "holdgate backup: " << db << " is a PostgreSQL database: back it up with pg_dump or the "
              << "server's own backups (holdgate backup copies an SQLite file)\n";
    return 2;
  }
  auto copied = store::BackupDatabase(db, to);
  if (!copied.ok()) {
    std::cerr << "holdgate backup: " << copied.status().message() << "\n";
    return copied.status().code() == Code::kNotFound ? 2 : 1;
  }
  auto verdict = store::VerifyAuditChainFile(to);
  if (!verdict.ok()) {
    std::cerr << "holdgate backup: copied, but cannot verify " << to << ": " << verdict.status().message() << "\n";
    return 1;
  }
  const store::BackupReport& r = copied.value();
  if (json) {
    std::cout << Json{{"db", db}, {"to", to}, {"bytes", r.bytes}, {"pages", r.pages}, {"approvals", r.approvals},
                      {"audit_head_seq", r.audit_head_seq}, {"audit_chain_ok", verdict->ok},
                      {"audit_events_checked", verdict->rows_checked}, {"why", verdict->why}}.dump(2)
              << "\n";
  } else {
    std::cout << "Backed up " << db << " to " << to << " (" << r.bytes << " bytes, " << r.approvals
              << " approvals, audit head seq " << r.audit_head_seq << ").\n";
    if (verdict->ok) std::cout << "Audit chain of the copy verifies (" << verdict->rows_checked << " events).\n";
    else std::cout << "Audit chain of the copy is BROKEN: " << verdict->why << "\n";
  }
  return verdict->ok ? 0 : kExitChainBroken;
}

namespace {

constexpr char kDbUsage[] = R"(usage: holdgate db copy --from FILE --to URL [--json]
       holdgate db migrate --db URL|FILE

`db copy` copies a holdgate SQLite database into an empty PostgreSQL database
(postgresql://user@host:port/db), for running several replicas. Every approval, vote, comment,
outbox row and audit event is copied as it is; the audit chain keeps its hashes and is verified on
the copy against the file's head. Stop holdgate first; start the replicas with --db URL afterwards.
Exit codes: 0 copied and verified, 1 failed, 2 usage or no such file, 5 target not empty,
6 the file's own audit chain is broken (nothing copied).

`db migrate` creates or migrates the schema (what holdgate does at start) and exits. On
PostgreSQL, run it as the role that owns the tables before starting replicas that serve with a
role that may only read and write them (README, "Least privilege").
Exit codes: 0 the schema is current, 1 failed, 2 usage.
)";

int RunDbMigrate(const std::vector<std::string>& args) {
  std::string db;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--db" && i + 1 < args.size()) {
      db = args[++i];
    } else {
      std::cerr << "holdgate db migrate: unexpected argument " << args[i] << "\n" << kDbUsage;
      return 2;
    }
  }
  if (db.empty()) {
    std::cerr << "holdgate db migrate: give --db URL|FILE\n" << kDbUsage;
    return 2;
  }
  auto opened = store::Store::Open(db, SystemClock::Instance());
  if (!opened.ok()) {
    std::cerr << "holdgate db migrate: " << opened.status().message() << "\n";
    return 1;
  }
  std::cout << "The schema of " << (store::IsPostgresUrl(db) ? "the database" : db) << " is current.\n";
  return 0;
}

}  // namespace

int RunDbCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kDbUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "migrate") return RunDbMigrate(args);
  if (args[0] != "copy") {
    std::cerr << "holdgate db: unknown subcommand " << args[0] << "\n" << kDbUsage;
    return 2;
  }
  std::string from, to;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kDbUsage;
      return 0;
    }
    if (a == "--from" && i + 1 < args.size()) from = args[++i];
    else if (a == "--to" && i + 1 < args.size()) to = args[++i];
    else if (a == "--json") json = true;
    else {
      std::cerr << "holdgate db copy: unexpected argument " << a << "\n" << kDbUsage;
      return 2;
    }
  }
  if (from.empty() || to.empty()) {
    std::cerr << "holdgate db copy: give --from FILE and --to URL\n" << kDbUsage;
    return 2;
  }
  auto r = store::CopyDatabase(from, to);
  if (!r.ok()) {
    std::cerr << "holdgate db copy: " << r.status().message() << "\n";
    switch (r.status().code()) {
      case Code::kNotFound:
      case Code::kInvalidArgument: return 2;
      case Code::kAlreadyExists: return 5;
      case Code::kConflict: return 6;
      default: return 1;
    }
  }
  const store::CopyReport& c = r.value();
  if (json) {
    std::cout << Json{{"from", from},           {"approvals", c.approvals}, {"votes", c.votes},
                      {"comments", c.comments}, {"audit_events", c.audit_events}, {"anchors", c.anchors},
                      {"outbox", c.outbox},     {"audit_head_seq", c.audit_head_seq}}
                     .dump()
              << "\n";
  } else {
    std::cout << "copied " << c.approvals << " approvals, " << c.votes << " votes, " << c.comments << " comments, "
              << c.outbox << " outbox rows and " << c.audit_events << " audit events (" << c.anchors
              << " archive anchors); the audit chain verifies on the copy up to seq " << c.audit_head_seq << ".\n";
  }
  return 0;
}

}  // namespace holdgate::cli
