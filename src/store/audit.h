#pragma once
// Audit events: the append-only, hash-chained record of every call and decision, its offline
// verifiers (database file, archive files) and the signed-checkpoint HMAC. Value types are
// thread-compatible; the Verify*File functions open their own read-only handles and may run beside
// a live server.
//
// Chain: hash = SHA-256 hex of CanonicalJson({"actor","approval_id","decision","detail",
// "prev_hash","principal","rule","seq","tool","ts","type","via"}) of the row; prev_hash is the
// previous row's hash (64 zeros for the first row). seq is part of the hashed form, so an edited,
// deleted or reordered row breaks the chain at that row. Dropping rows from the END cannot be seen
// from the chain alone: compare the head against a kept checkpoint (AuditVerdict::head_hash, the
// "audit.checkpoint" log lines).
//
// Retention: `holdgate audit archive` (Store::ArchiveAudit) moves a prefix of the chain to a JSON
// lines file and records an anchor (last archived seq + hash) in audit_anchors; the database's
// chain then starts from the newest anchor instead of the genesis hash. Archive file format: one
// line per event (its canonical form plus "hash", keys sorted), then one trailer line
// {"archive":"holdgate-audit","version":1,"first_seq","last_seq","count","start_hash",
// "head_hash","created_at"}.
//
// Checkpoints: an "audit.checkpoint" event's detail is {"seq","hash","anchor_seq","anchor_hash",
// "hmac","key_id"} where seq and hash are the row just before it, anchor_seq/anchor_hash the archive
// anchor the chain is vouched to start from (0 and the genesis hash before any archive), and
// hmac = AuditCheckpointHmac(key, ...) over all four. A checkpoint carries forward the anchor of the
// checkpoint before it; only `audit archive` run with the key signs a new anchor (in the prune's
// transaction), so an anchor inserted by hand is never vouched. Checkpoints written before anchors
// were signed ({"seq","hash","hmac","key_id"}, "…/v1" MAC) still verify and vouch for no anchor.
// The same checkpoints go as JSON lines to the checkpoint file (AppendAuditCheckpointFile), which
// `audit verify` compares with the database to find rows cut off the end.
#include <cstdint>
#include <functional>
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

// Per-tool counts over the audit log since a time (the reviewer page's Tools tab).
//   calls:  tool calls audited (call.allowed — only written with audit_all_calls —, call.denied,
//           call.hidden, call.rate_limited, approval.created, grant.used)
//   denied: call.denied (by the policy) plus approval.rejected (by a reviewer)
//   held:   approval.created
struct ToolActivity {
  std::string tool;
  int64_t calls = 0;
  int64_t denied = 0;
  int64_t held = 0;
};

// The SQL both stores run: one aggregate over audit_events (indexed by ts), grouped by tool.
inline constexpr char kToolActivitySql[] =
    "SELECT tool,"
    " SUM(CASE WHEN type IN ('call.allowed','call.denied','call.hidden','call.rate_limited',"
    "'approval.created','grant.used') THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN type IN ('call.denied','approval.rejected') THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN type = 'approval.created' THEN 1 ELSE 0 END)"
    " FROM audit_events WHERE ts >= ";  // + since + " AND tool <> '' GROUP BY tool ORDER BY tool"

struct AuditPage {
  std::vector<AuditEvent> events;
  std::string next_cursor;  // empty on the last page
};

// A row of the chain by position: seq and hash (seq 0 with kGenesisHash is the start).
struct AuditChainPoint {
  int64_t seq = 0;
  std::string hash = kGenesisHash;
  bool operator==(const AuditChainPoint&) const = default;
};

// A pruned prefix of the chain (row of audit_anchors).
struct AuditAnchor {
  int64_t seq = 0;         // last archived seq: the remaining chain continues at seq + 1
  std::string hash;        // that row's hash
  int64_t first_seq = 0;   // first seq of the archive
  std::string start_hash;  // prev_hash of first_seq (the previous anchor's hash, or genesis)
  int64_t count = 0;
  int64_t archived_at_ms = 0;
  std::string archive;  // archive file as given to `audit archive`
};

struct AuditVerdict {
  bool ok = true;
  int64_t rows_checked = 0;
  int64_t broken_seq = 0;   // first row that fails (0 when ok)
  std::string why;          // e.g. "hash mismatch: row content was changed"
  std::string head_hash;    // hash of the last row checked (start_hash when no row)
  int64_t head_seq = 0;
  // Where the walk started: genesis (0, kGenesisHash) or the newest anchor.
  int64_t start_seq = 0;
  std::string start_hash = kGenesisHash;
  std::vector<AuditAnchor> anchors;  // oldest first (database walks only)
  int64_t checkpoints = 0;           // audit.checkpoint events seen
  int64_t checkpoints_verified = 0;  // ... whose HMAC matched the key (0 without a key)
  int64_t last_checkpoint_seq = 0;   // seq covered by the last checkpoint seen
  // Anchors vouched for by checkpoints whose HMAC matched the key, in chain order, no repeats.
  std::vector<AuditChainPoint> signed_anchors;
  // Checkpoint file (AuditVerifyOptions::checkpoint_file): signed heads read, and the newest.
  int64_t file_checkpoints = 0;
  int64_t file_head_seq = 0;
};

