// ReviewServer: lifecycle, middleware (auth, Origin check, error handling, security headers),
// route registration from the route table, and the small handlers (health, metrics, me, UI).
#include "review/review_server.h"

#include <algorithm>
#include <cctype>

#include "common/config.h"
#include "common/embedded.h"
#include "common/listen_socket.h"
#include "common/log.h"
#include "review/api_json.h"
#include "common/metrics.h"
#include "review/server_impl.h"

namespace holdgate::review {
namespace {

thread_local const httplib::Request* tl_request = nullptr;
thread_local Caller tl_caller;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// "scheme://host[:port]" of a URL (no path), lower-cased; "" when not a URL.
std::string OriginOf(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  size_t path = url.find('/', scheme_end + 3);
  return Lower(url.substr(0, path));
}

bool IsStateChanging(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

const char* ErrorCodeForStatus(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthenticated";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 416: return "range_not_satisfiable";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "error";
  }
}

}  // namespace

// ---- config ---------------------------------------------------------------------------------

Result<ReviewServerConfig> ParseReviewConfig(const Json& review, const std::string& base_dir) {
  ReviewServerConfig c;
  if (!review.is_null() && !review.is_object()) return InvalidArgument("review must be an object");
  const Json r = review.is_object() ? review : Json::object();
  try {
    if (r.contains("listen")) {
      const std::string listen = r["listen"].get<std::string>();
      if (!SplitHostPort(listen, &c.host, &c.port) || c.host.empty()) {
        return InvalidArgument("review.listen must be host:port, got \"" + listen + "\"");
      }
    }
    if (r.contains("public_url")) c.public_base_url = r["public_url"].get<std::string>();
    if (r.contains("allowed_origins")) c.allowed_origins = r["allowed_origins"].get<std::vector<std::string>>();
    if (r.contains("max_body_bytes")) c.max_body_bytes = r["max_body_bytes"].get<size_t>();
    if (r.contains("threads")) c.threads = r["threads"].get<int>();
    if (r.contains("max_sse_clients")) c.max_sse_clients = r["max_sse_clients"].get<int>();
    if (r.contains("auth_audit_per_minute")) c.auth_audit_per_minute = r["auth_audit_per_minute"].get<int>();
    Status limits = ReadListenerLimits(r, "review", &c.limits);
    if (!limits.ok()) return limits;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("review: wrong type in configuration: ") + e.what());
  }
  if (c.threads < 4 || c.threads > 1024) return InvalidArgument("review.threads must be 4..1024");
  if (c.max_sse_clients < 1 || c.max_sse_clients > c.threads - 2) {
    return InvalidArgument("review.max_sse_clients must be 1..threads-2 (each stream holds a thread)");
  }
  auto auth = ParseJwtConfig(r.contains("auth") ? r["auth"] : Json(nullptr), base_dir);
  if (!auth.ok()) return auth.status();
  c.auth = std::move(*auth);
  auto oidc = ParseOidcConfig(r.contains("oidc") ? r["oidc"] : Json(nullptr), base_dir);
  if (!oidc.ok()) return oidc.status();
  c.oidc = std::move(*oidc);
  return c;
}

httpd::GuardOptions ReviewServer::Impl::ListenerOptions(const ReviewServerConfig& config) {
  httpd::GuardOptions g;
  g.limits = config.limits;
  g.thread_stack_bytes = 1024 * 1024;  // handlers verify JWTs and query SQLite
  g.error_body = [](const std::string& message) {
    return DumpJson(Json{{"error", "bad_request"}, {"message", message}});
  };
  g.error_content_type = "application/json; charset=utf-8";
  return g;
}

// ---- ReviewServer ---------------------------------------------------------------------------

