#include "gateway/method_guard.h"

#include "common/log.h"
#include "store/store.h"

namespace holdgate::gateway {
namespace {

constexpr size_t kMaxLoggedMethod = 200;

// At most kMaxLoggedMethod bytes of `s`, not cutting a UTF-8 sequence.
std::string Clip(const std::string& s) {
  if (s.size() <= kMaxLoggedMethod) return s;
  size_t n = kMaxLoggedMethod;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

void AuditRefusal(store::Store* store, const transport::Session& session, const mcp::Message& message,
                  const char* why) {
  const std::string method = message.method();
  std::string tool;
  const Json params = message.params();
  if (auto name = params.find("name"); name != params.end() && name->is_string()) tool = name->get<std::string>();
  log::Warn("refused agent message", {{"method", Clip(method)}, {"why", why},
                                      {"principal", session.principal()}, {"session", session.id()}});
  if (store == nullptr) return;
  store::AuditEvent ev;
  ev.type = "call.refused";
  ev.principal = session.principal();
  ev.actor = session.principal();
  ev.via = "mcp";
  ev.tool = Clip(tool);
  ev.decision = "refuse";
  ev.detail = Json{{"method", Clip(method)}, {"why", why}, {"session", session.id()}};
  if (message.is_request()) ev.detail["id"] = message.id();
  auto r = store->AppendAudit(ev);
  if (!r.ok()) log::Error("audit write failed", {{"type", ev.type}, {"error", r.status().ToString()}});
}

}  // namespace

void RefuseUnknownRequest(store::Store* store, const transport::Session& session, const mcp::Message& request,
                          transport::ClientStream& stream) {
  const std::string method = request.method();
  if (mcp::IsDisguisedRequestMethod(method)) {
    AuditRefusal(store, session, request, "not an MCP method (names are matched exactly)");
  }
  stream.Finish(mcp::MakeError(request.id(), mcp::kMethodNotFound,
                               "Method not found: " + Clip(method)));
}

void DropNotification(store::Store* store, const transport::Session& session, const mcp::Message& notification,
                      mcp::NotificationVerdict verdict) {
  if (verdict == mcp::NotificationVerdict::kRequestMethod) {
    AuditRefusal(store, session, notification, "request method sent as a notification (no id): not run");
    return;
  }
  log::Debug("dropped unknown notification", {{"method", Clip(notification.method())},
                                              {"session", session.id()}});
}

}  // namespace holdgate::gateway
