#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>

#include <fstream>

#include "common/crypto.h"
#include "store_fixture.h"

namespace holdgate::store::testing {
namespace {

// A realistic little history: calls allowed and denied, a held call approved and run, one
// rejected, one expired. Returns the number of audit rows.
int64_t WriteHistory(StoreFixture& fx) {
  AuditEvent allowed;
  allowed.type = "call.allowed";
  allowed.principal = "agent-1";
  allowed.tool = "list_jobs";
  allowed.rule = "default";
  allowed.decision = "allow";
  REQUIRE(fx.store->AppendAudit(allowed).ok());
  Approval a = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 1}}));
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
  REQUIRE(fx.store->MarkExecuting(a.id).ok());
  REQUIRE(fx.store->Complete(a.id, Json{{"content", "cancelled"}}, false).ok());
  Approval b = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 2}}));
  REQUIRE(fx.store->Decide(StoreFixture::Vote(b.id, "bob", false, "nightly backup")).ok());
  AuditEvent denied = allowed;
  denied.type = "call.denied";
  denied.tool = "drop_db";
  denied.decision = "deny";
  denied.detail = Json{{"bad utf8", std::string("\xff\xfe ok")}, {"pi", 3.14159}, {"n", -0.0}};
  REQUIRE(fx.store->AppendAudit(denied).ok());
  NewApproval quick = StoreFixture::Request("cancel_job", Json{{"job_id", 3}});
  quick.timeout_ms = 10;
  fx.Create(quick);
  fx.clock.Advance(10);
  REQUIRE(fx.store->ExpireDue(fx.clock.NowMs()).ok());
  auto verdict = fx.store->VerifyAuditChain();
  REQUIRE(verdict.ok());
  REQUIRE(verdict->ok);
  return verdict->head_seq;
}

void DropTriggers(SQLite::Database& db) {
  db.exec("DROP TRIGGER audit_events_no_update");
  db.exec("DROP TRIGGER audit_events_no_delete");
}

AuditVerdict VerifyOffline(const std::string& path) {
  auto v = VerifyAuditChainFile(path);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  return *v;
}

}  // namespace

TEST_CASE("the audit chain links every row and verifies online and offline", "[store][audit]") {
  StoreFixture fx;
  const int64_t rows = WriteHistory(fx);
  CHECK(rows == 12);
  auto page = fx.store->ListAudit(AuditFilter{});
  REQUIRE(page.ok());
  REQUIRE(page->events.size() == static_cast<size_t>(rows));
  CHECK(page->events[0].prev_hash == kGenesisHash);
  for (size_t i = 0; i < page->events.size(); ++i) {
    const AuditEvent& e = page->events[i];
    CHECK(e.seq == static_cast<int64_t>(i + 1));
    CHECK(e.hash == Sha256Hex(AuditCanonicalForm(e)));
    if (i > 0) CHECK(e.prev_hash == page->events[i - 1].hash);
  }
  AuditVerdict offline = VerifyOffline(fx.path);  // beside the open store
  CHECK(offline.ok);
  CHECK(offline.rows_checked == rows);
  CHECK(offline.head_hash == page->events.back().hash);
}

TEST_CASE("triggers refuse UPDATE and DELETE on the audit table", "[store][audit]") {
  StoreFixture fx;
  WriteHistory(fx);
  fx.store.reset();
  SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
  CHECK_THROWS_WITH(raw.exec("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"),
                    Catch::Contains("append-only"));
  CHECK_THROWS_WITH(raw.exec("DELETE FROM audit_events WHERE seq = 2"), Catch::Contains("append-only"));
}

TEST_CASE("tampering with the audit log is detected and the row named", "[store][audit]") {
  StoreFixture fx;
  const int64_t rows = WriteHistory(fx);
  fx.store.reset();

  SECTION("editing a row's content") {
    {
      SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
      DropTriggers(raw);
      raw.exec("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3");
    }
    AuditVerdict v = VerifyOffline(fx.path);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_seq == 3);
    CHECK_THAT(v.why, Catch::Contains("hash mismatch"));
  }
  SECTION("editing a row and recomputing its hash breaks the next link") {
    {
      SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
      DropTriggers(raw);
      SQLite::Statement q(raw, std::string("SELECT seq, ts, type, approval_id, principal, actor, via, tool, rule, "
                                           "decision, detail, prev_hash, hash FROM audit_events WHERE seq = 5"));
      REQUIRE(q.executeStep());
      AuditEvent e;
      e.seq = q.getColumn(0).getInt64();
      e.ts_ms = q.getColumn(1).getInt64();
      e.type = q.getColumn(2).getString();
      e.approval_id = q.getColumn(3).getString();
      e.principal = q.getColumn(4).getString();
      e.actor = "mallory";
      e.via = q.getColumn(6).getString();
      e.tool = q.getColumn(7).getString();
      e.rule = q.getColumn(8).getString();
      e.decision = q.getColumn(9).getString();
      e.detail = Json::parse(q.getColumn(10).getString());
      e.prev_hash = q.getColumn(11).getString();
      q.reset();
      SQLite::Statement up(raw, "UPDATE audit_events SET actor = ?, hash = ? WHERE seq = 5");
      up.bind(1, e.actor);
      up.bind(2, Sha256Hex(AuditCanonicalForm(e)));
      up.exec();
    }
    AuditVerdict v = VerifyOffline(fx.path);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_seq == 6);
    CHECK_THAT(v.why, Catch::Contains("seq 5"));
  }
  SECTION("deleting a row") {
    {
      SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
      DropTriggers(raw);
      raw.exec("DELETE FROM audit_events WHERE seq = 4");
    }
    AuditVerdict v = VerifyOffline(fx.path);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_seq == 5);
    CHECK_THAT(v.why, Catch::Contains("seq 4 missing"));
    CHECK(v.rows_checked == 4);
  }
  SECTION("swapping two rows") {
    {
      SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
      DropTriggers(raw);
      raw.exec("UPDATE audit_events SET seq = -1 WHERE seq = 7");
      raw.exec("UPDATE audit_events SET seq = 7 WHERE seq = 8");
      raw.exec("UPDATE audit_events SET seq = 8 WHERE seq = -1");
    }
    AuditVerdict v = VerifyOffline(fx.path);
    CHECK_FALSE(v.ok);
    CHECK(v.broken_seq == 7);
  }
  SECTION("the live store's verifier sees it too") {
    {
      SQLite::Database raw(fx.path, SQLite::OPEN_READWRITE);
      DropTriggers(raw);
      raw.exec("UPDATE audit_events SET detail = '{\"reason\":\"fine\"}' WHERE seq = " + std::to_string(rows));
    }
    fx.Reopen();
    auto v = fx.store->VerifyAuditChain();
    REQUIRE(v.ok());
    CHECK_FALSE(v->ok);
    CHECK(v->broken_seq == rows);
  }
}

