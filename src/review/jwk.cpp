#include "review/jwk.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <memory>

#include "common/crypto.h"
#include "common/json_util.h"

namespace holdgate::review {
namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct PkeyCtxFree { void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); } };
struct BnFree { void operator()(BIGNUM* b) const { BN_free(b); } };
struct ParamBldFree { void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); } };
struct ParamFree { void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;

constexpr int kMinRsaBits = 2048;

Result<std::string> PemOf(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return Internal("PEM_write_bio_PUBKEY failed");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  if (n <= 0 || data == nullptr) return Internal("empty PEM");
  return std::string(data, static_cast<size_t>(n));
}

Result<PkeyPtr> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return Internal("OSSL_PARAM_BLD_to_param failed");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return Internal("EVP_PKEY_fromdata_init failed");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || raw == nullptr) {
    return InvalidArgument(std::string("not a valid ") + type + " public key");
  }
  return PkeyPtr(raw);
}

std::string JsonString(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

Result<PemPublicKey> RsaFromJwk(const Json& jwk) {
  std::string n, e;
  if (!Base64UrlDecode(JsonString(jwk, "n"), &n) || n.empty() ||
      !Base64UrlDecode(JsonString(jwk, "e"), &e) || e.empty()) {
    return InvalidArgument("RSA key needs base64url 'n' and 'e'");
  }
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr));
  if (!bn_n || !bn_e) return Internal("BN_bin2bn failed");
  if (BN_num_bits(bn_n.get()) < kMinRsaBits) return InvalidArgument("RSA key shorter than 2048 bits");
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Internal("OSSL_PARAM_BLD_push_BN failed");
  }
  auto key = FromData("RSA", bld.get());
  if (!key.ok()) return key.status();
  auto pem = PemOf(key->get());
  if (!pem.ok()) return pem.status();
  return PemPublicKey{JsonString(jwk, "kid"), "RS256", std::move(*pem)};
}

Result<PemPublicKey> EcFromJwk(const Json& jwk) {
  if (JsonString(jwk, "crv") != "P-256") return InvalidArgument("EC key must use crv P-256");
  std::string x, y;
  if (!Base64UrlDecode(JsonString(jwk, "x"), &x) || !Base64UrlDecode(JsonString(jwk, "y"), &y) ||
      x.size() != 32 || y.size() != 32) {
    return InvalidArgument("EC P-256 key needs 32-byte base64url 'x' and 'y'");
  }
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return Internal("OSSL_PARAM_BLD push failed");
  }
  auto key = FromData("EC", bld.get());  // rejects points not on the curve
  if (!key.ok()) return key.status();
  auto pem = PemOf(key->get());
  if (!pem.ok()) return pem.status();
  return PemPublicKey{JsonString(jwk, "kid"), "ES256", std::move(*pem)};
}

}  // namespace

std::string Base64UrlEncode(std::string_view raw) {
  std::string s = Base64Encode(raw);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

bool Base64UrlDecode(std::string_view text, std::string* out) {
  if (text.size() % 4 == 1) return false;
  std::string s;
  s.reserve(text.size() + 3);
  for (char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) s.push_back(c);
    else if (c == '-') s.push_back('+');
    else if (c == '_') s.push_back('/');
    else return false;  // no padding, whitespace or standard-alphabet characters
  }
  while (s.size() % 4 != 0) s.push_back('=');
  return Base64Decode(s, out);
}

Result<std::vector<PemPublicKey>> ParseJwks(std::string_view jwks_json) {
  auto doc = ParseJson(jwks_json);
  if (!doc.ok()) return InvalidArgument("JWKS is not JSON: " + doc.status().message());
  if (!doc->is_object() || !doc->contains("keys") || !(*doc)["keys"].is_array()) {
    return InvalidArgument("JWKS must be an object with a \"keys\" array");
  }
  std::vector<PemPublicKey> out;
  const Json& keys = (*doc)["keys"];
  for (size_t i = 0; i < keys.size(); ++i) {
    const Json& jwk = keys[i];
    std::string where = "JWKS keys[" + std::to_string(i) + "]: ";
    if (!jwk.is_object()) return InvalidArgument(where + "not an object");
    std::string use = JsonString(jwk, "use");
    if (!use.empty() && use != "sig") return InvalidArgument(where + "\"use\" is not \"sig\"");
    std::string kty = JsonString(jwk, "kty");
    std::string alg = JsonString(jwk, "alg");
    Result<PemPublicKey> key = InvalidArgument("unset");
    if (kty == "RSA") {
      if (!alg.empty() && alg != "RS256") return InvalidArgument(where + "RSA key with alg " + alg + " (only RS256)");
      key = RsaFromJwk(jwk);
    } else if (kty == "EC") {
      if (!alg.empty() && alg != "ES256") return InvalidArgument(where + "EC key with alg " + alg + " (only ES256)");
      key = EcFromJwk(jwk);
    } else {
      return InvalidArgument(where + "unsupported kty \"" + kty + "\" (RSA or EC)");
    }
    if (!key.ok()) return InvalidArgument(where + key.status().message());
    out.push_back(std::move(*key));
  }
  if (out.empty()) return InvalidArgument("JWKS has no keys");
  return out;
}

Status CheckPublicKeyPem(std::string_view pem, std::string_view alg) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("BIO_new_mem_buf failed");
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    if (pem.find("PRIVATE KEY") != std::string_view::npos) {
      return InvalidArgument("a private key was configured; give the public key instead");
    }
    return InvalidArgument("not a PEM public key");
  }
  if (alg == "RS256") {
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return InvalidArgument("RS256 needs an RSA key");
    if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) return InvalidArgument("RSA key shorter than 2048 bits");
    return Status::Ok();
  }
  if (alg == "ES256") {
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) return InvalidArgument("ES256 needs an EC key");
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) != 1 ||
        std::string_view(group, len) != "prime256v1") {
      return InvalidArgument("ES256 needs an EC P-256 (prime256v1) key");
    }
    return Status::Ok();
  }
  return InvalidArgument("unsupported public-key algorithm \"" + std::string(alg) + "\" (RS256 or ES256)");
}

}  // namespace holdgate::review
