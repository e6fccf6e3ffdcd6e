#include "review/routes.h"

#include <regex>
#include <string>

namespace holdgate::review {
namespace {

// Approval ids are "apr_" + hex; accept a conservative superset so a wrong id is a clean 404.
#define HG_ID "([A-Za-z0-9_-]{1,80})"

const std::vector<RouteSpec> kRoutes = {
    {RouteId::kHealthz, "GET", "/healthz", "/healthz", Access::kPublic},
    {RouteId::kReadyz, "GET", "/readyz", "/readyz", Access::kPublic},
    {RouteId::kMetrics, "GET", "/metrics", "/metrics", Access::kPublic},
    {RouteId::kMe, "GET", "/api/me", "/api/me", Access::kRead},
    {RouteId::kListApprovals, "GET", "/api/approvals", "/api/approvals", Access::kRead},
    {RouteId::kGetApproval, "GET", "/api/approvals/" HG_ID, "/api/approvals/{id}", Access::kRead},
    {RouteId::kApprove, "POST", "/api/approvals/" HG_ID "/approve", "/api/approvals/{id}/approve", Access::kDecide},
    {RouteId::kReject, "POST", "/api/approvals/" HG_ID "/reject", "/api/approvals/{id}/reject", Access::kDecide},
    {RouteId::kDecideMany, "POST", "/api/approvals/decide", "/api/approvals/decide", Access::kDecide},
    {RouteId::kComment, "POST", "/api/approvals/" HG_ID "/comments", "/api/approvals/{id}/comments", Access::kDecide},
    {RouteId::kEvents, "GET", "/api/events", "/api/events", Access::kRead},
    {RouteId::kAudit, "GET", "/api/audit", "/api/audit", Access::kRead},
    {RouteId::kAuditExport, "GET", "/api/audit/export", "/api/audit/export", Access::kRead},
    {RouteId::kAuditVerify, "GET", "/api/audit/verify", "/api/audit/verify", Access::kRead},
    {RouteId::kListDeliveries, "GET", "/api/deliveries", "/api/deliveries", Access::kRead},
    {RouteId::kRedeliver, "POST", "/api/deliveries/([0-9]{1,18})/redeliver", "/api/deliveries/{id}/redeliver",
     Access::kAdmin},
    {RouteId::kListEndpoints, "GET", "/api/endpoints", "/api/endpoints", Access::kRead},
    {RouteId::kEnableEndpoint, "POST", "/api/endpoints/([A-Za-z0-9_.:-]{1,128})/enable",
     "/api/endpoints/{target}/enable", Access::kAdmin},
    {RouteId::kListGrants, "GET", "/api/grants", "/api/grants", Access::kRead},
    // Decide-level here; the handler lets only admins and the grant's maker revoke.
    {RouteId::kRevokeGrant, "POST", "/api/grants/" HG_ID "/revoke", "/api/grants/{id}/revoke", Access::kDecide},
    // Readable by every role (the editor is shown read-only); every change is admin-only.
    {RouteId::kGetPolicy, "GET", "/api/policy", "/api/policy", Access::kRead},
    {RouteId::kSavePolicy, "POST", "/api/policy", "/api/policy", Access::kAdmin},
    {RouteId::kValidatePolicy, "POST", "/api/policy/validate", "/api/policy/validate", Access::kAdmin},
    {RouteId::kDryRunPolicy, "POST", "/api/policy/dry-run", "/api/policy/dry-run", Access::kAdmin},
    {RouteId::kListPolicyVersions, "GET", "/api/policy/versions", "/api/policy/versions", Access::kRead},
    {RouteId::kGetPolicyVersion, "GET", "/api/policy/versions/([0-9]{4,9}-[0-9]{8}T[0-9]{6}Z)",
     "/api/policy/versions/{id}", Access::kRead},
    {RouteId::kRollbackPolicy, "POST", "/api/policy/versions/([0-9]{4,9}-[0-9]{8}T[0-9]{6}Z)/rollback",
     "/api/policy/versions/{id}/rollback", Access::kAdmin},
    {RouteId::kListPolicies, "GET", "/api/policies", "/api/policies", Access::kRead},
    {RouteId::kListTools, "GET", "/api/tools", "/api/tools", Access::kRead},
    {RouteId::kCheckPolicy, "POST", "/api/policy/check", "/api/policy/check", Access::kAdmin},
    {RouteId::kReloadPolicy, "POST", "/api/policy/reload", "/api/policy/reload", Access::kAdmin},
    {RouteId::kUiIndex, "GET", "/", "/", Access::kPublic},
    // Everything else under GET that is not /api/: a file of the embedded approval UI (or 404).
    {RouteId::kUiFile, "GET", "/((?!api/)[^\\\\]{1,512})", "/{file}", Access::kPublic},
};

#undef HG_ID

struct Compiled {
  const RouteSpec* spec;
  std::regex re;
};

const std::vector<Compiled>& CompiledRoutes() {
  static const std::vector<Compiled> compiled = [] {
    std::vector<Compiled> v;
    for (const RouteSpec& r : kRoutes) v.push_back({&r, std::regex(std::string(r.regex))});
    return v;
  }();
  return compiled;
}

}  // namespace

const std::vector<RouteSpec>& Routes() { return kRoutes; }

const RouteSpec* MatchRoute(std::string_view method, std::string_view path) {
  if (path.size() > 2048) return nullptr;
  // HEAD is answered by httplib's GET handlers.
  std::string_view m = method == "HEAD" ? std::string_view("GET") : method;
  for (const Compiled& c : CompiledRoutes()) {
    if (c.spec->method != m) continue;
    if (std::regex_match(path.begin(), path.end(), c.re)) return c.spec;
  }
  return nullptr;
}

}  // namespace holdgate::review
