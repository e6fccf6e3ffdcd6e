#include "store/outbox.h"

namespace holdgate::store {

const char* OutboxStateName(OutboxState state) {
  switch (state) {
    case OutboxState::kPending: return "pending";
    case OutboxState::kDelivering: return "delivering";
    case OutboxState::kDelivered: return "delivered";
    case OutboxState::kDead: return "dead";
  }
  return "unknown";
}

bool ParseOutboxState(std::string_view name, OutboxState* out) {
  for (OutboxState s : {OutboxState::kPending, OutboxState::kDelivering, OutboxState::kDelivered,
                        OutboxState::kDead}) {
    if (name == OutboxStateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

}  // namespace holdgate::store
