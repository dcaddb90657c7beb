#include "analysis/members.h"

#include <clamav.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace sandgate::analysis {
namespace {

struct Walk {
  const MemberVisitor* visit = nullptr;
  size_t members = 0;
};

cl_error_t Inspect(int /*fd*/, const char* /*type*/, const char** ancestors,
                   size_t /*parent_file_size*/, const char* file_name, size_t file_size,
                   const char* file_buffer, uint32_t recursion_level, uint32_t /*attributes*/,
                   void* context) {
  auto* walk = static_cast<Walk*>(context);
  if (walk == nullptr || walk->visit == nullptr || recursion_level == 0) return CL_CLEAN;
  // ancestors[0] is the upload itself (its spool path): the member path starts below it.
  std::string path;
  for (uint32_t i = 1; i < recursion_level; ++i) {
    path += ancestors != nullptr && ancestors[i] != nullptr ? ancestors[i] : "?";
    path += '/';
  }
  path += file_name != nullptr ? file_name : "?";
  ++walk->members;
  static const uint8_t kEmpty = 0;
  const auto* data =
      file_buffer != nullptr ? reinterpret_cast<const uint8_t*>(file_buffer) : &kEmpty;
  (*walk->visit)(path, data, file_buffer != nullptr ? file_size : 0);
  return CL_CLEAN;
}

}  // namespace

void InstallMemberInspection(cl_engine* engine) {
  cl_engine_set_clcb_file_inspection(engine, Inspect);
}

Status VisitMembers(const cl_engine* engine, const std::string& path, const MemberVisitor& visit,
                    size_t* members) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Internal("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
    ::close(fd);
    return Status::Ok();
  }
  auto pread_cb = [](void* handle, void* buf, size_t count, off_t offset) -> off_t {
    return ::pread(static_cast<int>(reinterpret_cast<intptr_t>(handle)), buf, count, offset);
  };
  cl_fmap_t* map = cl_fmap_open_handle(reinterpret_cast<void*>(static_cast<intptr_t>(fd)), 0,
                                       static_cast<size_t>(st.st_size), pread_cb, 1);
  if (map == nullptr) {
    ::close(fd);
    return Status::Internal("ClamAV cannot map " + path);
  }
  struct cl_scan_options options = {};
  options.general = CL_SCAN_GENERAL_ALLMATCHES;
  options.parse = ~0u;
  options.heuristic = 0;
  Walk walk;
  walk.visit = &visit;
  const char* virname = nullptr;
  unsigned long scanned = 0;
  // The verdict of this walk is not used (Quick reports the AV result); errors on malformed
  // input just end the walk.
  cl_scanmap_callback(map, path.c_str(), &virname, &scanned, const_cast<cl_engine*>(engine),
                      &options, &walk);
  cl_fmap_close(map);
  ::close(fd);
  *members = walk.members;
  return Status::Ok();
}

bool LooksLikeArchive(const uint8_t* data, size_t size) {
  auto starts = [&](std::string_view magic) {
    return size >= magic.size() && std::memcmp(data, magic.data(), magic.size()) == 0;
  };
  static constexpr std::string_view kMagics[] = {
      "PK\x03\x04",
      "\x1f\x8b",
      "BZh",
      "\xfd"
      "7zXZ",
      "7z\xbc\xaf\x27\x1c",
      "Rar!",
      "MSCF",
      "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
  };
  for (std::string_view m : kMagics) {
    if (starts(m)) return true;
  }
  // tar: "ustar" at offset 257.
  return size >= 262 && std::memcmp(data + 257, "ustar", 5) == 0;
}

}  // namespace sandgate::analysis
