// PolicyAdmin's editor operations: validate, dry run against audited calls, save (atomic,
// versioned, audited, refused when invalid or without a reason), rollback.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "common/crypto.h"
#include "common/file_util.h"
#include "server/policy_admin.h"
#include "server/policy_versions.h"
#include "store/store.h"
#include "support/fake_clock.h"

namespace holdgate::server {
namespace {

constexpr char kBase[] = R"({
  "version": "1",
  "default": "deny",
  "tools": {
    "list_jobs": {},
    "cancel_job": {}
  }
}
)";

constexpr char kHoldDelete[] = R"({
  "version": "1",
  "default": "deny",
  "tools": {
    "list_jobs": {},
    "cancel_job": {
      "cases": [
        {"when": [{"path": "args.delete", "op": "eq", "value": true}], "action": "require_approval"}
      ]
    }
  }
}
)";

struct Fixture {
  std::filesystem::path dir;
  holdgate::testing::FakeClock clock;
  std::unique_ptr<store::Store> store;
  std::string policy_path;
  std::unique_ptr<PolicyAdmin> admin;
  int applied = 0;
  PolicyAdmin::Apply apply = [this](std::shared_ptr<const policy::Policy>) { ++applied; };

  Fixture() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hg_policy_editor_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    policy_path = (dir / "policy.json").string();
    Write(kBase);
    auto opened = store::Store::Open((dir / "holdgate.db").string(), clock);
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    admin = std::make_unique<PolicyAdmin>(policy_path, store.get(), clock);
    REQUIRE(admin->LoadInitial().ok());
  }
  ~Fixture() {
    admin.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  void Write(const std::string& text) {
    std::ofstream out(policy_path, std::ios::trunc);
    out << text;
  }
  std::string Read() {
    std::string text;
    REQUIRE(ReadWholeFile(policy_path, &text));
    return text;
  }
  void Call(const std::string& type, const std::string& tool, const Json& args, const std::string& decision) {
    store::AuditEvent e;
    e.type = type;
    e.tool = tool;
    e.principal = "agent-1";
    e.decision = decision;
    e.rule = "tools." + tool;
    e.detail = Json{{"arguments", args}};
    REQUIRE(store->AppendAudit(e).ok());
  }
  std::vector<store::AuditEvent> Audit(const std::string& type) {
    store::AuditFilter f;
    f.type = type;
    auto page = store->ListAudit(f);
    REQUIRE(page.ok());
    return page->events;
  }
  PolicyAdmin::SaveRequest Save(const std::string& text, const std::string& why = "hold deletions") {
    PolicyAdmin::SaveRequest r;
    r.text = text;
    r.why = why;
    r.actor = "ada";
    r.via = "ui";
    return r;
  }
};

TEST_CASE("validate reports the parser's errors and warnings", "[server][policy_editor]") {
  Fixture f;
  Json ok = f.admin->Validate(kHoldDelete, nullptr);
  CHECK(ok["ok"] == true);
  CHECK(ok["hash"] == Sha256Hex(kHoldDelete));
  Json bad = f.admin->Validate(R"({"version": "1", "default": "maybe"})", nullptr);
  CHECK(bad["ok"] == false);
  REQUIRE(bad["errors"].size() >= 1);
  CHECK(bad["errors"][0].get<std::string>().find("default") != std::string::npos);
}

TEST_CASE("dry run lists the audited calls whose decision the draft changes", "[server][policy_editor]") {
  Fixture f;
  f.Call("call.allowed", "cancel_job", Json{{"job_id", "a"}, {"delete", true}}, "allow");
  f.Call("call.allowed", "cancel_job", Json{{"job_id", "b"}}, "allow");
  f.Call("call.denied", "whoami", Json::object(), "deny");
  f.Call("call.allowed", "list_jobs", Json::object(), "allow");
  auto r = f.admin->DryRun(kHoldDelete, 100, nullptr);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK((*r)["compared"] == 4);
  CHECK((*r)["changed"] == 1);
  REQUIRE((*r)["changes"].size() == 1);
  const Json& c = (*r)["changes"][0];
  CHECK(c["tool"] == "cancel_job");
  CHECK(c["arguments"]["job_id"] == "a");
  CHECK(c["was"] == "allow");
  CHECK(c["draft"] == "hold");
  CHECK(c["draft_rule"] == "tools.cancel_job.cases[0]");
  CHECK((*r)["by_transition"]["allow → hold"] == 1);

  SECTION("limit takes the newest calls only") {
    auto newest = f.admin->DryRun(kHoldDelete, 2, nullptr);
    REQUIRE(newest.ok());
    CHECK((*newest)["compared"] == 2);
    CHECK((*newest)["changed"] == 0);
  }
  SECTION("a broken draft is refused with the parser's message") {
    auto bad = f.admin->DryRun(R"({"version": "1", "default": "deny", "tools": {"x": {"action": "nope"}}})", 10, nullptr);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidArgument);
    CHECK(bad.status().message().find("tools.x.action") != std::string::npos);
  }
}

