// Store: the notification outbox.
#include <algorithm>

#include "store/store_impl.h"

namespace holdgate::store {
namespace {

using internal::ScopedReset;
using internal::StatementCache;

// Result<T> cannot hold a Status; operations without a value return Result<bool>.
Status ToStatus(const Result<bool>& r) { return r.ok() ? Status::Ok() : r.status(); }

}  // namespace

OutboxRow ReadOutboxRow(SQLite::Statement& s) {
  OutboxRow r;
  r.id = s.getColumn(0).getInt64();
  r.approval_id = s.getColumn(1).getString();  // NULL reads as ""
  r.event_type = s.getColumn(2).getString();
  r.target = s.getColumn(3).getString();
  r.payload = internal::ParseStoredJson(s.getColumn(4).getString());
  ParseOutboxState(s.getColumn(5).getString(), &r.state);
  r.attempts = s.getColumn(6).getInt();
  r.next_attempt_at_ms = s.getColumn(7).getInt64();
  r.created_at_ms = s.getColumn(8).getInt64();
  r.updated_at_ms = s.getColumn(9).getInt64();
  r.last_status = s.getColumn(10).getString();
  return r;
}

void SqliteStore::Impl::InsertOutboxTx(Tx& tx, const std::string& approval_id, const NewOutboxRow& row) {
  SQLite::Statement& ins = tx.stmts.Get(
      "INSERT INTO outbox (approval_id, event_type, target, payload, state, attempts, "
      "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)");
  if (approval_id.empty()) ins.bind(1);
  else ins.bind(1, approval_id);
  ins.bind(2, row.event_type);
  ins.bind(3, row.target);
  ins.bind(4, CanonicalJson(row.payload));
  BindInt(ins, 5, row.deliver_at_ms > 0 ? row.deliver_at_ms : tx.now);
  BindInt(ins, 6, tx.now);
  BindInt(ins, 7, tx.now);
  ins.exec();
}

void SqliteStore::SetOutboxFactory(OutboxFactory factory) {
  std::lock_guard<std::mutex> lock(impl_->write_mu_);
  impl_->outbox_factory_ = std::move(factory);
}

namespace {

std::optional<OutboxRow> LoadOutbox(StatementCache& stmts, int64_t id) {
  SQLite::Statement& q = stmts.Get(std::string("SELECT ") + kOutboxColumns + " FROM outbox WHERE id = ?");
  ScopedReset reset(q);
  BindInt(q, 1, id);
  if (!q.executeStep()) return std::nullopt;
  return ReadOutboxRow(q);
}

}  // namespace

Result<OutboxRow> SqliteStore::EnqueueOutbox(const NewOutboxRow& row) {
  if (row.target.empty()) return InvalidArgument("outbox target is required");
  return impl_->Write<OutboxRow>("enqueue outbox", [&](Impl::Tx& tx) -> Result<OutboxRow> {
    impl_->InsertOutboxTx(tx, row.approval_id, row);
    std::optional<OutboxRow> r = LoadOutbox(tx.stmts, tx.db.getLastInsertRowid());
    if (!r) return Internal("outbox row vanished");
    return *r;
  });
}

Result<std::vector<OutboxRow>> SqliteStore::ClaimDueOutbox(int64_t now_ms, int limit) {
  using Rows = std::vector<OutboxRow>;
  limit = std::clamp(limit, 1, 1000);
  return impl_->Write<Rows>("claim outbox", [&](Impl::Tx& tx) -> Result<Rows> {
    // A claimed row's next_attempt_at is its lease end, so one index range finds both fresh rows
    // and rows whose worker died.
    std::vector<int64_t> ids;
    {
      SQLite::Statement& q = tx.stmts.Get(
          "SELECT id FROM outbox WHERE state IN ('pending', 'delivering') AND next_attempt_at <= ? "
          "ORDER BY next_attempt_at, id LIMIT ?");
      ScopedReset reset(q);
      BindInt(q, 1, now_ms);
      q.bind(2, limit);
      while (q.executeStep()) ids.push_back(q.getColumn(0).getInt64());
    }
    Rows out;
    for (int64_t id : ids) {
      SQLite::Statement& up = tx.stmts.Get(
          "UPDATE outbox SET state = 'delivering', attempts = attempts + 1, next_attempt_at = ?, "
          "claimed_until = ?, updated_at = ? WHERE id = ?");
      BindInt(up, 1, now_ms + impl_->options_.outbox_lease_ms);
      BindInt(up, 2, now_ms + impl_->options_.outbox_lease_ms);
      BindInt(up, 3, tx.now);
      BindInt(up, 4, id);
      up.exec();
      if (std::optional<OutboxRow> r = LoadOutbox(tx.stmts, id)) out.push_back(std::move(*r));
    }
    return out;
  });
}

Status SqliteStore::MarkOutboxDelivered(int64_t id, const std::string& status) {
  return ToStatus(impl_->Write<bool>("outbox delivered", [&](Impl::Tx& tx) -> Result<bool> {
    SQLite::Statement& up = tx.stmts.Get(
        "UPDATE outbox SET state = 'delivered', last_status = ?, claimed_until = NULL, updated_at = ? "
        "WHERE id = ? AND state = 'delivering'");
    up.bind(1, status);
    BindInt(up, 2, tx.now);
    BindInt(up, 3, id);
    if (up.exec() == 1) return true;
    std::optional<OutboxRow> r = LoadOutbox(tx.stmts, id);
    if (!r) return NotFound("no outbox row " + std::to_string(id));
    return Conflict("outbox row " + std::to_string(id) + " is " + OutboxStateName(r->state) +
                    ", not delivering");
  }));
}

Status SqliteStore::MarkOutboxFailed(int64_t id, const std::string& status, int64_t next_attempt_at_ms,
                               bool give_up) {
  return ToStatus(impl_->Write<bool>("outbox failed", [&](Impl::Tx& tx) -> Result<bool> {
    SQLite::Statement& up = tx.stmts.Get(
        "UPDATE outbox SET state = ?, last_status = ?, next_attempt_at = ?, claimed_until = NULL, "
        "updated_at = ? WHERE id = ? AND state = 'delivering'");
    up.bind(1, give_up ? "dead" : "pending");
    up.bind(2, status);
    BindInt(up, 3, give_up ? tx.now : next_attempt_at_ms);
    BindInt(up, 4, tx.now);
    BindInt(up, 5, id);
    if (up.exec() == 1) return true;
    std::optional<OutboxRow> r = LoadOutbox(tx.stmts, id);
    if (!r) return NotFound("no outbox row " + std::to_string(id));
    return Conflict("outbox row " + std::to_string(id) + " is " + OutboxStateName(r->state) +
                    ", not delivering");
  }));
}

Status SqliteStore::RequeueOutbox(int64_t id) {
  return ToStatus(impl_->Write<bool>("requeue outbox", [&](Impl::Tx& tx) -> Result<bool> {
    SQLite::Statement& up = tx.stmts.Get(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?, claimed_until = NULL, updated_at = ? "
        "WHERE id = ?");
    BindInt(up, 1, tx.now);
    BindInt(up, 2, tx.now);
    BindInt(up, 3, id);
    if (up.exec() != 1) return NotFound("no outbox row " + std::to_string(id));
    return true;
  }));
}

Result<std::vector<OutboxRow>> SqliteStore::ListOutbox(const OutboxFilter& f) {
  using Rows = std::vector<OutboxRow>;
  const int limit = std::clamp(f.limit, 1, 1000);
  std::string sql = std::string("SELECT ") + kOutboxColumns + " FROM outbox WHERE id > :after";
  if (!f.any_state) sql += " AND state = :state";
  if (!f.approval_id.empty()) sql += " AND approval_id = :approval";
  if (!f.target.empty()) sql += " AND target = :target";
  sql += " ORDER BY id LIMIT :limit";
  return impl_->Read<Rows>("list outbox", [&](StatementCache& stmts) -> Result<Rows> {
    SQLite::Statement& q = stmts.Get(sql);
    ScopedReset reset(q);
    q.bind(":after", static_cast<int64_t>(f.after_id));
    if (!f.any_state) q.bind(":state", OutboxStateName(f.state));
    if (!f.approval_id.empty()) q.bind(":approval", f.approval_id);
    if (!f.target.empty()) q.bind(":target", f.target);
    q.bind(":limit", limit);
    Rows out;
    while (q.executeStep()) out.push_back(ReadOutboxRow(q));
    return out;
  });
}

}  // namespace holdgate::store
