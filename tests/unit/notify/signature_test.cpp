// Standard Webhooks signing (the spec's published vector, rotation) and Slack request
// verification (Slack's published example; good / bad / stale / replayed).
#include <catch2/catch.hpp>

#include "common/crypto.h"
#include "notify/notify_config.h"
#include "notify/slack_signature.h"
#include "notify/webhook_signature.h"

namespace holdgate::notify {
namespace {

// The reference vector of the Standard Webhooks libraries ("sign function works",
// standard-webhooks/libraries/javascript/src/webhook.test.ts).
constexpr char kSpecSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kSpecMsgId[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kSpecTimestamp = 1614265330;
constexpr char kSpecBody[] = "{\"test\": 2432232314}";
constexpr char kSpecSignature[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

std::string Key(const std::string& secret) {
  auto k = DecodeWebhookSecret(secret);
  INFO(k.status().ToString());
  REQUIRE(k.ok());
  return *k;
}

TEST_CASE("Standard Webhooks: the spec's test vector", "[notify][signature]") {
  const std::string key = Key(kSpecSecret);
  CHECK(key.size() == 24);
  CHECK(SignWebhookV1(key, kSpecMsgId, kSpecTimestamp, kSpecBody) == kSpecSignature);
  // The same secret without the prefix decodes to the same key.
  CHECK(Key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == key);
  // Any change to id, timestamp or body changes the signature.
  CHECK(SignWebhookV1(key, "msg_other", kSpecTimestamp, kSpecBody) != kSpecSignature);
  CHECK(SignWebhookV1(key, kSpecMsgId, kSpecTimestamp + 1, kSpecBody) != kSpecSignature);
  CHECK(SignWebhookV1(key, kSpecMsgId, kSpecTimestamp, "{\"test\": 2432232315}") != kSpecSignature);
}

TEST_CASE("Standard Webhooks: verification accepts the vector and refuses tampering", "[notify][signature]") {
  const std::string key = Key(kSpecSecret);
  const std::string ts = std::to_string(kSpecTimestamp);
  CHECK(VerifyWebhookSignature(key, kSpecMsgId, ts, kSpecSignature, kSpecBody, kSpecTimestamp));
  CHECK(VerifyWebhookSignature(key, kSpecMsgId, ts, kSpecSignature, kSpecBody, kSpecTimestamp + 300));
  CHECK_FALSE(VerifyWebhookSignature(key, kSpecMsgId, ts, kSpecSignature, kSpecBody, kSpecTimestamp + 301));
  CHECK_FALSE(VerifyWebhookSignature(key, kSpecMsgId, ts, kSpecSignature, kSpecBody, kSpecTimestamp - 301));
  CHECK_FALSE(VerifyWebhookSignature(key, kSpecMsgId, ts, kSpecSignature, "{\"test\": 1}", kSpecTimestamp));
  CHECK_FALSE(VerifyWebhookSignature(key, "msg_x", ts, kSpecSignature, kSpecBody, kSpecTimestamp));
  CHECK_FALSE(VerifyWebhookSignature(key, kSpecMsgId, "abc", kSpecSignature, kSpecBody, kSpecTimestamp));
  CHECK_FALSE(VerifyWebhookSignature(key, kSpecMsgId, ts, "v1,", kSpecBody, kSpecTimestamp));
  CHECK_FALSE(VerifyWebhookSignature(key, kSpecMsgId, ts, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                                     kSpecBody, kSpecTimestamp));
  // One valid entry among others passes (spec: "multi sig payload is valid").
  CHECK(VerifyWebhookSignature(key, kSpecMsgId, ts,
                               std::string("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ") + kSpecSignature,
                               kSpecBody, kSpecTimestamp));
}

TEST_CASE("Standard Webhooks: every active secret signs during rotation", "[notify][signature]") {
  const std::string old_key = Key(kSpecSecret);
  const std::string new_key = Key("whsec_" + Base64Encode(std::string(32, '\x42')));
  const std::string other = Key("whsec_" + Base64Encode(std::string(32, '\x07')));
  const std::string header = WebhookSignatureHeader({new_key, old_key}, "msg_1", 1700000000, "{}");
  REQUIRE(std::count(header.begin(), header.end(), ' ') == 1);
  CHECK(header.substr(0, header.find(' ')) == SignWebhookV1(new_key, "msg_1", 1700000000, "{}"));
  CHECK(header.substr(header.find(' ') + 1) == SignWebhookV1(old_key, "msg_1", 1700000000, "{}"));
  CHECK(VerifyWebhookSignature(new_key, "msg_1", "1700000000", header, "{}", 1700000000));
  CHECK(VerifyWebhookSignature(old_key, "msg_1", "1700000000", header, "{}", 1700000000));
  CHECK_FALSE(VerifyWebhookSignature(other, "msg_1", "1700000000", header, "{}", 1700000000));
}

TEST_CASE("webhook secrets: whsec_ base64 of at least 24 bytes", "[notify][signature]") {
  CHECK_FALSE(DecodeWebhookSecret("whsec_").ok());
  CHECK_FALSE(DecodeWebhookSecret("whsec_" + Base64Encode("too short")).ok());
  CHECK_FALSE(DecodeWebhookSecret("whsec_not base64!").ok());
  CHECK_FALSE(DecodeWebhookSecret("whsec_%%%%").ok());
  // Unpadded base64 is accepted (25 bytes -> 34 characters without padding).
  std::string padded = Base64Encode(std::string(25, 'k'));
  std::string unpadded = padded.substr(0, padded.find('='));
  REQUIRE(unpadded.size() != padded.size());
  auto k = DecodeWebhookSecret("whsec_" + unpadded);
  REQUIRE(k.ok());
  CHECK(*k == std::string(25, 'k'));
}

// Slack's worked example (docs: "Verifying requests from Slack").
constexpr char kSlackDocSecret[] = "8f742231b10e8888abcd99yyyzzz85a5";
constexpr char kSlackDocTs[] = "1531420618";
constexpr char kSlackDocBody[] =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name="
    "foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks."
    "slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
    "47445629121.803a0bc887a14d10d2c447fce8b6703c";
constexpr char kSlackDocSig[] = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

TEST_CASE("Slack: signature matches Slack's published example", "[notify][slack]") {
  CHECK(SlackSignature(kSlackDocSecret, kSlackDocTs, kSlackDocBody) == kSlackDocSig);
}

TEST_CASE("Slack: good, bad, stale, replayed requests", "[notify][slack]") {
  const int64_t ts_ms = 1531420618LL * 1000;
  SlackRequestVerifier v(kSlackDocSecret);

  SECTION("good, then the same request again is a replay") {
    CHECK(v.Verify(kSlackDocTs, kSlackDocSig, kSlackDocBody, ts_ms + 60'000) == SlackVerdict::kOk);
    CHECK(v.remembered() == 1);
    CHECK(v.Verify(kSlackDocTs, kSlackDocSig, kSlackDocBody, ts_ms + 61'000) == SlackVerdict::kReplayed);
    // After the window the timestamp itself is refused (and the memory is pruned).
    CHECK(v.Verify(kSlackDocTs, kSlackDocSig, kSlackDocBody, ts_ms + 301'000) == SlackVerdict::kStale);
    // A new, correctly signed request later is fine.
    const std::string ts2 = std::to_string(1531420618 + 1000);
    CHECK(v.Verify(ts2, SlackSignature(kSlackDocSecret, ts2, "payload=x"), "payload=x", ts_ms + 1'000'000) ==
          SlackVerdict::kOk);
    CHECK(v.remembered() == 1);  // the first one was forgotten
  }
  SECTION("bad signatures") {
    CHECK(v.Verify(kSlackDocTs, "v0=" + std::string(64, '0'), kSlackDocBody, ts_ms) == SlackVerdict::kBadSignature);
    CHECK(v.Verify(kSlackDocTs, kSlackDocSig, std::string(kSlackDocBody) + "&x=1", ts_ms) ==
          SlackVerdict::kBadSignature);
    CHECK(v.Verify("1531420619", kSlackDocSig, kSlackDocBody, ts_ms) == SlackVerdict::kBadSignature);
    CHECK(v.Verify(kSlackDocTs, SlackSignature("another-secret-of-32-characters!", kSlackDocTs, kSlackDocBody),
                   kSlackDocBody, ts_ms) == SlackVerdict::kBadSignature);
    CHECK(v.remembered() == 0);  // refused requests are not remembered
  }
  SECTION("stale or future timestamps") {
    CHECK(v.Verify(kSlackDocTs, kSlackDocSig, kSlackDocBody, ts_ms + 300'000) == SlackVerdict::kOk);
    SlackRequestVerifier v2(kSlackDocSecret);
    CHECK(v2.Verify(kSlackDocTs, kSlackDocSig, kSlackDocBody, ts_ms + 300'001) == SlackVerdict::kStale);
    CHECK(v2.Verify(kSlackDocTs, kSlackDocSig, kSlackDocBody, ts_ms - 300'001) == SlackVerdict::kStale);
  }
  SECTION("missing or malformed headers, no secret") {
    CHECK(v.Verify("", kSlackDocSig, kSlackDocBody, ts_ms) == SlackVerdict::kMissingHeaders);
    CHECK(v.Verify(kSlackDocTs, "", kSlackDocBody, ts_ms) == SlackVerdict::kMissingHeaders);
    CHECK(v.Verify("15314x0618", kSlackDocSig, kSlackDocBody, ts_ms) == SlackVerdict::kBadTimestamp);
    CHECK(v.Verify("-1531420618", kSlackDocSig, kSlackDocBody, ts_ms) == SlackVerdict::kBadTimestamp);
    SlackRequestVerifier none("");
    CHECK(none.Verify(kSlackDocTs, kSlackDocSig, kSlackDocBody, ts_ms) == SlackVerdict::kNotConfigured);
  }
  SECTION("a full replay memory refuses rather than forgets") {
    SlackRequestVerifier small(kSlackDocSecret, 300'000, 2);
    for (int i = 0; i < 2; ++i) {
      const std::string body = "payload=" + std::to_string(i);
      CHECK(small.Verify(kSlackDocTs, SlackSignature(kSlackDocSecret, kSlackDocTs, body), body, ts_ms) ==
            SlackVerdict::kOk);
    }
    CHECK(small.Verify(kSlackDocTs, SlackSignature(kSlackDocSecret, kSlackDocTs, "payload=9"), "payload=9", ts_ms) ==
          SlackVerdict::kBusy);
  }
}

}  // namespace
}  // namespace holdgate::notify
