// PgStore: lifecycle (connections, migrations, replica registration) and the approval
// transitions. Each transition mirrors the SQLite store's (store.cpp) rule for rule; the rules
// themselves live in rules.h.
#include "store/pg_store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/crypto.h"
#include "common/embedded.h"
#include "common/trace.h"
#include "store/pg_impl.h"
#include "store/rules.h"
#include "store/sqlite_internal.h"

namespace holdgate::store {
namespace {

using internal::AlreadyDecidedMessage;
using internal::ApprovalIdPrefix;
using internal::AuditValue;
using internal::CheckDecisionInput;
using internal::ExecutingAuditDetail;
using internal::ExpiryReason;
using internal::JsonText;
using internal::kRecoveredReason;
using internal::NewPendingApproval;
using internal::NotPending;
using internal::ReviewerAllowed;
using internal::VotesSummary;

constexpr char kApprovalCols[] =
    "id, principal, session_id, tool, arguments, fingerprint, rule, risk, state, approvers_needed, "
    "reviewers, editable, edited_arguments, on_timeout, notify, created_at, expires_at, "
    "decided_at, decided_by, decided_via, reason, result, agent_left, updated_at, use_within, trace_id";

Json ParseStored(const pqxx::field& f) {
  if (f.is_null()) return Json();
  auto parsed = ParseJson(f.c_str(), /*max_depth=*/512);
  return parsed.ok() ? std::move(parsed).value() : Json();
}

// libpq takes connect_timeout from the URI; without one a dead host blocks a call for minutes.
std::string WithConnectTimeout(const std::string& url) {
  if (url.find("connect_timeout=") != std::string::npos) return url;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5";
}

// The URL without its password, for messages.
std::string Redacted(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + ":***" + url.substr(at);
}

Approval MustLoad(PgStore::Impl::Tx& tx, const std::string& id) {
  std::optional<Approval> a = PgStore::Impl::LoadApproval(tx.w, id);
  if (!a) throw std::runtime_error("approval " + id + " vanished inside its transaction");
  return std::move(*a);
}

Approval ExpireTx(PgStore::Impl& impl, PgStore::Impl::Tx& tx, const Approval& a) {
  pqxx::result r = tx.w.exec_params(
      "UPDATE approvals SET state = 'expired', decided_at = $1, decided_by = 'holdgate', "
      "decided_via = 'system', reason = $2, updated_at = $1 WHERE id = $3 AND state = 'pending'",
      tx.now, ExpiryReason(a), a.id);
  if (r.affected_rows() != 1) throw std::runtime_error("expire: approval " + a.id + " is not pending");
  Approval after = MustLoad(tx, a.id);
  impl.EmitTx(tx, "approval.expired", after, "holdgate", "system", "expire",
              Json{{"expires_at", a.expires_at_ms}, {"on_timeout", a.on_timeout}, {"reason", after.reason}});
  return after;
}

Approval LapseTx(PgStore::Impl& impl, PgStore::Impl::Tx& tx, const Approval& a) {
  const std::string reason = "approved at " + FormatTimeMs(a.decided_at_ms) + " but not released within " +
                             FormatDuration(a.use_within_ms) +
                             " (use_within); not run. An identical call needs a new approval.";
  pqxx::result r = tx.w.exec_params(
      "UPDATE approvals SET state = 'lapsed', reason = $1, updated_at = $2 WHERE id = $3 AND state = 'approved'",
      reason, tx.now, a.id);
  if (r.affected_rows() != 1) throw std::runtime_error("lapse: approval " + a.id + " is not approved");
  Approval after = MustLoad(tx, a.id);
  impl.EmitTx(tx, "approval.lapsed", after, "holdgate", "system", "lapse",
              Json{{"use_by", a.UseByMs()}, {"use_within_ms", a.use_within_ms}, {"reason", reason}});
  return after;
}

// One reviewer's vote inside `tx` (Store::Decide). REQUIRES: CheckDecisionInput(in) is OK.
Result<DecisionOutcome> DecideTx(PgStore::Impl& impl, PgStore::Impl::Tx& tx, const DecisionInput& in) {
  std::optional<Approval> found = PgStore::Impl::LoadApproval(tx.w, in.id);
  if (!found) return NotFound("no approval " + in.id);
  Approval a = std::move(*found);

  DecisionOutcome out;
  out.approvals_needed = a.approvers_needed;
  for (const Vote& v : a.votes) {
    if (!SameIdentity(v.reviewer, in.reviewer)) continue;
    out.changed = false;
    out.state = a.state;
    out.approvals_so_far = a.ApprovalsSoFar();
    out.message = in.reviewer + " already voted " + (v.approve ? "approve" : "reject") + " at " +
                  FormatTimeMs(v.at_ms) + " via " + v.via + "; approval is " + StateName(a.state);
    if (a.state == State::kPending) {
      out.message += " (" + std::to_string(out.approvals_so_far) + " of " + std::to_string(a.approvers_needed) +
                     " approvals)";
    }
    out.approval = std::move(a);
    return out;
  }
  if (a.state != State::kPending) return Conflict(AlreadyDecidedMessage(a));
  if (a.expires_at_ms > 0 && tx.now >= a.expires_at_ms) {
    Approval expired = ExpireTx(impl, tx, a);
    tx.commit_on_error = true;
    return Conflict("expired at " + FormatTimeMs(a.expires_at_ms) + " before this decision: " + expired.reason);
  }
  if (in.approve && SameIdentity(in.reviewer, a.principal)) {
    return Status(Code::kPermissionDenied, in.reviewer + " requested this call and cannot approve it");
  }
  std::string need;
  if (!ReviewerAllowed(a.reviewers, in.reviewer, in.roles, &need)) {
    return Status(Code::kPermissionDenied, in.reviewer + " may not decide this approval: it needs " + need);
  }
  bool edit = false;
  if (in.edited_arguments) {
    if (!a.editable) return InvalidArgument("this approval does not allow editing the arguments");
    if (CanonicalJson(*in.edited_arguments) != CanonicalJson(a.EffectiveArguments())) {
      if (a.ApprovalsSoFar() > 0) {
        return Conflict("other reviewers already approved the arguments as they are; edits must "
                        "come with the first approval");
      }
      edit = true;
    }
  }

  tx.w.exec_params("INSERT INTO votes (approval_id, reviewer, decision, via, reason, at) VALUES ($1, $2, $3, $4, $5, $6)",
                   a.id, in.reviewer, std::string(in.approve ? "approve" : "reject"), in.via, in.reason, tx.now);
  if (edit) {
    tx.w.exec_params("UPDATE approvals SET edited_arguments = $1, updated_at = $2 WHERE id = $3 AND state = 'pending'",
                     CanonicalJson(*in.edited_arguments), tx.now, a.id);
  }
  Approval voted = MustLoad(tx, a.id);
  const int approvals = voted.ApprovalsSoFar();
  Json vote_detail = VotesSummary(voted);
  vote_detail["reason"] = in.reason;
  if (!in.via_source.empty()) vote_detail["via_source"] = in.via_source;
  if (edit) vote_detail["edited_arguments"] = AuditValue(*in.edited_arguments);

  const bool reject = !in.approve;
  const bool quorum = in.approve && approvals >= a.approvers_needed;
  impl.EmitTx(tx, "approval.vote", voted, in.reviewer, in.via, in.approve ? "approve" : "reject", vote_detail,
              (reject || quorum) ? nullptr : &in.outbox);

  if (reject || quorum) {
    std::string decided_by = in.reviewer;
    if (quorum) {
      decided_by.clear();
      for (const Vote& v : voted.votes) {
        if (!v.approve) continue;
        if (!decided_by.empty()) decided_by += ", ";
        decided_by += v.reviewer;
      }
    }
    pqxx::result r = tx.w.exec_params(
        "UPDATE approvals SET state = $1, decided_at = $2, decided_by = $3, decided_via = $4, "
        "reason = $5, updated_at = $2 WHERE id = $6 AND state = 'pending'",
        std::string(reject ? "rejected" : "approved"), tx.now, decided_by, in.via, in.reason, a.id);
    if (r.affected_rows() != 1) throw std::runtime_error("decide: approval " + a.id + " left pending state");
    voted = MustLoad(tx, a.id);
    Json detail = VotesSummary(voted);
    detail["reason"] = in.reason;
    detail["decided_by"] = decided_by;
    if (!in.via_source.empty()) detail["via_source"] = in.via_source;
    if (!voted.edited_arguments.is_null()) detail["edited_arguments"] = AuditValue(voted.edited_arguments);
    impl.EmitTx(tx, reject ? "approval.rejected" : "approval.approved", voted, in.reviewer, in.via,
                reject ? "reject" : "approve", std::move(detail), &in.outbox);
  }

  out.changed = true;
  out.state = voted.state;
  out.approvals_so_far = approvals;
  if (reject) {
    out.message = "rejected by " + in.reviewer + ": " + in.reason;
  } else if (quorum) {
    out.message = "approved (" + std::to_string(approvals) + " of " + std::to_string(a.approvers_needed) + ")";
  } else {
    out.message = "vote recorded (" + std::to_string(approvals) + " of " + std::to_string(a.approvers_needed) +
                  " approvals)";
  }
  out.approval = std::move(voted);
  return out;
}

template <typename Transition>
std::vector<Approval> TransitionDueTx(PgStore::Impl::Tx& tx, const char* due_sql, int64_t now_ms, int limit,
                                      Transition transition) {
  std::vector<std::string> ids;
  for (const pqxx::row& r : tx.w.exec_params(due_sql, now_ms, limit)) ids.push_back(PgStr(r[0]));
  std::vector<Approval> out;
  for (const std::string& id : ids) out.push_back(transition(tx, MustLoad(tx, id)));
  return out;
}

// The id FindReusable answers with (see Store::FindReusable for the rule), read in `t`.
std::optional<std::string> ReusableApprovalId(pqxx::transaction_base& t, const std::string& principal,
                                              const std::string& fingerprint, int64_t now, int64_t remember_since) {
  pqxx::result r = t.exec_params(
      "SELECT id FROM approvals WHERE principal = $1 AND fingerprint = $2 AND ("
      " state IN ('pending', 'executing') OR"
      " (state = 'approved' AND (use_within IS NULL OR decided_at + use_within > $3::bigint)) OR"
      " (state IN ('rejected', 'expired') AND decided_at >= $4::bigint))"
      " ORDER BY CASE WHEN state IN ('pending', 'approved', 'executing') THEN 0 ELSE 1 END, id DESC LIMIT 1",
      principal, fingerprint, now, remember_since);
  if (r.empty()) return std::nullopt;
  return PgStr(r[0][0]);
}

}  // namespace

Approval PgReadApproval(const pqxx::row& r) {
  Approval a;
  a.id = PgStr(r[0]);
  a.principal = PgStr(r[1]);
  a.session_id = PgStr(r[2]);
  a.tool = PgStr(r[3]);
  a.arguments = ParseStored(r[4]);
  a.fingerprint = PgStr(r[5]);
  a.rule = PgStr(r[6]);
  a.risk = ParseStored(r[7]);
  ParseState(PgStr(r[8]), &a.state);
  a.approvers_needed = static_cast<int>(PgInt(r[9]));
  a.reviewers = ParseStored(r[10]);
  a.editable = PgInt(r[11]) != 0;
  if (!r[12].is_null()) a.edited_arguments = ParseStored(r[12]);
  a.on_timeout = PgStr(r[13]);
  a.notify = ParseStored(r[14]);
  a.created_at_ms = PgInt(r[15]);
  a.expires_at_ms = PgInt(r[16]);
  a.decided_at_ms = PgInt(r[17]);
  a.decided_by = PgStr(r[18]);
  a.decided_via = PgStr(r[19]);
  a.reason = PgStr(r[20]);
  if (!r[21].is_null()) a.result = ParseStored(r[21]);
  a.agent_left = PgInt(r[22]) != 0;
  a.updated_at_ms = PgInt(r[23]);
  a.use_within_ms = PgInt(r[24]);
  a.trace_id = PgStr(r[25]);
  a.rule_reason = PgStr(r[26]);
  a.remember_max_ms = PgInt(r[27]);
  a.remember_any_arguments = PgInt(r[28]) != 0;
  return a;
}

// ---- Impl: lifecycle and pool -------------------------------------------------------------------

PgStore::Impl::~Impl() {
  stop_.store(true);
  if (feed_thread_.joinable()) feed_thread_.join();
  // A clean stop leaves nothing executing behind on purpose: approvals still executing here are
  // the gateway's to finish; the heartbeat row goes so survivors need not wait out the lease.
  try {
    auto c = Acquire("unregister replica");
    if (c.ok()) {
      {
        pqxx::nontransaction n(**c);
        n.exec_params("UPDATE replicas SET heartbeat_at = 0 WHERE id = $1 AND NOT EXISTS "
                      "(SELECT 1 FROM approvals WHERE state = 'executing' AND executing_by = $1)",
                      replica_id_);
        n.exec_params("DELETE FROM replicas WHERE id = $1 AND heartbeat_at = 0", replica_id_);
      }
      Release(std::move(c).value());
    }
  } catch (const std::exception& e) {
    log::Warn("cannot unregister this replica", {{"error", e.what()}});
  }
  std::lock_guard<std::mutex> lock(pool_mu_);
  idle_.clear();
}

Result<std::unique_ptr<pqxx::connection>> PgStore::Impl::Connect() {
  try {
    auto c = std::make_unique<pqxx::connection>(WithConnectTimeout(url_));
    return c;
  } catch (const std::exception& e) {
    std::string why = e.what();
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Status(Code::kUnavailable, "cannot connect to PostgreSQL at " + Redacted(url_) + ": " + why);
  }
}

Result<std::unique_ptr<pqxx::connection>> PgStore::Impl::Acquire(const char* what) {
  std::unique_lock<std::mutex> lock(pool_mu_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    if (open_ < std::max(1, options_.pg_pool_size)) {
      ++open_;
      lock.unlock();
      auto c = Connect();
      if (!c.ok()) {
        lock.lock();
        --open_;
        pool_cv_.notify_one();
        return Status(Code::kUnavailable, std::string(what) + ": " + c.status().message());
      }
      return c;
    }
    if (pool_cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.pg_pool_size) {
      return Status(Code::kUnavailable, std::string(what) + ": no database connection free within " +
                                            std::to_string(options_.busy_timeout_ms) + " ms (pool of " +
                                            std::to_string(options_.pg_pool_size) + ")");
    }
  }
}

void PgStore::Impl::Release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (conn && conn->is_open()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  pool_cv_.notify_one();
}

Status PgStore::Impl::Failure(const char* what, const std::exception& e, bool write, bool* broken) {
  std::string msg = e.what();
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  Status status;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    *broken = true;
    status = Status(Code::kUnavailable, std::string(what) + ": the connection to PostgreSQL broke during commit; "
                                                            "whether it committed is unknown: " + msg);
  } else if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    *broken = true;
    status = Status(Code::kUnavailable, std::string(what) + ": lost the connection to PostgreSQL: " + msg);
  } else if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();
    // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 08*: connection.
    if (state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0) {
      *broken = true;
      status = Status(Code::kUnavailable, std::string(what) + ": PostgreSQL is unavailable: " + msg);
    } else {
      status = IoError(std::string(what) + ": database error: " + msg);
    }
  } else if (dynamic_cast<const pqxx::failure*>(&e) != nullptr) {
    *broken = true;
    status = Status(Code::kUnavailable, std::string(what) + ": PostgreSQL failure: " + msg);
  } else {
    status = Internal(std::string(what) + ": " + msg);
  }
  log::Error(write ? "store write failed" : "store read failed", {{"op", what}, {"error", msg}});
  if (write && status.code() != Code::kInternal) {
    std::lock_guard<std::mutex> lock(health_mu_);
    last_write_failure_ = status.message();
  }
  return status;
}

