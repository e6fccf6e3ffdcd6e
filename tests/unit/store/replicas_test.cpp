// Several PgStore instances on one PostgreSQL database, as several holdgate replicas: one
// transition per approval, one audit chain, one outbox claim per row, the change feed between
// them, and the executing lease. PostgreSQL only: tagged [.][pg], so they run in the
// unit/store[pg] pass (and fail there without HOLDGATE_TEST_PG_URL), never on SQLite.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "store/audit_checkpoint.h"
#include "store/db_copy.h"
#include "store/store.h"
#include "support/fake_clock.h"
#include "support/pg_test_db.h"
#include "store_fixture.h"

namespace holdgate::store::testing {
namespace {

using holdgate::testing::FakeClock;
using holdgate::testing::PgTestDatabase;

struct Replicas {
  PgTestDatabase db;
  FakeClock clock;
  std::vector<std::unique_ptr<Store>> stores;

  explicit Replicas(int n, StoreOptions options = {}) {
    // Open them at once: the migration runs once, under its advisory lock.
    std::vector<std::optional<Result<std::unique_ptr<Store>>>> slots(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] { slots[i].emplace(Store::Open(db.url(), clock, options)); });
    }
    for (auto& t : threads) t.join();
    for (auto& slot : slots) {
      REQUIRE(slot.has_value());
      INFO(slot->status().ToString());
      REQUIRE(slot->ok());
      stores.push_back(std::move(*slot).value());
    }
  }
  Store& operator[](size_t i) { return *stores.at(i); }
};

NewApproval Request(int job, const std::string& principal = "agent-1") {
  NewApproval n;
  n.principal = principal;
  n.tool = "cancel_job";
  n.arguments = Json{{"job_id", job}};
  n.rule = "tools.cancel_job";
  n.timeout_ms = 5 * 60 * 1000;
  return n;
}

DecisionInput Vote(const std::string& id, const std::string& reviewer, bool approve = true) {
  DecisionInput d;
  d.id = id;
  d.reviewer = reviewer;
  d.via = "api";
  d.approve = approve;
  d.reason = approve ? "" : "no";
  return d;
}

template <typename F>
void RunTogether(int n, F body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      body(i);
    });
  }
  while (ready.load() < n) std::this_thread::yield();
  go.store(true);
  for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("replicas: forty reviewers approving at once on three replicas release once", "[store][.][pg][replicas]") {
  Replicas r(3);
  auto created = r[0].CreatePending(Request(1));
  REQUIRE(created.ok());
  const std::string id = created->id;

  std::atomic<int> changed{0}, conflicts{0}, other{0};
  RunTogether(40, [&](int i) {
    auto out = r[i % 3].Decide(Vote(id, "reviewer-" + std::to_string(i)));
    if (out.ok() && out->changed) changed.fetch_add(1);
    else if (!out.ok() && out.status().code() == Code::kConflict) conflicts.fetch_add(1);
    else other.fetch_add(1);
  });
  CHECK(changed.load() == 1);
  CHECK(conflicts.load() == 39);
  CHECK(other.load() == 0);

  std::atomic<int> released{0};
  RunTogether(12, [&](int i) {
    if (r[i % 3].MarkExecuting(id).ok()) released.fetch_add(1);
  });
  CHECK(released.load() == 1);
  AuditFilter f;
  f.approval_id = id;
  f.limit = 1000;
  auto events = r[2].ListAudit(f);
  REQUIRE(events.ok());
  int approved = 0, executing = 0;
  for (const AuditEvent& e : events->events) {
    approved += e.type == "approval.approved";
    executing += e.type == "approval.executing";
  }
  CHECK(approved == 1);
  CHECK(executing == 1);
  auto verdict = r[1].VerifyAuditChain({});
  REQUIRE(verdict.ok());
  CHECK(verdict->ok);
}

TEST_CASE("replicas: concurrent writers on three replicas keep one unbroken chain", "[store][.][pg][replicas][audit]") {
  Replicas r(3);
  RunTogether(30, [&](int i) {
    for (int k = 0; k < 5; ++k) {
      AuditEvent e;
      e.type = "call.allowed";
      e.principal = "agent-" + std::to_string(i);
      e.tool = "list_jobs";
      auto written = r[i % 3].AppendAudit(e);
      if (!written.ok()) std::abort();  // Catch assertions are not thread-safe
      if (k == 0 && !r[(i + 1) % 3].CreatePending(Request(1000 + i)).ok()) std::abort();
    }
  });
  auto verdict = r[0].VerifyAuditChain({});
  REQUIRE(verdict.ok());
  INFO(verdict->why);
  CHECK(verdict->ok);
  CHECK(verdict->rows_checked == 30 * 5 + 30);
  CHECK(verdict->head_seq == 30 * 5 + 30);
}

