// The only translation unit that includes cpp-jwt: its error codes are compared here, and only
// here (cpp-jwt's error categories are per translation unit, so a comparison made elsewhere fails
// in a Release build), and mapped to AuthResult.
#include "review/jwt_auth.h"

#include <jwt/jwt.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "common/crypto.h"
#include "common/log.h"
#include "review/jwk.h"

namespace holdgate::review {
namespace {

constexpr size_t kMaxTokenBytes = 8192;

Status Unauthenticated(std::string message) { return Status(Code::kUnauthenticated, std::move(message)); }

bool IsSupportedAlg(std::string_view alg) {
  return alg == "HS256" || alg == "RS256" || alg == "ES256";
}

AuthResult Fail(AuthResult::Status status, std::string why) {
  AuthResult r;
  r.status = status;
  r.why = std::move(why);
  return r;
}

// NumericDate (RFC 7519 §2): a JSON number of seconds. Returns false when absent or not a number.
bool NumericClaim(const Json& claims, const char* name, int64_t* out) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return false;
  double v = it->get<double>();
  if (!std::isfinite(v) || v < 0 || v > 1e13) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

Result<int64_t> DurationSeconds(const Json& v, const char* name) {
  if (v.is_number_integer()) {
    if (v.get<int64_t>() < 0) return InvalidArgument(std::string("auth.") + name + " must not be negative");
    return v.get<int64_t>();
  }
  if (v.is_string()) {
    int64_t ms = ParseDurationMs(v.get<std::string>());
    if (ms < 0) return InvalidArgument(std::string("auth.") + name + ": bad duration \"" + v.get<std::string>() + "\"");
    return ms / 1000;
  }
  return InvalidArgument(std::string("auth.") + name + " must be a duration string or seconds");
}

// The checks made before cpp-jwt sees a token (shape, header, claim types). On success fills
// `header`, `alg` and `kid`; otherwise returns the rejection.
std::optional<AuthResult> Precheck(std::string_view token, Json* header_out, std::string* alg_out,
                                   std::string* kid_out) {
  using S = AuthResult::Status;
  if (token.size() > kMaxTokenBytes) return Fail(S::kInvalid, "token too long");
  // A compact JWS is base64url segments and dots only. Anything else is refused before cpp-jwt
  // sees it: its base64 decoder indexes a 256-entry table with a plain char, so a byte >= 0x80
  // read before the table (out of bounds; found by tests/fuzz/jwt_fuzz.cpp).
  for (char c : token) {
    const bool b64url = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_' || c == '.';
    if (!b64url) return Fail(S::kInvalid, "malformed token (not base64url)");
  }
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos ||
      token.find('.', d2 + 1) != std::string_view::npos || d1 == 0 || d2 == d1 + 1 ||
      d2 + 1 == token.size()) {
    return Fail(S::kInvalid, "malformed token (want header.payload.signature)");
  }
  std::string header_text;
  if (!Base64UrlDecode(token.substr(0, d1), &header_text)) return Fail(S::kInvalid, "malformed token header");
  auto header = ParseJson(header_text, 8);
  if (!header.ok() || !header->is_object()) return Fail(S::kInvalid, "malformed token header");
  auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) return Fail(S::kInvalid, "token header has no alg");
  const std::string alg = alg_it->get<std::string>();
  // Exact match: "none", "NoNe", "HS512", … are never accepted.
  if (!IsSupportedAlg(alg)) return Fail(S::kInvalid, "algorithm not accepted");
  if (header->contains("crit")) return Fail(S::kInvalid, "unsupported critical header");
  std::string kid;
  if (auto it = header->find("kid"); it != header->end()) {
    if (!it->is_string()) return Fail(S::kInvalid, "kid must be a string");
    kid = it->get<std::string>();
  }
  // cpp-jwt checks the claims BEFORE the signature, so an unsigned token reaches this code. It
  // reads exp and nbf as uint64 (a number such as 1e20 is undefined behaviour in the conversion),
  // and it keeps claim and header names in a set compared with strcmp, so a name with a NUL byte
  // ("exp\u0000") counts as "exp", which it then looks up in the JSON, finds missing, and reads
  // past the map (an assertion in debug builds). Both found by tests/fuzz/jwt_fuzz.cpp. So:
  for (auto it = header->begin(); it != header->end(); ++it) {
    if (it.key().find('\0') != std::string::npos) return Fail(S::kInvalid, "malformed token header");
  }
  {
    std::string payload_text;
    if (!Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1), &payload_text)) {
      return Fail(S::kInvalid, "malformed token payload");
    }
    auto payload = ParseJson(payload_text, 32);
    if (!payload.ok() || !payload->is_object()) return Fail(S::kInvalid, "malformed token payload");
    for (auto it = payload->begin(); it != payload->end(); ++it) {
      if (it.key().find('\0') != std::string::npos) return Fail(S::kInvalid, "malformed token payload");
    }
    for (const char* name : {"exp", "nbf", "iat"}) {
      int64_t unused = 0;
      if (payload->contains(name) && !NumericClaim(*payload, name, &unused)) {
        return Fail(S::kInvalid, std::string("bad ") + name + " claim");
      }
    }
  }

  *header_out = std::move(*header);
  *alg_out = alg;
  *kid_out = kid;
  return std::nullopt;
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAuditor: return "auditor";
    case Role::kReviewer: return "reviewer";
    case Role::kAdmin: return "admin";
    case Role::kNone: break;
  }
  return "none";
}