namespace {

// Applies every embedded PostgreSQL migration not yet recorded, in one transaction under the
// migration advisory lock; refuses a database with a migration this binary does not know or one
// whose text changed. A database already up to date gets no DDL, so a role that may only read and
// write the tables (not create them) can open it.
Status ApplyPgMigrations(pqxx::connection& c, int64_t now_ms) {
  pqxx::work w(c);
  w.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kPgMigrationLock) + ")");
  if (w.exec("SELECT to_regclass('schema_migrations') IS NULL")[0][0].as<bool>()) {
    w.exec("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, sha256 TEXT NOT NULL, "
           "applied_at BIGINT NOT NULL)");
  }
  std::vector<std::string> known;
  for (const EmbeddedFile& m : EmbeddedPgMigrations()) {
    std::string version(m.path);
    if (version.size() > 4 && version.substr(version.size() - 4) == ".sql") version.resize(version.size() - 4);
    known.push_back(version);
    const std::string sha = Sha256Hex(std::string(m.content));
    pqxx::result found = w.exec_params("SELECT sha256 FROM schema_migrations WHERE version = $1", version);
    if (!found.empty()) {
      if (PgStr(found[0][0]) != sha) {
        return Internal("migration " + version +
                        " was edited after it was applied to this database; migrations are append-only");
      }
      continue;
    }
    w.exec(std::string(m.content));
    w.exec_params("INSERT INTO schema_migrations (version, sha256, applied_at) VALUES ($1, $2, $3)", version, sha,
                  now_ms);
  }
  for (const pqxx::row& r : w.exec("SELECT version FROM schema_migrations ORDER BY version")) {
    const std::string v = PgStr(r[0]);
    if (std::find(known.begin(), known.end(), v) == known.end()) {
      return Internal("database has migration " + v + " that this holdgate does not know (a newer holdgate "
                      "wrote it); refusing to run against it");
    }
  }
  w.commit();
  return Status::Ok();
}

