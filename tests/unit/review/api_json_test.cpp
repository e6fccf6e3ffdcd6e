#include "review/api_json.h"

#include <catch2/catch.hpp>

#include "common/upstream_names.h"
#include "review/static_ui.h"

namespace holdgate::review {
namespace {

store::Approval Sample() {
  store::Approval a;
  a.id = "apr_1";
  a.principal = "agent-1";
  a.tool = "cancel_job";
  a.arguments = Json{{"job_id", 42}};
  a.state = store::State::kPending;
  a.approvers_needed = 2;
  a.created_at_ms = 1'764'000'000'000;
  a.expires_at_ms = 1'764'000'600'000;
  return a;
}

}  // namespace

TEST_CASE("RFC 3339 and epoch query times", "[review][json]") {
  int64_t ms = 0;
  REQUIRE(ParseTimeParam("2026-01-02T03:04:05Z", &ms));
  CHECK(FormatTimeMs(ms) == "2026-01-02T03:04:05.000Z");
  REQUIRE(ParseTimeParam("2026-01-02T03:04:05.123Z", &ms));
  CHECK(FormatTimeMs(ms) == "2026-01-02T03:04:05.123Z");
  REQUIRE(ParseTimeParam("2026-01-02T03:04:05.1234567Z", &ms));
  CHECK(FormatTimeMs(ms) == "2026-01-02T03:04:05.123Z");
  REQUIRE(ParseTimeParam("2026-01-02T05:04:05+02:00", &ms));
  CHECK(FormatTimeMs(ms) == "2026-01-02T03:04:05.000Z");
  REQUIRE(ParseTimeParam("2026-01-01T23:04:05-04:00", &ms));
  CHECK(FormatTimeMs(ms) == "2026-01-02T03:04:05.000Z");
  REQUIRE(ParseTimeParam("2026-01-02", &ms));
  CHECK(FormatTimeMs(ms) == "2026-01-02T00:00:00.000Z");
  REQUIRE(ParseTimeParam("1764000000000", &ms));
  CHECK(ms == 1'764'000'000'000);
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-01-02T03:04:05", "2026-01-02T03:04Z",
                          "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05Zjunk", "2026-01-02T25:00:00Z",
                          "-5", "99999999999999999999", "2026-1-2"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseTimeParam(bad, &ms));
  }
}

TEST_CASE("approval JSON has the fixed fields, RFC 3339 times and null for never", "[review][json]") {
  store::Approval a = Sample();
  a.votes.push_back({"apr_1", "alice", true, "ui", "fine", 1'764'000'001'000});
  Json j = ApprovalJson(a, "http://127.0.0.1:8081/");
  CHECK(j["id"] == "apr_1");
  CHECK(j["state"] == "pending");
  CHECK(j["created_at"] == "2025-11-24T16:00:00.000Z");
  CHECK(j["decided_at"].is_null());
  CHECK(j["approvals_needed"] == 2);
  CHECK(j["approvals_so_far"] == 1);
  CHECK(j["votes"][0]["decision"] == "approve");
  CHECK(j["review_url"] == "http://127.0.0.1:8081/#/approvals/apr_1");
  a.expires_at_ms = 0;
  CHECK(ApprovalJson(a, "")["expires_at"].is_null());
  CHECK_FALSE(ApprovalJson(a, "").contains("review_url"));
}

TEST_CASE("approvals and audit events name their upstream when there are several", "[review][json]") {
  GlobalUpstreamNames().Set({{"demo", "demo_"}, {"everything", "ev_"}});
  store::Approval a = Sample();
  a.tool = "demo_cancel_job";
  CHECK(ApprovalJson(a, "")["upstream"] == "demo");
  store::AuditEvent e;
  e.type = "call.denied";
  e.tool = "ev_echo";
  CHECK(AuditEventJson(e)["upstream"] == "everything");
  e.type = "policy.saved";  // about an upstream's own policy file: its detail names it
  e.tool = "";
  e.detail = Json{{"upstream", "demo"}, {"file", "demo.json"}};
  CHECK(AuditEventJson(e)["upstream"] == "demo");
  e.detail = Json::object();
  CHECK_FALSE(AuditEventJson(e).contains("upstream"));
  a.tool = "cancel_job";  // no upstream's prefix
  CHECK_FALSE(ApprovalJson(a, "").contains("upstream"));
  GlobalUpstreamNames().Set({});
  a.tool = "demo_cancel_job";
  CHECK_FALSE(ApprovalJson(a, "").contains("upstream"));
}

TEST_CASE("who may still decide", "[review][json]") {
  store::Approval a = Sample();
  a.votes.push_back({"apr_1", "alice", true, "ui", "", 1});
  Json m = MayDecideJson(a, "bob", Role::kReviewer);
  CHECK(m["remaining"] == 1);
  CHECK(m["you"]["can_decide"] == true);
  CHECK(m["excluded"] == Json::array({"agent-1", "alice"}));
  CHECK(MayDecideJson(a, "alice", Role::kReviewer)["you"]["can_decide"] == false);
  CHECK(MayDecideJson(a, "carol", Role::kAuditor)["you"]["can_decide"] == false);
  Json self = MayDecideJson(a, "agent-1", Role::kReviewer);
  CHECK(self["you"]["can_decide"] == true);  // may reject its own call
  CHECK(self["you"]["can_approve"] == false);
  a.reviewers = Json{{"roles", {"admin"}}, {"names", {"erin"}}};
  CHECK(MayDecideJson(a, "bob", Role::kReviewer)["you"]["can_decide"] == false);
  CHECK(MayDecideJson(a, "bob", Role::kAdmin)["you"]["can_decide"] == true);
  CHECK(MayDecideJson(a, "erin", Role::kReviewer)["you"]["can_decide"] == true);
  a.state = store::State::kRejected;
  CHECK(MayDecideJson(a, "erin", Role::kReviewer)["you"]["can_decide"] == false);
}

