#include "token/keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <new>

#include "token/sodium_init.h"

namespace sandgate::token {
namespace {

static_assert(Keyring::kKeyBytes == crypto_generichash_KEYBYTES);
static_assert(Keyring::kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(Keyring::kHashBytes >= crypto_generichash_BYTES_MIN &&
              Keyring::kHashBytes <= crypto_generichash_BYTES_MAX);

constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // 24
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;       // 16
constexpr size_t kHexChars = 2 * Keyring::kKeyBytes;

// BLAKE2b personalisations (16 bytes each, NUL-padded). LookupHash uses none (all zero), so no Mac
// and no key id can ever equal a lookup hash.
constexpr char kMacPersonal[crypto_generichash_blake2b_PERSONALBYTES] = "sandgate.mac.v1";
constexpr char kKeyIdPersonal[crypto_generichash_blake2b_PERSONALBYTES] = "sandgate.kid.v1";
constexpr unsigned char kZeroSalt[crypto_generichash_blake2b_SALTBYTES] = {};

constexpr std::string_view kHeaderV1 = "sandgate-keyfile 1\n";
constexpr std::string_view kHeaderV2 = "sandgate-keyfile 2\n";
static_assert(kHeaderV1.size() == kHeaderV2.size());
constexpr std::string_view kLookupTag = "lookup ";
constexpr std::string_view kSealTag = "seal ";
constexpr std::string_view kSealOldTag = "seal-old ";
// Anything larger is not a key file (about 400 old keys fit).
constexpr size_t kMaxKeyFileBytes = 32 * 1024;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
const unsigned char* Bytes(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

Status KeyfileError(const char* code, const std::string& path, const std::string& what) {
  return Status(500, code, "Key file " + path + ": " + what);
}

Status ErrnoError(const char* code, const std::string& path, const char* op, int err) {
  return KeyfileError(code, path, std::string(op) + " failed: " + std::strerror(err));
}

// Consumes "<tag><64 hex>\n" (final newline optional) from the front of `text` into key[0..32).
// Never echoes key material.
bool ParseKeyLine(std::string_view& text, std::string_view tag, unsigned char* key) {
  if (!text.starts_with(tag)) return false;
  text.remove_prefix(tag.size());
  // The newline may be missing only at the very end of the file.
  if (text.size() < kHexChars || (text.size() > kHexChars && text[kHexChars] != '\n')) return false;
  size_t bin_len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(key, Keyring::kKeyBytes, text.data(), kHexChars, nullptr, &bin_len, &end) !=
          0 ||
      bin_len != Keyring::kKeyBytes || end != text.data() + kHexChars)
    return false;
  text.remove_prefix(std::min(text.size(), kHexChars + 1));
  return true;
}

// Appends "<tag><hex of key>\n" to out (which the caller wipes).
void FormatKeyLine(std::string& out, std::string_view tag, const unsigned char* key) {
  out.append(tag);
  char hex[kHexChars + 1];
  sodium_bin2hex(hex, sizeof hex, key, Keyring::kKeyBytes);
  out.append(hex, kHexChars);
  sodium_memzero(hex, sizeof hex);
  out.push_back('\n');
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// fsync of the directory holding `path`, so the new directory entry is durable.
bool SyncParentDir(const std::string& path) {
  const int fd = ::open(ParentDir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::string KeyIdOf(const unsigned char* key) {
  unsigned char id[16];
  crypto_generichash_blake2b_salt_personal(id, sizeof id, nullptr, 0, key, Keyring::kKeyBytes,
                                           kZeroSalt, Bytes(kKeyIdPersonal));
  char hex[2 * sizeof id + 1];
  sodium_bin2hex(hex, sizeof hex, id, sizeof id);
  return std::string(hex, 8);
}

// An exclusive flock on "<key file>.lock", held while it lives (serialises rotations).
class RotationLock {
 public:
  explicit RotationLock(const std::string& key_path) {
    const std::string p = key_path + ".lock";
    fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0) {
      status_ = ErrnoError("KEYFILE_LOCK_FAILED", key_path, "open of the .lock file", errno);
      return;
    }
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      status_ = ErrnoError("KEYFILE_LOCK_FAILED", key_path, "flock", errno);
      return;
    }
  }
  ~RotationLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  const Status& status() const { return status_; }

 private:
  int fd_ = -1;
  Status status_;
};

}  // namespace

// One seal key (or, in FileKeys, the lookup key): 32 bytes of sodium_malloc'ed memory.
struct Keyring::SealKey {
  std::string id;
  unsigned char* key;
  SealKey() : key(nullptr) {
    EnsureSodium();  // sodium_malloc needs sodium_init
    key = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
    if (key == nullptr) throw std::bad_alloc();
  }
  ~SealKey() { sodium_free(key); }  // makes it writable again, wipes and unlocks it
  SealKey(const SealKey&) = delete;
  SealKey& operator=(const SealKey&) = delete;
  // After the key is filled in: derives the id and makes the memory read-only.
  void Freeze() {
    id = KeyIdOf(key);
    sodium_mprotect_readonly(key);
  }
};

// The content of a key file.
struct Keyring::FileKeys {
  std::unique_ptr<SealKey> lookup;
  std::vector<std::unique_ptr<SealKey>> seal;  // the current key first
};

namespace {

// Parses the whole key file (version 1 or 2); the message never contains file content.
Status ParseKeyFile(std::string_view text, const std::string& path, unsigned char* lookup,
                    const std::function<unsigned char*()>& next_seal_key) {
  bool v2 = false;
  if (text.starts_with(kHeaderV2)) {
    v2 = true;
  } else if (!text.starts_with(kHeaderV1)) {
    return KeyfileError("KEYFILE_INVALID", path, "not a Sandgate key file (bad first line)");
  }
  text.remove_prefix(kHeaderV1.size());
  if (!ParseKeyLine(text, kLookupTag, lookup))
    return KeyfileError("KEYFILE_INVALID", path, "malformed \"lookup\" line");
  if (!ParseKeyLine(text, kSealTag, next_seal_key()))
    return KeyfileError("KEYFILE_INVALID", path, "malformed \"seal\" line");
  while (v2 && !text.empty()) {
    if (!ParseKeyLine(text, kSealOldTag, next_seal_key()))
      return KeyfileError("KEYFILE_INVALID", path, "malformed \"seal-old\" line");
  }
  if (!text.empty()) return KeyfileError("KEYFILE_INVALID", path, "unexpected content at the end");
  return Status::Ok();
}

}  // namespace

Keyring::Keyring() : lookup_key_(nullptr), lookup_state_(nullptr) {
  EnsureSodium();
  lookup_key_ = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
  // sizeof the state is a multiple of its 64-byte alignment, so sodium_malloc's end-of-page
  // placement keeps it aligned.
  static_assert(sizeof(crypto_generichash_blake2b_state) % 64 == 0);
  lookup_state_ = static_cast<crypto_generichash_blake2b_state*>(
      sodium_malloc(sizeof(crypto_generichash_blake2b_state)));
  if (lookup_key_ == nullptr || lookup_state_ == nullptr) {
    sodium_free(lookup_key_);
    sodium_free(lookup_state_);
    throw std::bad_alloc();
  }
}

Keyring::~Keyring() {
  sodium_free(lookup_key_);
  sodium_free(lookup_state_);
}

void Keyring::FreezeLookupKey() {
  // BLAKE2b compresses a key as a first block of its own: done here once, not per token.
  crypto_generichash_blake2b_init(lookup_state_, lookup_key_, kKeyBytes, kHashBytes);
  sodium_mprotect_readonly(lookup_key_);
  sodium_mprotect_readonly(lookup_state_);
}

std::shared_ptr<Keyring> Keyring::Ephemeral() {
  std::shared_ptr<Keyring> k(new Keyring());
  randombytes_buf(k->lookup_key_, kKeyBytes);
  k->FreezeLookupKey();
  auto s = std::make_unique<SealKey>();
  randombytes_buf(s->key, kKeyBytes);
  s->Freeze();
  {
    WriterLock lock(k->mu_);  // not shared yet; the lock is for the analysis
    k->seal_keys_.push_back(std::move(s));
  }
  return k;
}

Result<Keyring::FileKeys> Keyring::ReadKeyFile(const std::string& path) {
  // O_NONBLOCK: never hang on a FIFO placed at the path (rejected below as not a regular file).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return KeyfileError("KEYFILE_MISSING", path, "does not exist");
    return ErrnoError("KEYFILE_INVALID", path, "open", err);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError("KEYFILE_INVALID", path, "fstat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return KeyfileError("KEYFILE_INVALID", path, "not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return KeyfileError("KEYFILE_INSECURE", path,
                        std::string("is accessible by group or others (mode ") + mode +
                            "); restrict it with chmod 600");
  }
  std::vector<char> buf(kMaxKeyFileBytes + 1);
  size_t len = 0;
  int read_err = 0;
  while (len < buf.size()) {
    const ssize_t r = ::read(fd, buf.data() + len, buf.size() - len);
    if (r < 0) {
      if (errno == EINTR) continue;
      read_err = errno;
      break;
    }
    if (r == 0) break;
    len += static_cast<size_t>(r);
  }
  ::close(fd);
  Status parsed;
  FileKeys f;
  if (read_err != 0) {
    parsed = ErrnoError("KEYFILE_INVALID", path, "read", read_err);
  } else if (len > kMaxKeyFileBytes) {
    parsed = KeyfileError("KEYFILE_INVALID", path, "too large to be a key file");
  } else {
    f.lookup = std::make_unique<SealKey>();
    parsed = ParseKeyFile(std::string_view(buf.data(), len), path, f.lookup->key, [&f] {
      f.seal.push_back(std::make_unique<SealKey>());
      return f.seal.back()->key;
    });
  }
  sodium_memzero(buf.data(), buf.size());
  if (!parsed.ok()) return parsed;
  std::set<std::string> ids;
  for (auto& s : f.seal) {
    s->Freeze();
    if (!ids.insert(s->id).second)
      return KeyfileError("KEYFILE_INVALID", path, "the seal key " + s->id + " appears twice");
  }
  sodium_mprotect_readonly(f.lookup->key);
  return f;
}

void Keyring::MergeLocked(FileKeys& f) const {
  const std::string current_id = f.seal.front()->id;
  for (auto& s : f.seal) {
    const bool known = std::any_of(seal_keys_.begin(), seal_keys_.end(),
                                   [&](const auto& k) { return k->id == s->id; });
    if (!known) seal_keys_.push_back(std::move(s));
  }
  for (size_t i = 0; i < seal_keys_.size(); ++i)
    if (seal_keys_[i]->id == current_id) current_ = i;
}

Result<std::shared_ptr<Keyring>> Keyring::Load(const std::string& path) {
  auto f = ReadKeyFile(path);
  if (!f.ok()) return f.status();
  std::shared_ptr<Keyring> k(new Keyring());
  std::memcpy(k->lookup_key_, f->lookup->key, kKeyBytes);
  k->FreezeLookupKey();
  k->path_ = path;
  {
    WriterLock lock(k->mu_);  // not shared yet; the lock is for the analysis
    k->seal_keys_ = std::move(f->seal);
    k->current_ = 0;
  }
  return k;
}

Result<std::shared_ptr<Keyring>> Keyring::LoadOrCreate(const std::string& path) {
  auto loaded = Load(path);
  if (loaded.ok() || loaded.status().code() != "KEYFILE_MISSING") return loaded;
  EnsureSodium();

  unsigned char* lookup = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
  unsigned char* seal = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
  if (lookup == nullptr || seal == nullptr) {
    sodium_free(lookup);
    sodium_free(seal);
    throw std::bad_alloc();
  }
  randombytes_buf(lookup, kKeyBytes);
  randombytes_buf(seal, kKeyBytes);
  std::string text;
  text.reserve(256);
  text.append(kHeaderV2);
  FormatKeyLine(text, kLookupTag, lookup);
  FormatKeyLine(text, kSealTag, seal);
  sodium_free(lookup);
  sodium_free(seal);

  // O_EXCL: never replace a key file (that would orphan every issued token); it also refuses to
  // follow a symlink planted at `path`.
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    sodium_memzero(text.data(), text.size());
    if (err == EEXIST) return Load(path);  // another process created it first
    return ErrnoError("KEYFILE_CREATE_FAILED", path, "create", err);
  }
  const char* failed = nullptr;
  int err = 0;
  if (!WriteAll(fd, text.data(), text.size())) {
    failed = "write";
  } else if (::fsync(fd) != 0) {
    failed = "fsync";
  }
  if (failed != nullptr) err = errno;
  if (::close(fd) != 0 && failed == nullptr) {
    failed = "close";
    err = errno;
  }
  if (failed == nullptr && !SyncParentDir(path)) {
    failed = "fsync of the directory";
    err = errno;
  }
  sodium_memzero(text.data(), text.size());
  if (failed != nullptr) {
    ::unlink(path.c_str());  // no token was issued under these keys; leave no partial file behind
    return ErrnoError("KEYFILE_CREATE_FAILED", path, failed, err);
  }
  return Load(path);  // the same parser reads what was written
}

std::string Keyring::LookupHash(std::string_view token) const {
  const Hash h = LookupHashBytes(token);
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

Keyring::Hash Keyring::LookupHashBytes(std::string_view token) const {
  // The same bytes as crypto_generichash(h, token, lookup_key_), from the keyed state.
  crypto_generichash_blake2b_state st = *lookup_state_;
  crypto_generichash_blake2b_update(&st, Bytes(token), token.size());
  Hash h;
  crypto_generichash_blake2b_final(&st, h.data(), h.size());
  sodium_memzero(&st, sizeof st);  // holds key-derived chaining values
  return h;
}

std::string Keyring::Mac(std::string_view purpose, std::string_view data) const {
  crypto_generichash_blake2b_state st;
  crypto_generichash_blake2b_init_salt_personal(&st, lookup_key_, kKeyBytes, kHashBytes, kZeroSalt,
                                                Bytes(kMacPersonal));
  unsigned char len[8];
  uint64_t n = purpose.size();
  for (int i = 7; i >= 0; --i, n >>= 8) len[i] = static_cast<unsigned char>(n & 0xFF);
  crypto_generichash_blake2b_update(&st, len, sizeof len);
  crypto_generichash_blake2b_update(&st, Bytes(purpose), purpose.size());
  crypto_generichash_blake2b_update(&st, Bytes(data), data.size());
  unsigned char out[kHashBytes];
  crypto_generichash_blake2b_final(&st, out, sizeof out);
  sodium_memzero(&st, sizeof st);  // holds key-derived chaining values
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string Keyring::key_id() const {
  ReaderLock lock(mu_);
  return seal_keys_[current_]->id;
}

std::vector<std::string> Keyring::key_ids() const {
  ReaderLock lock(mu_);
  std::vector<std::string> ids{seal_keys_[current_]->id};
  for (size_t i = 0; i < seal_keys_.size(); ++i)
    if (i != current_) ids.push_back(seal_keys_[i]->id);
  return ids;
}

std::string Keyring::Seal(std::string_view plaintext, std::string* key_id) const {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(o, kNonceBytes);
  unsigned long long clen = 0;
  ReaderLock lock(mu_);
  const SealKey& k = *seal_keys_[current_];
  crypto_aead_xchacha20poly1305_ietf_encrypt(o + kNonceBytes, &clen, Bytes(plaintext),
                                             plaintext.size(), nullptr, 0, nullptr, o, k.key);
  if (key_id != nullptr) *key_id = k.id;
  return out;
}

Result<std::string> Keyring::Unseal(std::string_view sealed, const std::string& key_id) const {
  const auto failed = [] {
    return Status(500, "UNSEAL_FAILED",
                  "The sealed token cannot be opened with this key file (wrong key or altered "
                  "data).");
  };
  const auto open = [&](const unsigned char* key) -> Result<std::string> {
    if (sealed.size() < kNonceBytes + kTagBytes) return failed();
    std::string plain(sealed.size() - kNonceBytes - kTagBytes, '\0');
    unsigned long long mlen = 0;
    const unsigned char* s = Bytes(sealed);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char*>(plain.data()), &mlen, nullptr, s + kNonceBytes,
            sealed.size() - kNonceBytes, nullptr, 0, s, key) != 0) {
      sodium_memzero(plain.data(), plain.size());
      return failed();
    }
    return plain;
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      ReaderLock lock(mu_);
      for (const auto& k : seal_keys_)
        if (k->id == key_id) return open(k->key);
    }
    // Unknown id: another process may have rotated the key file since this one read it.
    if (attempt > 0 || path_.empty() || !Reload().ok()) break;
  }
  return Status(500, "UNSEAL_KEY_UNKNOWN",
                "The token was sealed under key " + key_id +
                    ", which is not in the key file; restore the key file that holds it.");
}

Status Keyring::Reload() const {
  if (path_.empty()) return Status(400, "KEYFILE_NONE", "This keyring has no key file.");
  std::lock_guard<std::mutex> reload(reload_mu_);
  auto f = ReadKeyFile(path_);
  if (!f.ok()) return f.status();
  if (sodium_memcmp(f->lookup->key, lookup_key_, kKeyBytes) != 0)
    return KeyfileError("KEYFILE_MISMATCH", path_,
                        "its lookup key differs from the one in use (a different installation's "
                        "key file?); not reloaded");
  WriterLock lock(mu_);
  MergeLocked(*f);
  return Status::Ok();
}

Status Keyring::WriteFileLocked(const std::vector<const unsigned char*>& seal_keys) const {
  std::string text;
  text.reserve(kHeaderV2.size() + (seal_keys.size() + 1) * (kSealOldTag.size() + kHexChars + 1));
  text.append(kHeaderV2);
  FormatKeyLine(text, kLookupTag, lookup_key_);
  for (size_t i = 0; i < seal_keys.size(); ++i)
    FormatKeyLine(text, i == 0 ? kSealTag : kSealOldTag, seal_keys[i]);
  if (text.size() > kMaxKeyFileBytes) {
    sodium_memzero(text.data(), text.size());
    return KeyfileError("KEYFILE_FULL", path_,
                        "too many old seal keys; run `sandgate keys retire-old` first");
  }
  // mkstemp creates the file with mode 0600 in the key file's directory (same file system).
  std::string tmp = ParentDir(path_) + "/.sandgate-key-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    const int err = errno;
    sodium_memzero(text.data(), text.size());
    return ErrnoError("KEYFILE_WRITE_FAILED", path_, "creating a temporary file", err);
  }
  const char* failed = nullptr;
  int err = 0;
  if (::fchmod(fd, 0600) != 0) {
    failed = "fchmod";
  } else if (!WriteAll(fd, text.data(), text.size())) {
    failed = "write";
  } else if (::fsync(fd) != 0) {
    failed = "fsync";
  }
  if (failed != nullptr) err = errno;
  sodium_memzero(text.data(), text.size());
  if (::close(fd) != 0 && failed == nullptr) {
    failed = "close";
    err = errno;
  }
  if (failed == nullptr && ::rename(tmp.c_str(), path_.c_str()) != 0) {
    failed = "rename";
    err = errno;
  }
  if (failed != nullptr) {
    ::unlink(tmp.c_str());
    return ErrnoError("KEYFILE_WRITE_FAILED", path_, failed, err);
  }
  if (!SyncParentDir(path_))
    return ErrnoError("KEYFILE_WRITE_FAILED", path_, "fsync of the directory", errno);
  return Status::Ok();
}

