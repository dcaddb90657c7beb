#include "submission/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/fault.h"

namespace sandgate::submission {

namespace {

Status SpoolError(int err) {
  return Status(503, "SPOOL_FAILED", std::string("Cannot store the upload: ") + std::strerror(err));
}

class FdWriter final : public FileWriter {
 public:
  explicit FdWriter(int fd) : fd_(fd) {}
  ~FdWriter() override { Close().IgnoreError(); }
  Status Append(const char* data, size_t n) override {
    if (fd_ < 0) return SpoolError(EBADF);
    if (int err = fault::Errno(fault::At(fault::Site::kSpoolWrite)); err != 0)
      return SpoolError(err);
    while (n > 0) {
      ssize_t w = ::write(fd_, data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return SpoolError(errno);
      }
      data += w;
      n -= static_cast<size_t>(w);
    }
    return Status::Ok();
  }
  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int rc = ::close(fd_);
    fd_ = -1;
    return rc != 0 ? SpoolError(errno) : Status::Ok();
  }

 private:
  int fd_;
};

constexpr const char kPrefix[] = "upload-";
constexpr const char kMemPrefix[] = "/proc/self/fd/";

// The descriptor an in-memory spool path names, or -1.
int MemFd(const std::string& path) {
  if (path.compare(0, sizeof kMemPrefix - 1, kMemPrefix) != 0) return -1;
  const std::string rest = path.substr(sizeof kMemPrefix - 1);
  if (rest.empty() || rest.size() > 9 || rest.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoi(rest);
}

}  // namespace

std::unique_ptr<FileWriter> NewFdWriter(int fd) { return std::make_unique<FdWriter>(fd); }

int RemoveStaleSpoolFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, kPrefix, sizeof kPrefix - 1) != 0) continue;
    if (::unlinkat(::dirfd(d), e->d_name, 0) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

Result<SpoolFile> SpoolFile::Create(const std::string& dir) {
  std::string templ = dir + "/" + kPrefix + "XXXXXX";
  int fd = mkostemp(templ.data(), O_CLOEXEC);
  if (fd < 0)
    return Status(503, "SPOOL_FAILED",
                  std::string("Cannot create a spool file: ") + std::strerror(errno));
  return SpoolFile(NewFdWriter(fd), templ);
}

Result<SpoolFile> SpoolFile::CreateInMemory(size_t expected_size) {
  int fd = ::memfd_create("sandgate-upload", MFD_CLOEXEC);
  if (fd < 0)
    return Status(503, "SPOOL_FAILED",
                  std::string("Cannot create an in-memory spool file: ") + std::strerror(errno));
  // The writer gets its own descriptor (closed by Close); `fd` names the file until removed.
  int wfd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (wfd < 0) {
    const int err = errno;
    ::close(fd);
    return Status(503, "SPOOL_FAILED",
                  std::string("Cannot create an in-memory spool file: ") + std::strerror(err));
  }
  SpoolFile spool(NewFdWriter(wfd), kMemPrefix + std::to_string(fd));
  spool.content_.emplace().reserve(expected_size);
  return spool;
}

std::optional<std::string_view> SpoolFile::content() const {
  if (!content_) return std::nullopt;
  return std::string_view(*content_);
}

std::string SpoolFile::TakeContent() {
  std::string out = content_ ? std::move(*content_) : std::string();
  content_.reset();
  return out;
}

bool SpoolFile::in_memory() const { return MemFd(path_) >= 0; }

void RemoveSpooled(const std::string& path) {
  if (path.empty()) return;
  if (int fd = MemFd(path); fd >= 0) {
    ::close(fd);
    return;
  }
  ::unlink(path.c_str());
}

SpoolFile::SpoolFile(SpoolFile&& o) noexcept
    : writer_(std::move(o.writer_)), path_(std::move(o.path_)), content_(std::move(o.content_)) {
  o.path_.clear();
  o.content_.reset();
}

SpoolFile::~SpoolFile() {
  writer_.reset();  // closes the descriptor
  RemoveSpooled(path_);
}

Status SpoolFile::Write(const char* data, size_t n) {
  if (!writer_) return SpoolError(EBADF);
  if (Status st = writer_->Append(data, n); !st.ok()) return st;
  if (content_) content_->append(data, n);
  return Status::Ok();
}

Status SpoolFile::Close() { return writer_ ? writer_->Close() : Status::Ok(); }

std::string SpoolFile::Release() {
  Close().IgnoreError();
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
