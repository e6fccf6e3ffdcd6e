#pragma once
// Single sign-on for reviewers: the OpenID Connect authorization code flow with PKCE (S256)
// against one configured issuer. Owns the issuer's discovery document and JWKS (cached; the
// JWKS is fetched again when an ID token names a key id it does not know, at most every
// jwks_min_refetch), the logins in progress (state → PKCE verifier, nonce, redirect URI; ten
// minutes, single use), and the ID token checks: signature (RS256/ES256, via jwt_auth.h), iss,
// aud (and azp), exp/iat against the injected clock with a small leeway, nonce, then the reviewer's
// name and role from the claims (role_claim, role_map, allowed_domains).
//
// Thread-safe. BeginLogin blocks on the network only to read the discovery document (the first
// call, then hourly; a failed refresh keeps the copy held). FinishLogin blocks on the issuer's token endpoint (and, on a new
// kid, its JWKS), each request bounded by `timeout_ms`. Nothing here touches the store.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/json_util.h"
#include "common/status.h"
#include "review/jwt_auth.h"

namespace holdgate::review {

struct OidcConfig {
  bool enabled = false;             // the config has a review.oidc object
  std::string issuer;               // exact issuer identifier (no trailing slash added or removed)
  std::string client_id;
  std::string client_secret;        // client_secret | client_secret_file | HOLDGATE_OIDC_CLIENT_SECRET
  std::string redirect_uri;         // empty: <review public URL>/auth/callback
  std::vector<std::string> scopes = {"openid", "profile", "email"};
  std::string subject_claim = "sub";  // names the reviewer (votes, audit, self-approval checks)
  std::string role_claim = "role";    // a string or an array of strings
  // Claim value → "auditor" | "reviewer" | "admin". Empty: the claim's values are role names.
  // Several matching values: the highest role wins.
  std::map<std::string, std::string> role_map;
  // When non-empty, the `email` claim must be verified (email_verified true) and end in
  // "@<one of these>" (case-insensitive).
  std::vector<std::string> allowed_domains;
  bool allow_insecure_issuer = false;  // http:// issuer, loopback hosts only (tests, local IdPs)
  std::string ca_file;                 // extra trust anchor for the issuer (PEM); empty: system store
  int64_t leeway_s = 60;
  int64_t session_idle_ms = 30 * 60'000;
  int64_t session_absolute_ms = 12 * 3600'000;
  int64_t jwks_min_refetch_ms = 10'000;
  int64_t timeout_ms = 10'000;
};

// Reads review.oidc (null/absent: enabled=false):
//   {"issuer", "client_id", "client_secret" | "client_secret_file", "redirect_uri", "scopes": [...],
//    "subject_claim", "role_claim", "role_map": {...}, "allowed_domains": [...],
//    "allow_insecure_issuer": false, "ca_file", "leeway": "60s", "session_idle": "30m",
//    "session_absolute": "12h"}
// Refuses a missing issuer or client_id, an http:// issuer (unless allow_insecure_issuer and a
// loopback host), a role_map value that is not a role, scopes without "openid".
Result<OidcConfig> ParseOidcConfig(const Json& oidc, const std::string& base_dir = "");

// PKCE (RFC 7636): a verifier of 43 base64url characters (32 random bytes) and its S256 challenge.
std::string NewPkceVerifier();
std::string PkceChallengeS256(std::string_view verifier);

// One outbound HTTP exchange with the issuer. Injectable so unit tests need no network.
struct OidcHttpRequest {
  std::string method;  // "GET" | "POST"
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;    // form-encoded for POST
};
struct OidcHttpReply {
  int status = 0;      // 0: no answer
  std::string body;
  std::string error;   // transport error
};
using OidcFetcher = std::function<OidcHttpReply(const OidcHttpRequest&)>;
// httplib-based: certificates verified for https (ca_file added), no redirects followed,
// bodies over 1 MiB refused.
OidcFetcher HttpOidcFetcher(std::string ca_file, int64_t timeout_ms);

struct OidcIdentity {
  std::string subject;  // from subject_claim
  Role role = Role::kNone;
  std::string display_name;  // name, else preferred_username, else email, else subject
  std::string email;
};

class OidcClient {
 public:
  // `clock` must outlive the client. A null fetcher means HttpOidcFetcher(config).
  static Result<std::unique_ptr<OidcClient>> Create(OidcConfig config, const Clock& clock,
                                                    OidcFetcher fetcher = nullptr);

  struct Begun {
    std::string authorization_url;
    std::string state;  // also to be bound to the browser (a cookie), checked on return
  };
  // Starts a login whose callback is `redirect_uri`: kUnavailable when discovery fails,
  // kResourceExhausted when too many logins are in progress.
  Result<Begun> BeginLogin(const std::string& redirect_uri);

  // Completes the login `state` (single use) with the authorization `code`: exchanges it (with the
  // PKCE verifier), verifies the ID token and maps the reviewer. kInvalidArgument for an unknown
  // or expired state, kUnavailable when the issuer cannot be reached, kUnauthenticated for an ID
  // token that fails a check, kPermissionDenied for a valid user without a role or allowed domain.
  Result<OidcIdentity> FinishLogin(std::string_view state, std::string_view code);

  // The ID token checks on their own (FinishLogin uses them), for tests.
  Result<OidcIdentity> VerifyIdToken(std::string_view id_token, std::string_view expected_nonce);

  const OidcConfig& config() const { return config_; }
  size_t pending_logins() const;

 private:
  OidcClient(OidcConfig config, const Clock& clock, OidcFetcher fetcher);
  struct Discovery {
    std::string authorization_endpoint, token_endpoint, jwks_uri;
  };
  Result<Discovery> GetDiscovery();
  Status RefetchJwks(const std::string& jwks_uri);
  Result<OidcIdentity> MapIdentity(const Json& claims) const;

  const OidcConfig config_;
  const Clock& clock_;
  const OidcFetcher fetcher_;

  struct Pending {
    std::string verifier, nonce, redirect_uri;
    int64_t created_ms = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Pending> pending_;  // guarded by mu_; by state
  bool have_discovery_ = false;             // guarded by mu_
  Discovery discovery_;                     // guarded by mu_
  int64_t discovery_ms_ = 0;                // guarded by mu_; when discovery_ was read
  std::vector<JwtKey> jwks_;                // guarded by mu_
  int64_t jwks_fetched_ms_ = -1;            // guarded by mu_; -1: never
};

}  // namespace holdgate::review
