#include "auth/shared_throttle.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace sandgate::auth {
namespace {

class SharedThrottleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sandgate-shared-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<store::Store> Open() {
    auto r = store::OpenSqliteStore(dir_ + "/sandgate.db");
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::string dir_;
};

SharedThrottle::Policy Manual() {
  SharedThrottle::Policy p;
  p.free_failures = 20;
  p.exchange_ms = 0;  // the test exchanges
  return p;
}

// Two "nodes" (two handles on one store): failures counted on one hold on the other after an
// exchange, so the two together get the free failures once, not twice.
TEST_F(SharedThrottleTest, FailuresOnOneNodeCountOnTheOtherAfterAnExchange) {
  auto s1 = Open();
  auto s2 = Open();
  ASSERT_TRUE(s1 && s2);
  TimeMs now = 1'790'000'000'000;
  SharedThrottle a(*s1, "invalid-token", Manual(), [&] { return now; });
  SharedThrottle b(*s2, "invalid-token", Manual(), [&] { return now; });
  for (int i = 0; i < 15; ++i) EXPECT_FALSE(a.Attempt("10.0.0.1", now, true)) << i;
  ASSERT_TRUE(a.Exchange().ok());
  ASSERT_TRUE(b.Exchange().ok());
  int passed = 0;
  for (int i = 0; i < 20; ++i)
    if (!b.Attempt("10.0.0.1", now, true)) passed++;
  EXPECT_EQ(passed, 5) << "the cluster's 20 free failures, not 20 more";
  EXPECT_TRUE(b.Attempt("10.0.0.1", now, false)) << "a throttled address waits, even a success";
  EXPECT_FALSE(b.Attempt("10.0.0.2", now, true)) << "other addresses are not affected";
  // Node a learns of b's failures at its next exchange.
  ASSERT_TRUE(b.Exchange().ok());
  ASSERT_TRUE(a.Exchange().ok());
  auto wait = a.Attempt("10.0.0.1", now, true);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 1);  // 2^0 s after the latest failure
  // After the wait one attempt goes through, then the wait doubles; a window later it is over.
  now += 1000;
  EXPECT_FALSE(a.Attempt("10.0.0.1", now, true));
  EXPECT_EQ(a.Attempt("10.0.0.1", now, true), 2);
  now += 60'000;
  ASSERT_TRUE(a.Exchange().ok());
  EXPECT_FALSE(a.Attempt("10.0.0.1", now, true));
}

// Counts that could not be sent (store unavailable) are kept and sent with the next exchange.
TEST_F(SharedThrottleTest, CountsNotSentAreKeptForTheNextExchange) {
  auto s1 = Open();
  auto s2 = Open();
  ASSERT_TRUE(s1 && s2);
  TimeMs now = 1'790'000'000'000;
  SharedThrottle a(*s1, "invalid-token", Manual(), [&] { return now; });
  SharedThrottle b(*s2, "invalid-token", Manual(), [&] { return now; });
  for (int i = 0; i < 12; ++i) EXPECT_FALSE(a.Attempt("10.0.0.1", now, true));
  ASSERT_TRUE(a.Exchange().ok());
  for (int i = 0; i < 8; ++i) EXPECT_FALSE(a.Attempt("10.0.0.1", now, true));
  ASSERT_TRUE(a.Exchange().ok());
  ASSERT_TRUE(b.Exchange().ok());
  EXPECT_TRUE(b.Attempt("10.0.0.1", now, true)) << "12 + 8 failures: the 21st waits";
}

}  // namespace
}  // namespace sandgate::auth
