#pragma once
// Slack request signing (v0): X-Slack-Signature = "v0=" + hex HMAC-SHA256(signing_secret,
// "v0:" + X-Slack-Request-Timestamp + ":" + raw body), checked on the raw bytes before any
// decoding, with a 5-minute window and a memory of the signatures already seen in that window,
// so a captured request cannot be replayed.
//
// SlackRequestVerifier is thread-safe (one mutex around the replay memory); nothing blocks.
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace holdgate::notify {

// "v0=<hex>".
std::string SlackSignature(std::string_view signing_secret, std::string_view timestamp, std::string_view body);

enum class SlackVerdict {
  kOk,
  kNotConfigured,   // no signing secret: every request is refused
  kMissingHeaders,  // no timestamp or no signature
  kBadTimestamp,    // not decimal seconds
  kStale,           // more than the window away from now (either direction)
  kBadSignature,
  kReplayed,        // this exact signed request was already accepted within the window
  kBusy,            // the replay memory is full (refused rather than forgetting)
};
const char* SlackVerdictName(SlackVerdict verdict);  // "ok", "bad_signature", …

class SlackRequestVerifier {
 public:
  explicit SlackRequestVerifier(std::string signing_secret, int64_t window_ms = 5 * 60 * 1000,
                                size_t max_remembered = 100000);

  // Checks one request; on kOk the signature is remembered until it leaves the window.
  SlackVerdict Verify(std::string_view timestamp, std::string_view signature, std::string_view body,
                      int64_t now_ms);

  size_t remembered() const;

 private:
  void PruneLocked(int64_t now_ms);

  const std::string secret_;
  const int64_t window_ms_;
  const size_t max_remembered_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> seen_;        // signature -> forget after (ms); guarded by mu_
  std::deque<std::pair<int64_t, std::string>> order_;  // (forget after, signature); guarded by mu_
};

}  // namespace holdgate::notify
