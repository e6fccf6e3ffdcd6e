// Store::ToolActivitySince: per-tool counts of audited calls, denials and holds since a time.
#include <catch2/catch.hpp>

#include "store_fixture.h"

namespace holdgate::store {
namespace {

using testing::StoreFixture;

void Append(Store& s, const std::string& type, const std::string& tool, const std::string& decision) {
  AuditEvent e;
  e.type = type;
  e.tool = tool;
  e.principal = "agent-1";
  e.decision = decision;
  REQUIRE(s.AppendAudit(e).ok());
}

TEST_CASE("tool activity counts calls, denials and holds per tool since a time", "[store][audit][pg]") {
  StoreFixture f;
  Append(*f.store, "call.allowed", "list_jobs", "allow");  // before the window
  f.clock.Advance(60'000);
  const int64_t since = f.clock.NowMs();
  Append(*f.store, "call.allowed", "list_jobs", "allow");
  Append(*f.store, "call.allowed", "list_jobs", "allow");
  Append(*f.store, "call.denied", "whoami", "deny");
  Append(*f.store, "policy.checked", "whoami", "deny");  // not a call
  Append(*f.store, "policy.loaded", "", "reload");
  f.Create(StoreFixture::Request("cancel_job"));           // approval.created: a held call
  auto rejected = f.Create(StoreFixture::Request("cancel_job", Json{{"job_id", 7}}));
  REQUIRE(f.store->Decide(StoreFixture::Vote(rejected.id, "rita", false, "no")).ok());

  auto rows = f.store->ToolActivitySince(since);
  INFO(rows.status().ToString());
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].tool == "cancel_job");
  CHECK((*rows)[0].calls == 2);
  CHECK((*rows)[0].held == 2);
  CHECK((*rows)[0].denied == 1);  // the reviewer's rejection
  CHECK((*rows)[1].tool == "list_jobs");
  CHECK((*rows)[1].calls == 2);
  CHECK((*rows)[1].denied == 0);
  CHECK((*rows)[2].tool == "whoami");
  CHECK((*rows)[2].calls == 1);
  CHECK((*rows)[2].denied == 1);
  CHECK((*rows)[2].held == 0);
}

}  // namespace
}  // namespace holdgate::store
