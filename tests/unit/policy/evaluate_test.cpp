#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "test_util.h"

namespace holdgate::policy {
namespace {

using testutil::Eval;
using testutil::MustParse;

// --- PolicyLayer's documented examples (MCP-NOTES §3.1) load unchanged and decide as documented.

TEST_CASE("PolicyLayer: the documented policy shape", "[policy][policylayer]") {
  auto p = MustParse(R"({
    "version": "1",
    "default": "deny",
    "hide": ["delete_account"],
    "all_tools": { "limits": [] },
    "tools": { "create_charge": { "require": [], "deny_if": [], "limits": [] } }
  })");
  // A listed tool is callable.
  Decision d = Eval(*p, "create_charge", {{"amount", 5}});
  CHECK(d.action == Action::kAllow);
  CHECK(d.rule == "tools.create_charge");
  CHECK(d.limits == nullptr);
  // "Tool names removed from tools/list responses and denied at call time."
  CHECK(p->IsHidden("delete_account"));
  d = Eval(*p, "delete_account");
  CHECK(d.action == Action::kHide);
  CHECK(d.rule == "hide[0]");
  CHECK(d.reason == "Unknown tool: delete_account");
  // "default: deny ... Any tool you do not list is blocked" (and stays visible).
  CHECK_FALSE(p->IsHidden("refund"));
  d = Eval(*p, "refund");
  CHECK(d.action == Action::kDeny);
  CHECK(d.rule == "default");
  CHECK(d.reason == "Tool \"refund\" is not allowed by this policy (default: deny).");
}

TEST_CASE("PolicyLayer: under default deny, listing a tool with {} allows it", "[policy][policylayer]") {
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {"list_customers": {}}})");
  CHECK(Eval(*p, "list_customers").action == Action::kAllow);
  CHECK(Eval(*p, "delete_customer").action == Action::kDeny);
  for (const char* doc : {R"({ "version": "1", "default": "deny", "tools": { "list_jobs": {} } })",
                          R"({ "version": "1", "default": "deny", "tools": { "check_job_status": {} } })"}) {
    auto q = MustParse(doc);
    Json tools = Json::parse(doc)["tools"];
    std::string listed = tools.begin().key();
    CHECK(Eval(*q, listed).action == Action::kAllow);
    CHECK(Eval(*q, "cancel_job").action == Action::kDeny);
  }
}

TEST_CASE("PolicyLayer: default allow lets unlisted tools through", "[policy][policylayer]") {
  auto p = MustParse(R"({"version": "1", "default": "allow", "tools": {"drop_db": {"action": "deny"}}})");
  CHECK(Eval(*p, "anything").action == Action::kAllow);
  CHECK(Eval(*p, "anything").rule == "default");
  Decision d = Eval(*p, "drop_db");
  CHECK(d.action == Action::kDeny);
  CHECK(d.reason == "Tool \"drop_db\" is denied by policy (tools.drop_db).");
}

TEST_CASE("PolicyLayer: the wildcard \"*\" hides everything", "[policy][policylayer]") {
  auto p = MustParse(R"({"version": "1", "default": "allow", "hide": ["*"], "tools": {"list_jobs": {}}})");
  CHECK(p->IsHidden("list_jobs"));
  CHECK(p->IsHidden("x"));
  CHECK(Eval(*p, "list_jobs").action == Action::kHide);
}

TEST_CASE("PolicyLayer: the seed recommendation for Sktime hides cancel_job", "[policy][policylayer]") {
  auto p = MustParse(R"({"version":"1","default":"deny","hide":["cancel_job"]})");
  CHECK(p->IsHidden("cancel_job"));
  CHECK(Eval(*p, "cancel_job", {{"job_id", "j1"}}).action == Action::kHide);
  CHECK_FALSE(p->IsHidden("list_jobs"));
  CHECK(Eval(*p, "list_jobs").action == Action::kDeny);
  auto file = Policy::LoadFile(testutil::RepoRoot() + "/schema/policies/policylayer-seed.json");
  REQUIRE(file.ok());
  CHECK((*file)->IsHidden("cancel_job"));
}

