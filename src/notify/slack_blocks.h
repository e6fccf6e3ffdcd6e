#pragma once
// Slack Block Kit messages about an approval: the "approval needed" card (header; fields for tool,
// principal, risk, rule, expiry as Slack date formatting with a countdown, approvals; the
// arguments in a code block, truncated; a reason box; Approve / Reject / review-page buttons) and
// the outcome card that replaces it once decided. The card shows the rule's reason ("Why held")
// and, where the rule lets the approval be remembered, a "Remember" choice beside the buttons.
// Expiry is a Slack date (each reader sees it in their own time zone); no relative countdown is
// printed, since a posted card cannot keep one current. Pure functions; thread-safe.
//
// Interaction contract (what /slack/actions reads back):
//   buttons  action_id "holdgate_approve" / "holdgate_reject", value = the approval id;
//            "holdgate_open" is a link button (Slack still posts a block_actions for it: ignored)
//   reason   input block_id "holdgate_reason", element action_id "holdgate_reason_input"
//            (read from payload.state.values; required to reject)
#include <cstdint>
#include <string>
#include <string_view>

#include "common/json_util.h"
#include "store/approval.h"

namespace holdgate::notify {

inline constexpr char kSlackApproveAction[] = "holdgate_approve";
inline constexpr char kSlackRejectAction[] = "holdgate_reject";
inline constexpr char kSlackOpenAction[] = "holdgate_open";
inline constexpr char kSlackReasonBlock[] = "holdgate_reason";
inline constexpr char kSlackReasonAction[] = "holdgate_reason_input";
// "Remember" choice on a rememberable card: a static_select in block kSlackRememberBlock whose
// selected option's value is a duration ("30m"), or "no"; read from payload.state.values when
// Approve is pressed.
inline constexpr char kSlackRememberBlock[] = "holdgate_remember";
inline constexpr char kSlackRememberAction[] = "holdgate_remember_for";
inline constexpr size_t kSlackArgumentsMaxChars = 1500;

// Slack's mrkdwn escaping: & < > become &amp; &lt; &gt; (nothing else is escaped).
std::string SlackEscape(std::string_view text);

// At most `max_chars` UTF-8 code points of `text`, never splitting a sequence.
std::string TruncateUtf8(std::string_view text, size_t max_chars);

// The arguments as an escaped code block: pretty JSON, escaped, cut to max_chars characters (never
// inside an entity), runs of backticks broken so the block cannot be closed early, and a note
// saying how much was cut.
std::string SlackArgumentsBlock(const Json& arguments, size_t max_chars = kSlackArgumentsMaxChars);

// Slack date formatting: "<!date^SECONDS^{date_short_pretty} {time}|RFC 3339 fallback>".
std::string SlackDate(int64_t epoch_ms);

// "in 9m 59s" / "overdue" relative to now_ms.
std::string Countdown(int64_t until_ms, int64_t now_ms);

struct SlackRender {
  std::string review_url;  // the review page of this approval (full link)
  bool include_arguments = true;
  int64_t now_ms = 0;
  std::string event_type;  // approval.created / .reminder / .escalated / decided events
  int reminder = 0;        // reminder number (approval.reminder)
  std::string note;        // an extra context line (e.g. "Escalated: pending for 20m")
};

// The message body ({"text", "blocks"}) for `approval` in its current state: with buttons while
// pending, the outcome (no buttons) once decided.
Json SlackMessage(const store::Approval& approval, const SlackRender& render);

// A reply visible only to the clicking user, through response_url.
Json SlackEphemeral(const std::string& text);

}  // namespace holdgate::notify
