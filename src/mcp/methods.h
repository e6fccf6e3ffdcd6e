#pragma once
// The methods an agent (an MCP client) may send, per the MCP revisions holdgate speaks
// (2025-03-26, 2025-06-18, 2025-11-25), and what holdgate does with each. 2026-07-28 requests have
// their own table (mcp/era.h). Pure: no I/O, no
// state; safe from any thread.
//
// Names match exactly, byte for byte: MCP method names are case-sensitive and carry no padding,
// so "Tools/Call", " tools/call" or "tools/call\u0000" is not tools/call but an unknown method. A
// request with a method outside the request table is answered -32601 by holdgate and never
// reaches the upstream; a notification outside the notification table is dropped. Nothing is
// passed on because an upstream might match names loosely or act on a notification.
#include <span>
#include <string_view>

namespace holdgate::mcp {

// Client→server requests: initialize, ping, tools/*, resources/*, prompts/*, completion/complete,
// logging/setLevel and the 2025-11-25 tasks/* methods.
std::span<const std::string_view> ClientRequestMethods();
// Client→server notifications: notifications/initialized, cancelled, progress,
// roots/list_changed.
std::span<const std::string_view> ClientNotificationMethods();

bool IsClientRequestMethod(std::string_view method);

enum class NotificationVerdict {
  kAccept,         // a client notification from the table: handled by holdgate or passed on
  kRequestMethod,  // a request method sent without an id (e.g. tools/call): refused and audited
  kUnknown,        // anything else (including notifications/tasks/status, see methods.cpp): dropped
};
NotificationVerdict ClassifyClientNotification(std::string_view method);

// True when `method` is not a request method but becomes one once case, whitespace and control
// characters are ignored ("Tools/Call", " tools/call", "tools/call\0"): an attempt to slip a
// request past a check, worth an audit row rather than a quiet -32601.
bool IsDisguisedRequestMethod(std::string_view method);

}  // namespace holdgate::mcp
