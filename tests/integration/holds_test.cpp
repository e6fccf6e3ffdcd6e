// Held calls end to end, against a real holdgate process, the demo upstream (which counts how
// often cancel_job really ran) and the review API: approve, reject, expire, defer and retry,
// exactly-once under concurrent approvals, and restarts (kill -9) at each step.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "support/mcp_http_client.h"
#include "support/process.h"
#include "support/review_client.h"

namespace holdgate::testing {
namespace {

std::string HoldPolicy(const std::string& timeout, const std::string& hold) {
  return R"({"version":"1","default":"allow","tools":{
    "cancel_job":{"action":"require_approval","reason":"Cancelling a job cannot be undone",
                  "risk":{"category":"Destructive","level":"critical"},
                  "approval":{"approvers":1,"timeout":")" + timeout + R"(","hold":")" + hold + R"("}},
    "slow_echo":{"action":"require_approval","approval":{"timeout":"10m","hold":")" + hold + R"("}}}})";
}

struct PolicyText {
  std::string json;
};

struct HoldFixture {
  TempDir dir;
  Gateway gw;
  explicit HoldFixture(const std::string& timeout = "10m", const std::string& hold = "60s")
      : HoldFixture(PolicyText{HoldPolicy(timeout, hold)}) {}
  explicit HoldFixture(const PolicyText& policy, const Json& config = nullptr) {
    WriteFile(dir.File("policy.json"), policy.json);
    if (!config.is_null()) WriteFile(dir.File("holdgate.json"), config.dump());
    has_config = !config.is_null();
    Start();
  }
  bool has_config = false;
  void Start() {
    GatewayLaunch launch;
    launch.dir = dir.path();
    launch.policy_file = dir.File("policy.json");
    if (has_config) launch.config_file = dir.File("holdgate.json");
    gw = StartGateway(launch);
    REQUIRE(gw.process);
  }
  McpHttpClient Agent() {
    McpHttpClient c("127.0.0.1", gw.mcp_port);
    REQUIRE(c.Initialize().is_object());
    return c;
  }
  ReviewClient Reviewer(const std::string& name = "alice") { return ReviewClient(gw.review_port, name); }
  int Counter(const std::string& name) {
    auto parsed = ParseJson(ReadFile(dir.File("counters.json")));
    return parsed.ok() ? parsed.value().value(name, 0) : 0;
  }
};

std::string Text(const Json& response) {
  if (!response.contains("result")) return "";
  return response["result"]["content"][0].value("text", "");
}

bool IsError(const Json& response) {
  return response.contains("error") || response["result"].value("isError", false);
}

}  // namespace

TEST_CASE("held call: approve releases it once and the agent gets the upstream result", "[integration][holds]") {
  HoldFixture f;
  McpHttpClient agent = f.Agent();
  Json reply;
  std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-42"}}, {{"progressToken", "t1"}}); });
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(pending["tool"] == "cancel_job");
  CHECK(pending["arguments"]["job_id"] == "job-42");
  CHECK(pending["principal"] == "local");
  CHECK(f.Counter("cancel_job_calls") == 0);  // nothing ran while held
  auto approved = f.Reviewer("bob").Approve(pending["id"], "looks right");
  CHECK(approved.status == 200);
  call.join();
  REQUIRE(reply.contains("result"));
  CHECK_FALSE(IsError(reply));
  CHECK(Text(reply).find("job-42") != std::string::npos);
  CHECK(f.Counter("cancel_job_calls") == 1);
  auto detail = f.Reviewer().Get("/api/approvals/" + pending["id"].get<std::string>());
  CHECK(detail.body["state"] == "completed");
}

