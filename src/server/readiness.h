#pragma once
// Readiness of a running holdgate for a load balancer (GET /readyz on the reviewer listener), as
// opposed to liveness (/healthz: the process and its database answer). Ready means:
//  - store: the database takes a write transaction (its write lock can be taken and the file
//    is not read-only),
//  - upstream: the upstream MCP server answers a JSON-RPC ping within 2 s,
//  - policy: the configured policy file is loaded (no policy configured: allow-all, reported),
//  - not draining (after SIGTERM holdgate finishes what it has and takes nothing new).
//
// Thread-safe: Check() runs on reviewer listener threads, concurrently. Blocks up to the ping
// timeout.
#include <cstdint>
#include <functional>

#include "common/json_util.h"

namespace holdgate::store {
class Store;
}
namespace holdgate::upstream {
class Upstream;
}

namespace holdgate::server {

struct ReadinessSources {
  store::Store* store = nullptr;
  upstream::Upstream* upstream = nullptr;
  std::function<bool()> policy_loaded;  // true when the policy in force is the configured one
  bool policy_configured = false;
  std::function<bool()> draining;  // true once SIGTERM started the drain
  int64_t ping_timeout_ms = 2000;
};

// {"ready": bool, "checks": {"store": "ok"|why, "upstream": "ok"|why, "policy": "ok"|"none"|why,
//  "draining": bool}}.
Json CheckReadiness(const ReadinessSources& sources);

}  // namespace holdgate::server
