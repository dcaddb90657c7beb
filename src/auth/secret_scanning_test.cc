// Secret scanning report signatures (issue 20): GitHub's key document, ECDSA P-256 / SHA-256
// verification over the raw body, and the key set's refusals. Keys are generated here with
// OpenSSL, signatures made with it as GitHub makes them (DER, base64).
#include "auth/secret_scanning.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sandgate::auth {
namespace {

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

PKey NewKey(const char* curve = "P-256") { return PKey(EVP_EC_gen(curve), &EVP_PKEY_free); }

std::string PublicPem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string Base64(const unsigned char* p, size_t n) {
  std::string out(sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return out;
}

std::string Sign(EVP_PKEY* k, const std::string& body) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, k), 1);
  size_t n = 0;
  EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(body.data()),
                           body.size()),
            1);
  std::string sig(n, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                           reinterpret_cast<const unsigned char*>(body.data()), body.size()),
            1);
  EVP_MD_CTX_free(ctx);
  return Base64(reinterpret_cast<const unsigned char*>(sig.data()), n);
}

// A key document in GitHub's format (JSON string escaping of the PEM's newlines).
std::string Document(const std::vector<std::pair<std::string, std::string>>& keys) {
  std::string out = "{\"public_keys\":[";
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string pem;
    for (char c : keys[i].second) pem += c == '\n' ? std::string("\\n") : std::string(1, c);
    out += (i ? "," : "") + std::string("{\"key_identifier\":\"") + keys[i].first +
           "\",\"key\":\"" + pem + "\",\"is_current\":" + (i == 0 ? "true" : "false") + "}";
  }
  return out + "]}";
}

const std::string kBody =
    R"([{"token":"sbx_x","type":"sandgate_api_token","url":"https://github.com/o/r","source":"commit"}])";

TEST(SecretScanning, ValidSignatureVerifiesAndAnyChangeFails) {
  PKey k = NewKey();
  auto keys = ParseScannerKeys(Document({{"abc123", PublicPem(k.get())}}));
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].id, "abc123");
  EXPECT_TRUE((*keys)[0].current);
  const std::string sig = Sign(k.get(), kBody);
  EXPECT_TRUE(VerifySignature((*keys)[0], kBody, sig));
  // One byte of the body, trailing whitespace, another key's signature, garbage: all refused.
  std::string changed = kBody;
  changed[10] = 'X';
  EXPECT_FALSE(VerifySignature((*keys)[0], changed, sig));
  EXPECT_FALSE(VerifySignature((*keys)[0], kBody + "\n", sig));
  PKey other = NewKey();
  EXPECT_FALSE(VerifySignature((*keys)[0], kBody, Sign(other.get(), kBody)));
  EXPECT_FALSE(VerifySignature((*keys)[0], kBody, "not base64!"));
  EXPECT_FALSE(VerifySignature((*keys)[0], kBody, ""));
  EXPECT_FALSE(
      VerifySignature((*keys)[0], kBody, Base64(reinterpret_cast<const unsigned char*>("x"), 1)));
  EXPECT_FALSE(VerifySignature((*keys)[0], kBody, std::string(1000, 'A')));
}

