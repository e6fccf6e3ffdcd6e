#pragma once
// Standard Webhooks (v1, symmetric) signatures: the signed content is "{id}.{timestamp}.{body}",
// HMAC-SHA256 keyed with the raw secret (the base64-decoded part of "whsec_…"), sent as
// `webhook-signature: v1,<base64>`; several space-separated signatures during secret rotation.
// Pure functions; thread-safe; nothing blocks.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace holdgate::notify {

// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>".
std::string SignWebhookV1(std::string_view key, std::string_view msg_id, int64_t timestamp_s,
                          std::string_view body);

// The webhook-signature header value: one "v1,…" per key, in order, separated by spaces.
std::string WebhookSignatureHeader(const std::vector<std::string>& keys, std::string_view msg_id,
                                   int64_t timestamp_s, std::string_view body);

// Receiver-side check (for tests and for anyone embedding holdgate's receiver logic): the
// timestamp header is decimal seconds within `tolerance_s` of now_s, and one of the
// space-separated "v1,…" entries matches `key` (constant-time compare).
bool VerifyWebhookSignature(std::string_view key, std::string_view msg_id, std::string_view timestamp_header,
                            std::string_view signature_header, std::string_view body, int64_t now_s,
                            int64_t tolerance_s = 300);

}  // namespace holdgate::notify
