#include "common/config.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/clock.h"

namespace holdgate {
namespace {

Status TypeError(const std::string& path, const char* want) {
  return InvalidArgument("config " + path + ": must be " + want);
}

Status ReadString(const Json& obj, const char* key, const std::string& path, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_string()) return TypeError(path + "." + key, "a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadStrings(const Json& obj, const char* key, const std::string& path, std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_array()) return TypeError(path + "." + key, "an array of strings");
  out->clear();
  for (const auto& v : *it) {
    if (!v.is_string()) return TypeError(path + "." + key, "an array of strings");
    out->push_back(v.get<std::string>());
  }
  return Status::Ok();
}

Status ReadDuration(const Json& obj, const char* key, const std::string& path, int64_t* out_ms) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  int64_t ms = -1;
  if (it->is_number_integer()) ms = it->get<int64_t>() * 1000;
  else if (it->is_string()) ms = ParseDurationMs(it->get<std::string>());
  if (ms < 0) return TypeError(path + "." + key, "a duration such as \"50s\" or \"5m\"");
  *out_ms = ms;
  return Status::Ok();
}

#define HG_TRY(expr)                 \
  do {                               \
    Status _s = (expr);              \
    if (!_s.ok()) return _s;         \
  } while (0)

Status ReadCount(const Json& obj, const char* key, const std::string& path, size_t min, size_t* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_number_unsigned() || it->get<uint64_t>() < min) {
    return TypeError(path + "." + key, ("an integer ≥ " + std::to_string(min)).c_str());
  }
  *out = it->get<size_t>();
  return Status::Ok();
}

}  // namespace