TEST_CASE("PolicyLayer: catalogue limit element", "[policy][policylayer]") {
  auto p = MustParse(R"({ "version": "1", "default": "deny",
    "tools": { "format_time_series": { "limits": [
      { "counter": "format_time_series_rate", "window": "minute", "max": 30, "scope": "grant" } ] } } })");
  Decision d = Eval(*p, "format_time_series");
  CHECK(d.action == Action::kAllow);
  REQUIRE(d.limits != nullptr);
  REQUIRE(d.limits->size() == 1);
  const Limit& l = d.limits->front();
  CHECK(l.counter == "format_time_series_rate");
  CHECK(l.window_ms == 60'000);
  CHECK(l.max == 30);
  CHECK(l.scope == Scope::kGrant);
  CHECK(l.path == "tools.format_time_series.limits[0]");
}

TEST_CASE("MCP-NOTES 4.1 example loads and decides", "[policy][policylayer]") {
  auto p = MustParse(R"({
    "version": "1",
    "default": "deny",
    "hide": ["run_command"],
    "all_tools": { "limits": [ { "counter": "global", "window": "minute", "max": 120, "scope": "grant" } ] },
    "tools": {
      "list_jobs":        {},
      "check_job_status": {},
      "query_registry":   {},
      "fit":   { "action": "rate_limit", "limits": [ { "counter": "fit_rate", "window": "minute", "max": 10, "scope": "grant" } ] },
      "save_data": { "action": "deny", "reason": "Writing to the host filesystem is not permitted for agents" },
      "cancel_job": {
        "action": "require_approval",
        "risk": { "category": "Destructive", "level": "critical" },
        "reason": "Cancelling a background job is irreversible",
        "approval": { "timeout": "30m", "hold": "60s", "notify": ["webhook:ops", "slack:#ml-approvals"], "on_timeout": "reject" }
      }
    }
  })");
  Decision fit = Eval(*p, "fit");
  CHECK(fit.action == Action::kAllow);
  REQUIRE(fit.limits != nullptr);
  REQUIRE(fit.limits->size() == 2);  // all_tools first, then the rule's
  CHECK((*fit.limits)[0].counter == "global");
  CHECK((*fit.limits)[1].counter == "fit_rate");
  Decision list = Eval(*p, "list_jobs");
  REQUIRE(list.limits != nullptr);
  CHECK(list.limits->size() == 1);
  Decision save = Eval(*p, "save_data");
  CHECK(save.action == Action::kDeny);
  CHECK(save.reason == "Writing to the host filesystem is not permitted for agents");
  CHECK(save.limits == nullptr);
  Decision cancel = Eval(*p, "cancel_job", {{"job_id", "j"}});
  CHECK(cancel.action == Action::kHold);
  CHECK(cancel.rule == "tools.cancel_job");
  CHECK(cancel.reason == "Cancelling a background job is irreversible");
  REQUIRE(cancel.risk != nullptr);
  CHECK((*cancel.risk)["level"] == "critical");
  REQUIRE(cancel.approval != nullptr);
  CHECK(cancel.approval->approvers == 1);
  CHECK(cancel.approval->timeout_ms == 30 * 60'000);
  CHECK(cancel.approval->hold_ms == 60'000);
  CHECK(cancel.approval->on_timeout == "reject");
  CHECK(cancel.approval->notify == std::vector<std::string>{"webhook:ops", "slack:#ml-approvals"});
  CHECK(Eval(*p, "run_command").action == Action::kHide);
  CHECK(Eval(*p, "list_data_sources").action == Action::kDeny);  // unlisted but dispatched upstream
}

// --- holdgate's additions

TEST_CASE("approval settings: defaults and every field", "[policy][evaluate]") {
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
    "a": {"action": "require_approval"},
    "b": {"action": "require_approval", "approval": {"approvers": 3, "reviewers": ["role:sre", "bob"],
          "timeout": 120, "hold": "500ms", "on_timeout": "reject", "notify": ["slack:#x"], "editable": true,
          "cancel_on_disconnect": true}}}})");
  Decision a = Eval(*p, "a");
  REQUIRE(a.approval != nullptr);
  CHECK(a.approval->approvers == 1);
  CHECK(a.approval->reviewers.empty());
  CHECK(a.approval->timeout_ms == 30 * 60'000);
  CHECK(a.approval->hold_ms == 50'000);
  CHECK(a.approval->on_timeout == "reject");
  CHECK_FALSE(a.approval->editable);
  CHECK_FALSE(a.approval->cancel_on_disconnect);
  CHECK(a.reason == "Calling \"a\" requires human approval (tools.a).");
  Decision b = Eval(*p, "b");
  REQUIRE(b.approval != nullptr);
  CHECK(b.approval->approvers == 3);
  CHECK(b.approval->reviewers == std::vector<std::string>{"role:sre", "bob"});
  CHECK(b.approval->timeout_ms == 120'000);
  CHECK(b.approval->hold_ms == 500);
  CHECK(b.approval->notify == std::vector<std::string>{"slack:#x"});
  CHECK(b.approval->editable);
  CHECK(b.approval->cancel_on_disconnect);
  // Allow and deny decisions carry no approval settings.
  CHECK(Eval(*p, "c").approval == nullptr);
}

TEST_CASE("precedence: exact name beats globs, more literal globs beat less", "[policy][precedence]") {
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
    "*":          {"action": "deny", "reason": "star"},
    "list_*":     {"reason": "list glob"},
    "l*":         {"action": "deny", "reason": "l glob"},
    "list_jobs":  {"action": "require_approval", "reason": "exact"},
    "fi?":        {"reason": "question"},
    "fi*":        {"action": "deny", "reason": "fi star"},
    "*_status":   {"reason": "suffix"},
    "check_*_status": {"action": "deny", "reason": "two literals groups"}
  }})");
  CHECK(Eval(*p, "list_jobs").reason == "exact");
  CHECK(Eval(*p, "list_jobs").rule == "tools.list_jobs");
  CHECK(Eval(*p, "list_handles").reason == "list glob");
  CHECK(Eval(*p, "list_handles").rule == "tools[\"list_*\"]");
  CHECK(Eval(*p, "lookup").reason == "l glob");
  CHECK(Eval(*p, "zzz").reason == "star");
  CHECK(Eval(*p, "zzz").rule == "tools[\"*\"]");
  auto q = MustParse(R"({"version": "1", "default": "deny", "tools": {"x*": {"action": "deny"}, "y*": {"action": "require_approval"}}})");
  CHECK(Eval(*q, "x1").reason == "This tool is denied by policy (tools[\"x*\"]).");
  CHECK(Eval(*q, "y1").reason == "Calling this tool requires human approval (tools[\"y*\"]).");
  CHECK(Eval(*p, "fit").reason == "question");   // same literals, no star beats a star
  CHECK(Eval(*p, "fitt").reason == "fi star");
  CHECK(Eval(*p, "check_job_status").reason == "two literals groups");  // 13 literals vs 7
  CHECK(Eval(*p, "job_status").reason == "suffix");
}

