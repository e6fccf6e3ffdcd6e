#include "demo/counters.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "common/log.h"

namespace holdgate::demo {
namespace {

const char* const kFieldNames[Counters::kFieldCount] = {
    "cancel_job_calls", "jobs_cancelled", "jobs_completed",   "jobs_started",
    "requests_cancelled", "slow_echo_completed", "tools_call_total",
};

}  // namespace

Counters::Counters(std::string path) : path_(std::move(path)) {}

void Counters::Bump(Field field) {
  values_[field].fetch_add(1, std::memory_order_relaxed);
  Flush();
}

int64_t Counters::Get(Field field) const { return values_[field].load(std::memory_order_relaxed); }

Json Counters::ToJson() const {
  Json out = Json::object();
  for (int i = 0; i < kFieldCount; ++i) out[kFieldNames[i]] = values_[i].load(std::memory_order_relaxed);
  return out;
}

void Counters::Flush() {
  if (path_.empty()) return;
  std::lock_guard<std::mutex> lock(file_mu_);
  std::string text = DumpJson(ToJson()) + "\n";
  std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.good()) {
      log::Warn("counters file write failed", {{"path", tmp}});
      return;
    }
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    log::Warn("counters file rename failed", {{"path", path_}});
  }
}

}  // namespace holdgate::demo
