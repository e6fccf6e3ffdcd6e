// The delivery log and redelivery of a real `holdgate serve` through the CLI: `holdgate deliveries`,
// `holdgate deliveries --endpoints`, `holdgate redeliver ID` and `holdgate redeliver --endpoint T`,
// against a loopback webhook receiver that answers 410 Gone and later comes back.
#include <string>
#include <thread>

#include "integration/notify_fixture.h"
#include "integration/resilience_fixture.h"

namespace holdgate::testing::resilience {
namespace {

using notifytest::Receiver;

std::string HeldWithWebhook() {
  return R"({"version":"1","default":"allow","tools":{
    "cancel_job":{"action":"require_approval","approval":{"approvers":1,"timeout":"10m","hold":"60s",
                  "notify":["webhook:ops"]}}}})";
}

// The API's delivery rows for every approval (through the CLI, as JSON).
Json Deliveries(Instance& h, const std::string& token, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"deliveries", "--json", "--url", h.ReviewUrl(), "--token", token};
  args.insert(args.end(), extra.begin(), extra.end());
  CommandResult r = RunReviewerCli(args);
  INFO(r.out);
  REQUIRE(r.code == 0);
  auto parsed = ParseJson(r.out);
  REQUIRE(parsed.ok());
  return parsed.value();
}

TEST_CASE("deliveries: the CLI shows the log, re-enables a 410 endpoint and redelivers", "[integration][notify][cli]") {
  Receiver rx;
  rx.SetDefault(410, "gone");
  TempDir cfg;
  Json config = Json::object();
  config["notify"]["webhooks"] = Json::array(
      {Json{{"name", "ops"}, {"url", rx.Url()}, {"secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}});
  WriteFile(cfg.File("config.json"), DumpJson(config));
  Instance h(HeldWithWebhook(), {"--config", cfg.File("config.json")});
  REQUIRE(h.Start());
  const std::string admin = MintToken("ada", "admin");
  const std::string auditor = MintToken("carol", "auditor");
  const std::string reviewer = MintToken("bob", "reviewer");

  // A held call: its approval.created delivery meets 410 and the endpoint is disabled.
  McpHttpClient agent = h.Agent();
  Json reply;
  std::thread call([&] { reply = agent.CallTool("cancel_job", {{"job_id", "job-410"}}); });
  Json pending = h.Reviewer().WaitForPending();
  REQUIRE(pending.is_object());
  const std::string id = pending["id"];
  REQUIRE(rx.WaitFor(1));
  Json rows;
  REQUIRE(WaitUntil([&] {
    rows = Deliveries(h, auditor, {"--approval", id});
    return rows.size() == 1 && rows[0]["state"] == "dead";
  }));
  CHECK(rows[0]["event_type"] == "approval.created");
  CHECK(rows[0]["target"] == "webhook:ops");
  CHECK(rows[0]["attempts"] == 1);
  CHECK(rows[0]["last_status"].get<std::string>().rfind("410", 0) == 0);
  // The table form names the same row.
  CommandResult table = RunReviewerCli({"deliveries", "--url", h.ReviewUrl(), "--token", auditor});
  CHECK(table.code == 0);
  CHECK(table.out.find("webhook:ops") != std::string::npos);
  CHECK(table.out.find("dead") != std::string::npos);
  // Filters: a state with no rows, and a bad state (usage error from the API: exit 1 with the reason).
  CHECK(Deliveries(h, auditor, {"--state", "delivered"}).empty());
  CommandResult bad = RunReviewerCli({"deliveries", "--state", "lost", "--url", h.ReviewUrl(), "--token", auditor});
  CHECK(bad.code != 0);
  CHECK(bad.out.find("state must be") != std::string::npos);

  // The endpoint is reported disabled.
  CommandResult eps = RunReviewerCli({"deliveries", "--endpoints", "--json", "--url", h.ReviewUrl(), "--token", auditor});
  REQUIRE(eps.code == 0);
  auto eps_json = ParseJson(eps.out);
  REQUIRE(eps_json.ok());
  REQUIRE(eps_json.value().size() == 1);
  CHECK(eps_json.value()[0]["target"] == "webhook:ops");
  CHECK(eps_json.value()[0]["disabled"] == true);

  // Only an admin may redeliver or re-enable; a reviewer gets exit 5 and nothing changes.
  const std::string row_id = std::to_string(rows[0]["id"].get<int64_t>());
  CHECK(RunReviewerCli({"redeliver", row_id, "--url", h.ReviewUrl(), "--token", reviewer}).code == 5);
  CHECK(RunReviewerCli({"redeliver", "--endpoint", "webhook:ops", "--url", h.ReviewUrl(), "--token", reviewer})
            .code == 5);
  CHECK(RunReviewerCli({"redeliver", "999999", "--url", h.ReviewUrl(), "--token", admin}).code == 3);
  CHECK(RunReviewerCli({"redeliver", "--endpoint", "webhook:nope", "--url", h.ReviewUrl(), "--token", admin})
            .code == 3);
  CHECK(RunReviewerCli({"redeliver", "abc", "--url", h.ReviewUrl(), "--token", admin}).code == 2);
  CHECK(rx.Count() == 1);

  // The receiver is back: re-enabling requeues the given-up row, and it is delivered once.
  rx.SetDefault(200);
  CommandResult enable =
      RunReviewerCli({"redeliver", "--endpoint", "webhook:ops", "--url", h.ReviewUrl(), "--token", admin});
  INFO(enable.out);
  REQUIRE(enable.code == 0);
  CHECK(enable.out.find("1 deliveries queued again") != std::string::npos);
  REQUIRE(rx.WaitFor(2));
  REQUIRE(WaitUntil([&] {
    rows = Deliveries(h, auditor, {"--approval", id});
    return rows.size() == 1 && rows[0]["state"] == "delivered";
  }));
  const std::string first_id = rx.Hits()[0].headers.at("webhook-id");
  CHECK(rx.Hits()[1].headers.at("webhook-id") == first_id);

  // An explicit redelivery of a delivered row sends it again, with the same webhook-id.
  CommandResult again = RunReviewerCli({"redeliver", row_id, "--url", h.ReviewUrl(), "--token", admin});
  INFO(again.out);
  REQUIRE(again.code == 0);
  REQUIRE(rx.WaitFor(3));
  CHECK(rx.Hits()[2].headers.at("webhook-id") == first_id);

  // Every operator action is in the audit log, and the chain holds.
  CHECK(h.Audit("delivery.requeued").size() == 1);
  CHECK(h.Audit("endpoint.enable_requested").size() == 1);
  CHECK(h.Audit("notify.endpoint_enabled").size() == 1);
  CHECK(h.AuditVerify()["ok"] == true);

  REQUIRE(h.Reviewer().Post("/api/approvals/" + id + "/reject", Json{{"reason", "test over"}}).status == 200);
  call.join();
  CHECK(reply.contains("error") == false);
}

}  // namespace
}  // namespace holdgate::testing::resilience