TEST_CASE("what the agent is told follows the state", "[review][json]") {
  store::Approval a = Sample();
  CHECK(AgentMessage(a, "http://h").find("Held for human approval (approval apr_1)") == 0);
  CHECK(AgentMessage(a, "http://h").find("http://h/#/approvals/apr_1") != std::string::npos);
  a.state = store::State::kRejected;
  a.decided_by = "bob";
  a.reason = "too risky";
  CHECK(AgentMessage(a, "") ==
        "Not executed; do not retry. A human reviewer (bob) rejected the call to cancel_job (approval apr_1). "
        "Reason: too risky");
  a.state = store::State::kExpired;
  CHECK(AgentMessage(a, "").find("the policy rejects calls that time out") != std::string::npos);
}

TEST_CASE("audit CSV quotes and defuses formulas", "[review][json]") {
  store::AuditEvent e;
  e.seq = 3;
  e.ts_ms = 1'764'000'000'000;
  e.type = "approval.created";
  e.tool = "=cmd|'/c calc'!A1";
  e.actor = "a,b";
  e.detail = Json{{"note", "say \"hi\"\nbye"}};
  std::string row = AuditCsvRow(e);
  CHECK(row.find(",'=cmd|'/c calc'!A1,") != std::string::npos);
  CHECK(row.find("\"a,b\"") != std::string::npos);
  CHECK(row.find(R"("{""note"":""say \""hi\""\nbye""}")") != std::string::npos);
  CHECK(row.substr(row.size() - 2) == "\r\n");
  CHECK(AuditCsvHeader().rfind("seq,ts,type,", 0) == 0);
}

TEST_CASE("audit CSV guards only cells a spreadsheet would run as a formula", "[review][json]") {
  // The tool column, which an agent controls: what lands between the commas.
  auto tool_cell = [](const std::string& tool) {
    store::AuditEvent e;
    e.seq = 1;
    e.type = "call.allowed";
    e.tool = tool;
    const std::string row = AuditCsvRow(e);
    // seq,ts,type,approval_id,principal,actor,via,tool,...
    size_t pos = 0;
    for (int i = 0; i < 7; ++i) pos = row.find(',', pos) + 1;
    const size_t end = row[pos] == '"' ? row.find("\",", pos + 1) + 1 : row.find(',', pos);
    return row.substr(pos, end - pos);
  };
  // Text, numbers and flags that begin with - or +: left alone.
  for (const std::string plain : {"-cmd", "-3", "-3.5e2", "+1 555 0100", "-rf /tmp", "+x", "-", "+", "a=b", "cmd@host"}) {
    INFO(plain);
    CHECK(tool_cell(plain) == plain);
  }
  // Formulas: = and @ always, tab and CR always, + and - with a call, DDE, reference or string.
  CHECK(tool_cell("=1+1") == "'=1+1");
  CHECK(tool_cell("@SUM(A1:A2)") == "'@SUM(A1:A2)");
  CHECK(tool_cell("\tx") == "'\tx");
  CHECK(tool_cell("\rx") == "\"'\rx\"");
  CHECK(tool_cell("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0");
  CHECK(tool_cell("+HYPERLINK(\"http://x\")") == "\"'+HYPERLINK(\"\"http://x\"\")\"");
  CHECK(tool_cell("-A1&B1") == "'-A1&B1");
  CHECK(tool_cell("+[book.xlsx]Sheet!A1") == "'+[book.xlsx]Sheet!A1");
  CHECK(tool_cell("--flag=value") == "'--flag=value");
  CHECK(tool_cell("-x@y") == "'-x@y");
}

TEST_CASE("static UI: only embedded files, with content types", "[review][ui]") {
  static const char kIndex[] = "<!doctype html>";
  static const char kJs[] = "export {}";
  std::vector<EmbeddedFile> files = {{"index.html", kIndex}, {"js/app.js", kJs}, {"css/site.css", "a{}"}};
  StaticUi ui(files);
  REQUIRE(ui.Find("/") != nullptr);
  CHECK(ui.Find("/")->content == kIndex);
  CHECK(ui.Find("/")->content_type == "text/html; charset=utf-8");
  CHECK(ui.Find("/js/app.js")->content_type == "text/javascript; charset=utf-8");
  CHECK(ui.Find("/css/site.css")->content_type == "text/css; charset=utf-8");
  for (const char* bad : {"/../index.html", "/js/../index.html", "/js//app.js", "/js\\app.js", "js/app.js",
                          "/missing.js", ""}) {
    CAPTURE(bad);
    CHECK(ui.Find(bad) == nullptr);
  }
  CHECK(StaticUi::ContentTypeFor("x.SVG") == "image/svg+xml");
  CHECK(StaticUi::ContentTypeFor("noext") == "application/octet-stream");
  CHECK(std::string(kContentSecurityPolicy).find("unsafe-inline") == std::string::npos);
  CHECK(std::string(kContentSecurityPolicy).find("unsafe-eval") == std::string::npos);
}

}  // namespace holdgate::review