Result<std::string> Keyring::Rotate() {
  if (path_.empty()) return Status(400, "KEYFILE_NONE", "This keyring has no key file.");
  RotationLock rotation(path_);
  if (!rotation.status().ok()) return rotation.status();
  // Start from the file as it is now (another rotation may have written it since it was read).
  if (Status s = Reload(); !s.ok()) return s;
  auto fresh = std::make_unique<SealKey>();
  WriterLock lock(mu_);
  for (;;) {  // a new key whose id no known key has (ids are 32 bits)
    sodium_mprotect_readwrite(fresh->key);
    randombytes_buf(fresh->key, kKeyBytes);
    fresh->Freeze();
    const bool clash = std::any_of(seal_keys_.begin(), seal_keys_.end(),
                                   [&](const auto& k) { return k->id == fresh->id; });
    if (!clash) break;
  }
  // New current, then the previous current, then the other known keys (newest first).
  std::vector<const unsigned char*> keys{fresh->key, seal_keys_[current_]->key};
  for (size_t i = seal_keys_.size(); i-- > 0;)
    if (i != current_) keys.push_back(seal_keys_[i]->key);
  if (Status s = WriteFileLocked(keys); !s.ok()) return s;
  const std::string id = fresh->id;
  seal_keys_.push_back(std::move(fresh));
  current_ = seal_keys_.size() - 1;
  return id;
}

