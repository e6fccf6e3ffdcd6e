#include "review/api_json.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "common/clock.h"
#include "common/upstream_names.h"

namespace holdgate::review {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Whether a spreadsheet (Excel, LibreOffice, Google Sheets) opening the CSV could run the cell as
// a formula that does harm: call a function, start another program (DDE), or reach outside the
// sheet. Those need `=`/`@` first, or, after a leading `+`/`-`, one of ( | ! & " [ = @. A cell
// starting with `=`, `@`, tab or CR is always guarded; `+`/`-` only with one of those characters
// after it, so -cmd, -3, +1 555 0100 or -rf /tmp stay as written (a spreadsheet shows them as
// text, a number, or at worst a #NAME? error), while -2+3+cmd|'/c calc'!A0 or +HYPERLINK("…") are
// guarded.
bool IsFormulaLike(const std::string& v) {
  if (v.empty()) return false;
  switch (v[0]) {
    case '=':
    case '@':
    case '\t':
    case '\r':
      return true;
    case '+':
    case '-':
      return v.find_first_of("(|!&\"[=@\t\r\n", 1) != std::string::npos;
    default:
      return false;
  }
}

std::string CsvCell(const std::string& raw) {
  std::string v = raw;
  if (IsFormulaLike(v)) v = "'" + v;
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += "\"\"";
    else out += c;
  }
  return out + "\"";
}

bool Contains(const Json& arr, const std::string& v) {
  if (!arr.is_array()) return false;
  for (const Json& x : arr) {
    if (x.is_string() && x.get<std::string>() == v) return true;
  }
  return false;
}

}  // namespace