std::string HostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

}  // namespace

Status PgStore::Impl::Open(const std::string& url) {
  url_ = url;
  replica_id_ = "rep_" + RandomHex(8);
  auto c = Acquire("open store");
  if (!c.ok()) return c.status();
  std::unique_ptr<pqxx::connection> conn = std::move(c).value();
  try {
    Status migrated = ApplyPgMigrations(*conn, clock_.NowMs());
    if (!migrated.ok()) return migrated;
    pqxx::work w(*conn);
    w.exec_params("INSERT INTO replicas (id, host, started_at, heartbeat_at) VALUES ($1, $2, "
                  "(extract(epoch from clock_timestamp()) * 1000)::bigint, "
                  "(extract(epoch from clock_timestamp()) * 1000)::bigint)",
                  replica_id_, HostName() + ":" + std::to_string(::getpid()));
    pqxx::result head = w.exec("SELECT COALESCE(MAX(seq), 0) FROM audit_events");
    feed_seq_ = PgInt(head[0][0]);
    w.commit();
  } catch (const std::exception& e) {
    bool broken = false;
    Status s = Failure("open store", e, true, &broken);
    return Status(s.code(), "cannot open store " + Redacted(url) + ": " + s.message());
  }
  Release(std::move(conn));
  feed_thread_ = std::thread([this] { FeedLoop(); });
  return Status::Ok();
}

