// Secret scanning partner reports (issue 20): verifying who sent them.
//
// GitHub signs each report (POST /api/v1/secret-scanning/github) with ECDSA P-256 over SHA-256 of
// the raw body and sends `Github-Public-Key-Identifier` (which key) and
// `Github-Public-Key-Signature` (base64 of the DER signature). Its public keys are published as
//   {"public_keys":[{"key_identifier":"<hex>","key":"-----BEGIN PUBLIC
//   KEY-----\n...","is_current":true}]}
// ScannerKeys holds such keys from a file (config secret_scanning_keys_file) and/or a URL
// (secret_scanning_keys_url, GitHub's https://api.github.com/meta/public_keys/secret_scanning),
// fetched at start and again when a report names a key id it does not know (GitHub rotates keys;
// such refetches at most once a minute). OpenSSL 3 EVP does the verification.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace sandgate::auth {

// One public key of a key document.
struct ScannerKey {
  std::string id;  // key_identifier
  bool current = false;
  std::shared_ptr<void> pkey;  // EVP_PKEY, freed with EVP_PKEY_free
};

// The keys of a document in GitHub's format. 400 INVALID_SCANNER_KEYS (naming what is wrong, never
// echoing the input) for malformed JSON, a missing field, or a key that is not an EC P-256 public
// key in PEM. A document without keys is valid (and verifies nothing).
Result<std::vector<ScannerKey>> ParseScannerKeys(std::string_view document);

// True when `signature_b64` (base64 of a DER ECDSA signature) signs SHA-256(body) under `key`.
bool VerifySignature(const ScannerKey& key, std::string_view body, std::string_view signature_b64);

// Fetches `url` (http or https; a 2xx answer of at most 1 MiB, within `timeout_ms`, no redirects).
// 502 SCANNER_KEYS_UNAVAILABLE with the reason otherwise.
Result<std::string> FetchKeyDocument(const std::string& url, TimeMs timeout_ms);

struct ScannerKeysOptions {
  std::string file;                     // "" for none
  std::string url;                      // "" for none
  TimeMs refetch_interval_ms = 60'000;  // an unknown key id fetches the URL at most this often
  TimeMs fetch_timeout_ms = 10'000;
};

// Thread-safe.
class ScannerKeys {
 public:
  ScannerKeys(ScannerKeysOptions options, const Clock& clock);  // clock outlives this

  // Whether any key source is configured (the route answers 404 NOT_CONFIGURED otherwise).
  bool configured() const { return !opt_.file.empty() || !opt_.url.empty(); }
  // Reads the file (an error stops the start: a broken configuration should not look like bad
  // signatures) and fetches the URL (a failure is logged; the next unknown key id tries again).
  Status Load();
  // OK when `signature_b64` is a valid signature of `body` by key `key_id`; otherwise 401
  // INVALID_SIGNATURE (unsigned, unknown key id, or mis-signed; the message says which, without
  // echoing the headers).
  Status Verify(std::string_view key_id, std::string_view signature_b64, std::string_view body);

  // How many times the URL was fetched (tests).
  int fetches() const;

 private:
  Status FetchLocked() REQUIRES(mu_);
  const ScannerKey* FindLocked(std::string_view key_id) const REQUIRES(mu_);

  ScannerKeysOptions opt_;
  const Clock& clock_;
  mutable Mutex mu_;
  std::vector<ScannerKey> file_keys_ GUARDED_BY(mu_), url_keys_ GUARDED_BY(mu_);
  TimeMs last_fetch_ GUARDED_BY(mu_) = 0;      // the last refetch for an unknown key id
  bool fetched_once_ GUARDED_BY(mu_) = false;  // whether there was one
  int fetches_ GUARDED_BY(mu_) = 0;
};

}  // namespace sandgate::auth
