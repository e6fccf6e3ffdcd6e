#pragma once
// Test helpers for reviewer auth: RSA/EC keys generated at runtime with OpenSSL, JWK export,
// and a JWS signer written directly on OpenSSL (independent of cpp-jwt), so tests can build any
// header (alg none, NoNe, HS256 signed with a public key, …). Header-only; tests only.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "common/crypto.h"
#include "common/json_util.h"
#include "review/jwk.h"

namespace holdgate::testkeys {

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
  holdgate::Json jwk;  // public JWK (kty, n/e or crv/x/y), without kid/alg
};

inline std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

inline std::string BnBytes(const BIGNUM* bn, int pad = 0) {
  int n = pad > 0 ? pad : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

// kind: "RSA" (bits) or "EC" (P-256; bits ignored) or "EC384".
inline KeyPair Generate(const std::string& kind, int bits = 2048) {
  EVP_PKEY* key = nullptr;
  if (kind == "RSA") key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  else if (kind == "EC") key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  else if (kind == "EC384") key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  if (key == nullptr) throw std::runtime_error("keygen failed");
  KeyPair kp;
  BIO* b1 = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b1, key, nullptr, nullptr, 0, nullptr, nullptr);
  kp.private_pem = BioString(b1);
  BIO_free(b1);
  BIO* b2 = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(b2, key);
  kp.public_pem = BioString(b2);
  BIO_free(b2);
  if (kind == "RSA") {
    BIGNUM *n = nullptr, *e = nullptr;
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e);
    kp.jwk = {{"kty", "RSA"}, {"n", review::Base64UrlEncode(BnBytes(n))}, {"e", review::Base64UrlEncode(BnBytes(e))}};
    BN_free(n);
    BN_free(e);
  } else {
    BIGNUM *x = nullptr, *y = nullptr;
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    int len = kind == "EC" ? 32 : 48;
    kp.jwk = {{"kty", "EC"}, {"crv", kind == "EC" ? "P-256" : "P-384"},
              {"x", review::Base64UrlEncode(BnBytes(x, len))}, {"y", review::Base64UrlEncode(BnBytes(y, len))}};
    BN_free(x);
    BN_free(y);
  }
  EVP_PKEY_free(key);
  return kp;
}

inline std::string EvpSign(const std::string& private_pem, const std::string& data) {
  BIO* bio = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) throw std::runtime_error("bad private key");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(data.data()), data.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  bool ec = EVP_PKEY_get_base_id(key) == EVP_PKEY_EC;
  EVP_PKEY_free(key);
  if (ec) {  // DER ECDSA-Sig-Value → JWS raw r||s
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    const BIGNUM *r = nullptr, *s = nullptr;
    ECDSA_SIG_get0(es, &r, &s);
    std::string raw = BnBytes(r, 32) + BnBytes(s, 32);
    ECDSA_SIG_free(es);
    return raw;
  }
  return sig;
}

// Signs header.claims with `sign_as` ("HS256" → HMAC with `key`, "RS256"/"ES256" → `key` is a
// private PEM, "" → empty signature). The header is used verbatim, so it may lie about its alg.
inline std::string HandSign(const holdgate::Json& header, const holdgate::Json& claims,
                            const std::string& sign_as, const std::string& key) {
  std::string input = review::Base64UrlEncode(header.dump()) + "." + review::Base64UrlEncode(claims.dump());
  std::string sig;
  if (sign_as == "HS256") sig = holdgate::HmacSha256Raw(key, input);
  else if (sign_as == "RS256" || sign_as == "ES256") sig = EvpSign(key, input);
  return input + "." + review::Base64UrlEncode(sig);
}

}  // namespace holdgate::testkeys
