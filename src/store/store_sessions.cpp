// Store: reviewers' single sign-on sessions (the reviewer_sessions table). The session rules
// (expiry, CSRF) live in review/sessions.h; this file only stores rows.
#include "store/rules.h"
#include "store/store_impl.h"

namespace holdgate::store {
namespace {

using internal::ScopedReset;
using internal::StatementCache;

constexpr char kColumns[] =
    "id_hash, subject, role, display_name, csrf_token, created_at, last_seen_at, expires_at";

}  // namespace

Status SqliteStore::PutReviewerSession(const ReviewerSessionRow& row) {
  Status ok = internal::CheckReviewerSessionRow(row);
  if (!ok.ok()) return ok;
  auto r = impl_->Write<bool>("put reviewer session", [&](Impl::Tx& tx) -> Result<bool> {
    SQLite::Statement& ins = tx.stmts.Get(std::string("INSERT INTO reviewer_sessions (") + kColumns +
                                          ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    ScopedReset reset(ins);
    ins.bind(1, row.id_hash);
    ins.bind(2, row.subject);
    ins.bind(3, row.role);
    ins.bind(4, row.display_name);
    ins.bind(5, row.csrf_token);
    BindInt(ins, 6, row.created_at_ms);
    BindInt(ins, 7, row.last_seen_at_ms);
    BindInt(ins, 8, row.expires_at_ms);
    ins.exec();
    return true;
  });
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::optional<ReviewerSessionRow>> SqliteStore::GetReviewerSession(const std::string& id_hash) {
  using Row = std::optional<ReviewerSessionRow>;
  return impl_->Read<Row>("get reviewer session", [&](StatementCache& stmts) -> Result<Row> {
    SQLite::Statement& q = stmts.Get(std::string("SELECT ") + kColumns + " FROM reviewer_sessions WHERE id_hash = ?");
    ScopedReset reset(q);
    q.bind(1, id_hash);
    if (!q.executeStep()) return Row(std::nullopt);
    ReviewerSessionRow r;
    r.id_hash = q.getColumn(0).getString();
    r.subject = q.getColumn(1).getString();
    r.role = q.getColumn(2).getString();
    r.display_name = q.getColumn(3).getString();
    r.csrf_token = q.getColumn(4).getString();
    r.created_at_ms = q.getColumn(5).getInt64();
    r.last_seen_at_ms = q.getColumn(6).getInt64();
    r.expires_at_ms = q.getColumn(7).getInt64();
    return Row(std::move(r));
  });
}

Status SqliteStore::TouchReviewerSession(const std::string& id_hash, int64_t last_seen_ms) {
  auto r = impl_->Write<bool>("touch reviewer session", [&](Impl::Tx& tx) -> Result<bool> {
    SQLite::Statement& up = tx.stmts.Get(
        "UPDATE reviewer_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?");
    ScopedReset reset(up);
    BindInt(up, 1, last_seen_ms);
    up.bind(2, id_hash);
    BindInt(up, 3, last_seen_ms);
    up.exec();
    return true;
  });
  return r.ok() ? Status::Ok() : r.status();
}

Result<bool> SqliteStore::DeleteReviewerSession(const std::string& id_hash) {
  return impl_->Write<bool>("delete reviewer session", [&](Impl::Tx& tx) -> Result<bool> {
    SQLite::Statement& del = tx.stmts.Get("DELETE FROM reviewer_sessions WHERE id_hash = ?");
    ScopedReset reset(del);
    del.bind(1, id_hash);
    return del.exec() > 0;
  });
}

Result<int> SqliteStore::PruneReviewerSessions(int64_t idle_before_ms, int64_t now_ms) {
  return impl_->Write<int>("prune reviewer sessions", [&](Impl::Tx& tx) -> Result<int> {
    SQLite::Statement& del =
        tx.stmts.Get("DELETE FROM reviewer_sessions WHERE last_seen_at < ? OR expires_at <= ?");
    ScopedReset reset(del);
    BindInt(del, 1, idle_before_ms);
    BindInt(del, 2, now_ms);
    return del.exec();
  });
}

}  // namespace holdgate::store
