// Single sign-on pieces without a network: PKCE, the review.oidc config, the login state machine
// (state, nonce, PKCE verifier) against a scripted issuer, the ID token checks with an injected
// clock, JWKS refetch on an unknown kid, role mapping, and the session store.
#include "review/oidc.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "common/crypto.h"
#include "review/jwk.h"
#include "review/sessions.h"
#include "store/store.h"
#include "support/fake_clock.h"
#include "unit/review/test_keys.h"

namespace holdgate::review {
namespace {

using testkeys::HandSign;

const std::string kIssuer = "https://idp.example.test";

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

Json Jwk(const testkeys::KeyPair& kp, const std::string& kid) {
  Json k = kp.jwk;
  k["kid"] = kid;
  k["use"] = "sig";
  return k;
}

std::string QueryParam(const std::string& url, const std::string& name) {
  const std::string key = name + "=";
  size_t p = url.find("?" + key);
  if (p == std::string::npos) p = url.find("&" + key);
  if (p == std::string::npos) return "";
  p += key.size() + 1;
  size_t e = url.find('&', p);
  return url.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// A scripted identity provider behind the injectable fetcher.
struct FakeIdp {
  Json jwks = Json{{"keys", Json::array({Jwk(Rsa(), "k1")})}};
  std::string id_token;         // what the token endpoint returns
  int token_status = 200;
  int discovery_fetches = 0, jwks_fetches = 0, token_calls = 0;
  OidcHttpRequest last_token_request;
  bool down = false;

  OidcFetcher Fetcher() {
    return [this](const OidcHttpRequest& r) {
      OidcHttpReply out;
      if (down) {
        out.error = "connection refused";
        return out;
      }
      if (r.url == kIssuer + "/.well-known/openid-configuration") {
        ++discovery_fetches;
        out.status = 200;
        out.body = Json{{"issuer", kIssuer},
                        {"authorization_endpoint", kIssuer + "/authorize"},
                        {"token_endpoint", kIssuer + "/token"},
                        {"jwks_uri", kIssuer + "/jwks"},
                        {"code_challenge_methods_supported", {"S256"}}}
                       .dump();
      } else if (r.url == kIssuer + "/jwks") {
        ++jwks_fetches;
        out.status = 200;
        out.body = jwks.dump();
      } else if (r.url == kIssuer + "/token" && r.method == "POST") {
        ++token_calls;
        last_token_request = r;
        out.status = token_status;
        out.body = token_status == 200 ? Json{{"id_token", id_token}, {"token_type", "Bearer"}}.dump()
                                       : Json{{"error", "invalid_grant"}}.dump();
      } else {
        out.status = 404;
      }
      return out;
    };
  }
};

OidcConfig Config() {
  OidcConfig c;
  c.enabled = true;
  c.issuer = kIssuer;
  c.client_id = "holdgate";
  c.client_secret = "s3cret";
  c.role_claim = "groups";
  c.role_map = {{"hg-reviewers", "reviewer"}, {"hg-admins", "admin"}, {"hg-auditors", "auditor"}};
  c.leeway_s = 60;
  return c;
}

Json IdClaims(const testing::FakeClock& clock, const std::string& nonce, int64_t exp_in_s = 300) {
  const int64_t now = clock.NowMs() / 1000;
  return Json{{"iss", kIssuer}, {"aud", "holdgate"}, {"sub", "alice"}, {"nonce", nonce},
              {"iat", now}, {"exp", now + exp_in_s}, {"name", "Alice Example"},
              {"groups", {"staff", "hg-reviewers"}}};
}

std::string Sign(const Json& claims, const std::string& kid = "k1", const testkeys::KeyPair& key = Rsa(),
                 const std::string& alg = "RS256") {
  Json h = {{"alg", alg}, {"typ", "JWT"}};
  if (!kid.empty()) h["kid"] = kid;
  return HandSign(h, claims, alg, key.private_pem);
}

std::unique_ptr<OidcClient> Client(FakeIdp& idp, const Clock& clock, OidcConfig c = Config()) {
  auto client = OidcClient::Create(c, clock, idp.Fetcher());
  REQUIRE(client.ok());
  return std::move(*client);
}

}  // namespace

TEST_CASE("PKCE: verifier shape and the RFC 7636 S256 example", "[review][oidc]") {
  const std::string v = NewPkceVerifier();
  CHECK(v.size() == 43);
  for (char c : v) CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'));
  CHECK(NewPkceVerifier() != v);
  // RFC 7636 appendix B.
  CHECK(PkceChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST_CASE("review.oidc config: https required, insecure only on loopback, clear errors", "[review][oidc]") {
  Json ok = {{"issuer", "https://idp.example.com"}, {"client_id", "hg"}, {"client_secret", "x"}};
  auto c = ParseOidcConfig(ok);
  REQUIRE(c.ok());
  CHECK(c->enabled);
  CHECK(c->scopes == std::vector<std::string>{"openid", "profile", "email"});
  CHECK_FALSE(ParseOidcConfig(nullptr)->enabled);

  Json http = ok;
  http["issuer"] = "http://idp.example.com";
  auto r = ParseOidcConfig(http);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("must use https"));
  http["allow_insecure_issuer"] = true;
  CHECK_FALSE(ParseOidcConfig(http).ok());  // not loopback
  http["issuer"] = "http://127.0.0.1:9999";
  CHECK(ParseOidcConfig(http).ok());

  Json bad = ok;
  bad.erase("client_id");
  CHECK_THAT(ParseOidcConfig(bad).status().message(), Catch::Contains("client_id is required"));
  bad = ok;
  bad["role_map"] = {{"g", "superuser"}};
  CHECK_THAT(ParseOidcConfig(bad).status().message(), Catch::Contains("must be auditor, reviewer or admin"));
  bad = ok;
  bad["scopes"] = {"profile"};
  CHECK_THAT(ParseOidcConfig(bad).status().message(), Catch::Contains("openid"));
  bad = ok;
  bad["session_idle"] = "soon";
  CHECK_FALSE(ParseOidcConfig(bad).ok());

  // The secret from a file (trailing newline dropped).
  char path[] = "/tmp/hg_oidc_secret_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << "from-file\n";
  Json file = ok;
  file.erase("client_secret");
  file["client_secret_file"] = std::string(path);
  auto f = ParseOidcConfig(file);
  REQUIRE(f.ok());
  CHECK(f->client_secret == "from-file");
  std::remove(path);
}

TEST_CASE("login: authorization URL with S256 PKCE, state and nonce, code exchange, role mapped", "[review][oidc]") {
  testing::FakeClock clock;
  FakeIdp idp;
  auto client = Client(idp, clock);
  auto begun = client->BeginLogin("https://hg.example.test/auth/callback");
  REQUIRE(begun.ok());
  const std::string url = begun->authorization_url;
  CHECK(url.rfind(kIssuer + "/authorize?", 0) == 0);
  CHECK(QueryParam(url, "response_type") == "code");
  CHECK(QueryParam(url, "client_id") == "holdgate");
  CHECK(UrlDecode(QueryParam(url, "redirect_uri")) == "https://hg.example.test/auth/callback");
  CHECK(UrlDecode(QueryParam(url, "scope")) == "openid profile email");
  CHECK(QueryParam(url, "code_challenge_method") == "S256");
  CHECK(QueryParam(url, "state") == begun->state);
  CHECK(begun->state.size() == 64);
  const std::string nonce = QueryParam(url, "nonce");
  CHECK(nonce.size() == 32);
  CHECK(client->pending_logins() == 1);

  idp.id_token = Sign(IdClaims(clock, nonce));
  auto id = client->FinishLogin(begun->state, "the-code");
  REQUIRE(id.ok());
  CHECK(id->subject == "alice");
  CHECK(id->role == Role::kReviewer);
  CHECK(id->display_name == "Alice Example");
  // The token request: client_secret_basic, the code, and the verifier matching the challenge.
  const OidcHttpRequest& t = idp.last_token_request;
  bool basic = false;
  for (const auto& [k, v] : t.headers) basic = basic || (k == "Authorization" && v == "Basic " + Base64Encode("holdgate:s3cret"));
  CHECK(basic);
  const std::string form = "?" + t.body;
  CHECK(QueryParam(form, "grant_type") == "authorization_code");
  CHECK(QueryParam(form, "code") == "the-code");
  CHECK(PkceChallengeS256(QueryParam(form, "code_verifier")) == QueryParam(url, "code_challenge"));

  // The state is single use.
  auto again = client->FinishLogin(begun->state, "the-code");
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == Code::kInvalidArgument);
  CHECK(client->pending_logins() == 0);
}

TEST_CASE("login: unknown or stale state is refused without calling the issuer", "[review][oidc]") {
  testing::FakeClock clock;
  FakeIdp idp;
  auto client = Client(idp, clock);
  CHECK(client->FinishLogin("not-a-state", "code").status().code() == Code::kInvalidArgument);
  auto begun = client->BeginLogin("https://hg.example.test/auth/callback");
  REQUIRE(begun.ok());
  clock.Advance(11 * 60'000);
  auto late = client->FinishLogin(begun->state, "code");
  CHECK(late.status().code() == Code::kInvalidArgument);
  CHECK(idp.token_calls == 0);
}

TEST_CASE("login: issuer down or refusing the code gives a clear error", "[review][oidc]") {
  testing::FakeClock clock;
  FakeIdp idp;
  idp.down = true;
  auto client = Client(idp, clock);
  auto r = client->BeginLogin("https://hg/cb");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kUnavailable);
  idp.down = false;
  auto begun = client->BeginLogin("https://hg/cb");
  REQUIRE(begun.ok());
  // The discovery document is read again after an hour; while the issuer is down the copy held is used.
  CHECK(idp.discovery_fetches == 1);
  clock.Advance(2 * 3600'000);
  idp.down = true;
  REQUIRE(client->BeginLogin("https://hg/cb").ok());
  idp.down = false;
  REQUIRE(client->BeginLogin("https://hg/cb").ok());
  CHECK(idp.discovery_fetches == 2);
  idp.token_status = 400;
  auto fresh = client->BeginLogin("https://hg/cb");
  REQUIRE(fresh.ok());
  auto f = client->FinishLogin(fresh->state, "code");
  CHECK(f.status().code() == Code::kUnauthenticated);
  CHECK_THAT(f.status().message(), Catch::Contains("invalid_grant"));
}

TEST_CASE("ID token: forged signature, wrong aud/iss, nonce, algorithms", "[review][oidc]") {
  testing::FakeClock clock;
  FakeIdp idp;
  auto client = Client(idp, clock);
  const Json good = IdClaims(clock, "n1");
  REQUIRE(client->VerifyIdToken(Sign(good), "n1").ok());

  auto forged = client->VerifyIdToken(Sign(good, "k1", Rsa2()), "n1");
  REQUIRE_FALSE(forged.ok());
  CHECK(forged.status().code() == Code::kUnauthenticated);
  CHECK_THAT(forged.status().message(), Catch::Contains("bad signature"));
  // Tampered payload, original signature.
  std::string t = Sign(good);
  Json evil = good;
  evil["sub"] = "mallory";
  std::string tampered = t.substr(0, t.find('.')) + "." + Base64UrlEncode(evil.dump()) + t.substr(t.rfind('.'));
  CHECK_FALSE(client->VerifyIdToken(tampered, "n1").ok());

  Json c = good;
  c["aud"] = "someone-else";
  CHECK_THAT(client->VerifyIdToken(Sign(c), "n1").status().message(), Catch::Contains("wrong audience"));
  c["aud"] = {"someone-else", "holdgate"};
  CHECK_THAT(client->VerifyIdToken(Sign(c), "n1").status().message(), Catch::Contains("azp"));
  c["azp"] = "holdgate";
  CHECK(client->VerifyIdToken(Sign(c), "n1").ok());
  c["azp"] = "someone-else";
  CHECK_FALSE(client->VerifyIdToken(Sign(c), "n1").ok());

  c = good;
  c["iss"] = "https://other.example.test";
  CHECK_THAT(client->VerifyIdToken(Sign(c), "n1").status().message(), Catch::Contains("wrong issuer"));
  CHECK_THAT(client->VerifyIdToken(Sign(good), "n2").status().message(), Catch::Contains("nonce"));
  CHECK_FALSE(client->VerifyIdToken(Sign(good), "").ok());
  c = good;
  c.erase("nonce");
  CHECK_FALSE(client->VerifyIdToken(Sign(c), "n1").ok());

  // HS256 (even keyed with the JWK text) and none are never accepted for ID tokens.
  Json hs = {{"alg", "HS256"}, {"kid", "k1"}};
  CHECK_FALSE(client->VerifyIdToken(HandSign(hs, good, "HS256", Rsa().public_pem), "n1").ok());
  Json none = {{"alg", "none"}};
  CHECK_FALSE(client->VerifyIdToken(HandSign(none, good, "", ""), "n1").ok());
  CHECK_FALSE(client->VerifyIdToken("not a token", "n1").ok());
}

TEST_CASE("ID token: exp and iat against the injected clock, with leeway", "[review][oidc]") {
  testing::FakeClock clock;
  FakeIdp idp;
  auto client = Client(idp, clock);
  const std::string token = Sign(IdClaims(clock, "n", 300));
  REQUIRE(client->VerifyIdToken(token, "n").ok());
  clock.Advance((300 + 59) * 1000);  // inside the 60 s leeway
  CHECK(client->VerifyIdToken(token, "n").ok());
  clock.Advance(2000);
  auto r = client->VerifyIdToken(token, "n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("expired"));

  Json future = IdClaims(clock, "n", 900);
  future["iat"] = clock.NowMs() / 1000 + 600;
  CHECK_THAT(client->VerifyIdToken(Sign(future), "n").status().message(), Catch::Contains("future"));
  Json no_exp = IdClaims(clock, "n");
  no_exp.erase("exp");
  CHECK_FALSE(client->VerifyIdToken(Sign(no_exp), "n").ok());
}

TEST_CASE("ID token: an unknown kid fetches the JWKS again, rate-limited", "[review][oidc]") {
  testing::FakeClock clock;
  FakeIdp idp;
  auto client = Client(idp, clock);
  REQUIRE(client->VerifyIdToken(Sign(IdClaims(clock, "n")), "n").ok());
  CHECK(idp.jwks_fetches == 1);
  REQUIRE(client->VerifyIdToken(Sign(IdClaims(clock, "n")), "n").ok());
  CHECK(idp.jwks_fetches == 1);  // cached

  // The issuer rotates to k2 (and an ES256 key); a token signed with k2 arrives.
  idp.jwks = Json{{"keys", Json::array({Jwk(Rsa2(), "k2"), Jwk(Ec(), "e1")})}};
  clock.Advance(11'000);
  REQUIRE(client->VerifyIdToken(Sign(IdClaims(clock, "n"), "k2", Rsa2()), "n").ok());
  CHECK(idp.jwks_fetches == 2);
  REQUIRE(client->VerifyIdToken(Sign(IdClaims(clock, "n"), "e1", Ec(), "ES256"), "n").ok());
  CHECK(idp.jwks_fetches == 2);

  // Another unknown kid at once: no new fetch within jwks_min_refetch.
  auto r = client->VerifyIdToken(Sign(IdClaims(clock, "n"), "k9"), "n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("unknown kid"));
  CHECK(idp.jwks_fetches == 2);
  // The old key is gone after the rotation.
  clock.Advance(11'000);
  CHECK_FALSE(client->VerifyIdToken(Sign(IdClaims(clock, "n"), "k1", Rsa()), "n").ok());
  CHECK(idp.jwks_fetches == 3);
}

TEST_CASE("ID token: JWKS keys holdgate cannot use are skipped, not fatal", "[review][oidc]") {
  testing::FakeClock clock;
  FakeIdp idp;
  Json enc = Jwk(Rsa2(), "enc1");
  enc["use"] = "enc";
  Json okp = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, {"kid", "ed"}};
  idp.jwks = Json{{"keys", Json::array({enc, okp, Jwk(Rsa(), "k1")})}};
  auto client = Client(idp, clock);
  CHECK(client->VerifyIdToken(Sign(IdClaims(clock, "n")), "n").ok());
}

TEST_CASE("roles from the claim: role_map, highest wins, none refused, allowed domains", "[review][oidc]") {
  testing::FakeClock clock;
  FakeIdp idp;
  auto client = Client(idp, clock);
  Json c = IdClaims(clock, "n");
  c["groups"] = {"hg-auditors", "hg-admins"};
  auto admin = client->VerifyIdToken(Sign(c), "n");
  REQUIRE(admin.ok());
  CHECK(admin->role == Role::kAdmin);
  c["groups"] = {"staff"};
  auto none = client->VerifyIdToken(Sign(c), "n");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == Code::kPermissionDenied);
  CHECK_THAT(none.status().message(), Catch::Contains("no holdgate role"));

  // Without a role_map the claim's values are role names; subject_claim picks the name.
  OidcConfig plain = Config();
  plain.role_map.clear();
  plain.role_claim = "role";
  plain.subject_claim = "email";
  plain.allowed_domains = {"Example.TEST"};
  auto client2 = Client(idp, clock, plain);
  Json d = IdClaims(clock, "n");
  d["role"] = "reviewer";
  d["email"] = "alice@example.test";
  d["email_verified"] = true;
  auto ok = client2->VerifyIdToken(Sign(d), "n");
  REQUIRE(ok.ok());
  CHECK(ok->subject == "alice@example.test");
  CHECK(ok->role == Role::kReviewer);
  d["email_verified"] = false;
  CHECK(client2->VerifyIdToken(Sign(d), "n").status().code() == Code::kPermissionDenied);
  d["email_verified"] = true;
  d["email"] = "alice@evil.test";
  CHECK(client2->VerifyIdToken(Sign(d), "n").status().code() == Code::kPermissionDenied);
}

namespace {

// A real SQLite store in a fresh temporary directory.
struct TempStore {
  std::string dir;
  testing::FakeClock clock;
  std::unique_ptr<store::Store> store;
  TempStore() {
    char pattern[] = "/tmp/hg_sessions_XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    dir = pattern;
    Open();
  }
  void Open() {
    store.reset();
    auto opened = store::Store::Open(dir + "/holdgate.db", clock);
    REQUIRE(opened.ok());
    store = std::move(opened).value();
  }
  ~TempStore() {
    store.reset();
    std::string cmd = "rm -rf '" + dir + "'";
    (void)!std::system(cmd.c_str());
  }
};

}  // namespace

TEST_CASE("sessions: hashed ids, idle and absolute expiry, removal, CSRF comparison", "[review][sessions]") {
  TempStore ts;
  testing::FakeClock& clock = ts.clock;
  SessionStore store(clock, *ts.store, /*idle_ms=*/30 * 60'000, /*absolute_ms=*/2 * 3600'000);
  auto a = store.Create("alice", Role::kReviewer, "Alice");
  REQUIRE(a.ok());
  CHECK(a->id.size() == 64);
  CHECK(a->session.csrf_token.size() == 64);
  CHECK(a->id != a->session.csrf_token);
  CHECK(store.Create("bob", Role::kAdmin, "Bob")->id != a->id);
  // Only the hash is stored.
  auto row = ts.store->GetReviewerSession(Sha256Hex(a->id));
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  CHECK((*row)->subject == "alice");
  CHECK_FALSE(ts.store->GetReviewerSession(a->id)->has_value());
  auto s = store.Touch(a->id);
  REQUIRE(s);
  CHECK(s->subject == "alice");
  CHECK(s->role == Role::kReviewer);
  CHECK_FALSE(store.Touch(Sha256Hex(a->id)));  // the stored key is not a usable cookie
  CHECK_FALSE(store.Touch("short"));

  // Idle: used every 20 minutes it lives on, until the absolute limit.
  for (int i = 0; i < 5; ++i) {
    clock.Advance(20 * 60'000);
    REQUIRE(store.Touch(a->id));
  }
  clock.Advance(20 * 60'000);  // 2 h since sign-in
  CHECK_FALSE(store.Touch(a->id));
  CHECK_FALSE(ts.store->GetReviewerSession(Sha256Hex(a->id))->has_value());  // deleted when found expired

  auto b = store.Create("carol", Role::kReviewer, "Carol");
  REQUIRE(b.ok());
  clock.Advance(30 * 60'000);  // idle too long
  CHECK_FALSE(store.Touch(b->id));

  auto c = store.Create("dave", Role::kAuditor, "Dave");
  REQUIRE(c.ok());
  CHECK(store.Remove(c->id));
  CHECK_FALSE(store.Touch(c->id));
  CHECK_FALSE(store.Remove(c->id));

  CHECK(SessionStore::CsrfMatches(c->session, c->session.csrf_token));
  CHECK_FALSE(SessionStore::CsrfMatches(c->session, ""));
  CHECK_FALSE(SessionStore::CsrfMatches(c->session, c->session.csrf_token.substr(1)));
  std::string flipped = c->session.csrf_token;
  flipped[10] = flipped[10] == 'a' ? 'b' : 'a';
  CHECK_FALSE(SessionStore::CsrfMatches(c->session, flipped));
}

TEST_CASE("sessions: survive a restart (reopened store), expired ones are pruned at the next sign-in", "[review][sessions]") {
  TempStore ts;
  std::string id, old_id;
  {
    SessionStore store(ts.clock, *ts.store, 30 * 60'000, 12 * 3600'000);
    old_id = store.Create("old", Role::kReviewer, "Old")->id;
    ts.clock.Advance(31 * 60'000);
    id = store.Create("alice", Role::kAdmin, "Alice")->id;  // prunes "old"
  }
  CHECK_FALSE(ts.store->GetReviewerSession(Sha256Hex(old_id))->has_value());
  ts.Open();
  SessionStore again(ts.clock, *ts.store, 30 * 60'000, 12 * 3600'000);
  auto s = again.Touch(id);
  REQUIRE(s);
  CHECK(s->subject == "alice");
  CHECK(s->role == Role::kAdmin);
  CHECK(s->display_name == "Alice");
}

}  // namespace holdgate::review
