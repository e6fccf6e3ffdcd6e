#include "store/audit.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <optional>

#include "common/clock.h"
#include "common/crypto.h"
#include "store/pg_store.h"
#include "store/sqlite_internal.h"

namespace holdgate::store {
namespace {

bool IsHash(const Json& j) { return j.is_string() && j.get<std::string>().size() == 64; }

// Type-safe lookups (Json::value throws on a type mismatch; these inputs may be hostile).
int64_t IntOr(const Json& j, const char* key, int64_t def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : def;
}
std::string StrOr(const Json& j, const char* key, std::string def = "") {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : def;
}

// Reads an archive event line back into an AuditEvent; "" or the problem.
std::string EventFromJson(const Json& j, AuditEvent* e) {
  if (!j.is_object()) return "not a JSON object";
  for (const char* k : {"seq", "ts"}) {
    if (!j.contains(k) || !j[k].is_number_integer()) return std::string("\"") + k + "\" must be an integer";
  }
  for (const char* k : {"type", "approval_id", "principal", "actor", "via", "tool", "rule", "decision"}) {
    if (!j.contains(k) || !j[k].is_string()) return std::string("\"") + k + "\" must be a string";
  }
  if (!j.contains("detail")) return "\"detail\" is missing";
  if (!j.contains("prev_hash") || !IsHash(j["prev_hash"]) || !j.contains("hash") || !IsHash(j["hash"])) {
    return "\"prev_hash\" and \"hash\" must be 64 hex digits";
  }
  e->seq = j["seq"].get<int64_t>();
  e->ts_ms = j["ts"].get<int64_t>();
  e->type = j["type"].get<std::string>();
  e->approval_id = j["approval_id"].get<std::string>();
  e->principal = j["principal"].get<std::string>();
  e->actor = j["actor"].get<std::string>();
  e->via = j["via"].get<std::string>();
  e->tool = j["tool"].get<std::string>();
  e->rule = j["rule"].get<std::string>();
  e->decision = j["decision"].get<std::string>();
  e->detail = j["detail"];
  e->prev_hash = j["prev_hash"].get<std::string>();
  e->hash = j["hash"].get<std::string>();
  return "";
}

// The signed part of a checkpoint: an audit.checkpoint event's detail, or a checkpoint file line.
struct SignedHead {
  AuditChainPoint head;    // the row the checkpoint follows
  AuditChainPoint anchor;  // the archive anchor it vouches for (v2 only)
  bool v2 = false;         // "…/v1" checkpoints sign the head only
  std::string hmac;
  std::string key_id;
};

std::optional<SignedHead> ParseSignedHead(const Json& d) {
  if (!d.is_object() || !d.contains("seq") || !d["seq"].is_number_integer() || !d.contains("hash") ||
      !IsHash(d["hash"]) || !d.contains("hmac") || !d["hmac"].is_string()) {
    return std::nullopt;
  }
  SignedHead s;
  s.head = {d["seq"].get<int64_t>(), d["hash"].get<std::string>()};
  s.hmac = d["hmac"].get<std::string>();
  s.key_id = StrOr(d, "key_id", "?");
  if (d.contains("anchor_seq") || d.contains("anchor_hash")) {
    if (!d.contains("anchor_seq") || !d["anchor_seq"].is_number_integer() || !d.contains("anchor_hash") ||
        !IsHash(d["anchor_hash"])) {
      return std::nullopt;
    }
    s.v2 = true;
    s.anchor = {d["anchor_seq"].get<int64_t>(), d["anchor_hash"].get<std::string>()};
  }
  return s;
}

bool SignedHeadMatches(const std::string& key, const SignedHead& s) {
  const std::string want =
      s.v2 ? AuditCheckpointHmac(key, s.head, s.anchor)
           : HmacSha256Hex(key, "holdgate-audit-checkpoint/v1\n" + std::to_string(s.head.seq) + "\n" + s.head.hash);
  return ConstantTimeEquals(s.hmac, want);
}

std::string KeyMismatch(const std::string& key, const SignedHead& s) {
  return "checkpoint key id " + s.key_id + ", given key id " + AuditCheckpointKeyId(key);
}

// A signed head read from the checkpoint file.
struct FileHead {
  int64_t line = 0;
  SignedHead signed_head;
  AuditChainPoint checkpoint;  // the audit.checkpoint event itself (unsigned; seq 0 if absent)
};

// Reads every line of the checkpoint file and checks its HMAC; "" or the first problem.
std::string ReadCheckpointFile(const std::string& path, const std::string& key, std::vector<FileHead>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read the checkpoint file " + path;
  std::string text;
  int64_t line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.empty()) continue;
    const std::string where = "checkpoint file line " + std::to_string(line_no);
    auto parsed = ParseJson(text, /*max_depth=*/16);
    if (!parsed.ok() || !parsed->is_object()) return where + " is not JSON (a torn write or an edit)";
    std::optional<SignedHead> head = ParseSignedHead(*parsed);
    if (!head || !head->v2) return where + " is not a signed checkpoint";
    if (!SignedHeadMatches(key, *head)) {
      return where + ": HMAC does not match the key (" + KeyMismatch(key, *head) + "): the line was forged or edited";
    }
    FileHead f{line_no, *head, {IntOr(*parsed, "checkpoint_seq", 0), StrOr(*parsed, "checkpoint_hash")}};
    out->push_back(std::move(f));
  }
  return "";
}

}  // namespace