TEST_CASE("precedence: hide beats every rule", "[policy][precedence]") {
  auto p = MustParse(R"({"version": "1", "default": "allow", "hide": ["debug_*", "run_command"],
    "tools": {"run_command": {}, "debug_dump": {"action": "require_approval"}}})");
  CHECK(p->IsHidden("run_command"));
  CHECK(p->IsHidden("debug_dump"));
  CHECK(Eval(*p, "run_command").action == Action::kHide);
  CHECK(Eval(*p, "debug_dump").action == Action::kHide);
  CHECK(Eval(*p, "debug_dump").rule == "hide[0]");
  CHECK_FALSE(p->IsHidden("debug"));
}

TEST_CASE("when: a rule whose conditions fail falls through to the next rule, then default", "[policy][precedence]") {
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
    "save_data": {"when": [{"path": "args.path", "op": "matches", "value": "^/tmp/"}], "reason": "tmp ok"},
    "save_*":    {"when": [{"path": "format", "op": "eq", "value": "csv"}], "action": "require_approval"}
  }})");
  Decision d = Eval(*p, "save_data", {{"path", "/tmp/x"}, {"format", "json"}});
  CHECK(d.action == Action::kAllow);
  CHECK(d.reason == "tmp ok");
  d = Eval(*p, "save_data", {{"path", "/etc/x"}, {"format", "csv"}});
  CHECK(d.action == Action::kHold);
  CHECK(d.rule == "tools[\"save_*\"]");
  d = Eval(*p, "save_data", {{"path", "/etc/x"}, {"format", "json"}});
  CHECK(d.action == Action::kDeny);
  CHECK(d.rule == "default");
}