Result<std::unique_ptr<ReviewServer>> ReviewServer::Create(ReviewServerConfig config, store::Store& store,
                                                           DecisionService& decisions,
                                                           const Clock& clock) {
  // With single sign-on configured, bearer tokens are optional: no key means none is accepted.
  const bool no_jwt_key = config.auth.hs256_secret.empty() && config.auth.public_keys.empty() &&
                          config.auth.jwks_json.empty();
  std::unique_ptr<JwtVerifier> jwt;
  if (!(config.oidc.enabled && no_jwt_key)) {
    auto verifier = JwtVerifier::Create(config.auth, &clock);
    if (!verifier.ok()) return verifier.status();
    jwt = std::move(*verifier);
  }
  std::unique_ptr<OidcClient> oidc;
  if (config.oidc.enabled) {
    auto client = OidcClient::Create(config.oidc, clock);
    if (!client.ok()) return client.status();
    oidc = std::move(*client);
  }
  if (config.threads < 4) config.threads = 4;
  config.max_sse_clients = std::clamp(config.max_sse_clients, 1, config.threads - 2);
  auto impl = std::make_unique<Impl>(std::move(config), store, decisions, clock, std::move(jwt), std::move(oidc));
  return std::unique_ptr<ReviewServer>(new ReviewServer(std::move(impl)));
}

ReviewServer::ReviewServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReviewServer::~ReviewServer() { Stop(); }
void ReviewServer::AddPlainRoute(const std::string& method, const std::string& path, PlainHandler handler) {
  impl_->AddPlainRoute(method, path, std::move(handler));
}
void ReviewServer::SetEndpointControl(EndpointControl control) { impl_->SetEndpointControl(std::move(control)); }
void ReviewServer::SetPolicyControl(PolicyControl control, const std::string& upstream) {
  impl_->SetPolicyControl(std::move(control), upstream);
}
void ReviewServer::SetToolCatalogue(ToolCatalogueSource source) { impl_->SetToolCatalogue(std::move(source)); }
void ReviewServer::SetReadinessCheck(ReadinessCheck check) { impl_->SetReadinessCheck(std::move(check)); }
Status ReviewServer::Start() { return impl_->Start(); }
void ReviewServer::Stop() { impl_->Stop(); }
int ReviewServer::port() const { return impl_->port(); }
std::string ReviewServer::base_url() const { return impl_->base_url(); }

// ---- Impl: lifecycle ------------------------------------------------------------------------

ReviewServer::Impl::Impl(ReviewServerConfig config, store::Store& store, DecisionService& decisions,
                         const Clock& clock, std::unique_ptr<JwtVerifier> verifier,
                         std::unique_ptr<OidcClient> oidc)
    : config_(std::move(config)),
      store_(store),
      decisions_(decisions),
      clock_(clock),
      verifier_(std::move(verifier)),
      oidc_(std::move(oidc)),
      sessions_(clock, store, config_.oidc.session_idle_ms, config_.oidc.session_absolute_ms),
      ui_(config_.serve_ui ? EmbeddedApprovalUi() : std::vector<EmbeddedFile>{}),
      hub_(store),
      auth_audit_(store, clock, config_.auth_audit_per_minute) {}

ReviewServer::Impl::~Impl() { Stop(); }

std::string ReviewServer::Impl::base_url() const { return base_url_; }

void ReviewServer::Impl::AddPlainRoute(const std::string& method, const std::string& path, PlainHandler handler) {
  plain_routes_.push_back({method, path, std::move(handler)});
}