bool ParseRole(std::string_view text, Role* out) {
  if (text == "auditor") *out = Role::kAuditor;
  else if (text == "reviewer") *out = Role::kReviewer;
  else if (text == "admin") *out = Role::kAdmin;
  else return false;
  return true;
}

const char* AuthStatusName(AuthResult::Status status) {
  switch (status) {
    case AuthResult::Status::kOk: return "ok";
    case AuthResult::Status::kMissing: return "missing";
    case AuthResult::Status::kInvalid: return "invalid";
    case AuthResult::Status::kExpired: return "expired";
    case AuthResult::Status::kForbidden: return "forbidden";
  }
  return "invalid";
}

Result<JwtConfig> ParseJwtConfig(const Json& auth, const std::string& base_dir) {
  JwtConfig c;
  if (!auth.is_null() && !auth.is_object()) return InvalidArgument("auth must be an object");
  const Json a = auth.is_object() ? auth : Json::object();
  try {
    if (a.contains("jwt_secret")) {
      if (!a["jwt_secret"].is_string()) return InvalidArgument("auth.jwt_secret must be a string");
      c.hs256_secret = a["jwt_secret"].get<std::string>();
    } else if (const char* env = std::getenv("HOLDGATE_JWT_SECRET"); env != nullptr) {
      c.hs256_secret = env;
    }
    if (a.contains("issuer")) c.issuer = a["issuer"].get<std::string>();
    if (a.contains("audience")) c.audience = a["audience"].get<std::string>();
    if (a.contains("leeway")) {
      auto v = DurationSeconds(a["leeway"], "leeway");
      if (!v.ok()) return v.status();
      c.leeway_s = *v;
    }
    if (a.contains("max_token_lifetime")) {
      auto v = DurationSeconds(a["max_token_lifetime"], "max_token_lifetime");
      if (!v.ok()) return v.status();
      c.max_lifetime_s = *v;
    }
    if (a.contains("public_keys")) {
      if (!a["public_keys"].is_array()) return InvalidArgument("auth.public_keys must be an array");
      for (size_t i = 0; i < a["public_keys"].size(); ++i) {
        const Json& k = a["public_keys"][i];
        std::string where = "auth.public_keys[" + std::to_string(i) + "]";
        if (!k.is_object()) return InvalidArgument(where + " must be an object");
        JwtKey key;
        key.kid = k.value("kid", "");
        key.alg = k.value("alg", "");
        if (k.contains("pem")) {
          key.material = k["pem"].get<std::string>();
        } else if (k.contains("pem_file")) {
          auto text = ReadFile(Resolve(base_dir, k["pem_file"].get<std::string>()));
          if (!text.ok()) return InvalidArgument(where + ": " + text.status().message());
          key.material = *text;
        } else {
          return InvalidArgument(where + " needs \"pem\" or \"pem_file\"");
        }
        c.public_keys.push_back(std::move(key));
      }
    }
    if (a.contains("jwks_file")) {
      c.jwks_file = Resolve(base_dir, a["jwks_file"].get<std::string>());
      auto text = ReadFile(c.jwks_file);
      if (!text.ok()) return InvalidArgument("auth.jwks_file: " + text.status().message());
      c.jwks_json = *text;
    }
    if (a.contains("jwks_refresh")) {
      auto v = DurationSeconds(a["jwks_refresh"], "jwks_refresh");
      if (!v.ok()) return v.status();
      if (*v < 10) return InvalidArgument("auth.jwks_refresh must be at least 10s");
      c.jwks_refresh_ms = *v * 1000;
    }
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("auth: wrong type in configuration: ") + e.what());
  }
  return c;
}

