#pragma once
// Audit events: the append-only, hash-chained record of every call and decision, and the
// offline verifier used by `holdgate audit verify --db FILE`. Value types are thread-compatible;
// VerifyAuditChainFile opens its own read-only connection and may run beside a live server.
//
// Chain: hash = SHA-256 hex of CanonicalJson({"actor","approval_id","decision","detail",
// "prev_hash","principal","rule","seq","tool","ts","type","via"}) of the row; prev_hash is the
// previous row's hash (64 zeros for the first row). seq is part of the hashed form, so an edited,
// deleted or reordered row breaks the chain at that row. Dropping rows from the END cannot be seen
// from the chain alone: compare the head hash against a kept checkpoint (AuditVerdict::head_hash).
#include <cstdint>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"

namespace holdgate::store {

inline constexpr char kGenesisHash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct AuditEvent {
  int64_t seq = 0;    // assigned by the store
  int64_t ts_ms = 0;  // assigned by the store from its Clock when 0
  std::string type;   // "call.received", "call.allowed", "call.denied", "auth.failed",
                      // "policy.loaded", "approval.*", …
  std::string approval_id;
  std::string principal;  // the agent's principal
  std::string actor;      // who acted: reviewer, "holdgate", the principal, …
  std::string via;        // api|cli|ui|slack|system|agent|mcp
  std::string tool;
  std::string rule;
  std::string decision;  // allow|deny|hide|hold|approve|reject|…
  Json detail;           // object or null
  std::string prev_hash;  // assigned by the store
  std::string hash;       // assigned by the store
};

// The canonical text that `hash` is the SHA-256 of (exposed for tests and external verifiers).
std::string AuditCanonicalForm(const AuditEvent& event);

struct AuditFilter {
  std::string type;  // exact, or a prefix ending in '.' or '*': "approval." / "approval.*"
  std::string approval_id;
  std::string principal;
  std::string actor;
  std::string tool;
  int64_t from_ms = 0;  // inclusive; 0 = unbounded
  int64_t to_ms = 0;    // exclusive; 0 = unbounded
  int limit = 100;      // clamped to [1, 10000]
  bool newest_first = false;
  std::string cursor;  // next_cursor of the previous page
};

struct AuditPage {
  std::vector<AuditEvent> events;
  std::string next_cursor;  // empty on the last page
};

struct AuditVerdict {
  bool ok = true;
  int64_t rows_checked = 0;
  int64_t broken_seq = 0;   // first row that fails (0 when ok)
  std::string why;          // e.g. "hash mismatch: row content was changed"
  std::string head_hash;    // hash of the last row checked (kGenesisHash when empty)
  int64_t head_seq = 0;
};

// Opens `path` read-only (never creates or migrates it) and walks the chain.
// kNotFound if the file does not exist; kIo if it is not a holdgate database.
Result<AuditVerdict> VerifyAuditChainFile(const std::string& path);

}  // namespace holdgate::store
