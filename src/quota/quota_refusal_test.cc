#include <gtest/gtest.h>

#include "quota/quota.h"

namespace sandgate::quota {
namespace {

QuotaManager Manager() {
  return QuotaManager([](domain::OrgId, int64_t) -> Result<std::pair<int64_t, int64_t>> {
    return std::pair<int64_t, int64_t>{0, 0};
  });
}

// Issue #14, finding 1: a burst refused by the rate must not disable the token.
TEST(QuotaManagerTest, RateRefusalsNeverCountTowardTheThreshold) {
  QuotaManager q = Manager();
  const Limits limits{100, 1, 400, 100};
  const TimeMs now = 1'000'000'000;
  Admission first = q.Reserve(1, limits, now);
  ASSERT_TRUE(first.status.ok());
  q.Commit(1, first.day);
  for (int i = 0; i < 500; ++i) {
    Admission a = q.Reserve(1, limits, now + 10);
    EXPECT_EQ(a.status.code(), "RATE_LIMITED");
    EXPECT_TRUE(a.rate_limited);
    EXPECT_FALSE(a.threshold_crossed);
    EXPECT_EQ(a.over_quota_today, 0);
  }
  EXPECT_EQ(q.RateLimitedToday(1, now), 500);
  EXPECT_EQ(q.RateLimitedToday(2, now), 0);
  EXPECT_EQ(q.RateLimitedToday(1, now + 24LL * 3600 * 1000), 0);  // a new day
}

TEST(QuotaManagerTest, QuotaRefusalsPastTheThresholdAreReportedOnce) {
  QuotaManager q = Manager();
  const Limits limits{1, 1000, 100000, 2};
  const TimeMs now = 2'000'000'000;
  Admission first = q.Reserve(7, limits, now);
  ASSERT_TRUE(first.status.ok());
  q.Commit(7, first.day);
  int crossed = 0;
  for (int i = 0; i < 5; ++i) {
    Admission a = q.Reserve(7, limits, now + 1000 * (i + 1));
    EXPECT_EQ(a.status.code(), "QUOTA_EXCEEDED");
    EXPECT_FALSE(a.rate_limited);
    crossed += a.threshold_crossed;
  }
  EXPECT_EQ(crossed, 1);
  EXPECT_EQ(q.RateLimitedToday(7, now), 0);
}

}  // namespace
}  // namespace sandgate::quota