std::optional<Approval> PgStore::Impl::LoadApproval(pqxx::transaction_base& t, const std::string& id) {
  pqxx::result r = t.exec_params(std::string("SELECT ") + kApprovalCols + " FROM approvals WHERE id = $1", id);
  if (r.empty()) return std::nullopt;
  Approval a = PgReadApproval(r[0]);
  a.votes = LoadVotes(t, id);
  return a;
}

std::vector<Vote> PgStore::Impl::LoadVotes(pqxx::transaction_base& t, const std::string& id) {
  std::vector<Vote> votes;
  for (const pqxx::row& r :
       t.exec_params("SELECT reviewer, decision, via, reason, at FROM votes WHERE approval_id = $1 ORDER BY at, id", id)) {
    Vote v;
    v.approval_id = id;
    v.reviewer = PgStr(r[0]);
    v.approve = PgStr(r[1]) == "approve";
    v.via = PgStr(r[2]);
    v.reason = PgStr(r[3]);
    v.at_ms = PgInt(r[4]);
    votes.push_back(std::move(v));
  }
  return votes;
}

void PgStore::Impl::EmitTx(Tx& tx, const std::string& type, const Approval& approval, const std::string& actor,
                           const std::string& via, const std::string& decision, Json detail,
                           const std::vector<NewOutboxRow>* extra) {
  std::optional<trace::ScopedTrace> traced;
  if (!approval.trace_id.empty() && trace::CurrentTraceId().empty()) traced.emplace(approval.trace_id);
  AuditEvent e;
  e.ts_ms = tx.now;
  e.type = type;
  e.approval_id = approval.id;
  e.principal = approval.principal;
  e.actor = actor;
  e.via = via;
  e.tool = approval.tool;
  e.rule = approval.rule;
  e.decision = decision;
  e.detail = std::move(detail);
  AuditEvent written = AppendAuditTx(tx, std::move(e));
  if (extra) {
    for (const NewOutboxRow& row : *extra) InsertOutboxTx(tx, approval.id, row);
  }
  OutboxFactory factory;
  {
    std::lock_guard<std::mutex> lock(write_cfg_mu_);
    factory = outbox_factory_;
  }
  if (factory) {
    for (const NewOutboxRow& row : factory(type, approval)) InsertOutboxTx(tx, approval.id, row);
  }
  {
    // Recorded before commit, so the feed thread never mistakes it for another replica's.
    std::lock_guard<std::mutex> lock(feed_mu_);
    local_[written.seq] = written.hash;
  }
  QueueTx(tx, ChangeEvent{written.seq, type, written.ts_ms, actor, approval});
}

