#include "analysis/stream_hasher.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <system_error>
#include <thread>
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

// The MD5 and SHA-1 contexts fed by a thread of their own through a ring of blocks: Add copies the
// caller's bytes into the ring and hands each full block over without waiting for it to be hashed
// (it waits only when all kBlocks are in flight); Drain hands over the last, partial block and
// waits until everything has been hashed. A wake-up per block, never one per Update: on a VM a
// cross-core wake-up costs more than hashing 64 KiB. Add and Drain are called by one thread at a
// time (the hasher's owner).
struct StreamHasher::Helper {
  static constexpr size_t kBlock = 256 * 1024;
  static constexpr size_t kBlocks = 8;  // 2 MiB in flight at most

  Helper(EVP_MD_CTX* md5, EVP_MD_CTX* sha1) : md5(md5), sha1(sha1) {
    for (auto& b : blocks) b = std::make_unique_for_overwrite<unsigned char[]>(kBlock);
    thread = std::thread([this] { Run(); });
  }
  ~Helper() {
    stop.store(true, std::memory_order_relaxed);
    head.fetch_add(1, std::memory_order_release);  // wakes the thread, which then sees `stop`
    head.notify_one();
    thread.join();
  }
  void Add(const unsigned char* p, size_t n) {
    while (n > 0) {
      if (fill == 0) {  // starting a block: wait for a free one
        const uint64_t h = head.load(std::memory_order_relaxed);
        for (uint64_t t; h - (t = tail.load(std::memory_order_acquire)) >= kBlocks;)
          tail.wait(t, std::memory_order_acquire);
      }
      const size_t k = std::min(n, kBlock - fill);
      std::memcpy(blocks[head.load(std::memory_order_relaxed) % kBlocks].get() + fill, p, k);
      fill += k;
      p += k;
      n -= k;
      if (fill == kBlock) Post();
    }
  }
  // Returns false when the digest failed.
  bool Drain() {
    if (fill > 0) Post();
    const uint64_t h = head.load(std::memory_order_relaxed);
    for (uint64_t t; (t = tail.load(std::memory_order_acquire)) != h;)
      tail.wait(t, std::memory_order_acquire);
    return !failed.load(std::memory_order_relaxed);
  }

 private:
  void Post() {
    sizes[head.load(std::memory_order_relaxed) % kBlocks] = fill;
    fill = 0;
    head.fetch_add(1, std::memory_order_release);
    head.notify_one();
  }
  void Run() {
    for (uint64_t t = 0;;) {
      uint64_t h;
      while ((h = head.load(std::memory_order_acquire)) == t)
        head.wait(t, std::memory_order_acquire);
      if (stop.load(std::memory_order_relaxed)) return;
      for (; t < h; ++t) {
        const unsigned char* b = blocks[t % kBlocks].get();
        const size_t n = sizes[t % kBlocks];
        if (!failed.load(std::memory_order_relaxed) &&
            (EVP_DigestUpdate(md5, b, n) != 1 || EVP_DigestUpdate(sha1, b, n) != 1))
          failed.store(true, std::memory_order_relaxed);
        tail.store(t + 1, std::memory_order_release);
        tail.notify_one();
      }
    }
  }

  EVP_MD_CTX* const md5;
  EVP_MD_CTX* const sha1;
  std::array<std::unique_ptr<unsigned char[]>, kBlocks> blocks;
  std::array<size_t, kBlocks> sizes{};  // written before the block's `head` release
  size_t fill = 0;                      // the owner's: bytes in the block being filled
  std::atomic<uint64_t> head{0};        // blocks handed over (the owner's count)
  std::atomic<uint64_t> tail{0};        // blocks hashed (the thread's count)
  std::atomic<bool> failed{false}, stop{false};
  std::thread thread;
};

StreamHasher::StreamHasher() {
  const Algorithms& a = Algos();
  md5_ = NewCtx(a.md5);
  sha1_ = NewCtx(a.sha1);
  sha256_ = NewCtx(a.sha256);
  failed_ = md5_ == nullptr || sha1_ == nullptr || sha256_ == nullptr;
}

StreamHasher::~StreamHasher() { Release(); }

StreamHasher::StreamHasher(StreamHasher&& other) noexcept
    : helper_(std::move(other.helper_)),
      md5_(std::exchange(other.md5_, nullptr)),
      sha1_(std::exchange(other.sha1_, nullptr)),
      sha256_(std::exchange(other.sha256_, nullptr)),
      size_(other.size_),
      failed_(other.failed_),
      finished_(std::exchange(other.finished_, true)) {}

StreamHasher& StreamHasher::operator=(StreamHasher&& other) noexcept {
  if (this != &other) {
    Release();
    helper_ = std::move(other.helper_);
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
  helper_.reset();        // joins the thread before its context goes
  EVP_MD_CTX_free(md5_);  // null-safe
  EVP_MD_CTX_free(sha1_);
  EVP_MD_CTX_free(sha256_);
  md5_ = sha1_ = sha256_ = nullptr;
}

bool StreamHasher::UseHelperThread() {
  if (helper_ || failed_ || finished_ || size_ != 0) return false;
  try {
    helper_ = std::make_unique<Helper>(md5_, sha1_);
  } catch (const std::system_error&) {  // no thread to be had: inline, as before
    return false;
  }
  return true;
}

void StreamHasher::Update(const void* data, size_t n) {
  if (n == 0 || failed_ || finished_) return;
  if (helper_) {
    helper_->Add(static_cast<const unsigned char*>(data), n);  // a copy: the buffer is free again
    if (EVP_DigestUpdate(sha256_, data, n) != 1) {
      failed_ = true;
      return;
    }
    size_ += n;
    return;
  }
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
  if (helper_) {
    const bool ok = helper_->Drain();
    helper_.reset();  // joined: the MD5 and SHA-1 contexts are ours again
    if (!ok) return Status::Internal("OpenSSL digest failure (MD5/SHA-1)");
  }
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
