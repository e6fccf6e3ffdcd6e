#include "review/oidc.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "common/log.h"
#include "review/jwk.h"

namespace holdgate::review {
namespace {

constexpr int64_t kLoginTtlMs = 10 * 60'000;
constexpr size_t kMaxPendingLogins = 10'000;
constexpr size_t kMaxReplyBytes = 1 << 20;
constexpr int64_t kDiscoveryTtlMs = 3600'000;

Status Unauthenticated(std::string m) { return Status(Code::kUnauthenticated, std::move(m)); }
Status PermissionDenied(std::string m) { return Status(Code::kPermissionDenied, std::move(m)); }
Status ResourceExhausted(std::string m) { return Status(Code::kResourceExhausted, std::move(m)); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string UrlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

struct UrlParts {
  std::string scheme, host, origin, path;
};

// Absolute http(s) URL → parts. False for anything else (userinfo, fragments, spaces).
bool SplitUrl(const std::string& url, UrlParts* out) {
  size_t se = url.find("://");
  if (se == std::string::npos) return false;
  out->scheme = Lower(url.substr(0, se));
  if (out->scheme != "http" && out->scheme != "https") return false;
  for (unsigned char c : url) {
    if (c <= ' ' || c >= 0x7f || c == '#') return false;
  }
  size_t ps = url.find('/', se + 3);
  std::string authority = url.substr(se + 3, ps == std::string::npos ? std::string::npos : ps - se - 3);
  if (authority.empty() || authority.find('@') != std::string::npos) return false;
  out->origin = out->scheme + "://" + authority;
  out->path = ps == std::string::npos ? "/" : url.substr(ps);
  if (authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    out->host = authority.substr(1, close - 1);
  } else {
    out->host = authority.substr(0, authority.find(':'));
  }
  return !out->host.empty();
}

bool IsLoopback(const std::string& host) {
  const std::string h = Lower(host);
  return h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
}

// The issuer may be http:// only when explicitly allowed and on a loopback host.
Status CheckIssuerUrl(const std::string& url, bool allow_insecure, const char* what) {
  UrlParts u;
  if (!SplitUrl(url, &u)) return InvalidArgument(std::string("review.oidc: ") + what + " is not an http(s) URL: \"" + url + "\"");
  if (u.scheme == "https") return Status::Ok();
  if (allow_insecure && IsLoopback(u.host)) return Status::Ok();
  return InvalidArgument(std::string("review.oidc: ") + what + " must use https (\"" + url +
                         "\"); plain http is accepted only with allow_insecure_issuer on a loopback host");
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<int64_t> DurationMs(const Json& v, const char* name) {
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<int64_t>() * 1000;
  if (v.is_string()) {
    int64_t ms = ParseDurationMs(v.get<std::string>());
    if (ms >= 0) return ms;
  }
  return InvalidArgument(std::string("review.oidc.") + name + " must be a duration such as \"30m\"");
}

bool NumericClaim(const Json& claims, const char* name, int64_t* out) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return false;
  double v = it->get<double>();
  if (!std::isfinite(v) || v < 0 || v > 1e13) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

std::string StringClaim(const Json& claims, const std::string& name) {
  auto it = claims.find(name);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : "";
}

// Keeps the keys holdgate can verify with (RS256 RSA, ES256 P-256, signing use), so an issuer
// that also publishes encryption or other key types still works.
Json SigningKeysOnly(const Json& jwks) {
  Json keys = Json::array();
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array()) return Json{{"keys", keys}};
  for (const Json& k : jwks["keys"]) {
    if (!k.is_object()) continue;
    const std::string use = StringClaim(k, "use"), kty = StringClaim(k, "kty"), alg = StringClaim(k, "alg");
    if (!use.empty() && use != "sig") continue;
    if (kty == "RSA" && (alg.empty() || alg == "RS256")) keys.push_back(k);
    if (kty == "EC" && StringClaim(k, "crv") == "P-256" && (alg.empty() || alg == "ES256")) keys.push_back(k);
  }
  return Json{{"keys", keys}};
}

}  // namespace

// ---- config ---------------------------------------------------------------------------------

Result<OidcConfig> ParseOidcConfig(const Json& o, const std::string& base_dir) {
  OidcConfig c;
  if (o.is_null()) return c;
  if (!o.is_object()) return InvalidArgument("review.oidc must be an object");
  c.enabled = true;
  try {
    c.issuer = o.value("issuer", "");
    c.client_id = o.value("client_id", "");
    if (o.contains("client_secret")) {
      c.client_secret = o["client_secret"].get<std::string>();
    } else if (o.contains("client_secret_file")) {
      std::string path = o["client_secret_file"].get<std::string>();
      if (!path.empty() && path[0] != '/' && !base_dir.empty()) path = base_dir + "/" + path;
      auto text = ReadFile(path);
      if (!text.ok()) return InvalidArgument("review.oidc.client_secret_file: " + text.status().message());
      c.client_secret = *text;
      while (!c.client_secret.empty() && std::isspace(static_cast<unsigned char>(c.client_secret.back()))) {
        c.client_secret.pop_back();
      }
    } else if (const char* env = std::getenv("HOLDGATE_OIDC_CLIENT_SECRET"); env != nullptr) {
      c.client_secret = env;
    }
    c.redirect_uri = o.value("redirect_uri", "");
    if (o.contains("scopes")) c.scopes = o["scopes"].get<std::vector<std::string>>();
    c.subject_claim = o.value("subject_claim", c.subject_claim);
    c.role_claim = o.value("role_claim", c.role_claim);
    if (o.contains("role_map")) c.role_map = o["role_map"].get<std::map<std::string, std::string>>();
    if (o.contains("allowed_domains")) c.allowed_domains = o["allowed_domains"].get<std::vector<std::string>>();
    c.allow_insecure_issuer = o.value("allow_insecure_issuer", false);
    c.ca_file = o.value("ca_file", "");
    if (!c.ca_file.empty() && c.ca_file[0] != '/' && !base_dir.empty()) c.ca_file = base_dir + "/" + c.ca_file;
    struct D { const char* name; int64_t* ms; };
    int64_t leeway_ms = c.leeway_s * 1000;
    for (D d : {D{"leeway", &leeway_ms}, D{"session_idle", &c.session_idle_ms},
                D{"session_absolute", &c.session_absolute_ms}}) {
      if (!o.contains(d.name)) continue;
      auto v = DurationMs(o[d.name], d.name);
      if (!v.ok()) return v.status();
      *d.ms = *v;
    }
    c.leeway_s = leeway_ms / 1000;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("review.oidc: wrong type in configuration: ") + e.what());
  }
  if (c.issuer.empty()) return InvalidArgument("review.oidc.issuer is required");
  if (c.client_id.empty()) return InvalidArgument("review.oidc.client_id is required");
  Status s = CheckIssuerUrl(c.issuer, c.allow_insecure_issuer, "issuer");
  if (!s.ok()) return s;
  if (!c.redirect_uri.empty()) {
    UrlParts u;
    if (!SplitUrl(c.redirect_uri, &u)) return InvalidArgument("review.oidc.redirect_uri is not an http(s) URL");
  }
  if (std::find(c.scopes.begin(), c.scopes.end(), "openid") == c.scopes.end()) {
    return InvalidArgument("review.oidc.scopes must include \"openid\"");
  }
  for (const auto& [value, role] : c.role_map) {
    Role r;
    if (!ParseRole(role, &r)) {
      return InvalidArgument("review.oidc.role_map[\"" + value + "\"] must be auditor, reviewer or admin, got \"" + role + "\"");
    }
  }
  if (c.subject_claim.empty() || c.role_claim.empty()) {
    return InvalidArgument("review.oidc.subject_claim and role_claim must not be empty");
  }
  if (c.leeway_s < 0 || c.leeway_s > 300) return InvalidArgument("review.oidc.leeway must be 0..300 s");
  if (c.session_idle_ms < 60'000 || c.session_absolute_ms < c.session_idle_ms) {
    return InvalidArgument("review.oidc: session_idle must be at least 1m and session_absolute at least session_idle");
  }
  return c;
}

// ---- PKCE -----------------------------------------------------------------------------------

std::string NewPkceVerifier() {
  std::string hex = RandomHex(32), raw;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return Base64UrlEncode(raw);
}

std::string PkceChallengeS256(std::string_view verifier) { return Base64UrlEncode(Sha256Raw(verifier)); }

// ---- HTTP -----------------------------------------------------------------------------------

OidcFetcher HttpOidcFetcher(std::string ca_file, int64_t timeout_ms) {
  return [ca_file, timeout_ms](const OidcHttpRequest& req) {
    OidcHttpReply out;
    UrlParts u;
    if (!SplitUrl(req.url, &u)) {
      out.error = "not an http(s) URL";
      return out;
    }
    try {
      httplib::Client cli(u.origin);
      const time_t s = static_cast<time_t>(timeout_ms / 1000);
      const time_t us = static_cast<time_t>((timeout_ms % 1000) * 1000);
      cli.set_connection_timeout(s, us);
      cli.set_read_timeout(s, us);
      cli.set_write_timeout(s, us);
      cli.set_keep_alive(false);
      cli.set_follow_location(false);
      if (u.scheme == "https") {
        cli.enable_server_certificate_verification(true);
        if (!ca_file.empty()) cli.set_ca_cert_path(ca_file.c_str());
      }
      httplib::Headers headers;
      for (const auto& [k, v] : req.headers) headers.emplace(k, v);
      httplib::Request r;
      r.method = req.method;
      r.path = u.path;
      r.headers = headers;
      r.body = req.body;
      bool too_big = false;
      std::string body;
      r.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
        if (body.size() + len > kMaxReplyBytes) {
          too_big = true;
          return false;
        }
        body.append(data, len);
        return true;
      };
      httplib::Response res;
      httplib::Error err = httplib::Error::Success;
      const bool sent = cli.send(r, res, err);
      if (too_big) {
        out.error = "reply larger than 1 MiB";
        return out;
      }
      if (!sent) {
        out.error = httplib::to_string(err);
        return out;
      }
      out.status = res.status;
      out.body = std::move(body);
    } catch (const std::exception& e) {
      out.error = e.what();
    }
    return out;
  };
}

