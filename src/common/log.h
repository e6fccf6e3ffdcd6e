#pragma once
// Structured logging: one JSON object per line on stderr (stdout is reserved for MCP over stdio).
// Thread-safe; each call writes one whole line. Writes block only on stderr itself.
#include <nlohmann/json.hpp>
#include <string_view>

namespace holdgate::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };

void SetLevel(Level level);
Level GetLevel();
bool ParseLevel(std::string_view text, Level* out);

// Emits {"ts":…,"level":…,"msg":…, "trace_id":…, ...fields}. `fields` must be an object (or
// null); trace_id is the calling thread's trace::CurrentTraceId(), left out when there is none.
void Write(Level level, std::string_view msg, const nlohmann::json& fields = nullptr);

inline void Debug(std::string_view m, const nlohmann::json& f = nullptr) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, const nlohmann::json& f = nullptr) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, const nlohmann::json& f = nullptr) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, const nlohmann::json& f = nullptr) { Write(Level::kError, m, f); }

}  // namespace holdgate::log
