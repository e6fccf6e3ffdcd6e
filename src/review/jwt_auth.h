#pragma once
// Reviewer authentication: verifies JWT bearer tokens (HS256 shared secret, RS256/ES256 public
// keys from PEM files or a JWKS document) and mints HS256 tokens for `holdgate token`.
// All cpp-jwt use is confined to jwt_auth.cpp (the header costs ~5 s of compile per translation
// unit, and its error categories compare unequal across translation units); this header does not
// include it.
// JwtVerifier is immutable after Create() and safe to call from any thread; nothing here blocks.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/json_util.h"
#include "common/status.h"

namespace holdgate::review {

// What a verified token may do. Ordered: each role can do what the ones before it can.
enum class Role {
  kNone = 0,   // no usable role claim
  kAuditor,    // read only: approvals, events, audit
  kReviewer,   // also decide and comment
  kAdmin,      // also policy and webhook redelivery
};
const char* RoleName(Role role);
// "auditor" | "reviewer" | "admin" (exact, lower case). Returns false otherwise.
bool ParseRole(std::string_view text, Role* out);

struct AuthResult {
  enum class Status {
    kOk,         // valid token; subject and role are set
    kMissing,    // no token presented
    kInvalid,    // malformed, bad signature, wrong alg/iss/aud, no exp, not yet valid, too long-lived
    kExpired,    // exp (plus leeway) has passed
    kForbidden,  // valid signature but no usable role (or no subject): authenticated, not authorised
  };
  Status status = Status::kMissing;
  std::string subject;  // the `sub` claim
  Role role = Role::kNone;
  std::string why;      // short human-readable reason, safe to log (never contains the token)

  bool ok() const { return status == Status::kOk; }
};
const char* AuthStatusName(AuthResult::Status status);

// One verification key. Exactly one algorithm is pinned per key (no algorithm confusion).
struct JwtKey {
  std::string kid;        // optional; a token naming a kid is checked against the keys with that kid,
                          // or, when no key has it, against the keys without a kid
  std::string alg;        // "HS256" | "RS256" | "ES256"
  std::string material;   // HS256: the shared secret; RS256/ES256: a PEM public key
};

struct JwtConfig {
  std::string hs256_secret;              // empty = no HS256 key; else at least 32 bytes
  std::vector<JwtKey> public_keys;       // RS256/ES256 PEM keys
  std::string jwks_json;                 // optional JWKS document ({"keys":[…]}) text
  // Where jwks_json came from (the config's jwks_file, resolved). When set, the verifier re-reads it
  // when a token names a kid it does not know (at most every jwks_min_reload_ms) and every
  // jwks_refresh_ms, so an identity provider's key rotation needs no restart. A file that no longer
  // parses keeps the keys read before (and is logged).
  std::string jwks_file;
  int64_t jwks_refresh_ms = 10 * 60'000;
  int64_t jwks_min_reload_ms = 10'000;
  std::string issuer;                    // when set, `iss` must equal it
  std::string audience;                  // when set, `aud` must equal it (a string, not an array)
  int64_t leeway_s = 30;                 // clock skew tolerated on exp / nbf / iat
  int64_t max_lifetime_s = 24 * 3600;    // exp - iat (or exp - now without iat) may not exceed this
};

constexpr size_t kMinHs256SecretBytes = 32;

// Reads the `auth` object of the config file:
//   {"jwt_secret": "...", "issuer": "...", "audience": "...", "leeway": "30s",
//    "max_token_lifetime": "24h", "public_keys": [{"kid": "...", "alg": "RS256", "pem": "..." |
//    "pem_file": "path"}], "jwks_file": "path", "jwks_refresh": "10m"}
// Relative file paths are resolved against `base_dir`. When `jwt_secret` is absent, the
// HOLDGATE_JWT_SECRET environment variable is used. Does not validate key material (Create does).
Result<JwtConfig> ParseJwtConfig(const Json& auth, const std::string& base_dir = "");

class JwtVerifier {
 public:
  // Validates every key: refuses an empty or short (< 32 bytes) HS256 secret, a PEM that is not a
  // public key of its algorithm's type (RSA >= 2048 bits for RS256, EC P-256 for ES256), a JWKS
  // that does not parse, and a configuration with no key at all.
  // `clock` must outlive the verifier; nullptr means the system clock.
  static Result<std::unique_ptr<JwtVerifier>> Create(const JwtConfig& config,
                                                     const Clock* clock = nullptr);

  // `bearer_token` is the token itself (without "Bearer "). Any library error is a rejection.
  AuthResult Verify(std::string_view bearer_token) const;

  size_t key_count() const { return Keys()->size(); }

 private:
  using KeySet = std::shared_ptr<const std::vector<JwtKey>>;
  JwtVerifier(JwtConfig config, std::vector<JwtKey> fixed, std::vector<JwtKey> jwks, const Clock* clock);

  AuthResult VerifyWithKey(std::string_view token, const JwtKey& key, const Json& header) const;
  KeySet Keys() const;
  // Re-reads config_.jwks_file when `unknown_kid` (at most every jwks_min_reload_ms) or when the
  // refresh period has passed; returns the keys to use.
  KeySet MaybeReloadJwks(bool unknown_kid) const;

  const JwtConfig config_;
  const std::vector<JwtKey> fixed_keys_;  // HS256 secret first, then PEM keys
  const Clock* const clock_;
  mutable std::mutex keys_mu_;
  mutable KeySet keys_;                  // guarded by keys_mu_: fixed keys, then JWKS keys
  mutable int64_t jwks_loaded_ms_ = 0;   // guarded by keys_mu_
  mutable int64_t jwks_tried_ms_ = 0;    // guarded by keys_mu_: the last forced re-read
};

// Signature-only verification for callers that check the claims themselves (the OIDC ID token,
// review/oidc.h). Runs the same shape checks as JwtVerifier::Verify, refuses HS256 and any
// algorithm other than RS256/ES256, then tries the `keys` of the token's algorithm (those whose
// kid matches when both have one). Returns the claims; no time, issuer or audience check is made
// here. kUnauthenticated with "unknown kid" when no key fits, "bad signature" when none verifies.
// `kid_out` (optional) receives the token's kid.
Result<Json> VerifyJwsSignature(std::string_view token, const std::vector<JwtKey>& keys,
                                std::string* kid_out = nullptr);

// Signs an HS256 token {sub, role, iat, exp = now + ttl_s} (plus iss/aud when non-empty).
// Refuses a secret shorter than 32 bytes, an empty sub, an unknown role or ttl_s <= 0.
Result<std::string> MintHs256(std::string_view secret, std::string_view sub, Role role,
                              int64_t ttl_s, std::string_view issuer = "",
                              std::string_view audience = "", const Clock* clock = nullptr);

// General signer, for tests and tooling: signs `claims` (a JSON object, copied as is) with `alg`
// ("HS256" with a secret, "RS256"/"ES256" with a PEM private key). `kid` goes into the header
// when non-empty. Performs no policy checks: it will happily sign a token without exp.
Result<std::string> SignJwt(std::string_view alg, std::string_view key, const Json& claims,
                            std::string_view kid = "");

}  // namespace holdgate::review