// ---- OidcClient -----------------------------------------------------------------------------

Result<std::unique_ptr<OidcClient>> OidcClient::Create(OidcConfig config, const Clock& clock, OidcFetcher fetcher) {
  if (!config.enabled) return InvalidArgument("review.oidc is not configured");
  if (!fetcher) fetcher = HttpOidcFetcher(config.ca_file, config.timeout_ms);
  return std::unique_ptr<OidcClient>(new OidcClient(std::move(config), clock, std::move(fetcher)));
}

OidcClient::OidcClient(OidcConfig config, const Clock& clock, OidcFetcher fetcher)
    : config_(std::move(config)), clock_(clock), fetcher_(std::move(fetcher)) {}

size_t OidcClient::pending_logins() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

Result<OidcClient::Discovery> OidcClient::GetDiscovery() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (have_discovery_ && clock_.NowMs() - discovery_ms_ < kDiscoveryTtlMs) return discovery_;
  }
  // Read again after kDiscoveryTtlMs; while the issuer cannot be read, the copy held is used.
  auto keep_old = [this](Status s) -> Result<Discovery> {
    std::lock_guard<std::mutex> lock(mu_);
    if (have_discovery_) {
      log::Warn("review: the identity provider's discovery document could not be refreshed; using the one read before",
                {{"error", s.message()}});
      return discovery_;
    }
    return s;
  };
  std::string url = config_.issuer;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/.well-known/openid-configuration";
  OidcHttpReply reply = fetcher_({"GET", url, {{"Accept", "application/json"}}, ""});
  if (reply.status != 200) {
    return keep_old(Unavailable("the identity provider's discovery document could not be read (" +
                                (reply.status == 0 ? reply.error : "HTTP " + std::to_string(reply.status)) + ")"));
  }
  auto doc = ParseJson(reply.body, 16);
  if (!doc.ok() || !doc->is_object()) return keep_old(Unavailable("the discovery document is not a JSON object"));
  if (StringClaim(*doc, "issuer") != config_.issuer) {
    return keep_old(Unavailable("the discovery document names issuer \"" + StringClaim(*doc, "issuer").substr(0, 200) +
                                "\", not the configured \"" + config_.issuer + "\""));
  }
  Discovery d{StringClaim(*doc, "authorization_endpoint"), StringClaim(*doc, "token_endpoint"),
              StringClaim(*doc, "jwks_uri")};
  for (const auto* ep : {&d.authorization_endpoint, &d.token_endpoint, &d.jwks_uri}) {
    Status s = CheckIssuerUrl(*ep, config_.allow_insecure_issuer, "an endpoint in the discovery document");
    if (!s.ok()) return keep_old(Unavailable(s.message()));
  }
  if (auto it = doc->find("code_challenge_methods_supported"); it != doc->end() && it->is_array()) {
    if (std::find(it->begin(), it->end(), Json("S256")) == it->end()) {
      return keep_old(Unavailable("the identity provider does not support PKCE with S256"));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  discovery_ = d;
  discovery_ms_ = clock_.NowMs();
  have_discovery_ = true;
  return d;
}

Status OidcClient::RefetchJwks(const std::string& jwks_uri) {
  OidcHttpReply reply = fetcher_({"GET", jwks_uri, {{"Accept", "application/json"}}, ""});
  if (reply.status != 200) {
    return Unavailable("the identity provider's JWKS could not be read (" +
                       (reply.status == 0 ? reply.error : "HTTP " + std::to_string(reply.status)) + ")");
  }
  auto doc = ParseJson(reply.body, 16);
  if (!doc.ok()) return Unavailable("the identity provider's JWKS is not JSON");
  auto keys = ParseJwks(DumpJson(SigningKeysOnly(*doc)));
  if (!keys.ok()) return Unavailable("the identity provider's JWKS: " + keys.status().message());
  std::vector<JwtKey> out;
  for (auto& k : *keys) out.push_back(JwtKey{k.kid, k.alg, k.pem});
  std::lock_guard<std::mutex> lock(mu_);
  jwks_ = std::move(out);
  return Status::Ok();
}

Result<OidcClient::Begun> OidcClient::BeginLogin(const std::string& redirect_uri) {
  auto disc = GetDiscovery();
  if (!disc.ok()) return disc.status();
  Pending p{NewPkceVerifier(), RandomHex(16), redirect_uri, clock_.NowMs()};
  const std::string state = RandomHex(32);
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_.NowMs();
    for (auto it = pending_.begin(); it != pending_.end();) {
      it = now - it->second.created_ms > kLoginTtlMs ? pending_.erase(it) : std::next(it);
    }
    if (pending_.size() >= kMaxPendingLogins) return ResourceExhausted("too many sign-ins in progress; try again shortly");
    pending_[state] = p;
  }
  std::string scope;
  for (const auto& s : config_.scopes) scope += (scope.empty() ? "" : " ") + s;
  std::string url = disc->authorization_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "response_type=code&client_id=" + UrlEncode(config_.client_id) + "&redirect_uri=" + UrlEncode(redirect_uri) +
         "&scope=" + UrlEncode(scope) + "&state=" + state + "&nonce=" + p.nonce +
         "&code_challenge=" + PkceChallengeS256(p.verifier) + "&code_challenge_method=S256";
  return Begun{url, state};
}