Status ReviewServer::Impl::Start() {
  if (started_) return Status::Ok();
  Status s = hub_.Start();
  if (!s.ok()) return s;
  metrics_listener_ = store_.AddListener([this](const store::ChangeEvent& e) { OnChangeForMetrics(e); });

  svr_.set_payload_max_length(config_.max_body_bytes);
  svr_.set_write_timeout(10, 0);
  svr_.set_keep_alive_max_count(100);
  // Replies are written as several small writes (headers, body): without TCP_NODELAY each one
  // after the first waits for the client's delayed ACK (~40 ms per API call).
  svr_.set_tcp_nodelay(true);
  svr_.set_default_headers({
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Content-Security-Policy", kContentSecurityPolicy},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
      {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
  });
  svr_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return PreRoute(req, res);
  });
  svr_.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::Error("review: handler threw", {{"path", req.path}, {"method", req.method}, {"what", what}});
    SendError(res, 500, "internal", "internal error");  // never echo what()
  });
  svr_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    SendError(res, res.status, ErrorCodeForStatus(res.status),
              res.status == 404   ? "no such resource"
              : res.status == 413 ? "request body too large"
                                  : "request failed (HTTP " + std::to_string(res.status) + ")");
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr_.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    if (log::GetLevel() > log::Level::kDebug) return;
    log::Debug("review: request", {{"method", req.method}, {"path", req.path}, {"status", res.status},
                                   {"remote", req.remote_addr}});
  });
  RegisterRoutes();
  // Capture the listening socket: httplib listens with a compiled-in backlog of 5, and a burst
  // of reviewers (or a script approving many calls) would see connection resets.
  int listen_fd = -1;
  svr_.set_socket_options([&listen_fd](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd = sock;
  });

  int port = 0;
  if (config_.port == 0) {
    port = svr_.bind_to_any_port(config_.host);
  } else {
    port = svr_.bind_to_port(config_.host, config_.port) ? config_.port : -1;
  }
  if (port <= 0) {
    hub_.Stop();
    store_.RemoveListener(metrics_listener_);
    metrics_listener_ = -1;
    return Unavailable("cannot listen on " + config_.host + ":" + std::to_string(config_.port) +
                       " (in use or not permitted)");
  }
  TuneListenSocket(listen_fd, 4096, /*defer_accept=*/false);
  port_ = port;
  std::string host = config_.host.find(':') != std::string::npos ? "[" + config_.host + "]" : config_.host;
  base_url_ = config_.public_base_url.empty() ? "http://" + host + ":" + std::to_string(port)
                                              : config_.public_base_url;
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  origins_.clear();
  origins_.push_back(OriginOf(base_url_));
  origins_.push_back("http://" + Lower(host) + ":" + std::to_string(port));
  for (const auto& o : config_.allowed_origins) origins_.push_back(OriginOf(o));

  thread_ = std::thread([this] { svr_.listen_after_bind(); });
  for (int i = 0; i < 5000 && !svr_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  started_ = true;
  log::Info("review: listening", {{"url", base_url_}, {"port", port}, {"ui_files", ui_.size()},
                                  {"keys", verifier_ ? verifier_->key_count() : 0},
                                  {"sso", oidc_ != nullptr}});
  return Status::Ok();
}

void ReviewServer::Impl::Stop() {
  if (!started_) return;
  started_ = false;
  hub_.Stop();  // ends SSE providers promptly
  svr_.stop();
  if (thread_.joinable()) thread_.join();
  if (metrics_listener_ >= 0) store_.RemoveListener(metrics_listener_);
  metrics_listener_ = -1;
}

void ReviewServer::Impl::OnChangeForMetrics(const store::ChangeEvent& e) {
  static const std::string kPrefix = "approval.";
  if (!StartsWith(e.type, kPrefix)) return;
  std::string outcome = e.type.substr(kPrefix.size());
  if (outcome != "approved" && outcome != "rejected" && outcome != "expired" && outcome != "cancelled") return;
  metrics::Metrics& m = metrics::GlobalMetrics();
  m.decisions_total.Inc(outcome);
  const int64_t decided = e.approval.decided_at_ms > 0 ? e.approval.decided_at_ms : e.ts_ms;
  if (decided >= e.approval.created_at_ms && e.approval.created_at_ms > 0) {
    m.decision_latency_seconds.Observe(static_cast<double>(decided - e.approval.created_at_ms) / 1000.0);
  }
}

// ---- Impl: middleware -----------------------------------------------------------------------

Caller ReviewServer::Impl::CallerOf(const httplib::Request& req) {
  if (tl_request == &req) return tl_caller;
  return Caller{};
}

bool ReviewServer::Impl::OriginAllowed(const httplib::Request& req) const {
  if (req.get_header_value_count("Origin") > 1) return false;
  if (req.has_header("Origin")) {
    std::string origin = Lower(req.get_header_value("Origin"));
    if (origin == "null" || origin.empty()) return false;
    if (std::find(origins_.begin(), origins_.end(), origin) != origins_.end()) return true;
    // Same origin as the Host the browser addressed (e.g. http://localhost:8081 vs 127.0.0.1).
    std::string host = Lower(req.get_header_value("Host"));
    return !host.empty() && (origin == "http://" + host || origin == "https://" + host);
  }
  // No Origin (curl, the CLI): fine, but a browser that says cross-site is refused.
  return Lower(req.get_header_value("Sec-Fetch-Site")) != "cross-site";
}

