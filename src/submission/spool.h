// SpoolFile: a private temporary file in the spool directory that receives an upload. Removed when
// the SpoolFile is destroyed unless ownership was handed on with Release() (the static-analysis job
// then removes it). Not thread-safe; movable.
#pragma once

#include <string>

#include "common/status.h"

namespace sandgate::submission {

class SpoolFile {
 public:
  static Result<SpoolFile> Create(const std::string& dir);
  SpoolFile(SpoolFile&& o) noexcept;
  SpoolFile& operator=(SpoolFile&&) = delete;
  ~SpoolFile();

  Status Write(const char* data, size_t n);  // 503 SPOOL_FAILED on I/O error or a full disk
  Status Close();                            // flushes and closes the descriptor
  const std::string& path() const { return path_; }
  // The caller now owns the file on disk (and must remove it).
  std::string Release();

 private:
  SpoolFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// Inflates a gzip stream incrementally (Content-Encoding: gzip). Not thread-safe.
class GzipInflater {
 public:
  GzipInflater();
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;
  // Feeds compressed bytes; `sink(data, n)` receives the inflated bytes. 400 BAD_ENCODING on a
  // corrupt stream; the sink's error is passed through.
  template <typename Sink>
  Status Feed(const char* data, size_t n, Sink&& sink);
  bool finished() const { return finished_; }

 private:
  Status Step(const char* data, size_t n, char* out, size_t out_size, size_t* consumed,
              size_t* produced);
  void* z_;  // z_stream
  bool finished_ = false;
};

template <typename Sink>
Status GzipInflater::Feed(const char* data, size_t n, Sink&& sink) {
  char out[64 * 1024];
  while (n > 0 && !finished_) {
    size_t consumed = 0, produced = 0;
    if (Status st = Step(data, n, out, sizeof out, &consumed, &produced); !st.ok()) return st;
    if (produced > 0) {
      if (Status st = sink(out, produced); !st.ok()) return st;
    }
    data += consumed;
    n -= consumed;
    if (consumed == 0 && produced == 0) break;
  }
  // Drain output still held by zlib.
  while (!finished_) {
    size_t consumed = 0, produced = 0;
    if (Status st = Step(data, 0, out, sizeof out, &consumed, &produced); !st.ok()) return st;
    if (produced == 0) break;
    if (Status st = sink(out, produced); !st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace sandgate::submission
