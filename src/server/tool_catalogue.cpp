#include "server/tool_catalogue.h"

#include <chrono>
#include <future>

#include "common/log.h"
#include "policy/explain.h"
#include "policy/policy.h"
#include "store/store.h"
#include "upstream/upstream.h"

namespace holdgate::server {
namespace {

constexpr int kMaxPages = 50;

// Hands the one response of a tools/list page to the waiting caller.
class PageWaiter final : public upstream::ReplyHandler {
 public:
  void OnRelated(const Json&) override {}
  void OnResponse(const Json& response) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    done_ = true;
    promise_.set_value(response);
  }
  std::future<Json> Future() { return promise_.get_future(); }

 private:
  std::mutex mu_;
  bool done_ = false;  // guarded by mu_
  std::promise<Json> promise_;
};

}  // namespace

ToolCatalogue::ToolCatalogue(ToolCatalogueOptions options, PolicySource policy, store::Store* store,
                             const Clock& clock)
    : options_(std::move(options)), policy_(std::move(policy)), store_(store), clock_(clock) {}

void ToolCatalogue::SetUpstream(upstream::Upstream* upstream) {
  std::lock_guard<std::mutex> lock(mu_);
  upstream_ = upstream;
}

void ToolCatalogue::SetGrouping(std::function<std::vector<CatalogueGroup>()> groups,
                                std::function<std::string(const std::string&)> owner) {
  std::lock_guard<std::mutex> lock(mu_);
  groups_ = std::move(groups);
  owner_ = std::move(owner);
}

Json ToolCatalogue::Annotations(const std::string& tool) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!tools_.is_array()) return Json();
  for (const Json& t : tools_) {
    if (t.is_object() && t.value("name", "") == tool) return t.value("annotations", Json());
  }
  return Json();
}

Result<Json> ToolCatalogue::FetchToolsList() {
  upstream::Upstream* up;
  {
    std::lock_guard<std::mutex> lock(mu_);
    up = upstream_;
  }
  if (up == nullptr) return Unavailable("the upstream has not started yet");
  Json tools = Json::array();
  Json cursor;
  for (int page = 0; page < kMaxPages; ++page) {
    Json request{{"jsonrpc", "2.0"}, {"id", "holdgate-catalogue-" + std::to_string(page)}, {"method", "tools/list"},
                 {"params", Json::object()}};
    if (!cursor.is_null()) request["params"]["cursor"] = cursor;
    auto waiter = std::make_shared<PageWaiter>();
    std::future<Json> answer = waiter->Future();
    const upstream::RequestHandle handle = up->Send(request, waiter);
    if (answer.wait_for(std::chrono::milliseconds(options_.fetch_timeout_ms)) != std::future_status::ready) {
      up->Cancel(handle, "holdgate's tool catalogue stopped waiting");
      return Unavailable("the upstream did not answer tools/list within " + FormatDuration(options_.fetch_timeout_ms));
    }
    const Json response = answer.get();
    if (response.contains("error")) {
      return Unavailable("the upstream refused tools/list: " + response["error"].value("message", DumpJson(response["error"])));
    }
    const Json result = response.value("result", Json::object());
    if (!result.is_object() || !result.contains("tools") || !result["tools"].is_array()) {
      return Unavailable("the upstream's tools/list answer has no tools array");
    }
    for (const Json& t : result["tools"]) tools.push_back(t);
    if (!result.contains("nextCursor") || !result["nextCursor"].is_string() || result["nextCursor"].get<std::string>().empty()) {
      break;
    }
    cursor = result["nextCursor"];
  }
  return tools;
}

Json ToolCatalogue::Describe(const std::string& upstream_name, const Json& tools, const policy::Policy* policy,
                             const Json& activity_by_tool) {
  Json items = Json::array();
  for (const Json& t : tools) {
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) continue;
    const std::string name = t["name"].get<std::string>();
    const Json* annotations = t.contains("annotations") && t["annotations"].is_object() ? &t["annotations"] : nullptr;
    const policy::ToolExplanation e = policy::ExplainTool(policy, name, annotations);
    Json item{{"name", name},
              {"upstream", upstream_name},
              {"description", t.value("description", "")},
              {"annotations", annotations ? *annotations : Json::object()},
              {"decision", {{"action", e.action}, {"rule", e.rule}, {"reason", e.reason},
                            {"depends_on_arguments", e.depends_on_arguments}, {"shadow", e.shadow}}},
              {"risk", {{"level", e.risk}, {"source", e.risk_source}, {"note", e.risk_note}}}};
    if (t.contains("title") && t["title"].is_string()) item["title"] = t["title"];
    auto a = activity_by_tool.find(name);
    item["last_24h"] = a != activity_by_tool.end() ? *a : Json{{"calls", 0}, {"denied", 0}, {"held", 0}};
    items.push_back(std::move(item));
  }
  return items;
}

Result<Json> ToolCatalogue::Tools(bool refresh) {
  Json tools;
  int64_t fetched_at = 0;
  {
    std::lock_guard<std::mutex> fetch(fetch_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!refresh && tools_.is_array() && clock_.NowMs() - fetched_at_ms_ < options_.cache_ms) {
        tools = tools_;
        fetched_at = fetched_at_ms_;
      }
    }
    if (tools.is_null()) {
      auto fetched = FetchToolsList();
      if (!fetched.ok()) return fetched.status();
      std::lock_guard<std::mutex> lock(mu_);
      tools_ = *fetched;
      fetched_at_ms_ = clock_.NowMs();
      tools = tools_;
      fetched_at = fetched_at_ms_;
    }
  }
  Json activity = Json::object();
  if (store_ != nullptr) {
    auto rows = store_->ToolActivitySince(clock_.NowMs() - options_.activity_window_ms);
    if (!rows.ok()) return rows.status();
    for (const store::ToolActivity& r : *rows) {
      activity[r.tool] = Json{{"calls", r.calls}, {"denied", r.denied}, {"held", r.held}};
    }
  }
  const std::shared_ptr<const policy::Policy> p = policy_ ? policy_() : nullptr;
  Json upstreams = Json::array();
  std::function<std::vector<CatalogueGroup>()> groups;
  std::function<std::string(const std::string&)> owner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    groups = groups_;
    owner = owner_;
  }
  if (!groups) {
    upstreams.push_back({{"name", options_.upstream_name},
                         {"tools", Describe(options_.upstream_name, tools, p.get(), activity)},
                         {"fetched_at", FormatTimeMs(fetched_at)}});
  } else {
    for (const CatalogueGroup& g : groups()) {
      Json own = Json::array();
      for (const Json& t : tools) {
        if (t.is_object() && t.contains("name") && t["name"].is_string() && owner(t["name"].get<std::string>()) == g.name) {
          own.push_back(t);
        }
      }
      Json entry{{"name", g.name},
                 {"prefix", g.prefix},
                 {"available", g.up},
                 {"tools", Describe(g.name, own, p.get(), activity)},
                 {"fetched_at", FormatTimeMs(fetched_at)}};
      if (!g.up) entry["error"] = g.error;
      upstreams.push_back(std::move(entry));
    }
  }
  return Json{{"upstreams", std::move(upstreams)},
              {"policy_hash", p ? Json(p->hash()) : Json()},
              {"window", FormatDuration(options_.activity_window_ms)},
              {"counts_note", "calls counts audited tool calls: denied, hidden, rate-limited and held ones always, "
                              "allowed ones only with audit_all_calls"}};
}

}  // namespace holdgate::server