TEST_CASE("replicas: an archive while three replicas append keeps one chain from its anchor",
          "[store][.][pg][replicas][audit]") {
  Replicas r(3);
  TempDir dir;
  for (int i = 0; i < 20; ++i) {
    AuditEvent e;
    e.type = "call.allowed";
    e.tool = "list_jobs";
    REQUIRE(r[i % 3].AppendAudit(e).ok());
  }
  std::atomic<bool> archived{false};
  AuditArchiveOptions o;
  o.out_path = dir.File("audit-1.jsonl");
  o.through_seq = 15;
  o.actor = "ops";
  std::optional<Result<AuditArchiveResult>> result;
  RunTogether(7, [&](int i) {
    if (i == 0) {
      result.emplace(r[0].ArchiveAudit(o));
      archived = true;
      return;
    }
    // Appends before, during and after the prune, on every replica.
    for (int k = 0; k < 10 || !archived; ++k) {
      AuditEvent e;
      e.type = "call.denied";
      e.principal = "agent-" + std::to_string(i);
      if (!r[i % 3].AppendAudit(e).ok()) std::abort();  // Catch assertions are not thread-safe
    }
  });
  REQUIRE(result.has_value());
  INFO(result->status().ToString());
  REQUIRE(result->ok());
  CHECK((*result)->info.first_seq == 1);
  CHECK((*result)->info.last_seq == 15);
  auto verdict = r[1].VerifyAuditChain({});
  REQUIRE(verdict.ok());
  INFO(verdict->why);
  CHECK(verdict->ok);
  CHECK(verdict->start_seq == 15);
  CHECK(verdict->start_hash == (*result)->info.head_hash);
  auto offline = VerifyAuditChainFile(r.db.url());
  REQUIRE(offline.ok());
  CHECK(offline->ok);
  auto file = VerifyAuditArchiveFile(o.out_path);
  REQUIRE(file.ok());
  CHECK(file->chain.ok);
  CHECK(file->info.head_hash == offline->start_hash);
  // The audit.archived event sits in the chain between the other replicas' appends.
  AuditFilter f;
  f.type = "audit.archived";
  auto events = r[2].ListAudit(f);
  REQUIRE(events.ok());
  REQUIRE(events->events.size() == 1);
  CHECK(events->events[0].detail["last_seq"] == 15);
}

