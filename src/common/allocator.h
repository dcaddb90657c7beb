// The memory allocator this build uses for every malloc and operator new in the process (CMake's
// SANDGATE_MALLOC: "tcmalloc", gperftools' tcmalloc_minimal from Debian, by default; "system" for
// the C library's). Sanitizer and fuzzing builds always use the C library's: the sanitizers
// replace it themselves. Thread-safe.
#pragma once

#include <string>

namespace sandgate {

// "tcmalloc 2.10" or "the C library's (glibc 2.36)", for the start-up log.
std::string AllocatorDescription();

// Whether the block `p`, obtained from malloc, came from the configured allocator: false means the
// replacement did not take effect (e.g. the link order let the C library's malloc win). Always true
// for the C library's allocator.
bool AllocatedByConfiguredAllocator(const void* p);

}  // namespace sandgate