httplib::Server::HandlerResponse ReviewServer::Impl::PreRoute(const httplib::Request& req,
                                                              httplib::Response& res) {
  using HR = httplib::Server::HandlerResponse;
  tl_request = &req;
  tl_caller = Caller{};
  for (const auto& p : plain_routes_) {
    if (p.path == req.path && (p.method == req.method || (p.method == "GET" && req.method == "HEAD"))) {
      return HR::Unhandled;
    }
  }
  const RouteSpec* route = MatchRoute(req.method, req.path);
  const bool is_api = req.path == "/api" || StartsWith(req.path, "/api/");
  if (!is_api && (route == nullptr || route->access == Access::kPublic)) return HR::Unhandled;
  const Access access = route != nullptr ? route->access : Access::kRead;

  if (IsStateChanging(req.method) && !OriginAllowed(req)) {
    return Refuse(req, res, 403, "origin", "cross-origin request refused (Origin " +
                  req.get_header_value("Origin").substr(0, 200) + ")", "");
  }
  // Authorization: Bearer <token>. No cookies, no query-string tokens.
  if (req.get_header_value_count("Authorization") > 1) {
    return Refuse(req, res, 401, "invalid", "more than one Authorization header", "");
  }
  const std::string authz = req.get_header_value("Authorization");
  std::string token;
  if (!authz.empty()) {
    size_t sp = authz.find(' ');
    if (sp == std::string::npos || Lower(authz.substr(0, sp)) != "bearer") {
      return Refuse(req, res, 401, "invalid", "Authorization must use the Bearer scheme", "");
    }
    token = authz.substr(authz.find_first_not_of(' ', sp) == std::string::npos ? authz.size()
                                                                               : authz.find_first_not_of(' ', sp));
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.pop_back();
  }
  AuthResult auth;
  bool by_session = false;
  if (authz.empty() && oidc_ != nullptr) {
    // The page after single sign-on: the session cookie, plus the CSRF token on every
    // state-changing request (a cross-site form or fetch cannot read it). Bearer callers are
    // unaffected: a request with an Authorization header never uses the cookie.
    bool had_cookie = false;
    std::optional<ReviewerSession> session = SessionOf(req, &had_cookie);
    if (had_cookie) {
      if (!session) return Refuse(req, res, 401, "session", "the sign-in session ended or expired; sign in again", "");
      if (IsStateChanging(req.method) &&
          (req.get_header_value_count("X-CSRF-Token") != 1 ||
           !SessionStore::CsrfMatches(*session, req.get_header_value("X-CSRF-Token")))) {
        return Refuse(req, res, 403, "csrf", "missing or wrong X-CSRF-Token header", session->subject);
      }
      auth.status = AuthResult::Status::kOk;
      auth.subject = session->subject;
      auth.role = session->role;
      by_session = true;
    }
  }
  if (!by_session) {
    if (verifier_ == nullptr) {
      if (token.empty()) return Refuse(req, res, 401, "missing", "no bearer token or sign-in session", "");
      return Refuse(req, res, 401, "invalid", "bearer tokens are not accepted here (no key is configured); sign in with SSO", "");
    }
    auth = verifier_->Verify(token);
  }
  switch (auth.status) {
    case AuthResult::Status::kOk: break;
    case AuthResult::Status::kMissing:
      return Refuse(req, res, 401, "missing", "no bearer token", "");
    case AuthResult::Status::kExpired:
      return Refuse(req, res, 401, "expired", auth.why, "");
    case AuthResult::Status::kInvalid:
      return Refuse(req, res, 401, "invalid", auth.why, "");
    case AuthResult::Status::kForbidden:
      return Refuse(req, res, 403, "forbidden", auth.why, auth.subject);
  }
  const bool allowed = access == Access::kRead ? auth.role >= Role::kAuditor
                       : access == Access::kDecide ? auth.role >= Role::kReviewer
                       : access == Access::kAdmin ? auth.role >= Role::kAdmin
                                                  : true;
  if (!allowed) {
    const char* need = access == Access::kAdmin ? "admin" : "reviewer or admin";
    return Refuse(req, res, 403, "forbidden",
                  std::string("role ") + RoleName(auth.role) + " may not do this (needs " + need + ")",
                  auth.subject);
  }
  tl_caller.authenticated = true;
  tl_caller.name = auth.subject;
  tl_caller.role = auth.role;
  tl_caller.by_session = by_session;
  const std::string client = Lower(req.get_header_value("X-Holdgate-Client"));
  tl_caller.via = client == "ui" ? "ui" : client == "cli" ? "cli" : "api";
  return HR::Unhandled;
}

