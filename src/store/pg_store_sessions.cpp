// PgStore: reviewers' single sign-on sessions (the reviewer_sessions table), shared by every
// replica. No audit event is written here, so no write takes the audit chain lock.
#include "store/pg_impl.h"
#include "store/rules.h"

namespace holdgate::store {
namespace {

constexpr char kColumns[] =
    "id_hash, subject, role, display_name, csrf_token, created_at, last_seen_at, expires_at";

}  // namespace

Status PgStore::PutReviewerSession(const ReviewerSessionRow& row) {
  Status ok = internal::CheckReviewerSessionRow(row);
  if (!ok.ok()) return ok;
  auto r = impl_->Write<bool>(
      "put reviewer session",
      [&](Impl::Tx& tx) -> Result<bool> {
        tx.w.exec_params(std::string("INSERT INTO reviewer_sessions (") + kColumns +
                             ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                         row.id_hash, row.subject, row.role, row.display_name, row.csrf_token, row.created_at_ms,
                         row.last_seen_at_ms, row.expires_at_ms);
        return true;
      },
      /*chain=*/false);
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::optional<ReviewerSessionRow>> PgStore::GetReviewerSession(const std::string& id_hash) {
  using Row = std::optional<ReviewerSessionRow>;
  return impl_->Read<Row>("get reviewer session", [&](pqxx::transaction_base& t) -> Result<Row> {
    pqxx::result res =
        t.exec_params(std::string("SELECT ") + kColumns + " FROM reviewer_sessions WHERE id_hash = $1", id_hash);
    if (res.empty()) return Row(std::nullopt);
    const pqxx::row& q = res[0];
    ReviewerSessionRow r;
    r.id_hash = PgStr(q[0]);
    r.subject = PgStr(q[1]);
    r.role = PgStr(q[2]);
    r.display_name = PgStr(q[3]);
    r.csrf_token = PgStr(q[4]);
    r.created_at_ms = PgInt(q[5]);
    r.last_seen_at_ms = PgInt(q[6]);
    r.expires_at_ms = PgInt(q[7]);
    return Row(std::move(r));
  });
}

Status PgStore::TouchReviewerSession(const std::string& id_hash, int64_t last_seen_ms) {
  auto r = impl_->Write<bool>(
      "touch reviewer session",
      [&](Impl::Tx& tx) -> Result<bool> {
        tx.w.exec_params("UPDATE reviewer_sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at < $1",
                         last_seen_ms, id_hash);
        return true;
      },
      /*chain=*/false);
  return r.ok() ? Status::Ok() : r.status();
}

Result<bool> PgStore::DeleteReviewerSession(const std::string& id_hash) {
  return impl_->Write<bool>(
      "delete reviewer session",
      [&](Impl::Tx& tx) -> Result<bool> {
        pqxx::result res = tx.w.exec_params("DELETE FROM reviewer_sessions WHERE id_hash = $1", id_hash);
        return res.affected_rows() > 0;
      },
      /*chain=*/false);
}

Result<int> PgStore::PruneReviewerSessions(int64_t idle_before_ms, int64_t now_ms) {
  return impl_->Write<int>(
      "prune reviewer sessions",
      [&](Impl::Tx& tx) -> Result<int> {
        pqxx::result res = tx.w.exec_params(
            "DELETE FROM reviewer_sessions WHERE last_seen_at < $1 OR expires_at <= $2", idle_before_ms, now_ms);
        return static_cast<int>(res.affected_rows());
      },
      /*chain=*/false);
}

}  // namespace holdgate::store
