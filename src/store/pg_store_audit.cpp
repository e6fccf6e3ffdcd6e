// PgStore: the audit chain (one chain for every replica), its queries and checkpoints, the change
// feed (this replica's commits, and other replicas' by LISTEN/NOTIFY plus a poll), the heartbeat
// and the executing lease.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_map>

#include "common/crypto.h"
#include "common/trace.h"
#include "store/audit_archive.h"
#include "store/pg_impl.h"
#include "store/sqlite_internal.h"

namespace holdgate::store {
namespace {

constexpr char kAuditCols[] =
    "seq, ts, type, approval_id, principal, actor, via, tool, rule, decision, detail, prev_hash, hash";

// The store whose listeners this thread is delivering to (nested writes only enqueue).
thread_local const PgStore::Impl* tls_pg_dispatching = nullptr;

bool IsApprovalEventType(const std::string& type) { return type.rfind("approval.", 0) == 0; }

AuditChainPoint NewestAnchor(pqxx::transaction_base& t) {
  AuditChainPoint p;
  pqxx::result r = t.exec("SELECT seq, hash FROM audit_anchors ORDER BY seq DESC LIMIT 1");
  if (!r.empty()) p = AuditChainPoint{PgInt(r[0][0]), PgStr(r[0][1])};
  return p;
}

AuditChainPoint ChainHead(pqxx::transaction_base& t) {
  pqxx::result r = t.exec("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1");
  if (!r.empty()) return AuditChainPoint{PgInt(r[0][0]), PgStr(r[0][1])};
  return NewestAnchor(t);
}

Result<AuditChainPoint> VouchedAnchor(pqxx::transaction_base& t, const std::string& key) {
  pqxx::result r =
      t.exec("SELECT seq, detail FROM audit_events WHERE type = 'audit.checkpoint' ORDER BY seq DESC LIMIT 1");
  if (r.empty()) {
    const AuditChainPoint anchor = NewestAnchor(t);
    if (anchor.seq == 0) return anchor;
    return Conflict("the audit chain starts at archive anchor seq " + std::to_string(anchor.seq) +
                    " but holds no signed checkpoint that vouches for it; not signing it now");
  }
  const int64_t seq = PgInt(r[0][0]);
  const Json d = internal::ParseStoredJson(PgStr(r[0][1]));
  if (!d.is_object() || !d.contains("anchor_seq")) return NewestAnchor(t);
  AuditChainPoint head{d.value("seq", int64_t{0}), d.value("hash", std::string())};
  AuditChainPoint anchor{d.value("anchor_seq", int64_t{0}), d.value("anchor_hash", std::string())};
  if (!ConstantTimeEquals(d.value("hmac", std::string()), AuditCheckpointHmac(key, head, anchor))) {
    return Conflict("the newest audit checkpoint (seq " + std::to_string(seq) +
                    ") does not match the checkpoint key (key id " + AuditCheckpointKeyId(key) +
                    "): the chain was edited or the key changed; not signing over it");
  }
  return anchor;
}

AuditEvent CheckpointEvent(const std::string& key, const AuditChainPoint& head, const AuditChainPoint& anchor) {
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

// LISTEN target of the feed thread's connection.
class ChangeReceiver final : public pqxx::notification_receiver {
 public:
  ChangeReceiver(pqxx::connection_base& c, bool* flag) : pqxx::notification_receiver(c, "holdgate_changes"), flag_(flag) {}
  void operator()(const std::string&, int) override { *flag_ = true; }

 private:
  bool* flag_;
};

}  // namespace

AuditEvent PgReadAudit(const pqxx::row& r) {
  AuditEvent e;
  e.seq = PgInt(r[0]);
  e.ts_ms = PgInt(r[1]);
  e.type = PgStr(r[2]);
  e.approval_id = PgStr(r[3]);
  e.principal = PgStr(r[4]);
  e.actor = PgStr(r[5]);
  e.via = PgStr(r[6]);
  e.tool = PgStr(r[7]);
  e.rule = PgStr(r[8]);
  e.decision = PgStr(r[9]);
  e.detail = internal::ParseStoredJson(PgStr(r[10]));
  e.prev_hash = PgStr(r[11]);
  e.hash = PgStr(r[12]);
  return e;
}

// REQUIRES: the transaction holds the chain lock (Write with chain=true).
AuditEvent PgStore::Impl::AppendAuditTx(Tx& tx, AuditEvent e) {
  const AuditChainPoint head = ChainHead(tx.w);
  if (e.ts_ms == 0) e.ts_ms = tx.now;
  e.seq = head.seq + 1;
  e.prev_hash = head.hash;
  if (const std::string& trace_id = trace::CurrentTraceId(); !trace_id.empty() && !e.detail.contains("trace_id") &&
      (e.detail.is_object() || e.detail.is_null())) {
    e.detail["trace_id"] = trace_id;
  }
  const std::string detail_text = CanonicalJson(e.detail);
  e.detail = internal::ParseStoredJson(detail_text);
  e.hash = Sha256Hex(AuditCanonicalForm(e));
  tx.w.exec_params(
      "INSERT INTO audit_events (seq, ts, type, approval_id, principal, actor, via, tool, rule, decision, detail, "
      "prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
      e.seq, e.ts_ms, e.type, e.approval_id, e.principal, e.actor, e.via, e.tool, e.rule, e.decision, detail_text,
      e.prev_hash, e.hash);
  return e;
}

Result<AuditEvent> PgStore::AppendAudit(const AuditEvent& event) {
  if (event.type.empty()) return InvalidArgument("audit event type is required");
  return impl_->Write<AuditEvent>("append audit", [&](Impl::Tx& tx) -> Result<AuditEvent> {
    AuditEvent written = impl_->AppendAuditTx(tx, event);
    if (!written.approval_id.empty() && IsApprovalEventType(written.type)) {
      {
        std::lock_guard<std::mutex> lock(impl_->feed_mu_);
        impl_->local_[written.seq] = written.hash;
      }
      if (impl_->has_listeners_.load()) {
        std::optional<Approval> a = Impl::LoadApproval(tx.w, written.approval_id);
        if (a) impl_->QueueTx(tx, ChangeEvent{written.seq, written.type, written.ts_ms, written.actor, *a});
      }
    }
    return written;
  });
}

Result<AuditPage> PgStore::ListAudit(const AuditFilter& f) {
  const int limit = std::clamp(f.limit, 1, 10000);
  std::string type = f.type;
  bool prefix = false;
  if (!type.empty() && type.back() == '*') {
    type.pop_back();
    prefix = true;
  } else if (!type.empty() && type.back() == '.') {
    prefix = true;
  }
  int64_t cursor_seq = 0;
  if (!f.cursor.empty()) {
    Json c;
    if (!internal::DecodeCursor(f.cursor, &c) || !c.is_object() || !c.contains("s") || !c["s"].is_number_integer()) {
      return InvalidArgument("malformed cursor");
    }
    cursor_seq = c["s"].get<int64_t>();
  }
  return impl_->Read<AuditPage>("list audit", [&](pqxx::transaction_base& t) -> Result<AuditPage> {
    std::string sql = std::string("SELECT ") + kAuditCols + " FROM audit_events WHERE 1 = 1";
    if (!type.empty()) {
      sql += prefix ? " AND substr(type, 1, length(" + t.quote(type) + ")) = " + t.quote(type)
                    : " AND type = " + t.quote(type);
    }
    if (!f.approval_id.empty()) sql += " AND approval_id = " + t.quote(f.approval_id);
    if (!f.principal.empty()) sql += " AND principal = " + t.quote(f.principal);
    if (!f.actor.empty()) sql += " AND actor = " + t.quote(f.actor);
    if (!f.tool.empty()) sql += " AND tool = " + t.quote(f.tool);
    if (f.from_ms > 0) sql += " AND ts >= " + std::to_string(f.from_ms);
    if (f.to_ms > 0) sql += " AND ts < " + std::to_string(f.to_ms);
    if (!f.cursor.empty()) sql += (f.newest_first ? " AND seq < " : " AND seq > ") + std::to_string(cursor_seq);
    sql += f.newest_first ? " ORDER BY seq DESC" : " ORDER BY seq";
    sql += " LIMIT " + std::to_string(limit + 1);
    AuditPage page;
    for (const pqxx::row& r : t.exec(sql)) page.events.push_back(PgReadAudit(r));
    if (static_cast<int>(page.events.size()) > limit) {
      page.events.pop_back();
      page.next_cursor = internal::EncodeCursor(Json{{"s", page.events.back().seq}});
    }
    return page;
  });
}

Result<std::vector<ToolActivity>> PgStore::ToolActivitySince(int64_t since_ms) {
  using Rows = std::vector<ToolActivity>;
  return impl_->Read<Rows>("tool activity", [&](pqxx::transaction_base& t) -> Result<Rows> {
    const std::string sql = std::string(kToolActivitySql) + std::to_string(since_ms) +
                            " AND tool <> '' GROUP BY tool ORDER BY tool";
    Rows rows;
    for (const pqxx::row& r : t.exec(sql)) {
      ToolActivity a;
      a.tool = r[0].as<std::string>();
      a.calls = r[1].as<int64_t>();
      a.denied = r[2].as<int64_t>();
      a.held = r[3].as<int64_t>();
      rows.push_back(std::move(a));
    }
    return rows;
  });
}

Result<std::vector<AuditAnchor>> PgStore::ListAuditAnchors() {
  using Anchors = std::vector<AuditAnchor>;
  return impl_->Read<Anchors>("list audit anchors", [&](pqxx::transaction_base& t) -> Result<Anchors> {
    Anchors out;
    for (const pqxx::row& r : t.exec("SELECT seq, hash, first_seq, start_hash, count, archived_at, archive "
                                     "FROM audit_anchors ORDER BY seq")) {
      out.push_back(AuditAnchor{PgInt(r[0]), PgStr(r[1]), PgInt(r[2]), PgStr(r[3]), PgInt(r[4]), PgInt(r[5]),
                                PgStr(r[6])});
    }
    return out;
  });
}

namespace {

// Walks the chain from the newest anchor (or genesis) inside `t` (a snapshot).
// Walks the chain in `t`'s snapshot; `file_check` was read before the snapshot began.
AuditVerdict WalkPgAuditChain(pqxx::transaction_base& t, const AuditVerifyOptions& options,
                              const CheckpointFileCheck& file_check) {
  std::vector<AuditAnchor> anchors;
  for (const pqxx::row& r : t.exec("SELECT seq, hash, first_seq, start_hash, count, archived_at, archive "
                                   "FROM audit_anchors ORDER BY seq")) {
    anchors.push_back(
        AuditAnchor{PgInt(r[0]), PgStr(r[1]), PgInt(r[2]), PgStr(r[3]), PgInt(r[4]), PgInt(r[5]), PgStr(r[6])});
  }
  int64_t start_seq = 0;
  std::string start_hash = kGenesisHash;
  std::string anchor_problem;
  for (const AuditAnchor& a : anchors) {
    if (anchor_problem.empty() &&
        (a.first_seq != start_seq + 1 || a.start_hash != start_hash || a.count != a.seq - a.first_seq + 1)) {
      anchor_problem = "audit_anchors row for seq " + std::to_string(a.seq) +
                       " does not continue the previous anchor: the anchors were edited";
    }
    start_seq = a.seq;
    start_hash = a.hash;
  }
  AuditChainChecker checker(start_seq, start_hash, options);
  if (!anchor_problem.empty()) checker.Fail(start_seq, anchor_problem);
  int64_t after = start_seq;
  while (checker.verdict().ok) {
    pqxx::result rows = t.exec_params(
        std::string("SELECT ") + kAuditCols + " FROM audit_events WHERE seq > $1::bigint ORDER BY seq LIMIT 5000",
        after);
    if (rows.empty()) break;
    for (const pqxx::row& r : rows) {
      AuditEvent e = PgReadAudit(r);
      after = e.seq;
      if (!checker.Feed(e)) break;
    }
  }
  file_check.Apply(anchors, [&](int64_t seq) -> std::optional<std::string> {
    pqxx::result r = t.exec_params("SELECT hash FROM audit_events WHERE seq = $1::bigint", seq);
    if (r.empty()) return std::nullopt;
    return PgStr(r[0][0]);
  }, checker);
  AuditVerdict v = checker.verdict();
  v.anchors = std::move(anchors);
  return v;
}

}  // namespace

Result<AuditVerdict> PgStore::VerifyAuditChain(const AuditVerifyOptions& options) {
  const CheckpointFileCheck file_check(options);
  // One snapshot (REPEATABLE READ): anchors and rows as of one moment, beside live writers.
  return impl_->Read<AuditVerdict>("verify audit chain", [&](pqxx::transaction_base& t) -> Result<AuditVerdict> {
    return WalkPgAuditChain(t, options, file_check);
  });
}

Result<AuditVerdict> VerifyPgAuditChain(const std::string& url, const AuditVerifyOptions& options) {
  const CheckpointFileCheck file_check(options);
  try {
    pqxx::connection c(url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5");
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(c);
    pqxx::result has = t.exec("SELECT to_regclass('audit_events') IS NOT NULL");
    if (PgStr(has[0][0]) != "t") return IoError("the database is not a holdgate database (no audit_events table)");
    AuditVerdict v = WalkPgAuditChain(t, options, file_check);
    t.commit();
    return v;
  } catch (const pqxx::broken_connection& e) {
    return Status(Code::kUnavailable, std::string("cannot verify: cannot reach PostgreSQL: ") + e.what());
  } catch (const std::exception& e) {
    return IoError(std::string("cannot verify: ") + e.what());
  }
}

// As on SQLite: plan the cut, write and check the file, then prune in ONE transaction that holds
// the chain lock (so every replica's appends wait for it and continue after the audit.archived
// event: one chain). The prune's DELETE is the only delete audit_events allows, by schema contract
// (schema/postgres/001_init.sql, holdgate_append_only): a row may be deleted only once an
// audit_anchors row covers its seq, and an anchor can only be inserted continuing the previous one
// and naming an existing row with its hash. Any other DELETE, every UPDATE and TRUNCATE raise.
// Deleting also needs the DELETE privilege, revoked from PUBLIC: run it as the tables' owner.
Result<AuditArchiveResult> PgStore::ArchiveAudit(const AuditArchiveOptions& o) {
  Status checked = CheckAuditArchiveRequest(*this, o);
  if (!checked.ok()) return checked;
  struct Plan {
    AuditChainPoint start;
    int64_t cut = 0;
  };
  auto plan = impl_->Read<Plan>("plan audit archive", [&](pqxx::transaction_base& t) -> Result<Plan> {
    Plan p;
    p.start = NewestAnchor(t);
    int64_t cut = p.start.seq;
    pqxx::result max = t.exec("SELECT MAX(seq) FROM audit_events");
    if (!max.empty() && !max[0][0].is_null()) cut = PgInt(max[0][0]);
    if (o.through_seq > 0) cut = std::min(cut, o.through_seq);
    if (o.before_ms > 0) {
      pqxx::result first = t.exec_params("SELECT MIN(seq) FROM audit_events WHERE ts >= $1", o.before_ms);
      if (!first.empty() && !first[0][0].is_null()) cut = std::min(cut, PgInt(first[0][0]) - 1);
    }
    p.cut = cut;
    return p;
  });
  if (!plan.ok()) return plan.status();
  const AuditChainPoint start = plan->start;
  const int64_t cut = plan->cut;
  if (cut <= start.seq) return NothingToArchive(start);
  AuditArchiveResult result;
  // Archived rows never change (the UPDATE trigger), and only a prune, re-checked below, deletes them.
  auto written = WriteAuditArchive(o.out_path, start, cut, impl_->clock_.NowMs(), [&](int64_t after, int64_t last) {
    using Events = std::vector<AuditEvent>;
    return impl_->Read<Events>("read audit for archive", [&](pqxx::transaction_base& t) -> Result<Events> {
      Events events;
      for (const pqxx::row& r : t.exec_params(std::string("SELECT ") + kAuditCols +
                                                   " FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT 1000",
                                               after, last)) {
        events.push_back(PgReadAudit(r));
      }
      return events;
    });
  });
  if (!written.ok()) return written.status();
  result.info = *written;
  const AuditArchiveInfo& info = result.info;
  auto pruned = impl_->Write<int64_t>("archive audit", [&](Impl::Tx& tx) -> Result<int64_t> {
    const AuditChainPoint now_start = NewestAnchor(tx.w);
    if (now_start.seq != start.seq || now_start.hash != start.hash) {
      return Conflict("another audit archive ran meanwhile (anchor now at seq " + std::to_string(now_start.seq) + ")");
    }
    pqxx::result rows = tx.w.exec_params(
        "SELECT COUNT(*), MAX(CASE WHEN seq = $1 THEN hash END) FROM audit_events WHERE seq > $2 AND seq <= $1", cut,
        start.seq);
    if (rows.empty() || PgInt(rows[0][0]) != info.count || PgStr(rows[0][1]) != info.head_hash) {
      return Conflict("audit rows through seq " + std::to_string(cut) + " changed while archiving");
    }
    tx.w.exec_params(
        "INSERT INTO audit_anchors (seq, hash, first_seq, start_hash, count, archived_at, archive) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        cut, info.head_hash, info.first_seq, info.start_hash, info.count, tx.now, o.out_path);
    tx.w.exec_params("DELETE FROM audit_events WHERE seq <= $1", cut);
    const AuditEvent archived = impl_->AppendAuditTx(tx, AuditArchivedEvent(o, info));
    if (!o.checkpoint_key.empty()) {
      // The signed claim: this head, and the chain vouched to start at the new anchor.
      result.checkpoint = impl_->AppendAuditTx(
          tx, CheckpointEvent(o.checkpoint_key, AuditChainPoint{archived.seq, archived.hash},
                              AuditChainPoint{cut, info.head_hash}));
    }
    return archived.seq;
  });
  if (!pruned.ok()) {
    if (pruned.status().code() == Code::kUnavailable) {
      // The connection broke: the prune may have committed, and then the file is the only copy of
      // those rows. Keep it and say how to tell.
      return Status(Code::kUnavailable, pruned.status().message() + "; " + o.out_path +
                                            " is kept: if `holdgate audit verify --db URL --archive " + o.out_path +
                                            "` accepts it the prune committed, else remove it and archive again");
    }
    ::unlink(o.out_path.c_str());  // nothing was pruned: the archive would only mislead
    return pruned.status();
  }
  result.archived_event_seq = *pruned;
  return result;
}

Result<std::optional<AuditEvent>> PgStore::AppendAuditCheckpoint(const std::string& key, bool skip_if_idle) {
  using Out = std::optional<AuditEvent>;
  if (key.empty()) return InvalidArgument("a checkpoint key is required");
  return impl_->Write<Out>("audit checkpoint", [&](Impl::Tx& tx) -> Result<Out> {
    if (skip_if_idle) {
      pqxx::result r = tx.w.exec("SELECT type FROM audit_events ORDER BY seq DESC LIMIT 1");
      if (!r.empty() && PgStr(r[0][0]) == "audit.checkpoint") return Out();
    }
    auto anchor = VouchedAnchor(tx.w, key);
    if (!anchor.ok()) return anchor.status();
    return Out(impl_->AppendAuditTx(tx, CheckpointEvent(key, ChainHead(tx.w), *anchor)));
  });
}

// ---- change feed --------------------------------------------------------------------------------

int PgStore::AddListener(ChangeListener listener) {
  std::lock_guard<std::mutex> lock(impl_->feed_mu_);
  const int id = impl_->next_listener_id_++;
  auto entry = std::make_shared<Impl::ListenerEntry>();
  entry->fn = std::move(listener);
  impl_->listeners_.emplace(id, std::move(entry));
  impl_->has_listeners_.store(true);
  return id;
}

void PgStore::RemoveListener(int id) {
  {
    std::lock_guard<std::mutex> lock(impl_->feed_mu_);
    auto it = impl_->listeners_.find(id);
    if (it == impl_->listeners_.end()) return;
    it->second->removed.store(true);
    impl_->listeners_.erase(it);
    impl_->has_listeners_.store(!impl_->listeners_.empty());
    if (impl_->listeners_.empty()) impl_->queue_.clear();
  }
  if (tls_pg_dispatching != impl_.get()) {
    std::lock_guard<std::mutex> wait(impl_->dispatch_mu_);
  }
}

void PgStore::Impl::QueueTx(Tx& tx, ChangeEvent event) {
  if (!has_listeners_.load()) return;
  auto q = std::make_shared<Queued>();
  q->event = std::move(event);
  std::lock_guard<std::mutex> lock(feed_mu_);
  queue_.push_back(q);
  tx.queued.push_back(std::move(q));
}

void PgStore::Impl::Settle(const std::vector<std::shared_ptr<Queued>>& queued, bool committed) {
  std::lock_guard<std::mutex> lock(feed_mu_);
  for (const auto& q : queued) q->state = committed ? Queued::kCommitted : Queued::kAborted;
  if (!committed) {
    // Not ours after all (rolled back, or a commit in doubt): the feed judges that seq afresh.
    for (const auto& q : queued) {
      auto it = local_.find(q->event.seq);
      if (it != local_.end()) local_.erase(it);
    }
  }
}

void PgStore::Impl::PublishRemote(std::vector<ChangeEvent> events) {
  if (!has_listeners_.load()) return;
  std::lock_guard<std::mutex> lock(feed_mu_);
  for (ChangeEvent& e : events) {
    auto q = std::make_shared<Queued>();
    q->event = std::move(e);
    q->state = Queued::kCommitted;
    auto pos = queue_.end();
    while (pos != queue_.begin() && (*(pos - 1))->event.seq > q->event.seq) --pos;
    queue_.insert(pos, std::move(q));
  }
}

void PgStore::Impl::Dispatch() {
  if (tls_pg_dispatching == this) return;
  if (!has_listeners_.load()) return;
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  const Impl* saved = tls_pg_dispatching;
  tls_pg_dispatching = this;
  for (;;) {
    std::vector<ChangeEvent> batch;
    std::vector<std::shared_ptr<ListenerEntry>> listeners;
    {
      // The committed prefix of the queue; an event still in its transaction holds back the
      // ones behind it (its transaction settles it and dispatches again).
      std::lock_guard<std::mutex> lock(feed_mu_);
      while (!queue_.empty() && queue_.front()->state != Queued::kPending) {
        if (queue_.front()->state == Queued::kCommitted) batch.push_back(std::move(queue_.front()->event));
        queue_.pop_front();
      }
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
  tls_pg_dispatching = saved;
}

void PgStore::Impl::CatchUp() {
  int64_t after;
  {
    std::lock_guard<std::mutex> lock(feed_mu_);
    after = feed_seq_;
  }
  struct Row {
    int64_t seq, ts;
    std::string type, actor, approval_id, hash;
  };
  for (;;) {
    auto rows = Read<std::vector<Row>>("change feed", [&](pqxx::transaction_base& t) -> Result<std::vector<Row>> {
      std::vector<Row> out;
      for (const pqxx::row& r : t.exec_params(
               "SELECT seq, ts, type, actor, approval_id, hash FROM audit_events WHERE seq > $1::bigint "
               "ORDER BY seq LIMIT 1000",
               after)) {
        out.push_back(Row{PgInt(r[0]), PgInt(r[1]), PgStr(r[2]), PgStr(r[3]), PgStr(r[4]), PgStr(r[5])});
      }
      return out;
    });
    if (!rows.ok() || rows->empty()) return;
    std::vector<Row> remote;
    {
      std::lock_guard<std::mutex> lock(feed_mu_);
      for (Row& r : *rows) {
        auto it = local_.find(r.seq);
        const bool mine = it != local_.end() && it->second == r.hash;
        if (!mine && !r.approval_id.empty() && IsApprovalEventType(r.type)) remote.push_back(std::move(r));
      }
      after = rows->back().seq;
      feed_seq_ = std::max(feed_seq_, after);
      local_.erase(local_.begin(), local_.upper_bound(feed_seq_));
    }
    if (!remote.empty() && has_listeners_.load()) {
      std::unordered_map<std::string, std::optional<Approval>> loaded;
      auto approvals = Read<bool>("change feed approvals", [&](pqxx::transaction_base& t) -> Result<bool> {
        for (const Row& r : remote) {
          if (!loaded.count(r.approval_id)) loaded.emplace(r.approval_id, LoadApproval(t, r.approval_id));
        }
        return true;
      });
      if (approvals.ok()) {
        std::vector<ChangeEvent> events;
        for (Row& r : remote) {
          const std::optional<Approval>& a = loaded[r.approval_id];
          if (a) events.push_back(ChangeEvent{r.seq, std::move(r.type), r.ts, std::move(r.actor), *a});
        }
        PublishRemote(std::move(events));
        Dispatch();
      }
    }
    if (rows->size() < 1000) return;
  }
}

void PgStore::Impl::Heartbeat() {
  auto c = Acquire("heartbeat");
  if (!c.ok()) return;
  std::unique_ptr<pqxx::connection> conn = std::move(c).value();
  try {
    {
      // Closed before the connection goes back to the pool (another thread may take it at once).
      pqxx::nontransaction n(*conn);
      n.exec_params("INSERT INTO replicas (id, started_at, heartbeat_at) VALUES ($1, "
                    "(extract(epoch from clock_timestamp()) * 1000)::bigint, "
                    "(extract(epoch from clock_timestamp()) * 1000)::bigint) "
                    "ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at",
                    replica_id_);
    }
    Release(std::move(conn));
  } catch (const std::exception& e) {
    log::Warn("heartbeat failed", {{"error", e.what()}});
    std::lock_guard<std::mutex> lock(pool_mu_);
    --open_;
    pool_cv_.notify_one();
  }
}

void PgStore::Impl::FeedLoop() {
  using Clock = std::chrono::steady_clock;
  const auto poll = std::chrono::milliseconds(std::max<int64_t>(options_.feed_poll_ms, 10));
  const auto beat = std::chrono::milliseconds(std::clamp<int64_t>(options_.executing_lease_ms / 4, 50, 5000));
  std::unique_ptr<pqxx::connection> listen;
  std::unique_ptr<ChangeReceiver> receiver;
  bool notified = false;
  auto next_poll = Clock::now();
  auto next_beat = Clock::now() + beat;
  auto next_listen_try = Clock::now();
  while (!stop_.load()) {
    if (!listen && Clock::now() >= next_listen_try) {
      try {
        listen = std::make_unique<pqxx::connection>(url_ + (url_.find('?') == std::string::npos ? "?" : "&") +
                                                    "connect_timeout=5");
        receiver = std::make_unique<ChangeReceiver>(*listen, &notified);
        notified = true;  // catch up on whatever happened while not listening
      } catch (const std::exception& e) {
        receiver.reset();
        listen.reset();
        next_listen_try = Clock::now() + std::chrono::seconds(1);
      }
    }
    if (listen) {
      try {
        listen->await_notification(0, 50 * 1000);  // a short slice, so Stop is prompt
      } catch (const std::exception& e) {
        log::Warn("change feed connection lost; polling until it is back", {{"error", e.what()}});
        receiver.reset();
        listen.reset();
        next_listen_try = Clock::now() + std::chrono::milliseconds(500);
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (stop_.load()) break;
    const auto now = Clock::now();
    if (notified || now >= next_poll) {
      notified = false;
      next_poll = now + poll;
      CatchUp();
    }
    if (now >= next_beat) {
      next_beat = now + beat;
      Heartbeat();
      auto failed = FailExpiredLeases(/*include_self=*/false);
      if (failed.ok() && *failed > 0) {
        log::Warn("failed approvals left executing by a replica whose lease ran out", {{"count", *failed}});
      }
    }
  }
  receiver.reset();
  listen.reset();
}

Result<std::vector<ChangeEvent>> PgStore::EventsSince(int64_t after_seq, int limit) {
  using Events = std::vector<ChangeEvent>;
  limit = std::clamp(limit, 1, 10000);
  return impl_->Read<Events>("events since", [&](pqxx::transaction_base& t) -> Result<Events> {
    std::unordered_map<std::string, std::optional<Approval>> cache;
    Events out;
    for (const pqxx::row& r : t.exec_params(
             "SELECT seq, ts, type, actor, approval_id FROM audit_events WHERE seq > $1::bigint AND "
             "approval_id <> '' AND substr(type, 1, 9) = 'approval.' ORDER BY seq LIMIT $2",
             after_seq, limit)) {
      const std::string id = PgStr(r[4]);
      auto it = cache.find(id);
      if (it == cache.end()) it = cache.emplace(id, Impl::LoadApproval(t, id)).first;
      if (!it->second) continue;
      const int64_t seq = PgInt(r[0]), ts = PgInt(r[1]);
      const pqxx::result last = t.exec_params(
          std::string("SELECT type FROM audit_events WHERE approval_id = $1 AND seq <= $2::bigint AND ") +
              kTransitionEventWhere + " ORDER BY seq DESC LIMIT 1",
          id, seq);
      const pqxx::row cast = t.exec_params1(
          "SELECT count(*) FROM audit_events WHERE approval_id = $1 AND seq <= $2::bigint AND type = 'approval.vote'",
          id, seq);
      out.push_back(ChangeEvent{seq, PgStr(r[2]), ts, PgStr(r[3]),
                                ApprovalAsOfEvent(*it->second, last.empty() ? std::string() : PgStr(last[0][0]),
                                                  static_cast<size_t>(PgInt(cast[0])), ts)});
    }
    return out;
  });
}

}  // namespace holdgate::store
