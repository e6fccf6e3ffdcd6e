#pragma once
// Outbox rows: notifications written in the same transaction as the approval change that causes
// them, delivered later by the notifier (notify/). Plain values; thread-compatible.
//
// Row life: pending ──claim──▶ delivering ──▶ delivered
//                    ▲             │ MarkOutboxFailed(give_up=false): back to pending, later
//                    └─────────────┘ MarkOutboxFailed(give_up=true): dead
// A delivering row whose claim lease ran out (worker crashed) is claimable again.
// RequeueOutbox puts any row (delivered or dead included) back to pending, due now: "replay".
#include <cstdint>
#include <string>
#include <string_view>

#include "common/json_util.h"

namespace holdgate::store {

enum class OutboxState { kPending, kDelivering, kDelivered, kDead };
const char* OutboxStateName(OutboxState state);
bool ParseOutboxState(std::string_view name, OutboxState* out);

struct NewOutboxRow {
  std::string event_type;  // e.g. "approval.created"
  std::string target;      // e.g. "webhook:ops" / "slack:#approvals"; meaning is the notifier's
  Json payload;            // the body to deliver
  int64_t deliver_at_ms = 0;  // 0 = now
  // EnqueueOutbox only: ties a row written outside an approval change (a reminder, a card
  // update) to its approval, for the per-approval order and the delivery log. Empty = none.
  std::string approval_id;
};

struct OutboxRow {
  int64_t id = 0;
  std::string approval_id;  // empty for rows not tied to an approval
  std::string event_type;
  std::string target;
  Json payload;
  OutboxState state = OutboxState::kPending;
  int attempts = 0;  // claims so far
  int64_t next_attempt_at_ms = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string last_status;  // e.g. "200", "timeout", "410 gone"
};

struct OutboxFilter {
  bool any_state = true;
  OutboxState state = OutboxState::kPending;  // used when !any_state
  std::string approval_id;                    // empty = any
  std::string target;                         // empty = any
  int limit = 100;                            // clamped to [1, 1000]
  int64_t after_id = 0;                       // paging: rows with id > after_id, oldest first
};

}  // namespace holdgate::store
