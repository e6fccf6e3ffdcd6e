// PgStore: grants (remembered approvals), shared by every replica. The rules are the SQLite
// store's (store/rules.h); every write appends to the audit chain, so it takes the chain lock,
// which also serialises a grant's use against its revocation across replicas.
#include <algorithm>

#include "common/crypto.h"
#include "store/pg_impl.h"
#include "store/rules.h"

namespace holdgate::store {
namespace {

using internal::kGrantColumns;

Grant PgReadGrant(const pqxx::row& r) {
  Grant g;
  g.id = PgStr(r[0]);
  g.approval_id = PgStr(r[1]);
  g.principal = PgStr(r[2]);
  g.scope = PgStr(r[3]);
  g.session_id = PgStr(r[4]);
  g.tool = PgStr(r[5]);
  g.fingerprint = PgStr(r[6]);  // NULL reads as ""
  g.rule = PgStr(r[7]);
  g.created_by = PgStr(r[8]);
  g.created_via = PgStr(r[9]);
  g.created_at_ms = PgInt(r[10]);
  g.expires_at_ms = PgInt(r[11]);
  g.revoked_at_ms = PgInt(r[12]);
  g.revoked_by = PgStr(r[13]);
  g.revoke_reason = PgStr(r[14]);
  g.expired_at_ms = PgInt(r[15]);
  g.uses = PgInt(r[16]);
  g.last_used_at_ms = PgInt(r[17]);
  return g;
}

std::optional<Grant> LoadGrant(pqxx::transaction_base& t, const std::string& id) {
  pqxx::result r = t.exec_params(std::string("SELECT ") + kGrantColumns + " FROM grants WHERE id = $1", id);
  if (r.empty()) return std::nullopt;
  return PgReadGrant(r[0]);
}

}  // namespace

Result<Grant> PgStore::CreateGrant(const NewGrant& in) {
  Status valid = internal::CheckNewGrant(in);
  if (!valid.ok()) return valid;
  const std::string random_part = RandomHex(10);
  return impl_->Write<Grant>("create grant", [&](Impl::Tx& tx) -> Result<Grant> {
    std::optional<Approval> a = Impl::LoadApproval(tx.w, in.approval_id);
    if (!a) return NotFound("no approval " + in.approval_id);
    Result<Grant> made = internal::MakeGrant(*a, in, tx.now, random_part);
    if (!made.ok()) return made.status();
    Grant g = std::move(made).value();
    tx.w.exec_params(
        "INSERT INTO grants (id, approval_id, principal, scope, session_id, tool, fingerprint, rule, created_by, "
        "created_via, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8, $9, $10, $11, $12)",
        g.id, g.approval_id, g.principal, g.scope, g.session_id, g.tool, g.fingerprint, g.rule, g.created_by,
        g.created_via, g.created_at_ms, g.expires_at_ms);
    AuditEvent e = internal::GrantEvent(g, "grant.created", g.created_by, g.created_via, "remember");
    e.detail["for_ms"] = in.for_ms;
    impl_->AppendAuditTx(tx, std::move(e));
    return g;
  });
}

Result<std::optional<Grant>> PgStore::FindGrant(const GrantQuery& call) {
  const int64_t now = impl_->clock_.NowMs();
  using Found = std::optional<Grant>;
  return impl_->Read<Found>("find grant", [&](pqxx::transaction_base& t) -> Result<Found> {
    // Identical-argument grants first (fingerprint NOT NULL sorts first), then the newest.
    pqxx::result r = t.exec_params(
        std::string("SELECT ") + kGrantColumns +
            " FROM grants WHERE principal = $1 AND tool = $2 AND revoked_at IS NULL AND expired_at IS NULL"
            " AND expires_at > $3 AND (scope = 'principal' OR session_id = $4)"
            " AND (fingerprint IS NULL OR fingerprint = $5)"
            " ORDER BY fingerprint IS NULL, created_at DESC, id DESC LIMIT 1",
        call.principal, call.tool, now, call.session_id, call.fingerprint);
    if (r.empty()) return Found();
    return Found(PgReadGrant(r[0]));
  });
}

Result<std::optional<Grant>> PgStore::UseGrant(const std::string& id, const GrantQuery& call, Json detail) {
  using Used = std::optional<Grant>;
  return impl_->Write<Used>("use grant", [&](Impl::Tx& tx) -> Result<Used> {
    std::optional<Grant> g = LoadGrant(tx.w, id);
    if (!g || !g->LiveAt(tx.now) || !internal::GrantCovers(*g, call)) return Used();
    tx.w.exec_params("UPDATE grants SET uses = uses + 1, last_used_at = $1 WHERE id = $2", tx.now, id);
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

Result<std::vector<Grant>> PgStore::ListGrants(bool include_ended, int limit) {
  limit = std::clamp(limit, 1, 5000);
  const int64_t now = impl_->clock_.NowMs();
  using Grants = std::vector<Grant>;
  return impl_->Read<Grants>("list grants", [&](pqxx::transaction_base& t) -> Result<Grants> {
    pqxx::result r =
        include_ended
            ? t.exec_params(std::string("SELECT ") + kGrantColumns + " FROM grants ORDER BY created_at DESC, id DESC LIMIT $1",
                            limit)
            : t.exec_params(std::string("SELECT ") + kGrantColumns +
                                " FROM grants WHERE revoked_at IS NULL AND expired_at IS NULL AND expires_at > $1"
                                " ORDER BY created_at DESC, id DESC LIMIT $2",
                            now, limit);
    Grants out;
    for (const pqxx::row& row : r) out.push_back(PgReadGrant(row));
    return out;
  });
}

Result<Grant> PgStore::GetGrant(const std::string& id) {
  return impl_->Read<Grant>("get grant", [&](pqxx::transaction_base& t) -> Result<Grant> {
    std::optional<Grant> g = LoadGrant(t, id);
    if (!g) return NotFound("no grant " + id);
    return std::move(*g);
  });
}

Result<Grant> PgStore::RevokeGrant(const std::string& id, const std::string& actor, const std::string& via,
                                   const std::string& reason) {
  if (actor.empty()) return InvalidArgument("revoking a grant needs an actor");
  return impl_->Write<Grant>("revoke grant", [&](Impl::Tx& tx) -> Result<Grant> {
    std::optional<Grant> g = LoadGrant(tx.w, id);
    if (!g) return NotFound("no grant " + id);
    Status revocable = internal::CheckRevocable(*g, tx.now);
    if (!revocable.ok()) return revocable;
    tx.w.exec_params(
        "UPDATE grants SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 WHERE id = $4 AND revoked_at IS NULL",
        tx.now, actor, reason, id);
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

Result<std::vector<Grant>> PgStore::ExpireDueGrants(int64_t now_ms, int limit) {
  limit = std::clamp(limit, 1, 10000);
  using Grants = std::vector<Grant>;
  return impl_->Write<Grants>("expire grants", [&](Impl::Tx& tx) -> Result<Grants> {
    Grants due;
    for (const pqxx::row& row :
         tx.w.exec_params(std::string("SELECT ") + kGrantColumns +
                              " FROM grants WHERE revoked_at IS NULL AND expired_at IS NULL"
                              " AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2",
                          now_ms, limit)) {
      due.push_back(PgReadGrant(row));
    }
    for (Grant& g : due) {
      tx.w.exec_params("UPDATE grants SET expired_at = $1 WHERE id = $2 AND expired_at IS NULL", tx.now, g.id);
      g.expired_at_ms = tx.now;
      AuditEvent e = internal::GrantEvent(g, "grant.expired", "holdgate", "system", "expire");
      e.detail["uses"] = g.uses;
      impl_->AppendAuditTx(tx, std::move(e));
    }
    return due;
  });
}

}  // namespace holdgate::store