TEST_CASE("offline verify refuses missing files and non-holdgate databases", "[store][audit]") {
  TempDir dir;
  CHECK(VerifyAuditChainFile(dir.File("nope.db")).status().code() == Code::kNotFound);
  {
    SQLite::Database other(dir.File("other.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    other.exec("CREATE TABLE t (x INTEGER)");
  }
  CHECK(VerifyAuditChainFile(dir.File("other.db")).status().code() == Code::kIo);
  { std::ofstream(dir.File("junk.db")) << "this is not sqlite at all, just text padding padding padding"; }
  CHECK(VerifyAuditChainFile(dir.File("junk.db")).status().code() == Code::kIo);
}

TEST_CASE("audit filters match exactly and page through every row once", "[store][audit][pg]") {
  StoreFixture fx;
  WriteHistory(fx);
  AuditFilter by_type;
  by_type.type = "approval.";
  auto approvals = fx.store->ListAudit(by_type);
  REQUIRE(approvals.ok());
  for (const auto& e : approvals->events) CHECK(e.type.rfind("approval.", 0) == 0);
  CHECK(approvals->events.size() == 10);
  by_type.type = "approval.*";
  CHECK(fx.store->ListAudit(by_type)->events.size() == 10);

  AuditFilter by_actor;
  by_actor.actor = "bob";
  auto bob = fx.store->ListAudit(by_actor);
  REQUIRE(bob.ok());
  REQUIRE(bob->events.size() == 2);
  CHECK(bob->events[0].type == "approval.vote");
  CHECK(bob->events[1].type == "approval.rejected");

  AuditFilter by_tool;
  by_tool.tool = "drop_db";
  CHECK(fx.store->ListAudit(by_tool)->events.size() == 1);

  for (const std::string evil : {"' OR 1=1 --", "%", "approval.%", "*' OR '1'='1", "\" OR \"\"=\""}) {
    AuditFilter f;
    f.type = evil;
    CHECK(fx.store->ListAudit(f)->events.empty());
    f = AuditFilter{};
    f.actor = evil;
    CHECK(fx.store->ListAudit(f)->events.empty());
    f = AuditFilter{};
    f.principal = evil;
    CHECK(fx.store->ListAudit(f)->events.empty());
    f = AuditFilter{};
    f.approval_id = evil;
    CHECK(fx.store->ListAudit(f)->events.empty());
  }

  for (bool newest_first : {false, true}) {
    AuditFilter page;
    page.limit = 4;
    page.newest_first = newest_first;
    std::vector<int64_t> seqs;
    for (int guard = 0; guard < 20; ++guard) {
      auto got = fx.store->ListAudit(page);
      REQUIRE(got.ok());
      for (const auto& e : got->events) seqs.push_back(e.seq);
      if (got->next_cursor.empty()) break;
      page.cursor = got->next_cursor;
    }
    REQUIRE(seqs.size() == 12);
    for (size_t i = 0; i < seqs.size(); ++i) CHECK(seqs[i] == (newest_first ? 12 - static_cast<int64_t>(i) : static_cast<int64_t>(i) + 1));
  }
  AuditFilter bad;
  bad.cursor = "not-a-cursor";
  CHECK(fx.store->ListAudit(bad).status().code() == Code::kInvalidArgument);

  AuditFilter window;
  window.from_ms = fx.clock.NowMs();  // only the expiry happened after the clock moved
  auto late = fx.store->ListAudit(window);
  REQUIRE(late.ok());
  REQUIRE(late->events.size() == 1);
  CHECK(late->events[0].type == "approval.expired");
}

}  // namespace holdgate::store::testing