Result<std::vector<std::string>> Keyring::RetireOld(const std::set<std::string>& in_use) {
  if (path_.empty()) return Status(400, "KEYFILE_NONE", "This keyring has no key file.");
  RotationLock rotation(path_);
  if (!rotation.status().ok()) return rotation.status();
  // Only the file's keys count (this process may remember keys retired earlier).
  auto f = ReadKeyFile(path_);
  if (!f.ok()) return f.status();
  if (sodium_memcmp(f->lookup->key, lookup_key_, kKeyBytes) != 0)
    return KeyfileError("KEYFILE_MISMATCH", path_,
                        "its lookup key differs from the one in use; not changed");
  std::vector<std::string> retired, used;
  for (size_t i = 1; i < f->seal.size(); ++i)
    (in_use.count(f->seal[i]->id) ? used : retired).push_back(f->seal[i]->id);
  if (!used.empty()) {
    std::string ids;
    for (const auto& id : used) ids += (ids.empty() ? "" : ", ") + id;
    return Status::Conflict("KEYS_IN_USE", "Tokens are still sealed under the old key(s) " + ids +
                                               "; run `sandgate keys reseal` first.");
  }
  if (retired.empty()) return retired;
  if (Status s = WriteFileLocked({f->seal.front()->key}); !s.ok()) return s;
  WriterLock lock(mu_);
  MergeLocked(*f);
  return retired;
}

}  // namespace sandgate::token
