#include "common/trace.h"

#include <algorithm>

#include "common/crypto.h"

namespace holdgate::trace {
namespace {

thread_local std::string t_current;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// Random hex digits from RAND_bytes, drawn a few hundred at a time per thread: a new trace takes
// 48 per call, and each RAND_bytes call costs two system calls (its fork check) besides the
// generator. Nothing here runs in a forked child (holdgate forks only to exec upstream servers).
std::string NonZeroRandomHex(size_t bytes) {
  constexpr size_t kBatchBytes = 256;
  thread_local std::string pool;
  thread_local size_t used = 0;
  std::string id;
  do {
    if (pool.size() - used < 2 * bytes) {
      pool = RandomHex(std::max(kBatchBytes, bytes));
      used = 0;
    }
    id.assign(pool, used, 2 * bytes);
    used += 2 * bytes;
  } while (AllZero(id));
  return id;
}

}  // namespace

std::string TraceParent::ToString() const { return version + "-" + trace_id + "-" + parent_id + "-" + flags; }

std::optional<TraceParent> Parse(std::string_view value) {
  // version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2) = 55 characters; a future version
  // may append "-..." after that.
  if (value.size() < 55) return std::nullopt;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;
  TraceParent tp;
  tp.version = std::string(value.substr(0, 2));
  tp.trace_id = std::string(value.substr(3, 32));
  tp.parent_id = std::string(value.substr(36, 16));
  tp.flags = std::string(value.substr(53, 2));
  if (!IsLowerHex(tp.version) || !IsLowerHex(tp.trace_id) || !IsLowerHex(tp.parent_id) || !IsLowerHex(tp.flags)) {
    return std::nullopt;
  }
  if (tp.version == "ff" || AllZero(tp.trace_id) || AllZero(tp.parent_id)) return std::nullopt;
  if (tp.version == "00" && value.size() != 55) return std::nullopt;
  if (tp.version != "00" && value.size() > 55 && value[55] != '-') return std::nullopt;
  tp.version = "00";  // we speak (and forward) version 00
  return tp;
}

TraceParent NewTrace() {
  TraceParent tp;
  tp.trace_id = NonZeroRandomHex(16);
  tp.parent_id = NonZeroRandomHex(8);
  return tp;
}

TraceParent ChildOf(const TraceParent& parent) {
  TraceParent tp = parent;
  tp.parent_id = NonZeroRandomHex(8);
  return tp;
}

const std::string& CurrentTraceId() { return t_current; }

ScopedTrace::ScopedTrace(std::string trace_id) : previous_(std::move(t_current)) { t_current = std::move(trace_id); }

ScopedTrace::~ScopedTrace() { t_current = std::move(previous_); }

}  // namespace holdgate::trace