httplib::Server::HandlerResponse ReviewServer::Impl::Refuse(const httplib::Request& req, httplib::Response& res,
                                                            int status, const std::string& reason,
                                                            const std::string& why, const std::string& subject) {
  if (status == 401) {
    std::string challenge = "Bearer realm=\"holdgate\"";
    if (reason != "missing") challenge += ", error=\"invalid_token\"";
    res.set_header("WWW-Authenticate", challenge);
    if (reason == "session") {
      SendError(res, 401, "session_ended", why);
    } else {
      SendError(res, 401, reason == "expired" ? "token_expired" : "unauthenticated",
                reason == "missing" ? "a bearer token is required" : "invalid token: " + why);
    }
  } else {
    SendError(res, 403, reason == "origin" ? "forbidden_origin" : reason == "csrf" ? "csrf" : "forbidden", why);
  }
  // Refused before its body was read: the unread body would be parsed as the next request on a
  // keep-alive connection (an unrelated 400), so such a connection is closed after this answer.
  if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) res.set_header("Connection", "close");
  RecordAuthFailure(req, status, reason, why, subject);
  return httplib::Server::HandlerResponse::Handled;
}

void ReviewServer::Impl::RecordAuthFailure(const httplib::Request& req, int status, const std::string& reason,
                                           const std::string& why, const std::string& subject) {
  metrics::GlobalMetrics().auth_failures_total.Inc(reason);
  store::AuditEvent ev;
  ev.type = "auth.failed";
  ev.actor = subject;
  const std::string client = Lower(req.get_header_value("X-Holdgate-Client"));
  ev.via = client == "ui" ? "ui" : client == "cli" ? "cli" : "api";
  ev.decision = "refuse";
  ev.detail = Json{{"status", status}, {"reason", reason}, {"why", why.substr(0, 300)},
                   {"method", req.method}, {"path", req.path.substr(0, 300)}, {"remote", req.remote_addr}};
  auth_audit_.Append(std::move(ev));
}

// ---- Impl: response helpers -----------------------------------------------------------------

void ReviewServer::Impl::SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(DumpJson(body), "application/json; charset=utf-8");
}

void ReviewServer::Impl::SendError(httplib::Response& res, int status, const std::string& code,
                                   const std::string& message, const Json& extra) {
  Json body = {{"error", code}, {"message", message}};
  if (extra.is_object()) {
    for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
  }
  SendJson(res, status, body);
}

void ReviewServer::Impl::SendStatus(httplib::Response& res, const Status& status) {
  switch (status.code()) {
    case Code::kNotFound: return SendError(res, 404, "not_found", status.message());
    case Code::kConflict:
    case Code::kAlreadyExists: return SendError(res, 409, "conflict", status.message());
    case Code::kInvalidArgument: return SendError(res, 400, "bad_request", status.message());
    case Code::kPermissionDenied: return SendError(res, 403, "forbidden", status.message());
    case Code::kUnauthenticated: return SendError(res, 401, "unauthenticated", status.message());
    case Code::kResourceExhausted: return SendError(res, 429, "resource_exhausted", status.message());
    case Code::kUnavailable: return SendError(res, 503, "unavailable", status.message());
    default:
      log::Error("review: store error", {{"error", status.ToString()}});
      return SendError(res, 500, "internal", "internal error");
  }
}

// ---- Impl: routes ---------------------------------------------------------------------------