// ---- PgStore: lifecycle -------------------------------------------------------------------------

PgStore::PgStore(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), rate_counters_(MakePgRateCounters(*impl_)) {}
PgStore::~PgStore() = default;

Result<std::unique_ptr<Store>> PgStore::Open(const std::string& url, const Clock& clock, const StoreOptions& options) {
  auto impl = std::make_unique<Impl>(clock, options);
  Status s = impl->Open(url);
  if (!s.ok()) return s;
  return std::unique_ptr<Store>(new PgStore(std::move(impl)));
}

const Clock& PgStore::clock() const { return impl_->clock_; }

// ---- PgStore: approvals -------------------------------------------------------------------------

Result<Approval> PgStore::CreatePending(const NewApproval& in) {
  Result<PendingFor> r = CreateOrReuse(in, /*reuse_identical=*/false);
  if (!r.ok()) return r.status();
  return std::move(r->approval);
}

Result<PendingFor> PgStore::FindOrCreatePending(const NewApproval& in) {
  return CreateOrReuse(in, /*reuse_identical=*/true);
}

Result<PendingFor> PgStore::CreateOrReuse(const NewApproval& in, bool reuse_identical) {
  Result<Approval> built = NewPendingApproval(in);
  if (!built.ok()) return built.status();
  Approval a = std::move(built).value();

  const std::string random_part = RandomHex(10);
  return impl_->Write<PendingFor>("create approval", [&](Impl::Tx& tx) -> Result<PendingFor> {
    // Under the chain lock, which every replica's create takes: identical calls arriving at once
    // on different replicas find each other here and share one approval.
    if (reuse_identical) {
      std::optional<std::string> id = ReusableApprovalId(tx.w, a.principal, a.fingerprint, tx.now,
                                                         tx.now - impl_->options_.rejection_memory_ms);
      if (id) {
        std::optional<Approval> found = Impl::LoadApproval(tx.w, *id);
        if (found) return PendingFor{std::move(*found), false};
      }
    }
    // Under the chain lock: the cap counts every replica's pending approvals at once.
    if (in.max_pending_for_principal > 0) {
      pqxx::result q = tx.w.exec_params(
          "SELECT count(*) FROM (SELECT 1 FROM approvals WHERE principal = $1 AND state = 'pending' LIMIT $2) p",
          a.principal, in.max_pending_for_principal);
      if (PgInt(q[0][0]) >= in.max_pending_for_principal) {
        return Status(Code::kResourceExhausted,
                      a.principal + " already has " + std::to_string(in.max_pending_for_principal) +
                          " pending approvals (approval.max_pending_per_principal); wait until some are decided");
      }
    }
    a.id = ApprovalIdPrefix(tx.now) + random_part;
    a.created_at_ms = tx.now;
    a.updated_at_ms = tx.now;
    a.expires_at_ms = in.timeout_ms > 0 ? tx.now + in.timeout_ms : 0;
    tx.w.exec_params(
        "INSERT INTO approvals (id, principal, session_id, tool, arguments, fingerprint, rule, risk, state, "
        "approvers_needed, reviewers, editable, on_timeout, notify, created_at, expires_at, updated_at, use_within, "
        "trace_id, rule_reason, remember_max, remember_any) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, "
        "$10, $11, $12, $13, $14, NULLIF($15::bigint, 0), $16, NULLIF($17::bigint, 0), $18, $19, $20, $21)",
        a.id, a.principal, a.session_id, a.tool, JsonText(a.arguments), a.fingerprint, a.rule, JsonText(a.risk),
        a.approvers_needed, JsonText(a.reviewers), a.editable ? 1 : 0, a.on_timeout, JsonText(a.notify),
        a.created_at_ms, a.expires_at_ms, a.updated_at_ms, a.use_within_ms, a.trace_id, a.rule_reason,
        a.remember_max_ms, a.remember_any_arguments ? 1 : 0);
    impl_->EmitTx(tx, "approval.created", a, a.principal, "mcp", "hold",
                  Json{{"arguments", AuditValue(a.arguments)},
                       {"fingerprint", a.fingerprint},
                       {"session_id", a.session_id},
                       {"risk", a.risk},
                       {"approvers_needed", a.approvers_needed},
                       {"reviewers", a.reviewers},
                       {"expires_at", a.expires_at_ms},
                       {"use_within_ms", a.use_within_ms},
                       {"rule_reason", a.rule_reason}},
                  &in.outbox);
    return PendingFor{std::move(a), true};
  });
}

Result<Approval> PgStore::Get(const std::string& id) {
  return impl_->Read<Approval>("get approval", [&](pqxx::transaction_base& t) -> Result<Approval> {
    std::optional<Approval> a = Impl::LoadApproval(t, id);
    if (!a) return NotFound("no approval " + id);
    return std::move(*a);
  });
}