TEST_CASE("held call: the reply asks the agent to close its connection, pass-through replies keep it",
          "[integration][holds]") {
  HoldFixture f;
  McpHttpClient agent = f.Agent();
  // An allowed call: keep-alive (no Connection: close).
  // (The test client opens a connection per request: ask for keep-alive explicitly.)
  const std::multimap<std::string, std::string> keep_alive = {{"Connection", "keep-alive"}};
  HttpReply allowed = agent.Post(Json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/call"},
                                      {"params", {{"name", "list_jobs"}, {"arguments", Json::object()}}}},
                                 keep_alive);
  CHECK(allowed.status == 200);
  CHECK(allowed.Header("Connection") != "close");
  // A held one: once decided, the connection is not left idle (thousands decided at once would
  // otherwise be thousands of idle keep-alive connections).
  HttpReply held;
  std::thread call([&] {
    held = agent.Post(Json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"},
                           {"params", {{"name", "cancel_job"}, {"arguments", {{"job_id", "job-close"}}}}}},
                      keep_alive);
  });
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(f.Reviewer("bob").Approve(pending["id"], "ok").status == 200);
  call.join();
  CHECK(held.status == 200);
  CHECK(held.Header("Connection") == "close");
  CHECK(held.body.find("job-close") != std::string::npos);
  CHECK(f.Counter("cancel_job_calls") == 1);
}

TEST_CASE("held call: reject returns the reviewer's reason and nothing runs", "[integration][holds]") {
  HoldFixture f;
  McpHttpClient agent = f.Agent();
  Json reply;
  std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-7"}}); });
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  CHECK(f.Reviewer("bob").Reject(pending["id"], "job 7 is the production forecast").status == 200);
  call.join();
  REQUIRE(IsError(reply));
  std::string text = Text(reply);
  CHECK(text.find("do not retry") != std::string::npos);
  CHECK(text.find("job 7 is the production forecast") != std::string::npos);
  CHECK(f.Counter("cancel_job_calls") == 0);

  SECTION("a retry after the rejection gets the rejection, not a new approval") {
    Json again = agent.CallTool("cancel_job", {{"job_id", "job-7"}});
    CHECK(Text(again).find("job 7 is the production forecast") != std::string::npos);
    CHECK(f.Reviewer().Pending().empty());
    CHECK(f.Counter("cancel_job_calls") == 0);
  }
}

TEST_CASE("held call: expiry rejects it and the tool never runs", "[integration][holds]") {
  HoldFixture f("2s", "60s");
  McpHttpClient agent = f.Agent();
  // With a progress token the call is held open until the approval expires.
  Json reply = agent.CallTool("cancel_job", {{"job_id", "job-9"}}, {{"progressToken", 5}});
  REQUIRE(IsError(reply));
  CHECK(Text(reply).find("expired") != std::string::npos);
  CHECK(f.Counter("cancel_job_calls") == 0);
  auto list = f.Reviewer().Get("/api/approvals?state=expired");
  CHECK(list.body["approvals"].size() == 1);
}

TEST_CASE("held call past the hold limit is deferred, the retry after approval runs exactly once", "[integration][holds]") {
  HoldFixture f("10m", "1s");
  McpHttpClient agent = f.Agent();
  Json first = agent.CallTool("cancel_job", {{"job_id", "job-1"}});
  REQUIRE(IsError(first));
  std::string text = Text(first);
  CHECK(text.find("NOT executed") != std::string::npos);
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  std::string id = pending["id"];
  CHECK(text.find(id) != std::string::npos);
  CHECK(text.find("retry the identical call") != std::string::npos);

  SECTION("a retry while pending re-attaches to the same approval") {
    Json again = agent.CallTool("cancel_job", {{"job_id", "job-1"}});
    CHECK(Text(again).find(id) != std::string::npos);
    CHECK(f.Reviewer().Pending().size() == 1);
  }
  SECTION("approve, then retry: runs once; the next identical call needs a new approval") {
    REQUIRE(f.Reviewer("bob").Approve(id).status == 200);
    CHECK(f.Counter("cancel_job_calls") == 0);  // approval alone does not run a deferred call
    Json retry = agent.CallTool("cancel_job", {{"job_id", "job-1"}});
    CHECK_FALSE(IsError(retry));
    CHECK(f.Counter("cancel_job_calls") == 1);
    Json third = agent.CallTool("cancel_job", {{"job_id", "job-1"}});
    CHECK(IsError(third));
    CHECK(f.Counter("cancel_job_calls") == 1);
    CHECK(f.Reviewer().Pending().size() == 1);
  }
  SECTION("different arguments are a different approval") {
    Json other = agent.CallTool("cancel_job", {{"job_id", "job-2"}});
    CHECK(IsError(other));
    CHECK(f.Reviewer().Pending().size() == 2);
  }
}

