#pragma once
// ReviewServer: the reviewer listener (default 127.0.0.1:8081). Serves the review REST API under
// /api/ (JWT bearer auth, or the single sign-on session cookie with a CSRF token; roles), the
// single sign-on routes under /auth/ (review.oidc), the SSE stream /api/events, /healthz, /metrics
// and the embedded approval UI. It has its own listener (a thread per connection, connection caps per address,
// request deadlines: httpd::GuardedServer), never shared with the agents' /mcp listener, so
// neither held calls nor slow clients can starve reviewers.
//
// Thread-safe. Start() binds and returns once the listener accepts; handlers run on the server's
// pool and block on the Store. Stop() ends SSE streams, closes the listener and joins its thread
// (it waits for in-flight requests, which are all short). Approve and reject go through the
// DecisionService (review/decision_service.h), the one door for reviewer decisions; the waiting
// call learns the decision from the store's change feed.
//
// Auth failures (401/403, foreign Origin) are written to the audit log as "auth.failed", at most
// `auth_audit_per_minute` rows per minute (token bucket); the rows after that are only counted, and
// the next recorded row carries {"suppressed": n}. So a flood of bad tokens cannot fill the disk,
// while /metrics (holdgate_review_auth_failures_total) still counts every refusal.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/json_util.h"
#include "common/status.h"
#include "review/decision_service.h"
#include "review/jwt_auth.h"
#include "review/oidc.h"

namespace holdgate::store {
class Store;
}
namespace holdgate::review {

struct ReviewServerConfig {
  std::string host = "127.0.0.1";
  int port = 8081;  // 0 = any free port (see ReviewServer::port())
  // Where reviewers reach this listener (links in API answers, the allowed Origin). Empty:
  // "http://<host>:<port>" once bound.
  std::string public_base_url;
  // Further origins allowed to send state-changing requests (e.g. a reverse proxy's).
  std::vector<std::string> allowed_origins;
  JwtConfig auth;
  // Single sign-on for the page (review/oidc.h); disabled unless the config has review.oidc.
  // With it, bearer JWT keys become optional.
  OidcConfig oidc;
  size_t max_body_bytes = 256 * 1024;
  // Each connection has its own thread; idle and trickling connections are bounded by these
  // (keys header_timeout, body_timeout, idle_timeout, max_connections, max_connections_per_ip).
  ListenerLimits limits;
  int threads = 32;          // bounds max_sse_clients only (each connection has its own thread)
  int max_sse_clients = 16;  // open /api/events streams; more get 503
  std::chrono::milliseconds sse_heartbeat{15000};
  int auth_audit_per_minute = 60;
  bool serve_ui = true;
};

// Parses the config file's "review" object:
//   {"listen": "127.0.0.1:8081", "public_url": "https://…", "allowed_origins": […],
//    "max_body_bytes": N, "threads": N, "max_sse_clients": N, "auth": {…see ParseJwtConfig},
//    "header_timeout": "10s", "body_timeout": "30s", "idle_timeout": "5s", "max_connections": N,
//    "max_connections_per_ip": N, "oidc": {…see ParseOidcConfig}}
// Missing keys keep their defaults; `auth` missing still reads HOLDGATE_JWT_SECRET.
Result<ReviewServerConfig> ParseReviewConfig(const Json& review, const std::string& base_dir = "");

// A route handled outside the JWT scheme (e.g. the notifier's POST /slack/actions, which checks
// Slack's request signature itself). The handler gets the raw request and fills the response.
struct PlainRequest {
  std::string method;
  std::string path;
  std::string body;
  std::string remote_addr;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::map<std::string, std::string> params;        // query parameters
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};
struct PlainResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};
using PlainHandler = std::function<PlainResponse(const PlainRequest&)>;

// Notification endpoints as the notifier sees them, for GET /api/endpoints and
// POST /api/endpoints/{target}/enable (admin). Both callbacks run on listener threads.
struct EndpointView {
  std::string target;  // "webhook:ops", "slack"
  bool disabled = false;
  std::string why;
};
struct EndpointControl {
  std::function<std::vector<EndpointView>()> list;
  // Re-enables a disabled endpoint and requeues its given-up rows; returns how many.
  // kNotFound for an unknown target.
  std::function<Result<int>(const std::string& target)> enable;
};