Result<ApprovalPage> PgStore::List(const ApprovalFilter& f) {
  const int limit = std::clamp(f.limit, 1, 500);
  std::string cursor_id;
  if (!f.cursor.empty()) {
    Json c;
    if (!internal::DecodeCursor(f.cursor, &c) || !c.is_object() || !c.contains("i") || !c["i"].is_string()) {
      return InvalidArgument("malformed cursor");
    }
    cursor_id = c["i"].get<std::string>();
  }
  return impl_->Read<ApprovalPage>("list approvals", [&](pqxx::transaction_base& t) -> Result<ApprovalPage> {
    std::string sql = std::string("SELECT ") + kApprovalCols + " FROM approvals WHERE 1 = 1";
    if (!f.states.empty()) {
      sql += " AND state IN (";
      for (size_t i = 0; i < f.states.size(); ++i) sql += (i ? ", " : "") + t.quote(std::string(StateName(f.states[i])));
      sql += ")";
    }
    if (!f.tool.empty()) sql += " AND tool = " + t.quote(f.tool);
    if (!f.principal.empty()) sql += " AND principal = " + t.quote(f.principal);
    if (f.created_from_ms > 0) sql += " AND id >= " + t.quote(ApprovalIdPrefix(f.created_from_ms));
    if (f.created_to_ms > 0) sql += " AND id < " + t.quote(ApprovalIdPrefix(f.created_to_ms));
    if (!f.cursor.empty()) sql += " AND id < " + t.quote(cursor_id);
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit + 1);
    ApprovalPage page;
    for (const pqxx::row& r : t.exec(sql)) page.approvals.push_back(PgReadApproval(r));
    if (static_cast<int>(page.approvals.size()) > limit) {
      page.approvals.pop_back();
      page.next_cursor = internal::EncodeCursor(Json{{"i", page.approvals.back().id}});
    }
    for (Approval& a : page.approvals) a.votes = Impl::LoadVotes(t, a.id);
    return page;
  });
}

Result<std::vector<Comment>> PgStore::ListComments(const std::string& approval_id) {
  using Comments = std::vector<Comment>;
  return impl_->Read<Comments>("list comments", [&](pqxx::transaction_base& t) -> Result<Comments> {
    Comments out;
    for (const pqxx::row& r :
         t.exec_params("SELECT id, author, body, at FROM comments WHERE approval_id = $1 ORDER BY id", approval_id)) {
      out.push_back(Comment{PgInt(r[0]), approval_id, PgStr(r[1]), PgStr(r[2]), PgInt(r[3])});
    }
    return out;
  });
}

Result<std::optional<Approval>> PgStore::FindReusable(const std::string& principal, const std::string& fingerprint) {
  using Found = std::optional<Approval>;
  const int64_t now = impl_->clock_.NowMs();
  const int64_t remember_since = now - impl_->options_.rejection_memory_ms;
  return impl_->Read<Found>("find reusable approval", [&](pqxx::transaction_base& t) -> Result<Found> {
    std::optional<std::string> id = ReusableApprovalId(t, principal, fingerprint, now, remember_since);
    if (!id) return Found();
    return Impl::LoadApproval(t, *id);
  });
}

Result<DecisionOutcome> PgStore::Decide(const DecisionInput& in) {
  Status valid = CheckDecisionInput(in);
  if (!valid.ok()) return valid;
  return impl_->Write<DecisionOutcome>("decide", [&](Impl::Tx& tx) { return DecideTx(*impl_, tx, in); });
}

std::vector<Result<DecisionOutcome>> PgStore::DecideMany(const std::vector<DecisionInput>& inputs) {
  std::vector<Result<DecisionOutcome>> out(inputs.size(), Result<DecisionOutcome>(Internal("not run")));
  std::vector<size_t> valid;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Status s = CheckDecisionInput(inputs[i]);
    if (s.ok()) valid.push_back(i);
    else out[i] = s;
  }
  if (valid.empty()) return out;
  using Outcomes = std::vector<Result<DecisionOutcome>>;
  auto written = impl_->Write<Outcomes>("decide many", [&](Impl::Tx& tx) -> Result<Outcomes> {
    Outcomes each;
    for (size_t i : valid) each.push_back(DecideTx(*impl_, tx, inputs[i]));
    return each;
  });
  for (size_t k = 0; k < valid.size(); ++k) {
    out[valid[k]] = written.ok() ? std::move((*written)[k]) : Result<DecisionOutcome>(written.status());
  }
  return out;
}

namespace {

// MarkExecuting's body inside `tx` (also run once per id by MarkExecutingMany).
Result<Approval> MarkExecutingTx(PgStore::Impl& impl, PgStore::Impl::Tx& tx, const std::string& id) {
  // The exactly-once gate: one replica's conditional UPDATE wins; the row names that replica,
  // whose heartbeat is the lease on it.
  pqxx::result r = tx.w.exec_params(
      "UPDATE approvals SET state = 'executing', executing_by = $1, updated_at = $2 WHERE id = $3 AND "
      "state = 'approved' AND (use_within IS NULL OR decided_at + use_within > $2::bigint)",
      impl.replica_id_, tx.now, id);
  if (r.affected_rows() != 1) {
    std::optional<Approval> a = PgStore::Impl::LoadApproval(tx.w, id);
    if (!a) return NotFound("no approval " + id);
    if (a->state == State::kExecuting || a->state == State::kCompleted || a->state == State::kFailed) {
      return Conflict("approval " + id + " was already released (" + StateName(a->state) + "); it runs at most once");
    }
    if (a->state == State::kApproved) {
      Approval lapsed = LapseTx(impl, tx, *a);
      tx.commit_on_error = true;
      return Conflict("approval " + id + " lapsed: " + lapsed.reason);
    }
    return NotPending(*a, "approved");
  }
  Approval a = MustLoad(tx, id);
  impl.EmitTx(tx, "approval.executing", a, "holdgate", "system", "release", ExecutingAuditDetail(a));
  return a;
}

}  // namespace