Result<OidcIdentity> OidcClient::FinishLogin(std::string_view state, std::string_view code) {
  Pending p;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(std::string(state));
    if (it == pending_.end()) return InvalidArgument("unknown or already used sign-in (state); start again");
    p = it->second;
    pending_.erase(it);  // single use, whatever happens next
  }
  if (clock_.NowMs() - p.created_ms > kLoginTtlMs) return InvalidArgument("the sign-in took too long; start again");
  if (code.empty() || code.size() > 4096) return InvalidArgument("the identity provider returned no usable code");
  auto disc = GetDiscovery();
  if (!disc.ok()) return disc.status();

  std::string body = "grant_type=authorization_code&code=" + UrlEncode(code) +
                     "&redirect_uri=" + UrlEncode(p.redirect_uri) + "&code_verifier=" + p.verifier;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Accept", "application/json"}, {"Content-Type", "application/x-www-form-urlencoded"}};
  if (config_.client_secret.empty()) {
    body += "&client_id=" + UrlEncode(config_.client_id);  // a public client
  } else {
    headers.emplace_back("Authorization", "Basic " + Base64Encode(UrlEncode(config_.client_id) + ":" +
                                                                  UrlEncode(config_.client_secret)));
  }
  OidcHttpReply reply = fetcher_({"POST", disc->token_endpoint, headers, body});
  if (reply.status == 0) return Unavailable("the identity provider's token endpoint did not answer (" + reply.error + ")");
  auto doc = ParseJson(reply.body, 16);
  if (reply.status != 200) {
    std::string why = doc.ok() && doc->is_object() ? StringClaim(*doc, "error") : "";
    return Unauthenticated("the identity provider refused the code (HTTP " + std::to_string(reply.status) +
                           (why.empty() ? "" : ", " + why.substr(0, 100)) + ")");
  }
  if (!doc.ok() || !doc->is_object()) return Unauthenticated("the token response is not a JSON object");
  const std::string id_token = StringClaim(*doc, "id_token");
  if (id_token.empty()) return Unauthenticated("the token response has no id_token");
  return VerifyIdToken(id_token, p.nonce);
}