Result<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(const JwtConfig& config, const Clock* clock) {
  std::vector<JwtKey> keys;
  if (!config.hs256_secret.empty()) {
    if (config.hs256_secret.size() < kMinHs256SecretBytes) {
      return InvalidArgument("the HS256 secret must be at least 32 bytes (it has " +
                             std::to_string(config.hs256_secret.size()) + ")");
    }
    keys.push_back(JwtKey{"", "HS256", config.hs256_secret});
  }
  for (size_t i = 0; i < config.public_keys.size(); ++i) {
    const JwtKey& k = config.public_keys[i];
    std::string where = "public key " + std::to_string(i) + (k.kid.empty() ? "" : " (kid " + k.kid + ")");
    if (k.alg != "RS256" && k.alg != "ES256") {
      return InvalidArgument(where + ": alg must be RS256 or ES256, got \"" + k.alg + "\"");
    }
    Status s = CheckPublicKeyPem(k.material, k.alg);
    if (!s.ok()) return InvalidArgument(where + ": " + s.message());
    keys.push_back(k);
  }
  std::vector<JwtKey> jwks_keys;
  if (!config.jwks_json.empty()) {
    auto jwks = ParseJwks(config.jwks_json);
    if (!jwks.ok()) return jwks.status();
    for (auto& k : *jwks) jwks_keys.push_back(JwtKey{k.kid, k.alg, k.pem});
  }
  if (keys.empty() && jwks_keys.empty()) {
    return InvalidArgument("no reviewer token key configured: set auth.jwt_secret (or HOLDGATE_JWT_SECRET, "
                           ">= 32 bytes), auth.public_keys or auth.jwks_file");
  }
  if (config.leeway_s < 0 || config.leeway_s > 300) return InvalidArgument("auth.leeway must be 0..300 s");
  if (config.max_lifetime_s <= 0) return InvalidArgument("auth.max_token_lifetime must be positive");
  if (clock == nullptr) clock = &SystemClock::Instance();
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(config, std::move(keys), std::move(jwks_keys), clock));
}

JwtVerifier::JwtVerifier(JwtConfig config, std::vector<JwtKey> fixed, std::vector<JwtKey> jwks, const Clock* clock)
    : config_(std::move(config)), fixed_keys_(std::move(fixed)), clock_(clock) {
  auto all = std::make_shared<std::vector<JwtKey>>(fixed_keys_);
  all->insert(all->end(), jwks.begin(), jwks.end());
  keys_ = std::move(all);
  jwks_loaded_ms_ = clock_->NowMs();
}

JwtVerifier::KeySet JwtVerifier::Keys() const {
  std::lock_guard<std::mutex> lock(keys_mu_);
  return keys_;
}

JwtVerifier::KeySet JwtVerifier::MaybeReloadJwks(bool unknown_kid) const {
  std::lock_guard<std::mutex> lock(keys_mu_);
  if (config_.jwks_file.empty()) return keys_;
  const int64_t now = clock_->NowMs();
  const bool due = now - jwks_loaded_ms_ >= config_.jwks_refresh_ms;
  const bool forced = unknown_kid && now - jwks_tried_ms_ >= config_.jwks_min_reload_ms;
  if (!due && !forced) return keys_;
  if (forced) jwks_tried_ms_ = now;
  jwks_loaded_ms_ = now;  // also after a failure: retried at the next period, not on every request
  auto text = ReadFile(config_.jwks_file);
  Result<std::vector<PemPublicKey>> jwks =
      text.ok() ? ParseJwks(*text) : Result<std::vector<PemPublicKey>>(text.status());
  if (!jwks.ok()) {
    log::Warn("auth.jwks_file not reloaded; keeping the keys read before",
              {{"file", config_.jwks_file}, {"error", jwks.status().message()}});
    return keys_;
  }
  auto all = std::make_shared<std::vector<JwtKey>>(fixed_keys_);
  for (auto& k : *jwks) all->push_back(JwtKey{k.kid, k.alg, k.pem});
  keys_ = std::move(all);
  return keys_;
}

