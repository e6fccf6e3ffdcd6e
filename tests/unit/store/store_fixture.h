#pragma once
// Test fixture for store tests: a real SQLite file in a fresh temp directory and a FakeClock, or,
// with HOLDGATE_STORE_BACKEND=pg, a fresh database on the test PostgreSQL server
// (support/pg_test_db.h).
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"
#include "support/fake_clock.h"
#include "support/pg_test_db.h"

namespace holdgate::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hg_store_XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct StoreFixture {
  TempDir dir;
  holdgate::testing::FakeClock clock;
  // Declared before `store`: dropped after the store closed.
  std::unique_ptr<holdgate::testing::PgTestDatabase> pg =
      holdgate::testing::PgBackendSelected() ? std::make_unique<holdgate::testing::PgTestDatabase>() : nullptr;
  std::string path = pg ? pg->url() : dir.File("holdgate.db");
  std::unique_ptr<Store> store = MustOpen();

  std::unique_ptr<Store> MustOpen(const StoreOptions& options = {}) {
    auto opened = Store::Open(path, clock, options);
    INFO(opened.status().ToString());
    REQUIRE(opened.ok());
    return std::move(opened).value();
  }
  void Reopen() {
    store.reset();
    store = MustOpen();
  }

  static NewApproval Request(const std::string& tool = "cancel_job", Json args = Json{{"job_id", 42}},
                             const std::string& principal = "agent-1") {
    NewApproval n;
    n.principal = principal;
    n.session_id = "sess-1";
    n.tool = tool;
    n.arguments = std::move(args);
    n.rule = "tools.cancel_job";
    n.risk = Json{{"level", "critical"}};
    n.timeout_ms = 5 * 60 * 1000;
    return n;
  }

  Approval Create(const NewApproval& n = Request()) {
    auto a = store->CreatePending(n);
    INFO(a.status().ToString());
    REQUIRE(a.ok());
    return *a;
  }

  static DecisionInput Vote(const std::string& id, const std::string& reviewer, bool approve,
                            const std::string& reason = "") {
    DecisionInput d;
    d.id = id;
    d.reviewer = reviewer;
    d.via = "ui";
    d.approve = approve;
    d.reason = reason;
    return d;
  }

  // Audit events of one type (oldest first).
  std::vector<AuditEvent> Audit(const std::string& type, const std::string& approval_id = "") {
    AuditFilter f;
    f.type = type;
    f.approval_id = approval_id;
    f.limit = 10000;
    auto page = store->ListAudit(f);
    REQUIRE(page.ok());
    return page->events;
  }
};

}  // namespace holdgate::store::testing