Result<OidcIdentity> OidcClient::VerifyIdToken(std::string_view id_token, std::string_view expected_nonce) {
  std::vector<JwtKey> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys = jwks_;
  }
  auto claims = VerifyJwsSignature(id_token, keys);
  if (!claims.ok() && claims.status().message() == "unknown kid") {
    // A key the issuer rotated in (or the first token): fetch the JWKS again, rate-limited.
    const int64_t now = clock_.NowMs();
    bool fetch = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (jwks_fetched_ms_ < 0 || now - jwks_fetched_ms_ >= config_.jwks_min_refetch_ms) {
        jwks_fetched_ms_ = now;
        fetch = true;
      }
    }
    if (fetch) {
      auto disc = GetDiscovery();
      if (!disc.ok()) return disc.status();
      Status s = RefetchJwks(disc->jwks_uri);
      if (!s.ok()) return s;
      std::lock_guard<std::mutex> lock(mu_);
      keys = jwks_;
    }
    claims = VerifyJwsSignature(id_token, keys);
  }
  if (!claims.ok()) return Unauthenticated("ID token refused: " + claims.status().message());
  const Json& c = *claims;

  if (StringClaim(c, "iss") != config_.issuer) return Unauthenticated("ID token refused: wrong issuer");
  auto aud = c.find("aud");
  bool aud_ok = false;
  size_t aud_count = 0;
  if (aud != c.end() && aud->is_string()) {
    aud_ok = aud->get<std::string>() == config_.client_id;
    aud_count = 1;
  } else if (aud != c.end() && aud->is_array()) {
    for (const Json& a : *aud) {
      if (a.is_string() && a.get<std::string>() == config_.client_id) aud_ok = true;
    }
    aud_count = aud->size();
  }
  if (!aud_ok) return Unauthenticated("ID token refused: wrong audience");
  if (c.contains("azp") && StringClaim(c, "azp") != config_.client_id) {
    return Unauthenticated("ID token refused: wrong authorized party (azp)");
  }
  if (aud_count > 1 && !c.contains("azp")) return Unauthenticated("ID token refused: several audiences and no azp");

  const int64_t now = clock_.NowMs() / 1000;
  const int64_t lw = config_.leeway_s;
  int64_t exp = 0, iat = 0, nbf = 0;
  if (!NumericClaim(c, "exp", &exp)) return Unauthenticated("ID token refused: no valid exp");
  if (now > exp + lw) return Unauthenticated("ID token refused: expired");
  if (!NumericClaim(c, "iat", &iat)) return Unauthenticated("ID token refused: no valid iat");
  if (iat - lw > now) return Unauthenticated("ID token refused: issued in the future");
  if (now - iat > 3600 + lw) return Unauthenticated("ID token refused: issued more than an hour ago");
  if (c.contains("nbf") && (!NumericClaim(c, "nbf", &nbf) || nbf - lw > now)) {
    return Unauthenticated("ID token refused: not yet valid");
  }
  const std::string nonce = StringClaim(c, "nonce");
  if (expected_nonce.empty() || nonce.empty() || !ConstantTimeEquals(nonce, expected_nonce)) {
    return Unauthenticated("ID token refused: nonce does not match this sign-in");
  }
  return MapIdentity(c);
}

