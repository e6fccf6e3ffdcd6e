#include "mcp/methods.h"

#include <algorithm>
#include <array>
#include <string>

namespace holdgate::mcp {
namespace {

// ClientRequest in schema.ts of 2025-03-26, 2025-06-18 and 2025-11-25 (the tasks/* methods are
// 2025-11-25's; tasks/update of the 2026 tasks extension is not among them).
constexpr std::array<std::string_view, 17> kClientRequests = {
    "initialize",          "ping",
    "tools/list",          "tools/call",
    "resources/list",      "resources/templates/list",
    "resources/read",      "resources/subscribe",
    "resources/unsubscribe", "prompts/list",
    "prompts/get",         "completion/complete",
    "logging/setLevel",    "tasks/get",
    "tasks/result",        "tasks/list",
    "tasks/cancel",
};

// ClientNotification of the same revisions. 2025-11-25 also lets a client send
// notifications/tasks/status, about tasks it runs for the server (task-augmented sampling or
// elicitation); holdgate never asks its upstream for those, so such a notification has no
// receiver and is dropped.
constexpr std::array<std::string_view, 4> kClientNotifications = {
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
};

template <size_t N>
bool Contains(const std::array<std::string_view, N>& table, std::string_view method) {
  return std::find(table.begin(), table.end(), method) != table.end();
}

// Lower case, without whitespace and control characters.
std::string Folded(std::string_view method) {
  std::string out;
  out.reserve(method.size());
  for (unsigned char c : method) {
    if (c <= 0x20 || c == 0x7f) continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
  }
  return out;
}

bool FoldsToRequestMethod(std::string_view method) {
  const std::string folded = Folded(method);
  return std::any_of(kClientRequests.begin(), kClientRequests.end(),
                     [&](std::string_view m) { return Folded(m) == folded; });
}

}  // namespace

std::span<const std::string_view> ClientRequestMethods() { return kClientRequests; }
std::span<const std::string_view> ClientNotificationMethods() { return kClientNotifications; }

bool IsClientRequestMethod(std::string_view method) { return Contains(kClientRequests, method); }

NotificationVerdict ClassifyClientNotification(std::string_view method) {
  if (Contains(kClientNotifications, method)) return NotificationVerdict::kAccept;
  if (FoldsToRequestMethod(method)) return NotificationVerdict::kRequestMethod;
  return NotificationVerdict::kUnknown;
}

bool IsDisguisedRequestMethod(std::string_view method) {
  return !IsClientRequestMethod(method) && FoldsToRequestMethod(method);
}

}  // namespace holdgate::mcp