TEST(SecretScanning, KeyDocumentsAreCheckedStrictly) {
  PKey k = NewKey();
  const std::string pem = PublicPem(k.get());
  EXPECT_TRUE(ParseScannerKeys("{\"public_keys\":[]}").ok());
  for (const std::string& bad :
       {std::string("not json"), std::string("[]"), std::string("{}"),
        std::string("{\"public_keys\":{}}"), std::string("{\"public_keys\":[{\"key\":\"x\"}]}"),
        Document({{"id", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}})}) {
    auto r = ParseScannerKeys(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), "INVALID_SCANNER_KEYS");
    }
  }
  // Another curve or another algorithm is not GitHub's scheme.
  PKey p384 = NewKey("P-384");
  EXPECT_FALSE(ParseScannerKeys(Document({{"id", PublicPem(p384.get())}})).ok());
  PKey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), &EVP_PKEY_free);
  EXPECT_FALSE(ParseScannerKeys(Document({{"id", PublicPem(ed.get())}})).ok());
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/sandgate-scanner-keys-XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SecretScanning, KeySetRefusesUnsignedUnknownAndMisSigned) {
  PKey current = NewKey(), old = NewKey();
  TempFile f(Document({{"cur", PublicPem(current.get())}, {"old", PublicPem(old.get())}}));
  ManualClock clock(1'800'000'000'000);
  ScannerKeys keys(ScannerKeysOptions{f.path(), "", 60'000, 1000}, clock);
  EXPECT_TRUE(keys.configured());
  ASSERT_TRUE(keys.Load().ok());
  EXPECT_TRUE(keys.Verify("cur", Sign(current.get(), kBody), kBody).ok());
  EXPECT_TRUE(keys.Verify("old", Sign(old.get(), kBody), kBody).ok());  // any listed key
  auto refused = [&](const Status& st) {
    EXPECT_EQ(st.http_status(), 401);
    EXPECT_EQ(st.code(), "INVALID_SIGNATURE");
  };
  refused(keys.Verify("", Sign(current.get(), kBody), kBody));
  refused(keys.Verify("cur", "", kBody));
  refused(keys.Verify("nope", Sign(current.get(), kBody), kBody));
  refused(keys.Verify("old", Sign(current.get(), kBody), kBody));  // the wrong key's signature
  refused(keys.Verify("cur", Sign(current.get(), kBody), kBody + " "));
  EXPECT_EQ(keys.fetches(), 0);  // no URL configured: nothing fetched

  // Nothing configured; a broken file stops the start.
  ScannerKeys none(ScannerKeysOptions{}, clock);
  EXPECT_FALSE(none.configured());
  TempFile broken("{\"public_keys\": 7}");
  ScannerKeys bad(ScannerKeysOptions{broken.path(), "", 60'000, 1000}, clock);
  EXPECT_EQ(bad.Load().code(), "INVALID_SCANNER_KEYS");
  ScannerKeys missing(ScannerKeysOptions{"/nonexistent/keys.json", "", 60'000, 1000}, clock);
  EXPECT_EQ(missing.Load().code(), "INVALID_SCANNER_KEYS");
}

TEST(SecretScanning, UnknownKeyIdRefetchesTheUrlAtMostOncePerInterval) {
  // A URL nothing answers (a closed port on loopback): every fetch fails fast.
  ManualClock clock(1'800'000'000'000);
  ScannerKeys keys(ScannerKeysOptions{"", "http://127.0.0.1:9/keys", 60'000, 2000}, clock);
  ASSERT_TRUE(keys.Load().ok());  // a failed fetch at start is logged, not fatal
  EXPECT_EQ(keys.fetches(), 1);
  PKey k = NewKey();
  // The first unknown key id fetches again (GitHub may have rotated since the start)...
  EXPECT_EQ(keys.Verify("new", Sign(k.get(), kBody), kBody).http_status(), 401);
  EXPECT_EQ(keys.fetches(), 2);
  // ...the next ones within the interval do not.
  EXPECT_EQ(keys.Verify("newer", Sign(k.get(), kBody), kBody).http_status(), 401);
  EXPECT_EQ(keys.fetches(), 2);
  clock.advance(59'999);
  EXPECT_EQ(keys.Verify("new", Sign(k.get(), kBody), kBody).http_status(), 401);
  EXPECT_EQ(keys.fetches(), 2);
  clock.advance(1);
  EXPECT_EQ(keys.Verify("new", Sign(k.get(), kBody), kBody).http_status(), 401);
  EXPECT_EQ(keys.fetches(), 3);
  // A known key never fetches.
  EXPECT_EQ(keys.fetches(), 3);
}

}  // namespace
}  // namespace sandgate::auth
