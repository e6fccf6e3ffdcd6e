#pragma once
// Where W3C trace context travels inside an MCP message: `params._meta.traceparent` (and
// `params._meta.tracestate`), the place MCP 2026-07-28 gives it; over HTTP the same values also
// go in the `traceparent` / `tracestate` headers. Pure JSON helpers; thread-compatible.
#include <string>

#include "common/json_util.h"

namespace holdgate::mcp {

// params._meta.traceparent of a request or notification, or "" when absent or not a string.
std::string MetaTraceparent(const Json& message);

// Sets params._meta.traceparent (creating params and _meta as needed). No-op when `message` is
// not an object or its params is not an object.
void SetMetaTraceparent(Json* message, const std::string& traceparent);

}  // namespace holdgate::mcp
