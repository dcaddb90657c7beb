#include "analysis/side_digest.h"

#include <errno.h>
#include <fcntl.h>
#include <fuzzy.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <system_error>
#include <vector>

namespace sandgate::analysis {

FuzzyHasher::FuzzyHasher() : state_(fuzzy_new()) { failed_ = state_ == nullptr; }

FuzzyHasher::~FuzzyHasher() {
  if (state_ != nullptr) fuzzy_free(state_);
}

void FuzzyHasher::SetTotalLength(uint64_t n) {
  if (failed_) return;
  if (fuzzy_set_total_input_length(state_, n) != 0) failed_ = true;
}

void FuzzyHasher::Update(const void* data, size_t n) {
  if (n == 0 || failed_) return;
  if (fuzzy_update(state_, static_cast<const unsigned char*>(data), n) != 0) failed_ = true;
}

Result<std::string> FuzzyHasher::Finish() {
  if (failed_) return Status::Internal("ssdeep (libfuzzy) failed");
  char buf[FUZZY_MAX_RESULT];
  if (fuzzy_digest(state_, buf, 0) != 0) return Status::Internal("ssdeep (libfuzzy) failed");
  return std::string(buf);
}

SideDigester::SideDigester() = default;

SideDigester::SideDigester(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return;  // inline
  try {
    thread_ = std::thread([this] { Follow(); });
  } catch (const std::system_error&) {  // no thread to be had: inline
    ::close(fd_);
    fd_ = -1;
  }
}

SideDigester::~SideDigester() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  if (fd_ >= 0) ::close(fd_);
}

void SideDigester::SetTotalLength(uint64_t n) { fuzzy_.SetTotalLength(n); }

void SideDigester::Digest(const void* data, size_t n) {
  fuzzy_.Update(data, n);
  entropy_.Update(data, n);
  digested_ += n;
}

void SideDigester::Update(const void* data, size_t n) {
  if (n == 0) return;
  if (!following()) {
    Digest(data, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    written_ += n;
  }
  cv_.notify_one();
}

void SideDigester::Follow() {
  // Yields to the threads that serve requests (issue 19, target 4): ssdeep is slower than the
  // upload, and its result is wanted only after the AV scan, which this thread then overlaps.
  // The receive loop's second core (StreamHasher's MD5 helper) must not queue behind it. Linux
  // applies a nice value to the calling thread alone; failing to lower it changes nothing else.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kFollowerNice);
  std::vector<unsigned char> buf(kReadBytes);
  for (;;) {
    uint64_t target = 0;
    bool last = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || done_ || written_ > digested_; });
      if (stop_) return;
      target = written_;
      last = done_;
    }
    while (digested_ < target) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), target - digested_));
      const ssize_t got = ::pread(fd_, buf.data(), want, static_cast<off_t>(digested_));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        read_error_ = Status::Internal("cannot read back " + path_ + ": " +
                                       (got < 0 ? std::strerror(errno) : "unexpected end of file"));
        return;
      }
      Digest(buf.data(), static_cast<size_t>(got));
      // Between reads, a stop request (the client left) ends the work early.
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    if (last) return;
  }
}

Result<SideDigests> SideDigester::Finish() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
    if (!read_error_.ok()) return read_error_;
  }
  Result<std::string> ssdeep = fuzzy_.Finish();
  if (!ssdeep.ok()) return ssdeep.status();
  return SideDigests{std::move(ssdeep).value(), entropy_.Bits(), digested_};
}

}  // namespace sandgate::analysis
