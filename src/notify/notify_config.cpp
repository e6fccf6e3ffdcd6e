#include "notify/notify_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/clock.h"
#include "common/crypto.h"
#include "notify/http_client.h"

namespace holdgate::notify {
namespace {

Status PathError(const std::string& path, const std::string& what) {
  return InvalidArgument(path + ": " + what);
}

Status CheckKeys(const Json& obj, const std::string& path, const std::vector<std::string>& known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return PathError(path + "." + it.key(), "unknown setting (known: " + list + ")");
    }
  }
  return Status::Ok();
}

Status ReadString(const Json& obj, const std::string& key, const std::string& path, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return PathError(path + "." + key, "must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadBool(const Json& obj, const std::string& key, const std::string& path, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return PathError(path + "." + key, "must be true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

Status ReadDuration(const Json& obj, const std::string& key, const std::string& path, int64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  int64_t ms = -1;
  if (it->is_string()) ms = ParseDurationMs(it->get<std::string>());
  else if (it->is_number_integer() && it->get<int64_t>() >= 0) ms = it->get<int64_t>() * 1000;
  if (ms < 0) return PathError(path + "." + key, "must be a duration such as \"30s\", \"10m\" or \"2h\"");
  *out = ms;
  return Status::Ok();
}

// A string value, or the environment variable named by `<key>_env`.
Status ReadSecret(const Json& obj, const std::string& key, const std::string& path, std::string* out) {
  Status s = ReadString(obj, key, path, out);
  if (!s.ok()) return s;
  std::string env;
  s = ReadString(obj, key + "_env", path, &env);
  if (!s.ok()) return s;
  if (!env.empty()) {
    if (!out->empty()) return PathError(path + "." + key, "give either " + key + " or " + key + "_env, not both");
    const char* v = std::getenv(env.c_str());
    if (v == nullptr || *v == '\0') return PathError(path + "." + key + "_env", "environment variable " + env + " is not set");
    *out = v;
  }
  return Status::Ok();
}

std::string ResolvePath(const std::string& file, const std::string& base_dir) {
  if (file.empty() || base_dir.empty() || std::filesystem::path(file).is_absolute()) return file;
  return (std::filesystem::path(base_dir) / file).string();
}

Status ReadEvents(const Json& obj, const std::string& path, std::vector<std::string> defaults,
                  std::vector<std::string>* out) {
  auto it = obj.find("events");
  if (it == obj.end() || it->is_null()) {
    *out = std::move(defaults);
    return Status::Ok();
  }
  if (!it->is_array() || it->empty()) return PathError(path + ".events", "must be a non-empty array of event types");
  std::set<std::string> seen;
  out->clear();
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& e = (*it)[i];
    const std::string p = path + ".events[" + std::to_string(i) + "]";
    if (!e.is_string()) return PathError(p, "must be a string");
    std::string name = e.get<std::string>();
    if (name == "*" || name == "approval.*") {
      for (const auto& t : AllEventTypes()) {
        if (seen.insert(t).second) out->push_back(t);
      }
      continue;
    }
    if (name.rfind("approval.", 0) != 0) name = "approval." + name;  // "created" = "approval.created"
    if (!IsKnownEventType(name)) {
      std::string list;
      for (const auto& t : AllEventTypes()) list += (list.empty() ? "" : ", ") + t;
      return PathError(p, "unknown event type " + e.get<std::string>() + " (known: " + list + ", *)");
    }
    if (seen.insert(name).second) out->push_back(name);
  }
  return Status::Ok();
}

bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

Status CheckUrl(const std::string& url, bool allow_http, const std::string& path) {
  auto parsed = SplitUrl(url);
  if (!parsed.ok()) return PathError(path, parsed.status().message());
  if (parsed->scheme == "http" && !allow_http && !IsLoopbackHost(parsed->host)) {
    return PathError(path, "must be https (plain http is allowed for loopback receivers only, or with allow_http)");
  }
  return Status::Ok();
}

Status ParseWebhook(const Json& j, const std::string& path, const std::string& base_dir, WebhookConfig* w) {
  if (!j.is_object()) return PathError(path, "must be an object {name, url, secret, events}");
  Status s = CheckKeys(j, path, {"name", "url", "secret", "secret_env", "events", "include_arguments", "ca_file",
                                 "allow_http"});
  if (!s.ok()) return s;
  if (!(s = ReadString(j, "name", path, &w->name)).ok()) return s;
  if (!ValidName(w->name)) return PathError(path + ".name", "must be 1-64 characters of letters, digits, - _ .");
  if (!(s = ReadString(j, "url", path, &w->url)).ok()) return s;
  if (!(s = ReadBool(j, "allow_http", path, &w->allow_http)).ok()) return s;
  if (w->url.empty()) return PathError(path + ".url", "is required");
  if (!(s = CheckUrl(w->url, w->allow_http, path + ".url")).ok()) return s;
  if (!(s = ReadBool(j, "include_arguments", path, &w->include_arguments)).ok()) return s;
  if (!(s = ReadString(j, "ca_file", path, &w->ca_file)).ok()) return s;
  w->ca_file = ResolvePath(w->ca_file, base_dir);
  if (!(s = ReadEvents(j, path, AllEventTypes(), &w->events)).ok()) return s;

  std::vector<std::string> secrets;
  auto sec = j.find("secret");
  if (sec != j.end() && sec->is_array()) {
    if (sec->empty()) return PathError(path + ".secret", "must not be an empty list");
    for (size_t i = 0; i < sec->size(); ++i) {
      if (!(*sec)[i].is_string()) return PathError(path + ".secret[" + std::to_string(i) + "]", "must be a string");
      secrets.push_back((*sec)[i].get<std::string>());
    }
    if (j.contains("secret_env")) return PathError(path + ".secret", "give either secret or secret_env, not both");
  } else {
    std::string one;
    if (!(s = ReadSecret(j, "secret", path, &one)).ok()) return s;
    // An env value may hold several space-separated secrets (rotation).
    size_t start = 0;
    while (start < one.size()) {
      size_t sp = one.find(' ', start);
      std::string part = one.substr(start, sp == std::string::npos ? std::string::npos : sp - start);
      if (!part.empty()) secrets.push_back(part);
      if (sp == std::string::npos) break;
      start = sp + 1;
    }
  }
  if (secrets.empty()) return PathError(path + ".secret", "is required (\"whsec_<base64>\", at least 24 random bytes)");
  for (size_t i = 0; i < secrets.size(); ++i) {
    auto key = DecodeWebhookSecret(secrets[i]);
    if (!key.ok()) {
      return PathError(path + ".secret" + (secrets.size() > 1 ? "[" + std::to_string(i) + "]" : ""),
                       key.status().message());
    }
    w->keys.push_back(*key);
  }
  return Status::Ok();
}

Status ParseSlack(const Json& j, const std::string& base_dir, SlackConfig* c) {
  const std::string path = "notify.slack";
  if (!j.is_object()) return PathError(path, "must be an object");
  Status s = CheckKeys(j, path, {"webhook_url", "webhook_url_env", "bot_token", "bot_token_env", "channel",
                                 "signing_secret", "signing_secret_env", "users", "roles", "events",
                                 "include_arguments", "api_url", "refusal_audit_per_minute", "ca_file"});
  if (!s.ok()) return s;
  c->enabled = true;
  if (!(s = ReadSecret(j, "webhook_url", path, &c->webhook_url)).ok()) return s;
  if (!(s = ReadSecret(j, "bot_token", path, &c->bot_token)).ok()) return s;
  if (!(s = ReadString(j, "channel", path, &c->channel)).ok()) return s;
  if (!(s = ReadSecret(j, "signing_secret", path, &c->signing_secret)).ok()) return s;
  if (!(s = ReadString(j, "api_url", path, &c->api_url)).ok()) return s;
  if (!(s = ReadBool(j, "include_arguments", path, &c->include_arguments)).ok()) return s;
  if (!(s = ReadString(j, "ca_file", path, &c->ca_file)).ok()) return s;
  c->ca_file = ResolvePath(c->ca_file, base_dir);
  if (!c->webhook_url.empty() && !c->bot_token.empty()) {
    return PathError(path, "give webhook_url or bot_token, not both");
  }
  if (!c->webhook_url.empty() && !(s = CheckUrl(c->webhook_url, false, path + ".webhook_url")).ok()) return s;
  while (!c->api_url.empty() && c->api_url.back() == '/') c->api_url.pop_back();
  if (!(s = CheckUrl(c->api_url + "/chat.postMessage", false, path + ".api_url")).ok()) return s;
  if (!c->signing_secret.empty() && c->signing_secret.size() < 16) {
    return PathError(path + ".signing_secret", "looks too short for a Slack signing secret");
  }
  if (auto it = j.find("refusal_audit_per_minute"); it != j.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 100000) {
      return PathError(path + ".refusal_audit_per_minute", "must be an integer from 1 to 100000");
    }
    c->refusal_audit_per_minute = static_cast<int>(it->get<int64_t>());
  }
  if (auto it = j.find("users"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return PathError(path + ".users", "must be an object {\"U123\": \"reviewer name\"}");
    for (auto u = it->begin(); u != it->end(); ++u) {
      if (!u.value().is_string() || u.value().get<std::string>().empty()) {
        return PathError(path + ".users." + u.key(), "must be a non-empty reviewer name");
      }
      c->users[u.key()] = u.value().get<std::string>();
    }
  }
  if (auto it = j.find("roles"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return PathError(path + ".roles", "must be an object {\"U123\": [\"role\", …]}");
    for (auto u = it->begin(); u != it->end(); ++u) {
      if (!u.value().is_array()) return PathError(path + ".roles." + u.key(), "must be an array of role names");
      std::vector<std::string> roles;
      for (const auto& r : u.value()) {
        if (!r.is_string()) return PathError(path + ".roles." + u.key(), "must be an array of role names");
        roles.push_back(r.get<std::string>());
      }
      if (!c->users.count(u.key())) {
        return PathError(path + ".roles." + u.key(), "names a Slack user that is not in notify.slack.users");
      }
      c->roles[u.key()] = std::move(roles);
    }
  }
  static const std::vector<std::string> kSlackDefaults = {kEventCreated, kEventApproved, kEventRejected,
                                                          kEventExpired, kEventCancelled, kEventLapsed,
                                                          kEventReminder, kEventEscalated};
  return ReadEvents(j, path, kSlackDefaults, &c->events);
}

Status ParseReminders(const Json& j, ReminderConfig* r) {
  const std::string path = "notify.reminders";
  if (!j.is_object()) return PathError(path, "must be an object");
  Status s = CheckKeys(j, path, {"after", "every", "escalate_after", "escalate_to"});
  if (!s.ok()) return s;
  if (!(s = ReadDuration(j, "after", path, &r->after_ms)).ok()) return s;
  if (!(s = ReadDuration(j, "every", path, &r->every_ms)).ok()) return s;
  if (!(s = ReadDuration(j, "escalate_after", path, &r->escalate_after_ms)).ok()) return s;
  if (r->every_ms > 0 && r->every_ms < 60'000) return PathError(path + ".every", "must be at least 1m");
  if (r->every_ms > 0 && r->after_ms == 0) r->after_ms = r->every_ms;
  if (auto it = j.find("escalate_to"); it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      r->escalate_to.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& t : *it) {
        if (!t.is_string()) return PathError(path + ".escalate_to", "must be a target or a list of targets");
        r->escalate_to.push_back(t.get<std::string>());
      }
    } else {
      return PathError(path + ".escalate_to", "must be a target such as \"webhook:oncall\" or a list of them");
    }
  }
  if (r->escalate_after_ms > 0 && r->escalate_to.empty()) {
    return PathError(path + ".escalate_to", "is required with escalate_after");
  }
  return Status::Ok();
}

Status ParseDelivery(const Json& j, DeliveryConfig* d) {
  const std::string path = "notify.delivery";
  if (!j.is_object()) return PathError(path, "must be an object");
  Status s = CheckKeys(j, path, {"poll_interval", "give_up_after", "batch", "connect_timeout", "request_timeout"});
  if (!s.ok()) return s;
  if (!(s = ReadDuration(j, "poll_interval", path, &d->poll_interval_ms)).ok()) return s;
  if (!(s = ReadDuration(j, "give_up_after", path, &d->give_up_after_ms)).ok()) return s;
  if (!(s = ReadDuration(j, "connect_timeout", path, &d->connect_timeout_ms)).ok()) return s;
  if (!(s = ReadDuration(j, "request_timeout", path, &d->request_timeout_ms)).ok()) return s;
  if (d->poll_interval_ms < 10) return PathError(path + ".poll_interval", "must be at least 10ms");
  if (d->connect_timeout_ms < 100 || d->request_timeout_ms < 100) {
    return PathError(path, "timeouts must be at least 100ms");
  }
  if (d->give_up_after_ms < 60'000) return PathError(path + ".give_up_after", "must be at least 1m");
  if (auto it = j.find("batch"); it != j.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 1000) {
      return PathError(path + ".batch", "must be an integer from 1 to 1000");
    }
    d->batch = static_cast<int>(it->get<int64_t>());
  }
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& AllEventTypes() {
  static const std::vector<std::string> kAll = {kEventCreated,   kEventReminder,  kEventEscalated,
                                                kEventApproved,  kEventRejected,  kEventExpired,
                                                kEventCancelled, kEventLapsed,   kEventExecuting,
                                                kEventCompleted, kEventFailed};
  return kAll;
}

bool IsKnownEventType(const std::string& type) {
  const auto& all = AllEventTypes();
  return std::find(all.begin(), all.end(), type) != all.end();
}

bool WebhookConfig::Subscribed(const std::string& event_type) const {
  return std::find(events.begin(), events.end(), event_type) != events.end();
}

bool SlackConfig::Subscribed(const std::string& event_type) const {
  return std::find(events.begin(), events.end(), event_type) != events.end();
}

const WebhookConfig* NotifyConfig::FindWebhook(const std::string& name) const {
  for (const auto& w : webhooks) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

Result<std::string> DecodeWebhookSecret(const std::string& secret) {
  std::string text = secret;
  if (text.rfind("whsec_", 0) == 0) text = text.substr(6);
  if (text.empty()) return InvalidArgument("the secret is empty");
  while (text.size() % 4 != 0) text += '=';  // tolerate unpadded base64
  for (char c : text) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) {
      return InvalidArgument("the secret must be \"whsec_\" followed by base64");
    }
  }
  std::string raw;
  if (!Base64Decode(text, &raw)) return InvalidArgument("the secret must be \"whsec_\" followed by base64");
  if (raw.size() < 24) {
    return InvalidArgument("the secret decodes to " + std::to_string(raw.size()) +
                           " bytes; Standard Webhooks secrets are 24 to 64 random bytes");
  }
  return raw;
}

Result<NotifyConfig> ParseNotifyConfig(const Json& notify, const std::string& base_dir) {
  NotifyConfig c;
  if (notify.is_null()) return c;
  if (!notify.is_object()) return PathError("notify", "must be an object");
  Status s = CheckKeys(notify, "notify", {"webhooks", "slack", "reminders", "delivery"});
  if (!s.ok()) return s;
  if (auto it = notify.find("webhooks"); it != notify.end() && !it->is_null()) {
    if (!it->is_array()) return PathError("notify.webhooks", "must be an array");
    std::set<std::string> names;
    for (size_t i = 0; i < it->size(); ++i) {
      WebhookConfig w;
      const std::string path = "notify.webhooks[" + std::to_string(i) + "]";
      if (!(s = ParseWebhook((*it)[i], path, base_dir, &w)).ok()) return s;
      if (!names.insert(w.name).second) return PathError(path + ".name", "duplicate webhook name " + w.name);
      c.webhooks.push_back(std::move(w));
    }
  }
  if (auto it = notify.find("slack"); it != notify.end() && !it->is_null()) {
    if (!(s = ParseSlack(*it, base_dir, &c.slack)).ok()) return s;
  }
  if (auto it = notify.find("reminders"); it != notify.end() && !it->is_null()) {
    if (!(s = ParseReminders(*it, &c.reminders)).ok()) return s;
    for (size_t i = 0; i < c.reminders.escalate_to.size(); ++i) {
      const std::string& t = c.reminders.escalate_to[i];
      const bool webhook_ok = t.rfind("webhook:", 0) == 0 && c.FindWebhook(t.substr(8)) != nullptr;
      const bool slack_ok = (t == "slack" || t.rfind("slack:", 0) == 0) && c.slack.CanPost();
      if (!webhook_ok && !slack_ok) {
        return PathError("notify.reminders.escalate_to", "names " + t + ", which is not a configured webhook or Slack");
      }
    }
  }
  if (auto it = notify.find("delivery"); it != notify.end() && !it->is_null()) {
    if (!(s = ParseDelivery(*it, &c.delivery)).ok()) return s;
  }
  return c;
}

}  // namespace holdgate::notify
