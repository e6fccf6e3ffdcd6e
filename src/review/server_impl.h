#pragma once
// Internal to review/: ReviewServer::Impl, shared by the handler files (review_server.cpp,
// approval_handlers.cpp, audit_handlers.cpp, event_stream.cpp, sso_handlers.cpp). Not for other
// modules.
// Thread-safety: see review_server.h. Members after Start() are read-only except where marked.
#include <httplib.h>

#include "httpd/guarded_server.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/json_util.h"
#include "review/decision_service.h"
#include "review/event_hub.h"
#include "review/jwt_auth.h"
#include "review/review_server.h"
#include "review/oidc.h"
#include "review/routes.h"
#include "review/sessions.h"
#include "review/static_ui.h"
#include "store/audit_throttle.h"
#include "store/store.h"

namespace holdgate::review {

// The authenticated caller of the current request (set by the pre-routing handler).
struct Caller {
  bool authenticated = false;
  std::string name;
  Role role = Role::kNone;
  std::string via;  // api | ui | cli (from X-Holdgate-Client)
  bool by_session = false;  // authenticated by the SSO session cookie (not a bearer token)
};

class ReviewServer::Impl {
 public:
  Impl(ReviewServerConfig config, store::Store& store, DecisionService& decisions, const Clock& clock,
       std::unique_ptr<JwtVerifier> verifier, std::unique_ptr<OidcClient> oidc);
  ~Impl();

  Status Start();
  void Stop();
  int port() const { return port_.load(); }
  std::string base_url() const;
  void AddPlainRoute(const std::string& method, const std::string& path, PlainHandler handler);

  // ---- helpers shared by handler files ----
  static void SendJson(httplib::Response& res, int status, const Json& body);
  static void SendError(httplib::Response& res, int status, const std::string& code, const std::string& message,
                        const Json& extra = nullptr);
  // Maps a store Status to an HTTP error (404, 409, 400, 403, 500).
  static void SendStatus(httplib::Response& res, const Status& status);
  // The caller recorded by the pre-routing handler for this request (unauthenticated if none).
  static Caller CallerOf(const httplib::Request& req);

  // ---- handlers (one per RouteId) ----
  void Healthz(const httplib::Request& req, httplib::Response& res);
  void Readyz(const httplib::Request& req, httplib::Response& res);
  void MetricsText(const httplib::Request& req, httplib::Response& res);
  void Me(const httplib::Request& req, httplib::Response& res);
  void ListApprovals(const httplib::Request& req, httplib::Response& res);
  void GetApproval(const httplib::Request& req, httplib::Response& res);
  void Decide(const httplib::Request& req, httplib::Response& res, bool approve);
  void DecideMany(const httplib::Request& req, httplib::Response& res);
  void AddComment(const httplib::Request& req, httplib::Response& res);
  void Events(const httplib::Request& req, httplib::Response& res);
  void Audit(const httplib::Request& req, httplib::Response& res);
  void AuditExport(const httplib::Request& req, httplib::Response& res);
  void AuditVerify(const httplib::Request& req, httplib::Response& res);
  void ListDeliveries(const httplib::Request& req, httplib::Response& res);
  void Redeliver(const httplib::Request& req, httplib::Response& res);
  void ListEndpoints(const httplib::Request& req, httplib::Response& res);
  void EnableEndpoint(const httplib::Request& req, httplib::Response& res);
  void UiFile(const httplib::Request& req, httplib::Response& res);
  void ListGrants(const httplib::Request& req, httplib::Response& res);
  void RevokeGrant(const httplib::Request& req, httplib::Response& res);
  void GetPolicy(const httplib::Request& req, httplib::Response& res);
  void CheckPolicy(const httplib::Request& req, httplib::Response& res);
  void ReloadPolicy(const httplib::Request& req, httplib::Response& res);
  void ListTools(const httplib::Request& req, httplib::Response& res);
  void ValidatePolicy(const httplib::Request& req, httplib::Response& res);
  void DryRunPolicy(const httplib::Request& req, httplib::Response& res);
  void SavePolicy(const httplib::Request& req, httplib::Response& res);
  void ListPolicyVersions(const httplib::Request& req, httplib::Response& res);
  void GetPolicyVersion(const httplib::Request& req, httplib::Response& res);
  void RollbackPolicy(const httplib::Request& req, httplib::Response& res);
  void ListPolicies(const httplib::Request& req, httplib::Response& res);
  // The PolicyControl a /api/policy request is about: ?upstream=NAME picks that upstream's own
  // policy file, else the top-level one. Null (after answering 404) for an unknown upstream.
  const PolicyControl* PolicyControlFor(const httplib::Request& req, httplib::Response& res);
  // Single sign-on (sso_handlers.cpp); registered only when review.oidc is configured, outside
  // the route table (they are not bearer-token API routes).
  void AuthSession(const httplib::Request& req, httplib::Response& res);
  void AuthLogin(const httplib::Request& req, httplib::Response& res);
  void AuthCallback(const httplib::Request& req, httplib::Response& res);
  void AuthLogout(const httplib::Request& req, httplib::Response& res);

