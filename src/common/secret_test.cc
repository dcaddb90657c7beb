#include "common/secret.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sandgate {
namespace {

TEST(SecretTest, WipeZeroesTheBytesAndEmptiesTheString) {
  std::string s = "sbx_a-secret-that-is-longer-than-the-small-string-buffer";
  const char* p = s.data();
  const size_t n = s.size();
  Wipe(s);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.data(), p);  // same buffer, now zeroed
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(p[i], '\0') << i;
}

TEST(SecretTest, WipeOnExitWipesAtScopeEnd) {
  std::string s = "password-password-password-password";
  const char* p = s.data();
  { WipeOnExit guard(s); }
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(p[0], '\0');
}

TEST(SecretTest, WipesJsonStrings) {
  boost::json::string j = "a json password value, long enough to be on the heap";
  Wipe(j);
  EXPECT_TRUE(j.empty());
}

}  // namespace
}  // namespace sandgate
