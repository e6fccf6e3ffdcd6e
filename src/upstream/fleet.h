#pragma once
// Fleet: several upstream MCP servers seen as one Upstream, so the gateway (and a SessionPool)
// front them unchanged. A Fleet owns the name → prefix → member map:
// - tools/list, prompts/list, resources/list and resources/templates/list go to every member (all
//   pages) and are merged into one answer without a cursor; tool and prompt names get the member's
//   prefix, resource URIs stay as the member gave them and remember who listed them;
// - tools/call, prompts/get and completion/complete for a prompt go to the member whose prefix the
//   name starts with (the longest; "" takes the rest), the prefix removed; resources/read,
//   subscribe, unsubscribe and completion for a resource go to the member that listed the URI (or
//   a template it starts like), else to the only member declaring resources;
// - server->client requests get fleet-wide ids (Respond maps them back), notifications pass on;
//   logging/setLevel and agent notifications go to every member; ping is answered here (an error
//   when no member is up).
// Metrics: holdgate_upstream_requests_total and holdgate_upstream_down_total, by member name.
// Isolation: a member that cannot be started, does not answer a list within list_timeout_ms or
// fails its health probe drops out of the merged lists (agents are sent list_changed) and its
// calls get an error naming it; the others keep serving. A member that failed to start, or
// failed `replace_after` probes in a row, is rebuilt and re-initialized on the health thread; it
// rejoins with list_changed. Start() refuses when no member starts, or when two members would
// list the same (prefixed) tool or prompt name.
//
// Thread-safe like every Upstream (upstream.h). Start and Stop block; Send never blocks on the
// network. Owns a health thread and a timer thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "common/status.h"
#include "upstream/upstream.h"

namespace holdgate::upstream {

struct FleetMember {
  std::string name;    // shown in errors, logs and the catalogue
  std::string prefix;  // put in front of tool and prompt names ("" allowed for one member)
  Options options;     // command or url, capabilities, timeouts
};

struct FleetOptions {
  int64_t list_timeout_ms = 10'000;     // a member slower than this is left out of a merged list
  int64_t health_interval_ms = 5'000;   // probe (tools/list or ping) every member this often
  int replace_after = 2;                // failed probes in a row before a member is rebuilt
  // Builds one (not yet started) member; the default picks stdio or HTTP by options.command.
  std::function<std::unique_ptr<Upstream>(const Options&)> factory;
};

// What Members() tells about one member.
struct FleetMemberState {
  std::string name;
  std::string prefix;
  bool up = false;          // started and its last probe answered
  std::string era;          // "legacy" / "modern" ("" while not started)
  std::string last_error;   // why it is down ("" when up)
};

class Fleet final : public Upstream {
 public:
  // REQUIRES: members non-empty, names unique, no prefix begins another (config checks this).
  Fleet(std::vector<FleetMember> members, FleetOptions options);
  ~Fleet() override;

  // The member whose prefix `name` starts with (longest first), or "" when none.
  std::string OwnerOf(const std::string& name) const;
  std::vector<FleetMemberState> Members() const;

  // Upstream
  Status Start() override;
  void Stop() override;
  Json InitializeResult() const override;
  RequestHandle Send(const Json& request, std::shared_ptr<ReplyHandler> handler) override;
  void Cancel(RequestHandle handle, const std::string& reason) override;
  void Notify(const Json& notification) override;
  void Respond(const Json& response) override;
  void SetUnsolicitedHandler(std::function<void(const Json&)> handler) override;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace holdgate::upstream
