#include "analysis/stream_hasher.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

namespace sandgate::analysis {
namespace {

// The three algorithms, fetched once per process from the default provider (fetched EVP_MD
// objects are immutable and may be shared between threads). Never freed: process lifetime.
struct Algorithms {
  EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  EVP_MD* sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
};

const Algorithms& Algos() {
  static const Algorithms* algos = new Algorithms();
  return *algos;
}

EVP_MD_CTX* NewCtx(const EVP_MD* md) {
  if (md == nullptr) return nullptr;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx != nullptr && EVP_DigestInit_ex2(ctx, md, nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

bool FinalHex(EVP_MD_CTX* ctx, std::string* out) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, md, &len) != 1) return false;
  static constexpr char kHex[] = "0123456789abcdef";
  out->resize(2 * size_t{len});
  for (unsigned int i = 0; i < len; ++i) {
    (*out)[2 * i] = kHex[md[i] >> 4];
    (*out)[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return true;
}

}  // namespace

StreamHasher::StreamHasher() {
  const Algorithms& a = Algos();
  md5_ = NewCtx(a.md5);
  sha1_ = NewCtx(a.sha1);
  sha256_ = NewCtx(a.sha256);
  failed_ = md5_ == nullptr || sha1_ == nullptr || sha256_ == nullptr;
}

StreamHasher::~StreamHasher() { Release(); }

StreamHasher::StreamHasher(StreamHasher&& other) noexcept
    : md5_(std::exchange(other.md5_, nullptr)),
      sha1_(std::exchange(other.sha1_, nullptr)),
      sha256_(std::exchange(other.sha256_, nullptr)),
      size_(other.size_),
      failed_(other.failed_),
      finished_(std::exchange(other.finished_, true)) {}

StreamHasher& StreamHasher::operator=(StreamHasher&& other) noexcept {
  if (this != &other) {
    Release();
    md5_ = std::exchange(other.md5_, nullptr);
    sha1_ = std::exchange(other.sha1_, nullptr);
    sha256_ = std::exchange(other.sha256_, nullptr);
    size_ = other.size_;
    failed_ = other.failed_;
    finished_ = std::exchange(other.finished_, true);
  }
  return *this;
}

void StreamHasher::Release() {
  EVP_MD_CTX_free(md5_);  // null-safe
  EVP_MD_CTX_free(sha1_);
  EVP_MD_CTX_free(sha256_);
  md5_ = sha1_ = sha256_ = nullptr;
}

void StreamHasher::Update(const void* data, size_t n) {
  if (n == 0 || failed_ || finished_) return;
  if (EVP_DigestUpdate(md5_, data, n) != 1 || EVP_DigestUpdate(sha1_, data, n) != 1 ||
      EVP_DigestUpdate(sha256_, data, n) != 1) {
    failed_ = true;
    return;
  }
  size_ += n;
}

Result<Hashes> StreamHasher::Finish() {
  if (finished_) return Status::Internal("StreamHasher::Finish called twice");
  finished_ = true;
  if (failed_) return Status::Internal("OpenSSL digest failure (MD5/SHA-1/SHA-256 unavailable?)");
  Hashes h;
  h.size = size_;
  if (!FinalHex(md5_, &h.md5) || !FinalHex(sha1_, &h.sha1) || !FinalHex(sha256_, &h.sha256)) {
    return Status::Internal("OpenSSL digest finalisation failed");
  }
  Release();
  return h;
}

void EntropyAccumulator::Update(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    ++counts_[0][p[i]];
    ++counts_[1][p[i + 1]];
    ++counts_[2][p[i + 2]];
    ++counts_[3][p[i + 3]];
  }
  for (; i < n; ++i) ++counts_[0][p[i]];
  total_ += n;
}

double EntropyAccumulator::Bits() const {
  if (total_ == 0) return 0;
  const double total = static_cast<double>(total_);
  double bits = 0;
  for (int b = 0; b < 256; ++b) {
    const uint64_t c = counts_[0][b] + counts_[1][b] + counts_[2][b] + counts_[3][b];
    if (c == 0) continue;
    const double p = static_cast<double>(c) / total;
    bits -= p * std::log2(p);
  }
  // Rounding can leave a constant stream at -0.0 or a uniform one a hair above 8.
  if (bits < 0) bits = 0;
  if (bits > 8) bits = 8;
  return bits;
}

void EntropyAccumulator::Reset() {
  counts_ = {};
  total_ = 0;
}

Result<FileDigest> DigestFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::Internal("cannot open " + path + ": " + std::strerror(errno));
  }
  StreamHasher hasher;
  EntropyAccumulator entropy;
  std::vector<unsigned char> buf(64 * 1024);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::Internal("cannot read " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    hasher.Update(buf.data(), static_cast<size_t>(n));
    entropy.Update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  Result<Hashes> h = hasher.Finish();
  if (!h.ok()) return h.status();
  return FileDigest{std::move(h).value(), entropy.Bits()};
}

}  // namespace sandgate::analysis
