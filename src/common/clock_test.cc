#include "common/clock.h"

#include <gtest/gtest.h>

#include <ctime>
#include <random>

namespace sandgate {
namespace {

// What FormatIso8601 wrote before it formatted by hand: gmtime_r and strftime.
std::string ViaStrftime(TimeMs t) {
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  if (t < 0 && t % 1000 != 0) secs -= 1;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TEST(FormatIso8601Test, KnownInstants) {
  EXPECT_EQ(FormatIso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso8601(999), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso8601(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatIso8601(951782400000), "2000-02-29T00:00:00Z");  // a leap day of a /400 year
  EXPECT_EQ(FormatIso8601(1796255999000), "2026-12-02T23:59:59Z");
  EXPECT_EQ(FormatIso8601(253402300799000), "9999-12-31T23:59:59Z");
}

TEST(FormatIso8601Test, MatchesStrftimeEverywhere) {
  // Day boundaries, leap years, negative times and the edges of four-digit years.
  const TimeMs edges[] = {-62167219200000, -62167219200001, 253402300800000, -86400000,
                          -86400001,       -1000,           -1001,           4107542400000,
                          4107542399999,   951868800000,    951868799999,    13574563200000};
  for (TimeMs t : edges) EXPECT_EQ(FormatIso8601(t), ViaStrftime(t)) << t;
  std::mt19937_64 rng(13);
  std::uniform_int_distribution<TimeMs> any(-62167219200000 * 2, 253402300800000 * 2);
  for (int i = 0; i < 200000; ++i) {
    const TimeMs t = any(rng);
    ASSERT_EQ(FormatIso8601(t), ViaStrftime(t)) << t;
  }
}

}  // namespace
}  // namespace sandgate