TEST_CASE("replicas: after an archive, audit_events still refuses every other DELETE, UPDATE and TRUNCATE",
          "[store][.][pg][replicas][audit]") {
  Replicas r(1);
  TempDir dir;
  for (int i = 0; i < 6; ++i) {
    AuditEvent e;
    e.type = "call.allowed";
    REQUIRE(r[0].AppendAudit(e).ok());
  }
  AuditArchiveOptions o;
  o.out_path = dir.File("a.jsonl");
  o.through_seq = 3;
  REQUIRE(r[0].ArchiveAudit(o).ok());
  // As the superuser (privileges do not stop it): only the triggers stand in the way.
  CHECK_THROWS_WITH(r.db.Exec("DELETE FROM audit_events WHERE seq = 4"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(r.db.Exec("DELETE FROM audit_events"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(r.db.Exec("UPDATE audit_events SET actor = 'x' WHERE seq = 5"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(r.db.Exec("TRUNCATE audit_events"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(r.db.Exec("DELETE FROM audit_anchors"), Catch::Contains("append-only"));
  const std::string zeros(64, '0');
  CHECK_THROWS_WITH(r.db.Exec("INSERT INTO audit_anchors (seq, hash, first_seq, start_hash, count, archived_at) "
                              "SELECT 5, '" + zeros + "', 4, hash, 2, 0 FROM audit_anchors"),
                    Catch::Contains("existing audit row"));
  auto verdict = r[0].VerifyAuditChain({});
  REQUIRE(verdict.ok());
  CHECK(verdict->ok);
  CHECK(verdict->rows_checked == 4);  // seq 4..6 and the audit.archived event
}

namespace {

// `url` with its user replaced by `user`.
std::string WithUser(const std::string& url, const std::string& user) {
  const size_t host = url.find("://") + 3;
  const size_t at = url.find('@', host);
  const size_t slash = url.find('/', host);
  const size_t from = at != std::string::npos && at < slash ? at + 1 : host;
  return url.substr(0, host) + user + "@" + url.substr(from);
}

}  // namespace

TEST_CASE("replicas: a role that may not update or delete the audit tables serves, and cannot prune them",
          "[store][.][pg][replicas][audit]") {
  TempDir dir;
  FakeClock clock;
  PgTestDatabase db;
  char role[32];
  std::snprintf(role, sizeof(role), "hg_app_%08x", static_cast<unsigned>(std::random_device{}()));
  {
    // The owner (the test server's superuser) creates and migrates the schema.
    auto owner = Store::Open(db.url(), clock);
    REQUIRE(owner.ok());
    AuditEvent e;
    e.type = "call.allowed";
    for (int i = 0; i < 4; ++i) REQUIRE((*owner)->AppendAudit(e).ok());
  }
  // The README's least-privilege grants.
  db.Exec(std::string("CREATE ROLE ") + role + " LOGIN");
  db.Exec(std::string("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ") + role);
  db.Exec(std::string("REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_anchors FROM ") + role);
  db.Exec(std::string("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ") + role);
  const std::string app_url = WithUser(db.url(), role);
  {
    auto app = Store::Open(app_url, clock);
    INFO(app.status().ToString());
    REQUIRE(app.ok());
    auto created = (*app)->CreatePending(Request(7));
    REQUIRE(created.ok());
    REQUIRE((*app)->Decide(Vote(created->id, "alice")).ok());
    REQUIRE((*app)->MarkExecuting(created->id).ok());

    AuditArchiveOptions o;
    o.out_path = dir.File("a.jsonl");
    o.through_seq = 2;
    auto archived = (*app)->ArchiveAudit(o);
    CHECK_FALSE(archived.ok());
    CHECK_THAT(archived.status().message(), Catch::Contains("permission denied"));
    CHECK_FALSE(std::filesystem::exists(o.out_path));
    auto verdict = (*app)->VerifyAuditChain({});
    REQUIRE(verdict.ok());
    CHECK(verdict->ok);
    CHECK(verdict->start_seq == 0);  // nothing was pruned
  }
  {
    pqxx::connection c(app_url);
    pqxx::nontransaction n(c);
    CHECK_THROWS_WITH(n.exec("DELETE FROM audit_events WHERE seq = 1"), Catch::Contains("permission denied"));
    CHECK_THROWS_WITH(n.exec("UPDATE audit_events SET actor = 'x'"), Catch::Contains("permission denied"));
  }
  db.Exec(std::string("DROP OWNED BY ") + role);
  pqxx::connection server(holdgate::testing::PgTestServerUrl());
  pqxx::nontransaction n(server);
  n.exec(std::string("DROP ROLE ") + role);
}

TEST_CASE("replicas: a call waiting on replica A wakes when replica B decides", "[store][.][pg][replicas][feed]") {
  StoreOptions options;
  options.feed_poll_ms = 60 * 1000;  // the poll must not be what delivers it: LISTEN/NOTIFY does
  Replicas r(2, options);
  auto created = r[0].CreatePending(Request(7));
  REQUIRE(created.ok());

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;  // guarded by mu
  const int listener = r[0].AddListener([&](const ChangeEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e.approval.id == created->id) seen.push_back(e.type + ":" + StateName(e.approval.state));
    cv.notify_all();
  });
  auto decided = r[1].Decide(Vote(created->id, "bob"));
  REQUIRE(decided.ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    const bool woke = cv.wait_for(lock, std::chrono::seconds(10), [&] {
      return std::find(seen.begin(), seen.end(), "approval.approved:approved") != seen.end();
    });
    CHECK(woke);
    // Each change once: the vote and the approval.
    CHECK(std::count(seen.begin(), seen.end(), "approval.vote:approved") == 1);
    CHECK(std::count(seen.begin(), seen.end(), "approval.approved:approved") == 1);
  }
  r[0].RemoveListener(listener);
}

TEST_CASE("replicas: the poll delivers what a lost notification missed", "[store][.][pg][replicas][feed]") {
  StoreOptions options;
  options.feed_poll_ms = 200;
  Replicas r(2, options);
  auto created = r[0].CreatePending(Request(8));
  REQUIRE(created.ok());
  std::mutex mu;
  std::condition_variable cv;
  bool approved = false;  // guarded by mu
  r[0].AddListener([&](const ChangeEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e.approval.id == created->id && e.type == "approval.approved") approved = true;
    cv.notify_all();
  });
  // No NOTIFY this time (as when the LISTEN connection was down): only the poll can find it.
  r.db.Exec("ALTER TABLE audit_events DISABLE TRIGGER audit_events_notify");
  REQUIRE(r[1].Decide(Vote(created->id, "carol")).ok());
  std::unique_lock<std::mutex> lock(mu);
  CHECK(cv.wait_for(lock, std::chrono::seconds(10), [&] { return approved; }));
}

TEST_CASE("replicas: an approval left executing by a dead replica fails after the lease, never re-runs",
          "[store][.][pg][replicas][lease]") {
  PgTestDatabase db;
  FakeClock clock;
  StoreOptions options;
  options.executing_lease_ms = 600;
  auto a = Store::Open(db.url(), clock, options);
  REQUIRE(a.ok());
  auto b = Store::Open(db.url(), clock, options);
  REQUIRE(b.ok());
  auto created = (*a)->CreatePending(Request(9));
  REQUIRE(created.ok());
  REQUIRE((*b)->Decide(Vote(created->id, "bob")).ok());
  REQUIRE((*a)->MarkExecuting(created->id).ok());
  // Replica A is alive: B must not touch its call however long it runs.
  auto early = (*b)->RecoverAfterCrash();
  REQUIRE(early.ok());
  CHECK(*early == 0);

  // A dies (its heartbeat stops: the connection-less equivalent of kill -9 for the store). The
  // destructor leaves its replica row behind because it still had a call executing.
  a->reset();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  Approval now;
  for (;;) {
    auto got = (*b)->Get(created->id);
    REQUIRE(got.ok());
    now = *got;
    if (now.state != State::kExecuting || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling the database for B's sweep
  }
  CHECK(now.state == State::kFailed);
  CHECK(now.reason == "unknown: holdgate stopped while the tool was running; not re-run");
  CHECK((*b)->MarkExecuting(created->id).status().code() == Code::kConflict);
  AuditFilter f;
  f.approval_id = created->id;
  f.type = "approval.executing";
  CHECK((*b)->ListAudit(f)->events.size() == 1);
}

TEST_CASE("replicas: each outbox row is claimed by one replica", "[store][.][pg][replicas][outbox]") {
  Replicas r(3);
  for (int i = 0; i < 60; ++i) {
    NewOutboxRow row;
    row.event_type = "test";
    row.target = "webhook:t";
    row.payload = Json{{"i", i}};
    REQUIRE(r[i % 3].EnqueueOutbox(row).ok());
  }
  std::mutex mu;
  std::vector<int64_t> claimed;  // guarded by mu
  RunTogether(9, [&](int i) {
    for (;;) {
      auto rows = r[i % 3].ClaimDueOutbox(r.clock.NowMs(), 4);
      if (!rows.ok()) std::abort();
      if (rows->empty()) return;
      std::lock_guard<std::mutex> lock(mu);
      for (const OutboxRow& o : *rows) claimed.push_back(o.id);
    }
  });
  std::set<int64_t> unique(claimed.begin(), claimed.end());
  CHECK(claimed.size() == 60);
  CHECK(unique.size() == 60);
}

TEST_CASE("replicas: the audit tables refuse UPDATE, DELETE and TRUNCATE", "[store][.][pg][audit]") {
  Replicas r(1);
  REQUIRE(r[0].CreatePending(Request(3)).ok());
  CHECK_THROWS_WITH(r.db.Exec("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(r.db.Exec("DELETE FROM audit_events WHERE seq = 1"), Catch::Contains("append-only"));
  CHECK_THROWS_WITH(r.db.Exec("TRUNCATE audit_events"), Catch::Contains("append-only"));
  auto verdict = r[0].VerifyAuditChain({});
  REQUIRE(verdict.ok());
  CHECK(verdict->ok);
}

TEST_CASE("db copy: an SQLite database moves to PostgreSQL with its audit chain verifiable", "[store][.][pg][copy]") {
  TempDir dir;
  FakeClock clock;
  const std::string file = dir.File("holdgate.db");
  std::string id_completed, id_pending, id_executing;
  {
    auto opened = Store::Open(file, clock);
    REQUIRE(opened.ok());
    Store& s = **opened;
    auto a = s.CreatePending(Request(1));
    REQUIRE(a.ok());
    id_completed = a->id;
    REQUIRE(s.Decide(Vote(a->id, "bob")).ok());
    REQUIRE(s.MarkExecuting(a->id).ok());
    REQUIRE(s.Complete(a->id, Json{{"ok", true}}, false).ok());
    REQUIRE(s.AddComment(a->id, "carol", "looked fine").ok());
    clock.Advance(1000);
    auto b = s.CreatePending(Request(2));
    REQUIRE(b.ok());
    id_pending = b->id;
    NewOutboxRow row;
    row.event_type = "reminder";
    row.target = "webhook:ops";
    row.payload = Json{{"x", 1}};
    row.approval_id = b->id;
    REQUIRE(s.EnqueueOutbox(row).ok());
    auto c = s.CreatePending(Request(3));
    REQUIRE(c.ok());
    id_executing = c->id;
    REQUIRE(s.Decide(Vote(c->id, "bob")).ok());
    REQUIRE(s.MarkExecuting(c->id).ok());  // holdgate stopped while it ran
  }
  auto before = VerifyAuditChainFile(file);
  REQUIRE(before.ok());
  REQUIRE(before->ok);

  PgTestDatabase db;
  auto copied = CopyDatabase(file, db.url());
  INFO(copied.status().ToString());
  REQUIRE(copied.ok());
  CHECK(copied->approvals == 3);
  CHECK(copied->votes == 2);
  CHECK(copied->comments == 1);
  CHECK(copied->audit_events == before->rows_checked);
  CHECK(copied->audit_head_seq == before->head_seq);

  auto after = VerifyAuditChainFile(db.url());  // what `holdgate audit verify --db URL` runs
  REQUIRE(after.ok());
  CHECK(after->ok);
  CHECK(after->head_hash == before->head_hash);

  // Copying again into the filled database is refused, and writes nothing.
  CHECK(CopyDatabase(file, db.url()).status().code() == Code::kAlreadyExists);

  StoreOptions options;
  options.executing_lease_ms = 300;
  auto pg = Store::Open(db.url(), clock, options);
  REQUIRE(pg.ok());
  CHECK((*pg)->Get(id_completed)->state == State::kCompleted);
  CHECK((*pg)->Get(id_completed)->votes.size() == 1);
  CHECK((*pg)->ListComments(id_completed)->size() == 1);
  CHECK((*pg)->Get(id_pending)->state == State::kPending);
  OutboxFilter f;
  f.approval_id = id_pending;
  CHECK((*pg)->ListOutbox(f)->size() == 1);
  // The call left executing in the file is failed by the lease (its replica is gone), not re-run.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while ((*pg)->Get(id_executing)->state == State::kExecuting && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK((*pg)->Get(id_executing)->state == State::kFailed);
  // New writes continue the copied chain.
  REQUIRE((*pg)->CreatePending(Request(4)).ok());
  auto extended = (*pg)->VerifyAuditChain({});
  REQUIRE(extended.ok());
  CHECK(extended->ok);
  CHECK(extended->head_seq > before->head_seq);
}

TEST_CASE("replicas: identical calls arriving at once on three replicas share one approval",
          "[store][.][pg][replicas]") {
  Replicas r(3);
  constexpr int kCalls = 24;
  std::mutex mu;
  std::set<std::string> ids;
  std::atomic<int> created{0}, failed{0};
  RunTogether(kCalls, [&](int i) {
    auto out = r[i % 3].FindOrCreatePending(Request(42));
    if (!out.ok()) {
      failed.fetch_add(1);
      return;
    }
    if (out->created) created.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(out->approval.id);
  });
  CHECK(failed.load() == 0);
  CHECK(created.load() == 1);
  CHECK(ids.size() == 1);
  auto page = r[1].List(ApprovalFilter{});
  REQUIRE(page.ok());
  CHECK(page->approvals.size() == 1);
  AuditFilter created_events;
  created_events.type = "approval.created";
  auto audit = r[2].ListAudit(created_events);
  REQUIRE(audit.ok());
  CHECK(audit->events.size() == 1);
}

TEST_CASE("replicas: rate-limit counters are one quota for every replica", "[store][.][pg][replicas]") {
  Replicas r(2);
  REQUIRE(r[0].RateCounters() != nullptr);
  const std::vector<CounterSlot> call = {{"fit|minute|principal|alice", 60'000, 60'000, 5},
                                         {"all|hour|global|", 0, 3'600'000, 100}};
  std::atomic<int> allowed{0}, refused{0}, failed{0};
  RunTogether(12, [&](int i) {
    auto out = r[i % 2].RateCounters()->Count(call, /*force=*/false);
    if (!out.ok()) failed.fetch_add(1);
    else if (out->has_value()) refused.fetch_add(1);
    else allowed.fetch_add(1);
  });
  CHECK(failed.load() == 0);
  CHECK(allowed.load() == 5);
  CHECK(refused.load() == 7);

  // All or nothing: the refused calls left the hourly counter alone. 95 more fit in it, then the
  // per-minute slot of another window is not what stops the next one.
  const std::vector<CounterSlot> hourly_only = {call[1]};
  for (int i = 0; i < 95; ++i) REQUIRE_FALSE(r[i % 2].RateCounters()->Count(hourly_only, false)->has_value());
  auto over = r[1].RateCounters()->Count(hourly_only, false);
  REQUIRE(over.ok());
  REQUIRE(over->has_value());
  CHECK(**over == 0);

  // Given back on one replica, usable on the other; shadow counts past the max and still reports.
  REQUIRE(r[0].RateCounters()->Uncount({call[0]}).ok());
  auto again = r[1].RateCounters()->Count({call[0]}, false);
  REQUIRE(again.ok());
  CHECK_FALSE(again->has_value());
  auto shadow = r[0].RateCounters()->Count({call[0]}, /*force=*/true);
  REQUIRE(shadow.ok());
  CHECK(shadow->has_value());
  auto still_full = r[1].RateCounters()->Count({call[0]}, false);
  REQUIRE(still_full.ok());
  CHECK(still_full->has_value());
}


TEST_CASE("replicas: each replica's checkpoint file verifies the shared chain, and finds a cut end",
          "[store][.][pg][replicas][audit]") {
  Replicas r(2);
  TempDir dir;
  const std::string key = "replica-checkpoint-key-0123456789abcdef";
  std::vector<std::string> files = {dir.File("r0.jsonl"), dir.File("r1.jsonl")};
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < 2; ++i) {
      AuditEvent e;
      e.type = "call.allowed";
      e.principal = "agent";
      e.tool = "list_jobs";
      e.decision = "allow";
      REQUIRE(r[i].AppendAudit(e).ok());
      AuditCheckpointConfig cfg;
      cfg.enabled = true;
      cfg.key = key;
      cfg.every_ms = 60 * 60 * 1000;
      cfg.file = files[i];
      AuditCheckpointer cp(r[i], r.clock, cfg);
      auto written = cp.CheckpointNow();
      INFO(written.status().ToString());
      REQUIRE(written.ok());
      REQUIRE(written->has_value());
      r.clock.Advance(1000);
    }
  }
  AuditVerifyOptions with_file;
  with_file.checkpoint_key = key;
  for (const std::string& file : files) {
    with_file.checkpoint_file = file;
    auto offline = VerifyAuditChainFile(r.db.url(), with_file);
    REQUIRE(offline.ok());
    INFO(offline->why);
    CHECK(offline->ok);
    CHECK(offline->file_checkpoints == 2);
    auto live = r[1].VerifyAuditChain(with_file);
    REQUIRE(live.ok());
    CHECK(live->ok);
  }

  // Cut the end of the chain (as a superuser could): the chain left is sound on its own, but the
  // last replica's file holds a signed head past its end.
  r.db.Exec("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_delete");
  r.db.Exec("DELETE FROM audit_events WHERE seq >= (SELECT max(seq) - 2 FROM audit_events)");
  AuditVerifyOptions key_only;
  key_only.checkpoint_key = key;
  auto without_file = VerifyAuditChainFile(r.db.url(), key_only);
  REQUIRE(without_file.ok());
  CHECK(without_file->ok);
  with_file.checkpoint_file = files[1];
  auto cut = VerifyAuditChainFile(r.db.url(), with_file);
  REQUIRE(cut.ok());
  CHECK_FALSE(cut->ok);
  CHECK_THAT(cut->why, Catch::Contains("rows were cut off the end"));

  with_file.checkpoint_file = dir.File("missing.jsonl");
  CHECK(VerifyAuditChainFile(r.db.url(), with_file).status().code() == Code::kNotFound);
}


}  // namespace holdgate::store::testing
