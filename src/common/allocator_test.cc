#include "common/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace sandgate {
namespace {

// The replacement takes effect for the C library's malloc and for operator new alike: a link
// order that let glibc's malloc win would fail here, not pass unnoticed as slower requests.
TEST(Allocator, MallocAndNewComeFromTheConfiguredAllocator) {
  void* small = std::malloc(24);
  void* large = std::malloc(3 << 20);
  auto object = std::make_unique<std::string>(200, 'x');
  EXPECT_TRUE(AllocatedByConfiguredAllocator(small));
  EXPECT_TRUE(AllocatedByConfiguredAllocator(large));
  EXPECT_TRUE(AllocatedByConfiguredAllocator(object.get()));
  EXPECT_TRUE(AllocatedByConfiguredAllocator(object->data()));
  std::free(small);
  std::free(large);
#if defined(SANDGATE_MALLOC_TCMALLOC)
  // The check tells blocks apart: memory the allocator never handed out is not its.
  static char not_from_malloc[64];
  int on_the_stack = 0;
  EXPECT_FALSE(AllocatedByConfiguredAllocator(not_from_malloc));
  EXPECT_FALSE(AllocatedByConfiguredAllocator(&on_the_stack));
#endif
}

TEST(Allocator, DescriptionNamesTheBuildsAllocator) {
  const std::string d = AllocatorDescription();
#if defined(SANDGATE_MALLOC_TCMALLOC)
  EXPECT_EQ(d.rfind("tcmalloc ", 0), 0u) << d;
#else
  EXPECT_EQ(d.rfind("the C library's (glibc ", 0), 0u) << d;
#endif
}

}  // namespace
}  // namespace sandgate
