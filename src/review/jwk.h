#pragma once
// Public-key plumbing for JWT verification, with OpenSSL 3 EVP APIs only (no cpp-jwt here):
// JWKS documents to PEM, and checking that a PEM public key suits its pinned algorithm.
// Pure functions; thread-safe; never block.
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace holdgate::review {

struct PemPublicKey {
  std::string kid;  // from the JWK, may be empty
  std::string alg;  // "RS256" (kty RSA) or "ES256" (kty EC, crv P-256)
  std::string pem;  // "-----BEGIN PUBLIC KEY-----…"
};

// Parses a JWKS document {"keys":[…]}. Accepts RSA keys (n, e; RSA >= 2048 bits) and EC P-256
// keys (x, y). Keys with "use" other than "sig", or an "alg" that contradicts the key type, are
// refused with an error naming the key's index. Private members (d, p, q, …) are ignored.
Result<std::vector<PemPublicKey>> ParseJwks(std::string_view jwks_json);

// OK when `pem` is a public key usable for `alg`: RS256 → RSA >= 2048 bits, ES256 → EC P-256.
// A private key is refused (configure the public half).
Status CheckPublicKeyPem(std::string_view pem, std::string_view alg);

// base64url without padding (RFC 7515 §2).
std::string Base64UrlEncode(std::string_view raw);
bool Base64UrlDecode(std::string_view text, std::string* out);

}  // namespace holdgate::review
