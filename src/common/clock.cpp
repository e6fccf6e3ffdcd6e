#include "common/clock.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace holdgate {

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

std::string FormatTimeMs(int64_t epoch_ms) {
  time_t secs = static_cast<time_t>(epoch_ms / 1000);
  int ms = static_cast<int>(epoch_ms % 1000);
  if (ms < 0) { ms += 1000; secs -= 1; }
  struct tm tm_utc;
  gmtime_r(&secs, &tm_utc);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm_utc.tm_year + 1900,
                tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec, ms);
  return buf;
}

std::string FormatDuration(int64_t ms) {
  if (ms % 86'400'000 == 0 && ms > 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms % 3'600'000 == 0 && ms > 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms > 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

int64_t ParseDurationMs(const std::string& text) {
  if (text.empty()) return -1;
  size_t i = 0;
  int64_t number = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    number = number * 10 + (text[i] - '0');
    if (number > (int64_t{1} << 40)) return -1;
    ++i;
  }
  if (i == 0) return -1;
  std::string unit = text.substr(i);
  if (unit.empty() || unit == "s") return number * 1000;
  if (unit == "ms") return number;
  if (unit == "m") return number * 60 * 1000;
  if (unit == "h") return number * 3600 * 1000;
  if (unit == "d") return number * 86400 * 1000;
  return -1;
}

}  // namespace holdgate
