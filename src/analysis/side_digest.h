// The digests of an upload that are not the three hashes, computed while its bytes arrive instead
// of after them (issue 19, target 5): the ssdeep fuzzy hash and the byte entropy.
//  - FuzzyHasher: libfuzzy's streaming API (fuzzy_new/fuzzy_update/fuzzy_digest); the text is the
//    one fuzzy_hash_filename gives for the same bytes, however they are split.
//  - SideDigester: FuzzyHasher + EntropyAccumulator over one upload, either inline (Update digests
//    the bytes on the caller's thread: small bodies) or following the spool file on a thread of its
//    own (Update only publishes how many bytes the file now holds; the thread reads them back from
//    the page cache), so the receiving I/O thread only hashes and writes while the other core does
//    the rest. Finish waits for the thread to catch up: call it from a thread that may block (after
//    starting the AV scan's work elsewhere, the tail overlaps it).
// Thread-compatible: one thread at a time calls an instance's methods (the follower thread is
// internal). No exceptions cross this interface.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "analysis/stream_hasher.h"
#include "common/status.h"

struct fuzzy_state;

namespace sandgate::analysis {

class FuzzyHasher {
 public:
  FuzzyHasher();  // never fails; an allocation failure surfaces in Finish()
  ~FuzzyHasher();
  FuzzyHasher(const FuzzyHasher&) = delete;
  FuzzyHasher& operator=(const FuzzyHasher&) = delete;

  // The length the whole input will have (fuzzy_hash_filename passes the file's size): libfuzzy
  // then skips block sizes it will never report. Optional; before the first Update. If the input
  // turns out to have another length, Finish() fails.
  void SetTotalLength(uint64_t n);
  // Feeds n bytes (n == 0 is a no-op; data may be null only then).
  void Update(const void* data, size_t n);
  // The ssdeep text of everything fed ("3::" for nothing). 500 INTERNAL on a libfuzzy failure.
  Result<std::string> Finish();

 private:
  fuzzy_state* state_ = nullptr;
  bool failed_ = false;
};

struct SideDigests {
  std::string ssdeep;
  double entropy = 0;  // bits per byte (EntropyAccumulator::Bits)
  uint64_t size = 0;   // bytes digested
};

class SideDigester {
 public:
  // Inline: Update digests the bytes on the calling thread.
  SideDigester();
  // Follows the file at `path`, which the caller appends to and reports with Update, on a thread
  // of its own. Falls back to inline digesting when the file cannot be opened or no thread can be
  // started (following() says which).
  explicit SideDigester(const std::string& path);
  ~SideDigester();  // stops and joins the thread (at most one read of kReadBytes to finish)
  SideDigester(const SideDigester&) = delete;
  SideDigester& operator=(const SideDigester&) = delete;

  bool following() const { return thread_.joinable(); }
  // As FuzzyHasher::SetTotalLength; before the first Update.
  void SetTotalLength(uint64_t n);
  // n more bytes: `data` inline; when following, the caller has just appended exactly these bytes
  // to the file (data is not read). Never waits for the thread.
  void Update(const void* data, size_t n);
  // Every byte has been given. Waits until the thread has digested them (blocks: not on an I/O
  // thread) and returns the digests. Call once. 500 INTERNAL when the file could not be read back
  // or libfuzzy failed.
  Result<SideDigests> Finish();

  static constexpr size_t kReadBytes = 128 * 1024;
  // The follower thread's nice value (higher: yields more to request threads).
  static constexpr int kFollowerNice = 10;

 private:
  void Follow();
  void Digest(const void* data, size_t n);

  FuzzyHasher fuzzy_;
  EntropyAccumulator entropy_;
  uint64_t digested_ = 0;  // the follower's (or the inline caller's) progress
  int fd_ = -1;
  std::string path_;
  Status read_error_;  // set by the follower before it exits

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t written_ = 0;  // guarded by mu_
  bool done_ = false;     // guarded by mu_: no more bytes will come
  bool stop_ = false;     // guarded by mu_: give up (destruction)
  std::thread thread_;
};

}  // namespace sandgate::analysis
