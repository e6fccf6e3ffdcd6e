#include "review/jwt_auth.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "review/jwk.h"
#include "support/fake_clock.h"
#include "unit/review/test_keys.h"

namespace holdgate::review {
namespace {

using S = AuthResult::Status;
using testkeys::HandSign;

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";  // 45 bytes

int64_t Now() { return SystemClock::Instance().NowMs() / 1000; }

Json Claims(int64_t exp_offset = 600) {
  return Json{{"sub", "alice"}, {"role", "reviewer"}, {"iat", Now()}, {"exp", Now() + exp_offset}};
}

std::unique_ptr<JwtVerifier> MakeVerifier(JwtConfig c, const Clock* clock = nullptr) {
  auto v = JwtVerifier::Create(c, clock);
  REQUIRE(v.ok());
  return std::move(*v);
}

JwtConfig HsConfig() {
  JwtConfig c;
  c.hs256_secret = kSecret;
  return c;
}

const testkeys::KeyPair& Rsa() {
  static const testkeys::KeyPair kp = testkeys::Generate("RSA", 2048);
  return kp;
}
const testkeys::KeyPair& Rsa2() {
  static const testkeys::KeyPair kp = testkeys::Generate("RSA", 2048);
  return kp;
}
const testkeys::KeyPair& Ec() {
  static const testkeys::KeyPair kp = testkeys::Generate("EC");
  return kp;
}

Json Hdr(const std::string& alg) { return Json{{"alg", alg}, {"typ", "JWT"}}; }

}  // namespace

TEST_CASE("HS256 tokens minted by MintHs256 and by hand are accepted", "[review][jwt]") {
  auto v = MakeVerifier(HsConfig());
  auto tok = MintHs256(kSecret, "alice", Role::kReviewer, 3600);
  REQUIRE(tok.ok());
  AuthResult r = v->Verify(*tok);
  CHECK(r.status == S::kOk);
  CHECK(r.subject == "alice");
  CHECK(r.role == Role::kReviewer);

  // Signed without cpp-jwt: plain HMAC over base64url(header).base64url(claims).
  Json c = Claims();
  c["role"] = "auditor";
  r = v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret));
  CHECK(r.status == S::kOk);
  CHECK(r.role == Role::kAuditor);

  c["role"] = "admin";
  r = v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret));
  CHECK(r.role == Role::kAdmin);
}

TEST_CASE("RS256 and ES256 tokens verify with PEM public keys", "[review][jwt]") {
  JwtConfig c;
  c.public_keys = {{"", "RS256", Rsa().public_pem}, {"", "ES256", Ec().public_pem}};
  auto v = MakeVerifier(c);

  AuthResult r = v->Verify(HandSign(Hdr("RS256"), Claims(), "RS256", Rsa().private_pem));
  CHECK(r.status == S::kOk);
  CHECK(r.subject == "alice");
  r = v->Verify(HandSign(Hdr("ES256"), Claims(), "ES256", Ec().private_pem));
  CHECK(r.status == S::kOk);

  // And with cpp-jwt's own signer (SignJwt).
  auto t = SignJwt("RS256", Rsa().private_pem, Claims());
  REQUIRE(t.ok());
  CHECK(v->Verify(*t).status == S::kOk);
  t = SignJwt("ES256", Ec().private_pem, Claims());
  REQUIRE(t.ok());
  CHECK(v->Verify(*t).status == S::kOk);

  // A token from another RSA key is refused.
  CHECK(v->Verify(HandSign(Hdr("RS256"), Claims(), "RS256", Rsa2().private_pem)).status == S::kInvalid);
}

