// libFuzzer target: reviewer token verification (review::JwtVerifier::Verify) with a fixed
// configuration: an HS256 secret plus an RS256 public key, and a second verifier that also pins
// iss and aud. The first input byte picks a mode:
//   0: the rest is a raw bearer token;
//   1: the rest is <header JSON> "\n---\n" <claims JSON>, signed here with the right HS256
//      secret, so the claim checks behind the signature are reached;
//   2: the same, but HMAC'd with the RS256 public key PEM (algorithm confusion) or a wrong
//      secret: such a token must never be accepted.
// Oracles: an accepted token always has a subject and a role; mode 2 is never accepted.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/crypto.h"
#include "fuzz/fuzz_util.h"
#include "review/jwk.h"
#include "review/jwt_auth.h"
#include "support/fake_clock.h"

namespace {

constexpr char kSecret[] = "fuzz-secret-0123456789abcdef0123456789abcdef";
constexpr char kWrongSecret[] = "fuzz-secret-0123456789abcdef0123456789abcdeX";
// A fixed RSA-2048 public key (test material only; its private key was thrown away).
constexpr char kRsaPublicPem[] = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu9Mu/f8Eb/kNIjbrmAgY
NWmBEaNPrw3fLcujXS1hm0cWNcTLdPbbmC+2eF5P9SZH6dTQ8Kwc1P32tk0nq0sB
IL9DibgU5ttjxySR1F/w1JaohAoXT3rh43pH4urIrKuOyR+55xRSZtM8vNAfhTvW
qctIKdeU3kl6cm3GG5kCSu266ovcTuawfKyUmgMyYhixC1ZrQIpxxNo6bO8o01Pm
SAex7mkggaktWwab4nHawMam6f0AQkNT/Irjr5zGBEdmjFRWd5sgPqok4ubrolzL
9+jwuag2LpvMiDNg54uC8PZ77hZtcJh4QI+59lEOCWwRbk9+cwa56UlPsJi0piPI
GQIDAQAB
-----END PUBLIC KEY-----
)";

struct Verifiers {
  holdgate::testing::FakeClock clock{1'900'000'000'000};  // fixed "now": 2030-03-17
  std::unique_ptr<holdgate::review::JwtVerifier> plain;
  std::unique_ptr<holdgate::review::JwtVerifier> pinned;
  Verifiers() {
    holdgate::review::JwtConfig c;
    c.hs256_secret = kSecret;
    c.public_keys.push_back({"rsa1", "RS256", kRsaPublicPem});
    auto v = holdgate::review::JwtVerifier::Create(c, &clock);
    if (!v.ok()) abort();
    plain = std::move(v.value());
    c.issuer = "holdgate";
    c.audience = "reviewers";
    auto p = holdgate::review::JwtVerifier::Create(c, &clock);
    if (!p.ok()) abort();
    pinned = std::move(p.value());
  }
};

std::string Signed(std::string_view header, std::string_view claims, std::string_view key) {
  using holdgate::review::Base64UrlEncode;
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(claims);
  return input + "." + Base64UrlEncode(holdgate::HmacSha256Raw(key, input));
}

void CheckAccepted(const holdgate::review::AuthResult& r) {
  using S = holdgate::review::AuthResult::Status;
  if (r.status == S::kOk && (r.subject.empty() || r.role == holdgate::review::Role::kNone)) abort();
  if (r.status != S::kOk && r.why.empty()) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace holdgate;
  static Verifiers v;
  if (size < 1) return 0;
  const int mode = data[0] % 3;
  std::string_view rest = fuzz::AsView(data + 1, size - 1);
  if (mode == 0) {
    CheckAccepted(v.plain->Verify(rest));
    CheckAccepted(v.pinned->Verify(rest));
    return 0;
  }
  auto parts = fuzz::Split(rest, "\n---\n", 2);
  std::string_view header = parts[0];
  std::string_view claims = parts.size() > 1 ? parts[1] : std::string_view("{}");
  if (mode == 1) {
    std::string token = Signed(header, claims, kSecret);
    CheckAccepted(v.plain->Verify(token));
    CheckAccepted(v.pinned->Verify(token));
    return 0;
  }
  for (std::string_view key : {std::string_view(kRsaPublicPem), std::string_view(kWrongSecret)}) {
    std::string token = Signed(header, claims, key);
    if (v.plain->Verify(token).ok() || v.pinned->Verify(token).ok()) abort();  // forged token accepted
  }
  return 0;
}
