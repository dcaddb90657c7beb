#include "http/deadlines.h"

#include <gtest/gtest.h>

namespace sandgate::http {
namespace {

using Tp = std::chrono::steady_clock::time_point;
using std::chrono::seconds;

TEST(BodyDeadline, DrippingIsCutOffAfterTheTimeout) {
  const Tp t0{};
  // 59 s in, 59 bytes received at a byte a second: the deadline is still t0 + 60 s, not 60 s from
  // now (a read does not re-arm the timer).
  EXPECT_EQ(BodyDeadline(t0, t0 + seconds(59), seconds(60), 59, 1024), t0 + seconds(60));
  EXPECT_LE(BodyDeadline(t0, t0 + seconds(61), seconds(60), 61, 1024), t0 + seconds(61));
}

TEST(BodyDeadline, UploadsAtTheMinimumRateNeverRunOut) {
  const Tp t0{};
  // 400 MiB at 1 MiB/s: 400 s in, 400 MiB received: allowed until now + 60 s.
  const uint64_t mib = 1024 * 1024;
  EXPECT_EQ(BodyDeadline(t0, t0 + seconds(400), seconds(60), 400 * mib, 1024), t0 + seconds(460));
  // A pause never lasts more than the timeout.
  EXPECT_EQ(BodyDeadline(t0, t0 + seconds(10), seconds(60), 100 * mib, 1024), t0 + seconds(70));
}

TEST(BodyDeadline, NoMinimumRateMeansPerPauseOnly) {
  const Tp t0{};
  EXPECT_EQ(BodyDeadline(t0, t0 + seconds(500), seconds(60), 0, 0), t0 + seconds(560));
}

}  // namespace
}  // namespace sandgate::http