std::string ReviewUrl(std::string_view base_url, std::string_view approval_id) {
  std::string base(base_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/#/approvals/" + std::string(approval_id);
}

Json TimeJson(int64_t epoch_ms) {
  if (epoch_ms <= 0) return nullptr;
  return FormatTimeMs(epoch_ms);
}

Json VoteJson(const store::Vote& v) {
  return Json{{"reviewer", v.reviewer}, {"decision", v.approve ? "approve" : "reject"},
              {"via", v.via},         {"reason", v.reason},
              {"at", TimeJson(v.at_ms)}};
}

Json CommentJson(const store::Comment& c) {
  return Json{{"id", c.id}, {"author", c.author}, {"body", c.body}, {"at", TimeJson(c.at_ms)}};
}

Json ApprovalJson(const store::Approval& a, std::string_view base_url) {
  Json votes = Json::array();
  for (const auto& v : a.votes) votes.push_back(VoteJson(v));
  Json j = {
      {"id", a.id},
      {"tool", a.tool},
      {"arguments", a.arguments},
      {"principal", a.principal},
      {"session_id", a.session_id},
      {"state", store::StateName(a.state)},
      {"rule", a.rule},
      {"risk", a.risk},
      {"created_at", TimeJson(a.created_at_ms)},
      {"expires_at", TimeJson(a.expires_at_ms)},
      {"updated_at", TimeJson(a.updated_at_ms)},
      {"decided_at", TimeJson(a.decided_at_ms)},
      {"use_by", TimeJson(a.state == store::State::kApproved ? a.UseByMs() : 0)},
      {"decided_by", a.decided_by},
      {"decided_via", a.decided_via},
      {"reason", a.reason},
      {"approvals_needed", a.approvers_needed},
      {"approvals_so_far", a.ApprovalsSoFar()},
      {"reviewers", a.reviewers.is_null() ? Json::object() : a.reviewers},
      {"editable", a.editable},
      {"edited_arguments", a.edited_arguments},
      {"agent_left", a.agent_left},
      {"trace_id", a.trace_id.empty() ? Json(nullptr) : Json(a.trace_id)},
      {"rule_reason", a.rule_reason},
      {"remember", a.remember_max_ms > 0 ? Json{{"max_ms", a.remember_max_ms},
                                               {"max", FormatDuration(a.remember_max_ms)},
                                               {"any_arguments", a.remember_any_arguments}}
                                         : Json(nullptr)},
      {"votes", std::move(votes)},
  };
  if (!base_url.empty()) j["review_url"] = ReviewUrl(base_url, a.id);
  if (std::string upstream = GlobalUpstreamNames().Of(a.tool); !upstream.empty()) j["upstream"] = std::move(upstream);
  return j;
}

Json GrantJson(const store::Grant& g, int64_t now_ms) {
  const char* state = g.revoked_at_ms ? "revoked" : (g.expired_at_ms || now_ms >= g.expires_at_ms) ? "expired" : "live";
  return Json{{"id", g.id},
              {"approval_id", g.approval_id},
              {"principal", g.principal},
              {"scope", g.scope},
              {"session_id", g.session_id.empty() ? Json(nullptr) : Json(g.session_id)},
              {"tool", g.tool},
              {"arguments", g.any_arguments() ? "any" : "same"},
              {"fingerprint", g.fingerprint.empty() ? Json(nullptr) : Json(g.fingerprint)},
              {"rule", g.rule},
              {"created_by", g.created_by},
              {"created_via", g.created_via},
              {"created_at", TimeJson(g.created_at_ms)},
              {"expires_at", TimeJson(g.expires_at_ms)},
              {"revoked_at", TimeJson(g.revoked_at_ms)},
              {"revoked_by", g.revoked_by.empty() ? Json(nullptr) : Json(g.revoked_by)},
              {"revoke_reason", g.revoke_reason},
              {"uses", g.uses},
              {"last_used_at", TimeJson(g.last_used_at_ms)},
              {"state", state}};
}

Json AuditEventJson(const store::AuditEvent& e) {
  Json j{{"seq", e.seq},
              {"ts", TimeJson(e.ts_ms)},
              {"type", e.type},
              {"approval_id", e.approval_id},
              {"principal", e.principal},
              {"actor", e.actor},
              {"via", e.via},
              {"tool", e.tool},
              {"rule", e.rule},
              {"decision", e.decision},
              {"detail", e.detail},
              {"prev_hash", e.prev_hash},
              {"hash", e.hash}};
  // With several upstreams: the one the event is about (not part of the hashed record).
  if (e.detail.is_object() && e.detail.contains("upstream") && e.detail["upstream"].is_string()) {
    j["upstream"] = e.detail["upstream"];
  } else if (!e.tool.empty()) {
    if (std::string upstream = GlobalUpstreamNames().Of(e.tool); !upstream.empty()) j["upstream"] = std::move(upstream);
  }
  return j;
}

Json OutboxRowJson(const store::OutboxRow& r) {
  return Json{{"id", r.id},
              {"approval_id", r.approval_id},
              {"event_type", r.event_type},
              {"target", r.target},
              {"state", store::OutboxStateName(r.state)},
              {"attempts", r.attempts},
              {"next_attempt_at", TimeJson(r.next_attempt_at_ms)},
              {"created_at", TimeJson(r.created_at_ms)},
              {"updated_at", TimeJson(r.updated_at_ms)},
              {"last_status", r.last_status}};
}

std::vector<std::string> RolesFor(Role role) {
  switch (role) {
    case Role::kAdmin: return {"admin", "reviewer"};
    case Role::kReviewer: return {"reviewer"};
    case Role::kAuditor: return {"auditor"};
    case Role::kNone: break;
  }
  return {};
}

Json MayDecideJson(const store::Approval& a, std::string_view name_view, Role role) {
  const std::string name(name_view);
  const int so_far = a.ApprovalsSoFar();
  Json excluded = Json::array({a.principal});
  bool voted = false;
  for (const auto& v : a.votes) {
    if (!Contains(excluded, v.reviewer)) excluded.push_back(v.reviewer);
    if (store::SameIdentity(v.reviewer, name)) voted = true;
  }
  const Json reviewers = a.reviewers.is_object() ? a.reviewers : Json::object();
  const Json roles = reviewers.value("roles", Json::array());
  const Json names = reviewers.value("names", Json::array());
  const bool restricted = (roles.is_array() && !roles.empty()) || (names.is_array() && !names.empty());

  bool can = true;
  std::string why = "you may approve or reject";
  if (a.state != store::State::kPending) {
    can = false;
    why = std::string("the approval is ") + store::StateName(a.state);
  } else if (role < Role::kReviewer) {
    can = false;
    why = std::string("role ") + RoleName(role) + " is read-only";
  } else if (voted) {
    can = false;
    why = "you already voted";
  } else if (restricted) {
    bool ok = Contains(names, name);
    for (const auto& r : RolesFor(role)) ok = ok || Contains(roles, r);
    if (!ok) {
      can = false;
      why = "this rule names other reviewers";
    }
  }
  const bool requester = store::SameIdentity(name, a.principal);
  if (can && requester) why = "you made this call: you may reject it but not approve it";
  return Json{{"needed", a.approvers_needed},
              {"so_far", so_far},
              {"remaining", std::max(0, a.approvers_needed - so_far)},
              {"reviewers", reviewers},
              {"excluded", excluded},
              {"you", {{"name", name}, {"role", RoleName(role)}, {"can_decide", can},
                       {"can_approve", can && !requester}, {"why", why}}}};
}

std::string AgentMessage(const store::Approval& a, std::string_view base_url) {
  using store::State;
  const std::string who = a.decided_by.empty() ? "a reviewer" : a.decided_by;
  switch (a.state) {
    case State::kPending: {
      std::string m = "Held for human approval (approval " + a.id + "). The call waits until " +
                      std::to_string(a.approvers_needed) + " reviewer(s) approve";
      if (a.expires_at_ms > 0) m += "; without a decision it is rejected at " + FormatTimeMs(a.expires_at_ms);
      m += ".";
      if (!base_url.empty()) m += " Review: " + ReviewUrl(base_url, a.id);
      return m;
    }
    case State::kApproved:
      return std::string("Approved by ") + who + ": the call runs upstream" +
             (a.edited_arguments.is_null() ? "" : " with the reviewer's edited arguments") +
             " and the agent receives the tool's result" +
             (a.UseByMs() > 0 ? " (an agent that stopped waiting must retry it before " + FormatTimeMs(a.UseByMs()) +
                                    ", or the approval lapses)"
                              : std::string()) +
             ".";
    case State::kExecuting:
      return "Approved; the tool is running upstream and the agent will receive its result.";
    case State::kCompleted:
      return "Approved and run: the agent received the tool's result.";
    case State::kFailed:
      return "Approved, but the upstream call failed; the agent received the error" +
             (a.reason.empty() ? std::string(".") : ": " + a.reason);
    case State::kRejected:
    case State::kExpired:
    case State::kCancelled:
    case State::kLapsed:
      return store::NotExecutedText(a);  // the very words the gateway answers with
  }
  return "";
}

std::string AuditCsvHeader() {
  return "seq,ts,type,approval_id,principal,actor,via,tool,rule,decision,detail,prev_hash,hash\r\n";
}

std::string AuditCsvRow(const store::AuditEvent& e) {
  std::string detail = e.detail.is_null() ? "" : DumpJson(e.detail);
  std::string row;
  for (const std::string& cell :
       {std::to_string(e.seq), e.ts_ms > 0 ? FormatTimeMs(e.ts_ms) : std::string(), e.type, e.approval_id,
        e.principal, e.actor, e.via, e.tool, e.rule, e.decision, detail, e.prev_hash, e.hash}) {
    if (!row.empty()) row += ',';
    row += CsvCell(cell);
  }
  return row + "\r\n";
}

bool ParseTimeParam(std::string_view s, int64_t* epoch_ms) {
  if (s.empty() || s.size() > 40) return false;
  if (std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (s.size() > 15) return false;
    *epoch_ms = std::stoll(std::string(s));
    return true;
  }
  int year, mon, day, hour = 0, min = 0, sec = 0;
  if (!Digits(s, 0, 4, &year) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &mon) || s[7] != '-' ||
      !Digits(s, 8, 2, &day)) {
    return false;
  }
  size_t pos = 10;
  int64_t frac_ms = 0;
  int offset_min = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return false;
    if (!Digits(s, pos + 1, 2, &hour) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &min) || pos + 6 >= s.size() || s[pos + 6] != ':' || !Digits(s, pos + 7, 2, &sec)) {
      return false;
    }
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int digits = 0;
      while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
        if (digits < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return false;
      for (int d = digits; d < 3; ++d) frac_ms *= 10;
    }
    if (pos >= s.size()) return false;  // a time needs a zone
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh, om;
      if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !Digits(s, pos + 4, 2, &om) ||
          oh > 23 || om > 59) {
        return false;
      }
      offset_min = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
      pos += 6;
    } else {
      return false;
    }
    if (pos != s.size()) return false;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  *epoch_ms = (static_cast<int64_t>(t) - offset_min * 60) * 1000 + frac_ms;
  return true;
}

}  // namespace holdgate::review
