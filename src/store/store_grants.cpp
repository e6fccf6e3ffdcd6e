// Store: grants (remembered approvals). See store/grant.h and the grant section of store/store.h.
#include <algorithm>
#include <cstdio>

#include "common/crypto.h"
#include "store/rules.h"
#include "store/store_impl.h"

namespace holdgate::store {
namespace {

using internal::ScopedReset;
using internal::StatementCache;

using internal::kGrantColumns;

int64_t OptInt(SQLite::Statement& s, int col) { return s.getColumn(col).isNull() ? 0 : s.getColumn(col).getInt64(); }

Grant ReadGrantRow(SQLite::Statement& s) {
  Grant g;
  g.id = s.getColumn(0).getString();
  g.approval_id = s.getColumn(1).getString();
  g.principal = s.getColumn(2).getString();
  g.scope = s.getColumn(3).getString();
  g.session_id = s.getColumn(4).getString();
  g.tool = s.getColumn(5).getString();
  g.fingerprint = s.getColumn(6).getString();  // NULL reads as ""
  g.rule = s.getColumn(7).getString();
  g.created_by = s.getColumn(8).getString();
  g.created_via = s.getColumn(9).getString();
  g.created_at_ms = s.getColumn(10).getInt64();
  g.expires_at_ms = s.getColumn(11).getInt64();
  g.revoked_at_ms = OptInt(s, 12);
  g.revoked_by = s.getColumn(13).getString();
  g.revoke_reason = s.getColumn(14).getString();
  g.expired_at_ms = OptInt(s, 15);
  g.uses = s.getColumn(16).getInt64();
  g.last_used_at_ms = OptInt(s, 17);
  return g;
}

std::optional<Grant> LoadGrant(StatementCache& stmts, const std::string& id) {
  SQLite::Statement& q = stmts.Get(std::string("SELECT ") + kGrantColumns + " FROM grants WHERE id = ?");
  ScopedReset reset(q);
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return ReadGrantRow(q);
}

std::optional<Grant> FindLive(StatementCache& stmts, const GrantQuery& call, int64_t now) {
  // Identical-argument grants first (fingerprint NOT NULL sorts first), then the newest.
  SQLite::Statement& q = stmts.Get(
      std::string("SELECT ") + kGrantColumns +
      " FROM grants WHERE principal = ? AND tool = ? AND revoked_at IS NULL AND expired_at IS NULL"
      " AND expires_at > ? AND (scope = 'principal' OR session_id = ?)"
      " AND (fingerprint IS NULL OR fingerprint = ?)"
      " ORDER BY fingerprint IS NULL, created_at DESC, id DESC LIMIT 1");
  ScopedReset reset(q);
  q.bind(1, call.principal);
  q.bind(2, call.tool);
  BindInt(q, 3, now);
  q.bind(4, call.session_id);
  q.bind(5, call.fingerprint);
  if (!q.executeStep()) return std::nullopt;
  return ReadGrantRow(q);
}

}  // namespace

Result<Grant> SqliteStore::CreateGrant(const NewGrant& in) {
  Status valid = internal::CheckNewGrant(in);
  if (!valid.ok()) return valid;
  const std::string random_part = RandomHex(10);
  return impl_->Write<Grant>("create grant", [&](Impl::Tx& tx) -> Result<Grant> {
    std::optional<Approval> a = Impl::LoadApproval(tx.stmts, in.approval_id);
    if (!a) return NotFound("no approval " + in.approval_id);
    Result<Grant> made = internal::MakeGrant(*a, in, tx.now, random_part);
    if (!made.ok()) return made.status();
    Grant g = std::move(made).value();
    SQLite::Statement& ins = tx.stmts.Get(
        "INSERT INTO grants (id, approval_id, principal, scope, session_id, tool, fingerprint, rule, "
        "created_by, created_via, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ins.bind(1, g.id);
    ins.bind(2, g.approval_id);
    ins.bind(3, g.principal);
    ins.bind(4, g.scope);
    ins.bind(5, g.session_id);
    ins.bind(6, g.tool);
    if (g.fingerprint.empty()) ins.bind(7);
    else ins.bind(7, g.fingerprint);
    ins.bind(8, g.rule);
    ins.bind(9, g.created_by);
    ins.bind(10, g.created_via);
    BindInt(ins, 11, g.created_at_ms);
    BindInt(ins, 12, g.expires_at_ms);
    ins.exec();
    AuditEvent e = internal::GrantEvent(g, "grant.created", g.created_by, g.created_via, "remember");
    e.detail["for_ms"] = in.for_ms;
    impl_->AppendAuditTx(tx, std::move(e));
    return g;
  });
}

Result<std::optional<Grant>> SqliteStore::FindGrant(const GrantQuery& call) {
  const int64_t now = impl_->clock_.NowMs();
  return impl_->Read<std::optional<Grant>>("find grant", [&](StatementCache& stmts) -> Result<std::optional<Grant>> {
    return FindLive(stmts, call, now);
  });
}

Result<std::optional<Grant>> SqliteStore::UseGrant(const std::string& id, const GrantQuery& call, Json detail) {
  return impl_->Write<std::optional<Grant>>("use grant", [&](Impl::Tx& tx) -> Result<std::optional<Grant>> {
    std::optional<Grant> g = LoadGrant(tx.stmts, id);
    if (!g || !g->LiveAt(tx.now) || !internal::GrantCovers(*g, call)) return std::optional<Grant>();
    SQLite::Statement& up = tx.stmts.Get("UPDATE grants SET uses = uses + 1, last_used_at = ? WHERE id = ?");
    BindInt(up, 1, tx.now);
    up.bind(2, id);
    up.exec();
    up.reset();
    g->uses += 1;
    g->last_used_at_ms = tx.now;
    AuditEvent e = internal::GrantEvent(*g, "grant.used", g->principal, "mcp", "allow");
    e.detail["uses"] = g->uses;
    e.detail["call_fingerprint"] = call.fingerprint;
    e.detail["call_session_id"] = call.session_id;
    if (detail.is_object()) {
      for (auto& [k, v] : detail.items()) e.detail[k] = v;
    }
    impl_->AppendAuditTx(tx, std::move(e));
    return g;
  });
}

Result<std::vector<Grant>> SqliteStore::ListGrants(bool include_ended, int limit) {
  limit = std::clamp(limit, 1, 5000);
  const int64_t now = impl_->clock_.NowMs();
  return impl_->Read<std::vector<Grant>>("list grants", [&](StatementCache& stmts) -> Result<std::vector<Grant>> {
    SQLite::Statement& q = stmts.Get(
        include_ended ? std::string("SELECT ") + kGrantColumns + " FROM grants ORDER BY created_at DESC, id DESC LIMIT ?"
                      : std::string("SELECT ") + kGrantColumns +
                            " FROM grants WHERE revoked_at IS NULL AND expired_at IS NULL AND expires_at > ?"
                            " ORDER BY created_at DESC, id DESC LIMIT ?");
    ScopedReset reset(q);
    if (include_ended) {
      q.bind(1, limit);
    } else {
      BindInt(q, 1, now);
      q.bind(2, limit);
    }
    std::vector<Grant> out;
    while (q.executeStep()) out.push_back(ReadGrantRow(q));
    return out;
  });
}

Result<Grant> SqliteStore::GetGrant(const std::string& id) {
  return impl_->Read<Grant>("get grant", [&](StatementCache& stmts) -> Result<Grant> {
    std::optional<Grant> g = LoadGrant(stmts, id);
    if (!g) return NotFound("no grant " + id);
    return std::move(*g);
  });
}

Result<Grant> SqliteStore::RevokeGrant(const std::string& id, const std::string& actor, const std::string& via,
                                 const std::string& reason) {
  if (actor.empty()) return InvalidArgument("revoking a grant needs an actor");
  return impl_->Write<Grant>("revoke grant", [&](Impl::Tx& tx) -> Result<Grant> {
    std::optional<Grant> g = LoadGrant(tx.stmts, id);
    if (!g) return NotFound("no grant " + id);
    Status revocable = internal::CheckRevocable(*g, tx.now);
    if (!revocable.ok()) return revocable;
    SQLite::Statement& up = tx.stmts.Get(
        "UPDATE grants SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL");
    BindInt(up, 1, tx.now);
    up.bind(2, actor);
    up.bind(3, reason);
    up.bind(4, id);
    up.exec();
    up.reset();
    g->revoked_at_ms = tx.now;
    g->revoked_by = actor;
    g->revoke_reason = reason;
    AuditEvent e = internal::GrantEvent(*g, "grant.revoked", actor, via, "revoke");
    e.detail["reason"] = reason;
    e.detail["uses"] = g->uses;
    impl_->AppendAuditTx(tx, std::move(e));
    return *g;
  });
}

Result<std::vector<Grant>> SqliteStore::ExpireDueGrants(int64_t now_ms, int limit) {
  limit = std::clamp(limit, 1, 10000);
  return impl_->Write<std::vector<Grant>>("expire grants", [&](Impl::Tx& tx) -> Result<std::vector<Grant>> {
    std::vector<Grant> due;
    {
      SQLite::Statement& q = tx.stmts.Get(std::string("SELECT ") + kGrantColumns +
                                          " FROM grants WHERE revoked_at IS NULL AND expired_at IS NULL"
                                          " AND expires_at <= ? ORDER BY expires_at, id LIMIT ?");
      ScopedReset reset(q);
      BindInt(q, 1, now_ms);
      q.bind(2, limit);
      while (q.executeStep()) due.push_back(ReadGrantRow(q));
    }
    SQLite::Statement& up = tx.stmts.Get("UPDATE grants SET expired_at = ? WHERE id = ? AND expired_at IS NULL");
    for (Grant& g : due) {
      BindInt(up, 1, tx.now);
      up.bind(2, g.id);
      up.exec();
      up.reset();
      g.expired_at_ms = tx.now;
      AuditEvent e = internal::GrantEvent(g, "grant.expired", "holdgate", "system", "expire");
      e.detail["uses"] = g.uses;
      impl_->AppendAuditTx(tx, std::move(e));
    }
    return due;
  });
}

}  // namespace holdgate::store
