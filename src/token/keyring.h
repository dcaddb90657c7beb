// Keyring: the server's secret key material, kept in a key file (never in the database).
// - lookup key: keyed BLAKE2b-256 of token text -> the index/lookup hash; also derives session and
//   CSRF hashes (with distinct personalisation). Never changes for an installation: it defines
//   every stored token's lookup hash.
// - seal keys: XChaCha20-Poly1305 (libsodium, IETF) seals the token text for reveal. One current
//   key seals; older keys (kept after `sandgate keys rotate`) only unseal. Each is named by a key
//   id, stored with every sealed token (TokenRecord.key_id).
// The key file is created with mode 0600 on first start. A database copied without it reveals no
// token. Key bytes are held in sodium_malloc'ed, mlock'ed, read-only memory and wiped on
// destruction.
//
// Thread-safe. The lookup key is immutable; the set of seal keys may grow while the process runs
// (Reload, Rotate), never shrink, so anything this process sealed stays openable by it.
// A keyring loaded from a file re-reads that file when asked to unseal under a key id it does not
// know (a `keys rotate` by another process re-sealed the token), so a running server needs no
// restart or signal after a rotation; Reload() does the same on demand (SIGHUP).
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

struct crypto_generichash_blake2b_state;  // <sodium.h>

namespace sandgate::token {

class Keyring {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kHashBytes = 32;
  using Hash = std::array<unsigned char, kHashBytes>;

  // Key file formats (text, hex in either case, final newline optional).
  // Version 1 (read only), exactly these three lines:
  //   sandgate-keyfile 1
  //   lookup <64 hex>
  //   seal <64 hex>
  // Version 2 (written by this version):
  //   sandgate-keyfile 2
  //   lookup <64 hex>
  //   seal <64 hex>          the current seal key
  //   seal-old <64 hex>      zero or more older seal keys, newest first (unseal only)
  // A key's id is derived from the key itself, so a version 1 file's key keeps its id in version 2.

  // Loads the key file at `path`, creating it (mode 0600, parent directory must exist) when absent.
  // Never overwrites an existing file. Errors as Load, or 500 KEYFILE_CREATE_FAILED.
  static Result<std::shared_ptr<Keyring>> LoadOrCreate(const std::string& path);
  // Loads an existing key file; 500 KEYFILE_MISSING / KEYFILE_INVALID (malformed, unreadable, not a
  // regular file, two equal seal keys) / KEYFILE_INSECURE (any permission bit for group or others).
  static Result<std::shared_ptr<Keyring>> Load(const std::string& path);
  // A keyring with fresh random keys, not backed by a file (tests, benchmarks).
  static std::shared_ptr<Keyring> Ephemeral();

  ~Keyring();
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // 32-byte keyed hash of a token's text; equal tokens give equal hashes.
  std::string LookupHash(std::string_view token) const;
  // The same hash without allocating (TokenIndex::Verify's hot path; takes no lock).
  Hash LookupHashBytes(std::string_view token) const;
  // 32-byte keyed hash for other secrets, domain-separated by `purpose` (e.g. "session", "csrf").
  // Never equal to a LookupHash (distinct BLAKE2b personalisation) nor to another purpose's Mac
  // (length-prefixed purpose).
  std::string Mac(std::string_view purpose, std::string_view data) const;
  // nonce || ciphertext || tag under the current seal key; a fresh random nonce each call. The id
  // of the key used is stored in *key_id when given (store it with the sealed text).
  std::string Seal(std::string_view plaintext, std::string* key_id = nullptr) const;
  // Opens `sealed` with the seal key named `key_id`. A file-backed keyring that does not know the
  // id re-reads its file once (see Reload). 500 UNSEAL_KEY_UNKNOWN when the id is in neither;
  // 500 UNSEAL_FAILED when the ciphertext was not sealed by that key or was altered.
  Result<std::string> Unseal(std::string_view sealed, const std::string& key_id) const;
  // The current seal key's id: a short public identifier (8 hex chars of a hash of the key).
  std::string key_id() const;
  // Every seal key id this keyring knows, the current one first.
  std::vector<std::string> key_ids() const;

  // Re-reads the key file: learns its seal keys and takes its current key for sealing; keys
  // already known are kept. 500 KEYFILE_MISMATCH (nothing changed) when the file's lookup key
  // differs from this keyring's; errors as Load. 400 KEYFILE_NONE for an ephemeral keyring.
  Status Reload() const;

  // `sandgate keys rotate`, first half: generates a new seal key and replaces the key file
  // atomically (temporary file 0600 + fsync + rename + fsync of the directory) with a version 2
  // file holding the lookup key, the new key as current and every seal key known before (the file's
  // and this keyring's) as old keys. Serialised with other rotations by an flock on
  // "<path>.lock". On success this keyring seals with the new key; returns its id. On failure the
  // key file and this keyring are unchanged.
  Result<std::string> Rotate();

  // `sandgate keys retire-old`: rewrites the key file (atomically, as Rotate) without the old seal
  // keys whose ids are not in `in_use`. 409 KEYS_IN_USE (nothing changed) when an old key is still
  // in use. Returns the retired ids. This process keeps them in memory (see the class comment).
  Result<std::vector<std::string>> RetireOld(const std::set<std::string>& in_use);

  const std::string& path() const { return path_; }

 private:
  struct SealKey;  // id + key bytes (sodium_malloc, read-only)
  struct FileKeys;
  Keyring();
  static Result<FileKeys> ReadKeyFile(const std::string& path);
  // Adds the keys not known yet and makes `current_id` current.
  void MergeLocked(FileKeys& f) const REQUIRES(mu_);
  // Writes a version 2 file at path_ (atomic replace). Caller holds the rotation lock.
  Status WriteFileLocked(const std::vector<const unsigned char*>& seal_keys) const;

  // Initializes lookup_state_ from lookup_key_ and makes both read-only. Once, before sharing.
  void FreezeLookupKey();

  unsigned char* lookup_key_;  // 32 bytes, sodium_malloc, read-only; never changes
  // BLAKE2b keyed with lookup_key_ (output kHashBytes), nothing hashed yet: LookupHashBytes
  // copies it. sodium_malloc, read-only; never changes.
  crypto_generichash_blake2b_state* lookup_state_;
  std::string path_;  // "" for an ephemeral keyring
  mutable SharedMutex mu_;
  mutable std::vector<std::unique_ptr<SealKey>> seal_keys_ GUARDED_BY(mu_);  // only grows
  mutable size_t current_ GUARDED_BY(mu_) = 0;  // index into seal_keys_
  mutable std::mutex reload_mu_;  // one reload at a time (a burst of unknown ids reads once)
};

}  // namespace sandgate::token
