#include "server/config_check.h"

#include <filesystem>

#include "common/file_util.h"
#include "common/log.h"
#include "notify/notify_config.h"
#include "policy/policy.h"
#include "review/review_server.h"
#include "store/audit_checkpoint.h"

namespace holdgate::server {
namespace {

// A module's parse error. Its message usually starts with the JSON path ("notify.webhooks[0].url:
// is required", "config audit.checkpoint: …"), sometimes relative to the section ("auth.jwks_file:
// …"); anything else is reported at the section.
void AddModuleError(const std::string& section, const Status& s, std::vector<ConfigError>* out) {
  std::string message = s.message();
  if (message.rfind("config ", 0) == 0) message = message.substr(7);
  const size_t colon = message.find(": ");
  if (colon != std::string::npos && message.find(' ') >= colon) {
    std::string path = message.substr(0, colon);
    if (path.rfind(section, 0) != 0) path = section + "." + path;
    out->push_back({path, message.substr(colon + 2)});
  } else {
    out->push_back({section, message});
  }
}

}  // namespace

ConfigCheck CheckConfigFile(const std::string& path, const ConfigCheckOptions& options) {
  ConfigCheck out;
  std::string text;
  if (!ReadWholeFile(path, &text)) {
    out.errors.push_back({"$", "cannot read " + path});
    return out;
  }
  Result<Json> doc = ParseJson(text);
  if (!doc.ok()) {
    out.errors.push_back({"$", "not JSON: " + doc.status().message()});
    return out;
  }
  std::vector<ConfigError> errors;
  Result<Config> parsed = ConfigFromJson(doc.value(), &errors);
  if (parsed.ok()) {
    out.config = std::move(parsed.value());
    out.config.source_path = path;
  }
  const Json& raw = doc.value();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const std::string base = dir.empty() ? "." : dir;

  if (raw.is_object()) {
    if (raw.contains("review") && raw["review"].is_object()) {
      auto r = review::ParseReviewConfig(raw["review"], base);
      if (!r.ok()) AddModuleError("review", r.status(), &errors);
    }
    if (raw.contains("notify") && raw["notify"].is_object()) {
      auto n = notify::ParseNotifyConfig(raw["notify"], base);
      if (!n.ok()) AddModuleError("notify", n.status(), &errors);
    }
    if (raw.contains("audit") && raw["audit"].is_object()) {
      auto a = store::ParseAuditCheckpointConfig(raw["audit"], base);
      if (!a.ok()) AddModuleError("audit", a.status(), &errors);
    }
    if (options.require_upstream && parsed.ok() && !out.config.HasUpstream()) {
      errors.push_back({"upstream", "give upstream.command or upstream.url, or an upstreams list (the MCP servers to front)"});
    }
    std::shared_ptr<const policy::Policy> top;  // whose defaults the upstreams' own files take
    if (parsed.ok() && !out.config.policy_path.empty()) {
      std::string policy_text;
      if (!ReadWholeFile(out.config.policy_path, &policy_text)) {
        errors.push_back({"policy", "cannot read policy file " + out.config.policy_path});
      } else {
        policy::CheckReport report = policy::Check(policy_text, nullptr);
        for (const auto& e : report.errors) errors.push_back({"policy", out.config.policy_path + ": " + e});
        if (auto parsed_top = policy::Policy::Parse(policy_text); parsed_top.ok()) top = *parsed_top;
      }
    }
    for (size_t i = 0; parsed.ok() && i < out.config.upstreams.size(); ++i) {
      const UpstreamConfig& u = out.config.upstreams[i];
      if (u.policy_path.empty()) continue;
      const std::string path = "upstreams[" + std::to_string(i) + "].policy";
      std::string policy_text;
      if (!ReadWholeFile(u.policy_path, &policy_text)) {
        errors.push_back({path, "cannot read policy file " + u.policy_path});
        continue;
      }
      policy::CheckReport report = policy::Check(policy_text, nullptr, top.get());
      for (const auto& e : report.errors) errors.push_back({path, u.policy_path + ": " + e});
    }
  }
  out.errors = std::move(errors);
  return out;
}

void RecheckConfigOnReload(const std::string& path) {
  if (path.empty()) return;
  ConfigCheck check = CheckConfigFile(path, {.require_upstream = false});
  if (check.ok()) {
    log::Info("config file checked on reload: valid (settings other than the policy apply at the next start)",
              {{"file", path}});
    return;
  }
  Json errors = Json::array();
  for (const auto& e : check.errors) errors.push_back(e.path + ": " + e.message);
  log::Error("config file is NOT valid; the running settings stay, a restart would fail",
             {{"file", path}, {"errors", errors}});
}

std::string FormatConfigErrors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.path + ": " + e.message + "\n";
  return out;
}

}  // namespace holdgate::server