Result<Approval> PgStore::MarkExecuting(const std::string& id) {
  return impl_->Write<Approval>("mark executing", [&](Impl::Tx& tx) { return MarkExecutingTx(*impl_, tx, id); });
}

std::vector<Result<Approval>> PgStore::MarkExecutingMany(const std::vector<std::string>& ids) {
  using Each = std::vector<Result<Approval>>;
  if (ids.empty()) return {};
  auto written = impl_->Write<Each>("mark executing many", [&](Impl::Tx& tx) -> Result<Each> {
    Each out;
    out.reserve(ids.size());
    for (const std::string& id : ids) out.push_back(MarkExecutingTx(*impl_, tx, id));
    return out;
  });
  if (written.ok()) return std::move(written).value();
  return Each(ids.size(), Result<Approval>(written.status()));
}

namespace {

// Complete's one attempt (below).
Result<Approval> CompleteOnce(PgStore::Impl& impl, const std::string& id, const Json& result, bool failed) {
  return impl.Write<Approval>("complete", [&](PgStore::Impl::Tx& tx) -> Result<Approval> {
    pqxx::result r = tx.w.exec_params(
        "UPDATE approvals SET state = $1, result = $2, updated_at = $3 WHERE id = $4 AND state = 'executing'",
        std::string(failed ? "failed" : "completed"), CanonicalJson(result), tx.now, id);
    if (r.affected_rows() != 1) {
      std::optional<Approval> a = PgStore::Impl::LoadApproval(tx.w, id);
      if (!a) return NotFound("no approval " + id);
      return NotPending(*a, "executing");
    }
    Approval a = MustLoad(tx, id);
    impl.EmitTx(tx, failed ? "approval.failed" : "approval.completed", a, "holdgate", "system",
                  failed ? "failed" : "completed", Json{{"result", AuditValue(result)}});
    return a;
  });
}

}  // namespace