TEST_CASE("deny_if and require", "[policy][evaluate]") {
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
    "create_charge": {
      "require": [{"path": "args.reason", "op": "exists"}],
      "deny_if": [{"path": "args.amount", "op": "gt", "value": 10000},
                  {"path": "args.currency", "op": "not_in", "value": ["usd", "eur"], "reason": "Only USD and EUR."}]
    },
    "cancel_job": {"action": "require_approval",
                   "deny_if": [{"path": "job_id", "op": "matches", "value": "^sys-"}]}
  }})");
  Json ok = {{"amount", 50}, {"currency", "usd"}, {"reason", "refund"}};
  CHECK(Eval(*p, "create_charge", ok).action == Action::kAllow);

  Json big = ok;
  big["amount"] = 20000;
  Decision d = Eval(*p, "create_charge", big);
  CHECK(d.action == Action::kDeny);
  CHECK(d.rule == "tools.create_charge.deny_if[0]");
  CHECK(d.reason ==
        "Denied by policy (tools.create_charge.deny_if[0]): argument amount gt 10000 is not allowed.");
  big["amount"] = "20000";  // quoting does not dodge the rule
  CHECK(Eval(*p, "create_charge", big).action == Action::kDeny);

  Json yen = ok;
  yen["currency"] = "jpy";
  d = Eval(*p, "create_charge", yen);
  CHECK(d.rule == "tools.create_charge.deny_if[1]");
  CHECK(d.reason == "Only USD and EUR.");

  Json no_reason = ok;
  no_reason.erase("reason");
  d = Eval(*p, "create_charge", no_reason);
  CHECK(d.action == Action::kDeny);
  CHECK(d.rule == "tools.create_charge.require[0]");
  CHECK(d.reason == "Denied by policy (tools.create_charge.require[0]): the call must satisfy reason exists.");

  // deny_if is checked before the hold: a forbidden call is never queued for a human.
  CHECK(Eval(*p, "cancel_job", {{"job_id", "sys-1"}}).action == Action::kDeny);
  CHECK(Eval(*p, "cancel_job", {{"job_id", "u-1"}}).action == Action::kHold);
  // No arguments at all: conditions see nothing, so not_in holds (deny_if runs before require).
  CallContext ctx;
  ctx.tool = "create_charge";
  Decision none = p->Evaluate(ctx);
  CHECK(none.action == Action::kDeny);
  CHECK(none.rule == "tools.create_charge.deny_if[1]");
  Json not_object = "text";
  ctx.arguments = &not_object;
  CHECK(p->Evaluate(ctx).rule == "tools.create_charge.deny_if[1]");
}

