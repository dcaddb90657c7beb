// Streaming digests of a submitted file, computed while its bytes arrive (one pass, no re-read):
//  - StreamHasher: MD5 + SHA-1 + SHA-256 + byte count (OpenSSL 3 EVP, default provider).
//  - EntropyAccumulator: byte histogram -> Shannon entropy in bits per byte (0..8).
// Both are thread-compatible value objects: one thread at a time may use an instance; distinct
// instances may be used concurrently (no shared mutable state). No exceptions: an OpenSSL failure
// is reported by StreamHasher::Finish().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace sandgate::analysis {

struct Hashes {
  std::string md5;     // 32 lower-case hex digits (the Submission API shows it upper-case)
  std::string sha1;    // 40 lower-case hex digits
  std::string sha256;  // 64 lower-case hex digits
  uint64_t size = 0;   // bytes hashed
};

class StreamHasher {
 public:
  StreamHasher();  // never fails; an initialisation failure surfaces in Finish()
  ~StreamHasher();
  StreamHasher(StreamHasher&& other) noexcept;
  StreamHasher& operator=(StreamHasher&& other) noexcept;
  StreamHasher(const StreamHasher&) = delete;
  StreamHasher& operator=(const StreamHasher&) = delete;

  // From now on MD5 and SHA-1 run on a helper thread of this hasher, beside SHA-256 on the
  // caller's (MD5 alone costs more than the other two together): for large bodies (issue 19, target
  // 4: hashing on more than one core). Update copies the bytes for the helper (up to 2 MiB in
  // flight), so the caller may reuse its buffer at once; Finish waits for the helper. Returns false
  // (and hashes inline, as before) when no thread could be started. Call before the first Update,
  // at most once.
  bool UseHelperThread();

  // Feeds n bytes (n == 0 is a no-op; data may be null only then). Ignored after Finish().
  void Update(const void* data, size_t n);

  // Returns the digests of everything fed so far. Call once: the hasher is spent afterwards and a
  // second Finish() (or a failed OpenSSL call at any point) returns 500 INTERNAL.
  Result<Hashes> Finish();

 private:
  void Release();
  struct Helper;

  std::unique_ptr<Helper> helper_;  // set by UseHelperThread; owns the MD5 + SHA-1 thread
  evp_md_ctx_st* md5_ = nullptr;
  evp_md_ctx_st* sha1_ = nullptr;
  evp_md_ctx_st* sha256_ = nullptr;
  uint64_t size_ = 0;
  bool failed_ = false;
  bool finished_ = false;
};

class EntropyAccumulator {
 public:
  void Update(const void* data, size_t n);  // n == 0 is a no-op
  // Shannon entropy of the bytes seen so far, in bits per byte: 0 for empty or constant input,
  // 8 for input where all 256 byte values are equally frequent.
  double Bits() const;
  uint64_t size() const { return total_; }
  void Reset();

 private:
  // Four interleaved histograms so consecutive equal bytes do not serialise on one counter.
  std::array<std::array<uint64_t, 256>, 4> counts_{};
  uint64_t total_ = 0;
};

// Hashes and entropy of a whole file, read once in 64 KiB chunks. Thread-safe.
// Errors: 500 INTERNAL when the file cannot be opened or read (message names the path and errno).
struct FileDigest {
  Hashes hashes;
  double entropy = 0;
};
Result<FileDigest> DigestFile(const std::string& path);

}  // namespace sandgate::analysis