AuthResult JwtVerifier::Verify(std::string_view token) const {
  using S = AuthResult::Status;
  if (token.empty()) return Fail(S::kMissing, "no bearer token");
  Json header_json;
  std::string alg, kid;
  if (auto refused = Precheck(token, &header_json, &alg, &kid)) return *refused;
  const Json* header = &header_json;

  // Candidates: the keys of this algorithm (the key's pinned algorithm decides, never the token).
  // A token without a kid tries them all; one with a kid tries the keys with that kid or, when no
  // key carries it, the keys without a kid (a kid is a hint, e.g. on a shared-secret token).
  // A kid no key carries may be a key the identity provider rotated in: re-read the JWKS file.
  KeySet keys = MaybeReloadJwks(false);
  auto has_kid = [&](const KeySet& set) {
    for (const JwtKey& key : *set) {
      if (key.kid == kid) return true;
    }
    return false;
  };
  if (!kid.empty() && !has_kid(keys)) keys = MaybeReloadJwks(true);
  std::vector<const JwtKey*> candidates;
  for (const JwtKey& key : *keys) {
    if (key.alg == alg && (kid.empty() || key.kid == kid)) candidates.push_back(&key);
  }
  if (candidates.empty() && !kid.empty()) {
    for (const JwtKey& key : *keys) {
      if (key.alg == alg && key.kid.empty()) candidates.push_back(&key);
    }
  }
  AuthResult last = Fail(S::kInvalid, kid.empty() ? "no key for algorithm " + alg : "unknown kid");
  for (const JwtKey* key : candidates) {
    AuthResult r = VerifyWithKey(token, *key, *header);
    if (r.status != S::kInvalid || r.why != "bad signature") return r;  // decided by this key
    last = std::move(r);
  }
  return last;
}

AuthResult JwtVerifier::VerifyWithKey(std::string_view token, const JwtKey& key, const Json&) const {
  using S = AuthResult::Status;
  using namespace jwt::params;
  std::error_code ec;
  Json claims;
  try {
    const uint32_t lw = static_cast<uint32_t>(config_.leeway_s);
    const jwt::string_view tv(token.data(), token.size());
    // Exactly one algorithm per key, so an RS256 public key can never verify an HS256 token signed
// with that key's text (algorithm confusion); `none` is never listed, so unsigned tokens fail.
    auto run = [&](auto&&... extra) {
      return jwt::decode(tv, algorithms({key.alg}), ec, secret(key.material), leeway(lw), extra...);
    };
    const bool iss = !config_.issuer.empty();
    const bool au = !config_.audience.empty();
    jwt::jwt_object obj = iss && au ? run(issuer(config_.issuer), aud(config_.audience))
                        : iss       ? run(issuer(config_.issuer))
                        : au        ? run(aud(config_.audience))
                                    : run();
    if (ec) {
      // Any non-zero code is a rejection (§4.8); a few get a specific message.
      if (ec == jwt::VerificationErrc::TokenExpired) return Fail(S::kExpired, "token expired");
      if (ec == jwt::VerificationErrc::InvalidSignature) return Fail(S::kInvalid, "bad signature");
      if (ec == jwt::VerificationErrc::InvalidIssuer) return Fail(S::kInvalid, "wrong issuer");
      if (ec == jwt::VerificationErrc::InvalidAudience) return Fail(S::kInvalid, "wrong audience");
      if (ec == jwt::VerificationErrc::ImmatureSignature) return Fail(S::kInvalid, "token not yet valid");
      if (ec == jwt::VerificationErrc::InvalidAlgorithm) return Fail(S::kInvalid, "algorithm not accepted");
      return Fail(S::kInvalid, "token rejected: " + ec.message());
    }
    claims = obj.payload().create_json_obj();
  } catch (const std::exception&) {
    return Fail(S::kInvalid, "token rejected: malformed claims");
  } catch (...) {
    return Fail(S::kInvalid, "token rejected");
  }
  if (!claims.is_object()) return Fail(S::kInvalid, "claims are not an object");

  // Time checks against our own clock (the library's use the system clock; both must pass).
  const int64_t now = clock_->NowMs() / 1000;
  const int64_t lw = config_.leeway_s;
  int64_t exp = 0, nbf = 0, iat = 0;
  if (!NumericClaim(claims, "exp", &exp)) return Fail(S::kInvalid, "token has no valid exp claim");
  if (now > exp + lw) return Fail(S::kExpired, "token expired");
  if (claims.contains("nbf")) {
    if (!NumericClaim(claims, "nbf", &nbf)) return Fail(S::kInvalid, "bad nbf claim");
    if (nbf - lw > now) return Fail(S::kInvalid, "token not yet valid");
  }
  bool has_iat = claims.contains("iat");
  if (has_iat) {
    if (!NumericClaim(claims, "iat", &iat)) return Fail(S::kInvalid, "bad iat claim");
    if (iat - lw > now) return Fail(S::kInvalid, "token issued in the future");
  }
  const int64_t start = has_iat ? iat : now;
  if (exp - start > config_.max_lifetime_s) return Fail(S::kInvalid, "token lifetime exceeds the maximum");

  auto sub = claims.find("sub");
  if (sub == claims.end() || !sub->is_string() || sub->get<std::string>().empty() ||
      sub->get<std::string>().size() > 256) {
    return Fail(S::kInvalid, "token has no usable sub claim");
  }
  AuthResult r;
  r.subject = sub->get<std::string>();
  auto role = claims.find("role");
  if (role == claims.end() || !role->is_string() || !ParseRole(role->get<std::string>(), &r.role)) {
    r.status = S::kForbidden;
    r.role = Role::kNone;
    r.why = "token has no known role (auditor, reviewer or admin)";
    return r;
  }
  r.status = S::kOk;
  return r;
}