// A policy change asked for through the admin API (save or rollback).
struct PolicySave {
  std::string text;       // the new policy file (save only)
  std::string why;        // required
  std::string base_hash;  // optional: the hash the draft started from (stale -> kConflict)
  std::string actor, via;
};

// The active policy as the admin API sees it (GET /api/policy, POST /api/policy/check,
// POST /api/policy/reload). Callbacks run on listener threads, concurrently; `reload` blocks on
// reading the policy file. The review module never sees a policy object, only JSON.
struct PolicyControl {
  // {"hash", "loaded_at" (ms), "path", "policy" (the document), "shadow"}; null when no policy.
  std::function<Json()> get;
  // What the active policy would do with {"tool", "arguments", "principal", "session_id"}:
  // {"action": "allow"|"deny"|"hide"|"hold", "rule", "reason", "risk", "approval"?, ...}.
  // kInvalidArgument for a bad request; kNotFound when no policy is loaded.
  std::function<Result<Json>(const Json& call)> check;
  // Reloads the policy file as `actor` (audited by the caller); the new get() on success.
  // kInvalidArgument (the file's problems, the old policy stays), kNotFound (no policy file).
  std::function<Result<Json>(const std::string& actor)> reload;
  // The policy editor. validate: `policy check` of a draft text (never fails; "ok" false lists
  // the errors); `tools` is a tools/list result or null. dry_run: the last `limit` audited calls
  // re-decided under the draft ({"changes": [...], ...}); kInvalidArgument for a bad draft.
  // save / rollback: write the file atomically, keep a version, reload, audit;
  // kInvalidArgument (bad draft, no why), kConflict (stale base_hash, no change), kNotFound.
  std::function<Json(const std::string& text, const Json* tools)> validate;
  std::function<Result<Json>(const std::string& text, int limit)> dry_run;
  std::function<Result<Json>(const PolicySave& save)> save;
  std::function<Result<Json>()> versions;
  std::function<Result<Json>(const std::string& id)> version;
  std::function<Result<Json>(const std::string& id, const PolicySave& save)> rollback;
};

// GET /api/tools: the upstream's tools as the policy treats them (see the server's catalogue):
// {"upstreams": [{"name", "tools": [...]}], ...}. `refresh` asks for a fresh tools/list. Runs on
// listener threads, concurrently; blocks on the upstream (bounded) and the store.
using ToolCatalogueSource = std::function<Result<Json>(bool refresh)>;

// GET /readyz: {"ready": bool, "checks": {...}}; answered 200 when ready, else 503. Runs on
// listener threads, concurrently; may block briefly (it may ping the upstream).
using ReadinessCheck = std::function<Json()>;

class ReviewServer {
 public:
  // Validates the auth configuration (refuses an empty or short HS256 secret, bad keys, no key
  // unless single sign-on is configured).
  // REQUIRES: store, decisions and clock outlive the server.
  static Result<std::unique_ptr<ReviewServer>> Create(ReviewServerConfig config, store::Store& store,
                                                      DecisionService& decisions,
                                                      const Clock& clock = SystemClock::Instance());
  ~ReviewServer();  // Stop()s
  ReviewServer(const ReviewServer&) = delete;
  ReviewServer& operator=(const ReviewServer&) = delete;

  // REQUIRES: called before Start(). `method` "GET"/"POST", `path` an exact path.
  void AddPlainRoute(const std::string& method, const std::string& path, PlainHandler handler);
  // REQUIRES: called before Start(). Without it /api/endpoints lists nothing and enable is 404.
  void SetEndpointControl(EndpointControl control);
  // REQUIRES: called before Start(). Without it the /api/policy routes answer 404. With
  // `upstream`, that upstream's own policy file: every /api/policy route given ?upstream=NAME
  // goes to it (404 for a name without one), and GET /api/policies lists it.
  void SetPolicyControl(PolicyControl control, const std::string& upstream = "");
  // REQUIRES: called before Start(). Without it GET /api/tools answers 404.
  void SetToolCatalogue(ToolCatalogueSource source);
  // REQUIRES: called before Start(). Without it /readyz answers like /healthz.
  void SetReadinessCheck(ReadinessCheck check);

  // Binds host:port and starts serving on a background thread. kUnavailable if the port is taken.
  Status Start();
  void Stop();

  int port() const;               // the bound port (after Start), else 0
  std::string base_url() const;   // public_base_url or http://host:port

  class Impl;

 private:
  explicit ReviewServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace holdgate::review