void ReviewServer::Impl::RegisterRoutes() {
  RegisterSsoRoutes();  // before the table: its GET catch-all serves UI files
  for (const auto& p : plain_routes_) {
    PlainHandler handler = p.handler;
    auto wrap = [handler](const httplib::Request& req, httplib::Response& res, std::string body) {
      PlainRequest pr;
      pr.method = req.method;
      pr.path = req.path;
      pr.body = std::move(body);
      pr.remote_addr = req.remote_addr;
      for (const auto& [k, v] : req.headers) pr.headers.emplace(Lower(k), v);
      for (const auto& [k, v] : req.params) pr.params.emplace(k, v);
      PlainResponse out = handler(pr);
      res.status = out.status;
      for (const auto& [k, v] : out.headers) res.set_header(k, v);
      res.set_content(out.body, out.content_type);
    };
    // Exact path: escape regex metacharacters.
    std::string re;
    for (char c : p.path) {
      if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) re += '\\';
      re += c;
    }
    if (p.method == "POST") {
      // Plain POST routes read the body themselves: httplib's buffered path refuses any
      // form-encoded body over 8 KiB with 413 before routing (compiled into libcpp-httplib),
      // and a Slack click on a card with large arguments is such a body. The listener's own
      // limit (max_body_bytes) still applies while reading.
      const size_t limit = config_.max_body_bytes;
      svr_.Post(re, [wrap, limit](const httplib::Request& req, httplib::Response& res,
                                  const httplib::ContentReader& content_reader) {
        std::string body;
        bool too_large = req.get_header_value<uint64_t>("Content-Length") > limit;
        const bool read = !too_large && content_reader([&](const char* data, size_t len) {
          if (body.size() + len > limit) {
            too_large = true;
            return false;
          }
          body.append(data, len);
          return true;
        });
        if (too_large || !read) {
          res.status = too_large ? 413 : 400;
          return;
        }
        wrap(req, res, std::move(body));
      });
    } else {
      svr_.Get(re, [wrap](const httplib::Request& req, httplib::Response& res) { wrap(req, res, req.body); });
    }
  }
  for (const RouteSpec& r : Routes()) {
    httplib::Server::Handler h;
    switch (r.id) {
      case RouteId::kHealthz: h = [this](const auto& q, auto& s) { Healthz(q, s); }; break;
      case RouteId::kReadyz: h = [this](const auto& q, auto& s) { Readyz(q, s); }; break;
      case RouteId::kMetrics: h = [this](const auto& q, auto& s) { MetricsText(q, s); }; break;
      case RouteId::kMe: h = [this](const auto& q, auto& s) { Me(q, s); }; break;
      case RouteId::kListApprovals: h = [this](const auto& q, auto& s) { ListApprovals(q, s); }; break;
      case RouteId::kGetApproval: h = [this](const auto& q, auto& s) { GetApproval(q, s); }; break;
      case RouteId::kApprove: h = [this](const auto& q, auto& s) { Decide(q, s, true); }; break;
      case RouteId::kReject: h = [this](const auto& q, auto& s) { Decide(q, s, false); }; break;
      case RouteId::kDecideMany: h = [this](const auto& q, auto& s) { DecideMany(q, s); }; break;
      case RouteId::kComment: h = [this](const auto& q, auto& s) { AddComment(q, s); }; break;
      case RouteId::kEvents: h = [this](const auto& q, auto& s) { Events(q, s); }; break;
      case RouteId::kAudit: h = [this](const auto& q, auto& s) { Audit(q, s); }; break;
      case RouteId::kAuditExport: h = [this](const auto& q, auto& s) { AuditExport(q, s); }; break;
      case RouteId::kAuditVerify: h = [this](const auto& q, auto& s) { AuditVerify(q, s); }; break;
      case RouteId::kListDeliveries: h = [this](const auto& q, auto& s) { ListDeliveries(q, s); }; break;
      case RouteId::kRedeliver: h = [this](const auto& q, auto& s) { Redeliver(q, s); }; break;
      case RouteId::kListEndpoints: h = [this](const auto& q, auto& s) { ListEndpoints(q, s); }; break;
      case RouteId::kEnableEndpoint: h = [this](const auto& q, auto& s) { EnableEndpoint(q, s); }; break;
      case RouteId::kListGrants: h = [this](const auto& q, auto& s) { ListGrants(q, s); }; break;
      case RouteId::kRevokeGrant: h = [this](const auto& q, auto& s) { RevokeGrant(q, s); }; break;
      case RouteId::kGetPolicy: h = [this](const auto& q, auto& s) { GetPolicy(q, s); }; break;
      case RouteId::kCheckPolicy: h = [this](const auto& q, auto& s) { CheckPolicy(q, s); }; break;
      case RouteId::kReloadPolicy: h = [this](const auto& q, auto& s) { ReloadPolicy(q, s); }; break;
      case RouteId::kListTools: h = [this](const auto& q, auto& s) { ListTools(q, s); }; break;
      case RouteId::kValidatePolicy: h = [this](const auto& q, auto& s) { ValidatePolicy(q, s); }; break;
      case RouteId::kDryRunPolicy: h = [this](const auto& q, auto& s) { DryRunPolicy(q, s); }; break;
      case RouteId::kSavePolicy: h = [this](const auto& q, auto& s) { SavePolicy(q, s); }; break;
      case RouteId::kListPolicyVersions: h = [this](const auto& q, auto& s) { ListPolicyVersions(q, s); }; break;
      case RouteId::kGetPolicyVersion: h = [this](const auto& q, auto& s) { GetPolicyVersion(q, s); }; break;
      case RouteId::kRollbackPolicy: h = [this](const auto& q, auto& s) { RollbackPolicy(q, s); }; break;
      case RouteId::kListPolicies: h = [this](const auto& q, auto& s) { ListPolicies(q, s); }; break;
      case RouteId::kUiIndex:
      case RouteId::kUiFile: h = [this](const auto& q, auto& s) { UiFile(q, s); }; break;
    }
    // A handler for a protected route runs only after PreRoute authenticated the caller.
    if (r.access != Access::kPublic) {
      h = [h](const httplib::Request& req, httplib::Response& res) {
        if (!CallerOf(req).authenticated) return SendError(res, 401, "unauthenticated", "a bearer token is required");
        h(req, res);
      };
    }
    const std::string pattern(r.regex);
    if (r.method == "POST") svr_.Post(pattern, h);
    else svr_.Get(pattern, h);
  }
}

