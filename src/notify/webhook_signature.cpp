#include "notify/webhook_signature.h"

#include <algorithm>

#include "common/crypto.h"

namespace holdgate::notify {

std::string SignWebhookV1(std::string_view key, std::string_view msg_id, int64_t timestamp_s,
                          std::string_view body) {
  std::string content;
  content.reserve(msg_id.size() + body.size() + 24);
  content.append(msg_id);
  content += '.';
  content += std::to_string(timestamp_s);
  content += '.';
  content.append(body);
  return "v1," + Base64Encode(HmacSha256Raw(key, content));
}

std::string WebhookSignatureHeader(const std::vector<std::string>& keys, std::string_view msg_id,
                                   int64_t timestamp_s, std::string_view body) {
  std::string out;
  for (const auto& key : keys) {
    if (!out.empty()) out += ' ';
    out += SignWebhookV1(key, msg_id, timestamp_s, body);
  }
  return out;
}

bool VerifyWebhookSignature(std::string_view key, std::string_view msg_id, std::string_view timestamp_header,
                            std::string_view signature_header, std::string_view body, int64_t now_s,
                            int64_t tolerance_s) {
  if (timestamp_header.empty() || timestamp_header.size() > 12 ||
      !std::all_of(timestamp_header.begin(), timestamp_header.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int64_t ts = std::stoll(std::string(timestamp_header));
  if (now_s - ts > tolerance_s || ts - now_s > tolerance_s) return false;
  const std::string expected = SignWebhookV1(key, msg_id, ts, body);
  bool match = false;
  size_t start = 0;
  while (start <= signature_header.size()) {
    size_t sp = signature_header.find(' ', start);
    std::string_view entry = signature_header.substr(start, sp == std::string_view::npos ? std::string_view::npos : sp - start);
    if (entry.rfind("v1,", 0) == 0 && ConstantTimeEquals(entry, expected)) match = true;  // no early exit
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  return match;
}

}  // namespace holdgate::notify