Json AuditCheckpointFileLine(const AuditEvent& checkpoint) {
  const Json& d = checkpoint.detail;
  return Json{{"type", "audit.checkpoint"},
              {"seq", d.value("seq", Json())},
              {"hash", d.value("hash", Json())},
              {"anchor_seq", d.value("anchor_seq", Json())},
              {"anchor_hash", d.value("anchor_hash", Json())},
              {"hmac", d.value("hmac", Json())},
              {"key_id", d.value("key_id", Json())},
              {"checkpoint_seq", checkpoint.seq},
              {"checkpoint_hash", checkpoint.hash},
              {"ts", FormatTimeMs(checkpoint.ts_ms)}};
}

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

std::string AuditCheckpointHmac(const std::string& key, const AuditChainPoint& head, const AuditChainPoint& anchor) {
  return HmacSha256Hex(key, "holdgate-audit-checkpoint/v2\n" + std::to_string(head.seq) + "\n" + head.hash + "\n" +
                                std::to_string(anchor.seq) + "\n" + anchor.hash);
}

std::string AuditCheckpointKeyId(const std::string& key) {
  return Sha256Hex("holdgate-audit-key-id\n" + key).substr(0, 16);
}

// ---- AuditChainChecker ---------------------------------------------------------------------------

AuditChainChecker::AuditChainChecker(int64_t start_seq, std::string start_hash, AuditVerifyOptions options)
    : options_(std::move(options)) {
  verdict_.start_seq = start_seq;
  verdict_.start_hash = start_hash;
  verdict_.head_seq = start_seq;
  verdict_.head_hash = std::move(start_hash);
}

void AuditChainChecker::Fail(int64_t seq, std::string why) {
  if (!verdict_.ok) return;
  verdict_.ok = false;
  verdict_.broken_seq = seq;
  verdict_.why = std::move(why);
}

