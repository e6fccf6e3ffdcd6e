#include "common/config.h"

#include <algorithm>

#include "common/clock.h"
#include "common/file_util.h"

namespace holdgate {
namespace {

// Collects every problem of a document instead of stopping at the first.
class Problems {
 public:
  explicit Problems(std::vector<ConfigError>* out) : out_(out) {}
  void Add(const std::string& path, std::string message) {
    if (out_) out_->push_back({path, message});
    if (first_.empty()) first_ = "config " + path + ": " + message;
    ++count_;
  }
  void Type(const std::string& path, const char* want) { Add(path, std::string("must be ") + want); }
  bool any() const { return count_ > 0; }
  Status ToStatus() const {
    if (count_ <= 1) return InvalidArgument(first_);
    return InvalidArgument(first_ + " (and " + std::to_string(count_ - 1) + " more: holdgate config check lists them)");
  }

 private:
  std::vector<ConfigError>* out_;
  std::string first_;
  int count_ = 0;
};

std::string Join(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }

void ReadString(const Json& obj, const char* key, const std::string& path, std::string* out, Problems& p) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  if (!it->is_string()) return p.Type(Join(path, key), "a string");
  *out = it->get<std::string>();
}

void ReadStrings(const Json& obj, const char* key, const std::string& path, std::vector<std::string>* out,
                 Problems& p) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  if (!it->is_array()) return p.Type(Join(path, key), "an array of strings");
  out->clear();
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& v = (*it)[i];
    if (!v.is_string()) {
      p.Type(Join(path, key) + "[" + std::to_string(i) + "]", "a string");
      continue;
    }
    out->push_back(v.get<std::string>());
  }
}

void ReadDuration(const Json& obj, const char* key, const std::string& path, int64_t* out_ms, Problems& p) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  int64_t ms = -1;
  if (it->is_number_integer()) ms = it->get<int64_t>() * 1000;
  else if (it->is_string()) ms = ParseDurationMs(it->get<std::string>());
  if (ms < 0) return p.Type(Join(path, key), "a duration such as \"50s\" or \"5m\"");
  *out_ms = ms;
}

// Keys of `obj` not in `known` are errors (a typo would otherwise be silently ignored).
void CheckKeys(const Json& obj, const std::string& path, const std::vector<std::string>& known, Problems& p) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    std::string list;
    for (const auto& k : known) {
      if (k[0] == '$') continue;
      list += (list.empty() ? "" : ", ") + k;
    }
    p.Add(Join(path, it.key().c_str()), "unknown setting (known: " + list + ")");
  }
}

void CheckListen(const std::string& text, const std::string& path, Problems& p) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(text, &host, &port)) p.Add(path, "must be HOST:PORT (\"127.0.0.1:8080\", \"[::1]:0\"), got \"" + text + "\"");
}

void ReadCount(const Json& obj, const char* key, const std::string& path, size_t min, size_t* out, Problems& p) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  if (!it->is_number_unsigned() || it->get<uint64_t>() < min) {
    return p.Add(Join(path, key), "must be an integer ≥ " + std::to_string(min));
  }
  *out = it->get<size_t>();
}

void ReadListenerLimits(const Json& section, const std::string& path, ListenerLimits* limits, Problems& p) {
  if (!section.is_object()) return;
  ListenerLimits l = *limits;
  ReadDuration(section, "header_timeout", path, &l.header_timeout_ms, p);
  ReadDuration(section, "body_timeout", path, &l.body_timeout_ms, p);
  ReadDuration(section, "idle_timeout", path, &l.idle_timeout_ms, p);
  ReadCount(section, "max_connections", path, 1, &l.max_connections, p);
  ReadCount(section, "max_connections_per_ip", path, 0, &l.max_connections_per_ip, p);
  for (int64_t ms : {l.header_timeout_ms, l.body_timeout_ms, l.idle_timeout_ms}) {
    if (ms < 100) return p.Add(path, "header_timeout, body_timeout and idle_timeout must be at least 100ms");
  }
  *limits = l;
}

}  // namespace

Status ReadListenerLimits(const Json& section, const std::string& path, ListenerLimits* limits) {
  Problems p(nullptr);
  ReadListenerLimits(section, path, limits, p);
  return p.any() ? p.ToStatus() : Status::Ok();
}

bool SplitHostPort(const std::string& text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5) return false;
  int value = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return false;
  *host = h;
  *port = value;
  return true;
}

