#include "store/approval.h"

#include <array>

#include "common/crypto.h"

namespace holdgate::store {
namespace {

struct StateSpelling {
  State state;
  const char* name;
};

constexpr std::array<StateSpelling, 8> kStates = {{
    {State::kPending, "pending"},
    {State::kApproved, "approved"},
    {State::kExecuting, "executing"},
    {State::kCompleted, "completed"},
    {State::kFailed, "failed"},
    {State::kRejected, "rejected"},
    {State::kExpired, "expired"},
    {State::kCancelled, "cancelled"},
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

bool IsValidVia(std::string_view via) {
  return via == "api" || via == "cli" || via == "ui" || via == "slack";
}

const Json& Approval::EffectiveArguments() const {
  return edited_arguments.is_null() ? arguments : edited_arguments;
}

int Approval::ApprovalsSoFar() const {
  int n = 0;
  for (const Vote& v : votes) n += v.approve ? 1 : 0;
  return n;
}

}  // namespace holdgate::store
