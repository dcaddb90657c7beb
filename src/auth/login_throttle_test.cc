#include "auth/login_throttle.h"

#include <gtest/gtest.h>

namespace sandgate::auth {
namespace {

TEST(LoginThrottle, FreeFailuresThenExponentialDelay) {
  LoginThrottle t;
  TimeMs now = 1'000'000;
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(t.RetryAfter("bob", "10.0.0.1", now));
    t.RecordFailure("bob", "10.0.0.1", now);
  }
  EXPECT_EQ(t.RetryAfter("bob", "10.0.0.9", now), 1);    // 2^0 s, by username
  EXPECT_EQ(t.RetryAfter("BOB", "10.0.0.9", now), 1);    // case does not matter
  EXPECT_FALSE(t.RetryAfter("alice", "10.0.0.1", now));  // the address has 20 free failures
  now += 1000;
  EXPECT_FALSE(t.RetryAfter("bob", "10.0.0.1", now));
  t.RecordFailure("bob", "10.0.0.1", now);
  EXPECT_EQ(t.RetryAfter("bob", "10.0.0.1", now), 2);
  t.RecordSuccess("Bob");
  EXPECT_FALSE(t.RetryAfter("bob", "10.0.0.1", now));
}

TEST(LoginThrottle, AddressLimitSpansUsernames) {
  LoginThrottle t;
  TimeMs now = 5'000'000;
  for (int i = 0; i < 20; ++i) t.RecordFailure("user" + std::to_string(i), "192.0.2.7", now);
  EXPECT_TRUE(t.RetryAfter("fresh-user", "192.0.2.7", now).has_value());
  EXPECT_FALSE(t.RetryAfter("fresh-user", "192.0.2.8", now).has_value());
}

TEST(LoginThrottle, WindowForgetsOldFailuresAndDelayIsCapped) {
  LoginThrottle t;
  TimeMs now = 0;
  for (int i = 0; i < 60; ++i) t.RecordFailure("eve", "a", now);
  auto wait = t.RetryAfter("eve", "b", now);
  ASSERT_TRUE(wait);
  EXPECT_LE(*wait, 15 * 60);
  now += 15 * 60 * 1000;
  EXPECT_FALSE(t.RetryAfter("eve", "b", now));
}

}  // namespace
}  // namespace sandgate::auth