TEST_CASE("exactly once: 100 concurrent approvals release one call", "[integration][holds]") {
  HoldFixture f;
  McpHttpClient agent = f.Agent();
  Json reply;
  std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-x"}}, {{"progressToken", "p"}}); });
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  std::string id = pending["id"];
  std::atomic<int> ok{0}, conflict{0}, other{0};
  std::vector<std::thread> reviewers;
  for (int i = 0; i < 100; ++i) {
    reviewers.emplace_back([&, i] {
      ReviewClient r(f.gw.review_port, "reviewer" + std::to_string(i % 10));
      int status = r.Approve(id).status;
      if (status == 200) ++ok;
      else if (status == 409) ++conflict;
      else {
        ++other;
        UNSCOPED_INFO("status " << status);
      }
    });
  }
  for (auto& t : reviewers) t.join();
  call.join();
  CHECK(other.load() == 0);
  CHECK(ok.load() >= 1);
  CHECK(ok.load() + conflict.load() == 100);
  CHECK_FALSE(IsError(reply));
  CHECK(f.Counter("cancel_job_calls") == 1);
  auto detail = f.Reviewer().Get("/api/approvals/" + id);
  CHECK(detail.body["state"] == "completed");
}

TEST_CASE("restart: kill -9 with a pending approval, it survives and the retry runs once", "[integration][holds]") {
  HoldFixture f("10m", "1s");
  {
    McpHttpClient agent = f.Agent();
    Json first = agent.CallTool("cancel_job", {{"job_id", "job-r"}});
    REQUIRE(IsError(first));
  }
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  std::string id = pending["id"];
  CHECK(f.gw.process->Stop(SIGKILL) == -SIGKILL);
  f.Start();
  Json after = f.Reviewer().WaitForPending();
  REQUIRE(after.is_object());
  CHECK(after["id"] == id);
  REQUIRE(f.Reviewer("bob").Approve(id).status == 200);
  McpHttpClient agent = f.Agent();
  Json retry = agent.CallTool("cancel_job", {{"job_id", "job-r"}});
  CHECK_FALSE(IsError(retry));
  CHECK(f.Counter("cancel_job_calls") == 1);
}

TEST_CASE("restart: a crash while the tool runs never re-runs it", "[integration][holds]") {
  HoldFixture f("10m", "60s");
  McpHttpClient agent = f.Agent();
  Json reply;
  std::thread call([&] { reply = agent.CallTool("slow_echo", {{"message", "once"}, {"delay_ms", 60000}}); });
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  std::string id = pending["id"];
  REQUIRE(f.Reviewer("bob").Approve(id).status == 200);
  REQUIRE(WaitUntil([&] { return f.Counter("tools_call_total") >= 1; }));  // running upstream
  f.gw.process->Stop(SIGKILL);
  call.join();
  std::filesystem::remove(f.dir.File("counters.json"));
  f.Start();
  auto detail = f.Reviewer().Get("/api/approvals/" + id);
  CHECK(detail.body["state"] == "failed");
  CHECK(detail.body["reason"].get<std::string>().find("not re-run") != std::string::npos);
  // The identical call again is a new request for approval, not a silent re-run.
  McpHttpClient again = f.Agent();
  std::thread retry([&] { again.CallTool("slow_echo", {{"message", "once"}, {"delay_ms", 60000}}); });
  Json fresh = f.Reviewer().WaitForPending();
  REQUIRE(fresh.is_object());
  CHECK(fresh["id"] != id);
  CHECK(f.Counter("tools_call_total") == 0);
  f.Reviewer("bob").Reject(fresh["id"], "test over");
  retry.join();
}

}  // namespace holdgate::testing

