#pragma once
// Value types of the approvals core: the approval state machine, approvals, votes, comments, and
// the inputs/outputs of the store's approval operations. Plain values; thread-compatible.
// No I/O here: the Store (store/store.h) persists them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_util.h"
#include "store/grant.h"
#include "store/outbox.h"

namespace holdgate::store {

// pending ──quorum──▶ approved ──▶ executing ──▶ completed | failed
// pending ──reject──▶ rejected   pending ──expiry──▶ expired   pending ──cancel──▶ cancelled
// approved ──not released within use_within──▶ lapsed
enum class State {
  kPending, kApproved, kExecuting, kCompleted, kFailed, kRejected, kExpired, kCancelled, kLapsed
};

// "pending", "approved", … (the spelling stored in SQLite and shown in the API).
const char* StateName(State state);
// Inverse of StateName; returns false (and leaves *out alone) on an unknown name.
bool ParseState(std::string_view name, State* out);
// No transition leaves a terminal state: completed, failed, rejected, expired, cancelled, lapsed.
bool IsTerminal(State state);
// Every state but pending and executing: a held call waiting on the approval can be answered.
// (approved releases the call; the others end it.)
bool IsDecided(State state);

// SHA-256 hex of CanonicalJson({"arguments": arguments, "tool": tool}). An approval is bound to
// this fingerprint and to the requesting principal.
std::string Fingerprint(std::string_view tool, const Json& arguments);

// Whether two identities name the same person or agent: compared after trimming white space and
// folding ASCII case, so "Agent-A" cannot approve the call of "agent-a". Used for self-approval
// and for "this reviewer already voted".
bool SameIdentity(std::string_view a, std::string_view b);

// Surfaces a reviewer may decide from. Votes from anything else are refused.
bool IsValidVia(std::string_view via);  // "api" | "cli" | "ui" | "slack"

struct Vote {
  std::string approval_id;
  std::string reviewer;
  bool approve = false;  // stored as 'approve' | 'reject'
  std::string via;
  std::string reason;
  int64_t at_ms = 0;
};

struct Comment {
  int64_t id = 0;
  std::string approval_id;
  std::string author;
  std::string body;
  int64_t at_ms = 0;
};

struct Approval {
  std::string id;  // "apr_" + 12 hex digits of created_at_ms + 20 random hex: sorts by creation
  std::string principal;
  std::string session_id;
  std::string tool;
  Json arguments;  // as requested; stored as canonical JSON
  std::string fingerprint;
  std::string rule;
  Json risk;  // whatever the policy attached (object or null)
  State state = State::kPending;
  int approvers_needed = 1;
  // Who may decide: {"roles": [...], "names": [...]}; null or both empty = any reviewer except
  // the principal. A reviewer qualifies when their name is in names OR one of their roles in roles.
  Json reviewers;
  bool editable = false;
  Json edited_arguments;   // null unless a reviewer edited the arguments while approving
  std::string on_timeout;  // "reject" (the only value: expiry never approves)
  Json notify;             // notify targets copied from the policy (for the notifier)
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;  // 0 = never expires
  // An approved call must be released within this long after the decision, else it lapses;
  // 0 = no limit (approvals written before use_within existed).
  int64_t use_within_ms = 0;
  int64_t decided_at_ms = 0;  // 0 while pending
  std::string decided_by;     // reviewer name, or "holdgate" for expiry / crash recovery
  std::string decided_via;    // api|cli|ui|slack, "system" for expiry/recovery, "agent" for cancel
  std::string reason;         // reject reason, expiry/cancel/failure explanation
  Json result;                // upstream result (completed) or error (failed); null before
  bool agent_left = false;    // the agent's held request went away (reviewers see it)
  std::string trace_id;       // W3C trace id of the agent's call that created it; "" = untraced
  std::string rule_reason;    // the rule's reason: why the policy holds this call (shown to reviewers)
  // How the rule lets an approval be remembered (a grant, store/grant.h): at most this long,
  // 0 = not rememberable; remember_any_arguments: a grant may cover any arguments.
  int64_t remember_max_ms = 0;
  bool remember_any_arguments = false;
  int64_t updated_at_ms = 0;
  std::vector<Vote> votes;  // oldest first; filled by Get/List/Decide

