#include "notify/slack_blocks.h"

#include <algorithm>

#include "common/clock.h"
#include "common/upstream_names.h"
#include "notify/payloads.h"

namespace holdgate::notify {
namespace {

// Slack limits (Block Kit reference): header text 150, section text 3000, field text 2000,
// button text 75.
constexpr size_t kHeaderMax = 150;
constexpr size_t kFieldMax = 1900;
constexpr size_t kSectionMax = 2900;

Json PlainText(const std::string& text, size_t max_chars) {
  return Json{{"type", "plain_text"}, {"text", TruncateUtf8(text, max_chars)}, {"emoji", true}};
}

Json Mrkdwn(const std::string& text) { return Json{{"type", "mrkdwn"}, {"text", text}}; }

Json Field(const std::string& label, const std::string& escaped_value) {
  std::string v = escaped_value.empty() ? "—" : escaped_value;
  return Mrkdwn("*" + label + "*\n" + TruncateUtf8(v, kFieldMax));
}

// Cuts escaped text without leaving half an entity at the end.
std::string CutEscaped(const std::string& escaped, size_t max_chars) {
  std::string cut = TruncateUtf8(escaped, max_chars);
  if (cut.size() == escaped.size()) return cut;
  const size_t amp = cut.rfind('&');
  if (amp != std::string::npos && cut.find(';', amp) == std::string::npos) cut.resize(amp);
  return cut;
}

std::string Title(const store::Approval& a, const SlackRender& r) {
  switch (a.state) {
    case store::State::kPending:
      if (r.event_type == "approval.escalated") return "Escalated: approval needed for " + a.tool;
      if (r.event_type == "approval.reminder") return "Reminder: approval needed for " + a.tool;
      return "Approval needed: " + a.tool;
    case store::State::kApproved: return "Approved: " + a.tool;
    case store::State::kExecuting: return "Approved, running: " + a.tool;
    case store::State::kCompleted: return "Approved and completed: " + a.tool;
    case store::State::kFailed: return "Approved, but failed: " + a.tool;
    case store::State::kRejected: return "Rejected: " + a.tool;
    case store::State::kExpired: return "Expired without a decision: " + a.tool;
    case store::State::kCancelled: return "Cancelled: " + a.tool;
    case store::State::kLapsed: return "Approved, but lapsed unused: " + a.tool;
  }
  return a.tool;
}

std::string VotesText(const store::Approval& a) {
  std::string out;
  for (const auto& v : a.votes) {
    if (!out.empty()) out += ", ";
    out += SlackEscape(v.reviewer) + (v.approve ? " approved" : " rejected") + " via " + SlackEscape(v.via);
  }
  return out;
}

}  // namespace

std::string SlackEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string TruncateUtf8(std::string_view text, size_t max_chars) {
  size_t chars = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (chars == max_chars) return std::string(text.substr(0, i));
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + len > text.size()) len = text.size() - i;
    i += len;
    ++chars;
  }
  return std::string(text);
}

std::string SlackArgumentsBlock(const Json& arguments, size_t max_chars) {
  const std::string pretty = arguments.dump(2, ' ', false, Json::error_handler_t::replace);
  std::string escaped = SlackEscape(pretty);
  // Break runs of backticks with a zero-width space so "```" inside a value cannot end the block.
  std::string safe;
  safe.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    safe += escaped[i];
    if (escaped[i] == '`' && i + 1 < escaped.size() && escaped[i + 1] == '`') safe += "\u200b";
  }
  std::string shown = CutEscaped(safe, max_chars);
  std::string out = "```" + shown + "```";
  if (shown.size() < safe.size()) {
    out += "\n_(truncated: " + std::to_string(pretty.size()) + " bytes in all; the review page shows everything)_";
  }
  return out;
}

std::string SlackDate(int64_t epoch_ms) {
  return "<!date^" + std::to_string(epoch_ms / 1000) + "^{date_short_pretty} {time}|" + FormatTimeMs(epoch_ms) + ">";
}

std::string Countdown(int64_t until_ms, int64_t now_ms) {
  int64_t left = (until_ms - now_ms) / 1000;
  if (left <= 0) return "overdue";
  const int64_t d = left / 86400, h = (left % 86400) / 3600, m = (left % 3600) / 60, s = left % 60;
  std::string out = "in ";
  if (d > 0) out += std::to_string(d) + "d " + std::to_string(h) + "h";
  else if (h > 0) out += std::to_string(h) + "h " + std::to_string(m) + "m";
  else if (m > 0) out += std::to_string(m) + "m " + std::to_string(s) + "s";
  else out += std::to_string(s) + "s";
  return out;
}