TEST_CASE("JWKS keys are converted and chosen by kid", "[review][jwt]") {
  Json k1 = Rsa().jwk;
  k1["kid"] = "k1";
  k1["use"] = "sig";
  k1["alg"] = "RS256";
  Json k2 = Rsa2().jwk;
  k2["kid"] = "k2";
  Json k3 = Ec().jwk;
  k3["kid"] = "e1";
  JwtConfig c;
  c.jwks_json = Json{{"keys", {k1, k2, k3}}}.dump();
  auto v = MakeVerifier(c);
  CHECK(v->key_count() == 3);

  Json h = Hdr("RS256");
  h["kid"] = "k2";
  CHECK(v->Verify(HandSign(h, Claims(), "RS256", Rsa2().private_pem)).status == S::kOk);
  // Signed by k1 but naming k2: only k2 is tried.
  CHECK(v->Verify(HandSign(h, Claims(), "RS256", Rsa().private_pem)).status == S::kInvalid);
  h["kid"] = "nope";
  AuthResult r = v->Verify(HandSign(h, Claims(), "RS256", Rsa().private_pem));
  CHECK(r.status == S::kInvalid);
  CHECK(r.why == "unknown kid");
  // No kid: every RS256 key is tried.
  CHECK(v->Verify(HandSign(Hdr("RS256"), Claims(), "RS256", Rsa().private_pem)).status == S::kOk);
  Json he = Hdr("ES256");
  he["kid"] = "e1";
  CHECK(v->Verify(HandSign(he, Claims(), "ES256", Ec().private_pem)).status == S::kOk);
  // A kid on an HS256 token falls back to the (kid-less) shared secret.
  JwtConfig hc = HsConfig();
  hc.jwks_json = c.jwks_json;
  auto hv = MakeVerifier(hc);
  Json hh = Hdr("HS256");
  hh["kid"] = "some-hint";
  CHECK(hv->Verify(HandSign(hh, Claims(), "HS256", kSecret)).status == S::kOk);
  hh["kid"] = "k1";  // an RS256 key's kid does not make an HS256 token verify against it
  CHECK(hv->Verify(HandSign(hh, Claims(), "HS256", Rsa().public_pem)).status == S::kInvalid);
  // kid of an RSA key with an ES256 header: the key's pinned alg wins.
  he["kid"] = "k1";
  CHECK(v->Verify(HandSign(he, Claims(), "ES256", Ec().private_pem)).status == S::kInvalid);
}

TEST_CASE("attack: alg none in any spelling is refused", "[review][jwt][attack]") {
  JwtConfig c = HsConfig();
  c.public_keys = {{"", "RS256", Rsa().public_pem}};
  auto v = MakeVerifier(c);
  for (std::string alg : {"none", "NoNe", "NONE", "None"}) {
    CAPTURE(alg);
    std::string unsigned_tok = HandSign(Hdr(alg), Claims(), "", "");  // "h.p." (empty signature)
    CHECK(v->Verify(unsigned_tok).status == S::kInvalid);
    CHECK(v->Verify(unsigned_tok.substr(0, unsigned_tok.size() - 1)).status == S::kInvalid);  // "h.p"
    CHECK(v->Verify(HandSign(Hdr(alg), Claims(), "HS256", kSecret)).status == S::kInvalid);
  }
}

TEST_CASE("attack: HMAC signed with the RS256 public key is refused", "[review][jwt][attack]") {
  // Both with an RS-only verifier and with one that also has an HS256 secret.
  JwtConfig rs_only;
  rs_only.public_keys = {{"", "RS256", Rsa().public_pem}};
  JwtConfig mixed = HsConfig();
  mixed.public_keys = rs_only.public_keys;
  for (const JwtConfig& c : {rs_only, mixed}) {
    auto v = MakeVerifier(c);
    CHECK(v->Verify(HandSign(Hdr("HS256"), Claims(), "HS256", Rsa().public_pem)).status == S::kInvalid);
    // Header claims RS256 but the signature is an HMAC with the public key.
    CHECK(v->Verify(HandSign(Hdr("RS256"), Claims(), "HS256", Rsa().public_pem)).status == S::kInvalid);
    auto t = SignJwt("HS256", Rsa().public_pem, Claims());
    REQUIRE(t.ok());
    CHECK(v->Verify(*t).status == S::kInvalid);
  }
  // A PEM public key cannot be configured as the HS256 secret's algorithm.
  JwtConfig bad;
  bad.public_keys = {{"", "HS256", Rsa().public_pem}};
  CHECK_FALSE(JwtVerifier::Create(bad).ok());
}

