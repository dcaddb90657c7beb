// SpoolFile: a private temporary file in the spool directory that receives an upload. Removed when
// the SpoolFile is destroyed unless ownership was handed on with Release() (the static-analysis job
// then removes it). Not thread-safe; movable.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sandgate::submission {

// FileWriter: how an upload's bytes reach the disk — the spool's seam (LevelDB's WritableFile).
// Errors are 503 SPOOL_FAILED with the system's reason (an I/O error, a full disk).
class FileWriter {
 public:
  virtual ~FileWriter() = default;
  virtual Status Append(const char* data, size_t n) = 0;
  virtual Status Close() = 0;  // idempotent; also done on destruction
};

// A FileWriter over `fd` (owned). Each Append first asks the fault-injection seam
// (fault::Site::kSpoolWrite, common/fault.h) and fails as write(2) would when a fault is armed.
std::unique_ptr<FileWriter> NewFdWriter(int fd);

// Removes spool files (upload-*) left in `dir` by a process that died mid-upload. Call at start,
// before any upload is received (one `serve` per data directory, as the token index assumes).
// Returns how many were removed.
int RemoveStaleSpoolFiles(const std::string& dir);

// Removes an upload by the path SpoolFile::Release returned: unlinks a spool file, closes an
// in-memory one (its path names the descriptor).
void RemoveSpooled(const std::string& path);

class SpoolFile {
 public:
  static Result<SpoolFile> Create(const std::string& dir);
  // A small body kept in memory (issue 19, target 3): an anonymous memfd, never on the file
  // system. Its path is /proc/self/fd/N, which every path-based reader of this process (the
  // engine: hashes, libmagic, ssdeep, ClamAV, YARA) opens like a file; the descriptor stays open
  // until the SpoolFile (or whoever took it with Release) removes it (RemoveSpooled). The bytes
  // written are also kept in memory (content()), for readers that take a buffer (the engine's AV
  // scan and rules); `expected_size` reserves room for them.
  static Result<SpoolFile> CreateInMemory(size_t expected_size = 0);
  bool in_memory() const;
  // An in-memory spool's bytes written so far; nullopt for a spool file or once taken.
  std::optional<std::string_view> content() const;
  // Moves those bytes out (empty for a spool file).
  std::string TakeContent();
  SpoolFile(SpoolFile&& o) noexcept;
  SpoolFile& operator=(SpoolFile&&) = delete;
  ~SpoolFile();

  Status Write(const char* data, size_t n);  // 503 SPOOL_FAILED on I/O error or a full disk
  Status Close();                            // flushes and closes the descriptor
  const std::string& path() const { return path_; }
  // The caller now owns the file on disk (and must remove it).
  std::string Release();

 private:
  SpoolFile(std::unique_ptr<FileWriter> w, std::string path)
      : writer_(std::move(w)), path_(std::move(path)) {}
  std::unique_ptr<FileWriter> writer_;
  std::string path_;
  std::optional<std::string> content_;  // in memory only: a copy of what was written
};

// Inflates a gzip stream incrementally (Content-Encoding: gzip). Not thread-safe.
class GzipInflater {
 public:
  GzipInflater();
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;
  // Feeds compressed bytes; `sink(data, n)` receives the inflated bytes. 400 BAD_ENCODING on a
  // corrupt stream or on any byte after the end of the gzip stream (trailing data, a second
  // member); the sink's error is passed through. After the last byte, `finished()` must be true:
  // otherwise the stream was cut short (the caller answers 400).
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
  if (finished_ && n > 0)
    return Status::Invalid("BAD_ENCODING", "The body has data after the end of its gzip stream.");
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