// The tool has run: its outcome must be recorded even when PostgreSQL is briefly away (a restart),
// else the approval stays executing while its replica lives. Retried while the store is
// unavailable, up to busy_timeout_ms; a retry that finds the outcome already written (the earlier
// commit went through but its answer was lost) returns it.
Result<Approval> PgStore::Complete(const std::string& id, const Json& result, bool failed) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(impl_->options_.busy_timeout_ms);
  for (int attempt = 0;; ++attempt) {
    Result<Approval> r = CompleteOnce(*impl_, id, result, failed);
    if (r.ok()) return r;
    if (attempt > 0 && r.status().code() == Code::kConflict) {
      auto now = Get(id);
      if (now.ok() && now->state == (failed ? State::kFailed : State::kCompleted) &&
          CanonicalJson(now->result) == CanonicalJson(result)) {
        return now;
      }
    }
    if (r.status().code() != Code::kUnavailable || std::chrono::steady_clock::now() >= deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::vector<Result<Approval>> PgStore::CompleteMany(const std::vector<Completion>& outcomes) {
  std::vector<Result<Approval>> out;
  out.reserve(outcomes.size());
  for (const Completion& c : outcomes) out.push_back(Complete(c.id, c.result, c.failed));
  return out;
}

Result<Approval> PgStore::Expire(const std::string& id) {
  return impl_->Write<Approval>("expire", [&](Impl::Tx& tx) -> Result<Approval> {
    std::optional<Approval> a = Impl::LoadApproval(tx.w, id);
    if (!a) return NotFound("no approval " + id);
    if (a->state != State::kPending) return NotPending(*a, "pending");
    if (a->expires_at_ms == 0 || tx.now < a->expires_at_ms) {
      return Conflict("approval " + id + " is not due to expire" +
                      (a->expires_at_ms ? " until " + FormatTimeMs(a->expires_at_ms) : std::string()));
    }
    return ExpireTx(*impl_, tx, *a);
  });
}

Result<std::vector<Approval>> PgStore::ExpireDue(int64_t now_ms, int limit) {
  limit = std::clamp(limit, 1, 10000);
  return impl_->Write<std::vector<Approval>>("expire due", [&](Impl::Tx& tx) -> Result<std::vector<Approval>> {
    return TransitionDueTx(tx,
                           "SELECT id FROM approvals WHERE state = 'pending' AND expires_at IS NOT NULL AND "
                           "expires_at <= $1::bigint ORDER BY expires_at, id LIMIT $2",
                           now_ms, limit, [&](Impl::Tx& t, const Approval& a) { return ExpireTx(*impl_, t, a); });
  });
}

Result<std::vector<Approval>> PgStore::LapseDue(int64_t now_ms, int limit) {
  limit = std::clamp(limit, 1, 10000);
  return impl_->Write<std::vector<Approval>>("lapse due", [&](Impl::Tx& tx) -> Result<std::vector<Approval>> {
    return TransitionDueTx(tx,
                           "SELECT id FROM approvals WHERE state = 'approved' AND use_within IS NOT NULL AND "
                           "decided_at + use_within <= $1::bigint ORDER BY decided_at, id LIMIT $2",
                           now_ms, limit, [&](Impl::Tx& t, const Approval& a) { return LapseTx(*impl_, t, a); });
  });
}

Result<Approval> PgStore::Cancel(const std::string& id, const std::string& why, const std::string& actor) {
  const std::string who = actor.empty() ? "agent" : actor;
  return impl_->Write<Approval>("cancel", [&](Impl::Tx& tx) -> Result<Approval> {
    pqxx::result r = tx.w.exec_params(
        "UPDATE approvals SET state = 'cancelled', decided_at = $1, decided_by = $2, decided_via = $3, "
        "reason = $4, updated_at = $1 WHERE id = $5 AND state = 'pending'",
        tx.now, who, std::string(who == "agent" ? "agent" : "system"), why.empty() ? std::string("cancelled") : why, id);
    if (r.affected_rows() != 1) {
      std::optional<Approval> a = Impl::LoadApproval(tx.w, id);
      if (!a) return NotFound("no approval " + id);
      return Conflict("cannot cancel: " + AlreadyDecidedMessage(*a));
    }
    Approval a = MustLoad(tx, id);
    impl_->EmitTx(tx, "approval.cancelled", a, who, a.decided_via, "cancel", Json{{"reason", a.reason}});
    return a;
  });
}

Result<Approval> PgStore::MarkAgentLeft(const std::string& id) {
  return impl_->Write<Approval>("mark agent left", [&](Impl::Tx& tx) -> Result<Approval> {
    pqxx::result r = tx.w.exec_params(
        "UPDATE approvals SET agent_left = 1, updated_at = $1 WHERE id = $2 AND agent_left = 0 AND "
        "state IN ('pending', 'approved')",
        tx.now, id);
    const bool changed = r.affected_rows() == 1;
    std::optional<Approval> a = Impl::LoadApproval(tx.w, id);
    if (!a) return NotFound("no approval " + id);
    if (!changed) {
      if (a->agent_left && (a->state == State::kPending || a->state == State::kApproved)) return *a;
      return NotPending(*a, "pending or approved");
    }
    impl_->EmitTx(tx, "approval.agent_left", *a, a->principal, "agent", "", Json());
    return *a;
  });
}

Result<int> PgStore::RecoverAfterCrash() {
  // Other replicas may be running their calls right now: only approvals whose replica's lease ran
  // out are failed (the feed thread keeps doing this while holdgate runs).
  return impl_->FailExpiredLeases(/*include_self=*/false);
}

Result<int> PgStore::Impl::FailExpiredLeases(bool include_self) {
  return Write<int>("fail expired leases", [&](Tx& tx) -> Result<int> {
    pqxx::result due = tx.w.exec_params(
        "SELECT a.id FROM approvals a LEFT JOIN replicas r ON r.id = a.executing_by "
        "WHERE a.state = 'executing' AND ($1 OR a.executing_by <> $2) AND (r.id IS NULL OR r.heartbeat_at < "
        "(extract(epoch from clock_timestamp()) * 1000)::bigint - $3::bigint) ORDER BY a.id",
        include_self, replica_id_, options_.executing_lease_ms);
    const Json result = Json{{"error", kRecoveredReason}, {"recovered", true}};
    int n = 0;
    for (const pqxx::row& row : due) {
      const std::string id = PgStr(row[0]);
      pqxx::result r = tx.w.exec_params(
          "UPDATE approvals SET state = 'failed', reason = $1, result = $2, updated_at = $3 "
          "WHERE id = $4 AND state = 'executing'",
          std::string(kRecoveredReason), CanonicalJson(result), tx.now, id);
      if (r.affected_rows() != 1) continue;
      ++n;
      Approval a = MustLoad(tx, id);
      EmitTx(tx, "approval.failed", a, "holdgate", "system", "failed",
             Json{{"result", result}, {"reason", kRecoveredReason}});
    }
    return n;
  });
}

Result<Comment> PgStore::AddComment(const std::string& approval_id, const std::string& author,
                                    const std::string& body) {
  if (author.empty()) return InvalidArgument("comment author is required");
  if (body.empty()) return InvalidArgument("comment body is empty");
  return impl_->Write<Comment>("add comment", [&](Impl::Tx& tx) -> Result<Comment> {
    std::optional<Approval> a = Impl::LoadApproval(tx.w, approval_id);
    if (!a) return NotFound("no approval " + approval_id);
    pqxx::result r = tx.w.exec_params(
        "INSERT INTO comments (approval_id, author, body, at) VALUES ($1, $2, $3, $4) RETURNING id", approval_id,
        author, body, tx.now);
    Comment c{PgInt(r[0][0]), approval_id, author, body, tx.now};
    impl_->EmitTx(tx, "approval.comment", *a, author, "", "", Json{{"comment_id", c.id}, {"body", AuditValue(body)}});
    return c;
  });
}

// ---- health -------------------------------------------------------------------------------------

StoreHealth PgStore::Health() {
  StoreHealth h;
  std::string failure;
  {
    std::lock_guard<std::mutex> lock(impl_->health_mu_);
    failure = impl_->last_write_failure_;
  }
  auto read = impl_->Read<int>("health", [](pqxx::transaction_base& t) -> Result<int> {
    return static_cast<int>(PgInt(t.exec("SELECT 1")[0][0]));
  });
  if (!read.ok()) {
    h.state = StoreHealth::State::kReadFailed;
    h.why = read.status().message();
  } else if (!failure.empty()) {
    h.state = StoreHealth::State::kWriteFailed;
    h.why = "the last write failed: " + failure;
  }
  return h;
}

Status PgStore::CheckWritable() {
  auto r = impl_->Write<bool>(
      "readiness probe",
      [](Impl::Tx& tx) -> Result<bool> {
        if (PgStr(tx.w.exec("SHOW transaction_read_only")[0][0]) == "on") {
          return IoError("the database is read-only (a standby, or default_transaction_read_only)");
        }
        return true;
      },
      /*chain=*/false);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace holdgate::store
