// Keyring: the server's secret key material, kept in a key file (never in the database).
// - lookup key: keyed BLAKE2b-256 of token text -> the index/lookup hash; also derives session and
//   CSRF hashes (with distinct personalisation).
// - seal key: XChaCha20-Poly1305 (libsodium, IETF) seals the token text for reveal.
// The key file is created with mode 0600 on first start. A database copied without it reveals no
// token. Thread-safe after construction (immutable). Key bytes are held in sodium_malloc'ed,
// mlock'ed memory and wiped on destruction.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sandgate::token {

class Keyring {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kHashBytes = 32;
  using Hash = std::array<unsigned char, kHashBytes>;

  // Key file format (text, exactly these three lines, hex in either case, final newline optional):
  //   sandgate-keyfile 1
  //   lookup <64 hex>
  //   seal <64 hex>

  // Loads the key file at `path`, creating it (mode 0600, parent directory must exist) when absent.
  // Never overwrites an existing file. Errors as Load, or 500 KEYFILE_CREATE_FAILED.
  static Result<std::shared_ptr<Keyring>> LoadOrCreate(const std::string& path);
  // Loads an existing key file; 500 KEYFILE_MISSING / KEYFILE_INVALID (malformed, unreadable, not a
  // regular file) / KEYFILE_INSECURE (any permission bit for group or others) otherwise.
  static Result<std::shared_ptr<Keyring>> Load(const std::string& path);
  // A keyring with fresh random keys, not backed by a file (tests, benchmarks).
  static std::shared_ptr<Keyring> Ephemeral();

  ~Keyring();
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // 32-byte keyed hash of a token's text; equal tokens give equal hashes.
  std::string LookupHash(std::string_view token) const;
  // The same hash without allocating (TokenIndex::Verify's hot path).
  Hash LookupHashBytes(std::string_view token) const;
  // 32-byte keyed hash for other secrets, domain-separated by `purpose` (e.g. "session", "csrf").
  // Never equal to a LookupHash (distinct BLAKE2b personalisation) nor to another purpose's Mac
  // (length-prefixed purpose).
  std::string Mac(std::string_view purpose, std::string_view data) const;
  // nonce || ciphertext || tag; a fresh random nonce each call.
  std::string Seal(std::string_view plaintext) const;
  // 500 UNSEAL_FAILED when the ciphertext was not sealed by this key or was altered.
  Result<std::string> Unseal(std::string_view sealed) const;
  // A short public identifier of the seal key (first 8 hex chars of a hash of it).
  const std::string& key_id() const { return key_id_; }

 private:
  Keyring();
  unsigned char* lookup_key_;  // 32 bytes, sodium_malloc
  unsigned char* seal_key_;    // 32 bytes, sodium_malloc
  std::string key_id_;
  // After the keys are filled in: derives key_id_ and makes the key memory read-only.
  void Freeze();
};

}  // namespace sandgate::token
