#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/) for one MCP call: parses and makes
// `traceparent` values ("00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>") and keeps the
// trace id of the call the current thread is working on, so log lines and audit events can carry
// it without every function passing it along.
//
// Thread rules: the current trace id is thread-local; a ScopedTrace sets it for its lifetime on
// the thread that made it. Work handed to another thread does not inherit it.
#include <optional>
#include <string>
#include <string_view>

namespace holdgate::trace {

struct TraceParent {
  std::string version = "00";
  std::string trace_id;   // 32 lowercase hex digits, not all zero
  std::string parent_id;  // 16 lowercase hex digits, not all zero
  std::string flags = "01";

  std::string ToString() const;  // the header value
};

// Parses a traceparent header value. Accepts version 00 exactly and, as the spec asks, higher
// versions by their first four fields; refuses version ff, wrong lengths, upper-case or non-hex
// digits and all-zero ids. nullopt for anything invalid (the caller then starts a new trace).
std::optional<TraceParent> Parse(std::string_view value);

// A new trace (random trace id and parent id, sampled flag set).
TraceParent NewTrace();

// The hop to the next service: same trace id and flags, a new random parent id (our span).
TraceParent ChildOf(const TraceParent& parent);

// The trace id the current thread is handling, or "" when none.
const std::string& CurrentTraceId();

// Sets the current thread's trace id until destroyed, then restores the previous one.
class ScopedTrace {
 public:
  explicit ScopedTrace(std::string trace_id);
  ~ScopedTrace();
  ScopedTrace(const ScopedTrace&) = delete;
  ScopedTrace& operator=(const ScopedTrace&) = delete;

 private:
  std::string previous_;
};

}  // namespace holdgate::trace
