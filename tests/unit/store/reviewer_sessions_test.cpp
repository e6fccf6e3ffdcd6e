// The reviewer_sessions table on both backends: rows round-trip, survive a reopen, last_seen only
// moves forward, delete and prune. (The session rules are tested in unit/review/oidc_test.cpp.)
#include <catch2/catch.hpp>

#include "common/crypto.h"
#include "unit/store/store_fixture.h"

namespace holdgate::store {
namespace {

using testing::StoreFixture;

ReviewerSessionRow Row(const std::string& id, int64_t now, const std::string& subject = "alice") {
  ReviewerSessionRow r;
  r.id_hash = Sha256Hex(id);
  r.subject = subject;
  r.role = "reviewer";
  r.display_name = "Alice Example";
  r.csrf_token = RandomHex(32);
  r.created_at_ms = now;
  r.last_seen_at_ms = now;
  r.expires_at_ms = now + 3600'000;
  return r;
}

}  // namespace

TEST_CASE("reviewer sessions: stored by hash, survive a reopen, touched forward only, deleted", "[store][sessions][pg]") {
  StoreFixture fx;
  const int64_t now = fx.clock.NowMs();
  ReviewerSessionRow r = Row("session-a", now);
  REQUIRE(fx.store->PutReviewerSession(r).ok());
  CHECK_FALSE(fx.store->PutReviewerSession(r).ok());  // the same id twice
  fx.Reopen();
  auto got = fx.store->GetReviewerSession(r.id_hash);
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->subject == "alice");
  CHECK((*got)->role == "reviewer");
  CHECK((*got)->display_name == "Alice Example");
  CHECK((*got)->csrf_token == r.csrf_token);
  CHECK((*got)->created_at_ms == now);
  CHECK((*got)->expires_at_ms == now + 3600'000);
  CHECK_FALSE(fx.store->GetReviewerSession(Sha256Hex("other"))->has_value());

  REQUIRE(fx.store->TouchReviewerSession(r.id_hash, now + 5000).ok());
  REQUIRE(fx.store->TouchReviewerSession(r.id_hash, now + 1000).ok());  // never backwards
  CHECK((*fx.store->GetReviewerSession(r.id_hash))->last_seen_at_ms == now + 5000);
  CHECK(fx.store->TouchReviewerSession(Sha256Hex("gone"), now).ok());

  auto del = fx.store->DeleteReviewerSession(r.id_hash);
  REQUIRE(del.ok());
  CHECK(*del);
  CHECK_FALSE(*fx.store->DeleteReviewerSession(r.id_hash));
  CHECK_FALSE(fx.store->GetReviewerSession(r.id_hash)->has_value());

  ReviewerSessionRow bad = Row("bad", now);
  bad.role = "superuser";
  CHECK(fx.store->PutReviewerSession(bad).code() == Code::kInvalidArgument);
}

TEST_CASE("reviewer sessions: prune removes idle and expired rows only", "[store][sessions][pg]") {
  StoreFixture fx;
  const int64_t now = fx.clock.NowMs();
  ReviewerSessionRow idle = Row("idle", now - 40 * 60'000);
  ReviewerSessionRow ended = Row("ended", now - 2 * 3600'000);
  ended.last_seen_at_ms = now - 60'000;
  ReviewerSessionRow live = Row("live", now - 10 * 60'000);
  for (const auto& r : {idle, ended, live}) REQUIRE(fx.store->PutReviewerSession(r).ok());
  auto n = fx.store->PruneReviewerSessions(now - 30 * 60'000, now);
  REQUIRE(n.ok());
  CHECK(*n == 2);
  CHECK(fx.store->GetReviewerSession(live.id_hash)->has_value());
  CHECK_FALSE(fx.store->GetReviewerSession(idle.id_hash)->has_value());
  CHECK_FALSE(fx.store->GetReviewerSession(ended.id_hash)->has_value());
}

}  // namespace holdgate::store
