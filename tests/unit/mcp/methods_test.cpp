#include <catch2/catch.hpp>

#include <string>

#include "mcp/methods.h"

namespace holdgate::mcp {

TEST_CASE("methods: every client request of 2025-03-26..2025-11-25 is known, nothing else", "[mcp][methods]") {
  for (const char* m : {"initialize", "ping", "tools/list", "tools/call", "resources/list",
                        "resources/templates/list", "resources/read", "resources/subscribe",
                        "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete",
                        "logging/setLevel", "tasks/get", "tasks/result", "tasks/list", "tasks/cancel"}) {
    INFO(m);
    CHECK(IsClientRequestMethod(m));
    CHECK_FALSE(IsDisguisedRequestMethod(m));
  }
  CHECK(ClientRequestMethods().size() == 17);
  // Server->client requests, notifications, the 2026 draft's methods and made-up ones.
  for (const char* m : {"sampling/createMessage", "elicitation/create", "roots/list", "notifications/initialized",
                        "tasks/update", "server/discover", "tools/delete", "", "tools", "tasks/"}) {
    INFO(m);
    CHECK_FALSE(IsClientRequestMethod(m));
  }
}

TEST_CASE("methods: names match exactly (case, padding, NUL)", "[mcp][methods]") {
  const std::string nul("tools/call\0", 11);
  for (const std::string& m : {std::string("Tools/Call"), std::string("TOOLS/CALL"), std::string(" tools/call"),
                               std::string("tools/call "), std::string("tools/call\n"), nul,
                               std::string("tools/\tcall"), std::string("logging/setlevel")}) {
    INFO("method of " << m.size() << " bytes: " << m);
    CHECK_FALSE(IsClientRequestMethod(m));
    CHECK(IsDisguisedRequestMethod(m));
    CHECK(ClassifyClientNotification(m) == NotificationVerdict::kRequestMethod);
  }
  CHECK_FALSE(IsDisguisedRequestMethod("tools/calls"));
  CHECK_FALSE(IsDisguisedRequestMethod("tool/call"));
}

TEST_CASE("methods: only the four client notifications are accepted", "[mcp][methods]") {
  for (std::string_view m : ClientNotificationMethods()) {
    INFO(std::string(m));
    CHECK(ClassifyClientNotification(m) == NotificationVerdict::kAccept);
  }
  CHECK(ClientNotificationMethods().size() == 4);
  CHECK(ClassifyClientNotification("notifications/initialized") == NotificationVerdict::kAccept);
  CHECK(ClassifyClientNotification("notifications/cancelled") == NotificationVerdict::kAccept);
  CHECK(ClassifyClientNotification("notifications/progress") == NotificationVerdict::kAccept);
  CHECK(ClassifyClientNotification("notifications/roots/list_changed") == NotificationVerdict::kAccept);
  // A request method without an id: refused (and audited by the gateway).
  CHECK(ClassifyClientNotification("tools/call") == NotificationVerdict::kRequestMethod);
  CHECK(ClassifyClientNotification("initialize") == NotificationVerdict::kRequestMethod);
  CHECK(ClassifyClientNotification("tasks/cancel") == NotificationVerdict::kRequestMethod);
  // Server->client notifications and unknown names: dropped.
  for (const char* m : {"notifications/tools/list_changed", "notifications/message", "notifications/tasks/status",
                        "Notifications/Initialized", "notifications/initialized ", "sampling/createMessage", ""}) {
    INFO(m);
    CHECK(ClassifyClientNotification(m) == NotificationVerdict::kUnknown);
  }
}

}  // namespace holdgate::mcp
