#pragma once
// Fixture for reviewer-listener tests: a real Store (temp file), a HoldCoordinator wired to the
// store's change feed, a ReviewServer on 127.0.0.1:0, tokens minted with the configured secret, and
// small httplib client helpers. The clock is a FakeClock starting at the real time, so tokens and
// the store agree and tests can move time without sleeping.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "hold/hold_coordinator.h"
#include "review/jwt_auth.h"
#include "review/review_server.h"
#include "store/store.h"
#include "support/fake_clock.h"

namespace holdgate::reviewtest {

inline const std::string kSecret = "integration-test-secret-0123456789abcdef";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hg_review_XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct ReviewEnv {
  TempDir dir;
  testing::FakeClock clock{SystemClock::Instance().NowMs()};
  std::string db_path = dir.File("holdgate.db");
  std::unique_ptr<store::Store> store;
  hold::HoldCoordinator coordinator;
  int feed_id = -1;
  std::unique_ptr<review::DecisionService> decisions;
  std::unique_ptr<review::ReviewServer> server;

  explicit ReviewEnv(review::ReviewServerConfig config = DefaultConfig()) {
    auto s = store::Store::Open(db_path, clock);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    store = std::move(*s);
    feed_id = store->AddListener([this](const store::ChangeEvent& e) { coordinator.OnApprovalChanged(e.approval); });
    decisions = std::make_unique<review::DecisionService>(*store);
    auto srv = review::ReviewServer::Create(std::move(config), *store, *decisions, clock);
    INFO(srv.status().ToString());
    REQUIRE(srv.ok());
    server = std::move(*srv);
    Status st = server->Start();
    INFO(st.ToString());
    REQUIRE(st.ok());
    REQUIRE(server->port() > 0);
  }
  ~ReviewEnv() {
    server->Stop();
    store->RemoveListener(feed_id);
  }

  static review::ReviewServerConfig DefaultConfig() {
    review::ReviewServerConfig c;
    c.host = "127.0.0.1";
    c.port = 0;
    c.auth.hs256_secret = kSecret;
    c.sse_heartbeat = std::chrono::milliseconds(200);
    c.max_body_bytes = 64 * 1024;
    return c;
  }

  std::string Token(const std::string& sub, review::Role role = review::Role::kReviewer, int64_t ttl = 3600) {
    auto t = review::MintHs256(kSecret, sub, role, ttl, "", "", &clock);
    REQUIRE(t.ok());
    return *t;
  }

  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    c->set_read_timeout(std::chrono::seconds(15));
    c->set_connection_timeout(std::chrono::seconds(5));
    return c;
  }

  store::Approval Create(const std::string& tool = "cancel_job", Json args = Json{{"job_id", 42}},
                         const std::string& principal = "agent-1", int approvers = 1, bool editable = false,
                         Json reviewers = nullptr) {
    store::NewApproval n;
    n.principal = principal;
    n.session_id = "sess-1";
    n.tool = tool;
    n.arguments = std::move(args);
    n.rule = "tools." + tool;
    n.risk = Json{{"level", "critical"}};
    n.approvers_needed = approvers;
    n.editable = editable;
    n.reviewers = std::move(reviewers);
    n.timeout_ms = 10 * 60 * 1000;
    auto a = store->CreatePending(n);
    INFO(a.status().ToString());
    REQUIRE(a.ok());
    return *a;
  }
};

inline httplib::Headers Auth(const std::string& token, httplib::Headers extra = {}) {
  extra.emplace("Authorization", "Bearer " + token);
  return extra;
}

inline Json Body(const httplib::Result& r) {
  REQUIRE(r);
  auto j = ParseJson(r->body);
  INFO(r->body);
  REQUIRE(j.ok());
  return *j;
}

}  // namespace holdgate::reviewtest
