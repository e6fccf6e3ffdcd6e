#include "upstream/fleet.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "common/metrics.h"
#include "mcp/jsonrpc.h"

namespace holdgate::upstream {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kMaxPages = 50;
constexpr const char* kFleetIdPrefix = "hg-fleet:";

// The merged list methods: method → result key and the capability a member must declare.
struct ListMethod {
  const char* method;
  const char* key;
  const char* capability;
  bool prefixed;  // names get the member's prefix
};
constexpr ListMethod kLists[] = {
    {"tools/list", "tools", "tools", true},
    {"prompts/list", "prompts", "prompts", true},
    {"resources/list", "resources", "resources", false},
    {"resources/templates/list", "resourceTemplates", "resources", false},
};
const ListMethod* FindList(const std::string& method) {
  for (const auto& l : kLists) {
    if (method == l.method) return &l;
  }
  return nullptr;
}

std::string ErrorText(const Json& response) {
  if (!response.contains("error")) return "";
  const Json& e = response["error"];
  return e.is_object() ? e.value("message", DumpJson(e)) : DumpJson(e);
}

// The literal start of a URI template ("file:///{path}" → "file:///").
std::string TemplateStem(const std::string& uri_template) { return uri_template.substr(0, uri_template.find('{')); }

struct Slot;
const Json& Capabilities(const Slot& s);

struct Slot {
  FleetMember cfg;
  // Guarded by Fleet::Impl::mu_:
  std::shared_ptr<Upstream> up;  // null: not started (or being rebuilt)
  bool healthy = false;
  int failures = 0;
  std::string last_error;
  std::string era;
  Json init;                                 // the member's InitializeResult
  std::unordered_set<std::string> uris;      // from its last resources/list
  std::vector<std::string> template_stems;   // from its last resources/templates/list
};

// The member's declared capabilities ({} before it started).
const Json& Capabilities(const Slot& s) {
  static const Json kNone = Json::object();
  if (!s.init.is_object()) return kNone;
  auto it = s.init.find("capabilities");
  return it != s.init.end() && it->is_object() ? *it : kNone;
}

// A request forwarded to one member.
struct Pending {
  std::shared_ptr<Upstream> up;
  RequestHandle inner = 0;
  bool sent = false;
};

}  // namespace