Result<Config> ConfigFromJson(const Json& doc, std::vector<ConfigError>* errors) {
  Problems p(errors);
  if (!doc.is_object()) {
    p.Add("$", "the top level must be an object");
    return p.ToStatus();
  }
  Config c;
  c.raw = doc;
  CheckKeys(doc, "", {"$schema", "$comment", "mcp", "review", "upstream", "upstreams", "policy", "db", "database", "log_level", "hold",
                      "approval", "audit", "notify", "ready_file"}, p);
  if (auto m = doc.find("mcp"); m != doc.end()) {
    if (!m->is_object()) {
      p.Type("mcp", "an object");
    } else {
      CheckKeys(*m, "mcp", {"listen", "path", "allowed_origins", "allowed_hosts", "max_body_bytes", "agent_keys",
                            "header_timeout", "body_timeout", "idle_timeout", "max_connections",
                            "max_connections_per_ip", "session_idle_timeout", "max_sessions_per_principal"}, p);
      ReadString(*m, "listen", "mcp", &c.mcp_listen, p);
      ReadString(*m, "path", "mcp", &c.mcp_path, p);
      if (c.mcp_path.empty() || c.mcp_path[0] != '/') p.Add("mcp.path", "must start with /");
      ReadStrings(*m, "allowed_origins", "mcp", &c.allowed_origins, p);
      ReadStrings(*m, "allowed_hosts", "mcp", &c.allowed_hosts, p);
      if (auto b = m->find("max_body_bytes"); b != m->end()) {
        if (!b->is_number_unsigned() || b->get<uint64_t>() < 1024) p.Type("mcp.max_body_bytes", "an integer ≥ 1024");
        else c.max_body_bytes = b->get<size_t>();
      }
      ReadListenerLimits(*m, "mcp", &c.mcp_limits, p);
      ReadDuration(*m, "session_idle_timeout", "mcp", &c.session_idle_timeout_ms, p);
      if (c.session_idle_timeout_ms < 1000) p.Add("mcp.session_idle_timeout", "must be at least 1s");
      ReadCount(*m, "max_sessions_per_principal", "mcp", 1, &c.max_sessions_per_principal, p);
      if (auto k = m->find("agent_keys"); k != m->end()) {
        if (!k->is_array()) p.Type("mcp.agent_keys", "an array");
        for (size_t i = 0; k->is_array() && i < k->size(); ++i) {
          const Json& e = (*k)[i];
          std::string path = "mcp.agent_keys[" + std::to_string(i) + "]";
          if (!e.is_object()) {
            p.Type(path, "an object {name, principal, sha256}");
            continue;
          }
          CheckKeys(e, path, {"name", "principal", "sha256"}, p);
          AgentKeyConfig key;
          ReadString(e, "name", path, &key.name, p);
          ReadString(e, "principal", path, &key.principal, p);
          ReadString(e, "sha256", path, &key.sha256, p);
          if (key.name.empty()) p.Type(path + ".name", "a non-empty string");
          if (key.sha256.size() != 64 || key.sha256.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
            p.Type(path + ".sha256", "the 64-hex-digit SHA-256 of the key (holdgate agent-key prints it)");
          }
          if (key.principal.empty()) key.principal = key.name;
          c.agent_keys.push_back(std::move(key));
        }
      }
    }
  }
  CheckListen(c.mcp_listen, "mcp.listen", p);
  if (auto r = doc.find("review"); r != doc.end()) {
    if (!r->is_object()) {
      p.Type("review", "an object");
    } else {
      CheckKeys(*r, "review", {"listen", "public_url", "allowed_origins", "max_body_bytes", "threads", "max_sse_clients",
                               "auth_audit_per_minute", "auth", "header_timeout", "body_timeout", "idle_timeout",
                               "max_connections", "max_connections_per_ip", "oidc"}, p);
      if (auto o = r->find("oidc"); o != r->end() && o->is_object()) {
        CheckKeys(*o, "review.oidc", {"issuer", "client_id", "client_secret", "client_secret_file", "redirect_uri",
                                      "scopes", "subject_claim", "role_claim", "role_map", "allowed_domains",
                                      "allow_insecure_issuer", "ca_file", "leeway", "session_idle",
                                      "session_absolute"}, p);
      }
      if (auto a = r->find("auth"); a != r->end() && a->is_object()) {
        CheckKeys(*a, "review.auth", {"jwt_secret", "issuer", "audience", "leeway", "max_token_lifetime", "public_keys",
                                      "jwks_file", "jwks_refresh"}, p);
      }
      ReadString(*r, "listen", "review", &c.review_listen, p);
      ReadString(*r, "public_url", "review", &c.public_url, p);
      c.review = *r;
    }
  }
  CheckListen(c.review_listen, "review.listen", p);
  if (auto u = doc.find("upstream"); u != doc.end()) {
    if (!u->is_object()) {
      p.Type("upstream", "an object");
    } else {
      CheckKeys(*u, "upstream", {"command", "url", "client_capabilities", "request_timeout", "sessions", "max_sessions",
                                 "list_timeout", "health_interval"},
                p);
      ReadDuration(*u, "list_timeout", "upstream", &c.upstream_list_timeout_ms, p);
      if (c.upstream_list_timeout_ms < 100) p.Add("upstream.list_timeout", "must be a duration of at least 100ms");
      ReadDuration(*u, "health_interval", "upstream", &c.upstream_health_interval_ms, p);
      if (c.upstream_health_interval_ms < 100) p.Add("upstream.health_interval", "must be a duration of at least 100ms");
      ReadString(*u, "sessions", "upstream", &c.upstream_sessions, p);
      if (u->contains("sessions") && (*u)["sessions"].is_string() && c.upstream_sessions != "per_agent" && c.upstream_sessions != "shared") {
        p.Add("upstream.sessions", "must be \"per_agent\" or \"shared\"");
      }
      ReadCount(*u, "max_sessions", "upstream", 1, &c.upstream_max_sessions, p);
      ReadString(*u, "command", "upstream", &c.upstream_cmd, p);
      ReadString(*u, "url", "upstream", &c.upstream_url, p);
      ReadDuration(*u, "request_timeout", "upstream", &c.upstream_request_timeout_ms, p);
      if (c.upstream_request_timeout_ms < 100) p.Add("upstream.request_timeout", "must be a duration of at least 100ms");
      if (!c.upstream_cmd.empty() && !c.upstream_url.empty()) p.Add("upstream", "give command or url, not both");
      if (!c.upstream_url.empty() && c.upstream_url.rfind("http://", 0) != 0 && c.upstream_url.rfind("https://", 0) != 0) {
        p.Add("upstream.url", "must be an http:// or https:// URL");
      }
      if (auto caps = u->find("client_capabilities"); caps != u->end()) {
        if (!caps->is_object()) p.Type("upstream.client_capabilities", "an object");
        else c.upstream_client_capabilities = *caps;
      }
    }
  }
  if (auto list = doc.find("upstreams"); list != doc.end()) {
    if (!list->is_array() || list->empty()) p.Type("upstreams", "a non-empty array of {name, command | url, prefix, policy, …}");
    if (!c.upstream_cmd.empty() || !c.upstream_url.empty()) {
      p.Add("upstream", "with \"upstreams\", give each server's command or url in its upstreams entry, not here");
    }
    for (size_t i = 0; list->is_array() && i < list->size(); ++i) {
      const Json& e = (*list)[i];
      const std::string path = "upstreams[" + std::to_string(i) + "]";
      if (!e.is_object()) {
        p.Type(path, "an object {name, command | url, prefix, policy, client_capabilities, request_timeout}");
        continue;
      }
      CheckKeys(e, path, {"name", "command", "url", "prefix", "policy", "client_capabilities", "request_timeout"}, p);
      UpstreamConfig u;
      ReadString(e, "name", path, &u.name, p);
      ReadString(e, "command", path, &u.command, p);
      ReadString(e, "url", path, &u.url, p);
      ReadString(e, "policy", path, &u.policy_path, p);
      if (u.name.empty() || u.name.size() > 64 ||
          u.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos) {
        p.Add(path + ".name", "must be 1-64 letters, digits, _ or -");
      }
      u.prefix = u.name + "_";
      ReadString(e, "prefix", path, &u.prefix, p);
      if (u.command.empty() == u.url.empty()) p.Add(path, "give exactly one of command or url");
      if (!u.url.empty() && u.url.rfind("http://", 0) != 0 && u.url.rfind("https://", 0) != 0) {
        p.Add(path + ".url", "must be an http:// or https:// URL");
      }
      if (auto caps = e.find("client_capabilities"); caps != e.end()) {
        if (!caps->is_object()) p.Type(path + ".client_capabilities", "an object");
        else u.client_capabilities = *caps;
      }
      if (e.contains("request_timeout")) {
        ReadDuration(e, "request_timeout", path, &u.request_timeout_ms, p);
        if (u.request_timeout_ms < 100) p.Add(path + ".request_timeout", "must be a duration of at least 100ms");
      }
      for (size_t j = 0; j < c.upstreams.size(); ++j) {
        const UpstreamConfig& o = c.upstreams[j];
        const std::string other = "upstreams[" + std::to_string(j) + "]";
        if (!u.name.empty() && o.name == u.name) p.Add(path + ".name", "\"" + u.name + "\" is also the name of " + other);
        // Calls and policies are routed by the longest prefix a name starts with, so a prefix
        // must not begin another one ("" may stand beside non-empty ones: it takes the rest).
        if (!u.prefix.empty() && !o.prefix.empty() &&
            (u.prefix.rfind(o.prefix, 0) == 0 || o.prefix.rfind(u.prefix, 0) == 0)) {
          p.Add(path + ".prefix", "\"" + u.prefix + "\" and the prefix \"" + o.prefix + "\" of " + other +
                                      " would make names ambiguous: no prefix may begin another");
        }
        if (u.prefix.empty() && o.prefix.empty()) {
          p.Add(path + ".prefix", "only one upstream may have the empty prefix (" + other + " has it too)");
        }
      }
      c.upstreams.push_back(std::move(u));
    }
  }
  ReadString(doc, "policy", "", &c.policy_path, p);
  ReadString(doc, "db", "", &c.db_path, p);
  if (doc.contains("db") && c.db_path.empty()) p.Add("db", "must not be empty");
  if (auto d = doc.find("database"); d != doc.end()) {
    if (!d->is_object()) {
      p.Type("database", "an object");
    } else {
      CheckKeys(*d, "database", {"pool_size", "executing_lease", "change_poll"}, p);
      size_t pool = static_cast<size_t>(c.db_pool_size);
      ReadCount(*d, "pool_size", "database", 2, &pool, p);
      if (pool > 1000) p.Add("database.pool_size", "must be at most 1000");
      c.db_pool_size = static_cast<int>(std::min<size_t>(pool, 1000));
      ReadDuration(*d, "executing_lease", "database", &c.db_executing_lease_ms, p);
      // The heartbeat runs at a quarter of the lease (at most every 5 s); below 2 s a busy database
      // would fail live replicas' calls.
      if (c.db_executing_lease_ms < 2'000) p.Add("database.executing_lease", "must be at least 2s");
      ReadDuration(*d, "change_poll", "database", &c.db_change_poll_ms, p);
      if (c.db_change_poll_ms < 10) p.Add("database.change_poll", "must be at least 10ms");
    }
  }
  ReadString(doc, "log_level", "", &c.log_level, p);
  static const std::vector<std::string> kLevels = {"debug", "info", "warn", "error"};
  if (std::find(kLevels.begin(), kLevels.end(), c.log_level) == kLevels.end()) {
    p.Add("log_level", "must be one of debug, info, warn, error");
  }
  ReadString(doc, "ready_file", "", &c.ready_file, p);
  if (auto h = doc.find("hold"); h != doc.end()) {
    if (!h->is_object()) {
      p.Type("hold", "an object");
    } else {
      CheckKeys(*h, "hold", {"default_hold", "progress_interval"}, p);
      ReadDuration(*h, "default_hold", "hold", &c.default_hold_ms, p);
      ReadDuration(*h, "progress_interval", "hold", &c.progress_interval_ms, p);
    }
  }
  if (auto a = doc.find("approval"); a != doc.end()) {
    if (!a->is_object()) {
      p.Type("approval", "an object");
    } else {
      CheckKeys(*a, "approval", {"max_pending_per_principal"}, p);
      if (auto m = a->find("max_pending_per_principal"); m != a->end()) {
        if (!m->is_number_unsigned() || m->get<uint64_t>() > 1'000'000) {
          p.Type("approval.max_pending_per_principal", "an integer from 0 (no cap) to 1000000");
        } else {
          c.max_pending_per_principal = m->get<int>();
        }
      }
    }
  }
  if (auto a = doc.find("audit"); a != doc.end()) {
    if (!a->is_object()) {
      p.Type("audit", "an object");
    } else {
      CheckKeys(*a, "audit", {"all_calls", "checkpoint"}, p);
      if (auto all = a->find("all_calls"); all != a->end()) {
        if (!all->is_boolean()) p.Type("audit.all_calls", "true or false");
        else c.audit_all_calls = all->get<bool>();
      }
    }
  }
  if (auto n = doc.find("notify"); n != doc.end()) {
    if (!n->is_object()) p.Type("notify", "an object");
    else c.notify = *n;
  }
  if (p.any()) return p.ToStatus();
  return c;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::string text;
  if (!ReadWholeFile(path, &text)) return NotFound("cannot read config file " + path);
  Result<Json> doc = ParseJson(text);
  if (!doc.ok()) return InvalidArgument("config file " + path + ": " + doc.status().message());
  Result<Config> c = ConfigFromJson(doc.value());
  if (c.ok()) c.value().source_path = path;
  return c;
}

}  // namespace holdgate