TEST_CASE("save writes the file, keeps versions, reloads and audits who and why", "[server][policy_editor]") {
  Fixture f;
  auto saved = f.admin->Save(f.Save(kHoldDelete), f.apply);
  INFO(saved.status().ToString());
  REQUIRE(saved.ok());
  CHECK(f.Read() == kHoldDelete);
  CHECK(f.applied == 1);
  CHECK(f.admin->Current()->hash() == Sha256Hex(kHoldDelete));
  CHECK((*saved)["previous_hash"] == Sha256Hex(kBase));
  CHECK((*saved)["version"]["number"] == 2);

  auto versions = f.admin->Versions();
  REQUIRE(versions.ok());
  REQUIRE((*versions)["versions"].size() == 2);
  CHECK((*versions)["versions"][0]["by"] == "ada");
  CHECK((*versions)["versions"][0]["why"] == "hold deletions");
  CHECK((*versions)["versions"][1]["number"] == 1);  // the file as it was before the first save
  const std::string first = (*versions)["versions"][1]["id"];
  auto v1 = f.admin->Version(first);
  REQUIRE(v1.ok());
  CHECK((*v1)["text"] == kBase);

  auto events = f.Audit("policy.saved");
  REQUIRE(events.size() == 1);
  CHECK(events[0].actor == "ada");
  CHECK(events[0].via == "ui");
  CHECK(events[0].detail["why"] == "hold deletions");
  CHECK(events[0].detail["previous_hash"] == Sha256Hex(kBase));

  SECTION("rollback restores an earlier version as a new one") {
    f.clock.Advance(1000);
    auto rolled = f.admin->Rollback(first, "ada", "ui", "deletions were fine", f.apply);
    INFO(rolled.status().ToString());
    REQUIRE(rolled.ok());
    CHECK(f.Read() == kBase);
    CHECK(f.admin->Current()->hash() == Sha256Hex(kBase));
    CHECK((*rolled)["version"]["number"] == 3);
    CHECK((*rolled)["version"]["rollback_of"] == first);
    auto saves = f.Audit("policy.saved");
    REQUIRE(saves.size() == 2);
    CHECK(saves[1].decision == "rollback");
    CHECK(saves[1].detail["rollback_of"] == first);
  }
  SECTION("saving the same text again is a conflict") {
    auto again = f.admin->Save(f.Save(kHoldDelete), f.apply);
    CHECK(again.status().code() == Code::kConflict);
  }
  SECTION("an unknown version is not found") {
    CHECK(f.admin->Version("../../etc/passwd").status().code() == Code::kNotFound);
    CHECK(f.admin->Rollback("9999-20260101T000000Z", "ada", "ui", "x", f.apply).status().code() == Code::kNotFound);
  }
}