// ---- small handlers -------------------------------------------------------------------------

void ReviewServer::Impl::Healthz(const httplib::Request&, httplib::Response& res) {
  const store::StoreHealth h = store_.Health();
  if (!h.ok()) {
    Json body = {{"status", "unavailable"}, {"store", store::StoreHealthName(h.state)}, {"why", h.why}};
    if (h.free_bytes >= 0) body["free_bytes"] = h.free_bytes;
    return SendJson(res, 503, body);
  }
  SendJson(res, 200, Json{{"status", "ok"}, {"store", "ok"}});
}

void ReviewServer::Impl::Readyz(const httplib::Request& req, httplib::Response& res) {
  if (!readiness_) return Healthz(req, res);  // nothing more to check than the store
  Json report = readiness_();
  res.set_header("Cache-Control", "no-store");
  SendJson(res, report.value("ready", false) ? 200 : 503, report);
}

void ReviewServer::Impl::MetricsText(const httplib::Request&, httplib::Response& res) {
  metrics::Metrics& m = metrics::GlobalMetrics();
  res.set_header("Cache-Control", "no-store");
  res.set_content(m.RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
}

void ReviewServer::Impl::Me(const httplib::Request& req, httplib::Response& res) {
  Caller c = CallerOf(req);
  SendJson(res, 200, Json{{"sub", c.name}, {"role", RoleName(c.role)}, {"can_decide", c.role >= Role::kReviewer},
                          {"is_admin", c.role >= Role::kAdmin}});
}

void ReviewServer::Impl::UiFile(const httplib::Request& req, httplib::Response& res) {
  const StaticFile* f = ui_.Find(req.path);
  if (f == nullptr) {
    if (req.path == "/") {
      return SendError(res, 404, "not_found", "the approval UI is not built into this binary");
    }
    return SendError(res, 404, "not_found", "no such file");
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string(f->content), f->content_type.c_str());
}

}  // namespace holdgate::review
