// Policy::Compose: each upstream's own policy decides its tools on the unprefixed name, the
// top-level policy decides the rest, and the rule path names the upstream.
#include <catch2/catch.hpp>

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

TEST_CASE("compose: top-level shadow mode applies to every upstream; no top-level policy allows", "[policy][compose]") {
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

}  // namespace
}  // namespace holdgate::policy
