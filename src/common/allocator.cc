#include "common/allocator.h"

#include <gnu/libc-version.h>

#include <string>

#if defined(SANDGATE_MALLOC_TCMALLOC)
#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>
#endif

namespace sandgate {

std::string AllocatorDescription() {
#if defined(SANDGATE_MALLOC_TCMALLOC)
  int major = 0, minor = 0;
  const char* patch = nullptr;
  tc_version(&major, &minor, &patch);
  return "tcmalloc " + std::to_string(major) + "." + std::to_string(minor) + (patch ? patch : "");
#else
  return std::string("the C library's (glibc ") + gnu_get_libc_version() + ")";
#endif
}

bool AllocatedByConfiguredAllocator(const void* p) {
#if defined(SANDGATE_MALLOC_TCMALLOC)
  return MallocExtension_GetOwnership(p) == MallocExtension_kOwned;
#else
  return p != nullptr;
#endif
}

}  // namespace sandgate