TEST_CASE("an upstream's own file: its calls only, unprefixed names, top-level defaults, audit naming it",
          "[server][policy_editor]") {
  Fixture f;  // its admin stands for the top-level policy (default deny)
  const std::string path = (f.dir / "demo.json").string();
  constexpr char kOwn[] = R"({"version": "1", "tools": {"list_jobs": {}, "cancel_job": {}}})";
  {
    std::ofstream out(path);
    out << kOwn;
  }
  UpstreamPolicyScope scope;
  scope.name = "demo";
  scope.prefix = "demo_";
  scope.owner = [](const std::string& tool) { return tool.rfind("demo_", 0) == 0 ? "demo" : "ev"; };
  PolicyAdmin* top = f.admin.get();
  scope.defaults = [top] { return top->Current(); };
  PolicyAdmin demo(path, f.store.get(), f.clock, scope);
  REQUIRE(demo.LoadInitial().ok());  // no "default" of its own: the top-level one's
  CHECK(demo.Current()->hash() == Sha256Hex(kOwn));
  CHECK(demo.Get()["upstream"] == "demo");
  CHECK(demo.Get()["prefix"] == "demo_");
  auto checked = demo.Check(Json{{"tool", "stats"}});
  REQUIRE(checked.ok());
  CHECK((*checked)["action"] == "deny");  // the inherited default
  CHECK((*checked)["upstream"] == "demo");
  CHECK(demo.Validate(kOwn, nullptr)["ok"] == true);
  CHECK(f.admin->Validate(kOwn, nullptr)["ok"] == false);  // on its own, "default" is required

  f.Call("call.allowed", "demo_cancel_job", Json{{"job_id", "a"}, {"delete", true}}, "allow");
  f.Call("call.allowed", "ev_cancel_job", Json{{"job_id", "b"}, {"delete", true}}, "allow");
  std::string draft = kHoldDelete;
  draft.replace(draft.find("\"default\": \"deny\",\n"), std::string("\"default\": \"deny\",\n").size(), "");
  auto dry = demo.DryRun(draft, 100, nullptr);
  INFO(dry.status().ToString());
  REQUIRE(dry.ok());
  CHECK((*dry)["compared"] == 1);  // the other upstream's call is not its business
  REQUIRE((*dry)["changes"].size() == 1);
  CHECK((*dry)["changes"][0]["tool"] == "demo_cancel_job");
  CHECK((*dry)["changes"][0]["policy_tool"] == "cancel_job");
  CHECK((*dry)["changes"][0]["draft_rule"] == "tools.cancel_job.cases[0]");
  CHECK((*dry)["upstream"] == "demo");

  auto saved = demo.Save(f.Save(draft), f.apply);
  INFO(saved.status().ToString());
  REQUIRE(saved.ok());
  CHECK(f.Read() == kBase);  // the top-level file is untouched
  auto events = f.Audit("policy.saved");
  REQUIRE(events.size() == 1);
  CHECK(events[0].detail["upstream"] == "demo");
  CHECK(events[0].detail["file"] == path);
  CHECK((*demo.Versions())["versions"].size() == 2);
  CHECK((*f.admin->Versions())["versions"].empty());
  auto loaded = f.Audit("policy.loaded");
  REQUIRE_FALSE(loaded.empty());
  CHECK(loaded.back().detail["upstream"] == "demo");
}

TEST_CASE("save refuses a broken draft, a missing reason and a stale base, and leaves the file untouched",
          "[server][policy_editor]") {
  Fixture f;
  auto bad = f.admin->Save(f.Save(R"({"version": "1", "default": "deny", "tools": {"cancel_job": {"acton": "deny"}}})"),
                           f.apply);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK(bad.status().message().find("tools.cancel_job.acton") != std::string::npos);
  auto syntax = f.admin->Save(f.Save("{\"version\": \"1\","), f.apply);
  CHECK(syntax.status().code() == Code::kInvalidArgument);
  auto no_why = f.admin->Save(f.Save(kHoldDelete, "  "), f.apply);
  CHECK(no_why.status().code() == Code::kInvalidArgument);
  PolicyAdmin::SaveRequest stale = f.Save(kHoldDelete);
  stale.base_hash = std::string(64, 'a');
  CHECK(f.admin->Save(stale, f.apply).status().code() == Code::kConflict);
  CHECK(f.Read() == kBase);
  CHECK(f.applied == 0);
  CHECK_FALSE(std::filesystem::exists(f.policy_path + ".versions"));
  CHECK(f.Audit("policy.saved").empty());
  PolicyAdmin::SaveRequest fresh = f.Save(kHoldDelete);
  fresh.base_hash = Sha256Hex(kBase);
  CHECK(f.admin->Save(fresh, f.apply).ok());
}

TEST_CASE("policy version ids are checked before they touch the file system", "[server][policy_editor]") {
  CHECK(PolicyVersions::ValidId("0001-20261206T101500Z"));
  CHECK_FALSE(PolicyVersions::ValidId("../0001-20261206T101500Z"));
  CHECK_FALSE(PolicyVersions::ValidId("0001-20261206T101500Z.json"));
  CHECK_FALSE(PolicyVersions::ValidId(""));
}

}  // namespace
}  // namespace holdgate::server