class Fleet::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(std::vector<FleetMember> members, FleetOptions options) : options_(std::move(options)) {
    if (!options_.factory) {
      options_.factory = [](const Options& o) {
        return o.command.empty() ? MakeHttpUpstream(o) : MakeStdioUpstream(o);
      };
    }
    for (auto& m : members) {
      auto s = std::make_unique<Slot>();
      s->cfg = std::move(m);
      slots_.push_back(std::move(s));
    }
  }

  // ---- lifecycle ----

  Status Start() {
    timer_ = std::thread([this] { RunTimers(); });
    std::vector<Status> results(slots_.size(), Status::Ok());
    {
      std::vector<std::thread> starters;
      for (size_t i = 0; i < slots_.size(); ++i) {
        starters.emplace_back([this, i, &results] { results[i] = StartMember(i); });
      }
      for (auto& t : starters) t.join();
    }
    std::string failures;
    size_t started = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (results[i].ok()) {
        ++started;
        continue;
      }
      failures += (failures.empty() ? "" : "; ") + slots_[i]->cfg.name + ": " + results[i].message();
      log::Error("upstream could not be started; its tools are missing until it is (retried in the background)",
                 {{"upstream", slots_[i]->cfg.name}, {"error", results[i].message()}});
    }
    if (started == 0) return Unavailable("no upstream could be started (" + failures + ")");
    // Two members listing one name would make calls ambiguous: refuse now rather than guess.
    for (const char* method : {"tools/list", "prompts/list"}) {
      std::promise<std::vector<std::string>> collisions;
      auto future = collisions.get_future();
      Aggregate(method, nullptr, nullptr,
                [&collisions](const Json&, std::vector<std::string> found) { collisions.set_value(std::move(found)); });
      std::vector<std::string> found = future.get();
      if (!found.empty()) {
        std::string text;
        for (const auto& f : found) text += (text.empty() ? "" : "; ") + f;
        return InvalidArgument("upstream name collision: " + text +
                               "; give the upstreams different prefixes (upstreams[].prefix)");
      }
    }
    health_ = std::thread([this] { RunHealth(); });
    return Status::Ok();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    timer_cv_.notify_all();
    if (health_.joinable()) health_.join();
    std::vector<std::shared_ptr<Upstream>> ups;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& s : slots_) {
        if (s->up) ups.push_back(s->up);
        s->up.reset();
        s->healthy = false;
      }
    }
    for (auto& u : ups) u->Stop();  // in-flight requests get their errors (list merges finish)
    if (timer_.joinable()) timer_.join();
  }

  // ---- reading ----

  int OwnerIndex(const std::string& name) const {
    int best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      const std::string& p = slots_[i]->cfg.prefix;
      if (name.rfind(p, 0) != 0) continue;
      if (best < 0 || p.size() > best_len) {
        best = static_cast<int>(i);
        best_len = p.size();
      }
    }
    return best;
  }

  std::vector<FleetMemberState> Members() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<FleetMemberState> out;
    for (const auto& s : slots_) {
      out.push_back({s->cfg.name, s->cfg.prefix, s->up != nullptr && s->healthy, s->era, s->last_error});
    }
    return out;
  }

  Json InitializeResult() const {
    std::lock_guard<std::mutex> lock(mu_);
    Json caps = {{"tools", {{"listChanged", true}}}};
    std::string version;
    std::string instructions;
    std::string names;
    for (const auto& s : slots_) {
      names += (names.empty() ? "" : ", ") + s->cfg.name;
      if (!s->init.is_object()) continue;
      const Json c = Capabilities(*s);
      for (const char* key : {"prompts", "resources"}) {
        if (!c.contains(key)) continue;
        if (!caps.contains(key)) caps[key] = Json::object();
        caps[key]["listChanged"] = true;
        if (std::string(key) == "resources" && c[key].is_object() && c[key].value("subscribe", false)) {
          caps[key]["subscribe"] = true;
        }
      }
      for (const char* key : {"logging", "completions"}) {
        if (c.contains(key)) caps[key] = Json::object();
      }
      if (s->era == "legacy") {
        const std::string v = s->init.value("protocolVersion", "");
        if (!v.empty() && (version.empty() || v < version)) version = v;  // the oldest any member agreed to
      }
      const std::string ins = s->init.value("instructions", "");
      if (!ins.empty()) {
        instructions += (instructions.empty() ? "" : "\n\n") + ("[" + s->cfg.name + ", tools prefixed \"" +
                                                                  s->cfg.prefix + "\"] " + ins);
      }
    }
    if (version.empty()) {
      version = slots_.empty() || slots_[0]->cfg.options.protocol_version.empty()
                    ? std::string(mcp::kLatestProtocolVersion)
                    : slots_[0]->cfg.options.protocol_version;
    }
    Json result = {{"protocolVersion", version},
                   {"capabilities", caps},
                   {"serverInfo", {{"name", "holdgate"}, {"title", "holdgate: " + names}, {"version", "0.1.0"}}}};
    if (!instructions.empty()) result["instructions"] = instructions;
    return result;
  }

  // ---- requests ----

  RequestHandle Send(const Json& request, std::shared_ptr<ReplyHandler> handler) {
    const std::string method = request.value("method", "");
    const Json id = request.contains("id") ? request["id"] : Json(nullptr);
    const Json params = request.contains("params") && request["params"].is_object() ? request["params"] : Json::object();
    if (method == "ping") {
      // Answered here: ready while at least one member is up (the readiness probe uses it).
      bool any = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& s : slots_) any = any || (s->up && s->healthy);
      }
      handler->OnResponse(any ? mcp::MakeResult(id, Json::object())
                              : mcp::MakeError(id, mcp::kConnectionClosed, "no upstream is available"));
      return 0;
    }
    if (FindList(method) != nullptr) {
      if (params.contains("cursor")) {
        handler->OnResponse(mcp::MakeError(id, mcp::kInvalidParams, "invalid cursor: holdgate lists every page at once"));
        return 0;
      }
      Aggregate(method, id, handler, nullptr);
      return 0;
    }
    if (method == "logging/setLevel") {
      FanOutSetLevel(request, handler);
      return 0;
    }
    if (method == "tools/call" || method == "prompts/get") {
      const std::string name = params.value("name", "");
      const int i = OwnerIndex(name);
      if (i < 0) {
        handler->OnResponse(mcp::MakeError(id, mcp::kInvalidParams,
                                           (method == "tools/call" ? "Unknown tool: " : "Unknown prompt: ") + name));
        return 0;
      }
      Json forwarded = request;
      forwarded["params"]["name"] = name.substr(slots_[i]->cfg.prefix.size());
      return Forward(static_cast<size_t>(i), forwarded, std::move(handler));
    }
    if (method == "completion/complete") {
      const Json ref = params.value("ref", Json::object());
      if (ref.value("type", "") == "ref/prompt") {
        const std::string name = ref.value("name", "");
        const int i = OwnerIndex(name);
        if (i < 0) {
          handler->OnResponse(mcp::MakeError(id, mcp::kInvalidParams, "Unknown prompt: " + name));
          return 0;
        }
        Json forwarded = request;
        forwarded["params"]["ref"]["name"] = name.substr(slots_[i]->cfg.prefix.size());
        return Forward(static_cast<size_t>(i), forwarded, std::move(handler));
      }
      return ForwardByUri(ref.value("uri", ""), request, std::move(handler));
    }
    if (method == "resources/read" || method == "resources/subscribe" || method == "resources/unsubscribe") {
      return ForwardByUri(params.value("uri", ""), request, std::move(handler));
    }
    if (slots_.size() == 1) return Forward(0, request, std::move(handler));
    handler->OnResponse(mcp::MakeError(id, mcp::kMethodNotFound,
                                       "holdgate cannot route " + method + " with several upstreams"));
    return 0;
  }

  void Cancel(RequestHandle handle, const std::string& reason) {
    std::shared_ptr<Upstream> up;
    RequestHandle inner = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(handle);
      if (it == pending_.end() || !it->second.sent) return;
      up = it->second.up;
      inner = it->second.inner;
    }
    up->Cancel(inner, reason);
  }

  void Notify(const Json& notification) {
    for (auto& up : LiveMembers()) up->Notify(notification);
  }

  void Respond(const Json& response) {
    const Json id = response.contains("id") ? response["id"] : Json(nullptr);
    if (!id.is_string()) return;
    std::shared_ptr<Upstream> up;
    Json original;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = server_requests_.find(id.get<std::string>());
      if (it == server_requests_.end()) {
        log::Warn("answer to an unknown upstream request dropped", {{"id", id}});
        return;
      }
      up = it->second.first.lock();
      original = it->second.second;
      server_requests_.erase(it);
    }
    if (!up) return;
    Json restored = response;
    restored["id"] = original;
    up->Respond(restored);
  }

  void SetUnsolicited(std::function<void(const Json&)> handler) {
    std::lock_guard<std::mutex> lock(mu_);
    unsolicited_ = std::move(handler);
  }

  // ---- used by the reply handlers ----

  // A server->client request from a member gets a fleet-wide id.
  Json MapServerRequest(const std::shared_ptr<Upstream>& up, const Json& message) {
    Json mapped = message;
    std::lock_guard<std::mutex> lock(mu_);
    const std::string id = kFleetIdPrefix + std::to_string(next_server_request_++);
    server_requests_[id] = {up, message["id"]};
    mapped["id"] = id;
    return mapped;
  }

  // notifications/cancelled for a server->client request names the member's id: give the fleet's.
  Json MapCancelled(const std::shared_ptr<Upstream>& up, const Json& message) {
    if (message.value("method", "") != "notifications/cancelled") return message;
    const Json original = message.value("params", Json::object()).value("requestId", Json());
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [fleet_id, entry] : server_requests_) {
      if (entry.first.lock() == up && entry.second == original) {
        Json mapped = message;
        const std::string id = fleet_id;
        mapped["params"]["requestId"] = id;
        server_requests_.erase(id);  // withdrawn: a late answer is dropped
        return mapped;
      }
    }
    return message;
  }

  Json FinishForwarded(RequestHandle outer, size_t slot, const Json& response) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.erase(outer);
    }
    if (!response.contains("error") || !response["error"].is_object()) return response;
    const int code = response["error"].value("code", 0);
    if (code != mcp::kConnectionClosed && code != mcp::kRequestTimeout && code != mcp::kInternalError) return response;
    Json named = response;
    named["error"]["message"] = "upstream " + slots_[slot]->cfg.name + ": " + ErrorText(response);
    if (code == mcp::kConnectionClosed) ProbeSoon();
    return named;
  }

 private:

  class MemberReply final : public ReplyHandler {
   public:
    MemberReply(std::weak_ptr<Impl> impl, size_t slot, RequestHandle outer, std::shared_ptr<Upstream> up,
                std::shared_ptr<ReplyHandler> handler)
        : impl_(std::move(impl)), slot_(slot), outer_(outer), up_(std::move(up)), handler_(std::move(handler)) {}
    void OnRelated(const Json& message) override {
      auto impl = impl_.lock();
      if (impl && message.contains("method") && message.contains("id")) {
        handler_->OnRelated(impl->MapServerRequest(up_, message));
      } else {
        handler_->OnRelated(impl ? impl->MapCancelled(up_, message) : message);
      }
    }
    void OnResponse(const Json& response) override {
      auto impl = impl_.lock();
      handler_->OnResponse(impl ? impl->FinishForwarded(outer_, slot_, response) : response);
    }
    std::string Owner() const override { return handler_->Owner(); }

   private:
    std::weak_ptr<Impl> impl_;
    size_t slot_;
    RequestHandle outer_;
    std::shared_ptr<Upstream> up_;
    std::shared_ptr<ReplyHandler> handler_;
  };

  // One merged list: every live member's pages, answered once (all done or list_timeout_ms).
  struct Aggregation {
    std::string method;
    Json id;
    std::shared_ptr<ReplyHandler> handler;  // null: internal (done)
    std::function<void(const Json&, std::vector<std::string>)> done;
    std::mutex mu;
    bool finished = false;                       // guarded by mu
    size_t remaining = 0;                        // guarded by mu
    std::vector<std::optional<Json>> items;      // guarded by mu; per slot, set when complete
    std::vector<std::string> errors;             // guarded by mu
    std::vector<std::pair<std::shared_ptr<Upstream>, RequestHandle>> inflight;  // guarded by mu
  };

  class PageReply final : public ReplyHandler {
   public:
    PageReply(std::weak_ptr<Impl> impl, std::shared_ptr<Aggregation> agg, size_t slot, std::shared_ptr<Upstream> up,
              Json items, int page)
        : impl_(std::move(impl)), agg_(std::move(agg)), slot_(slot), up_(std::move(up)), items_(std::move(items)),
          page_(page) {}
    void OnRelated(const Json&) override {}
    void OnResponse(const Json& response) override {
      auto impl = impl_.lock();
      if (!impl) return;
      impl->OnPage(agg_, slot_, up_, std::move(items_), page_, response);
    }

   private:
    std::weak_ptr<Impl> impl_;
    std::shared_ptr<Aggregation> agg_;
    size_t slot_;
    std::shared_ptr<Upstream> up_;
    Json items_;
    int page_;
  };

  RequestHandle Forward(size_t i, const Json& request, std::shared_ptr<ReplyHandler> handler) {
    const Json id = request.contains("id") ? request["id"] : Json(nullptr);
    std::shared_ptr<Upstream> up;
    RequestHandle outer = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      up = slots_[i]->up;
      if (up && slots_[i]->healthy) {
        outer = next_handle_++;
        pending_[outer] = {up, 0, false};
      }
    }
    if (!up || outer == 0) {
      std::string why;
      {
        std::lock_guard<std::mutex> lock(mu_);
        why = slots_[i]->last_error;
      }
      handler->OnResponse(mcp::MakeError(id, mcp::kConnectionClosed,
                                         "upstream " + slots_[i]->cfg.name + " is not available" +
                                             (why.empty() ? "" : ": " + why) + "; other upstreams are unaffected"));
      return 0;
    }
    metrics::GlobalMetrics().upstream_requests_total.Inc(slots_[i]->cfg.name);
    auto reply = std::make_shared<MemberReply>(weak_from_this(), i, outer, up, std::move(handler));
    const RequestHandle inner = up->Send(request, reply);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(outer);
    if (it != pending_.end()) {  // else already answered
      it->second.inner = inner;
      it->second.sent = true;
    }
    return outer;
  }

  RequestHandle ForwardByUri(const std::string& uri, const Json& request, std::shared_ptr<ReplyHandler> handler) {
    int target = -1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < slots_.size() && target < 0; ++i) {
        if (slots_[i]->uris.count(uri)) target = static_cast<int>(i);
      }
      size_t best = 0;  // the longest template stem the URI starts with
      for (size_t i = 0; target < 0 && i < slots_.size(); ++i) {
        for (const auto& stem : slots_[i]->template_stems) {
          if (!stem.empty() && uri.rfind(stem, 0) == 0 && stem.size() > best) best = stem.size();
        }
      }
      for (size_t i = 0; target < 0 && best > 0 && i < slots_.size(); ++i) {
        for (const auto& stem : slots_[i]->template_stems) {
          if (stem.size() == best && uri.rfind(stem, 0) == 0) target = static_cast<int>(i);
        }
      }
      if (target < 0) {
        int with_resources = -1;
        size_t count = 0;
        for (size_t i = 0; i < slots_.size(); ++i) {
          if (slots_[i]->init.is_object() && Capabilities(*slots_[i]).contains("resources")) {
            with_resources = static_cast<int>(i);
            ++count;
          }
        }
        if (count == 1) target = with_resources;
      }
    }
    if (target < 0) {
      const Json id = request.contains("id") ? request["id"] : Json(nullptr);
      handler->OnResponse(mcp::MakeError(id, mcp::kInvalidParams,
                                         "no upstream listed the resource " + uri + " (list resources first)"));
      return 0;
    }
    return Forward(static_cast<size_t>(target), request, std::move(handler));
  }

  void FanOutSetLevel(const Json& request, std::shared_ptr<ReplyHandler> handler) {
    // Every member gets the level; the agent is answered at once (a member refusing it only logs).
    struct Quiet final : ReplyHandler {
      explicit Quiet(std::string name) : name(std::move(name)) {}
      void OnRelated(const Json&) override {}
      void OnResponse(const Json& r) override {
        if (r.contains("error")) log::Warn("upstream refused logging/setLevel", {{"upstream", name}, {"error", ErrorText(r)}});
      }
      std::string name;
    };
    std::vector<std::pair<std::string, std::shared_ptr<Upstream>>> live;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& s : slots_) {
        if (s->up && s->healthy && Capabilities(*s).contains("logging")) {
          live.emplace_back(s->cfg.name, s->up);
        }
      }
    }
    for (auto& [name, up] : live) up->Send(request, std::make_shared<Quiet>(name));
    handler->OnResponse(mcp::MakeResult(request.contains("id") ? request["id"] : Json(nullptr), Json::object()));
  }

  std::vector<std::shared_ptr<Upstream>> LiveMembers() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<Upstream>> out;
    for (const auto& s : slots_) {
      if (s->up) out.push_back(s->up);
    }
    return out;
  }

  void Aggregate(const std::string& method, const Json& id, std::shared_ptr<ReplyHandler> handler,
                 std::function<void(const Json&, std::vector<std::string>)> done) {
    const ListMethod* list = FindList(method);
    auto agg = std::make_shared<Aggregation>();
    agg->method = method;
    agg->id = id;
    agg->handler = std::move(handler);
    agg->done = std::move(done);
    agg->items.resize(slots_.size());
    std::vector<std::pair<size_t, std::shared_ptr<Upstream>>> targets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < slots_.size(); ++i) {
        const Slot& s = *slots_[i];
        if (!s.up || !s.healthy) continue;
        if (!Capabilities(s).contains(list->capability)) continue;
        targets.emplace_back(i, s.up);
      }
    }
    {
      std::lock_guard<std::mutex> lock(agg->mu);
      agg->remaining = targets.size();
    }
    if (targets.empty()) {
      Complete(agg);
      return;
    }
    // The timer keeps the merge alive: a member that dropped our handler must not leave the agent
    // without an answer.
    AddTimer(SteadyClock::now() + std::chrono::milliseconds(options_.list_timeout_ms), [this, agg] { Expire(agg); });
    for (auto& [i, up] : targets) RequestPage(agg, i, up, Json::array(), 0, nullptr);
  }

  void RequestPage(const std::shared_ptr<Aggregation>& agg, size_t i, const std::shared_ptr<Upstream>& up, Json items,
                   int page, const Json& cursor) {
    Json params = Json::object();
    if (!cursor.is_null()) params["cursor"] = cursor;
    Json request = mcp::MakeRequest("hg-fleet-list-" + std::to_string(i) + "-" + std::to_string(page), agg->method,
                                    std::move(params));
    auto reply = std::make_shared<PageReply>(weak_from_this(), agg, i, up, std::move(items), page);
    const RequestHandle h = up->Send(request, reply);
    std::lock_guard<std::mutex> lock(agg->mu);
    agg->inflight.emplace_back(up, h);
  }

  void OnPage(const std::shared_ptr<Aggregation>& agg, size_t i, const std::shared_ptr<Upstream>& up, Json items,
              int page, const Json& response) {
    const ListMethod* list = FindList(agg->method);
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(agg->mu);
      if (agg->finished) return;
      if (response.contains("error") || !response.contains("result") || !response["result"].is_object()) {
        agg->errors.push_back(slots_[i]->cfg.name + ": " +
                              (response.contains("error") ? ErrorText(response) : std::string("no result")));
        last = true;
      } else {
        const Json& result = response["result"];
        if (result.contains(list->key) && result[list->key].is_array()) {
          for (const auto& item : result[list->key]) items.push_back(item);
        }
        const Json cursor = result.value("nextCursor", Json(nullptr));
        if (cursor.is_string() && !cursor.get<std::string>().empty() && page + 1 < kMaxPages) {
          // Next page: outside the lock below.
        } else {
          agg->items[i] = std::move(items);
          last = true;
        }
      }
      if (last) --agg->remaining;
    }
    if (!last) {
      RequestPage(agg, i, up, std::move(items), page + 1, response["result"]["nextCursor"]);
      return;
    }
    bool complete = false;
    {
      std::lock_guard<std::mutex> lock(agg->mu);
      complete = agg->remaining == 0;
    }
    if (complete) Complete(agg);
  }

  void Expire(const std::shared_ptr<Aggregation>& agg) {
    std::vector<std::pair<std::shared_ptr<Upstream>, RequestHandle>> cancel;
    {
      std::lock_guard<std::mutex> lock(agg->mu);
      if (agg->finished) return;
      for (size_t i = 0; i < agg->items.size(); ++i) {
        if (!agg->items[i]) {
          agg->errors.push_back(slots_[i]->cfg.name + ": did not answer " + agg->method + " within " +
                                std::to_string(options_.list_timeout_ms) + " ms");
        }
      }
      cancel = agg->inflight;
    }
    Complete(agg);
    for (auto& [up, h] : cancel) up->Cancel(h, "holdgate merged the list without this upstream");
  }

  // Merges what arrived and answers (once).
  void Complete(const std::shared_ptr<Aggregation>& agg) {
    const ListMethod* list = FindList(agg->method);
    std::vector<std::optional<Json>> items;
    std::vector<std::string> errors;
    {
      std::lock_guard<std::mutex> lock(agg->mu);
      if (agg->finished) return;
      agg->finished = true;
      items = std::move(agg->items);
      errors = agg->errors;
    }
    Json merged = Json::array();
    std::vector<std::string> collisions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::unordered_map<std::string, std::string> seen;  // name -> member
      for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i]) continue;
        Slot& s = *slots_[i];
        if (agg->method == "resources/list") s.uris.clear();
        if (agg->method == "resources/templates/list") s.template_stems.clear();
        for (Json item : *items[i]) {
          if (!item.is_object()) continue;
          if (list->prefixed) {
            const std::string name = s.cfg.prefix + item.value("name", "");
            const int owner = OwnerIndex(name);
            if (owner != static_cast<int>(i)) {
              collisions.push_back("\"" + name + "\" of upstream " + s.cfg.name + " begins with the prefix \"" +
                                   slots_[owner]->cfg.prefix + "\" of upstream " + slots_[owner]->cfg.name);
              continue;
            }
            if (auto it = seen.find(name); it != seen.end()) {
              collisions.push_back("\"" + name + "\" is listed by upstream " + it->second + " and by upstream " +
                                   s.cfg.name);
              continue;
            }
            seen[name] = s.cfg.name;
            item["name"] = name;
          } else if (agg->method == "resources/list") {
            s.uris.insert(item.value("uri", ""));
          } else {
            s.template_stems.push_back(TemplateStem(item.value("uriTemplate", "")));
          }
          merged.push_back(std::move(item));
        }
      }
    }
    for (const auto& c : collisions) log::Error("upstream name collision: left out of the list", {{"collision", c}});
    for (const auto& e : errors) {
      log::Warn("an upstream is missing from a merged list", {{"method", agg->method}, {"error", e}});
    }
    if (agg->done) agg->done(merged, collisions);
    if (agg->handler) agg->handler->OnResponse(mcp::MakeResult(agg->id, {{list->key, std::move(merged)}}));
  }

  // ---- members: start, probe, rebuild ----

  Status StartMember(size_t i) {
    Slot& s = *slots_[i];
    std::shared_ptr<Upstream> up = options_.factory(s.cfg.options);
    std::weak_ptr<Impl> weak = weak_from_this();
    std::weak_ptr<Upstream> weak_up = up;
    up->SetUnsolicitedHandler([weak, weak_up](const Json& message) {
      auto impl = weak.lock();
      if (impl) impl->OnUnsolicited(weak_up.lock(), message);
    });
    Status st = up->Start();
    std::lock_guard<std::mutex> lock(mu_);
    if (!st.ok()) {
      s.last_error = st.message();
      metrics::GlobalMetrics().upstream_down_total.Inc(s.cfg.name);
      return st;
    }
    if (stopped_) {
      // Stop() ran meanwhile: do not keep a member nobody will stop.
      std::thread([up] { up->Stop(); }).detach();
      return Unavailable("stopping");
    }
    s.up = up;
    s.healthy = true;
    s.failures = 0;
    s.last_error.clear();
    s.era = up->ProtocolEra();
    s.init = up->InitializeResult();
    log::Info("upstream started", {{"upstream", s.cfg.name}, {"prefix", s.cfg.prefix}, {"era", s.era}});
    return Status::Ok();
  }

  void OnUnsolicited(const std::shared_ptr<Upstream>& up, const Json& message) {
    if (!up) return;
    Json out = message;
    if (message.contains("method") && message.contains("id")) out = MapServerRequest(up, message);
    else out = MapCancelled(up, message);
    std::function<void(const Json&)> h;
    {
      std::lock_guard<std::mutex> lock(mu_);
      h = unsolicited_;
    }
    if (h) h(out);
  }

  void EmitListChanged() {
    std::function<void(const Json&)> h;
    {
      std::lock_guard<std::mutex> lock(mu_);
      h = unsolicited_;
    }
    if (!h) return;
    for (const char* m : {"notifications/tools/list_changed", "notifications/prompts/list_changed",
                          "notifications/resources/list_changed"}) {
      h(mcp::MakeNotification(m, Json::object()));
    }
  }

  void ProbeSoon() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      probe_now_ = true;
    }
    cv_.notify_all();
  }

  // A tools/list (or, without tools, a ping) answered within the probe timeout.
  Status Probe(const std::shared_ptr<Upstream>& up, bool has_tools) {
    struct Waiter final : ReplyHandler {
      void OnRelated(const Json&) override {}
      void OnResponse(const Json& r) override {
        std::lock_guard<std::mutex> lock(mu);
        if (!done) promise.set_value(r);
        done = true;
      }
      std::mutex mu;
      bool done = false;
      std::promise<Json> promise;
    };
    auto waiter = std::make_shared<Waiter>();
    auto future = waiter->promise.get_future();
    const RequestHandle h =
        up->Send(mcp::MakeRequest("hg-fleet-probe", has_tools ? "tools/list" : "ping", Json::object()), waiter);
    const int64_t timeout_ms = std::min<int64_t>(options_.list_timeout_ms, 5'000);
    if (future.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) {
      up->Cancel(h, "health probe timed out");
      return Unavailable("did not answer a health probe within " + std::to_string(timeout_ms) + " ms");
    }
    Json r = future.get();
    if (r.contains("error")) return Unavailable(ErrorText(r));
    return Status::Ok();
  }

  void RunHealth() {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(options_.health_interval_ms),
                     [this] { return stopped_ || probe_now_; });
        if (stopped_) return;
        probe_now_ = false;
      }
      bool changed = false;
      for (size_t i = 0; i < slots_.size(); ++i) {
        std::shared_ptr<Upstream> up;
        bool has_tools = false;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (stopped_) return;
          up = slots_[i]->up;
          has_tools = Capabilities(*slots_[i]).contains("tools");
        }
        if (!up) {
          if (StartMember(i).ok()) {
            changed = true;
          }
          continue;
        }
        Status st = Probe(up, has_tools);
        std::shared_ptr<Upstream> retire;
        {
          std::lock_guard<std::mutex> lock(mu_);
          Slot& s = *slots_[i];
          if (s.up != up) continue;
          if (st.ok()) {
            s.failures = 0;
            s.last_error.clear();
            if (!s.healthy) {
              s.healthy = true;
              changed = true;
              log::Info("upstream is back", {{"upstream", s.cfg.name}});
            }
            continue;
          }
          ++s.failures;
          s.last_error = st.message();
          if (s.healthy) {
            s.healthy = false;
            changed = true;
            metrics::GlobalMetrics().upstream_down_total.Inc(s.cfg.name);
            metrics::GlobalMetrics().upstream_errors_total.Inc();
            log::Warn("upstream is down: its tools are left out until it answers again",
                      {{"upstream", s.cfg.name}, {"error", st.message()}});
          }
          if (s.failures >= options_.replace_after) {
            retire = s.up;
            s.up.reset();
          }
        }
        if (retire) {
          log::Warn("upstream is restarted", {{"upstream", slots_[i]->cfg.name}});
          retire->Stop();
        }
      }
      if (changed) EmitListChanged();
    }
  }

  // ---- timers ----

  void AddTimer(SteadyClock::time_point when, std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(timer_mu_);
      timers_.emplace(when, std::move(fn));
    }
    timer_cv_.notify_all();
  }

  void RunTimers() {
    std::unique_lock<std::mutex> lock(timer_mu_);
    while (true) {
      {
        std::lock_guard<std::mutex> stop_lock(mu_);
        if (stopped_) return;
      }
      if (timers_.empty()) {
        timer_cv_.wait_for(lock, std::chrono::milliseconds(200));
        continue;
      }
      auto first = timers_.begin();
      if (first->first > SteadyClock::now()) {
        timer_cv_.wait_until(lock, std::min(first->first, SteadyClock::now() + std::chrono::milliseconds(200)));
        continue;
      }
      auto fn = std::move(first->second);
      timers_.erase(first);
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  FleetOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;  // the vector is constant after construction

  mutable std::mutex mu_;
  std::condition_variable cv_;  // wakes the health thread
  bool stopped_ = false;        // guarded by mu_
  bool probe_now_ = false;      // guarded by mu_
  std::function<void(const Json&)> unsolicited_;                  // guarded by mu_
  RequestHandle next_handle_ = 1;                                 // guarded by mu_
  std::unordered_map<RequestHandle, Pending> pending_;            // guarded by mu_
  uint64_t next_server_request_ = 1;                              // guarded by mu_
  std::unordered_map<std::string, std::pair<std::weak_ptr<Upstream>, Json>> server_requests_;  // guarded by mu_

  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  std::multimap<SteadyClock::time_point, std::function<void()>> timers_;  // guarded by timer_mu_

  std::thread health_;
  std::thread timer_;
};

Fleet::Fleet(std::vector<FleetMember> members, FleetOptions options)
    : impl_(std::make_shared<Impl>(std::move(members), std::move(options))) {}
Fleet::~Fleet() { impl_->Stop(); }

std::string Fleet::OwnerOf(const std::string& name) const {
  const int i = impl_->OwnerIndex(name);
  return i < 0 ? "" : impl_->Members()[static_cast<size_t>(i)].name;
}
std::vector<FleetMemberState> Fleet::Members() const { return impl_->Members(); }
Status Fleet::Start() { return impl_->Start(); }
void Fleet::Stop() { impl_->Stop(); }
Json Fleet::InitializeResult() const { return impl_->InitializeResult(); }
RequestHandle Fleet::Send(const Json& request, std::shared_ptr<ReplyHandler> handler) {
  return impl_->Send(request, std::move(handler));
}
void Fleet::Cancel(RequestHandle handle, const std::string& reason) { impl_->Cancel(handle, reason); }
void Fleet::Notify(const Json& notification) { impl_->Notify(notification); }
void Fleet::Respond(const Json& response) { impl_->Respond(response); }
void Fleet::SetUnsolicitedHandler(std::function<void(const Json&)> handler) {
  impl_->SetUnsolicited(std::move(handler));
}

}  // namespace holdgate::upstream
