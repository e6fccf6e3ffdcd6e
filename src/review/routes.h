#pragma once
// The reviewer listener's route table: the single list the server registers its handlers from,
// that the pre-routing handler consults for access rules, and that the OpenAPI test compares
// against schema/openapi.yaml. Immutable; thread-safe.
#include <string_view>
#include <vector>

namespace holdgate::review {

// Who may call a route. Roles are ordered (auditor < reviewer < admin).
enum class Access {
  kPublic,  // no token: health, metrics, the static UI
  kRead,    // any valid token (auditor, reviewer, admin)
  kDecide,  // reviewer or admin
  kAdmin,   // admin only
};

enum class RouteId {
  kHealthz,
  kReadyz,
  kMetrics,
  kMe,
  kListApprovals,
  kGetApproval,
  kApprove,
  kReject,
  kDecideMany,
  kComment,
  kEvents,
  kAudit,
  kAuditExport,
  kAuditVerify,
  kListDeliveries,
  kRedeliver,
  kListEndpoints,
  kEnableEndpoint,
  kListGrants,
  kRevokeGrant,
  kGetPolicy,
  kCheckPolicy,
  kReloadPolicy,
  kListTools,
  kValidatePolicy,
  kDryRunPolicy,
  kSavePolicy,
  kListPolicyVersions,
  kGetPolicyVersion,
  kRollbackPolicy,
  kListPolicies,
  kUiIndex,
  kUiFile,
};

struct RouteSpec {
  RouteId id;
  std::string_view method;        // "GET" | "POST"
  std::string_view regex;         // matched against the whole decoded path (httplib pattern)
  std::string_view openapi_path;  // the same route as written in schema/openapi.yaml
  Access access;
};

// In registration order (the static-file catch-all last).
const std::vector<RouteSpec>& Routes();

// The route for method + path, or nullptr.
const RouteSpec* MatchRoute(std::string_view method, std::string_view path);

}  // namespace holdgate::review
