#pragma once
// Bench harness: latency samples and percentiles, and what /proc says about the processes under
// test (RSS, threads, CPU seconds over a whole process tree) and about the machine (load average).
// Samples is single-threaded; the /proc readers are stateless and thread-safe.
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace holdgate::bench {

struct Percentiles {
  size_t count = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
};

class Samples {
 public:
  void Add(int64_t ns) { ns_.push_back(ns); }
  void Append(const Samples& other) { ns_.insert(ns_.end(), other.ns_.begin(), other.ns_.end()); }
  size_t size() const { return ns_.size(); }
  void Clear() { ns_.clear(); }
  void Reserve(size_t n) { ns_.reserve(n); }

  // Nearest-rank percentiles.
  Percentiles Summary() const {
    Percentiles p;
    p.count = ns_.size();
    if (ns_.empty()) return p;
    std::vector<int64_t> v = ns_;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
      size_t rank = static_cast<size_t>(q * static_cast<double>(v.size()) + 0.999999);
      rank = std::clamp<size_t>(rank, 1, v.size());
      return static_cast<double>(v[rank - 1]) / 1e6;
    };
    p.p50_ms = at(0.50);
    p.p99_ms = at(0.99);
    p.p999_ms = at(0.999);
    p.max_ms = static_cast<double>(v.back()) / 1e6;
    double sum = 0;
    for (int64_t x : v) sum += static_cast<double>(x);
    p.mean_ms = sum / static_cast<double>(v.size()) / 1e6;
    return p;
  }

 private:
  std::vector<int64_t> ns_;
};

struct ProcStatus {
  bool ok = false;
  double rss_mib = 0;
  double hwm_mib = 0;
  double vm_mib = 0;
  long threads = 0;
};

inline ProcStatus ReadProcStatus(pid_t pid) {
  ProcStatus s;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    auto value = [&](const char* key) { return std::atof(line.c_str() + std::string(key).size()); };
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mib = value("VmRSS:") / 1024.0, s.ok = true;
    else if (line.rfind("VmHWM:", 0) == 0) s.hwm_mib = value("VmHWM:") / 1024.0;
    else if (line.rfind("VmSize:", 0) == 0) s.vm_mib = value("VmSize:") / 1024.0;
    else if (line.rfind("Threads:", 0) == 0) s.threads = std::atol(line.c_str() + 8);
  }
  return s;
}

// user+system CPU seconds of one process (all its threads), from /proc/PID/stat.
inline double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // After "pid (comm) ": field 3 is state; utime is field 14, stime field 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// `pid` and all its descendants.
inline std::vector<pid_t> ProcessTree(pid_t pid) {
  std::vector<pid_t> out = {pid};
  for (size_t i = 0; i < out.size(); ++i) {
    std::error_code ec;
    for (auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(out[i]) + "/task", ec)) {
      std::ifstream in(task.path() / "children");
      pid_t child;
      while (in >> child) {
        if (std::find(out.begin(), out.end(), child) == out.end()) out.push_back(child);
      }
    }
  }
  return out;
}

inline double TreeCpuSeconds(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t p : pids) sum += ProcessCpuSeconds(p);
  return sum;
}

// CPU seconds this process (the load generator) used so far.
inline double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct LoadAverage {
  double one = 0, five = 0, fifteen = 0;
};

inline LoadAverage ReadLoadAverage() {
  LoadAverage l;
  std::ifstream in("/proc/loadavg");
  in >> l.one >> l.five >> l.fifteen;
  return l;
}

// Raises the soft open-files limit to the hard limit; returns the new soft limit.
inline rlim_t RaiseOpenFilesLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

}  // namespace holdgate::bench
