// libFuzzer target: the policy parser and evaluator. One input is
//   <policy JSON> "\n---\n" <tool name> "\n---\n" <arguments JSON>
// (the parts after the policy are optional). A policy that parses is evaluated for the given
// tool and arguments (and a few fixed ones), its hidden-tool check and rate limiter are run, and
// `policy check` must agree with Parse. A policy that does not parse must explain why.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/json_util.h"
#include "fuzz/fuzz_util.h"
#include "policy/policy.h"
#include "policy/rate_limiter.h"
#include "support/fake_clock.h"

namespace {

void EvaluateOne(const holdgate::policy::Policy& p, holdgate::policy::RateLimiter& limiter,
                 std::string_view tool, const holdgate::Json* args) {
  using namespace holdgate::policy;
  CallContext ctx;
  ctx.tool = tool;
  ctx.arguments = args;
  ctx.principal = "local";
  ctx.grant = "grant";
  ctx.session = "session";
  Decision d = p.Evaluate(ctx);
  // Invariants of a Decision (policy.h).
  if ((d.action == Action::kHold || (d.shadow && d.shadow_action == Action::kHold)) && d.approval == nullptr) abort();
  if (d.rule.empty()) abort();
  if (d.action == Action::kHide && !p.IsHidden(tool)) abort();
  (void)ActionName(d.action);
  auto reservation = limiter.Reserve(ctx, &d);
  limiter.Rollback(reservation);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace holdgate;
  using namespace holdgate::policy;
  static testing::FakeClock clock;
  auto parts = fuzz::Split(fuzz::AsView(data, size), "\n---\n", 3);
  std::string_view text = parts[0];

  auto parsed = Policy::Parse(text);
  CheckReport report = Check(text, nullptr);
  if (report.ok != parsed.ok()) abort();  // `policy check` and the gateway must agree
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) abort();  // a refusal always says why
    return 0;
  }
  const Policy& p = *parsed.value();
  RateLimiter limiter(clock);

  std::string_view tool = parts.size() > 1 ? parts[1] : std::string_view("cancel_job");
  Json args = Json::object();
  if (parts.size() > 2) {
    auto a = ParseJson(parts[2]);
    if (a.ok()) args = std::move(a.value());
  }
  EvaluateOne(p, limiter, tool, &args);
  EvaluateOne(p, limiter, tool, nullptr);
  Json fixed = {{"job_id", "job-1"}, {"delete", true}, {"path", "../etc/passwd"}, {"n", 3.5}};
  for (std::string_view t : {"cancel_job", "save_data", "fs.read", "", "*"}) EvaluateOne(p, limiter, t, &fixed);
  clock.Advance(61'000);
  return 0;
}