namespace holdgate::testing {

TEST_CASE("tasks: a task-augmented held call completes with the result or fails with the rejection", "[integration][holds]") {
  HoldFixture f;
  McpHttpClient agent = f.Agent();
  auto call_as_task = [&](const std::string& job) {
    HttpReply r = agent.Post(Json{{"jsonrpc", "2.0"}, {"id", agent.next_id()}, {"method", "tools/call"},
                                  {"params", {{"name", "cancel_job"}, {"arguments", {{"job_id", job}}},
                                              {"task", {{"ttl", 600000}}}}}});
    return r.Response();
  };
  auto task_rpc = [&](const std::string& method, const std::string& task_id) {
    return agent.Post(Json{{"jsonrpc", "2.0"}, {"id", agent.next_id()}, {"method", method},
                           {"params", {{"taskId", task_id}}}}).Response();
  };

  Json created = call_as_task("job-t1");
  REQUIRE(created.contains("result"));
  std::string task_id = created["result"]["task"]["taskId"];
  CHECK(created["result"]["task"]["status"] == "working");
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  REQUIRE(WaitUntil([&] {
    Json t = task_rpc("tasks/get", task_id);
    return t["result"].value("statusMessage", "").find(pending["id"].get<std::string>()) != std::string::npos;
  }));
  CHECK(f.Counter("cancel_job_calls") == 0);

  SECTION("approved: tasks/result returns the tool result, the tool ran once") {
    Json result;
    std::thread waiter([&] { result = task_rpc("tasks/result", task_id); });  // blocks until done
    REQUIRE(f.Reviewer("bob").Approve(pending["id"]).status == 200);
    waiter.join();
    REQUIRE(result.contains("result"));
    CHECK(result["result"]["content"][0]["text"].get<std::string>().find("job-t1") != std::string::npos);
    CHECK(result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == task_id);
    CHECK(task_rpc("tasks/get", task_id)["result"]["status"] == "completed");
    CHECK(f.Counter("cancel_job_calls") == 1);
  }
  SECTION("rejected: the task fails with the reason") {
    REQUIRE(f.Reviewer("bob").Reject(pending["id"], "not this job").status == 200);
    REQUIRE(WaitUntil([&] { return task_rpc("tasks/get", task_id)["result"]["status"] == "failed"; }));
    Json result = task_rpc("tasks/result", task_id);
    CHECK(result["result"]["content"][0]["text"].get<std::string>().find("not this job") != std::string::npos);
    CHECK(f.Counter("cancel_job_calls") == 0);
  }
  SECTION("cancelled by the agent: the approval is withdrawn") {
    Json c = task_rpc("tasks/cancel", task_id);
    CHECK(c["result"]["status"] == "cancelled");
    REQUIRE(WaitUntil([&] { return f.Reviewer().Pending().empty(); }));
    auto detail = f.Reviewer().Get("/api/approvals/" + pending["id"].get<std::string>());
    CHECK(detail.body["state"] == "cancelled");
    CHECK(task_rpc("tasks/cancel", task_id).contains("error"));
  }
}

}  // namespace holdgate::testing

