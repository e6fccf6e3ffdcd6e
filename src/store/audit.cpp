#include "store/audit.h"

#include <sys/stat.h>

#include "common/crypto.h"
#include "store/sqlite_internal.h"

namespace holdgate::store {

std::string AuditCanonicalForm(const AuditEvent& e) {
  Json form = Json::object();
  form["seq"] = e.seq;
  form["ts"] = e.ts_ms;
  form["type"] = e.type;
  form["approval_id"] = e.approval_id;
  form["principal"] = e.principal;
  form["actor"] = e.actor;
  form["via"] = e.via;
  form["tool"] = e.tool;
  form["rule"] = e.rule;
  form["decision"] = e.decision;
  form["detail"] = e.detail;
  form["prev_hash"] = e.prev_hash;
  return CanonicalJson(form);
}

namespace internal {

AuditEvent ReadAuditRow(SQLite::Statement& stmt) {
  AuditEvent e;
  e.seq = stmt.getColumn(0).getInt64();
  e.ts_ms = stmt.getColumn(1).getInt64();
  e.type = stmt.getColumn(2).getString();
  e.approval_id = stmt.getColumn(3).getString();
  e.principal = stmt.getColumn(4).getString();
  e.actor = stmt.getColumn(5).getString();
  e.via = stmt.getColumn(6).getString();
  e.tool = stmt.getColumn(7).getString();
  e.rule = stmt.getColumn(8).getString();
  e.decision = stmt.getColumn(9).getString();
  e.detail = ParseStoredJson(stmt.getColumn(10).getString());
  e.prev_hash = stmt.getColumn(11).getString();
  e.hash = stmt.getColumn(12).getString();
  return e;
}

AuditVerdict WalkAuditChain(SQLite::Database& db) {
  AuditVerdict verdict;
  verdict.head_hash = kGenesisHash;
  SQLite::Statement q(db, std::string("SELECT ") + kAuditColumns + " FROM audit_events ORDER BY seq");
  int64_t prev_seq = 0;
  auto fail = [&](int64_t seq, std::string why) {
    verdict.ok = false;
    verdict.broken_seq = seq;
    verdict.why = std::move(why);
  };
  while (q.executeStep()) {
    AuditEvent e = ReadAuditRow(q);
    ++verdict.rows_checked;
    if (e.seq != prev_seq + 1) {
      fail(e.seq, "seq " + std::to_string(prev_seq + 1) +
                      (e.seq == prev_seq + 2 ? "" : "-" + std::to_string(e.seq - 1)) +
                      " missing before seq " + std::to_string(e.seq) + ": rows were deleted");
      break;
    }
    if (Sha256Hex(AuditCanonicalForm(e)) != e.hash) {
      fail(e.seq, "hash mismatch at seq " + std::to_string(e.seq) +
                      ": the row's content was changed after it was written");
      break;
    }
    if (e.prev_hash != verdict.head_hash) {
      fail(e.seq, "prev_hash of seq " + std::to_string(e.seq) + " does not match the hash of " +
                      (prev_seq == 0 ? std::string("the chain start")
                                     : "seq " + std::to_string(prev_seq)) +
                      ": a row was changed, replaced or reordered");
      break;
    }
    verdict.head_hash = e.hash;
    verdict.head_seq = e.seq;
    prev_seq = e.seq;
  }
  return verdict;
}

}  // namespace internal

Result<AuditVerdict> VerifyAuditChainFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return NotFound("no such database file: " + path);
  try {
    SQLite::Database db(path, SQLite::OPEN_READONLY, /*busyTimeoutMs=*/5000);
    if (!db.tableExists("audit_events")) {
      return IoError(path + " is not a holdgate database (no audit_events table)");
    }
    return internal::WalkAuditChain(db);
  } catch (const SQLite::Exception& e) {
    return IoError("cannot verify " + path + ": " + e.what());
  } catch (const std::exception& e) {
    return Internal(std::string("audit verify: ") + e.what());
  }
}

}  // namespace holdgate::store
