// Schema migrations on a database written by an older holdgate: migration 004 rebuilds the
// approvals table (for the `lapsed` state and `use_within`) and must keep every row, every vote's
// reference and the audit chain.
#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>

#include "common/crypto.h"
#include "common/embedded.h"
#include "unit/store/store_fixture.h"

namespace holdgate::store {
namespace {

using testing::StoreFixture;
using testing::TempDir;

// Applies the embedded migrations up to and including `last` by hand, as that holdgate did.
void ApplyUpTo(SQLite::Database& db, const std::string& last) {
  db.exec("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, sha256 TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT");
  for (const EmbeddedFile& m : EmbeddedMigrations()) {
    const std::string version(m.path);
    if (version > last) break;
    db.exec(std::string(m.content));
    SQLite::Statement rec(db, "INSERT INTO schema_migrations VALUES (?, ?, 1)");
    rec.bind(1, version);
    rec.bind(2, Sha256Hex(m.content));
    rec.exec();
  }
}

}  // namespace

TEST_CASE("migration 004 keeps approvals, votes and comments of an older database", "[store][migration]") {
  TempDir dir;
  const std::string path = dir.File("old.db");
  holdgate::testing::FakeClock clock;
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    ApplyUpTo(db, "003_outbox_by_approval.sql");
    db.exec("INSERT INTO approvals (id, principal, tool, arguments, fingerprint, state, created_at, updated_at, "
            "decided_at, decided_by, decided_via) VALUES ('apr_0000000000010000000000000000000a', 'agent-1', "
            "'cancel_job', '{\"job_id\":1}', '" + std::string(64, 'f') + "', 'approved', 1, 2, 2, 'alice', 'ui')");
    db.exec("INSERT INTO approvals (id, principal, tool, arguments, fingerprint, state, created_at, updated_at) "
            "VALUES ('apr_0000000000020000000000000000000b', 'agent-1', 'cancel_job', '{\"job_id\":2}', '" +
            std::string(64, 'e') + "', 'pending', 3, 3)");
    db.exec("INSERT INTO votes (approval_id, reviewer, decision, via, at) VALUES "
            "('apr_0000000000010000000000000000000a', 'alice', 'approve', 'ui', 2)");
    db.exec("INSERT INTO comments (approval_id, author, body, at) VALUES "
            "('apr_0000000000020000000000000000000b', 'bob', 'checking', 4)");
  }
  auto opened = Store::Open(path, clock);
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  Store& store = **opened;
  auto approved = store.Get("apr_0000000000010000000000000000000a");
  REQUIRE(approved.ok());
  CHECK(approved->state == State::kApproved);
  CHECK(approved->use_within_ms == 0);  // written before use_within: never lapses
  CHECK(approved->UseByMs() == 0);
  REQUIRE(approved->votes.size() == 1);
  CHECK(approved->votes[0].reviewer == "alice");
  auto comments = store.ListComments("apr_0000000000020000000000000000000b");
  REQUIRE(comments.ok());
  REQUIRE(comments->size() == 1);
  CHECK((*comments)[0].body == "checking");
  auto lapsed = store.LapseDue(clock.NowMs());
  REQUIRE(lapsed.ok());
  CHECK(lapsed->empty());
  // Foreign keys are on again after the migration: a vote for a missing approval is refused.
  CHECK_FALSE(store.Decide(StoreFixture::Vote("apr_0000000000030000000000000000000c", "bob", true)).ok());
  {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("SELECT count(*) FROM schema_migrations WHERE version = '004_approval_lapse.sql'").getInt() == 1);
    CHECK_FALSE(db.tableExists("approvals_new"));
  }
}

TEST_CASE("lapsed is a state the store accepts only from approved, and a terminal one", "[store][migration]") {
  StoreFixture fx;
  NewApproval n = StoreFixture::Request();
  n.use_within_ms = 1000;
  Approval a = fx.Create(n);
  CHECK(fx.store->LapseDue(fx.clock.NowMs() + 10'000)->empty());  // pending never lapses
  REQUIRE(fx.store->Decide(StoreFixture::Vote(a.id, "alice", true)).ok());
  fx.clock.Advance(1000);
  auto lapsed = fx.store->LapseDue(fx.clock.NowMs());
  REQUIRE(lapsed.ok());
  REQUIRE(lapsed->size() == 1);
  CHECK((*lapsed)[0].state == State::kLapsed);
  CHECK(IsTerminal(State::kLapsed));
  CHECK(IsDecided(State::kLapsed));
  CHECK_FALSE(fx.store->MarkExecuting(a.id).ok());
  CHECK_FALSE(fx.store->Cancel(a.id, "late").ok());
  ApprovalFilter lapsed_only;
  lapsed_only.states = {State::kLapsed};
  auto page = fx.store->List(lapsed_only);
  REQUIRE(page.ok());
  REQUIRE(page->approvals.size() == 1);
  CHECK(page->approvals[0].id == a.id);
}

}  // namespace holdgate::store