struct AuditVerifyOptions {
  // When set, every audit.checkpoint event's HMAC must match this key, and a chain that starts at
  // an archive anchor needs a checkpoint that vouches for that anchor.
  std::string checkpoint_key;
  // When set (REQUIRES: checkpoint_key), the checkpoint file written by AuditCheckpointer: every
  // line's HMAC must match, and every signed head must still be on the chain (database walks
  // only): a head past the database's last row means rows were cut off the end.
  std::string checkpoint_file;
};

// Opens `path` read-only (never creates or migrates it) and walks the chain from its newest
// anchor (or genesis), in one read transaction. kNotFound if the file does not exist; kIo if it
// is not a holdgate database. A PostgreSQL URL (IsPostgresUrl, store.h) is walked the same way in
// one read-only snapshot (kUnavailable when the server cannot be reached).
Result<AuditVerdict> VerifyAuditChainFile(const std::string& path, const AuditVerifyOptions& options = {});

// The trailer of an archive file.
struct AuditArchiveInfo {
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  int64_t count = 0;
  std::string start_hash;
  std::string head_hash;
  std::string created_at;
};

struct AuditArchiveVerdict {
  AuditVerdict chain;       // chain.ok false: the archive is broken (see broken_line, chain.why)
  int64_t broken_line = 0;  // 1-based line of the first problem
  AuditArchiveInfo info;
};

// Reads an archive written by Store::ArchiveAudit and checks every line's hash and link, the
// seq range, and that the trailer matches the events. kNotFound if the file does not exist.
Result<AuditArchiveVerdict> VerifyAuditArchiveFile(const std::string& path,
                                                   const AuditVerifyOptions& options = {});

// Checkpoint MAC: hex HMAC-SHA256(key,
// "holdgate-audit-checkpoint/v2\n<seq>\n<hash>\n<anchor seq>\n<anchor hash>").
std::string AuditCheckpointHmac(const std::string& key, const AuditChainPoint& head, const AuditChainPoint& anchor);
// The checkpoint file's line for an audit.checkpoint event (one JSON object; keys sorted by the
// caller's serialiser): {"type":"audit.checkpoint","seq","hash","anchor_seq","anchor_hash","hmac",
// "key_id","checkpoint_seq","checkpoint_hash","ts"}; the event's own seq and hash are not signed.
Json AuditCheckpointFileLine(const AuditEvent& checkpoint);
// A short public id of a checkpoint key (first 16 hex of SHA-256("holdgate-audit-key-id\n"+key)).
std::string AuditCheckpointKeyId(const std::string& key);

// Checks events one at a time in seq order: continuity, hash, link, checkpoint events.
// Thread-compatible.
class AuditChainChecker {
 public:
  AuditChainChecker(int64_t start_seq, std::string start_hash, AuditVerifyOptions options);
  // False at the first broken row (verdict() says where and why); later calls return false.
  bool Feed(const AuditEvent& event);
  // Marks the chain broken at `seq` for a reason found outside the rows.
  void Fail(int64_t seq, std::string why);
  const AuditVerdict& verdict() const { return verdict_; }
  AuditVerdict& mutable_verdict() { return verdict_; }

 private:
  AuditVerifyOptions options_;
  AuditVerdict verdict_;
};

// The checkpoint file's part of a chain verify, the same for every store. Construct it before
// the walk's snapshot (every line of the file then names rows committed before the snapshot);
// Apply after the walk. Reads the file; thread-compatible.
class CheckpointFileCheck {
 public:
  explicit CheckpointFileCheck(const AuditVerifyOptions& options);
  ~CheckpointFileCheck();
  // Every signed head of the file must still be on the chain the walk found: `hash_at(seq)` is
  // the hash of row `seq` in the walk's snapshot (nullopt: no such row). Past the chain's last
  // row means rows were cut off the end. No-op without a checkpoint file.
  void Apply(const std::vector<AuditAnchor>& anchors, const std::function<std::optional<std::string>(int64_t)>& hash_at,
             AuditChainChecker& checker) const;

 private:
  struct Head;
  bool enabled_ = false;
  std::string problem_;  // reading the file failed: the verdict fails with this
  std::vector<Head> heads_;
};

}  // namespace holdgate::store