 private:
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res);
  // Refuses the request (401/403) and records it (metrics always; audit rate-limited).
  httplib::Server::HandlerResponse Refuse(const httplib::Request& req, httplib::Response& res, int status,
                                          const std::string& reason, const std::string& why,
                                          const std::string& subject);
  void RecordAuthFailure(const httplib::Request& req, int status, const std::string& reason,
                         const std::string& why, const std::string& subject);
  bool OriginAllowed(const httplib::Request& req) const;
  // The session cookie's name: "__Host-holdgate_session" when the page is served over https.
  std::string SessionCookieName() const;
  std::string LoginCookieName() const;
  // "; Secure" when served over https.
  std::string CookieAttributes() const;
  // The SSO session named by the request's cookie (idle time restarted), if any.
  std::optional<ReviewerSession> SessionOf(const httplib::Request& req, bool* had_cookie = nullptr);
  void AuditSso(const std::string& type, const std::string& actor, const std::string& decision, Json detail);
  void RegisterSsoRoutes();
  void RegisterRoutes();
  void OnChangeForMetrics(const store::ChangeEvent& e);

  const ReviewServerConfig config_;
  store::Store& store_;
  DecisionService& decisions_;
  const Clock& clock_;
  const std::unique_ptr<JwtVerifier> verifier_;  // null: no bearer key configured (SSO only)
  const std::unique_ptr<OidcClient> oidc_;        // null: no single sign-on
  SessionStore sessions_;
  const StaticUi ui_;
  EventHub hub_;

  static httpd::GuardOptions ListenerOptions(const ReviewServerConfig& config);
  httpd::GuardedServer svr_{ListenerOptions(config_)};
  std::thread thread_;
  std::atomic<int> port_{0};
  std::string base_url_;                   // set in Start(), before the listener runs
  std::vector<std::string> origins_;       // allowed Origins; set in Start()
  bool started_ = false;                   // touched by Start/Stop only
  int metrics_listener_ = -1;
  std::atomic<int> sse_clients_{0};

  struct PlainRoute {
    std::string method, path;
    PlainHandler handler;
  };
  std::vector<PlainRoute> plain_routes_;  // fixed before Start()
  EndpointControl endpoint_control_;      // fixed before Start()
  ReadinessCheck readiness_;              // fixed before Start()
  PolicyControl policy_control_;          // fixed before Start()
  // Upstreams' own policy files, in the order they were set; fixed before Start().
  std::vector<std::pair<std::string, PolicyControl>> upstream_policy_controls_;
  ToolCatalogueSource tool_catalogue_;     // fixed before Start()

 public:
  void SetEndpointControl(EndpointControl control) { endpoint_control_ = std::move(control); }
  void SetReadinessCheck(ReadinessCheck check) { readiness_ = std::move(check); }
  void SetPolicyControl(PolicyControl control, const std::string& upstream) {
    if (upstream.empty()) policy_control_ = std::move(control);
    else upstream_policy_controls_.emplace_back(upstream, std::move(control));
  }
  void SetToolCatalogue(ToolCatalogueSource source) { tool_catalogue_ = std::move(source); }

 private:

  store::AuditThrottle auth_audit_;  // "auth.failed" events, at most auth_audit_per_minute
};

}  // namespace holdgate::review
