#pragma once
// ToolCatalogue: the upstream's tools as holdgate treats them, for GET /api/tools and
// `holdgate tools`. It asks the upstream for tools/list itself (all pages; cached for a short
// while), decides each tool under the active policy (policy/explain.h) and adds the last 24 h of
// audit counts from ONE store query. With one upstream the answer names it "default"; with
// several (SetGrouping, a Fleet behind the upstream) the merged list is split by owner, one entry
// per upstream with its prefix and whether it is up (a down one is listed with no tools).
//
// Thread-safe. Tools() blocks on the upstream (at most fetch_timeout_ms) and the store; one
// tools/list is in flight at a time (concurrent callers share the cached answer).
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json_util.h"
#include "common/status.h"

namespace holdgate::policy {
class Policy;
}
namespace holdgate::store {
class Store;
}
namespace holdgate::upstream {
class Upstream;
}

namespace holdgate::server {

// One upstream among several, as the catalogue lists it.
struct CatalogueGroup {
  std::string name;
  std::string prefix;
  bool up = false;
  std::string error;  // why it is down
};

struct ToolCatalogueOptions {
  std::string upstream_name = "default";
  int64_t cache_ms = 30'000;          // a tools/list answer is reused this long
  int64_t fetch_timeout_ms = 10'000;  // per tools/list page
  int64_t activity_window_ms = 24 * 3600'000;
};

class ToolCatalogue {
 public:
  using PolicySource = std::function<std::shared_ptr<const policy::Policy>()>;
  // REQUIRES: store (may be null: no counts) and clock outlive the catalogue.
  ToolCatalogue(ToolCatalogueOptions options, PolicySource policy, store::Store* store, const Clock& clock);

  // The upstream to ask; null until it has started (Tools() then answers kUnavailable).
  // REQUIRES: a non-null upstream outlives the catalogue, or is replaced by null first.
  void SetUpstream(upstream::Upstream* upstream);
  // Several upstreams behind SetUpstream's one: `groups` lists them (in order), `owner` names the
  // upstream of a (prefixed) tool name. Call before the catalogue is used.
  void SetGrouping(std::function<std::vector<CatalogueGroup>()> groups,
                   std::function<std::string(const std::string&)> owner);

  // {"upstreams": [{"name", "tools": [{"name", "title"?, "description", "annotations",
  //   "decision": {"action", "rule", "reason", "depends_on_arguments", "shadow"},
  //   "risk": {"level", "source": "policy"|"annotations", "note"},
  //   "last_24h": {"calls", "denied", "held"}}], "fetched_at"}],
  //  "policy_hash", "window": "24h", "counts_note"}.
  // kUnavailable when the upstream is not up or does not answer.
  Result<Json> Tools(bool refresh);

  // The MCP annotations of `tool` from the last tools/list seen (null if unknown). Never blocks
  // on the upstream.
  Json Annotations(const std::string& tool) const;

  // Builds one upstream's catalogue entry from a tools array (exposed for tests). Pure.
  static Json Describe(const std::string& upstream_name, const Json& tools, const policy::Policy* policy,
                       const Json& activity_by_tool);

 private:
  Result<Json> FetchToolsList();

  const ToolCatalogueOptions options_;
  const PolicySource policy_;
  store::Store* const store_;
  const Clock& clock_;
  std::mutex fetch_mu_;  // one tools/list at a time
  mutable std::mutex mu_;
  upstream::Upstream* upstream_ = nullptr;  // guarded by mu_
  std::function<std::vector<CatalogueGroup>()> groups_;          // set before use
  std::function<std::string(const std::string&)> owner_;         // set before use
  Json tools_;                              // guarded by mu_: the last tools array
  int64_t fetched_at_ms_ = 0;               // guarded by mu_
};

}  // namespace holdgate::server