  // The arguments to send upstream: edited_arguments when a reviewer edited them, else arguments.
  const Json& EffectiveArguments() const;
  // When an approved call lapses (decided_at + use_within), or 0 when it cannot lapse.
  int64_t UseByMs() const;
  int ApprovalsSoFar() const;  // number of approve votes
};

// What the agent is told when `approval` ended without running the call (rejected, expired,
// cancelled, lapsed): "Not executed…" with the reason, never "retry later". The gateway answers
// with it and the review API shows it as what the agent was told.
std::string NotExecutedText(const Approval& approval);

// SQL condition (no placeholders) selecting an approval's state-changing audit events: every
// "approval.*" type but vote, comment, agent_left and release_failed.
inline constexpr char kTransitionEventWhere[] =
    "substr(type, 1, 9) = 'approval.' AND type NOT IN ('approval.vote', 'approval.comment', "
    "'approval.agent_left', 'approval.release_failed')";
// `now` (the approval as it is) rolled back to just after one of its audit events, at `event_ts`:
// the state the newest state-changing event up to it (`last_transition`; empty or unknown keeps
// now.state) left, the first `votes_cast` votes (one "approval.vote" event each, votes oldest
// first), and no decision or result fields the approval did not have yet. Later flags
// (agent_left, edits) are kept as they are now. Pure.
Approval ApprovalAsOfEvent(const Approval& now, const std::string& last_transition, size_t votes_cast,
                           int64_t event_ts);

struct NewApproval {
  std::string principal;  // REQUIRES: non-empty
  std::string session_id;
  std::string tool;  // REQUIRES: non-empty
  Json arguments = Json::object();
  std::string rule;
  Json risk;
  int approvers_needed = 1;  // REQUIRES: >= 1
  Json reviewers;            // see Approval::reviewers
  bool editable = false;
  std::string on_timeout = "reject";  // "" means "reject"; anything else is kInvalidArgument
  int64_t timeout_ms = 0;             // 0 = never expires; expires_at = now + timeout_ms
  int64_t use_within_ms = 0;          // 0 = an approval never lapses; see Approval::use_within_ms
  // Refuse (kResourceExhausted) when `principal` already has this many pending approvals; checked
  // in the creating transaction, so concurrent creations cannot exceed it. 0 = no cap.
  int max_pending_for_principal = 0;
  std::string trace_id;  // the creating call's W3C trace id; every event of the approval carries it
  std::string rule_reason;            // see Approval::rule_reason
  int64_t remember_max_ms = 0;        // see Approval::remember_max_ms; REQUIRES: >= 0
  bool remember_any_arguments = false;
  Json notify;
  // Written in the same transaction as the approval (approval_id is filled in by the store).
  std::vector<NewOutboxRow> outbox;
};

struct DecisionInput {
  std::string id;
  std::string reviewer;            // REQUIRES: non-empty (authenticated identity)
  std::vector<std::string> roles;  // the reviewer's roles (from their token)
  std::string via;                 // api|cli|ui|slack
  // Where `via` came from, recorded with the vote ("slack-signature", "client-header"); optional.
  std::string via_source;
  bool approve = false;
  std::string reason;  // REQUIRED (non-empty) to reject
  // Optional edit (approve only, approval must be `editable`). With a quorum > 1 an edit is only
  // accepted from the first approver, or when identical to the edit already made, so every
  // approver approved the same arguments.
  std::optional<Json> edited_arguments;
  std::vector<NewOutboxRow> outbox;  // written in the same transaction if the vote is recorded
};

// What Store::FindOrCreatePending did: reused an identical call's approval, or created one.
struct PendingFor {
  Approval approval;
  bool created = false;
};

// What Decide really did. Errors are returned as a Status instead:
//   kNotFound          no such approval
//   kPermissionDenied  the reviewer is the approval's principal (approve), or not allowed by
//                      `reviewers`
//   kInvalidArgument   reject without a reason, bad via, edit of a non-editable approval
//   kConflict          the approval is no longer pending and this reviewer never voted on it;
//                      message like "already rejected by bob at 2026-…Z via ui: too risky"
//                      (also "expired at …" when it was overdue: Decide then expires it).
struct DecisionOutcome {
  bool changed = false;  // a vote was recorded (false: this reviewer had already voted)
  State state = State::kPending;  // the approval's state afterwards
  int approvals_so_far = 0;
  int approvals_needed = 1;
  std::string message;  // human-readable: "approved (2 of 2)", "vote recorded (1 of 2)", …
  Approval approval;    // the approval afterwards
  // Set by review::DecisionService when the reviewer asked to remember the approval: the grant
  // made, or why none was (the approval itself stands).
  std::optional<Grant> grant;
  std::string grant_error;
};

struct ApprovalFilter {
  std::vector<State> states;  // empty = any
  std::string tool;           // exact match; empty = any
  std::string principal;      // exact match; empty = any
  int64_t created_from_ms = 0;  // inclusive; 0 = unbounded
  int64_t created_to_ms = 0;    // exclusive; 0 = unbounded
  int limit = 50;               // clamped to [1, 500]
  std::string cursor;           // next_cursor of the previous page; empty = first page
};

// Newest first (id DESC, i.e. creation time, ties in random order). Rows created after the first
// page never appear in later pages; every older row appears exactly once. next_cursor is empty on
// the last page.
struct ApprovalPage {
  std::vector<Approval> approvals;
  std::string next_cursor;
};

// One approval change, delivered to listeners after commit and replayable by EventsSince.
struct ChangeEvent {
  int64_t seq = 0;   // the audit event's seq: strictly increasing, usable as an SSE event id
  std::string type;  // "approval.created", ".vote", ".approved", ".rejected", ".expired",
                     // ".cancelled", ".lapsed", ".executing", ".completed", ".failed",
                     // ".agent_left", ".release_failed", ".comment"
  int64_t ts_ms = 0;
  std::string actor;
  Approval approval;  // live feed: the approval right after this change; EventsSince: the
                      // approval rolled back to this event (state, votes, decision and result as
                      // they were then; flags such as agent_left as they are now)
};

}  // namespace holdgate::store