namespace holdgate::testing {

TEST_CASE("identical calls arriving together share one approval, it runs once and all get the result", "[integration][holds]") {
  HoldFixture f;
  std::vector<Json> replies(8);
  std::vector<std::thread> agents;
  for (int i = 0; i < 8; ++i) {
    agents.emplace_back([&, i] {
      McpHttpClient agent("127.0.0.1", f.gw.mcp_port);
      agent.Initialize();
      replies[i] = agent.CallTool("cancel_job", {{"job_id", "shared"}}, {{"progressToken", i}});
    });
  }
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  // Every agent is attached once holdgate has logged one new hold and seven re-attachments.
  auto count = [&](const std::string& needle) {
    std::string log = ReadFile(f.dir.File("holdgate.log"));
    int n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  };
  REQUIRE(WaitUntil([&] { return count("call held for approval") + count("retry attached to approval") == 8; }));
  CHECK(count("call held for approval") == 1);
  CHECK(f.Reviewer().Pending().size() == 1);
  REQUIRE(f.Reviewer("bob").Approve(pending["id"]).status == 200);
  for (auto& t : agents) t.join();
  for (auto& r : replies) {
    CHECK_FALSE(IsError(r));
    CHECK(Text(r).find("shared") != std::string::npos);
  }
  CHECK(f.Counter("cancel_job_calls") == 1);
}

}  // namespace holdgate::testing

namespace holdgate::testing {

TEST_CASE("held call: a second open request with the same id in one session is refused, the first is kept",
          "[integration][holds]") {
  HoldFixture f;
  McpHttpClient agent = f.Agent();
  const Json call = {{"jsonrpc", "2.0"}, {"id", 5}, {"method", "tools/call"},
                     {"params", {{"name", "cancel_job"}, {"arguments", {{"job_id", "job-dup"}}}}}};
  Json first;
  std::thread t([&] { first = agent.Post(call).Response(); });
  Json pending = f.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  // The same id again, while the first is held: refused at once, and the first stays held.
  Json second = agent.Post(Json{{"jsonrpc", "2.0"}, {"id", 5}, {"method", "tools/call"},
                                {"params", {{"name", "cancel_job"}, {"arguments", {{"job_id", "job-other"}}}}}})
                    .Response();
  REQUIRE(second.contains("error"));
  CHECK(second["error"]["code"] == -32600);
  CHECK(second["id"] == 5);
  CHECK(f.Reviewer().Pending().size() == 1);
  REQUIRE(f.Reviewer("bob").Approve(pending["id"]).status == 200);
  t.join();
  REQUIRE(first.contains("result"));
  CHECK(Text(first).find("job-dup") != std::string::npos);
  CHECK(f.Counter("cancel_job_calls") == 1);
  auto detail = f.Reviewer().Get("/api/approvals/" + pending["id"].get<std::string>());
  CHECK(detail.body["state"] == "completed");
}

TEST_CASE("held call: arguments edited by the reviewer run, and the agent and the audit log are told",
          "[integration][holds]") {
  HoldFixture f(PolicyText{R"({"version":"1","default":"allow","tools":{
    "cancel_job":{"action":"require_approval","approval":{"timeout":"10m","hold":"60s","editable":true}}}})"});
  McpHttpClient agent = f.Agent();
  Json reply;
  std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-1"}}); });
  ReviewClient alice = f.Reviewer();
  Json pending = alice.WaitForPending();
  REQUIRE(pending.is_object());
  const std::string id = pending["id"];
  auto approved = alice.Post("/api/approvals/" + id + "/approve",
                             Json{{"reason", "wrong job"}, {"arguments", {{"job_id", "job-2"}}}});
  REQUIRE(approved.status == 200);
  call.join();
  REQUIRE(reply.contains("result"));
  const Json& result = reply["result"];
  const std::string note = result["content"][0].value("text", "");
  CHECK(note.find("edited the arguments") != std::string::npos);
  CHECK(note.find("job-2") != std::string::npos);
  CHECK(result["content"][1].value("text", "").find("job-2") != std::string::npos);  // what really ran
  CHECK(result["_meta"]["io.holdgate/edited_arguments"]["requested"] == Json{{"job_id", "job-1"}});
  CHECK(result["_meta"]["io.holdgate/edited_arguments"]["ran_with"] == Json{{"job_id", "job-2"}});
  auto audit = alice.Get("/api/audit?approval_id=" + id + "&type=approval.executing");
  REQUIRE(audit.status == 200);
  REQUIRE(audit.body["events"].size() == 1);
  CHECK(audit.body["events"][0]["detail"]["arguments"] == Json{{"job_id", "job-2"}});
  CHECK(audit.body["events"][0]["detail"]["requested_arguments"] == Json{{"job_id", "job-1"}});
}

