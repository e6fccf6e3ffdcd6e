// libFuzzer target: Slack request verification (notify::SlackRequestVerifier, v0 signatures with
// a 5-minute window and replay memory) and the form/payload decoding that follows it on
// POST /slack/actions. Input: <timestamp> "\n" <signature> "\n" <body>. The first byte picks:
//   even: the signature as given (almost always refused);
//   odd:  the signature computed with the right secret, so the window and replay logic run.
// Oracles: a correctly signed request is accepted iff its timestamp is decimal and inside the
// window, and the same request a second time is always refused as a replay; a signature from a
// wrong secret is never accepted.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "common/json_util.h"
#include "fuzz/fuzz_util.h"
#include "notify/form_decode.h"
#include "notify/slack_signature.h"

namespace {
constexpr char kSecret[] = "8f742231b10e8888abcd99yyyzzz85a5";
constexpr int64_t kNowMs = 1'900'000'000'000;
constexpr int64_t kWindowMs = 5 * 60 * 1000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace holdgate;
  using notify::SlackVerdict;
  if (size < 1) return 0;
  const bool sign = data[0] & 1;
  auto parts = fuzz::Split(fuzz::AsView(data + 1, size - 1), "\n", 3);
  while (parts.size() < 3) parts.push_back({});
  std::string_view ts = parts[0], body = parts[2];
  std::string signature = sign ? notify::SlackSignature(kSecret, ts, body) : std::string(parts[1]);

  notify::SlackRequestVerifier verifier(kSecret, kWindowMs, 1000);
  SlackVerdict first = verifier.Verify(ts, signature, body, kNowMs);
  (void)notify::SlackVerdictName(first);
  if (sign) {
    bool decimal = !ts.empty() && ts.size() <= 12 && ts.find_first_not_of("0123456789") == std::string_view::npos;
    bool in_window = false;
    if (decimal) {
      int64_t ts_ms = std::stoll(std::string(ts)) * 1000;
      in_window = ts_ms >= kNowMs - kWindowMs && ts_ms <= kNowMs + kWindowMs;
    }
    if ((first == SlackVerdict::kOk) != (decimal && in_window)) abort();
    if (first == SlackVerdict::kOk) {
      // Sent again a millisecond later: refused as a replay, or as stale when the first one was
      // accepted on the last millisecond of its window.
      const int64_t ts_ms = std::stoll(std::string(ts)) * 1000;
      const SlackVerdict again = verifier.Verify(ts, signature, body, kNowMs + 1);
      const SlackVerdict expected = kNowMs + 1 - ts_ms > kWindowMs ? SlackVerdict::kStale : SlackVerdict::kReplayed;
      if (again != expected) abort();
    }
    // The same request signed with another secret is never accepted.
    std::string forged = notify::SlackSignature("another-secret-0123456789abcdef", ts, body);
    if (verifier.Verify(ts, forged, body, kNowMs) == SlackVerdict::kOk) abort();
  } else if (first == SlackVerdict::kOk && signature != notify::SlackSignature(kSecret, ts, body)) {
    abort();
  }

  // What /slack/actions does with the body once it is verified.
  std::map<std::string, std::string> form;
  if (notify::ParseFormUrlEncoded(body, &form)) {
    auto it = form.find("payload");
    if (it != form.end()) {
      auto payload = ParseJson(it->second);
      if (payload.ok()) (void)DumpJson(payload.value());
    }
    for (const auto& [k, v] : form) {
      std::string round;
      if (!notify::UrlDecode(notify::UrlEncode(v), &round) || round != v) abort();
    }
  }
  return 0;
}
