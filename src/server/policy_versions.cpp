#include "server/policy_versions.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <regex>

#include "common/clock.h"
#include "common/file_util.h"

namespace holdgate::server {
namespace {

std::string CompactUtc(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

PolicyVersion FromMeta(const std::string& id, const Json& meta) {
  PolicyVersion v;
  v.id = id;
  v.number = std::atoi(id.c_str());
  if (meta.is_object()) {
    v.at_ms = meta.value("at", int64_t{0});
    v.by = meta.value("by", "");
    v.why = meta.value("why", "");
    v.hash = meta.value("hash", "");
    v.rollback_of = meta.value("rollback_of", "");
  }
  return v;
}

}  // namespace

Json PolicyVersionJson(const PolicyVersion& v) {
  Json j{{"id", v.id}, {"number", v.number}, {"at", FormatTimeMs(v.at_ms)}, {"by", v.by},
         {"why", v.why}, {"hash", v.hash}};
  if (!v.rollback_of.empty()) j["rollback_of"] = v.rollback_of;
  return j;
}

PolicyVersions::PolicyVersions(const std::string& policy_path) : dir_(policy_path + ".versions") {}

bool PolicyVersions::ValidId(const std::string& id) {
  static const std::regex re("[0-9]{4,9}-[0-9]{8}T[0-9]{6}Z");
  return id.size() < 40 && std::regex_match(id, re);
}

Result<std::vector<PolicyVersion>> PolicyVersions::List() const {
  std::vector<PolicyVersion> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec)) return out;
  std::filesystem::directory_iterator it(dir_, ec);
  if (ec) return IoError("cannot list " + dir_ + ": " + ec.message());
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    const std::string id = name.substr(0, name.size() - 5);
    if (!ValidId(id)) continue;
    std::string meta_text;
    Json meta;
    if (ReadWholeFile(dir_ + "/" + id + ".meta", &meta_text)) meta = Json::parse(meta_text, nullptr, false);
    out.push_back(FromMeta(id, meta));
  }
  std::sort(out.begin(), out.end(), [](const PolicyVersion& a, const PolicyVersion& b) { return a.number > b.number; });
  return out;
}

Result<std::pair<PolicyVersion, std::string>> PolicyVersions::Get(const std::string& id) const {
  if (!ValidId(id)) return NotFound("no policy version " + id);
  std::string text;
  if (!ReadWholeFile(dir_ + "/" + id + ".json", &text)) return NotFound("no policy version " + id);
  std::string meta_text;
  Json meta;
  if (ReadWholeFile(dir_ + "/" + id + ".meta", &meta_text)) meta = Json::parse(meta_text, nullptr, false);
  return std::make_pair(FromMeta(id, meta), std::move(text));
}

Result<PolicyVersion> PolicyVersions::Record(const std::string& text, PolicyVersion v) {
  if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    return IoError("cannot create " + dir_ + ": " + std::strerror(errno));
  }
  auto existing = List();
  if (!existing.ok()) return existing.status();
  v.number = existing->empty() ? 1 : existing->front().number + 1;
  char num[16];
  std::snprintf(num, sizeof num, "%04d", v.number);
  v.id = std::string(num) + "-" + CompactUtc(v.at_ms);
  Json meta{{"by", v.by}, {"why", v.why}, {"at", v.at_ms}, {"hash", v.hash}};
  if (!v.rollback_of.empty()) meta["rollback_of"] = v.rollback_of;
  // The meta first: List shows a version once its text exists, and then with who and why.
  Status s = WriteFileAtomically(dir_ + "/" + v.id + ".meta", meta.dump(2) + "\n", 0640);
  if (!s.ok()) return s;
  s = WriteFileAtomically(dir_ + "/" + v.id + ".json", text, 0640);
  if (!s.ok()) return s;
  return v;
}

}  // namespace holdgate::server
