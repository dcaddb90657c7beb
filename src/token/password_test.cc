#include "token/password.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace sandgate::token {
namespace {

TEST(Password, HashVerifies) {
  const std::string h = HashPassword("correct horse battery staple");
  ASSERT_FALSE(h.empty());
  EXPECT_TRUE(h.starts_with("$argon2id$")) << h;
  EXPECT_EQ(h.find("correct"), std::string::npos);
  EXPECT_TRUE(VerifyPassword(h, "correct horse battery staple"));
  EXPECT_FALSE(VerifyPassword(h, "correct horse battery stapl"));
  EXPECT_FALSE(VerifyPassword(h, "Correct horse battery staple"));
  EXPECT_FALSE(VerifyPassword(h, ""));
  // Salted: the same password hashes differently, and both verify.
  const std::string h2 = HashPassword("correct horse battery staple");
  EXPECT_NE(h, h2);
  EXPECT_TRUE(VerifyPassword(h2, "correct horse battery staple"));
}

TEST(Password, BinaryPasswordsAreHashedWhole) {
  const std::string pw("abc\0def-ghijkl", 14);
  const std::string h = HashPassword(pw);
  EXPECT_TRUE(VerifyPassword(h, pw));
  EXPECT_FALSE(VerifyPassword(h, "abc"));  // no truncation at the NUL byte
}

TEST(Password, MalformedHashNeverVerifies) {
  EXPECT_FALSE(VerifyPassword("", ""));
  EXPECT_FALSE(VerifyPassword("", "anything"));
  EXPECT_FALSE(VerifyPassword("not a hash", "not a hash"));
  EXPECT_FALSE(VerifyPassword("$argon2id$v=19$m=65536,t=2,p=1$", "x"));
  EXPECT_FALSE(VerifyPassword(std::string(1000, 'a'), "x"));
  EXPECT_FALSE(VerifyPassword(std::string("$argon2id\0", 10), "x"));
}

TEST(Password, RandomPasswordIsUnambiguousAndAcceptable) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string p = RandomPassword();
    ASSERT_EQ(p.size(), 20u);
    EXPECT_EQ(p.find_first_of("0O1lIio"), std::string::npos) << p;
    for (char c : p) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << p;
    EXPECT_TRUE(PasswordAcceptable(p, nullptr));
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(Password, Policy) {
  std::string why;
  EXPECT_FALSE(PasswordAcceptable("", &why));
  EXPECT_FALSE(why.empty());
  why.clear();
  EXPECT_FALSE(PasswordAcceptable("elevenchars", &why));
  EXPECT_NE(why.find("12"), std::string::npos);
  EXPECT_EQ(why.find("elevenchars"), std::string::npos);
  EXPECT_TRUE(PasswordAcceptable("twelve chars", &why));
  EXPECT_TRUE(PasswordAcceptable(std::string(256, 'x'), &why));
  why.clear();
  EXPECT_FALSE(PasswordAcceptable(std::string(257, 'x'), &why));
  EXPECT_NE(why.find("256"), std::string::npos);
  EXPECT_FALSE(PasswordAcceptable("short", nullptr));  // why is optional
}

}  // namespace
}  // namespace sandgate::token
