// The reviewer CLI commands (src/cli/reviewer_commands.cpp) against a live ReviewServer: run
// in-process through RunReviewerCommand (stdout/stderr captured), and through the built `holdgate`
// binary once its dispatcher routes the reviewer commands.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/reviewer_commands.h"
#include "integration/review_fixture.h"

namespace holdgate::reviewtest {
namespace {

using review::Role;

struct CliResult {
  int code = -100;
  std::string out;
  std::string err;
};

// Runs a reviewer command in this process with stdout/stderr captured.
CliResult Run(std::vector<std::string> args) {
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  CliResult r;
  r.code = cli::RunReviewerCommand(args);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

struct CliEnv : ReviewEnv {
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  CliResult As(const std::string& token, std::vector<std::string> args) {
    args.push_back("--url=" + url());
    args.push_back("--token=" + token);
    return Run(std::move(args));
  }
};

}  // namespace

TEST_CASE("cli: token mints verifiable HS256 tokens and refuses bad input", "[review][cli]") {
  auto r = Run({"token", "--sub", "alice", "--role", "reviewer", "--ttl", "30m", "--secret", kSecret});
  REQUIRE(r.code == 0);
  std::string tok = r.out.substr(0, r.out.find('\n'));
  review::JwtConfig c;
  c.hs256_secret = kSecret;
  auto v = review::JwtVerifier::Create(c);
  REQUIRE(v.ok());
  auto auth = (*v)->Verify(tok);
  CHECK(auth.ok());
  CHECK(auth.subject == "alice");
  CHECK(auth.role == Role::kReviewer);

  CHECK(Run({"token", "--sub", "alice", "--role", "reviewer", "--secret", "short"}).code == 2);
  CHECK(Run({"token", "--role", "reviewer", "--secret", kSecret}).code == 2);
  CHECK(Run({"token", "--sub", "a", "--role", "root", "--secret", kSecret}).code == 2);
  CHECK(Run({"token", "--sub", "a", "--role", "admin", "--ttl", "soon", "--secret", kSecret}).code == 2);
  CHECK(Run({"token", "--sub", "a", "--role", "admin", "--bogus"}).code == 2);
  CHECK(Run({"token", "--help"}).code == 0);

  // From a config file: review.auth.jwt_secret, with issuer/audience carried over.
  TempDir dir;
  const std::string cfg = dir.File("holdgate.json");
  {
    std::ofstream out(cfg);
    out << Json{{"review", {{"auth", {{"jwt_secret", kSecret}, {"issuer", "hg"}, {"audience", "rev"}}}}}}.dump();
  }
  unsetenv("HOLDGATE_JWT_SECRET");
  r = Run({"token", "--sub", "bob", "--role", "admin", "--config", cfg});
  REQUIRE(r.code == 0);
  c.issuer = "hg";
  c.audience = "rev";
  auto v2 = review::JwtVerifier::Create(c);
  REQUIRE(v2.ok());
  CHECK((*v2)->Verify(r.out.substr(0, r.out.find('\n'))).role == Role::kAdmin);
  // Or the reviewer-secret file that `holdgate serve` generates beside the database.
  const std::string cfg2 = dir.File("other.json");
  {
    std::ofstream out(cfg2);
    out << Json{{"db", dir.File("data/holdgate.db")}}.dump();
  }
  std::filesystem::create_directories(dir.File("data"));
  {
    std::ofstream out(dir.File("data/reviewer-secret"));
    out << kSecret << "\n";
  }
  r = Run({"token", "--sub", "carol", "--role", "auditor", "--config", cfg2});
  INFO(r.err);
  CHECK(r.code == 0);

  // An explicit --config wins over HOLDGATE_JWT_SECRET.
  setenv("HOLDGATE_JWT_SECRET", "another-secret-that-is-long-enough-0123456789", 1);
  r = Run({"token", "--sub", "dora", "--role", "reviewer", "--config", cfg});
  REQUIRE(r.code == 0);
  CHECK((*v2)->Verify(r.out.substr(0, r.out.find('\n'))).ok());
  unsetenv("HOLDGATE_JWT_SECRET");

  // The page's hint, run as printed in the folder `holdgate serve` runs from: no flag, no
  // environment; the secret is the data/reviewer-secret that serve generates there.
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(dir.File(""));
  r = Run({"token", "--sub", "erin", "--role", "reviewer"});
  std::filesystem::current_path(before);
  INFO(r.err);
  REQUIRE(r.code == 0);
  review::JwtConfig plain;
  plain.hs256_secret = kSecret;
  auto v3 = review::JwtVerifier::Create(plain);
  REQUIRE(v3.ok());
  CHECK((*v3)->Verify(r.out.substr(0, r.out.find('\n'))).subject == "erin");
  // Elsewhere, with nothing to go on, it says where a secret can come from.
  std::filesystem::current_path(std::filesystem::temp_directory_path());
  r = Run({"token", "--sub", "erin", "--role", "reviewer"});
  std::filesystem::current_path(before);
  CHECK(r.code == 2);
  CHECK(r.err.find("data/reviewer-secret") != std::string::npos);
}

TEST_CASE("cli: list, show, approve, reject with exit codes", "[review][cli]") {
  CliEnv env;
  auto a = env.Create("cancel_job", Json{{"job_id", 7}, {"evil", "\x1b[2J\x1b[31mred"}}, "agent-\x1b]0;pwned\x07");
  auto b = env.Create("delete_model", Json{{"model", "m1"}});
  const std::string bob = env.Token("bob");

  auto r = env.As(bob, {"list"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("ID") == 0);
  CHECK(r.out.find(a.id) != std::string::npos);
  CHECK(r.out.find(b.id) != std::string::npos);
  CHECK(r.out.find('\x1b') == std::string::npos);  // no terminal escape sequences pass through
  CHECK(r.out.find('\x07') == std::string::npos);

  r = env.As(bob, {"list", "--json", "--tool", "delete_model"});
  REQUIRE(r.code == 0);
  auto arr = ParseJson(r.out);
  REQUIRE(arr.ok());
  REQUIRE(arr->is_array());
  REQUIRE(arr->size() == 1);
  CHECK((*arr)[0]["id"] == b.id);
  CHECK((*arr)[0]["arguments"] == Json{{"model", "m1"}});

  r = env.As(bob, {"show", a.id});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("cancel_job") != std::string::npos);
  CHECK(r.out.find("\"job_id\": 7") != std::string::npos);
  CHECK(r.out.find('\x1b') == std::string::npos);
  r = env.As(bob, {"show", a.id, "--json"});
  REQUIRE(r.code == 0);
  CHECK(ParseJson(r.out)->at("id") == a.id);
  r = env.As(bob, {"show", "apr_missing"});
  CHECK(r.code == 3);
  CHECK(r.err.find("404") != std::string::npos);

  r = env.As(bob, {"approve", a.id, "--reason", "ok"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("Approved") == 0);
  CHECK(env.store->Get(a.id)->decided_via == "cli");
  r = env.As(bob, {"approve", a.id});
  CHECK(r.code == 0);  // double approve: harmless
  r = env.As(env.Token("carol"), {"reject", a.id, "--reason", "late"});
  CHECK(r.code == 4);
  CHECK(r.err.find("409") != std::string::npos);

  r = env.As(bob, {"reject", b.id});
  CHECK(r.code == 2);  // reason required, refused before asking the server
  CHECK(env.store->Get(b.id)->state == store::State::kPending);
  r = env.As(env.Token("dan", Role::kAuditor), {"reject", b.id, "--reason", "no"});
  CHECK(r.code == 5);
  r = env.As(bob, {"reject", b.id, "--reason", "too risky"});
  REQUIRE(r.code == 0);
  CHECK(env.store->Get(b.id)->reason == "too risky");

  r = env.As(bob, {"list", "--state", "rejected", "--json"});
  CHECK(ParseJson(r.out)->size() == 1);
  r = env.As(bob, {"list"});
  CHECK(r.out == "No pending approvals.\n");

  // Auth and connection failures.
  r = env.As("not-a-token", {"list"});
  CHECK(r.code == 5);
  r = Run({"list", "--url=" + env.url()});
  CHECK(r.code == 5);
  r = Run({"list", "--url=http://127.0.0.1:1", "--token=" + bob});
  CHECK(r.code == 1);
  CHECK(r.err.find("cannot reach") != std::string::npos);
  r = Run({"list", "--url=ftp://x", "--token=" + bob});
  CHECK(r.code == 2);
  CHECK(env.As(bob, {"list", "--limit", "0"}).code == 2);
  CHECK(env.As(bob, {"list", "--state", "bogus"}).code == 2);
  CHECK(env.As(bob, {"show"}).code == 2);
  CHECK(env.As(bob, {"approve", a.id, "--arguments", "[1]"}).code == 2);
  for (std::string cmd : {"list", "show", "approve", "reject", "watch", "audit"}) {
    r = Run({cmd, "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("Exit codes") != std::string::npos);
  }
  CHECK(Run({"serve"}).code == -1);
  CHECK(Run({}).code == -1);

  // HOLDGATE_URL / HOLDGATE_TOKEN.
  setenv("HOLDGATE_URL", env.url().c_str(), 1);
  setenv("HOLDGATE_TOKEN", bob.c_str(), 1);
  r = Run({"list", "--all", "--json"});
  unsetenv("HOLDGATE_URL");
  unsetenv("HOLDGATE_TOKEN");
  REQUIRE(r.code == 0);
  CHECK(ParseJson(r.out)->size() == 2);
}

TEST_CASE("cli: several IDs are one bulk decision, each approval on its own", "[review][cli]") {
  CliEnv env;
  auto a = env.Create("cancel_job", Json{{"job_id", 1}});
  auto b = env.Create("cancel_job", Json{{"job_id", 2}});
  auto c = env.Create("cancel_job", Json{{"job_id", 3}});
  const std::string bob = env.Token("bob");

  // Approve two plus an unknown one: both real ones are approved, the unknown one fails (exit 3).
  auto r = env.As(bob, {"approve", a.id, "apr_missing", b.id, "--reason", "batch"});
  INFO(r.out << r.err);
  CHECK(r.code == 3);
  CHECK(env.store->Get(a.id)->state == store::State::kApproved);
  CHECK(env.store->Get(b.id)->state == store::State::kApproved);
  CHECK(r.err.find("apr_missing") != std::string::npos);
  CHECK(r.out.find(a.id) != std::string::npos);
  CHECK(r.out.find(b.id) != std::string::npos);

  // Reject with --json: one result per ID, in order; an already decided one is a conflict (exit 4).
  r = env.As(bob, {"reject", c.id, a.id, "--reason", "not now", "--json"});
  CHECK(r.code == 4);
  auto results = ParseJson(r.out);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 2);
  CHECK((*results)[0]["id"] == c.id);
  CHECK((*results)[0]["ok"] == true);
  CHECK((*results)[1]["id"] == a.id);
  CHECK((*results)[1]["ok"] == false);
  CHECK(env.store->Get(c.id)->state == store::State::kRejected);
  CHECK(env.store->Get(a.id)->state == store::State::kApproved);  // unchanged

  // Edited arguments apply to one call only.
  CHECK(env.As(bob, {"approve", a.id, b.id, "--arguments", "{}"}).code == 2);
  CHECK(env.As(bob, {"reject", a.id, b.id}).code == 2);  // a reason is still required
}

TEST_CASE("cli: approve --all with a filter decides every matching pending approval", "[review][cli]") {
  CliEnv env;
  auto a = env.Create("cancel_job", Json{{"job_id", 1}});
  auto b = env.Create("cancel_job", Json{{"job_id", 2}});
  auto other = env.Create("start_job", Json{{"job_id", 3}});
  const std::string bob = env.Token("bob");
  CHECK(env.As(bob, {"approve", "--all"}).code == 2);  // a filter is required
  CHECK(env.As(bob, {"approve", a.id, "--all", "--tool", "cancel_job"}).code == 2);
  CHECK(env.As(bob, {"approve", "--tool", "cancel_job"}).code == 2);  // a filter goes with --all
  auto r = env.As(bob, {"approve", "--all", "--tool", "cancel_job", "--reason", "storm", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  auto results = ParseJson(r.out);
  REQUIRE(results.ok());
  CHECK(results->size() == 2);
  CHECK(env.store->Get(a.id)->state == store::State::kApproved);
  CHECK(env.store->Get(b.id)->state == store::State::kApproved);
  CHECK(env.store->Get(other.id)->state == store::State::kPending);
  r = env.As(bob, {"reject", "--all", "--tool", "cancel_job", "--reason", "again"});
  CHECK(r.code == 0);
  CHECK(r.out.find("No pending approval matches") != std::string::npos);
}

TEST_CASE("cli: watch follows events", "[review][cli]") {
  CliEnv env;
  const std::string tok = env.Token("carol", Role::kAuditor);
  // Start from the current head, so nothing is missed however late the stream opens.
  store::AuditFilter head;
  head.newest_first = true;
  head.limit = 1;
  auto page = env.store->ListAudit(head);
  REQUIRE(page.ok());
  const std::string from = std::to_string(page->events.empty() ? 0 : page->events[0].seq);
  CliResult r;
  std::thread t([&] { r = env.As(tok, {"watch", "--count", "3", "--json", "--last-event-id", from}); });
  auto a = env.Create();
  auto client = env.Client();
  REQUIRE(client->Post("/api/approvals/" + a.id + "/reject", Auth(env.Token("bob")), R"({"reason":"no"})",
                       "application/json")->status == 200);
  t.join();
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::istringstream lines(r.out);
  std::string line;
  std::vector<std::string> types;
  while (std::getline(lines, line)) {
    auto j = ParseJson(line);
    REQUIRE(j.ok());
    types.push_back((*j)["type"]);
    CHECK((*j)["approval"]["id"] == a.id);
  }
  REQUIRE(types.size() == 3);  // created, the vote, then the decision
  CHECK(types[0] == "approval.created");
  CHECK(types[1] == "approval.vote");
  CHECK(types[2] == "approval.rejected");

  // Resume: everything after a given event id, human-readable.
  r = env.As(tok, {"watch", "--count", "1", "--last-event-id", "0"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("approval.created") != std::string::npos);
  CHECK(r.out.find(a.id) != std::string::npos);
  CHECK(env.As("bad", {"watch"}).code == 5);
}

TEST_CASE("cli: audit table, exports and verify (API and offline)", "[review][cli]") {
  CliEnv env;
  auto a = env.Create();
  auto b = env.Create("delete_model", Json{{"model", "m"}});
  const std::string tok = env.Token("carol", Role::kAuditor);
  auto r = env.As(tok, {"audit"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("approval.created") != std::string::npos);
  r = env.As(tok, {"audit", "--format", "jsonl", "--approval", a.id});
  REQUIRE(r.code == 0);
  int lines = 0;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    auto j = ParseJson(line);
    REQUIRE(j.ok());
    CHECK((*j)["approval_id"] == a.id);
    ++lines;
  }
  CHECK(lines >= 1);
  r = env.As(tok, {"audit", "--format", "csv"});
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("seq,ts,type", 0) == 0);
  CHECK(r.out.find(b.id) != std::string::npos);
  CHECK(env.As(tok, {"audit", "--format", "xml"}).code == 2);

  r = env.As(tok, {"audit", "verify"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("Audit chain OK") == 0);
  r = Run({"audit", "verify", "--db", env.db_path});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("Audit chain OK") == 0);
  CHECK(Run({"audit", "verify", "--db", env.dir.File("missing.db")}).code == 3);
}

TEST_CASE("cli: the holdgate binary routes the reviewer commands", "[review][cli][binary]") {
  auto run = [](const std::string& args, std::string* out) {
    std::string cmd = std::string(HOLDGATE_BINARY) + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    size_t n;
    out->clear();
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  std::string out;
  int rc = run("list --help", &out);
  INFO(out);
  REQUIRE(out.find("unknown command") == std::string::npos);  // a dispatcher that does not route fails
  CHECK(rc == 0);
  CliEnv env;
  auto a = env.Create();
  const std::string common = " --url=" + env.url() + " --token=" + env.Token("bob");
  CHECK(run("list --json" + common, &out) == 0);
  CHECK(out.find(a.id) != std::string::npos);
  CHECK(run("approve " + a.id + common, &out) == 0);
  CHECK(env.store->Get(a.id)->state == store::State::kApproved);
  CHECK(run("reject " + a.id + " --reason late" + common, &out) == 4);  // already decided
  CHECK(out.find("409") != std::string::npos);
}

}  // namespace holdgate::reviewtest