TEST_CASE("cases: cancel_job needs two approvers when delete is true", "[policy][cases]") {
  auto p = Policy::LoadFile(testutil::RepoRoot() + "/schema/policies/sktime.json");
  REQUIRE(p.ok());
  const Policy& policy = **p;
  Decision plain = Eval(policy, "cancel_job", {{"job_id", "j1"}});
  CHECK(plain.action == Action::kHold);
  CHECK(plain.rule == "tools.cancel_job");
  REQUIRE(plain.approval != nullptr);
  CHECK(plain.approval->approvers == 1);
  Decision keep = Eval(policy, "cancel_job", {{"job_id", "j1"}, {"delete", false}});
  REQUIRE(keep.approval != nullptr);
  CHECK(keep.approval->approvers == 1);
  for (const Json& truthy : {Json(true), Json("true"), Json(1)}) {
    Decision del = Eval(policy, "cancel_job", {{"job_id", "j1"}, {"delete", truthy}});
    INFO(truthy.dump());
    CHECK(del.action == Action::kHold);
    CHECK(del.rule == "tools.cancel_job.cases[0]");
    REQUIRE(del.approval != nullptr);
    CHECK(del.approval->approvers == 2);
    // Merged key by key: the base's timeout and notify targets still apply.
    CHECK(del.approval->timeout_ms == 30 * 60'000);
    CHECK(del.approval->notify == plain.approval->notify);
    CHECK(del.reason != plain.reason);
    REQUIRE(del.risk != nullptr);
    CHECK((*del.risk)["level"] == "critical");
  }
}

TEST_CASE("cases: first matching case wins, deny_if and limits add up", "[policy][cases]") {
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
    "t": {
      "action": "deny", "reason": "base",
      "deny_if": [{"path": "x", "op": "eq", "value": 1}],
      "limits": [{"counter": "base", "window": "minute", "max": 5}],
      "cases": [
        {"when": [{"path": "mode", "op": "eq", "value": "a"}], "action": "allow",
         "limits": [{"counter": "case", "window": "hour", "max": 1}]},
        {"when": [{"path": "mode", "op": "in", "value": ["a", "b"]}], "action": "require_approval",
         "deny_if": [{"path": "y", "op": "exists"}]}
      ]
    }}})");
  Decision base = Eval(*p, "t", {{"mode", "z"}});
  CHECK(base.action == Action::kDeny);
  CHECK(base.reason == "base");
  Decision a = Eval(*p, "t", {{"mode", "a"}});
  CHECK(a.action == Action::kAllow);
  CHECK(a.rule == "tools.t.cases[0]");
  REQUIRE(a.limits != nullptr);
  REQUIRE(a.limits->size() == 2);
  CHECK((*a.limits)[0].counter == "base");
  CHECK((*a.limits)[1].counter == "case");
  CHECK(Eval(*p, "t", {{"mode", "a"}, {"x", 1}}).rule == "tools.t.deny_if[0]");  // base deny_if kept
  CHECK(Eval(*p, "t", {{"mode", "b"}}).action == Action::kHold);
  Decision by = Eval(*p, "t", {{"mode", "b"}, {"y", 0}});
  CHECK(by.action == Action::kDeny);
  CHECK(by.rule == "tools.t.cases[1].deny_if[0]");
}

TEST_CASE("shadow: the whole policy observes only", "[policy][shadow]") {
  auto p = MustParse(R"({"version": "1", "default": "deny", "shadow": true, "hide": ["secret"],
    "tools": {"list_jobs": {}, "cancel_job": {"action": "require_approval"}}})");
  CHECK(p->shadow());
  CHECK_FALSE(p->IsHidden("secret"));  // not enforced, so not filtered either
  Decision hide = Eval(*p, "secret");
  CHECK(hide.action == Action::kAllow);
  CHECK(hide.shadow);
  CHECK(hide.shadow_action == Action::kHide);
  Decision deny = Eval(*p, "other");
  CHECK(deny.action == Action::kAllow);
  CHECK(deny.shadow_action == Action::kDeny);
  CHECK(deny.rule == "default");
  CHECK_FALSE(deny.reason.empty());
  Decision hold = Eval(*p, "cancel_job");
  CHECK(hold.action == Action::kAllow);
  CHECK(hold.shadow_action == Action::kHold);
  CHECK(hold.approval != nullptr);  // what the hold would have been
  Decision allow = Eval(*p, "list_jobs");
  CHECK(allow.action == Action::kAllow);
  CHECK(allow.shadow);
  CHECK(allow.shadow_action == Action::kAllow);
}

TEST_CASE("shadow: per rule, and per case", "[policy][shadow]") {
  auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {
    "new_rule": {"action": "deny", "shadow": true},
    "old_rule": {"action": "deny"},
    "mixed":    {"action": "require_approval",
                 "cases": [{"when": [{"path": "dry", "op": "eq", "value": true}], "shadow": true}]}
  }})");
  CHECK_FALSE(p->shadow());
  Decision n = Eval(*p, "new_rule");
  CHECK(n.action == Action::kAllow);
  CHECK(n.shadow);
  CHECK(n.shadow_action == Action::kDeny);
  Decision o = Eval(*p, "old_rule");
  CHECK(o.action == Action::kDeny);
  CHECK_FALSE(o.shadow);
  CHECK(Eval(*p, "mixed").action == Action::kHold);
  Decision m = Eval(*p, "mixed", {{"dry", true}});
  CHECK(m.action == Action::kAllow);
  CHECK(m.shadow_action == Action::kHold);
  CHECK(Eval(*p, "unknown").action == Action::kDeny);  // default is not shadowed
}