Result<OidcIdentity> OidcClient::MapIdentity(const Json& c) const {
  OidcIdentity id;
  id.subject = StringClaim(c, config_.subject_claim);
  if (id.subject.empty() || id.subject.size() > 256) {
    return Unauthenticated("ID token has no usable \"" + config_.subject_claim + "\" claim");
  }
  id.email = StringClaim(c, "email");
  if (!config_.allowed_domains.empty()) {
    auto verified = c.find("email_verified");
    const bool is_verified = verified != c.end() && verified->is_boolean() && verified->get<bool>();
    const std::string email = Lower(id.email);
    const size_t at = email.rfind('@');
    bool domain_ok = false;
    if (is_verified && at != std::string::npos) {
      for (const auto& d : config_.allowed_domains) domain_ok = domain_ok || email.substr(at + 1) == Lower(d);
    }
    if (!domain_ok) return PermissionDenied(id.subject + " has no verified email address in an allowed domain");
  }
  std::vector<std::string> values;
  if (auto it = c.find(config_.role_claim); it != c.end()) {
    if (it->is_string()) values.push_back(it->get<std::string>());
    if (it->is_array()) {
      for (const Json& v : *it) {
        if (v.is_string()) values.push_back(v.get<std::string>());
      }
    }
  }
  for (const auto& v : values) {
    Role r = Role::kNone;
    if (config_.role_map.empty()) {
      ParseRole(v, &r);
    } else if (auto m = config_.role_map.find(v); m != config_.role_map.end()) {
      ParseRole(m->second, &r);
    }
    if (r > id.role) id.role = r;
  }
  if (id.role == Role::kNone) {
    return PermissionDenied(id.subject + " signed in, but the \"" + config_.role_claim +
                            "\" claim grants no holdgate role (auditor, reviewer or admin)");
  }
  id.display_name = StringClaim(c, "name");
  if (id.display_name.empty()) id.display_name = StringClaim(c, "preferred_username");
  if (id.display_name.empty()) id.display_name = id.email;
  if (id.display_name.empty()) id.display_name = id.subject;
  if (id.display_name.size() > 200) id.display_name.resize(200);
  return id;
}

}  // namespace holdgate::review
