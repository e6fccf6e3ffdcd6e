#pragma once
// Clock: the only source of "now" for expiry, rate windows, reminders and audit timestamps, so
// tests inject a fake clock instead of sleeping. Implementations must be thread-safe.
#include <chrono>
#include <cstdint>
#include <string>

namespace holdgate {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  static const SystemClock& Instance();
};

// RFC 3339 UTC with milliseconds, e.g. "2026-11-25T13:11:54.123Z".
std::string FormatTimeMs(int64_t epoch_ms);
// The shortest exact spelling in the units ParseDurationMs reads: "10m", "90s", "1500ms", "2d".
std::string FormatDuration(int64_t ms);
// Parses durations such as "30m", "50s", "2h", "1d", "500ms" or a bare number of seconds.
// Returns -1 on malformed input.
int64_t ParseDurationMs(const std::string& text);

}  // namespace holdgate
