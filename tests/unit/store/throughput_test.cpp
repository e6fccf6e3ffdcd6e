#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "store_fixture.h"

namespace holdgate::store::testing {
namespace {

// Durable creations per second: each one is a committed BEGIN IMMEDIATE transaction holding the
// approval, its audit event and one outbox row, with a change-feed listener attached (the
// gateway's real path). Returns the best of `rounds` runs of `n` creations over `threads`.
double CreationsPerSecond(StoreFixture& fx, int n, int threads, int rounds) {
  fx.store->AddListener([](const ChangeEvent&) {});
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    std::atomic<int> failures{0};
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = t; i < n; i += threads) {
          NewApproval req = StoreFixture::Request(
              "cancel_job", Json{{"job_id", i}, {"round", r}, {"reason", "load test with a realistic payload"}});
          req.outbox.push_back(NewOutboxRow{"approval.created", "webhook:ops", Json{{"job_id", i}}, 0, ""});
          if (!fx.store->CreatePending(req).ok()) failures.fetch_add(1);
        }
      });
    }
    for (auto& w : workers) w.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(failures.load() == 0);
    best = std::max(best, n / secs);
  }
  return best;
}

}  // namespace

TEST_CASE("many concurrent creations all commit and keep the audit chain whole", "[store]") {
  // Speed is measured by scripts/bench.sh (no timing assertions in tests); this checks that the
  // group-commit path under concurrency loses and doubles nothing. The rate is printed for
  // information only.
  StoreFixture fx;
  const double single = CreationsPerSecond(fx, 1000, 1, 1);
  const double four = CreationsPerSecond(fx, 1000, 4, 1);
  std::printf("store throughput (info): %.0f creations/s (1 thread), %.0f creations/s (4 threads)\n", single, four);
  ApprovalFilter all;
  all.limit = 500;
  int listed = 0;
  while (true) {
    auto page = fx.store->List(all);
    REQUIRE(page.ok());
    listed += static_cast<int>(page->approvals.size());
    if (page->next_cursor.empty()) break;
    all.cursor = page->next_cursor;
  }
  CHECK(listed == 2000);
  auto verdict = fx.store->VerifyAuditChain();
  REQUIRE(verdict.ok());
  CHECK(verdict->ok);
  CHECK(verdict->rows_checked == 2 * 1000);
}

}  // namespace holdgate::store::testing

namespace holdgate::store::testing {

TEST_CASE("the WAL reaches the database file in the background, with no further commit", "[store]") {
  StoreFixture f;
  REQUIRE(f.pg == nullptr);  // SQLite's WAL; not run against PostgreSQL
  const auto db_size = [&] { return std::filesystem::file_size(f.path); };
  const auto before = db_size();
  // Far fewer pages than SQLite's auto-checkpoint (1,000): commits alone would not copy them.
  for (int i = 0; i < 20; ++i) f.Create(StoreFixture::Request("cancel_job", Json{{"job_id", i}}));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (db_size() == before && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // awaiting a file the store writes
  }
  CHECK(db_size() > before);
}

TEST_CASE("a steady stream of commits does not grow the WAL without bound", "[store]") {
  StoreFixture f;
  REQUIRE(f.pg == nullptr);
  const std::string wal = f.path + "-wal";
  // ~20 KiB of WAL per creation: 4,000 creations write ~80 MiB of frames, back to back from two
  // threads, so a PASSIVE checkpoint alone never finds the WAL idle and never lets it start over.
  std::atomic<int> failed{0};  // Catch2's assertions are not thread-safe: counted here, checked after
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&f, &failed, t] {
      for (int i = 0; i < 2000; ++i) {
        auto r = f.store->CreatePending(StoreFixture::Request("cancel_job", Json{{"job_id", t * 10000 + i}}));
        if (!r.ok()) ++failed;
      }
    });
  }
  for (auto& w : writers) w.join();
  CHECK(failed == 0);
  const auto wal_bytes = std::filesystem::file_size(wal);
  INFO("WAL bytes: " << wal_bytes);
  CHECK(wal_bytes < 40u * 1024 * 1024);
}

}  // namespace holdgate::store::testing
