#include "store/backup.h"

#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "common/trace.h"
#include "store/audit.h"
#include "store_fixture.h"

namespace holdgate::store::testing {

TEST_CASE("backup: a consistent, verifiable copy while another thread keeps writing", "[store][backup]") {
  StoreFixture f;
  REQUIRE(f.store->CreatePending(StoreFixture::Request()).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    while (!stop) {
      AuditEvent ev;
      ev.type = "call.allowed";
      ev.actor = "agent-1";
      if (f.store->AppendAudit(ev).ok()) ++written;
    }
  });
  while (written < 50) std::this_thread::yield();
  for (int i = 0; i < 3; ++i) {
    const std::string copy = f.dir.File("copy-" + std::to_string(i) + ".db");
    auto r = BackupDatabase(f.path, copy);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    CHECK(r->approvals == 1);
    CHECK(r->audit_head_seq >= 2);
    CHECK(r->bytes > 0);
    struct stat st;
    REQUIRE(::stat(copy.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK_FALSE(std::filesystem::exists(copy + ".partial"));
    auto verdict = VerifyAuditChainFile(copy);
    REQUIRE(verdict.ok());
    CHECK(verdict->ok);
    CHECK(verdict->head_seq == r->audit_head_seq);
  }
  stop = true;
  writer.join();
}

TEST_CASE("backup: never overwrites, and refuses what is not a holdgate database", "[store][backup]") {
  StoreFixture f;
  const std::string copy = f.dir.File("copy.db");
  REQUIRE(BackupDatabase(f.path, copy).ok());
  auto again = BackupDatabase(f.path, copy);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == Code::kAlreadyExists);
  CHECK(BackupDatabase(f.dir.File("missing.db"), f.dir.File("x.db")).status().code() == Code::kNotFound);
  {
    std::FILE* junk = std::fopen(f.dir.File("junk.db").c_str(), "w");
    std::fputs("not sqlite", junk);
    std::fclose(junk);
  }
  auto bad = BackupDatabase(f.dir.File("junk.db"), f.dir.File("y.db"));
  CHECK_FALSE(bad.ok());
  CHECK_FALSE(std::filesystem::exists(f.dir.File("y.db")));
}

TEST_CASE("store: CheckWritable takes the write lock on a normal database", "[store][pg]") {
  StoreFixture f;
  CHECK(f.store->CheckWritable().ok());
}

TEST_CASE("audit: an event appended while a trace is current carries its trace id", "[store][trace][pg]") {
  StoreFixture f;
  AuditEvent ev;
  ev.type = "call.allowed";
  ev.actor = "agent-1";
  {
    trace::ScopedTrace scope("4bf92f3577b34da6a3ce929d0e0e4736");
    auto traced = f.store->AppendAudit(ev);
    REQUIRE(traced.ok());
    CHECK(traced->detail["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736");
  }
  auto plain = f.store->AppendAudit(ev);
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->detail.contains("trace_id"));
  auto verdict = f.store->VerifyAuditChain();
  REQUIRE(verdict.ok());
  CHECK(verdict->ok);
}

}  // namespace holdgate::store::testing
