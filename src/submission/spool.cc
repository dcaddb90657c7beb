#include "submission/spool.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sandgate::submission {

Result<SpoolFile> SpoolFile::Create(const std::string& dir) {
  std::string templ = dir + "/upload-XXXXXX";
  int fd = mkostemp(templ.data(), O_CLOEXEC);
  if (fd < 0)
    return Status(503, "SPOOL_FAILED",
                  std::string("Cannot create a spool file: ") + std::strerror(errno));
  return SpoolFile(fd, templ);
}

SpoolFile::SpoolFile(SpoolFile&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) {
  o.fd_ = -1;
  o.path_.clear();
}

SpoolFile::~SpoolFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

Status SpoolFile::Write(const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd_, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status(503, "SPOOL_FAILED",
                    std::string("Cannot store the upload: ") + std::strerror(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status SpoolFile::Close() {
  if (fd_ < 0) return Status::Ok();
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0)
    return Status(503, "SPOOL_FAILED",
                  std::string("Cannot store the upload: ") + std::strerror(errno));
  return Status::Ok();
}

std::string SpoolFile::Release() {
  Close();
  std::string p = std::move(path_);
  path_.clear();
  return p;
}

GzipInflater::GzipInflater() {
  auto* z = new z_stream{};
  inflateInit2(z, 16 + MAX_WBITS);
  z_ = z;
}

GzipInflater::~GzipInflater() {
  auto* z = static_cast<z_stream*>(z_);
  inflateEnd(z);
  delete z;
}

Status GzipInflater::Step(const char* data, size_t n, char* out, size_t out_size, size_t* consumed,
                          size_t* produced) {
  auto* z = static_cast<z_stream*>(z_);
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z->avail_in = static_cast<uInt>(n);
  z->next_out = reinterpret_cast<Bytef*>(out);
  z->avail_out = static_cast<uInt>(out_size);
  int rc = inflate(z, Z_NO_FLUSH);
  *consumed = n - z->avail_in;
  *produced = out_size - z->avail_out;
  if (rc == Z_STREAM_END) {
    finished_ = true;
    return Status::Ok();
  }
  if (rc == Z_OK || rc == Z_BUF_ERROR) return Status::Ok();
  return Status::Invalid("BAD_ENCODING", "The gzip-encoded body is corrupt.");
}

}  // namespace sandgate::submission