TEST_CASE("attack: expired and not-yet-valid tokens", "[review][jwt][attack]") {
  auto v = MakeVerifier(HsConfig());
  Json c = Claims();
  c["exp"] = Now() - 120;
  c["iat"] = Now() - 600;
  AuthResult r = v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret));
  CHECK(r.status == S::kExpired);

  c["exp"] = Now() - 10;  // inside the 30 s leeway
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kOk);

  c = Claims();
  c["nbf"] = Now() + 300;
  r = v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret));
  CHECK(r.status == S::kInvalid);
  CHECK(r.why == "token not yet valid");

  c = Claims();
  c["iat"] = Now() + 300;
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kInvalid);
}

TEST_CASE("expiry follows the injected clock", "[review][jwt]") {
  testing::FakeClock clock(SystemClock::Instance().NowMs());
  auto v = MakeVerifier(HsConfig(), &clock);
  auto tok = MintHs256(kSecret, "alice", Role::kReviewer, 3600, "", "", &clock);
  REQUIRE(tok.ok());
  CHECK(v->Verify(*tok).status == S::kOk);
  clock.Advance(3600 * 1000 + 29 * 1000);
  CHECK(v->Verify(*tok).status == S::kOk);
  clock.Advance(2 * 1000);
  CHECK(v->Verify(*tok).status == S::kExpired);
}

TEST_CASE("attack: wrong or missing iss/aud", "[review][jwt][attack]") {
  JwtConfig cfg = HsConfig();
  cfg.issuer = "https://idp.example";
  cfg.audience = "holdgate";
  auto v = MakeVerifier(cfg);
  Json c = Claims();
  c["iss"] = "https://idp.example";
  c["aud"] = "holdgate";
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kOk);
  Json bad = c;
  bad["iss"] = "https://evil.example";
  CHECK(v->Verify(HandSign(Hdr("HS256"), bad, "HS256", kSecret)).status == S::kInvalid);
  bad = c;
  bad.erase("iss");
  CHECK(v->Verify(HandSign(Hdr("HS256"), bad, "HS256", kSecret)).status == S::kInvalid);
  bad = c;
  bad["aud"] = "someone-else";
  CHECK(v->Verify(HandSign(Hdr("HS256"), bad, "HS256", kSecret)).status == S::kInvalid);
  bad = c;
  bad.erase("aud");
  CHECK(v->Verify(HandSign(Hdr("HS256"), bad, "HS256", kSecret)).status == S::kInvalid);
  bad = c;
  bad["aud"] = Json::array({"holdgate"});  // arrays unsupported by cpp-jwt: refused, not crashed
  CHECK(v->Verify(HandSign(Hdr("HS256"), bad, "HS256", kSecret)).status == S::kInvalid);

  auto minted = MintHs256(kSecret, "bob", Role::kReviewer, 600, "https://idp.example", "holdgate");
  REQUIRE(minted.ok());
  CHECK(v->Verify(*minted).status == S::kOk);
}

TEST_CASE("attack: missing exp, over-long lifetime, bad claim types", "[review][jwt][attack]") {
  auto v = MakeVerifier(HsConfig());
  Json c = Claims();
  c.erase("exp");
  AuthResult r = v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret));
  CHECK(r.status == S::kInvalid);
  CHECK(r.why == "token has no valid exp claim");

  c = Claims(30 * 24 * 3600);  // 30 days > 24 h cap
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kInvalid);
  c.erase("iat");  // measured from now without iat
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kInvalid);

  c = Claims();
  c["exp"] = "tomorrow";
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kInvalid);
  c = Claims();
  c["exp"] = -5;
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status != S::kOk);
  c = Claims();
  c.erase("sub");
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kInvalid);
  c = Claims();
  c["sub"] = 42;
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kInvalid);
}

