// PgStore: the notification outbox, shared by every replica. A row is claimed by exactly one
// replica (FOR UPDATE SKIP LOCKED: a row another replica is claiming is skipped, not waited for);
// outbox writes do not append to the audit chain, so they never take the chain lock.
#include <algorithm>

#include "store/pg_impl.h"

namespace holdgate::store {
namespace {

constexpr char kOutboxCols[] =
    "id, approval_id, event_type, target, payload, state, attempts, next_attempt_at, created_at, updated_at, "
    "last_status";

Status ToStatus(const Result<bool>& r) { return r.ok() ? Status::Ok() : r.status(); }

std::optional<OutboxRow> LoadOutbox(pqxx::transaction_base& t, int64_t id) {
  pqxx::result r = t.exec_params(std::string("SELECT ") + kOutboxCols + " FROM outbox WHERE id = $1", id);
  if (r.empty()) return std::nullopt;
  return PgReadOutbox(r[0]);
}

}  // namespace

OutboxRow PgReadOutbox(const pqxx::row& r) {
  OutboxRow o;
  o.id = PgInt(r[0]);
  o.approval_id = PgStr(r[1]);
  o.event_type = PgStr(r[2]);
  o.target = PgStr(r[3]);
  auto parsed = ParseJson(PgStr(r[4]), /*max_depth=*/512);
  o.payload = parsed.ok() ? std::move(parsed).value() : Json();
  ParseOutboxState(PgStr(r[5]), &o.state);
  o.attempts = static_cast<int>(PgInt(r[6]));
  o.next_attempt_at_ms = PgInt(r[7]);
  o.created_at_ms = PgInt(r[8]);
  o.updated_at_ms = PgInt(r[9]);
  o.last_status = PgStr(r[10]);
  return o;
}

void PgStore::Impl::InsertOutboxTx(Tx& tx, const std::string& approval_id, const NewOutboxRow& row) {
  tx.w.exec_params(
      "INSERT INTO outbox (approval_id, event_type, target, payload, state, attempts, next_attempt_at, created_at, "
      "updated_at) VALUES (NULLIF($1, ''), $2, $3, $4, 'pending', 0, $5, $6, $6)",
      approval_id, row.event_type, row.target, CanonicalJson(row.payload),
      row.deliver_at_ms > 0 ? row.deliver_at_ms : tx.now, tx.now);
}

void PgStore::SetOutboxFactory(OutboxFactory factory) {
  std::lock_guard<std::mutex> lock(impl_->write_cfg_mu_);
  impl_->outbox_factory_ = std::move(factory);
}

Result<OutboxRow> PgStore::EnqueueOutbox(const NewOutboxRow& row) {
  if (row.target.empty()) return InvalidArgument("outbox target is required");
  return impl_->Write<OutboxRow>(
      "enqueue outbox",
      [&](Impl::Tx& tx) -> Result<OutboxRow> {
        pqxx::result r = tx.w.exec_params(
            std::string("INSERT INTO outbox (approval_id, event_type, target, payload, state, attempts, "
                        "next_attempt_at, created_at, updated_at) VALUES (NULLIF($1, ''), $2, $3, $4, 'pending', 0, "
                        "$5, $6, $6) RETURNING ") +
                kOutboxCols,
            row.approval_id, row.event_type, row.target, CanonicalJson(row.payload),
            row.deliver_at_ms > 0 ? row.deliver_at_ms : tx.now, tx.now);
        return PgReadOutbox(r[0]);
      },
      /*chain=*/false);
}

Result<std::vector<OutboxRow>> PgStore::ClaimDueOutbox(int64_t now_ms, int limit) {
  using Rows = std::vector<OutboxRow>;
  limit = std::clamp(limit, 1, 1000);
  return impl_->Write<Rows>(
      "claim outbox",
      [&](Impl::Tx& tx) -> Result<Rows> {
        const int64_t lease_end = now_ms + impl_->options_.outbox_lease_ms;
        // Oldest due first, as the SQLite store claims them.
        pqxx::result r = tx.w.exec_params(
            "WITH due AS (SELECT id, next_attempt_at AS due_at FROM outbox WHERE state IN ('pending', "
            "'delivering') AND next_attempt_at <= $3::bigint ORDER BY next_attempt_at, id LIMIT $4 "
            "FOR UPDATE SKIP LOCKED), "
            "claimed AS (UPDATE outbox o SET state = 'delivering', attempts = o.attempts + 1, next_attempt_at = $1, "
            "claimed_until = $1, updated_at = $2 FROM due WHERE o.id = due.id RETURNING o.*, due.due_at) "
            "SELECT id, approval_id, event_type, target, payload, state, attempts, next_attempt_at, created_at, "
            "updated_at, last_status FROM claimed ORDER BY due_at, id",
            lease_end, tx.now, now_ms, limit);
        Rows out;
        for (const pqxx::row& row : r) out.push_back(PgReadOutbox(row));
        return out;
      },
      /*chain=*/false);
}

Status PgStore::MarkOutboxDelivered(int64_t id, const std::string& status) {
  return ToStatus(impl_->Write<bool>(
      "outbox delivered",
      [&](Impl::Tx& tx) -> Result<bool> {
        pqxx::result r = tx.w.exec_params(
            "UPDATE outbox SET state = 'delivered', last_status = $1, claimed_until = NULL, updated_at = $2 "
            "WHERE id = $3 AND state = 'delivering'",
            status, tx.now, id);
        if (r.affected_rows() == 1) return true;
        std::optional<OutboxRow> o = LoadOutbox(tx.w, id);
        if (!o) return NotFound("no outbox row " + std::to_string(id));
        return Conflict("outbox row " + std::to_string(id) + " is " + OutboxStateName(o->state) + ", not delivering");
      },
      /*chain=*/false));
}

Status PgStore::MarkOutboxFailed(int64_t id, const std::string& status, int64_t next_attempt_at_ms, bool give_up) {
  return ToStatus(impl_->Write<bool>(
      "outbox failed",
      [&](Impl::Tx& tx) -> Result<bool> {
        pqxx::result r = tx.w.exec_params(
            "UPDATE outbox SET state = $1, last_status = $2, next_attempt_at = $3, claimed_until = NULL, "
            "updated_at = $4 WHERE id = $5 AND state = 'delivering'",
            std::string(give_up ? "dead" : "pending"), status, give_up ? tx.now : next_attempt_at_ms, tx.now, id);
        if (r.affected_rows() == 1) return true;
        std::optional<OutboxRow> o = LoadOutbox(tx.w, id);
        if (!o) return NotFound("no outbox row " + std::to_string(id));
        return Conflict("outbox row " + std::to_string(id) + " is " + OutboxStateName(o->state) + ", not delivering");
      },
      /*chain=*/false));
}

Status PgStore::RequeueOutbox(int64_t id) {
  return ToStatus(impl_->Write<bool>(
      "requeue outbox",
      [&](Impl::Tx& tx) -> Result<bool> {
        pqxx::result r = tx.w.exec_params(
            "UPDATE outbox SET state = 'pending', next_attempt_at = $1, claimed_until = NULL, updated_at = $1 "
            "WHERE id = $2",
            tx.now, id);
        if (r.affected_rows() != 1) return NotFound("no outbox row " + std::to_string(id));
        return true;
      },
      /*chain=*/false));
}

Result<std::vector<OutboxRow>> PgStore::ListOutbox(const OutboxFilter& f) {
  using Rows = std::vector<OutboxRow>;
  const int limit = std::clamp(f.limit, 1, 1000);
  return impl_->Read<Rows>("list outbox", [&](pqxx::transaction_base& t) -> Result<Rows> {
    std::string sql = std::string("SELECT ") + kOutboxCols + " FROM outbox WHERE id > " + std::to_string(f.after_id);
    if (!f.any_state) sql += " AND state = " + t.quote(std::string(OutboxStateName(f.state)));
    if (!f.approval_id.empty()) sql += " AND approval_id = " + t.quote(f.approval_id);
    if (!f.target.empty()) sql += " AND target = " + t.quote(f.target);
    sql += " ORDER BY id LIMIT " + std::to_string(limit);
    Rows out;
    for (const pqxx::row& r : t.exec(sql)) out.push_back(PgReadOutbox(r));
    return out;
  });
}

}  // namespace holdgate::store