Result<Json> VerifyJwsSignature(std::string_view token, const std::vector<JwtKey>& keys, std::string* kid_out) {
  if (token.empty()) return Unauthenticated("no token");
  Json header;
  std::string alg, kid;
  if (auto refused = Precheck(token, &header, &alg, &kid)) return Unauthenticated(refused->why);
  if (alg == "HS256") return Unauthenticated("algorithm not accepted");
  if (kid_out != nullptr) *kid_out = kid;
  bool any = false;
  for (const JwtKey& key : keys) {
    if (key.alg != alg || (!kid.empty() && !key.kid.empty() && key.kid != kid)) continue;
    any = true;
    using namespace jwt::params;
    std::error_code ec;
    try {
      // Exactly one algorithm, the key's. The library's own time checks use the system clock; a
      // leeway of ~31 years switches them off (nbf minus leeway stays positive for any real date),
      // because the caller checks exp, iat and nbf against its injected clock.
      const jwt::string_view tv(token.data(), token.size());
      jwt::jwt_object obj = jwt::decode(tv, algorithms({key.alg}), ec, secret(key.material),
                                        leeway(1'000'000'000u));
      // A wrong RSA/EC key reports VerificationErr, a wrong HMAC InvalidSignature: try the next key.
      if (ec == jwt::VerificationErrc::InvalidSignature || ec == jwt::AlgorithmErrc::VerificationErr) continue;
      if (ec) return Unauthenticated("token rejected: " + ec.message());
      Json claims = obj.payload().create_json_obj();
      if (!claims.is_object()) return Unauthenticated("claims are not an object");
      return claims;
    } catch (const std::exception&) {
      return Unauthenticated("token rejected: malformed claims");
    } catch (...) {
      return Unauthenticated("token rejected");
    }
  }
  return Unauthenticated(any ? "bad signature" : "unknown kid");
}

Result<std::string> SignJwt(std::string_view alg, std::string_view key, const Json& claims,
                            std::string_view kid) {
  if (!IsSupportedAlg(alg)) return InvalidArgument("unsupported algorithm " + std::string(alg));
  if (!claims.is_object()) return InvalidArgument("claims must be a JSON object");
  if (key.empty()) return InvalidArgument("empty signing key");
  try {
    using namespace jwt::params;
    jwt::jwt_object obj{algorithm(jwt::string_view(alg.data(), alg.size())),
                        secret(jwt::string_view(key.data(), key.size()))};
    for (auto it = claims.begin(); it != claims.end(); ++it) obj.add_claim(it.key(), it.value());
    if (!kid.empty()) obj.header().add_header("kid", std::string(kid));
    std::error_code ec;
    std::string token = obj.signature(ec);
    if (ec) return InvalidArgument("signing failed: " + ec.message());
    return token;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("signing failed: ") + e.what());
  }
}

Result<std::string> MintHs256(std::string_view secret, std::string_view sub, Role role, int64_t ttl_s,
                              std::string_view issuer, std::string_view audience, const Clock* clock) {
  if (secret.size() < kMinHs256SecretBytes) {
    return InvalidArgument("the HS256 secret must be at least 32 bytes");
  }
  if (sub.empty()) return InvalidArgument("sub must not be empty");
  if (role == Role::kNone) return InvalidArgument("role must be auditor, reviewer or admin");
  if (ttl_s <= 0) return InvalidArgument("ttl must be positive");
  if (clock == nullptr) clock = &SystemClock::Instance();
  const int64_t now = clock->NowMs() / 1000;
  Json claims = {{"sub", std::string(sub)}, {"role", RoleName(role)}, {"iat", now},
                 {"exp", now + ttl_s}, {"jti", RandomHex(8)}};
  if (!issuer.empty()) claims["iss"] = std::string(issuer);
  if (!audience.empty()) claims["aud"] = std::string(audience);
  return SignJwt("HS256", secret, claims);
}

}  // namespace holdgate::review