TEST_CASE("held call: an approval nobody uses within use_within lapses, the same call later is held again",
          "[integration][holds]") {
  HoldFixture f(PolicyText{R"({"version":"1","default":"allow","tools":{
    "cancel_job":{"action":"require_approval","approval":{"timeout":"10m","hold":"1s","use_within":"1s"}}}})"});
  McpHttpClient agent = f.Agent();
  Json deferred = agent.CallTool("cancel_job", {{"job_id", "job-late"}});
  REQUIRE(IsError(deferred));
  ReviewClient alice = f.Reviewer();
  Json pending = alice.WaitForPending();
  REQUIRE(pending.is_object());
  const std::string id = pending["id"];
  REQUIRE(alice.Approve(id).status == 200);
  auto state = [&] { return alice.Get("/api/approvals/" + id).body.value("state", std::string()); };
  // The agent does not come back in time: the sweep lapses the approval.
  REQUIRE(WaitUntil([&] { return state() == "lapsed"; }, 15000));
  auto detail = alice.Get("/api/approvals/" + id);
  CHECK(detail.body["reason"].get<std::string>().find("use_within") != std::string::npos);
  CHECK(detail.body["agent_message"].get<std::string>().find("lapsed") != std::string::npos);
  // The identical call days (here: seconds) later is a new request that needs a new approval.
  Json later = agent.CallTool("cancel_job", {{"job_id", "job-late"}});
  REQUIRE(IsError(later));
  CHECK(Text(later).find(id) == std::string::npos);
  CHECK(Text(later).find("NOT executed") != std::string::npos);
  Json again = alice.WaitForPending();
  REQUIRE(again.is_object());
  CHECK(again["id"] != id);
  auto lapsed = alice.Get("/api/audit?approval_id=" + id + "&type=approval.lapsed");
  CHECK(lapsed.body["events"].size() == 1);
  CHECK(f.Counter("cancel_job_calls") == 0);
}

}  // namespace holdgate::testing

namespace holdgate::testing {

TEST_CASE("held call: a principal at approval.max_pending_per_principal is refused, others still queue",
          "[integration][holds]") {
  HoldFixture f(PolicyText{HoldPolicy("10m", "1s")}, Json{{"approval", {{"max_pending_per_principal", 2}}}});
  McpHttpClient agent = f.Agent();
  for (int job = 1; job <= 2; ++job) {
    Json deferred = agent.CallTool("cancel_job", {{"job_id", "job-" + std::to_string(job)}});
    CHECK(Text(deferred).find("NOT executed yet") != std::string::npos);
  }
  REQUIRE(f.Reviewer().Pending().size() == 2);
  // A third distinct call: refused at once, nothing recorded.
  Json third = agent.CallTool("cancel_job", {{"job_id", "job-3"}});
  REQUIRE(IsError(third));
  CHECK(Text(third).find("max_pending_per_principal") != std::string::npos);
  CHECK(Text(third).find("not queued") != std::string::npos);
  CHECK(f.Reviewer().Pending().size() == 2);
  // A retry of a queued call still attaches to its approval.
  Json retry = agent.CallTool("cancel_job", {{"job_id", "job-1"}});
  CHECK(Text(retry).find("NOT executed yet") != std::string::npos);
  // A decision frees a slot.
  Json pending = f.Reviewer().Pending();
  REQUIRE(f.Reviewer("bob").Reject(pending[0]["id"], "no").status == 200);
  Json fourth = agent.CallTool("cancel_job", {{"job_id", "job-3"}});
  CHECK(Text(fourth).find("NOT executed yet") != std::string::npos);
  CHECK(f.Reviewer().Pending().size() == 2);
  CHECK(f.Counter("cancel_job_calls") == 0);
}

}  // namespace holdgate::testing
