// Store: the audit chain, its queries, and the in-process change feed.
#include <algorithm>
#include <unordered_map>

#include "common/crypto.h"
#include "store/store_impl.h"

namespace holdgate::store {
namespace {

using internal::ScopedReset;
using internal::StatementCache;

// The store whose listeners this thread is delivering to (nested writes only enqueue).
thread_local const Store::Impl* tls_dispatching = nullptr;

bool IsApprovalEventType(const std::string& type) { return type.rfind("approval.", 0) == 0; }

}  // namespace

AuditEvent Store::Impl::AppendAuditTx(Tx& tx, AuditEvent e) {
  int64_t prev_seq = 0;
  std::string prev_hash = kGenesisHash;
  {
    SQLite::Statement& head = tx.stmts.Get("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1");
    ScopedReset reset(head);
    if (head.executeStep()) {
      prev_seq = head.getColumn(0).getInt64();
      prev_hash = head.getColumn(1).getString();
    }
  }
  if (e.ts_ms == 0) e.ts_ms = tx.now;
  e.seq = prev_seq + 1;
  e.prev_hash = prev_hash;
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

Result<AuditEvent> Store::AppendAudit(const AuditEvent& event) {
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

Result<AuditPage> Store::ListAudit(const AuditFilter& f) {
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

Result<AuditVerdict> Store::VerifyAuditChain() {
  return impl_->Read<AuditVerdict>("verify audit chain", [&](StatementCache&) -> Result<AuditVerdict> {
    return internal::WalkAuditChain(*impl_->rdb_);
  });
}

// ---- change feed --------------------------------------------------------------------------------

int Store::AddListener(ChangeListener listener) {
  std::lock_guard<std::mutex> lock(impl_->feed_mu_);
  const int id = impl_->next_listener_id_++;
  auto entry = std::make_shared<Impl::ListenerEntry>();
  entry->fn = std::move(listener);
  impl_->listeners_.emplace(id, std::move(entry));
  impl_->has_listeners_.store(true);
  return id;
}

void Store::RemoveListener(int id) {
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

void Store::Impl::Dispatch() {
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

Result<std::vector<ChangeEvent>> Store::EventsSince(int64_t after_seq, int limit) {
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
      out.push_back(ChangeEvent{r.seq, std::move(r.type), r.ts, std::move(r.actor), *it->second});
    }
    return out;
  });
}

}  // namespace holdgate::store
