#include "store/approval.h"

#include <array>

#include "common/clock.h"
#include "common/crypto.h"

namespace holdgate::store {
namespace {

struct StateSpelling {
  State state;
  const char* name;
};

constexpr std::array<StateSpelling, 9> kStates = {{
    {State::kPending, "pending"},
    {State::kApproved, "approved"},
    {State::kExecuting, "executing"},
    {State::kCompleted, "completed"},
    {State::kFailed, "failed"},
    {State::kRejected, "rejected"},
    {State::kExpired, "expired"},
    {State::kCancelled, "cancelled"},
    {State::kLapsed, "lapsed"},
}};

}  // namespace

const char* StateName(State state) {
  for (const auto& s : kStates) {
    if (s.state == state) return s.name;
  }
  return "unknown";
}

bool ParseState(std::string_view name, State* out) {
  for (const auto& s : kStates) {
    if (name == s.name) {
      *out = s.state;
      return true;
    }
  }
  return false;
}

bool IsTerminal(State state) {
  switch (state) {
    case State::kCompleted:
    case State::kFailed:
    case State::kRejected:
    case State::kExpired:
    case State::kCancelled:
    case State::kLapsed:
      return true;
    case State::kPending:
    case State::kApproved:
    case State::kExecuting:
      return false;
  }
  return false;
}

bool IsDecided(State state) { return state != State::kPending && state != State::kExecuting; }

std::string Fingerprint(std::string_view tool, const Json& arguments) {
  Json bound = Json::object();
  bound["tool"] = std::string(tool);
  bound["arguments"] = arguments;
  return Sha256Hex(CanonicalJson(bound));
}

bool SameIdentity(std::string_view a, std::string_view b) {
  auto trim = [](std::string_view v) {
    const size_t begin = v.find_first_not_of(" \t\r\n");
    if (begin == std::string_view::npos) return std::string_view();
    return v.substr(begin, v.find_last_not_of(" \t\r\n") - begin + 1);
  };
  a = trim(a);
  b = trim(b);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

bool IsValidVia(std::string_view via) {
  return via == "api" || via == "cli" || via == "ui" || via == "slack";
}

const Json& Approval::EffectiveArguments() const {
  return edited_arguments.is_null() ? arguments : edited_arguments;
}

std::string NotExecutedText(const Approval& a) {
  switch (a.state) {
    case State::kRejected:
      return "Not executed; do not retry. A human reviewer (" + a.decided_by + ") rejected the call to " + a.tool +
             " (approval " + a.id + "). Reason: " + a.reason;
    case State::kExpired:
      return "Not executed; do not retry. Nobody approved the call to " + a.tool + " before approval " + a.id +
             " expired at " + FormatTimeMs(a.expires_at_ms) + ", and the policy rejects calls that time out.";
    case State::kCancelled:
      return "Not executed. The approval request " + a.id + " for " + a.tool + " was cancelled: " + a.reason;
    case State::kLapsed:
      return "Not executed. Approval " + a.id + " for " + a.tool + " was granted but lapsed: " + a.reason;
    default:
      return "Not executed. Approval " + a.id + " is " + StateName(a.state) + ".";
  }
}

int64_t Approval::UseByMs() const {
  return use_within_ms > 0 && decided_at_ms > 0 ? decided_at_ms + use_within_ms : 0;
}

int Approval::ApprovalsSoFar() const {
  int n = 0;
  for (const Vote& v : votes) n += v.approve ? 1 : 0;
  return n;
}

namespace {

// The approval's state right after the transition event `type`; false for other events.
bool StateAfter(const std::string& type, State* out) {
  static const std::pair<const char*, State> kTransitions[] = {
      {"approval.created", State::kPending},     {"approval.approved", State::kApproved},
      {"approval.rejected", State::kRejected},   {"approval.expired", State::kExpired},
      {"approval.cancelled", State::kCancelled}, {"approval.lapsed", State::kLapsed},
      {"approval.executing", State::kExecuting}, {"approval.completed", State::kCompleted},
      {"approval.failed", State::kFailed}};
  for (const auto& [name, state] : kTransitions) {
    if (type == name) {
      *out = state;
      return true;
    }
  }
  return false;
}

}  // namespace

Approval ApprovalAsOfEvent(const Approval& now, const std::string& last_transition, size_t votes_cast,
                           int64_t event_ts) {
  State state = now.state;
  State after;
  if (StateAfter(last_transition, &after)) state = after;
  Approval a = now;
  a.state = state;
  if (state != now.state) a.updated_at_ms = event_ts;
  if (votes_cast < a.votes.size()) a.votes.resize(votes_cast);
  if (state == State::kPending) {
    a.decided_at_ms = 0;
    a.decided_by.clear();
    a.decided_via.clear();
    a.reason.clear();
    a.edited_arguments = Json();
  }
  if (state != State::kCompleted && state != State::kFailed) a.result = Json();
  return a;
}

}  // namespace holdgate::store