bool AuditChainChecker::Feed(const AuditEvent& e) {
  if (!verdict_.ok) return false;
  ++verdict_.rows_checked;
  const int64_t prev_seq = verdict_.head_seq;
  if (e.seq != prev_seq + 1) {
    if (e.seq > prev_seq + 1) {
      Fail(e.seq, "seq " + std::to_string(prev_seq + 1) +
                      (e.seq == prev_seq + 2 ? "" : "-" + std::to_string(e.seq - 1)) +
                      " missing before seq " + std::to_string(e.seq) + ": rows were deleted");
    } else {
      Fail(e.seq, "seq " + std::to_string(e.seq) + " follows seq " + std::to_string(prev_seq) +
                      ": rows are duplicated or out of order");
    }
    return false;
  }
  if (Sha256Hex(AuditCanonicalForm(e)) != e.hash) {
    Fail(e.seq, "hash mismatch at seq " + std::to_string(e.seq) +
                    ": the row's content was changed after it was written");
    return false;
  }
  if (e.prev_hash != verdict_.head_hash) {
    const std::string what = prev_seq == 0 ? std::string("the chain start")
                             : prev_seq == verdict_.start_seq
                                 ? "the archive anchor (seq " + std::to_string(prev_seq) + ")"
                                 : "seq " + std::to_string(prev_seq);
    Fail(e.seq, "prev_hash of seq " + std::to_string(e.seq) + " does not match the hash of " + what +
                    ": a row was changed, replaced or reordered");
    return false;
  }
  if (e.type == "audit.checkpoint") {
    const std::optional<SignedHead> cp = ParseSignedHead(e.detail);
    if (!cp) {
      Fail(e.seq, "checkpoint at seq " + std::to_string(e.seq) + " is malformed");
      return false;
    }
    if (cp->head.seq != prev_seq || cp->head.hash != e.prev_hash) {
      Fail(e.seq, "checkpoint at seq " + std::to_string(e.seq) + " covers seq " + std::to_string(cp->head.seq) +
                      " with a hash that is not the chain's at that row");
      return false;
    }
    if (!options_.checkpoint_key.empty()) {
      if (!SignedHeadMatches(options_.checkpoint_key, *cp)) {
        Fail(e.seq, "checkpoint HMAC at seq " + std::to_string(e.seq) + " does not match the key (" +
                        KeyMismatch(options_.checkpoint_key, *cp) + "): the chain was rewritten or the key is wrong");
        return false;
      }
      ++verdict_.checkpoints_verified;
      if (cp->v2 && (verdict_.signed_anchors.empty() || verdict_.signed_anchors.back() != cp->anchor)) {
        verdict_.signed_anchors.push_back(cp->anchor);
      }
    }
    ++verdict_.checkpoints;
    verdict_.last_checkpoint_seq = cp->head.seq;
  }
  verdict_.head_hash = e.hash;
  verdict_.head_seq = e.seq;
  return true;
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

std::vector<AuditAnchor> ReadAuditAnchors(SQLite::Database& db) {
  std::vector<AuditAnchor> out;
  if (!db.tableExists("audit_anchors")) return out;  // a database from before migration 002
  SQLite::Statement q(db,
                      "SELECT seq, hash, first_seq, start_hash, count, archived_at, archive FROM audit_anchors "
                      "ORDER BY seq");
  while (q.executeStep()) {
    AuditAnchor a;
    a.seq = q.getColumn(0).getInt64();
    a.hash = q.getColumn(1).getString();
    a.first_seq = q.getColumn(2).getInt64();
    a.start_hash = q.getColumn(3).getString();
    a.count = q.getColumn(4).getInt64();
    a.archived_at_ms = q.getColumn(5).getInt64();
    a.archive = q.getColumn(6).getString();
    out.push_back(std::move(a));
  }
  return out;
}

namespace {

bool IsAnchorOrGenesis(const std::vector<AuditAnchor>& anchors, const AuditChainPoint& p) {
  return p == AuditChainPoint{} || std::any_of(anchors.begin(), anchors.end(), [&](const AuditAnchor& a) {
           return a.seq == p.seq && a.hash == p.hash;
         });
}

}  // namespace

AuditVerdict WalkAuditChain(SQLite::Database& db, const AuditVerifyOptions& options) {
  // The checkpoint file first: every line in it names rows committed before the snapshot below.
  const CheckpointFileCheck file_check(options);
  // One read transaction: anchors and rows from the same snapshot, even beside a pruning writer.
  SQLite::Transaction snapshot(db, SQLite::TransactionBehavior::DEFERRED);
  std::vector<AuditAnchor> anchors = ReadAuditAnchors(db);
  // Anchors must form one line from genesis (their triggers enforce it; a dropped trigger may not).
  int64_t start_seq = 0;
  std::string start_hash = kGenesisHash;
  std::string anchor_problem;
  for (const AuditAnchor& a : anchors) {
    if (anchor_problem.empty() && (a.first_seq != start_seq + 1 || a.start_hash != start_hash ||
                                   a.count != a.seq - a.first_seq + 1)) {
      anchor_problem = "audit_anchors row for seq " + std::to_string(a.seq) +
                       " does not continue the previous anchor: the anchors were edited";
    }
    start_seq = a.seq;
    start_hash = a.hash;
  }
  AuditChainChecker checker(start_seq, start_hash, options);
  if (!anchor_problem.empty()) checker.Fail(start_seq, anchor_problem);
  bool corroborated = anchors.empty();
  {
    SQLite::Statement q(db, std::string("SELECT ") + kAuditColumns + " FROM audit_events WHERE seq > ? ORDER BY seq");
    q.bind(1, static_cast<int64_t>(start_seq));
    while (checker.verdict().ok && q.executeStep()) {
      AuditEvent e = ReadAuditRow(q);
      if (!checker.Feed(e)) break;
      // The newest anchor is recorded by the audit.archived event its prune appended.
      if (!corroborated && e.type == "audit.archived" && e.detail.is_object() &&
          IntOr(e.detail, "last_seq", -1) == start_seq && StrOr(e.detail, "head_hash") == start_hash) {
        corroborated = true;
      }
    }
  }
  if (checker.verdict().ok && !corroborated) {
    checker.Fail(start_seq, "the chain starts at an anchor (seq " + std::to_string(start_seq) +
                                ") that no audit.archived event records: rows were deleted behind an inserted anchor");
  }
  // With the key, the start itself must be signed: an audit.archived event is only self-hashed.
  if (checker.verdict().ok && !options.checkpoint_key.empty() && start_seq > 0) {
    const auto& vouched = checker.verdict().signed_anchors;
    if (std::find(vouched.begin(), vouched.end(), AuditChainPoint{start_seq, start_hash}) == vouched.end()) {
      checker.Fail(start_seq, "the chain starts at archive anchor seq " + std::to_string(start_seq) +
                                  ", but no checkpoint signed with the key vouches for it: rows 1.." +
                                  std::to_string(start_seq) +
                                  " were cut behind a forged anchor, or archived without the checkpoint key");
    }
  }
  for (const AuditChainPoint& p : checker.verdict().signed_anchors) {
    if (!IsAnchorOrGenesis(anchors, p)) {
      checker.Fail(p.seq, "a signed checkpoint vouches for archive anchor seq " + std::to_string(p.seq) +
                              ", which audit_anchors does not hold: anchors were removed or edited");
    }
  }
  SQLite::Statement row(db, "SELECT hash FROM audit_events WHERE seq = ?");
  file_check.Apply(anchors, [&](int64_t seq) -> std::optional<std::string> {
    row.reset();
    row.bind(1, static_cast<int64_t>(seq));
    if (!row.executeStep()) return std::nullopt;
    return row.getColumn(0).getString();
  }, checker);
  snapshot.commit();
  AuditVerdict v = checker.verdict();
  v.anchors = std::move(anchors);
  return v;
}

}  // namespace internal

