// Store: the audit chain, its queries, retention (archive + prune), checkpoints, and the
// in-process change feed.
//
// Why pruning needs no disabled trigger: migration 002 narrowed audit_events_no_delete to rows at
// or below the newest audit_anchors row, and an anchor can only be inserted naming an existing row
// with its exact hash, continuing the previous anchor. The prune inserts the anchor and deletes
// the rows in the same BEGIN IMMEDIATE transaction, so every other delete (any row above the
// newest anchor) is still refused by the trigger, and there is no flag or dropped trigger that a
// crash could leave behind, and no DDL at run time.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "common/crypto.h"
#include "common/trace.h"
#include "store/audit_archive.h"
#include "store/store_impl.h"

namespace holdgate::store {
namespace {

using internal::ScopedReset;
using internal::StatementCache;

// The store whose listeners this thread is delivering to (nested writes only enqueue).
thread_local const SqliteStore::Impl* tls_dispatching = nullptr;

bool IsApprovalEventType(const std::string& type) { return type.rfind("approval.", 0) == 0; }

using ChainPoint = AuditChainPoint;

// The newest archive anchor, or genesis.
ChainPoint NewestAnchor(StatementCache& stmts) {
  ChainPoint p;
  SQLite::Statement& q = stmts.Get("SELECT seq, hash FROM audit_anchors ORDER BY seq DESC LIMIT 1");
  ScopedReset reset(q);
  if (q.executeStep()) {
    p.seq = q.getColumn(0).getInt64();
    p.hash = q.getColumn(1).getString();
  }
  return p;
}

// What a new row continues: the newest row, else (everything archived) the newest anchor.
ChainPoint ChainHead(StatementCache& stmts) {
  {
    SQLite::Statement& head = stmts.Get("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1");
    ScopedReset reset(head);
    if (head.executeStep()) return ChainPoint{head.getColumn(0).getInt64(), head.getColumn(1).getString()};
  }
  return NewestAnchor(stmts);
}

// The anchor a new checkpoint vouches for: the one the newest checkpoint vouched for, after checking
// that checkpoint's HMAC. With no checkpoint left in the chain: genesis when nothing was archived,
// else kConflict (an anchor that no signed checkpoint carries is never signed later:
// anyone who can write the file could have inserted it).
Result<ChainPoint> VouchedAnchor(StatementCache& stmts, const std::string& key) {
  SQLite::Statement& q = stmts.Get(
      "SELECT seq, detail FROM audit_events WHERE type = 'audit.checkpoint' ORDER BY seq DESC LIMIT 1");
  ScopedReset reset(q);
  if (!q.executeStep()) {
    const ChainPoint anchor = NewestAnchor(stmts);
    if (anchor.seq == 0) return anchor;
    return Conflict("the audit chain starts at archive anchor seq " + std::to_string(anchor.seq) +
                              " but holds no signed checkpoint that vouches for it; not signing it now");
  }
  const int64_t seq = q.getColumn(0).getInt64();
  const Json d = internal::ParseStoredJson(q.getColumn(1).getString());
  if (!d.is_object() || !d.contains("anchor_seq")) {
    return NewestAnchor(stmts);  // a checkpoint from before anchors were signed: it vouched for none
  }
  ChainPoint head{d.value("seq", int64_t{0}), d.value("hash", std::string())};
  ChainPoint anchor{d.value("anchor_seq", int64_t{0}), d.value("anchor_hash", std::string())};
  if (!ConstantTimeEquals(d.value("hmac", std::string()), AuditCheckpointHmac(key, head, anchor))) {
    return Conflict("the newest audit checkpoint (seq " + std::to_string(seq) +
                              ") does not match the checkpoint key (key id " + AuditCheckpointKeyId(key) +
                              "): the chain was edited or the key changed; not signing over it");
  }
  return anchor;
}

AuditEvent CheckpointEvent(const std::string& key, const ChainPoint& head, const ChainPoint& anchor) {
  AuditEvent e;
  e.type = "audit.checkpoint";
  e.actor = "holdgate";
  e.via = "system";
  e.decision = "checkpoint";
  e.detail = {{"seq", head.seq},
              {"hash", head.hash},
              {"anchor_seq", anchor.seq},
              {"anchor_hash", anchor.hash},
              {"hmac", AuditCheckpointHmac(key, head, anchor)},
              {"key_id", AuditCheckpointKeyId(key)}};
  return e;
}

}  // namespace

AuditEvent SqliteStore::Impl::AppendAuditTx(Tx& tx, AuditEvent e) {
  const ChainPoint head = ChainHead(tx.stmts);
  const int64_t prev_seq = head.seq;
  const std::string& prev_hash = head.hash;
  if (e.ts_ms == 0) e.ts_ms = tx.now;
  e.seq = prev_seq + 1;
  e.prev_hash = prev_hash;
  // An event written while this thread handles a traced MCP call carries that call's trace id.
  if (const std::string& trace_id = trace::CurrentTraceId(); !trace_id.empty() && !e.detail.contains("trace_id") &&
      (e.detail.is_object() || e.detail.is_null())) {
    e.detail["trace_id"] = trace_id;
  }
  // Hash exactly what a verifier will read back: the stored (canonical) detail text.
  const std::string detail_text = CanonicalJson(e.detail);
  e.detail = internal::ParseStoredJson(detail_text);
  e.hash = Sha256Hex(AuditCanonicalForm(e));

  SQLite::Statement& ins = tx.stmts.Get(
      "INSERT INTO audit_events (seq, ts, type, approval_id, principal, actor, via, tool, rule, "
      "decision, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  BindInt(ins, 1, e.seq);
  BindInt(ins, 2, e.ts_ms);
  ins.bind(3, e.type);
  ins.bind(4, e.approval_id);
  ins.bind(5, e.principal);
  ins.bind(6, e.actor);
  ins.bind(7, e.via);
  ins.bind(8, e.tool);
  ins.bind(9, e.rule);
  ins.bind(10, e.decision);
  ins.bind(11, detail_text);
  ins.bind(12, e.prev_hash);
  ins.bind(13, e.hash);
  ins.exec();
  return e;
}

Result<AuditEvent> SqliteStore::AppendAudit(const AuditEvent& event) {
  if (event.type.empty()) return InvalidArgument("audit event type is required");
  return impl_->Write<AuditEvent>("append audit", [&](Impl::Tx& tx) -> Result<AuditEvent> {
    AuditEvent written = impl_->AppendAuditTx(tx, event);
    // An approval.* event about an approval is part of the change feed, live and replayed alike.
    if (!written.approval_id.empty() && IsApprovalEventType(written.type) &&
        impl_->has_listeners_.load()) {
      std::optional<Approval> a = Impl::LoadApproval(tx.stmts, written.approval_id);
      if (a) tx.events.push_back(ChangeEvent{written.seq, written.type, written.ts_ms, written.actor, *a});
    }
    return written;
  });
}

Result<AuditPage> SqliteStore::ListAudit(const AuditFilter& f) {
  const int limit = std::clamp(f.limit, 1, 10000);
  std::string sql = std::string("SELECT ") + internal::kAuditColumns + " FROM audit_events WHERE 1 = 1";
  std::string type = f.type;
  bool prefix = false;
  if (!type.empty() && type.back() == '*') {
    type.pop_back();
    prefix = true;
  } else if (!type.empty() && type.back() == '.') {
    prefix = true;
  }
  if (!type.empty()) {
    sql += prefix ? " AND substr(type, 1, length(:type)) = :type" : " AND type = :type";
  }
  if (!f.approval_id.empty()) sql += " AND approval_id = :approval";
  if (!f.principal.empty()) sql += " AND principal = :principal";
  if (!f.actor.empty()) sql += " AND actor = :actor";
  if (!f.tool.empty()) sql += " AND tool = :tool";
  if (f.from_ms > 0) sql += " AND ts >= :from";
  if (f.to_ms > 0) sql += " AND ts < :to";
  int64_t cursor_seq = 0;
  if (!f.cursor.empty()) {
    Json c;
    if (!internal::DecodeCursor(f.cursor, &c) || !c.is_object() || !c.contains("s") ||
        !c["s"].is_number_integer()) {
      return InvalidArgument("malformed cursor");
    }
    cursor_seq = c["s"].get<int64_t>();
    sql += f.newest_first ? " AND seq < :cursor" : " AND seq > :cursor";
  }
  sql += f.newest_first ? " ORDER BY seq DESC" : " ORDER BY seq";
  sql += " LIMIT :limit";

  return impl_->Read<AuditPage>("list audit", [&](StatementCache& stmts) -> Result<AuditPage> {
    SQLite::Statement& q = stmts.Get(sql);
    ScopedReset reset(q);
    if (!type.empty()) q.bind(":type", type);
    if (!f.approval_id.empty()) q.bind(":approval", f.approval_id);
    if (!f.principal.empty()) q.bind(":principal", f.principal);
    if (!f.actor.empty()) q.bind(":actor", f.actor);
    if (!f.tool.empty()) q.bind(":tool", f.tool);
    if (f.from_ms > 0) q.bind(":from", static_cast<int64_t>(f.from_ms));
    if (f.to_ms > 0) q.bind(":to", static_cast<int64_t>(f.to_ms));
    if (!f.cursor.empty()) q.bind(":cursor", static_cast<int64_t>(cursor_seq));
    q.bind(":limit", limit + 1);
    AuditPage page;
    while (q.executeStep()) page.events.push_back(internal::ReadAuditRow(q));
    if (static_cast<int>(page.events.size()) > limit) {
      page.events.pop_back();
      page.next_cursor = internal::EncodeCursor(Json{{"s", page.events.back().seq}});
    }
    return page;
  });
}

Result<std::vector<ToolActivity>> SqliteStore::ToolActivitySince(int64_t since_ms) {
  using Rows = std::vector<ToolActivity>;
  static const std::string sql = std::string(kToolActivitySql) + ":since AND tool <> '' GROUP BY tool ORDER BY tool";
  return impl_->Read<Rows>("tool activity", [&](StatementCache& stmts) -> Result<Rows> {
    SQLite::Statement& q = stmts.Get(sql);
    ScopedReset reset(q);
    q.bind(":since", static_cast<int64_t>(since_ms));
    Rows rows;
    while (q.executeStep()) {
      ToolActivity a;
      a.tool = q.getColumn(0).getString();
      a.calls = q.getColumn(1).getInt64();
      a.denied = q.getColumn(2).getInt64();
      a.held = q.getColumn(3).getInt64();
      rows.push_back(std::move(a));
    }
    return rows;
  });
}

Result<AuditVerdict> SqliteStore::VerifyAuditChain(const AuditVerifyOptions& options) {
  return impl_->Read<AuditVerdict>("verify audit chain", [&](StatementCache&) -> Result<AuditVerdict> {
    return internal::WalkAuditChain(*impl_->rdb_, options);
  });
}

Result<std::vector<AuditAnchor>> SqliteStore::ListAuditAnchors() {
  using Anchors = std::vector<AuditAnchor>;
  return impl_->Read<Anchors>("list audit anchors",
                              [&](StatementCache&) -> Result<Anchors> { return internal::ReadAuditAnchors(*impl_->rdb_); });
}

Result<AuditArchiveResult> SqliteStore::ArchiveAudit(const AuditArchiveOptions& o) {
  Status checked = CheckAuditArchiveRequest(*this, o);
  if (!checked.ok()) return checked;

  // 1. Plan: the chain start (newest anchor) and the cut, the last seq to archive.
  struct Plan {
    ChainPoint start;
    int64_t cut = 0;
  };
  auto plan = impl_->Read<Plan>("plan audit archive", [&](StatementCache& stmts) -> Result<Plan> {
    Plan p;
    p.start = NewestAnchor(stmts);
    int64_t cut = p.start.seq;
    {
      SQLite::Statement& q = stmts.Get("SELECT MAX(seq) FROM audit_events");
      ScopedReset reset(q);
      if (q.executeStep() && !q.getColumn(0).isNull()) cut = q.getColumn(0).getInt64();
    }
    if (o.through_seq > 0) cut = std::min(cut, o.through_seq);
    if (o.before_ms > 0) {
      SQLite::Statement& q = stmts.Get("SELECT MIN(seq) FROM audit_events WHERE ts >= ?");
      ScopedReset reset(q);
      BindInt(q, 1, o.before_ms);
      if (q.executeStep() && !q.getColumn(0).isNull()) cut = std::min(cut, q.getColumn(0).getInt64() - 1);
    }
    p.cut = cut;
    return p;
  });
  if (!plan.ok()) return plan.status();
  const ChainPoint start = plan->start;
  const int64_t cut = plan->cut;
  if (cut <= start.seq) return NothingToArchive(start);
  AuditArchiveResult result;

  // 2. Write and check the archive outside the write lock (archived rows never change: the
  // UPDATE trigger refuses it, and only a prune, re-checked below, deletes them).
  auto written = WriteAuditArchive(o.out_path, start, cut, impl_->clock_.NowMs(), [&](int64_t after, int64_t last) {
    using Events = std::vector<AuditEvent>;
    return impl_->Read<Events>("read audit for archive", [&](StatementCache& stmts) -> Result<Events> {
      SQLite::Statement& q = stmts.Get(std::string("SELECT ") + internal::kAuditColumns +
                                       " FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1000");
      ScopedReset reset(q);
      BindInt(q, 1, after);
      BindInt(q, 2, last);
      Events events;
      while (q.executeStep()) events.push_back(internal::ReadAuditRow(q));
      return events;
    });
  });
  if (!written.ok()) return written.status();
  AuditArchiveInfo& info = result.info;
  info = *written;
  const std::string head_hash = info.head_hash;

  // 3. Prune in one transaction: anchor, delete, and an audit.archived event after the cut.
  auto pruned = impl_->Write<int64_t>("archive audit", [&](Impl::Tx& tx) -> Result<int64_t> {
    const ChainPoint now_start = NewestAnchor(tx.stmts);
    if (now_start.seq != start.seq || now_start.hash != start.hash) {
      return Conflict("another audit archive ran meanwhile (anchor now at seq " + std::to_string(now_start.seq) + ")");
    }
    {
      SQLite::Statement& q = tx.stmts.Get("SELECT COUNT(*), MAX(CASE WHEN seq = ? THEN hash END) FROM audit_events "
                                          "WHERE seq > ? AND seq <= ?");
      ScopedReset reset(q);
      BindInt(q, 1, cut);
      BindInt(q, 2, start.seq);
      BindInt(q, 3, cut);
      if (!q.executeStep() || q.getColumn(0).getInt64() != info.count || q.getColumn(1).getString() != head_hash) {
        return Conflict("audit rows through seq " + std::to_string(cut) + " changed while archiving");
      }
    }
    SQLite::Statement& anchor = tx.stmts.Get(
        "INSERT INTO audit_anchors (seq, hash, first_seq, start_hash, count, archived_at, archive) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    BindInt(anchor, 1, cut);
    anchor.bind(2, head_hash);
    BindInt(anchor, 3, info.first_seq);
    anchor.bind(4, info.start_hash);
    BindInt(anchor, 5, info.count);
    BindInt(anchor, 6, tx.now);
    anchor.bind(7, o.out_path);
    anchor.exec();
    SQLite::Statement& del = tx.stmts.Get("DELETE FROM audit_events WHERE seq <= ?");
    BindInt(del, 1, cut);
    del.exec();
    const AuditEvent archived = impl_->AppendAuditTx(tx, AuditArchivedEvent(o, info));
    if (!o.checkpoint_key.empty()) {
      // The signed claim: this head, and the chain vouched to start at the new anchor.
      result.checkpoint = impl_->AppendAuditTx(
          tx, CheckpointEvent(o.checkpoint_key, ChainPoint{archived.seq, archived.hash}, ChainPoint{cut, head_hash}));
    }
    return archived.seq;
  });
  if (!pruned.ok()) {
    ::unlink(o.out_path.c_str());  // nothing was pruned: the archive would only mislead
    return pruned.status();
  }
  result.archived_event_seq = *pruned;
  return result;
}

Result<std::optional<AuditEvent>> SqliteStore::AppendAuditCheckpoint(const std::string& key, bool skip_if_idle) {
  using Out = std::optional<AuditEvent>;
  if (key.empty()) return InvalidArgument("a checkpoint key is required");
  return impl_->Write<Out>("audit checkpoint", [&](Impl::Tx& tx) -> Result<Out> {
    if (skip_if_idle) {
      SQLite::Statement& q = tx.stmts.Get("SELECT type FROM audit_events ORDER BY seq DESC LIMIT 1");
      ScopedReset reset(q);
      if (q.executeStep() && q.getColumn(0).getString() == "audit.checkpoint") return Out();
    }
    auto anchor = VouchedAnchor(tx.stmts, key);
    if (!anchor.ok()) return anchor.status();
    return Out(impl_->AppendAuditTx(tx, CheckpointEvent(key, ChainHead(tx.stmts), *anchor)));
  });
}

// ---- change feed --------------------------------------------------------------------------------

int SqliteStore::AddListener(ChangeListener listener) {
  std::lock_guard<std::mutex> lock(impl_->feed_mu_);
  const int id = impl_->next_listener_id_++;
  auto entry = std::make_shared<Impl::ListenerEntry>();
  entry->fn = std::move(listener);
  impl_->listeners_.emplace(id, std::move(entry));
  impl_->has_listeners_.store(true);
  return id;
}

void SqliteStore::RemoveListener(int id) {
  {
    std::lock_guard<std::mutex> lock(impl_->feed_mu_);
    auto it = impl_->listeners_.find(id);
    if (it == impl_->listeners_.end()) return;
    it->second->removed.store(true);
    impl_->listeners_.erase(it);
    impl_->has_listeners_.store(!impl_->listeners_.empty());
    if (impl_->listeners_.empty()) impl_->queue_.clear();
  }
  // Wait out a delivery in progress on another thread (ours cannot be waited for).
  if (tls_dispatching != impl_.get()) {
    std::lock_guard<std::mutex> wait(impl_->dispatch_mu_);
  }
}

void SqliteStore::Impl::Dispatch() {
  if (tls_dispatching == this) return;  // a listener wrote: the outer loop delivers it
  if (!has_listeners_.load()) return;
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  const Impl* saved = tls_dispatching;
  tls_dispatching = this;
  for (;;) {
    std::deque<ChangeEvent> batch;
    std::vector<std::shared_ptr<ListenerEntry>> listeners;
    {
      std::lock_guard<std::mutex> lock(feed_mu_);
      batch.swap(queue_);
      for (auto& [id, entry] : listeners_) listeners.push_back(entry);
    }
    if (batch.empty()) break;
    for (const ChangeEvent& event : batch) {
      for (const auto& l : listeners) {
        if (l->removed.load()) continue;
        try {
          l->fn(event);
        } catch (const std::exception& e) {
          log::Error("change listener threw", {{"error", e.what()}, {"event", event.type}});
        } catch (...) {
          log::Error("change listener threw", {{"event", event.type}});
        }
      }
    }
  }
  tls_dispatching = saved;
}

namespace {

// `now` as it was just after its audit event `seq` at `ts` (ApprovalAsOfEvent, approval.h).
Approval AsOfEvent(StatementCache& stmts, const Approval& now, int64_t seq, int64_t ts) {
  SQLite::Statement& q = stmts.Get(std::string("SELECT type FROM audit_events WHERE approval_id = ? AND seq <= ? AND ") +
                                   kTransitionEventWhere + " ORDER BY seq DESC LIMIT 1");
  ScopedReset reset(q);
  q.bind(1, now.id);
  BindInt(q, 2, seq);
  const std::string last_transition = q.executeStep() ? q.getColumn(0).getString() : std::string();
  SQLite::Statement& n = stmts.Get(
      "SELECT count(*) FROM audit_events WHERE approval_id = ? AND seq <= ? AND type = 'approval.vote'");
  ScopedReset reset_n(n);
  n.bind(1, now.id);
  BindInt(n, 2, seq);
  const size_t cast = n.executeStep() ? static_cast<size_t>(n.getColumn(0).getInt64()) : now.votes.size();
  return ApprovalAsOfEvent(now, last_transition, cast, ts);
}

}  // namespace

Result<std::vector<ChangeEvent>> SqliteStore::EventsSince(int64_t after_seq, int limit) {
  using Events = std::vector<ChangeEvent>;
  limit = std::clamp(limit, 1, 10000);
  return impl_->Read<Events>("events since", [&](StatementCache& stmts) -> Result<Events> {
    struct Row {
      int64_t seq, ts;
      std::string type, actor, approval_id;
    };
    std::vector<Row> rows;
    {
      SQLite::Statement& q = stmts.Get(
          "SELECT seq, ts, type, actor, approval_id FROM audit_events WHERE seq > ? AND "
          "approval_id <> '' AND substr(type, 1, 9) = 'approval.' ORDER BY seq LIMIT ?");
      ScopedReset reset(q);
      BindInt(q, 1, after_seq);
      q.bind(2, limit);
      while (q.executeStep()) {
        rows.push_back(Row{q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getString(),
                           q.getColumn(3).getString(), q.getColumn(4).getString()});
      }
    }
    std::unordered_map<std::string, std::optional<Approval>> cache;
    Events out;
    for (Row& r : rows) {
      auto it = cache.find(r.approval_id);
      if (it == cache.end()) it = cache.emplace(r.approval_id, Impl::LoadApproval(stmts, r.approval_id)).first;
      if (!it->second) continue;
      out.push_back(ChangeEvent{r.seq, std::move(r.type), r.ts, std::move(r.actor),
                                AsOfEvent(stmts, *it->second, r.seq, r.ts)});
    }
    return out;
  });
}

}  // namespace holdgate::store
