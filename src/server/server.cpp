#include "server/server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/sd_notify.h"
#include "common/upstream_names.h"
#include "gateway/gateway.h"
#include "hold/hold_coordinator.h"
#include "hold/sweeper.h"
#include "notify/notifier.h"
#include "policy/policy.h"
#include "policy/rate_limiter.h"
#include "review/decision_service.h"
#include "review/review_server.h"
#include "server/config_check.h"
#include "server/front_dispatcher.h"
#include "server/policy_admin.h"
#include "server/readiness.h"
#include "server/tool_catalogue.h"
#include "store/audit_checkpoint.h"
#include "store/store.h"
#include "transport/http_server.h"
#include "transport/stdio_server.h"
#include "upstream/fleet.h"
#include "upstream/session_pool.h"
#include "upstream/upstream.h"

namespace holdgate::server {
namespace {

#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#endif

// With no reviewer key configured, a random HS256 secret is kept beside the database, so the
// embedded defaults work and `holdgate token` can mint tokens for the same secret.
Status EnsureReviewerSecret(const Config& c) {
  if (c.review.contains("auth") || std::getenv("HOLDGATE_JWT_SECRET")) return Status::Ok();
  if (store::IsPostgresUrl(c.db_path)) {
    // Replicas on one PostgreSQL database must accept each other's reviewer tokens.
    return InvalidArgument("with a PostgreSQL database (several replicas), every replica needs the same reviewer "
                           "key: set review.auth in the config or HOLDGATE_JWT_SECRET");
  }
  std::filesystem::path dir = std::filesystem::path(c.db_path).parent_path();
  std::filesystem::path file = (dir.empty() ? std::filesystem::path(".") : dir) / "reviewer-secret";
  std::string secret;
  {
    std::ifstream in(file);
    std::getline(in, secret);
  }
  if (secret.size() < 32) {
    secret = RandomHex(32);
    umask(077);
    std::ofstream out(file, std::ios::trunc);
    out << secret << "\n";
    if (!out) return IoError("cannot write " + file.string());
    log::Info("generated a reviewer token secret", {{"file", file.string()}});
  }
  setenv("HOLDGATE_JWT_SECRET", secret.c_str(), 1);
  setenv("HOLDGATE_JWT_SECRET_FILE", file.c_str(), 1);
  return Status::Ok();
}

// Per-process tuning for many held connections: with thousands of threads parked on condition
// variables, the kernel's default private futex hash (16 slots per thread group on 6.x kernels
// that have one) makes every wake-up scan long chains; 16,384 slots keep them short. Harmless
// where the kernel has no such setting.
void TuneForManyHolds() { prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, 16384, 0, 0); }

int64_t FileMtime(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

class Runner {
 public:
  explicit Runner(Config config) : config_(std::move(config)) {}

  int Run(bool stdio_mode) {
    log::Level level;
    if (!log::ParseLevel(config_.log_level, &level)) {
      std::cerr << "holdgate: unknown log level " << config_.log_level << "\n";
      return 2;
    }
    log::SetLevel(level);
    if (config_.upstreams.empty() && config_.upstream_cmd.empty() == config_.upstream_url.empty()) {
      std::cerr << "holdgate: give exactly one of --upstream-cmd or --upstream-url\n";
      return 2;
    }
    // Signals are taken synchronously by the control loop; every thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    TuneForManyHolds();

    Status s = StartAll(stdio_mode);
    if (!s.ok()) {
      log::Error("holdgate could not start", {{"error", s.ToString()}});
      std::cerr << "holdgate: " << s.message() << "\n";
      StopAll();
      return 1;
    }
    if (stdio_mode) {
      std::thread control([&] { ControlLoop(signals); });
      stdio_->Run();  // until the agent closes stdin
      RequestStop();
      control.join();
    } else {
      ControlLoop(signals);
    }
    StopAll();
    log::Info("holdgate stopped", {});
    return 0;
  }

 private:
  Status StartAll(bool stdio_mode) {
    if (!store::IsPostgresUrl(config_.db_path)) {
      std::filesystem::path db_dir = std::filesystem::path(config_.db_path).parent_path();
      if (!db_dir.empty()) std::filesystem::create_directories(db_dir);
    }
    store::StoreOptions store_options;
    store_options.pg_pool_size = config_.db_pool_size;
    store_options.executing_lease_ms = config_.db_executing_lease_ms;
    store_options.feed_poll_ms = config_.db_change_poll_ms;
    auto opened = store::Store::Open(config_.db_path, clock_, store_options);
    if (!opened.ok()) return opened.status();
    store_ = std::move(opened.value());

    policy_admin_ = std::make_unique<PolicyAdmin>(config_.policy_path, store_.get(), clock_);
    std::shared_ptr<const policy::Policy> pol;
    if (!config_.policy_path.empty()) {
      auto loaded = policy_admin_->LoadInitial();
      if (!loaded.ok()) return InvalidArgument("policy " + loaded.status().message());
      pol = loaded.value();
      policy_mtime_ = FileMtime(config_.policy_path);
    } else {
      log::Warn("no policy given: every call is allowed", {});
    }
    if (!config_.upstreams.empty()) {
      Status routes = LoadUpstreamPolicies();
      if (!routes.ok()) return routes;
    }
    auto recovered = store_->RecoverAfterCrash();
    if (recovered.ok() && recovered.value() > 0) {
      log::Warn("approvals left executing by a crash were marked failed (not re-run)", {{"count", recovered.value()}});
    }
    // The change feed is the only way a decision reaches a held call, whoever made it.
    holds_ = std::make_unique<hold::HoldCoordinator>();
    store_->AddListener([this](const store::ChangeEvent& e) { holds_->OnApprovalChanged(e.approval); });
    sweeper_ = std::make_unique<hold::Sweeper>(*store_, *holds_, clock_);
    sweeper_->Start();
    decisions_ = std::make_unique<review::DecisionService>(*store_);
    limiter_ = std::make_unique<policy::RateLimiter>(clock_);
    // On PostgreSQL every replica counts against the same limits.
    limiter_->SetShared(store_->RateCounters());
    AuditStartup(pol);
    // audit.checkpoint: periodic HMAC-signed heads, in the chain, the checkpoint file and stderr.
    auto checkpoint = store::ParseAuditCheckpointConfig(
        config_.raw.is_object() && config_.raw.contains("audit") ? config_.raw["audit"] : Json::object(), ConfigDir());
    if (!checkpoint.ok()) return checkpoint.status();
    if (checkpoint->enabled) {
      if (!checkpoint->file.empty()) {
        // Refuse to start rather than find out an hour later that the file cannot be written.
        const int fd = ::open(checkpoint->file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
          return InvalidArgument("config audit.checkpoint.file: cannot open " + checkpoint->file + " for appending: " +
                                 std::strerror(errno));
        }
        ::close(fd);
      } else {
        log::Warn("audit checkpoints go to the chain and to info-level log lines only: set audit.checkpoint.file "
                  "so that a cut-off end of the chain can be detected",
                  {{"config", "audit.checkpoint.file"}});
      }
      checkpointer_ = std::make_unique<store::AuditCheckpointer>(*store_, clock_, *checkpoint);
      checkpointer_->Start();
      log::Info("audit checkpoints enabled", {{"every_ms", checkpoint->every_ms},
                                              {"key_id", store::AuditCheckpointKeyId(checkpoint->key)},
                                              {"file", checkpoint->file}});
    }
    auto notifier = notify::Notifier::Create(config_.notify, *store_, clock_, config_.public_url, ConfigDir());
    if (!notifier.ok()) return notifier.status();
    notifier_ = std::move(notifier.value());
    store_->SetOutboxFactory(notifier_->OutboxFactory());

    Status s = EnsureReviewerSecret(config_);
    if (!s.ok()) return s;
    auto review_cfg = review::ParseReviewConfig(config_.review, ConfigDir());
    if (!review_cfg.ok()) return review_cfg.status();
    std::string review_host;
    int review_port = 0;
    if (!SplitHostPort(config_.review_listen, &review_host, &review_port)) {
      return InvalidArgument("--review-listen must be HOST:PORT, got " + config_.review_listen);
    }
    review_cfg.value().host = review_host;
    review_cfg.value().port = review_port;
    if (!config_.public_url.empty()) review_cfg.value().public_base_url = config_.public_url;
    auto review = review::ReviewServer::Create(review_cfg.value(), *store_, *decisions_, clock_);
    if (!review.ok()) return review.status();
    review_ = std::move(review.value());
    review_->AddPlainRoute("POST", "/slack/actions", notifier_->SlackActionsHandler(*decisions_));
    notify::Notifier* live_notifier = notifier_.get();
    review::EndpointControl control;
    control.list = [live_notifier] {
      std::vector<review::EndpointView> out;
      for (const auto& e : live_notifier->Endpoints()) out.push_back({e.target, e.disabled, e.why});
      return out;
    };
    control.enable = [live_notifier](const std::string& target) { return live_notifier->EnableEndpoint(target); };
    review_->SetEndpointControl(std::move(control));
    review_->SetReadinessCheck([this] { return Readiness(); });
    catalogue_ = std::make_unique<ToolCatalogue>(ToolCatalogueOptions{}, [this] { return Effective(); },
                                                 store_.get(), clock_);
    ToolCatalogue* catalogue = catalogue_.get();
    review_->SetToolCatalogue([catalogue](bool refresh) { return catalogue->Tools(refresh); });
    if (!config_.upstreams.empty()) policy_admin_->SetCheckPolicy([this] { return Effective(); });
    review_->SetPolicyControl(policy_admin_->Control(
        [this](std::shared_ptr<const policy::Policy> p) { ApplyPolicy(std::move(p)); },
        [catalogue](const std::string& tool) { return catalogue->Annotations(tool); }));
    for (size_t i = 0; i < upstream_admins_.size(); ++i) {
      if (!upstream_admins_[i]) continue;
      review_->SetPolicyControl(upstream_admins_[i]->Control(
          UpstreamApply(i), [catalogue](const std::string& tool) { return catalogue->Annotations(tool); }),
          config_.upstreams[i].name);
    }
    s = review_->Start();
    if (!s.ok()) return s;
    notifier_->SetReviewBaseUrl(review_->base_url());
    s = notifier_->Start();
    if (!s.ok()) return s;

    upstream::Options up;
    up.command = config_.upstream_cmd;
    up.url = config_.upstream_url;
    up.client_capabilities = config_.upstream_client_capabilities;
    up.request_timeout_ms = config_.upstream_request_timeout_ms;
    if (!config_.upstreams.empty()) {
      // Several servers: one Fleet stands for them all (upstream/fleet.h); the gateway sees one upstream.
      const std::vector<upstream::FleetMember> members = FleetMembers(up);
      upstream::FleetOptions fleet_options;
      fleet_options.list_timeout_ms = config_.upstream_list_timeout_ms;
      fleet_options.health_interval_ms = config_.upstream_health_interval_ms;
      auto fleet = std::make_unique<upstream::Fleet>(members, fleet_options);
      fleet_ = fleet.get();
      upstream_ = std::move(fleet);
    } else {
      upstream_ = up.command.empty() ? upstream::MakeHttpUpstream(up) : upstream::MakeStdioUpstream(up);
    }
    s = upstream_->Start();
    if (!s.ok()) return Status(s.code(), "upstream: " + s.message());
    catalogue_->SetUpstream(upstream_.get());
    if (fleet_ != nullptr) {
      upstream::Fleet* fleet = fleet_;
      catalogue_->SetGrouping([fleet] {
        std::vector<CatalogueGroup> groups;
        for (const auto& m : fleet->Members()) groups.push_back({m.name, m.prefix, m.up, m.last_error});
        return groups;
      }, [fleet](const std::string& tool) { return fleet->OwnerOf(tool); });
    }
    // The session above is the shared one (older agents, the readiness probe, and everyone in
    // "shared" mode); per_agent sessions come from the pool.
    if (config_.UpstreamPerAgent()) {
      if (fleet_ != nullptr) {
        // An agent's own sessions: a Fleet of its own, each member initialized with the agent's hello.
        const std::vector<upstream::FleetMember> members = FleetMembers(up);
        sessions_ = std::make_unique<upstream::SessionPool>(
            up, config_.UpstreamMaxSessions(),
            [members, list_timeout = config_.upstream_list_timeout_ms,
             health = config_.upstream_health_interval_ms](const upstream::Options& agent) -> std::unique_ptr<upstream::Upstream> {
              std::vector<upstream::FleetMember> own = members;
              for (auto& m : own) {
                m.options.client_info = agent.client_info;
                m.options.client_capabilities = agent.client_capabilities;
                m.options.protocol_version = agent.protocol_version;
                m.options.keep_caller_ids = agent.keep_caller_ids;
              }
              upstream::FleetOptions fo;
              fo.list_timeout_ms = list_timeout;
              fo.health_interval_ms = std::max<int64_t>(health, 15'000);  // many agents: probe less often
              return std::make_unique<upstream::Fleet>(std::move(own), fo);
            });
      } else {
        sessions_ = std::make_unique<upstream::SessionPool>(up, config_.UpstreamMaxSessions());
      }
    }
    log::Info("upstream sessions", {{"mode", config_.UpstreamPerAgent() ? "per_agent" : "shared"},
                                    {"max_sessions", config_.UpstreamPerAgent() ? config_.UpstreamMaxSessions() : 1}});

    gateway::GatewayOptions gopts;
    gopts.review_url = review_->base_url();
    gopts.default_hold_ms = config_.default_hold_ms;
    gopts.progress_interval_ms = config_.progress_interval_ms;
    gopts.audit_all_calls = config_.audit_all_calls;
    gopts.max_pending_per_principal = config_.max_pending_per_principal;
    gateway_ = std::make_unique<gateway::Gateway>(gopts, *upstream_, store_.get(), holds_.get(), limiter_.get(), clock_);
    if (sessions_) gateway_->UsePerAgentSessions(sessions_.get());
    gateway_->Start();
    {
      // The review listener already serves reloads: publish the gateway with the policy loaded
      // last, so a reload made before this point is not lost.
      std::lock_guard<std::mutex> lock(apply_mu_);
      gateway_->SetPolicy(EffectiveLocked(policy_admin_->Current()));
      live_gateway_ = gateway_.get();
    }
    front_ = std::make_unique<FrontDispatcher>(*gateway_);  // trace context and drain, before the gateway

    std::string mcp_url;
    if (stdio_mode) {
      stdio_ = std::make_unique<transport::StdioServer>(transport::StdioServerOptions{}, *front_);
    } else {
      transport::HttpServerOptions hopts;
      if (!SplitHostPort(config_.mcp_listen, &hopts.host, &hopts.port)) {
        return InvalidArgument("--mcp-listen must be HOST:PORT, got " + config_.mcp_listen);
      }
      hopts.path = config_.mcp_path;
      hopts.allowed_origins = config_.allowed_origins;
      hopts.allowed_hosts = config_.allowed_hosts;
      hopts.max_body_bytes = config_.max_body_bytes;
      hopts.limits = config_.mcp_limits;
      hopts.session_idle_timeout_ms = config_.session_idle_timeout_ms;
      hopts.max_sessions_per_principal = config_.max_sessions_per_principal;
      hopts.clock = &clock_;
      for (const auto& k : config_.agent_keys) hopts.api_keys.push_back({k.name, k.principal, k.sha256});
      http_ = std::make_unique<transport::HttpServer>(hopts, *front_);
      s = http_->Bind();
      if (!s.ok()) return s;
      http_->Start();
      mcp_url = "http://" + (hopts.host.find(':') != std::string::npos ? "[" + hopts.host + "]" : hopts.host) + ":" +
                std::to_string(http_->port()) + hopts.path;
    }
    Json ready = {{"review", review_->base_url()}, {"pid", getpid()}};
    if (!mcp_url.empty()) ready["mcp"] = mcp_url;
    if (const char* f = std::getenv("HOLDGATE_JWT_SECRET_FILE")) ready["reviewer_secret_file"] = f;
    log::Info("holdgate ready", ready);
    if (!config_.ready_file.empty()) {
      std::string tmp = config_.ready_file + ".tmp";
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << DumpJson(ready) << "\n";
      }
      std::filesystem::rename(tmp, config_.ready_file);
    }
    started_.store(true);
    sdnotify::Notify("READY=1\nSTATUS=serving: agents at " + (mcp_url.empty() ? std::string("stdio") : mcp_url) +
                     ", reviewers at " + review_->base_url());
    return Status::Ok();
  }

  // The "upstreams" entries over the top-level upstream settings in `base`.
  std::vector<upstream::FleetMember> FleetMembers(const upstream::Options& base) const {
    std::vector<upstream::FleetMember> members;
    for (const UpstreamConfig& u : config_.upstreams) {
      upstream::Options o = base;
      o.command = u.command;
      o.url = u.url;
      if (u.client_capabilities.is_object()) o.client_capabilities = u.client_capabilities;
      if (u.request_timeout_ms > 0) o.request_timeout_ms = u.request_timeout_ms;
      members.push_back({u.name, u.prefix, std::move(o)});
    }
    return members;
  }

  // One PolicyAdmin per upstream with a policy file of its own (null for the others), each
  // taking the top-level policy's defaults; loads them all. An unreadable or invalid file fails
  // start-up.
  Status LoadUpstreamPolicies() {
    std::vector<UpstreamNames::Upstream> names;
    for (const UpstreamConfig& u : config_.upstreams) names.push_back({u.name, u.prefix});
    GlobalUpstreamNames().Set(std::move(names));
    PolicyAdmin* top = policy_admin_.get();
    for (size_t i = 0; i < config_.upstreams.size(); ++i) {
      const UpstreamConfig& u = config_.upstreams[i];
      policy::PolicyRoute route{u.name, u.prefix, nullptr};
      std::unique_ptr<PolicyAdmin> admin;
      if (!u.policy_path.empty()) {
        UpstreamPolicyScope scope;
        scope.name = u.name;
        scope.prefix = u.prefix;
        scope.owner = [](const std::string& tool) { return GlobalUpstreamNames().Of(tool); };
        scope.defaults = [top] { return top->Current(); };
        admin = std::make_unique<PolicyAdmin>(u.policy_path, store_.get(), clock_, std::move(scope));
        upstream_policy_mtimes_[u.policy_path] = FileMtime(u.policy_path);
        auto loaded = admin->LoadInitial();
        if (!loaded.ok()) return InvalidArgument("upstreams[" + std::to_string(i) + "].policy " + loaded.status().message());
        route.policy = loaded.value();
        store::AuditEvent ev;
        ev.type = "policy.loaded";
        ev.actor = "holdgate";
        ev.via = "system";
        ev.decision = "start";
        ev.detail = {{"upstream", u.name}, {"file", u.policy_path}, {"hash", route.policy->hash()}};
        (void)store_->AppendAudit(ev);
      }
      upstream_admins_.push_back(std::move(admin));
      std::lock_guard<std::mutex> lock(apply_mu_);
      routes_.push_back(std::move(route));
    }
    return Status::Ok();
  }

  // Re-reads upstream `i`'s policy file (a bad one keeps its previous version; audited by its
  // PolicyAdmin, naming the upstream).
  void ReloadUpstreamPolicy(size_t i, const std::string& trigger) {
    if (!upstream_admins_[i]) return;
    (void)upstream_admins_[i]->Reload("holdgate", trigger, UpstreamApply(i));
  }

  // How upstream `i`'s PolicyAdmin publishes a policy it loaded: its route, then the gateway.
  PolicyAdmin::Apply UpstreamApply(size_t i) {
    return [this, i](std::shared_ptr<const policy::Policy> p) {
      std::shared_ptr<const policy::Policy> top = policy_admin_->Current();  // before apply_mu_
      std::lock_guard<std::mutex> lock(apply_mu_);
      routes_[i].policy = std::move(p);
      if (live_gateway_) live_gateway_->SetPolicy(EffectiveLocked(std::move(top)));
    };
  }

  // The policy the gateway enforces now. Any thread; takes apply_mu_.
  std::shared_ptr<const policy::Policy> Effective() {
    std::shared_ptr<const policy::Policy> top = policy_admin_->Current();  // before apply_mu_: never both at once
    std::lock_guard<std::mutex> lock(apply_mu_);
    return EffectiveLocked(std::move(top));
  }

  // The policy the gateway and the catalogue use: with several upstreams, the top-level one
  // composed with each upstream's own. REQUIRES: apply_mu_ held.
  std::shared_ptr<const policy::Policy> EffectiveLocked(std::shared_ptr<const policy::Policy> top) const {
    if (config_.upstreams.empty()) return top;
    return policy::Policy::Compose(std::move(top), routes_);
  }

  void AuditStartup(const std::shared_ptr<const policy::Policy>& pol) {
    store::AuditEvent ev;
    ev.type = "config.started";
    ev.actor = "holdgate";
    ev.via = "system";
    ev.detail = {{"mcp_listen", config_.mcp_listen}, {"review_listen", config_.review_listen},
                 {"upstream", config_.upstream_cmd.empty() ? config_.upstream_url : config_.upstream_cmd},
                 {"upstreams", UpstreamsForAudit()},
                 {"policy", config_.policy_path}, {"policy_hash", pol ? pol->hash() : ""}};
    store_->AppendAudit(ev);
  }

  Json UpstreamsForAudit() const {
    Json out = Json::array();
    for (const UpstreamConfig& u : config_.upstreams) {
      out.push_back({{"name", u.name}, {"prefix", u.prefix}, {"target", u.command.empty() ? u.url : u.command},
                     {"policy", u.policy_path}});
    }
    return out;
  }

  std::string ConfigDir() const {
    return std::getenv("HOLDGATE_CONFIG_DIR") ? std::getenv("HOLDGATE_CONFIG_DIR") : ".";
  }

  void ReloadPolicy(const char* why) {
    for (size_t i = 0; i < upstream_admins_.size(); ++i) {
      if (upstream_admins_[i]) upstream_policy_mtimes_[config_.upstreams[i].policy_path] = FileMtime(config_.upstreams[i].policy_path);
      ReloadUpstreamPolicy(i, why);
    }
    if (config_.policy_path.empty()) return;
    (void)policy_admin_->Reload("holdgate", why, [this](std::shared_ptr<const policy::Policy> p) {
      ApplyPolicy(std::move(p));
    });
  }

  // A reloaded policy reaches the gateway once it exists (until then, the gateway takes
  // policy_admin_->Current() when it is published). Any thread.
  void ApplyPolicy(std::shared_ptr<const policy::Policy> p) {
    std::lock_guard<std::mutex> lock(apply_mu_);
    if (live_gateway_) live_gateway_->SetPolicy(EffectiveLocked(std::move(p)));
  }

  // Waits for signals; SIGHUP or a changed policy file reloads the policy.
  void ControlLoop(const sigset_t& signals) {
    while (!stop_requested_.load()) {
      struct timespec timeout = {1, 0};
      int sig = sigtimedwait(&signals, nullptr, &timeout);
      if (sig == SIGINT || sig == SIGTERM) {
        log::Info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
        if (front_) front_->Drain([this] { return static_cast<int64_t>(gateway_->open_holds()); });
        if (stdio_) stdio_->Stop();
        return;
      }
      if (sig == SIGHUP) {
        sdnotify::NotifyReloading();
        RecheckConfigOnReload(config_.source_path);
        policy_mtime_ = FileMtime(config_.policy_path);
        ReloadPolicy("SIGHUP");
        sdnotify::Notify("READY=1\nSTATUS=serving (reloaded)");
        continue;
      }
      if (!config_.policy_path.empty()) {
        int64_t m = FileMtime(config_.policy_path);
        if (m != 0 && m != policy_mtime_) {
          policy_mtime_ = m;
          ReloadPolicy("file changed");
          continue;
        }
      }
      for (size_t i = 0; i < config_.upstreams.size(); ++i) {
        const std::string& path = config_.upstreams[i].policy_path;
        if (path.empty()) continue;
        const int64_t m = FileMtime(path);
        if (m != 0 && m != upstream_policy_mtimes_[path]) {
          upstream_policy_mtimes_[path] = m;
          ReloadUpstreamPolicy(i, "file changed");
        }
      }
    }
  }

  void RequestStop() { stop_requested_.store(true); }

  // GET /readyz. Until start-up finished, not ready ("starting").
  Json Readiness() {
    if (!started_.load()) return Json{{"ready", false}, {"checks", {{"starting", true}}}};
    ReadinessSources sources;
    sources.store = store_.get();
    sources.upstream = upstream_.get();
    sources.policy_configured = !config_.policy_path.empty();
    sources.policy_loaded = [this] { return gateway_->policy() != nullptr; };
    sources.draining = [this] { return front_->draining(); };
    Json out = CheckReadiness(sources);
    if (fleet_ != nullptr) {
      // Several upstreams: ready while one is up (the fleet answers the ping); each one's state beside it.
      Json each = Json::object();
      for (const auto& m : fleet_->Members()) each[m.name] = m.up ? "ok" : (m.last_error.empty() ? "down" : m.last_error);
      out["checks"]["upstreams"] = each;
    }
    return out;
  }

  void StopAll() {
    if (gateway_) gateway_->Shutdown();
    if (http_) http_->Stop();
    if (review_) review_->Stop();
    if (sweeper_) sweeper_->Stop();
    if (notifier_) {
      notifier_->Stop();
      store_->SetOutboxFactory(nullptr);
    }
    if (sessions_) sessions_->Stop();  // after the transports: no agent session opens one any more
    if (catalogue_) catalogue_->SetUpstream(nullptr);
    if (upstream_) upstream_->Stop();
    if (checkpointer_) checkpointer_->Stop();  // a last checkpoint over the final head
  }

  Config config_;
  const SystemClock& clock_ = SystemClock::Instance();
  // Before the transports (destroyed after them): they call into it.
  std::unique_ptr<FrontDispatcher> front_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::AuditCheckpointer> checkpointer_;  // after store_: destroyed before it
  std::unique_ptr<notify::Notifier> notifier_;  // after store_: destroyed before it
  std::unique_ptr<hold::HoldCoordinator> holds_;
  std::unique_ptr<hold::Sweeper> sweeper_;
  std::unique_ptr<review::DecisionService> decisions_;
  std::unique_ptr<PolicyAdmin> policy_admin_;  // after store_: destroyed before it
  // One per config_.upstreams entry (null: no policy file of its own); after policy_admin_, whose
  // policy they take their defaults from: destroyed before it.
  std::vector<std::unique_ptr<PolicyAdmin>> upstream_admins_;
  std::unique_ptr<ToolCatalogue> catalogue_;   // after policy_admin_ and store_: destroyed before them
  std::unique_ptr<policy::RateLimiter> limiter_;
  std::unique_ptr<review::ReviewServer> review_;
  std::unique_ptr<upstream::Upstream> upstream_;
  upstream::Fleet* fleet_ = nullptr;  // upstream_ when the config lists several upstreams
  std::unique_ptr<upstream::SessionPool> sessions_;  // per_agent mode; before gateway_: outlives it
  std::unique_ptr<gateway::Gateway> gateway_;
  std::mutex apply_mu_;
  gateway::Gateway* live_gateway_ = nullptr;  // guarded by apply_mu_; gateway_ once it has started
  std::vector<policy::PolicyRoute> routes_;   // guarded by apply_mu_: each upstream's own policy
  std::map<std::string, int64_t> upstream_policy_mtimes_;  // control loop (and start-up) only
  std::unique_ptr<transport::HttpServer> http_;
  std::unique_ptr<transport::StdioServer> stdio_;
  int64_t policy_mtime_ = 0;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> started_{false};   // every module is up (readiness may look at them)
};

}  // namespace

int Run(Config config, bool stdio_mode) {
  Runner runner(std::move(config));
  return runner.Run(stdio_mode);
}

}  // namespace holdgate::server