struct CheckpointFileCheck::Head : FileHead {};

CheckpointFileCheck::CheckpointFileCheck(const AuditVerifyOptions& options) {
  if (options.checkpoint_file.empty()) return;
  enabled_ = true;
  if (options.checkpoint_key.empty()) {
    problem_ = "a checkpoint file is checked only with the checkpoint key";
    return;
  }
  std::vector<FileHead> read;
  problem_ = ReadCheckpointFile(options.checkpoint_file, options.checkpoint_key, &read);
  for (FileHead& h : read) heads_.push_back(Head{std::move(h)});
}

CheckpointFileCheck::~CheckpointFileCheck() = default;

void CheckpointFileCheck::Apply(const std::vector<AuditAnchor>& anchors,
                                const std::function<std::optional<std::string>(int64_t)>& hash_at,
                                AuditChainChecker& checker) const {
  if (!enabled_ || !checker.verdict().ok) return;
  if (!problem_.empty()) return checker.Fail(0, problem_);
  AuditVerdict& v = checker.mutable_verdict();
  for (const FileHead& f : heads_) {
    const std::string where = "checkpoint file line " + std::to_string(f.line);
    const AuditChainPoint& h = f.signed_head.head;
    ++v.file_checkpoints;
    v.file_head_seq = std::max(v.file_head_seq, h.seq);
    const int64_t last = std::max(h.seq, f.checkpoint.seq);
    if (last > v.head_seq) {
      checker.Fail(v.head_seq + 1, "rows were cut off the end: " + where + " holds a signed head at seq " +
                                       std::to_string(h.seq) + " (checkpoint event seq " +
                                       std::to_string(f.checkpoint.seq) + "), but the database's chain ends at seq " +
                                       std::to_string(v.head_seq));
      return;
    }
    if (!internal::IsAnchorOrGenesis(anchors, f.signed_head.anchor)) {
      checker.Fail(f.signed_head.anchor.seq, where + " vouches for archive anchor seq " +
                                                 std::to_string(f.signed_head.anchor.seq) +
                                                 ", which audit_anchors does not hold: anchors were removed or edited");
      return;
    }
    for (const AuditChainPoint& p : {h, f.checkpoint}) {
      if (p.seq <= v.start_seq) continue;  // archived: the archives' own check covers it
      std::optional<std::string> hash = hash_at(p.seq);
      if (!hash || *hash != p.hash) {
        checker.Fail(p.seq, "the row at seq " + std::to_string(p.seq) + " is not the one " + where +
                                " recorded: the chain was rewritten");
        return;
      }
    }
    if (h.seq == v.start_seq && h.seq > 0 && h.hash != v.start_hash) {
      checker.Fail(h.seq, where + " signs seq " + std::to_string(h.seq) + " with a hash that is not the anchor's");
      return;
    }
  }
}