TEST_CASE("valid signature without a known role is forbidden, not unauthenticated", "[review][jwt]") {
  auto v = MakeVerifier(HsConfig());
  Json c = Claims();
  c.erase("role");
  AuthResult r = v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret));
  CHECK(r.status == S::kForbidden);
  CHECK(r.subject == "alice");
  c["role"] = "superuser";
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kForbidden);
  c["role"] = "Admin";  // exact spelling only
  CHECK(v->Verify(HandSign(Hdr("HS256"), c, "HS256", kSecret)).status == S::kForbidden);
}

TEST_CASE("attack: tampered payload and wrong secret", "[review][jwt][attack]") {
  auto v = MakeVerifier(HsConfig());
  std::string tok = HandSign(Hdr("HS256"), Claims(), "HS256", kSecret);
  size_t d1 = tok.find('.'), d2 = tok.rfind('.');
  Json c = Claims();
  c["role"] = "admin";
  std::string forged = tok.substr(0, d1 + 1) + Base64UrlEncode(c.dump()) + tok.substr(d2);
  CHECK(v->Verify(forged).status == S::kInvalid);
  // Flip one signature character.
  std::string flipped = tok;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  CHECK(v->Verify(flipped).status == S::kInvalid);
  CHECK(v->Verify(HandSign(Hdr("HS256"), Claims(), "HS256", kSecret + "x")).status == S::kInvalid);
  // RS256 payload swap.
  JwtConfig rc;
  rc.public_keys = {{"", "RS256", Rsa().public_pem}};
  auto rv = MakeVerifier(rc);
  std::string rtok = HandSign(Hdr("RS256"), Claims(), "RS256", Rsa().private_pem);
  d1 = rtok.find('.');
  d2 = rtok.rfind('.');
  CHECK(rv->Verify(rtok).status == S::kOk);
  CHECK(rv->Verify(rtok.substr(0, d1 + 1) + Base64UrlEncode(c.dump()) + rtok.substr(d2)).status == S::kInvalid);
}

TEST_CASE("attack: empty or short HS256 secrets are refused at start", "[review][jwt][attack]") {
  JwtConfig c;
  c.hs256_secret = "";
  CHECK_FALSE(JwtVerifier::Create(c).ok());  // no key at all
  c.hs256_secret = std::string(31, 'x');
  auto r = JwtVerifier::Create(c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("32 bytes") != std::string::npos);
  c.hs256_secret = std::string(32, 'x');
  CHECK(JwtVerifier::Create(c).ok());
  CHECK_FALSE(MintHs256("", "alice", Role::kReviewer, 60).ok());
  CHECK_FALSE(MintHs256("short", "alice", Role::kReviewer, 60).ok());
  CHECK_FALSE(MintHs256(kSecret, "", Role::kReviewer, 60).ok());
  CHECK_FALSE(MintHs256(kSecret, "alice", Role::kNone, 60).ok());
  CHECK_FALSE(MintHs256(kSecret, "alice", Role::kReviewer, 0).ok());

  // A token MAC'd with an empty key never verifies against an RS-only configuration.
  JwtConfig rs;
  rs.public_keys = {{"", "RS256", Rsa().public_pem}};
  auto v = MakeVerifier(rs);
  CHECK(v->Verify(HandSign(Hdr("HS256"), Claims(), "HS256", "")).status == S::kInvalid);
}

TEST_CASE("attack: garbage tokens", "[review][jwt][attack]") {
  auto v = MakeVerifier(HsConfig());
  CHECK(v->Verify("").status == S::kMissing);
  const std::string good = HandSign(Hdr("HS256"), Claims(), "HS256", kSecret);
  for (std::string t : {std::string("abc"), std::string("not.a.jwt"), std::string("a.b.c"), std::string(".."),
                        std::string("...."), std::string("a..c"), std::string("Bearer x.y.z"),
                        std::string(10000, 'a'), good + ".extra", good + "=", std::string("eyJ.eyJ.eyJ"),
                        Base64UrlEncode("[1,2]") + ".e30.c2ln", Base64UrlEncode("{\"alg\":5}") + ".e30.c2ln",
                        Base64UrlEncode("{\"alg\":\"HS256\",\"crit\":[\"x\"]}") + ".e30.c2ln",
                        Base64UrlEncode("{\"alg\":\"HS512\"}") + ".e30.c2ln",
                        Base64UrlEncode("{\"alg\":\"HS256\"}") + "." + Base64UrlEncode("[]") + ".c2ln",
                        Base64UrlEncode("{\"alg\":\"HS256\"}") + ".!!!.c2ln"}) {
    CAPTURE(t.substr(0, 80));
    AuthResult r = v->Verify(t);
    CHECK(r.status == S::kInvalid);
    if (t.size() > 8) CHECK(r.why.find(t) == std::string::npos);  // never echoes the token
  }
  CHECK(v->Verify(good).status == S::kOk);
}

