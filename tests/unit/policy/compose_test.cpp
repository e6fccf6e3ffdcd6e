// Policy::Compose: each upstream's own policy decides its tools on the unprefixed name, the
// top-level policy decides the rest, and the rule path names the upstream.
#include <catch2/catch.hpp>

#include "common/crypto.h"
#include "test_util.h"

namespace holdgate::policy {
namespace {

using testutil::Eval;
using testutil::MustParse;

TEST_CASE("compose: an upstream's own policy decides its tools on the unprefixed name", "[policy][compose]") {
  auto top = MustParse(R"({"version": "1", "default": "deny", "tools": {"gh_list": {"action": "allow"}}})");
  auto sktime = MustParse(R"({"version": "1", "default": "allow", "hide": ["debug"],
    "tools": {"cancel_job": {"action": "require_approval", "reason": "kills a job"}}})");
  auto plain = MustParse(R"({"version": "1", "default": "deny", "tools": {"echo": {"action": "allow"}}})");
  auto p = Policy::Compose(top, {{"sktime", "sktime_", sktime}, {"gh", "gh_", nullptr}, {"local", "", plain}});

  Decision d = Eval(*p, "sktime_cancel_job");
  CHECK(d.action == Action::kHold);
  CHECK(d.rule == "upstreams.sktime: tools.cancel_job");
  CHECK(d.reason == "kills a job");
  CHECK(Eval(*p, "sktime_fit").action == Action::kAllow);  // sktime's own default
  CHECK(p->IsHidden("sktime_debug"));
  CHECK_FALSE(p->IsHidden("debug"));
  // gh has no policy of its own: the top-level one decides, on the prefixed name.
  CHECK(Eval(*p, "gh_list").action == Action::kAllow);
  d = Eval(*p, "gh_delete_repo");
  CHECK(d.action == Action::kDeny);
  CHECK(d.rule == "default");
  // The empty prefix takes what no other upstream owns.
  d = Eval(*p, "echo");
  CHECK(d.action == Action::kAllow);
  CHECK(d.rule == "upstreams.local: tools.echo");
  CHECK(Eval(*p, "rm").action == Action::kDeny);

  auto [decider, name] = p->Resolve("sktime_cancel_job");
  CHECK(decider == sktime.get());
  CHECK(name == "cancel_job");
  CHECK_FALSE(p->hash().empty());
}

TEST_CASE("compose: top-level shadow mode applies to every upstream, no top-level policy allows", "[policy][compose]") {
  auto top = MustParse(R"({"version": "1", "default": "allow", "shadow": true})");
  auto own = MustParse(R"({"version": "1", "default": "deny"})");
  auto p = Policy::Compose(top, {{"a", "a_", own}});
  Decision d = Eval(*p, "a_x");
  CHECK(d.action == Action::kAllow);
  CHECK(d.shadow);
  CHECK(d.shadow_action == Action::kDeny);

  auto open = Policy::Compose(nullptr, {{"a", "a_", own}, {"b", "b_", nullptr}});
  CHECK(Eval(*open, "b_anything").action == Action::kAllow);
  CHECK(Eval(*open, "a_anything").action == Action::kDeny);
}


TEST_CASE("compose: an upstream policy takes the top-level defaults it leaves out, its own win", "[policy][compose]") {
  auto top = MustParse(R"({"version": "1", "default": "deny",
    "all_tools": {"limits": [{"counter": "everything", "window": "minute", "max": 100, "scope": "global"}]},
    "annotations": {"destructive_requires_approval": true, "approval": {"approvers": 2, "timeout": "5m"}}})");
  // No "default", "all_tools" or "annotations" of its own: all three come from the top.
  auto bare = Policy::ParseUpstream(R"({"version": "1", "tools": {"list_jobs": {}}})", top.get());
  INFO(bare.status().message());
  REQUIRE(bare.ok());
  // Its own "default" and annotation approval win; the destructive opt-in and limits are the top's.
  auto own = Policy::ParseUpstream(R"({"version": "1", "default": "allow",
    "annotations": {"approval": {"approvers": 3}}, "tools": {"fit": {"limits": [{"counter": "fit", "window": "minute", "max": 5}]}}})",
                                   top.get());
  INFO(own.status().message());
  REQUIRE(own.ok());
  auto p = Policy::Compose(top, {{"a", "a_", *bare}, {"b", "b_", *own}});

  Decision d = Eval(*p, "a_delete_everything");
  CHECK(d.action == Action::kDeny);
  CHECK(d.rule == "upstreams.a: default");
  d = Eval(*p, "a_list_jobs");
  CHECK(d.action == Action::kAllow);
  REQUIRE(d.limits != nullptr);
  REQUIRE(d.limits->size() == 1);
  CHECK(d.limits->at(0).counter == "everything");
  CHECK(d.limits->at(0).scope == Scope::kGlobal);

  const Json destructive = {{"destructiveHint", true}};
  const Json read_only = {{"readOnlyHint", true}};
  d = Eval(*p, "b_drop_table", Json::object(), &destructive);
  CHECK(d.action == Action::kHold);
  CHECK(d.rule == "upstreams.b: annotations.destructive_requires_approval");
  REQUIRE(d.approval != nullptr);
  CHECK(d.approval->approvers == 3);         // its own
  CHECK(d.approval->timeout_ms == 5 * 60'000);  // the top's, merged key by key
  CHECK(Eval(*p, "b_list", Json::object(), &read_only).action == Action::kAllow);
  d = Eval(*p, "b_fit");
  REQUIRE(d.limits != nullptr);
  REQUIRE(d.limits->size() == 2);  // the top's all_tools limit, then the rule's own
  CHECK(d.limits->at(0).counter == "everything");
  CHECK(d.limits->at(1).counter == "fit");

  // A reloaded top-level policy reaches the upstream that inherits from it.
  auto relaxed = MustParse(R"({"version": "1", "default": "allow"})");
  auto q = Policy::Compose(relaxed, {{"a", "a_", *bare}, {"b", "b_", *own}});
  d = Eval(*q, "a_delete_everything");
  CHECK(d.action == Action::kAllow);
  CHECK(d.limits == nullptr);
  CHECK(Eval(*q, "b_drop_table", Json::object(), &destructive).action == Action::kAllow);
  CHECK(q->hash() != p->hash());
  CHECK((*bare)->hash() == Sha256Hex(R"({"version": "1", "tools": {"list_jobs": {}}})"));
}

TEST_CASE("compose: without a top-level policy an upstream policy must set its default", "[policy][compose]") {
  auto missing = Policy::ParseUpstream(R"({"version": "1", "tools": {}})", nullptr);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("default: is required"));
  auto top = MustParse(R"({"version": "1", "default": "deny"})");
  CHECK(Check(R"({"version": "1", "tools": {}})", nullptr, top.get()).ok);
  CHECK_FALSE(Check(R"({"version": "1", "tools": {}})", nullptr, nullptr).ok);
  // A bad value of its own is still refused, with its path.
  const CheckReport bad = Check(R"({"version": "1", "default": "maybe"})", nullptr, top.get());
  CHECK_FALSE(bad.ok);
  REQUIRE_FALSE(bad.errors.empty());
  CHECK_THAT(bad.errors[0], Catch::StartsWith("default: must be"));
}

}  // namespace
}  // namespace holdgate::policy