Result<AuditVerdict> VerifyAuditChainFile(const std::string& path, const AuditVerifyOptions& options) {
  struct stat st;
  if (!options.checkpoint_file.empty() && ::stat(options.checkpoint_file.c_str(), &st) != 0) {
    return NotFound("no such checkpoint file: " + options.checkpoint_file +
                    " (holdgate creates it with the first checkpoint)");
  }
  if (IsPostgresUrl(path)) return VerifyPgAuditChain(path, options);
  if (::stat(path.c_str(), &st) != 0) return NotFound("no such database file: " + path);
  try {
    SQLite::Database db(path, SQLite::OPEN_READONLY, /*busyTimeoutMs=*/5000);
    if (!db.tableExists("audit_events")) {
      return IoError(path + " is not a holdgate database (no audit_events table)");
    }
    return internal::WalkAuditChain(db, options);
  } catch (const SQLite::Exception& e) {
    return IoError("cannot verify " + path + ": " + e.what());
  } catch (const std::exception& e) {
    return Internal(std::string("audit verify: ") + e.what());
  }
}

Result<AuditArchiveVerdict> VerifyAuditArchiveFile(const std::string& path, const AuditVerifyOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read archive file " + path);
  AuditArchiveVerdict out;
  std::optional<AuditChainChecker> checker;
  int64_t line_no = 0;
  bool trailer_seen = false;
  Json trailer;
  auto fail = [&](int64_t seq, std::string why) {
    if (!checker) checker.emplace(0, kGenesisHash, options);
    checker->Fail(seq, std::move(why));
    out.broken_line = line_no;
  };
  std::string line;
  try {
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty()) continue;
      if (trailer_seen) {
        fail(0, "line " + std::to_string(line_no) + " follows the trailer");
        break;
      }
      auto parsed = ParseJson(line, /*max_depth=*/512);
      if (!parsed.ok()) {
        fail(0, "line " + std::to_string(line_no) + " is not JSON: " + parsed.status().message());
        break;
      }
      if (parsed->is_object() && parsed->contains("archive")) {
        trailer_seen = true;
        trailer = std::move(parsed).value();
        continue;
      }
      AuditEvent e;
      std::string problem = EventFromJson(*parsed, &e);
      if (!problem.empty()) {
        fail(0, "line " + std::to_string(line_no) + " is not an audit event: " + problem);
        break;
      }
      if (!checker) {
        checker.emplace(e.seq - 1, e.prev_hash, options);
        if (e.seq == 1 && e.prev_hash != kGenesisHash) {
          fail(1, "the archive starts at seq 1 but its prev_hash is not the genesis hash");
          break;
        }
      }
      if (!checker->Feed(e)) {
        out.broken_line = line_no;
        break;
      }
    }
  } catch (const std::exception& ex) {
    fail(0, std::string("cannot read the archive: ") + ex.what());
  }
  if (!checker) {
    ++line_no;
    fail(0, "the archive holds no events");
  } else if (checker->verdict().ok) {
    const AuditVerdict& v = checker->verdict();
    if (!trailer_seen) {
      ++line_no;
      fail(v.head_seq, "no trailer line: the archive is truncated");
    } else if (StrOr(trailer, "archive") != "holdgate-audit" || IntOr(trailer, "version", 0) != 1) {
      fail(0, "the trailer is not a holdgate-audit version 1 trailer");
    } else if (IntOr(trailer, "first_seq", -1) != v.start_seq + 1 ||
               StrOr(trailer, "start_hash") != v.start_hash) {
      fail(v.start_seq + 1, "the trailer's first_seq/start_hash do not match the first event: lines were removed");
    } else if (IntOr(trailer, "last_seq", -1) != v.head_seq ||
               StrOr(trailer, "head_hash") != v.head_hash) {
      fail(v.head_seq, "the trailer's last_seq/head_hash do not match the last event (seq " +
                           std::to_string(v.head_seq) + "): lines were removed or added at the end");
    } else if (IntOr(trailer, "count", -1) != v.rows_checked) {
      fail(v.head_seq, "the trailer's count does not match the number of events");
    }
  }
  out.chain = checker->verdict();
  if (out.chain.ok) out.broken_line = 0;
  if (trailer.is_object()) {
    out.info.first_seq = IntOr(trailer, "first_seq", 0);
    out.info.last_seq = IntOr(trailer, "last_seq", 0);
    out.info.count = IntOr(trailer, "count", 0);
    out.info.start_hash = StrOr(trailer, "start_hash");
    out.info.head_hash = StrOr(trailer, "head_hash");
    out.info.created_at = StrOr(trailer, "created_at");
  }
  return out;
}

}  // namespace holdgate::store