TEST_CASE("key configuration is validated", "[review][jwt]") {
  JwtConfig c;
  c.public_keys = {{"", "RS256", Ec().public_pem}};
  CHECK_FALSE(JwtVerifier::Create(c).ok());
  c.public_keys = {{"", "ES256", Rsa().public_pem}};
  CHECK_FALSE(JwtVerifier::Create(c).ok());
  c.public_keys = {{"", "RS256", Rsa().private_pem}};
  auto r = JwtVerifier::Create(c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("private key") != std::string::npos);
  c.public_keys = {{"", "RS256", testkeys::Generate("RSA", 1024).public_pem}};
  CHECK_FALSE(JwtVerifier::Create(c).ok());
  c.public_keys = {{"", "ES256", testkeys::Generate("EC384").public_pem}};
  CHECK_FALSE(JwtVerifier::Create(c).ok());
  c.public_keys = {{"", "none", Rsa().public_pem}};
  CHECK_FALSE(JwtVerifier::Create(c).ok());
  c.public_keys = {{"", "RS256", "garbage"}};
  CHECK_FALSE(JwtVerifier::Create(c).ok());

  JwtConfig j;
  j.jwks_json = "{not json";
  CHECK_FALSE(JwtVerifier::Create(j).ok());
  j.jwks_json = R"({"keys":[]})";
  CHECK_FALSE(JwtVerifier::Create(j).ok());
  Json small = testkeys::Generate("RSA", 1024).jwk;
  j.jwks_json = Json{{"keys", {small}}}.dump();
  CHECK_FALSE(JwtVerifier::Create(j).ok());
  j.jwks_json = Json{{"keys", {testkeys::Generate("EC384").jwk}}}.dump();
  CHECK_FALSE(JwtVerifier::Create(j).ok());
  Json hs = {{"kty", "oct"}, {"k", "c2VjcmV0"}};
  j.jwks_json = Json{{"keys", {hs}}}.dump();
  CHECK_FALSE(JwtVerifier::Create(j).ok());  // symmetric keys never come from a JWKS
  Json wrong_alg = Rsa().jwk;
  wrong_alg["alg"] = "HS256";
  j.jwks_json = Json{{"keys", {wrong_alg}}}.dump();
  CHECK_FALSE(JwtVerifier::Create(j).ok());
  Json enc = Rsa().jwk;
  enc["use"] = "enc";
  j.jwks_json = Json{{"keys", {enc}}}.dump();
  CHECK_FALSE(JwtVerifier::Create(j).ok());
  Json off_curve = Ec().jwk;
  off_curve["y"] = off_curve["x"];
  j.jwks_json = Json{{"keys", {off_curve}}}.dump();
  CHECK_FALSE(JwtVerifier::Create(j).ok());
}

