#pragma once
// What happens to an agent's message whose method is outside MCP's client tables
// (mcp/methods.h): it never reaches the upstream. A request is answered -32601; a request method
// sent as a notification, or a request method in disguise ("Tools/Call"), is also written to the
// audit log as "call.refused" with the principal, session and method. Called on the transport
// thread that delivered the message; blocks on at most one audit write. `store` may be null.
#include "mcp/jsonrpc.h"
#include "mcp/methods.h"
#include "transport/session.h"

namespace holdgate::store {
class Store;
}

namespace holdgate::gateway {

// REQUIRES: request.is_request() and !mcp::IsClientRequestMethod(request.method()).
void RefuseUnknownRequest(store::Store* store, const transport::Session& session, const mcp::Message& request,
                          transport::ClientStream& stream);

// REQUIRES: verdict != kAccept. Drops the notification; audits kRequestMethod.
void DropNotification(store::Store* store, const transport::Session& session, const mcp::Message& notification,
                      mcp::NotificationVerdict verdict);

}  // namespace holdgate::gateway
