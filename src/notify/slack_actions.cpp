// Notifier: the Slack interactivity endpoint (POST /slack/actions).
//
// Order of checks: signature over the raw body (window, constant time, replay memory) before any
// parsing; then the form field `payload`; then the Slack user -> reviewer mapping; then the one
// decision door shared with the review API (review::DecisionService, via "slack"). Reject needs a reason,
// typed into the message's reason box (an input block: works with incoming webhooks, no bot token
// or modal needed); without one the user gets an ephemeral hint and nothing is decided.
// Replies go through the interaction's response_url as outbox rows (retried, never blocking the
// 3-second acknowledgement Slack expects).
#include <algorithm>
#include <cctype>

#include "common/clock.h"
#include "common/log.h"
#include "notify/form_decode.h"
#include "notify/http_client.h"
#include "notify/notifier_impl.h"
#include "notify/payloads.h"
#include "notify/slack_blocks.h"

namespace holdgate::notify {
namespace {

std::string HeaderOf(const review::PlainRequest& req, const std::string& lower_name) {
  auto it = req.headers.find(lower_name);
  return it == req.headers.end() ? "" : it->second;
}

review::PlainResponse JsonAnswer(int status, const Json& body) {
  review::PlainResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = DumpJson(body);
  return r;
}

review::PlainResponse EmptyOk() {
  review::PlainResponse r;
  r.status = 200;
  r.content_type = "text/plain";
  return r;
}

std::string StringAt(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The reason typed into the message's reason box (payload.state.values).
// The card's "Remember" choice (a duration such as "30m"), or "" for "Ask every time" / none.
std::string RememberFrom(const Json& payload) {
  if (!payload.contains("state") || !payload["state"].is_object()) return "";
  const Json& values = payload["state"].value("values", Json::object());
  if (!values.is_object()) return "";
  for (auto block = values.begin(); block != values.end(); ++block) {
    if (!block.value().is_object()) continue;
    auto input = block.value().find(kSlackRememberAction);
    if (input == block.value().end() || !input->is_object()) continue;
    const Json selected = input->value("selected_option", Json());
    const std::string v = selected.is_object() ? StringAt(selected, "value") : "";
    return v == "no" ? "" : v;
  }
  return "";
}

std::string ReasonFrom(const Json& payload) {
  const Json* values = nullptr;
  if (payload.contains("state") && payload["state"].is_object() && payload["state"].contains("values")) {
    values = &payload["state"]["values"];
  }
  if (values == nullptr || !values->is_object()) return "";
  for (auto block = values->begin(); block != values->end(); ++block) {
    if (!block.value().is_object()) continue;
    auto input = block.value().find(kSlackReasonAction);
    if (input != block.value().end()) {
      std::string v = StringAt(*input, "value");
      // Trim.
      const size_t b = v.find_first_not_of(" \t\r\n");
      if (b == std::string::npos) return "";
      const size_t e = v.find_last_not_of(" \t\r\n");
      return v.substr(b, e - b + 1);
    }
  }
  return "";
}

bool LooksLikeApprovalId(const std::string& id) {
  return id.size() == 36 && id.rfind("apr_", 0) == 0 &&
         std::all_of(id.begin() + 4, id.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

bool Notifier::Impl::ResponseUrlAllowed(const std::string& url) const {
  auto u = SplitUrl(url);
  if (!u.ok()) return false;
  if (u->scheme == "https" && (u->host == "slack.com" || (u->host.size() > 10 &&
                                                          u->host.compare(u->host.size() - 10, 10, ".slack.com") == 0))) {
    return true;
  }
  // A fake Slack on loopback (tests, local development): only when Slack itself is configured
  // on loopback, so a leaked signing secret cannot aim holdgate at other local services.
  if (!IsLoopbackHost(u->host)) return false;
  for (const std::string& configured : {config_.slack.api_url, config_.slack.webhook_url}) {
    auto c = SplitUrl(configured);
    if (c.ok() && IsLoopbackHost(c->host)) return true;
  }
  return false;
}

void Notifier::Impl::EnqueueEphemeral(const std::string& response_url, const std::string& text) {
  if (response_url.empty() || !ResponseUrlAllowed(response_url)) return;
  store::NewOutboxRow row;
  row.event_type = "slack.reply";
  row.target = kSlackResponseTarget;
  row.payload = Json{{"kind", kKindSlackResponse}, {"response_url", response_url}, {"message", SlackEphemeral(text)}};
  auto r = store_.EnqueueOutbox(row);
  if (!r.ok()) log::Warn("notify: cannot enqueue a Slack reply", {{"error", r.status().ToString()}});
  Wake();
}

void Notifier::Impl::AuditSlackRefusal(const Json& detail, const std::string& actor, const std::string& approval_id) {
  store::AuditEvent ev;
  ev.type = "slack.refused";
  ev.actor = actor;
  ev.via = "slack";
  ev.decision = "refuse";
  ev.approval_id = LooksLikeApprovalId(approval_id) ? approval_id : "";
  ev.detail = detail;
  slack_audit_.Append(std::move(ev));
}

review::PlainResponse Notifier::Impl::SlackRefuse(int http_status, const std::string& code, const std::string& why,
                                                  const std::string& slack_user, const std::string& reviewer,
                                                  const std::string& action, const std::string& approval_id,
                                                  const std::string& response_url, const std::string& user_text,
                                                  const std::string& remote) {
  ++slack_refused_;
  Json detail = {{"code", code}, {"why", why.substr(0, 300)}, {"remote", remote}};
  if (!slack_user.empty()) detail["slack_user"] = slack_user.substr(0, 64);
  if (!action.empty()) detail["action"] = action.substr(0, 64);
  if (!approval_id.empty()) detail["approval_id"] = approval_id.substr(0, 64);
  AuditSlackRefusal(detail, !reviewer.empty() ? reviewer : (slack_user.empty() ? "unknown" : "slack:" + slack_user.substr(0, 64)),
                    approval_id);
  log::Info("notify: Slack request refused", {{"code", code}, {"why", why.substr(0, 300)}});
  if (!user_text.empty()) EnqueueEphemeral(response_url, user_text);
  if (http_status == 200) return EmptyOk();
  return JsonAnswer(http_status, Json{{"error", code}, {"message", why.substr(0, 300)}});
}

review::PlainResponse Notifier::Impl::HandleSlackAction(const review::PlainRequest& req,
                                                        review::DecisionService& decisions) {
  const std::string remote = req.remote_addr;
  if (config_.slack.signing_secret.empty()) {
    return SlackRefuse(404, "not_configured", "Slack actions are not configured (notify.slack.signing_secret)", "",
                       "", "", "", "", "", remote);
  }
  const std::string timestamp = HeaderOf(req, "x-slack-request-timestamp");
  const std::string signature = HeaderOf(req, "x-slack-signature");
  const SlackVerdict verdict = slack_verifier_->Verify(timestamp, signature, req.body, clock_.NowMs());
  if (verdict != SlackVerdict::kOk) {
    std::string why = std::string("request signature check failed: ") + SlackVerdictName(verdict);
    if (verdict == SlackVerdict::kStale) why += " (timestamp " + timestamp.substr(0, 20) + " is more than 5 minutes away)";
    return SlackRefuse(401, SlackVerdictName(verdict), why, "", "", "", "", "", "", remote);
  }

  std::map<std::string, std::string> form;
  if (!ParseFormUrlEncoded(req.body, &form) || !form.count("payload")) {
    return SlackRefuse(400, "bad_request", "no payload form field", "", "", "", "", "", "", remote);
  }
  auto parsed = ParseJson(form["payload"]);
  if (!parsed.ok() || !parsed->is_object()) {
    return SlackRefuse(400, "bad_request", "payload is not a JSON object", "", "", "", "", "", "", remote);
  }
  const Json& payload = *parsed;
  const std::string type = StringAt(payload, "type");
  if (type != "block_actions") return EmptyOk();  // nothing else is ours (e.g. view_submission)

  const std::string slack_user = payload.contains("user") ? StringAt(payload["user"], "id") : "";
  std::string response_url = StringAt(payload, "response_url");
  if (!response_url.empty() && !ResponseUrlAllowed(response_url)) {
    log::Warn("notify: ignoring a response_url that is not Slack's", {{"url", response_url.substr(0, 200)}});
    response_url.clear();
  }
  const Json actions = payload.contains("actions") && payload["actions"].is_array() ? payload["actions"] : Json::array();
  if (actions.empty() || !actions[0].is_object()) return EmptyOk();
  const std::string action = StringAt(actions[0], "action_id");
  const std::string approval_id = StringAt(actions[0], "value");
  if (action != kSlackApproveAction && action != kSlackRejectAction) return EmptyOk();  // link button, typing
  const bool approve = action == kSlackApproveAction;

  auto user = config_.slack.users.find(slack_user);
  if (slack_user.empty() || user == config_.slack.users.end()) {
    return SlackRefuse(200, "unknown_user", "Slack user " + slack_user + " is not mapped to a reviewer", slack_user, "",
                       action, approval_id, response_url,
                       "Your Slack account (" + slack_user +
                           ") is not mapped to a holdgate reviewer, so nothing was decided. Ask an admin to add you "
                           "to notify.slack.users.",
                       remote);
  }
  const std::string& reviewer = user->second;
  if (!LooksLikeApprovalId(approval_id)) {
    return SlackRefuse(200, "bad_request", "the button carries no approval id", slack_user, reviewer, action,
                       approval_id, response_url, "This button does not name an approval; nothing was decided.",
                       remote);
  }
  const std::string reason = ReasonFrom(payload);
  const std::string base = ReviewBase();
  const std::string link = base.empty() ? "" : " " + ReviewLink(base, approval_id);
  if (!approve && reason.empty()) {
    return SlackRefuse(200, "reason_required", "reject without a reason", slack_user, reviewer, action, approval_id,
                       response_url,
                       "A rejection needs a reason: type it in the Reason box, then press Reject again (or reject "
                       "on the review page" + link + "). Nothing was decided.",
                       remote);
  }

  review::DecisionRequest in;
  in.approval_id = approval_id;
  in.reviewer = reviewer;
  if (auto roles = config_.slack.roles.find(slack_user); roles != config_.slack.roles.end()) in.roles = roles->second;
  in.role = review::SlackUserRole(in.roles);
  in.via = "slack";
  in.via_source = "slack-signature";
  in.approve = approve;
  in.reason = reason;
  const std::string remember = approve ? RememberFrom(payload) : "";
  if (!remember.empty()) {
    const int64_t ms = ParseDurationMs(remember);
    if (ms <= 0) {
      return SlackRefuse(200, "bad_request", "bad remember choice", slack_user, reviewer, action, approval_id,
                         response_url, "The Remember choice is not a duration; nothing was decided.", remote);
    }
    in.remember = review::RememberRequest{ms, false, false};
  }
  if (!response_url.empty()) {
    // Written with the vote, in its transaction: the original message then shows the outcome.
    store::NewOutboxRow row;
    row.event_type = "slack.update";
    row.target = kSlackResponseTarget;
    row.payload = Json{{"kind", kKindSlackResponse}, {"response_url", response_url}, {"render", true},
                       {"approval_id", approval_id}};
    in.outbox.push_back(std::move(row));
  }
  const std::vector<store::NewOutboxRow> card_update = in.outbox;
  auto outcome = decisions.Decide(std::move(in));
  if (!outcome.ok()) {
    const Status& s = outcome.status();
    if (s.code() == Code::kConflict && !response_url.empty()) {
      // Decided elsewhere (UI, CLI, another click): show the outcome on the stale card.
      store::NewOutboxRow row = card_update.front();
      row.approval_id = approval_id;
      auto r = store_.EnqueueOutbox(row);
      if (!r.ok()) log::Warn("notify: cannot enqueue a Slack card update", {{"error", r.status().ToString()}});
    }
    std::string text = s.code() == Code::kPermissionDenied ? "Refused: " + s.message()
                       : s.code() == Code::kNotFound       ? "No such approval: " + approval_id
                                                           : s.message();
    return SlackRefuse(200, CodeName(s.code()), s.message(), slack_user, reviewer, action, approval_id, response_url,
                       text + ". Nothing was decided by this click.", remote);
  }
  if (!outcome->changed) {
    EnqueueEphemeral(response_url, "You already voted on this approval; it is " +
                                       std::string(store::StateName(outcome->state)) + ".");
    return EmptyOk();
  }
  ++slack_decisions_;
  log::Info("notify: Slack vote recorded", {{"approval", approval_id}, {"reviewer", reviewer},
                                            {"approve", approve}, {"state", store::StateName(outcome->state)}});
  if (outcome->grant) {
    EnqueueEphemeral(response_url, "Approved and remembered until " + FormatTimeMs(outcome->grant->expires_at_ms) +
                                       " (grant " + outcome->grant->id + "): identical calls by " +
                                       outcome->grant->principal + " run without asking. Revoke it on the review "
                                       "page or with `holdgate revoke " + outcome->grant->id + "`.");
  } else if (!outcome->grant_error.empty()) {
    EnqueueEphemeral(response_url, "Approved, but " + outcome->grant_error + ".");
  }
  Wake();
  return EmptyOk();
}

}  // namespace holdgate::notify
