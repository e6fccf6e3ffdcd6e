// Webhook delivery end to end on loopback: approvals created through the Store reach a real
// httplib receiver, signed per Standard Webhooks; 500s are retried with the same webhook-id; a
// receiver that is down for a while gets everything once back, in order per approval; 410
// disables the endpoint; undelivered rows survive a restart; HTTPS certificates are checked;
// the worker thread never holds up the approval path. Time is a FakeClock; no sleeps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "common/crypto.h"
#include "notify/webhook_signature.h"
#include "notify_fixture.h"

namespace holdgate::notifytest {
namespace {

const std::string kSecretNew = "whsec_" + Base64Encode(std::string("0123456789abcdef0123456789abcdef"));
const std::string kSecretOld = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string Key(const std::string& secret) {
  auto k = notify::DecodeWebhookSecret(secret);
  REQUIRE(k.ok());
  return *k;
}

Json OneHook(const std::string& url, Json secret = kSecretNew, const std::string& name = "ops") {
  return Json{{"webhooks", Json::array({Json{{"name", name}, {"url", url}, {"secret", std::move(secret)}}})}};
}

Json BodyOf(const Hit& hit) {
  auto j = ParseJson(hit.body);
  REQUIRE(j.ok());
  return *j;
}

// The approval id and event type of a delivery.
std::pair<std::string, std::string> WhatOf(const Hit& hit) {
  Json b = BodyOf(hit);
  return {b["data"]["id"].get<std::string>(), b["type"].get<std::string>()};
}

TEST_CASE("webhooks: deliveries are signed per Standard Webhooks", "[notify][webhooks]") {
  Receiver rx;
  NotifyEnv env(OneHook(rx.Url("/hooks/holdgate?source=it"), Json::array({kSecretNew, kSecretOld})));
  store::Approval a = env.Create({"webhook:ops"});
  store::Approval b = env.Create();  // no list: every subscribed webhook
  notify::RunReport r = env.notifier->RunOnce();
  CHECK(r.delivered == 2);
  CHECK(r.failed == 0);
  REQUIRE(rx.Count() == 2);

  const int64_t now_s = env.clock.NowMs() / 1000;
  std::set<std::string> ids;
  for (const Hit& hit : rx.Hits()) {
    CHECK(hit.path == "/hooks/holdgate");
    CHECK(hit.headers.at("content-type") == "application/json");
    const std::string& id = hit.headers.at("webhook-id");
    const std::string& ts = hit.headers.at("webhook-timestamp");
    const std::string& sig = hit.headers.at("webhook-signature");
    CHECK(id.rfind("msg_", 0) == 0);
    CHECK(ts == std::to_string(now_s));
    // Rotation: one signature per active secret, each verifies on its own.
    CHECK(std::count(sig.begin(), sig.end(), ' ') == 1);
    CHECK(notify::VerifyWebhookSignature(Key(kSecretNew), id, ts, sig, hit.body, now_s));
    CHECK(notify::VerifyWebhookSignature(Key(kSecretOld), id, ts, sig, hit.body, now_s));
    // Independently of the notifier's helpers: HMAC over "id.ts.body", base64.
    const std::string expected = "v1," + Base64Encode(HmacSha256Raw(Key(kSecretNew), id + "." + ts + "." + hit.body));
    CHECK(sig.substr(0, sig.find(' ')) == expected);
    CHECK_FALSE(notify::VerifyWebhookSignature(Key(kSecretNew), id, ts, sig, hit.body + " ", now_s));
    const Json body = BodyOf(hit);
    CHECK(body["type"] == "approval.created");
    CHECK(body["data"]["tool"] == "cancel_job");
    CHECK(body["data"]["principal"] == "agent-1");
    CHECK(body["data"]["state"] == "pending");
    CHECK(body["data"]["risk"]["level"] == "critical");
    CHECK(body["data"]["arguments"]["job_id"].is_string());
    ids.insert(body["data"]["id"].get<std::string>());
  }
  CHECK(ids == std::set<std::string>{a.id, b.id});

  // Delivery log: delivered, status and attempts, the webhook-id is the row's message id.
  for (const auto& row : env.Rows()) {
    CHECK(row.state == store::OutboxState::kDelivered);
    CHECK(row.last_status == "200 OK");
    CHECK(row.attempts == 1);
    bool seen = false;
    for (const Hit& hit : rx.Hits()) seen = seen || hit.headers.at("webhook-id") == row.payload["msg_id"];
    CHECK(seen);
  }
  CHECK(env.notifier->Counters().delivered == 2);
}

TEST_CASE("webhooks: 500 and a receiver that is down are retried, order per approval, same webhook-id",
          "[notify][webhooks]") {
  Receiver rx;
  rx.Script({500, 500});
  NotifyEnv env(OneHook(rx.Url()));
  const int64_t t0 = env.clock.NowMs();
  store::Approval a = env.Create({"webhook:ops"});

  CHECK(env.notifier->RunOnce().failed == 1);
  REQUIRE(rx.Count() == 1);
  auto rows = env.Rows(a.id);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == store::OutboxState::kPending);
  CHECK(rows[0].last_status == "500 Internal Server Error");
  CHECK(rows[0].attempts == 1);
  CHECK(rows[0].next_attempt_at_ms >= t0 + 5'000);
  CHECK(rows[0].next_attempt_at_ms <= t0 + 6'000);

  // Not due yet: nothing is sent.
  CHECK(env.notifier->RunOnce().claimed == 0);
  CHECK(rx.Count() == 1);

  // The approval is decided while its "created" message is still undelivered.
  env.Decide(a.id, "alice", true);
  env.clock.Set(t0 + 6'001);
  notify::RunReport r = env.notifier->RunOnce();
  CHECK(r.failed == 1);    // created: 500 again
  CHECK(r.deferred == 1);  // approved: waits for created
  REQUIRE(rx.Count() == 2);
  rows = env.Rows(a.id);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].event_type == "approval.approved");
  CHECK(rows[1].last_status.rfind("waiting for #" + std::to_string(rows[0].id), 0) == 0);

  // The receiver goes down; a second approval arrives meanwhile.
  rx.Stop();
  store::Approval b = env.Create({"webhook:ops"});
  for (int64_t at : {t0 + 40'000, t0 + 3 * 60'000, t0 + 15 * 60'000, t0 + 45 * 60'000}) {
    env.clock.Set(at);
    env.notifier->RunOnce();
    for (const auto& row : env.Rows()) {
      INFO("row " << row.id << " " << row.event_type << ": " << row.last_status);
      CHECK(row.state == store::OutboxState::kPending);
    }
  }
  CHECK(rx.Count() == 2);
  bool saw_connection_error = false;
  for (const auto& row : env.Rows()) saw_connection_error |= row.last_status.rfind("error: ", 0) == 0;
  CHECK(saw_connection_error);

  // Back: everything is delivered, created before approved.
  rx.Restart();
  env.clock.Set(t0 + 3 * 3'600'000);
  r = env.notifier->RunOnce();
  CHECK(r.delivered == 3);
  for (const auto& row : env.Rows()) {
    INFO("row " << row.id << " " << row.event_type << ": " << row.last_status);
    CHECK(row.state == store::OutboxState::kDelivered);
  }

  const std::vector<Hit> hits = rx.Hits();
  REQUIRE(hits.size() == 5);
  // Every attempt of A's "created" carried the same webhook-id; "approved" was never sent before
  // "created" had been answered 2xx.
  std::string created_id;
  int created_ok_at = -1, approved_at = -1;
  for (size_t i = 0; i < hits.size(); ++i) {
    auto [id, type] = WhatOf(hits[i]);
    if (id == a.id && type == "approval.created") {
      if (created_id.empty()) created_id = hits[i].headers.at("webhook-id");
      CHECK(hits[i].headers.at("webhook-id") == created_id);
      if (hits[i].answered == 200) created_ok_at = static_cast<int>(i);
    }
    if (id == a.id && type == "approval.approved") {
      if (approved_at < 0) approved_at = static_cast<int>(i);
    }
    // Each attempt is signed for its own timestamp.
    const Hit& h = hits[i];
    CHECK(notify::VerifyWebhookSignature(Key(kSecretNew), h.headers.at("webhook-id"), h.headers.at("webhook-timestamp"),
                                         h.headers.at("webhook-signature"), h.body,
                                         std::stoll(h.headers.at("webhook-timestamp"))));
  }
  CHECK(created_ok_at >= 2);
  CHECK(approved_at > created_ok_at);
  CHECK(hits[0].headers.at("webhook-timestamp") != hits[1].headers.at("webhook-timestamp"));
  int b_created = 0;
  for (const Hit& h : hits) b_created += WhatOf(h) == std::make_pair(b.id, std::string("approval.created"));
  CHECK(b_created == 1);
}

TEST_CASE("webhooks: a message still failing after a day is given up, and can be replayed", "[notify][webhooks]") {
  Receiver rx;
  const int port = rx.port();
  rx.Stop();
  NotifyEnv env(OneHook("http://127.0.0.1:" + std::to_string(port) + "/hook"));
  const int64_t t0 = env.clock.NowMs();
  store::Approval a = env.Create({"webhook:ops"});
  int passes = 0;
  store::OutboxRow row;
  for (;;) {
    env.notifier->RunOnce();
    ++passes;
    auto rows = env.Rows(a.id);
    REQUIRE(rows.size() == 1);
    row = rows[0];
    if (row.state == store::OutboxState::kDead) break;
    REQUIRE(passes < 40);
    env.clock.Set(row.next_attempt_at_ms);  // straight to the next try
  }
  INFO(row.last_status);
  CHECK(row.last_status.rfind("gave up after ", 0) == 0);
  CHECK(row.attempts >= 10);
  CHECK(row.attempts <= 16);
  CHECK(env.clock.NowMs() - t0 >= 24LL * 3'600'000);
  CHECK(env.clock.NowMs() - t0 <= 36LL * 3'600'000);
  CHECK(env.AuditCount("notify.gave_up") == 1);

  // Replay from the delivery log once the receiver is back.
  Receiver back(port);
  REQUIRE(env.store->RequeueOutbox(row.id).ok());
  CHECK(env.notifier->RunOnce().delivered == 1);
  REQUIRE(back.Count() == 1);
  CHECK(back.Hits()[0].headers.at("webhook-id") == row.payload["msg_id"]);
}

TEST_CASE("webhooks: 410 Gone disables the endpoint until it is re-enabled", "[notify][webhooks]") {
  Receiver rx;
  rx.SetDefault(410);
  NotifyEnv env(OneHook(rx.Url()));
  store::Approval a = env.Create({"webhook:ops"});
  notify::RunReport r = env.notifier->RunOnce();
  CHECK(r.gave_up == 1);
  REQUIRE(rx.Count() == 1);
  auto rows = env.Rows(a.id);
  CHECK(rows[0].state == store::OutboxState::kDead);
  CHECK(rows[0].last_status == "410 Gone: endpoint disabled");
  CHECK(env.AuditCount("notify.endpoint_disabled") == 1);
  auto eps = env.notifier->Endpoints();
  REQUIRE(eps.size() == 1);
  CHECK(eps[0].target == "webhook:ops");
  CHECK(eps[0].disabled);

  // No more deliveries to it: new rows are given up without a request.
  store::Approval b = env.Create({"webhook:ops"});
  env.notifier->RunOnce();
  CHECK(rx.Count() == 1);
  CHECK(env.Rows(b.id)[0].state == store::OutboxState::kDead);
  CHECK(env.Rows(b.id)[0].last_status.rfind("endpoint disabled: 410 Gone", 0) == 0);

  // Still disabled after a restart (recorded in the audit log).
  env.Restart();
  CHECK(env.notifier->Endpoints()[0].disabled);
  store::Approval c = env.Create({"webhook:ops"});
  env.notifier->RunOnce();
  CHECK(rx.Count() == 1);

  // Re-enabled: the rows given up because of it are requeued and delivered.
  rx.SetDefault(200);
  auto requeued = env.notifier->EnableEndpoint("webhook:ops");
  REQUIRE(requeued.ok());
  CHECK(*requeued == 3);
  CHECK_FALSE(env.notifier->Endpoints()[0].disabled);
  CHECK(env.notifier->RunOnce().delivered == 3);
  CHECK(rx.Count() == 4);
  CHECK(env.AuditCount("notify.endpoint_enabled") == 1);
  CHECK_FALSE(env.notifier->EnableEndpoint("webhook:nope").ok());
  (void)c;
}

TEST_CASE("webhooks: undelivered rows survive a restart", "[notify][webhooks]") {
  Receiver rx;
  const int port = rx.port();
  rx.Stop();
  store::StoreOptions options;
  options.outbox_lease_ms = 60'000;
  NotifyEnv env(OneHook("http://127.0.0.1:" + std::to_string(port) + "/hook"), options);
  store::Approval a = env.Create({"webhook:ops"});
  store::Approval b = env.Create({"webhook:ops"});
  notify::RunReport first = env.notifier->RunOnce();
  CHECK(first.failed == 1);    // the first row tried and failed (connection refused) …
  CHECK(first.deferred == 1);  // … so the second was not tried against the same dead endpoint
  CHECK(first.delivered == 0);

  // holdgate stops with both rows undelivered; a new process delivers them.
  env.Restart(options);
  rx.Restart();
  env.clock.Advance(10 * 60'000);
  CHECK(env.notifier->RunOnce().delivered == 2);
  CHECK(rx.Count() == 2);

  // A worker that died after claiming a row (state "delivering"): after its lease, delivered.
  store::Approval c = env.Create({"webhook:ops"});
  auto claimed = env.store->ClaimDueOutbox(env.clock.NowMs(), 10);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  env.Restart(options);
  CHECK(env.notifier->RunOnce().delivered == 0);  // still leased
  env.clock.Advance(61'000);
  CHECK(env.notifier->RunOnce().delivered == 1);
  REQUIRE(rx.Count() == 3);
  CHECK(WhatOf(rx.Hits()[2]).first == c.id);
  CHECK(rx.Hits()[2].headers.at("webhook-id") == (*claimed)[0].payload["msg_id"]);
  (void)a;
  (void)b;
}

TEST_CASE("webhooks: the worker delivers in the background and never holds up approvals", "[notify][webhooks]") {
  Receiver rx;
  rx.Hold();
  NotifyEnv env(OneHook(rx.Url()));
  REQUIRE(env.notifier->Start().ok());
  store::Approval a = env.Create({"webhook:ops"});
  // The worker was woken by the change feed and is now stuck in the receiver.
  REQUIRE(rx.WaitForWaiting(1));
  // Creating and deciding approvals does not wait for it.
  const auto started = std::chrono::steady_clock::now();
  store::Approval b = env.Create({"webhook:ops"});
  env.Decide(a.id, "alice", false, "not now");
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < std::chrono::seconds(2));
  CHECK(rx.Count() == 0);
  rx.Release();
  REQUIRE(rx.WaitFor(3));
  env.notifier->Stop();
  std::vector<std::pair<std::string, std::string>> got;
  for (const Hit& h : rx.Hits()) got.push_back(WhatOf(h));
  CHECK(got.size() == 3);
  auto pos = [&](const std::string& id, const std::string& type) {
    return std::find(got.begin(), got.end(), std::make_pair(id, type)) - got.begin();
  };
  CHECK(pos(a.id, "approval.created") < pos(a.id, "approval.rejected"));
  CHECK(pos(b.id, "approval.created") < static_cast<long>(got.size()));
}

// HTTPS with certificate checks: a self-signed receiver is refused unless its CA is configured.
TEST_CASE("webhooks: https receivers must present a trusted certificate", "[notify][webhooks][https]") {
  TempDir certs;
  const std::string cert = certs.File("cert.pem"), key = certs.File("key.pem");
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + key + "' -out '" + cert +
                          "' -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1";
  // A missing precondition fails the test (scripts/deps.sh --test installs openssl).
  INFO("making a self-signed certificate with the openssl CLI");
  REQUIRE(std::system(cmd.c_str()) == 0);
  httplib::SSLServer server(cert.c_str(), key.c_str());
  REQUIRE(server.is_valid());
  std::mutex mu;
  std::vector<std::string> got;
  server.Post("/h", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    got.push_back(req.get_header_value("webhook-id"));
    res.set_content("ok", "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread t([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const std::string url = "https://localhost:" + std::to_string(port) + "/h";
  Json config = {{"webhooks", Json::array({Json{{"name", "untrusted"}, {"url", url}, {"secret", kSecretNew}},
                                           Json{{"name", "trusted"}, {"url", url}, {"secret", kSecretNew},
                                                {"ca_file", cert}}})}};
  NotifyEnv env(config);
  store::Approval a = env.Create();
  notify::RunReport r = env.notifier->RunOnce();
  server.stop();
  t.join();
  CHECK(r.delivered == 1);
  CHECK(r.failed == 1);
  for (const auto& row : env.Rows(a.id)) {
    INFO(row.target << ": " << row.last_status);
    if (row.target == "webhook:trusted") {
      CHECK(row.state == store::OutboxState::kDelivered);
    } else {
      CHECK(row.state == store::OutboxState::kPending);
      CHECK(row.last_status.find("ssl server verification failed") != std::string::npos);
    }
  }
  CHECK(got.size() == 1);
}

}  // namespace
}  // namespace holdgate::notifytest