TEST_CASE("ParseJwtConfig reads the auth section", "[review][jwt]") {
  Json a = {{"jwt_secret", kSecret}, {"issuer", "i"}, {"audience", "a"}, {"leeway", "10s"},
            {"max_token_lifetime", "2h"}, {"public_keys", {{{"kid", "k"}, {"alg", "RS256"}, {"pem", Rsa().public_pem}}}}};
  auto c = ParseJwtConfig(a);
  REQUIRE(c.ok());
  CHECK(c->hs256_secret == kSecret);
  CHECK(c->issuer == "i");
  CHECK(c->audience == "a");
  CHECK(c->leeway_s == 10);
  CHECK(c->max_lifetime_s == 7200);
  REQUIRE(c->public_keys.size() == 1);
  CHECK(c->public_keys[0].kid == "k");
  CHECK(JwtVerifier::Create(*c).ok());
  CHECK_FALSE(ParseJwtConfig(Json{{"leeway", "soon"}}).ok());
  CHECK_FALSE(ParseJwtConfig(Json{{"jwt_secret", 5}}).ok());
  CHECK_FALSE(ParseJwtConfig(Json{{"jwks_file", "/nonexistent/jwks.json"}}).ok());
}

TEST_CASE("base64url round trip and strictness", "[review][jwt]") {
  std::string out;
  for (std::string s : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                        std::string("\xff\xfe\xfd", 3)}) {
    REQUIRE(Base64UrlDecode(Base64UrlEncode(s), &out));
    CHECK(out == s);
  }
  CHECK(Base64UrlEncode("\xfb\xff") == "-_8");
  CHECK_FALSE(Base64UrlDecode("ab=", &out));
  CHECK_FALSE(Base64UrlDecode("a+b/", &out));
  CHECK_FALSE(Base64UrlDecode("a", &out));
}

}  // namespace holdgate::review

namespace holdgate::review {
namespace {

// Writes `keys` as the JWKS file at `path`.
void WriteJwks(const std::string& path, const Json& keys) {
  std::ofstream out(path, std::ios::trunc);
  out << Json{{"keys", keys}}.dump();
}

}  // namespace

TEST_CASE("jwks_file is re-read on an unknown kid and on its refresh period", "[review][jwt][jwks]") {
  char dir_template[] = "/tmp/hg_jwks_XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string file = std::string(dir_template) + "/jwks.json";
  Json k1 = Rsa().jwk;
  k1["kid"] = "k1";
  Json k2 = Rsa2().jwk;
  k2["kid"] = "k2";
  WriteJwks(file, Json::array({k1}));
  auto parsed = ParseJwtConfig(Json{{"jwks_file", file}, {"jwks_refresh", "5m"}});
  REQUIRE(parsed.ok());
  CHECK(parsed->jwks_file == file);
  CHECK(parsed->jwks_refresh_ms == 5 * 60'000);
  testing::FakeClock clock(SystemClock::Instance().NowMs());
  auto v = MakeVerifier(*parsed, &clock);
  CHECK(v->key_count() == 1);
  Json h2 = Hdr("RS256");
  h2["kid"] = "k2";
  const std::string by_k2 = HandSign(h2, Claims(7200), "RS256", Rsa2().private_pem);

  // The provider rotates k2 in: the first token naming it makes the verifier re-read the file.
  CHECK(v->Verify(by_k2).why == "unknown kid");
  WriteJwks(file, Json::array({k1, k2}));
  CHECK(v->Verify(by_k2).status == S::kInvalid);  // re-read at most every 10 s: still unknown
  clock.Advance(10'000);
  CHECK(v->Verify(by_k2).status == S::kOk);
  CHECK(v->key_count() == 2);

  // k1 is retired: dropped at the next refresh period, without any unknown kid.
  WriteJwks(file, Json::array({k2}));
  Json h1 = Hdr("RS256");
  h1["kid"] = "k1";
  const std::string by_k1 = HandSign(h1, Claims(7200), "RS256", Rsa().private_pem);
  CHECK(v->Verify(by_k1).status == S::kOk);
  clock.Advance(5 * 60'000);
  CHECK(v->Verify(by_k1).status == S::kInvalid);
  CHECK(v->key_count() == 1);

  // A broken file keeps the keys read before.
  { std::ofstream(file, std::ios::trunc) << "{not json"; }
  clock.Advance(5 * 60'000);
  CHECK(v->Verify(by_k2).status == S::kOk);
  std::remove(file.c_str());
  ::rmdir(dir_template);
}

}  // namespace holdgate::review