Json SlackMessage(const store::Approval& a, const SlackRender& r) {
  const bool pending = a.state == store::State::kPending;
  const std::string title = Title(a, r);
  Json blocks = Json::array();
  blocks.push_back({{"type", "header"}, {"text", PlainText(title, kHeaderMax)}});

  Json fields = Json::array();
  fields.push_back(Field("Tool", "`" + SlackEscape(a.tool) + "`"));
  if (std::string upstream = GlobalUpstreamNames().Of(a.tool); !upstream.empty()) {
    fields.push_back(Field("Upstream", SlackEscape(upstream)));
  }
  fields.push_back(Field("Principal", SlackEscape(a.principal)));
  fields.push_back(Field("Risk", SlackEscape(RiskText(a.risk))));
  fields.push_back(Field("Rule", SlackEscape(a.rule)));
  if (pending) {
    fields.push_back(Field("Expires", a.expires_at_ms > 0 ? SlackDate(a.expires_at_ms) : "never"));
    fields.push_back(Field("Approvals", std::to_string(a.ApprovalsSoFar()) + " of " +
                                            std::to_string(a.approvers_needed)));
  } else {
    std::string by = a.decided_by.empty() ? "" : SlackEscape(a.decided_by);
    if (!a.decided_via.empty()) by += " via " + SlackEscape(a.decided_via);
    if (a.decided_at_ms > 0) by += ", " + SlackDate(a.decided_at_ms);
    fields.push_back(Field("Decided by", by));
    fields.push_back(Field("State", std::string(store::StateName(a.state))));
  }
  blocks.push_back({{"type", "section"}, {"fields", fields}});

  if (!a.rule_reason.empty()) {
    blocks.push_back({{"type", "section"},
                      {"text", Mrkdwn("*Why held*\n" + CutEscaped(SlackEscape(a.rule_reason), kSectionMax - 20))}});
  }
  if (!pending && !a.reason.empty()) {
    blocks.push_back({{"type", "section"},
                      {"text", Mrkdwn("*Reason*\n" + CutEscaped(SlackEscape(a.reason), kSectionMax - 20))}});
  }
  if (r.include_arguments) {
    blocks.push_back({{"type", "section"}, {"text", Mrkdwn("*Arguments*\n" + SlackArgumentsBlock(a.arguments))}});
  } else {
    blocks.push_back({{"type", "section"},
                      {"text", Mrkdwn("*Arguments* are not shown here: open the review page. SHA-256 `" +
                                      a.fingerprint.substr(0, 16) + "…`")}});
  }

  if (pending) {
    blocks.push_back({{"type", "input"},
                      {"block_id", kSlackReasonBlock},
                      {"optional", true},
                      {"label", PlainText("Reason (required to reject)", 2000)},
                      {"element",
                       {{"type", "plain_text_input"},
                        {"action_id", kSlackReasonAction},
                        {"max_length", 500},
                        {"placeholder", PlainText("Why are you approving or rejecting this call?", 150)}}}});
    if (a.remember_max_ms > 0 && a.approvers_needed <= 1) {
      Json options = Json::array();
      auto option = [&](const std::string& label, const std::string& value) {
        options.push_back({{"text", PlainText(label, 75)}, {"value", value}});
      };
      option("Ask every time", "no");
      for (int64_t ms : {int64_t{15 * 60'000}, int64_t{30 * 60'000}, int64_t{60 * 60'000}, int64_t{4 * 3'600'000},
                         int64_t{8 * 3'600'000}, int64_t{24 * 3'600'000}}) {
        if (ms < a.remember_max_ms) option("Remember for " + FormatDuration(ms), FormatDuration(ms));
      }
      option("Remember for " + FormatDuration(a.remember_max_ms), FormatDuration(a.remember_max_ms));
      blocks.push_back({{"type", "input"},
                        {"block_id", kSlackRememberBlock},
                        {"optional", true},
                        {"label", PlainText("On approve: identical calls by " + a.principal + " run without asking", 2000)},
                        {"element",
                         {{"type", "static_select"},
                          {"action_id", kSlackRememberAction},
                          {"initial_option", options[0]},
                          {"options", options}}}});
    }
    Json elements = Json::array();
    elements.push_back({{"type", "button"},
                        {"action_id", kSlackApproveAction},
                        {"text", PlainText("Approve", 75)},
                        {"style", "primary"},
                        {"value", a.id}});
    elements.push_back({{"type", "button"},
                        {"action_id", kSlackRejectAction},
                        {"text", PlainText("Reject", 75)},
                        {"style", "danger"},
                        {"value", a.id}});
    if (!r.review_url.empty()) {
      elements.push_back({{"type", "button"},
                          {"action_id", kSlackOpenAction},
                          {"text", PlainText("Open review page", 75)},
                          {"url", r.review_url}});
    }
    blocks.push_back({{"type", "actions"}, {"block_id", "holdgate_actions"}, {"elements", elements}});
  } else if (!r.review_url.empty()) {
    blocks.push_back({{"type", "actions"},
                      {"block_id", "holdgate_actions"},
                      {"elements", Json::array({{{"type", "button"},
                                                  {"action_id", kSlackOpenAction},
                                                  {"text", PlainText("Open review page", 75)},
                                                  {"url", r.review_url}}})}});
  }

  std::string context = "holdgate approval `" + a.id + "` · requested " + SlackDate(a.created_at_ms);
  const std::string votes = VotesText(a);
  if (!votes.empty()) context += " · " + votes;
  if (r.reminder > 0) context += " · reminder " + std::to_string(r.reminder);
  if (!r.note.empty()) context += " · " + SlackEscape(r.note);
  blocks.push_back({{"type", "context"}, {"elements", Json::array({Mrkdwn(TruncateUtf8(context, kSectionMax))})}});

  // The notification text (push notifications, screen readers).
  std::string text = SlackEscape(title) + " (principal " + SlackEscape(a.principal);
  const std::string risk = RiskText(a.risk);
  if (!risk.empty()) text += ", risk " + SlackEscape(risk);
  text += ")";
  return Json{{"text", text}, {"blocks", blocks}};
}

Json SlackEphemeral(const std::string& text) {
  return Json{{"response_type", "ephemeral"}, {"replace_original", false}, {"text", SlackEscape(text)}};
}

}  // namespace holdgate::notify
