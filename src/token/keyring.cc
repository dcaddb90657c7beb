#include "token/keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
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

constexpr std::string_view kHeaderLine = "sandgate-keyfile 1\n";
constexpr std::string_view kLookupTag = "lookup ";
constexpr std::string_view kSealTag = "seal ";
constexpr size_t kKeyFileBytes =
    kHeaderLine.size() + kLookupTag.size() + kHexChars + 1 + kSealTag.size() + kHexChars + 1;
constexpr size_t kMaxKeyFileBytes = 1024;  // anything larger is not a key file

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

// Parses the whole key file into the two keys; the message never contains file content.
Status ParseKeyFile(std::string_view text, const std::string& path, unsigned char* lookup,
                    unsigned char* seal) {
  if (!text.starts_with(kHeaderLine))
    return KeyfileError("KEYFILE_INVALID", path, "not a Sandgate key file (bad first line)");
  text.remove_prefix(kHeaderLine.size());
  if (!ParseKeyLine(text, kLookupTag, lookup))
    return KeyfileError("KEYFILE_INVALID", path, "malformed \"lookup\" line");
  if (!ParseKeyLine(text, kSealTag, seal))
    return KeyfileError("KEYFILE_INVALID", path, "malformed \"seal\" line");
  if (!text.empty()) return KeyfileError("KEYFILE_INVALID", path, "unexpected content at the end");
  return Status::Ok();
}

// Appends "<tag><hex of key>\n" at out; returns the position after it.
char* FormatKeyLine(char* out, std::string_view tag, const unsigned char* key) {
  std::memcpy(out, tag.data(), tag.size());
  out += tag.size();
  char hex[kHexChars + 1];
  sodium_bin2hex(hex, sizeof hex, key, Keyring::kKeyBytes);
  std::memcpy(out, hex, kHexChars);
  sodium_memzero(hex, sizeof hex);
  out += kHexChars;
  *out++ = '\n';
  return out;
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

// fsync of the directory holding `path`, so the new directory entry is durable.
bool SyncParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Keyring::Keyring() : lookup_key_(nullptr), seal_key_(nullptr) {
  EnsureSodium();
  lookup_key_ = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
  seal_key_ = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
  if (lookup_key_ == nullptr || seal_key_ == nullptr) {
    sodium_free(lookup_key_);
    sodium_free(seal_key_);
    throw std::bad_alloc();
  }
}

Keyring::~Keyring() {
  // sodium_free makes the region writable again, wipes it and unlocks it.
  sodium_free(lookup_key_);
  sodium_free(seal_key_);
}

void Keyring::Freeze() {
  unsigned char id[16];
  crypto_generichash_blake2b_salt_personal(id, sizeof id, nullptr, 0, seal_key_, kKeyBytes,
                                           kZeroSalt, Bytes(kKeyIdPersonal));
  char hex[2 * sizeof id + 1];
  sodium_bin2hex(hex, sizeof hex, id, sizeof id);
  key_id_.assign(hex, 8);
  sodium_mprotect_readonly(lookup_key_);
  sodium_mprotect_readonly(seal_key_);
}

std::shared_ptr<Keyring> Keyring::Ephemeral() {
  std::shared_ptr<Keyring> k(new Keyring());
  randombytes_buf(k->lookup_key_, kKeyBytes);
  randombytes_buf(k->seal_key_, kKeyBytes);
  k->Freeze();
  return k;
}

Result<std::shared_ptr<Keyring>> Keyring::Load(const std::string& path) {
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
  char buf[kMaxKeyFileBytes + 1];
  size_t len = 0;
  int read_err = 0;
  while (len < sizeof buf) {
    const ssize_t r = ::read(fd, buf + len, sizeof buf - len);
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
  std::shared_ptr<Keyring> k;
  if (read_err != 0) {
    parsed = ErrnoError("KEYFILE_INVALID", path, "read", read_err);
  } else if (len > kMaxKeyFileBytes) {
    parsed = KeyfileError("KEYFILE_INVALID", path, "too large to be a key file");
  } else {
    k.reset(new Keyring());
    parsed = ParseKeyFile(std::string_view(buf, len), path, k->lookup_key_, k->seal_key_);
  }
  sodium_memzero(buf, sizeof buf);
  if (!parsed.ok()) return parsed;
  k->Freeze();
  return k;
}

Result<std::shared_ptr<Keyring>> Keyring::LoadOrCreate(const std::string& path) {
  auto loaded = Load(path);
  if (loaded.ok() || loaded.status().code() != "KEYFILE_MISSING") return loaded;

  std::shared_ptr<Keyring> k(new Keyring());
  randombytes_buf(k->lookup_key_, kKeyBytes);
  randombytes_buf(k->seal_key_, kKeyBytes);
  char text[kKeyFileBytes];
  char* p = text;
  std::memcpy(p, kHeaderLine.data(), kHeaderLine.size());
  p += kHeaderLine.size();
  p = FormatKeyLine(p, kLookupTag, k->lookup_key_);
  p = FormatKeyLine(p, kSealTag, k->seal_key_);

  // O_EXCL: never replace a key file (that would orphan every issued token); it also refuses to
  // follow a symlink planted at `path`.
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    sodium_memzero(text, sizeof text);
    if (err == EEXIST) return Load(path);  // another process created it first
    return ErrnoError("KEYFILE_CREATE_FAILED", path, "create", err);
  }
  const char* failed = nullptr;
  int err = 0;
  if (!WriteAll(fd, text, static_cast<size_t>(p - text))) {
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
  sodium_memzero(text, sizeof text);
  if (failed != nullptr) {
    ::unlink(path.c_str());  // no token was issued under these keys; leave no partial file behind
    return ErrnoError("KEYFILE_CREATE_FAILED", path, failed, err);
  }
  k->Freeze();
  return k;
}

std::string Keyring::LookupHash(std::string_view token) const {
  const Hash h = LookupHashBytes(token);
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

Keyring::Hash Keyring::LookupHashBytes(std::string_view token) const {
  Hash h;
  crypto_generichash(h.data(), h.size(), Bytes(token), token.size(), lookup_key_, kKeyBytes);
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

std::string Keyring::Seal(std::string_view plaintext) const {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(o, kNonceBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(o + kNonceBytes, &clen, Bytes(plaintext),
                                             plaintext.size(), nullptr, 0, nullptr, o, seal_key_);
  return out;
}

Result<std::string> Keyring::Unseal(std::string_view sealed) const {
  const auto failed = [] {
    return Status(500, "UNSEAL_FAILED",
                  "The sealed token cannot be opened with this key file (wrong key or altered "
                  "data).");
  };
  if (sealed.size() < kNonceBytes + kTagBytes) return failed();
  std::string plain(sealed.size() - kNonceBytes - kTagBytes, '\0');
  unsigned long long mlen = 0;
  const unsigned char* s = Bytes(sealed);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &mlen, nullptr, s + kNonceBytes,
          sealed.size() - kNonceBytes, nullptr, 0, s, seal_key_) != 0) {
    sodium_memzero(plain.data(), plain.size());
    return failed();
  }
  return plain;
}

}  // namespace sandgate::token
