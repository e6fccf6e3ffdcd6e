// Single sign-on handlers: GET /auth/session, GET /auth/login, GET /auth/callback and
// POST /auth/logout, the session cookie and its audit rows ("auth.login", "auth.logout";
// failures are "auth.failed" with reason "sso", rate-limited like other auth failures).
#include <cctype>

#include "common/crypto.h"
#include "common/log.h"
#include "review/server_impl.h"

namespace holdgate::review {
namespace {

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// The value of cookie `name` in the request's Cookie headers ("" when absent). `count` receives
// how many cookies have that name (a second one is refused: cookie tossing).
std::string CookieValue(const httplib::Request& req, const std::string& name, int* count) {
  std::string value;
  *count = 0;
  const size_t n = req.get_header_value_count("Cookie");
  for (size_t i = 0; i < n; ++i) {
    const std::string header = req.get_header_value("Cookie", i);
    size_t pos = 0;
    while (pos < header.size()) {
      size_t end = header.find(';', pos);
      if (end == std::string::npos) end = header.size();
      std::string part = header.substr(pos, end - pos);
      pos = end + 1;
      size_t b = part.find_first_not_of(' ');
      if (b == std::string::npos) continue;
      part = part.substr(b);
      size_t eq = part.find('=');
      if (eq == std::string::npos || part.substr(0, eq) != name) continue;
      ++*count;
      value = part.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.pop_back();
    }
  }
  return value;
}

// A short code for the page's sign-in notice (the page maps it to text; never echoed as markup).
const char* SsoErrorCode(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument: return "state";
    case Code::kUnavailable: return "unavailable";
    case Code::kPermissionDenied: return "no_role";
    case Code::kResourceExhausted: return "busy";
    default: return "token";
  }
}

void Redirect(httplib::Response& res, const std::string& location) {
  res.status = 302;
  res.set_header("Location", location);
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

std::string ReviewServer::Impl::SessionCookieName() const {
  return StartsWith(base_url_, "https://") ? "__Host-holdgate_session" : "holdgate_session";
}

std::string ReviewServer::Impl::LoginCookieName() const {
  return StartsWith(base_url_, "https://") ? "__Host-holdgate_login" : "holdgate_login";
}

std::string ReviewServer::Impl::CookieAttributes() const {
  return std::string("; Path=/; HttpOnly; SameSite=Lax") + (StartsWith(base_url_, "https://") ? "; Secure" : "");
}

std::optional<ReviewerSession> ReviewServer::Impl::SessionOf(const httplib::Request& req, bool* had_cookie) {
  int count = 0;
  const std::string id = CookieValue(req, SessionCookieName(), &count);
  if (had_cookie != nullptr) *had_cookie = count > 0;
  if (count != 1 || id.empty()) return std::nullopt;
  return sessions_.Touch(id);
}

void ReviewServer::Impl::AuditSso(const std::string& type, const std::string& actor, const std::string& decision,
                                  Json detail) {
  store::AuditEvent ev;
  ev.type = type;
  ev.actor = actor;
  ev.via = "ui";
  ev.decision = decision;
  ev.detail = std::move(detail);
  auto r = store_.AppendAudit(ev);
  if (!r.ok()) log::Error("review: audit append failed", {{"type", type}, {"error", r.status().ToString()}});
}

void ReviewServer::Impl::RegisterSsoRoutes() {
  svr_.Get("/auth/session", [this](const httplib::Request& q, httplib::Response& s) { AuthSession(q, s); });
  if (oidc_ == nullptr) return;
  svr_.Get("/auth/login", [this](const httplib::Request& q, httplib::Response& s) { AuthLogin(q, s); });
  svr_.Get("/auth/callback", [this](const httplib::Request& q, httplib::Response& s) { AuthCallback(q, s); });
  svr_.Post("/auth/logout", [this](const httplib::Request& q, httplib::Response& s) { AuthLogout(q, s); });
}

void ReviewServer::Impl::AuthSession(const httplib::Request& req, httplib::Response& res) {
  Json body = {{"sso", oidc_ != nullptr}, {"bearer", verifier_ != nullptr}, {"signed_in", false}};
  if (oidc_ != nullptr) {
    if (auto s = SessionOf(req)) {
      body["signed_in"] = true;
      body["sub"] = s->subject;
      body["name"] = s->display_name;
      body["role"] = RoleName(s->role);
      body["can_decide"] = s->role >= Role::kReviewer;
      body["is_admin"] = s->role >= Role::kAdmin;
      body["csrf_token"] = s->csrf_token;
    }
  }
  SendJson(res, 200, body);
}

void ReviewServer::Impl::AuthLogin(const httplib::Request&, httplib::Response& res) {
  const std::string redirect_uri =
      config_.oidc.redirect_uri.empty() ? base_url_ + "/auth/callback" : config_.oidc.redirect_uri;
  auto begun = oidc_->BeginLogin(redirect_uri);
  if (!begun.ok()) {
    log::Warn("review: single sign-on could not start", {{"error", begun.status().ToString()}});
    return Redirect(res, base_url_ + "/?sso_error=" + std::string(SsoErrorCode(begun.status())));
  }
  res.set_header("Set-Cookie", LoginCookieName() + "=" + begun->state + CookieAttributes() + "; Max-Age=600");
  Redirect(res, begun->authorization_url);
}

void ReviewServer::Impl::AuthCallback(const httplib::Request& req, httplib::Response& res) {
  // The login cookie is single use whatever the outcome.
  res.set_header("Set-Cookie", LoginCookieName() + "=" + CookieAttributes() + "; Max-Age=0");
  auto fail = [&](const std::string& code, const std::string& why, const std::string& subject) {
    RecordAuthFailure(req, 401, "sso", why, subject);
    Redirect(res, base_url_ + "/?sso_error=" + code);
  };
  if (req.has_param("error")) {
    std::string err = req.get_param_value("error").substr(0, 60);
    for (char& c : err) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
    }
    return fail("idp", "the identity provider answered " + err, "");
  }
  const std::string state = req.get_param_value("state");
  int count = 0;
  const std::string bound = CookieValue(req, LoginCookieName(), &count);
  if (state.empty() || count != 1 || bound.size() != state.size() || !ConstantTimeEquals(bound, state)) {
    return fail("state", "the sign-in did not start in this browser (state does not match the login cookie)", "");
  }
  auto identity = oidc_->FinishLogin(state, req.get_param_value("code"));
  if (!identity.ok()) {
    log::Warn("review: single sign-on refused", {{"error", identity.status().ToString()}});
    return fail(SsoErrorCode(identity.status()), identity.status().message(), "");
  }
  auto created = sessions_.Create(identity->subject, identity->role, identity->display_name);
  if (!created.ok()) {
    log::Error("review: sign-in session not saved", {{"error", created.status().ToString()}});
    return fail("store", "the sign-in session could not be saved: " + created.status().message(), identity->subject);
  }
  res.set_header("Set-Cookie", SessionCookieName() + "=" + created->id + CookieAttributes() +
                                   "; Max-Age=" + std::to_string(config_.oidc.session_absolute_ms / 1000));
  AuditSso("auth.login", identity->subject, "allow",
           Json{{"method", "oidc"}, {"issuer", config_.oidc.issuer}, {"role", RoleName(identity->role)},
                {"name", identity->display_name}, {"remote", req.remote_addr}});
  Redirect(res, base_url_ + "/");
}

void ReviewServer::Impl::AuthLogout(const httplib::Request& req, httplib::Response& res) {
  if (!OriginAllowed(req)) {
    Refuse(req, res, 403, "origin", "cross-origin request refused (Origin " + req.get_header_value("Origin").substr(0, 200) + ")", "");
    return;
  }
  int count = 0;
  const std::string id = CookieValue(req, SessionCookieName(), &count);
  std::optional<ReviewerSession> session = count == 1 ? sessions_.Touch(id) : std::nullopt;
  if (session && (req.get_header_value_count("X-CSRF-Token") != 1 ||
                  !SessionStore::CsrfMatches(*session, req.get_header_value("X-CSRF-Token")))) {
    Refuse(req, res, 403, "csrf", "missing or wrong X-CSRF-Token header", session->subject);
    return;
  }
  res.set_header("Set-Cookie", SessionCookieName() + "=" + CookieAttributes() + "; Max-Age=0");
  if (!session) return SendJson(res, 200, Json{{"signed_out", false}});
  if (!sessions_.Remove(id)) return SendError(res, 503, "unavailable", "the session could not be ended; try again");
  AuditSso("auth.logout", session->subject, "allow",
           Json{{"method", "oidc"}, {"name", session->display_name}, {"remote", req.remote_addr}});
  SendJson(res, 200, Json{{"signed_out", true}});
}

}  // namespace holdgate::review
