// QuotaManager: the daily allowance at its boundary (issue 21). Rate limits are set high here so
// that only the allowance decides; the over-quota/disable-threshold rules are left to their own
// tests.
#include "quota/quota.h"

#include <gtest/gtest.h>

#include <map>
#include <utility>

namespace sandgate::quota {
namespace {

constexpr TimeMs kDayMs = 24LL * 3600 * 1000;
constexpr TimeMs kNoon = 20000 * kDayMs + 12 * 3600 * 1000;  // a UTC day's noon

Limits Allowance(int64_t n) {
  Limits l;
  l.daily_allowance = n;
  l.rate_per_second = 1000000;
  l.rate_per_hour = 1000000;
  l.disable_threshold = 1000000;
  return l;
}

// A store stand-in: (org, day) -> used already recorded.
struct Usage {
  std::map<std::pair<domain::OrgId, int64_t>, int64_t> used;
  QuotaManager::UsageLoader loader() {
    return [this](domain::OrgId org, int64_t day) -> Result<std::pair<int64_t, int64_t>> {
      auto it = used.find({org, day});
      return std::make_pair(it == used.end() ? int64_t{0} : it->second, int64_t{0});
    };
  }
};

TEST(Quota, UtcDayBoundaries) {
  EXPECT_EQ(UtcDay(0), 0);
  EXPECT_EQ(UtcDay(kDayMs - 1), 0);
  EXPECT_EQ(UtcDay(kDayMs), 1);
  EXPECT_EQ(UtcDay(-1), -1);
  EXPECT_EQ(UtcDay(-kDayMs), -1);
  EXPECT_EQ(UtcDay(-kDayMs - 1), -2);
}

TEST(Quota, AdmitsExactlyTheAllowanceWithRemainingCountingDown) {
  Usage u;
  QuotaManager q(u.loader());
  const Limits l = Allowance(3);
  for (int64_t i = 0; i < 3; ++i) {
    Admission a = q.Reserve(1, l, kNoon + i);
    ASSERT_TRUE(a.status.ok()) << i;
    EXPECT_EQ(a.limit, 3);
    EXPECT_EQ(a.remaining, 2 - i);
    EXPECT_EQ(a.day, UtcDay(kNoon));
    q.Commit(1, a.day);
  }
  Admission over = q.Reserve(1, l, kNoon + 10);
  EXPECT_EQ(over.status.http_status(), 429);
  EXPECT_EQ(over.status.code(), "QUOTA_EXCEEDED");
  EXPECT_EQ(over.limit, 3);
  EXPECT_EQ(over.remaining, 0);
  EXPECT_EQ(over.reset_seconds, 12 * 3600);  // until the next UTC midnight, rounded up
  EXPECT_EQ(over.retry_after, over.reset_seconds);
  EXPECT_EQ(*q.UsedToday(1, kNoon), 3);
  // Other organizations have their own allowance.
  EXPECT_TRUE(q.Reserve(2, l, kNoon).status.ok());
}

TEST(Quota, ReservationsInFlightCountAndAReleaseGivesThePlaceBack) {
  Usage u;
  QuotaManager q(u.loader());
  const Limits l = Allowance(2);
  Admission a = q.Reserve(1, l, kNoon);
  Admission b = q.Reserve(1, l, kNoon);
  ASSERT_TRUE(a.status.ok());
  ASSERT_TRUE(b.status.ok());
  EXPECT_EQ(b.remaining, 0);
  EXPECT_EQ(q.Reserve(1, l, kNoon).status.code(), "QUOTA_EXCEEDED");  // both in flight
  q.Release(1, a.day);
  Admission c = q.Reserve(1, l, kNoon);
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(c.remaining, 0);
  q.Commit(1, b.day);
  q.Commit(1, c.day);
  EXPECT_EQ(*q.UsedToday(1, kNoon), 2);
  // A release without a reservation (a double release) does not create room.
  q.Release(1, a.day);
  EXPECT_EQ(q.Reserve(1, l, kNoon).status.code(), "QUOTA_EXCEEDED");
}

TEST(Quota, UsageRecordedInTheStoreCountsAgainstTheAllowance) {
  Usage u;
  const int64_t day = UtcDay(kNoon);
  u.used[{1, day}] = 4;
  QuotaManager q(u.loader());
  Admission a = q.Reserve(1, Allowance(5), kNoon);
  ASSERT_TRUE(a.status.ok());
  EXPECT_EQ(a.remaining, 0);
  EXPECT_EQ(q.Reserve(1, Allowance(5), kNoon).status.code(), "QUOTA_EXCEEDED");
  // An allowance lowered below what was used: refused, never a negative remainder.
  Usage u2;
  u2.used[{1, day}] = 7;
  QuotaManager q2(u2.loader());
  Admission r = q2.Reserve(1, Allowance(5), kNoon);
  EXPECT_EQ(r.status.code(), "QUOTA_EXCEEDED");
  EXPECT_EQ(r.remaining, 0);
  // An allowance of zero admits nothing.
  Usage u3;
  QuotaManager q3(u3.loader());
  EXPECT_EQ(q3.Reserve(1, Allowance(0), kNoon).status.code(), "QUOTA_EXCEEDED");
}

TEST(Quota, TheAllowanceRenewsAtUtcMidnightExactly) {
  Usage u;
  QuotaManager q(u.loader());
  const Limits l = Allowance(1);
  const TimeMs last_ms = (UtcDay(kNoon) + 1) * kDayMs - 1;  // 23:59:59.999
  Admission a = q.Reserve(1, l, kNoon);
  ASSERT_TRUE(a.status.ok());
  q.Commit(1, a.day);
  Admission late = q.Reserve(1, l, last_ms);
  EXPECT_EQ(late.status.code(), "QUOTA_EXCEEDED");
  EXPECT_EQ(late.reset_seconds, 1);  // 1 ms to midnight rounds up to a second
  Admission next = q.Reserve(1, l, last_ms + 1);
  ASSERT_TRUE(next.status.ok());
  EXPECT_EQ(next.day, a.day + 1);
  EXPECT_EQ(next.remaining, 0);
  EXPECT_EQ(next.reset_seconds, 24 * 3600);
  // A reservation of the old day committed or released after midnight does not touch the new
  // day's count.
  q.Release(1, a.day);
  EXPECT_EQ(q.Reserve(1, l, last_ms + 2).status.code(), "QUOTA_EXCEEDED");
  q.Commit(1, next.day);
  EXPECT_EQ(*q.UsedToday(1, last_ms + 3), 1);
}

}  // namespace
}  // namespace sandgate::quota
