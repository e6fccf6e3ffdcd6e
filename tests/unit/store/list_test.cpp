#include <catch2/catch.hpp>

#include <set>

#include "store_fixture.h"

namespace holdgate::store::testing {
namespace {

std::vector<Approval> ListAll(Store& store, ApprovalFilter f) {
  std::vector<Approval> out;
  for (int guard = 0; guard < 1000; ++guard) {
    auto page = store.List(f);
    REQUIRE(page.ok());
    for (auto& a : page->approvals) out.push_back(std::move(a));
    if (page->next_cursor.empty()) break;
    f.cursor = page->next_cursor;
  }
  return out;
}

}  // namespace

TEST_CASE("list filters by state, tool, principal and time, newest first", "[store][list][pg]") {
  StoreFixture fx;
  const int64_t t0 = fx.clock.NowMs();
  Approval a = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 1}}, "agent-1"));
  fx.clock.Advance(1000);
  Approval b = fx.Create(StoreFixture::Request("delete_model", Json{{"id", "m"}}, "agent-2"));
  fx.clock.Advance(1000);
  Approval c = fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 2}}, "agent-2"));
  REQUIRE(fx.store->Decide(StoreFixture::Vote(c.id, "alice", false, "no")).ok());

  auto all = ListAll(*fx.store, ApprovalFilter{});
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == c.id);
  CHECK(all[1].id == b.id);
  CHECK(all[2].id == a.id);
  CHECK(all[0].votes.size() == 1);

  ApprovalFilter pending;
  pending.states = {State::kPending};
  auto p = ListAll(*fx.store, pending);
  REQUIRE(p.size() == 2);
  CHECK(p[0].id == b.id);

  ApprovalFilter decided;
  decided.states = {State::kRejected, State::kExpired};
  REQUIRE(ListAll(*fx.store, decided).size() == 1);

  ApprovalFilter tool;
  tool.tool = "cancel_job";
  CHECK(ListAll(*fx.store, tool).size() == 2);
  ApprovalFilter who;
  who.principal = "agent-2";
  who.tool = "cancel_job";
  auto w = ListAll(*fx.store, who);
  REQUIRE(w.size() == 1);
  CHECK(w[0].id == c.id);

  ApprovalFilter window;
  window.created_from_ms = t0 + 1000;
  window.created_to_ms = t0 + 2000;
  auto in_window = ListAll(*fx.store, window);
  REQUIRE(in_window.size() == 1);
  CHECK(in_window[0].id == b.id);
}

TEST_CASE("list filters with SQL metacharacters return nothing unexpected", "[store][list][pg]") {
  StoreFixture fx;
  fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 1}}, "agent-1"));
  fx.Create(StoreFixture::Request("delete_model", Json{{"id", "m"}}, "agent-2"));
  Approval evil = fx.Create(StoreFixture::Request("x' OR 1=1 --", Json::object(), "agent-3"));
  for (const std::string s : {"' OR 1=1 --", "' OR '1'='1", "%", "_", "cancel_%", "*", "\"; DROP TABLE approvals; --"}) {
    ApprovalFilter f;
    f.tool = s;
    CHECK(ListAll(*fx.store, f).empty());
    f = ApprovalFilter{};
    f.principal = s;
    CHECK(ListAll(*fx.store, f).empty());
  }
  ApprovalFilter exact;
  exact.tool = "x' OR 1=1 --";
  auto got = ListAll(*fx.store, exact);
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == evil.id);
  CHECK(ListAll(*fx.store, ApprovalFilter{}).size() == 3);  // nothing was dropped

  ApprovalFilter bad;
  bad.cursor = "' OR 1=1 --";
  CHECK(fx.store->List(bad).status().code() == Code::kInvalidArgument);
  auto reuse = fx.store->FindReusable("' OR 1=1 --", "' OR 1=1 --");
  REQUIRE(reuse.ok());
  CHECK_FALSE(reuse->has_value());
}

TEST_CASE("cursor paging returns every row exactly once, even with equal timestamps and new rows",
          "[store][list][pg]") {
  StoreFixture fx;
  std::set<std::string> created;
  for (int i = 0; i < 37; ++i) {
    if (i % 10 == 0) fx.clock.Advance(1);  // runs of identical created_at
    created.insert(fx.Create(StoreFixture::Request("cancel_job", Json{{"job_id", i}})).id);
  }
  ApprovalFilter f;
  f.limit = 5;
  std::vector<std::string> seen;
  int pages = 0;
  for (;; ++pages) {
    auto page = fx.store->List(f);
    REQUIRE(page.ok());
    CHECK(page->approvals.size() <= 5);
    for (const auto& a : page->approvals) seen.push_back(a.id);
    if (pages == 2) fx.Create(StoreFixture::Request("cancel_job", Json{{"late", true}}));  // newer: not in later pages
    if (page->next_cursor.empty()) break;
    f.cursor = page->next_cursor;
  }
  CHECK(pages == 7);
  CHECK(seen.size() == 37);
  CHECK(std::set<std::string>(seen.begin(), seen.end()) == created);
}

}  // namespace holdgate::store::testing