TEST_CASE("annotations: opt-in holds unnamed destructive tools, hints never relax", "[policy][annotations]") {
  const Json read_only = {{"readOnlyHint", true}};
  const Json not_destructive = {{"readOnlyHint", false}, {"destructiveHint", false}};
  const Json destructive = {{"destructiveHint", true}};
  const Json read_only_wins = {{"readOnlyHint", true}, {"destructiveHint", true}};
  const Json bare = Json::object();

  auto off = MustParse(R"({"version": "1", "default": "allow"})");
  CHECK(Eval(*off, "wipe", Json::object(), &destructive).action == Action::kAllow);

  auto on = MustParse(R"({"version": "1", "default": "allow",
    "annotations": {"destructive_requires_approval": true, "approval": {"approvers": 2, "hold": "10s"}},
    "tools": {"named_wipe": {}}})");
  Decision d = Eval(*on, "wipe", Json::object(), &destructive);
  CHECK(d.action == Action::kHold);
  CHECK(d.rule == "annotations.destructive_requires_approval");
  REQUIRE(d.approval != nullptr);
  CHECK(d.approval->approvers == 2);
  CHECK(d.approval->hold_ms == 10'000);
  // MCP defaults: no annotations at all, or none of the hints, means destructive.
  CHECK(Eval(*on, "wipe", Json::object(), nullptr).action == Action::kHold);
  CHECK(Eval(*on, "wipe", Json::object(), &bare).action == Action::kHold);
  CHECK(Eval(*on, "read", Json::object(), &read_only).action == Action::kAllow);
  CHECK(Eval(*on, "read", Json::object(), &read_only_wins).action == Action::kAllow);
  CHECK(Eval(*on, "soft", Json::object(), &not_destructive).action == Action::kAllow);
  // A tool the policy names is decided by its rule, whatever its annotations say.
  CHECK(Eval(*on, "named_wipe", Json::object(), &destructive).action == Action::kAllow);

  // Under default deny the opt-in cannot loosen anything.
  auto deny = MustParse(R"({"version": "1", "default": "deny", "annotations": {"destructive_requires_approval": true}})");
  CHECK(Eval(*deny, "wipe", Json::object(), &destructive).action == Action::kDeny);
  CHECK(Eval(*deny, "read", Json::object(), &read_only).action == Action::kDeny);
}

TEST_CASE("decisions keep their policy alive across a reload", "[policy][evaluate]") {
  Decision d;
  {
    auto p = MustParse(R"({"version": "1", "default": "deny", "tools": {"cancel_job": {"action": "require_approval",
      "risk": {"level": "critical"}, "approval": {"approvers": 2, "notify": ["slack:#a"]}}}})");
    d = Eval(*p, "cancel_job");
  }  // the last outside reference is gone
  REQUIRE(d.policy != nullptr);
  REQUIRE(d.approval != nullptr);
  CHECK(d.approval->approvers == 2);
  CHECK(d.approval->notify.front() == "slack:#a");
  CHECK((*d.risk)["level"] == "critical");
}

TEST_CASE("evaluate is safe to call from many threads", "[policy][evaluate]") {
  auto p = Policy::LoadFile(testutil::RepoRoot() + "/schema/policies/sktime.json");
  REQUIRE(p.ok());
  std::shared_ptr<const Policy> policy = *p;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        bool del = (i + t) % 2 == 0;
        Decision d = Eval(*policy, "cancel_job", {{"job_id", "j"}, {"delete", del}});
        if (d.action != Action::kHold || d.approval == nullptr || d.approval->approvers != (del ? 2 : 1)) ++wrong;
        if (Eval(*policy, "run_command").action != Action::kHide) ++wrong;
        if (Eval(*policy, "save_data", {{"path", "../x"}}).action != Action::kDeny) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
}

TEST_CASE("action and scope names", "[policy][evaluate]") {
  CHECK(std::string(ActionName(Action::kHold)) == "hold");
  CHECK(std::string(ActionName(Action::kRateLimited)) == "rate_limited");
  CHECK(std::string(ScopeName(Scope::kSession)) == "session");
}

}  // namespace
}  // namespace holdgate::policy