Status ReadListenerLimits(const Json& section, const std::string& path, ListenerLimits* limits) {
  if (!section.is_object()) return Status::Ok();
  ListenerLimits l = *limits;
  HG_TRY(ReadDuration(section, "header_timeout", path, &l.header_timeout_ms));
  HG_TRY(ReadDuration(section, "body_timeout", path, &l.body_timeout_ms));
  HG_TRY(ReadDuration(section, "idle_timeout", path, &l.idle_timeout_ms));
  HG_TRY(ReadCount(section, "max_connections", path, 1, &l.max_connections));
  HG_TRY(ReadCount(section, "max_connections_per_ip", path, 0, &l.max_connections_per_ip));
  for (int64_t ms : {l.header_timeout_ms, l.body_timeout_ms, l.idle_timeout_ms}) {
    if (ms < 100) return InvalidArgument("config " + path + ": header_timeout, body_timeout and idle_timeout must be at least 100ms");
  }
  *limits = l;
  return Status::Ok();
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

Result<Config> ConfigFromJson(const Json& doc) {
  if (!doc.is_object()) return InvalidArgument("config: the top level must be an object");
  Config c;
  c.raw = doc;
  static const std::vector<std::string> kKnown = {"mcp", "review", "upstream", "policy", "db", "log_level",
                                                  "hold", "approval", "audit", "notify", "ready_file"};
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (std::find(kKnown.begin(), kKnown.end(), it.key()) == kKnown.end()) {
      return InvalidArgument("config " + it.key() + ": unknown setting (known: mcp, review, upstream, policy, db, "
                             "log_level, hold, approval, audit, notify, ready_file)");
    }
  }
  if (auto m = doc.find("mcp"); m != doc.end()) {
    if (!m->is_object()) return TypeError("mcp", "an object");
    HG_TRY(ReadString(*m, "listen", "mcp", &c.mcp_listen));
    HG_TRY(ReadString(*m, "path", "mcp", &c.mcp_path));
    HG_TRY(ReadStrings(*m, "allowed_origins", "mcp", &c.allowed_origins));
    HG_TRY(ReadStrings(*m, "allowed_hosts", "mcp", &c.allowed_hosts));
    if (auto b = m->find("max_body_bytes"); b != m->end()) {
      if (!b->is_number_unsigned() || b->get<uint64_t>() < 1024) return TypeError("mcp.max_body_bytes", "an integer ≥ 1024");
      c.max_body_bytes = b->get<size_t>();
    }
    HG_TRY(ReadListenerLimits(*m, "mcp", &c.mcp_limits));
    HG_TRY(ReadDuration(*m, "session_idle_timeout", "mcp", &c.session_idle_timeout_ms));
    if (c.session_idle_timeout_ms < 1000) return TypeError("mcp.session_idle_timeout", "at least 1s");
    HG_TRY(ReadCount(*m, "max_sessions_per_principal", "mcp", 1, &c.max_sessions_per_principal));
    if (auto k = m->find("agent_keys"); k != m->end()) {
      if (!k->is_array()) return TypeError("mcp.agent_keys", "an array");
      for (size_t i = 0; i < k->size(); ++i) {
        const Json& e = (*k)[i];
        std::string path = "mcp.agent_keys[" + std::to_string(i) + "]";
        if (!e.is_object()) return TypeError(path, "an object {name, principal, sha256}");
        AgentKeyConfig key;
        HG_TRY(ReadString(e, "name", path, &key.name));
        HG_TRY(ReadString(e, "principal", path, &key.principal));
        HG_TRY(ReadString(e, "sha256", path, &key.sha256));
        if (key.name.empty()) return TypeError(path + ".name", "a non-empty string");
        if (key.sha256.size() != 64) return TypeError(path + ".sha256", "the 64-hex-digit SHA-256 of the key (holdgate agent-key prints it)");
        if (key.principal.empty()) key.principal = key.name;
        c.agent_keys.push_back(std::move(key));
      }
    }
  }
  if (auto r = doc.find("review"); r != doc.end()) {
    if (!r->is_object()) return TypeError("review", "an object");
    HG_TRY(ReadString(*r, "listen", "review", &c.review_listen));
    HG_TRY(ReadString(*r, "public_url", "review", &c.public_url));
    c.review = *r;
  }
  if (auto u = doc.find("upstream"); u != doc.end()) {
    if (!u->is_object()) return TypeError("upstream", "an object");
    HG_TRY(ReadString(*u, "command", "upstream", &c.upstream_cmd));
    HG_TRY(ReadString(*u, "url", "upstream", &c.upstream_url));
    HG_TRY(ReadDuration(*u, "request_timeout", "upstream", &c.upstream_request_timeout_ms));
    if (c.upstream_request_timeout_ms < 100) {
      return InvalidArgument("config upstream.request_timeout: must be a duration of at least 100ms");
    }
    if (auto caps = u->find("client_capabilities"); caps != u->end()) {
      if (!caps->is_object()) return TypeError("upstream.client_capabilities", "an object");
      c.upstream_client_capabilities = *caps;
    }
  }
  HG_TRY(ReadString(doc, "policy", "", &c.policy_path));
  HG_TRY(ReadString(doc, "db", "", &c.db_path));
  HG_TRY(ReadString(doc, "log_level", "", &c.log_level));
  HG_TRY(ReadString(doc, "ready_file", "", &c.ready_file));
  if (auto h = doc.find("hold"); h != doc.end()) {
    if (!h->is_object()) return TypeError("hold", "an object");
    HG_TRY(ReadDuration(*h, "default_hold", "hold", &c.default_hold_ms));
    HG_TRY(ReadDuration(*h, "progress_interval", "hold", &c.progress_interval_ms));
  }
  if (auto a = doc.find("approval"); a != doc.end()) {
    if (!a->is_object()) return TypeError("approval", "an object");
    for (auto it = a->begin(); it != a->end(); ++it) {
      if (it.key() != "max_pending_per_principal") {
        return InvalidArgument("config approval." + it.key() + ": unknown setting (known: max_pending_per_principal)");
      }
    }
    if (auto m = a->find("max_pending_per_principal"); m != a->end()) {
      if (!m->is_number_unsigned() || m->get<uint64_t>() > 1'000'000) {
        return TypeError("approval.max_pending_per_principal", "an integer from 0 (no cap) to 1000000");
      }
      c.max_pending_per_principal = m->get<int>();
    }
  }
  if (auto a = doc.find("audit"); a != doc.end()) {
    if (!a->is_object()) return TypeError("audit", "an object");
    if (auto all = a->find("all_calls"); all != a->end()) {
      if (!all->is_boolean()) return TypeError("audit.all_calls", "true or false");
      c.audit_all_calls = all->get<bool>();
    }
  }
  if (auto n = doc.find("notify"); n != doc.end()) {
    if (!n->is_object()) return TypeError("notify", "an object");
    c.notify = *n;
  }
  return c;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  Result<Json> doc = ParseJson(ss.str());
  if (!doc.ok()) return InvalidArgument("config file " + path + ": " + doc.status().message());
  return ConfigFromJson(doc.value());
}

}  // namespace holdgate
