#include "auth/shared_throttle.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

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

// As the submission path does: a failure that needs a new slice waits for an exchange first.
std::optional<int64_t> Try(SharedThrottle& t, const std::string& key, TimeMs now, bool failed) {
  bool exchange_first = false;
  auto wait = t.Attempt(key, now, failed, &exchange_first);
  if (!exchange_first) return wait;
  EXPECT_TRUE(t.ExchangeSoon().ok());
  return t.Attempt(key, now, failed);
}

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
  EXPECT_FALSE(Try(a, "10.0.0.1", now, true));
  ASSERT_TRUE(a.Exchange().ok());
  int passed = 0;
  for (int i = 0; i < 25; ++i)
    if (!Try(b, "10.0.0.1", now, true)) passed++;
  EXPECT_EQ(passed, 19) << "the cluster's 20 free failures, not 20 more";
  EXPECT_TRUE(Try(b, "10.0.0.1", now, false)) << "a throttled address waits, even a success";
  EXPECT_FALSE(Try(b, "10.0.0.2", now, true)) << "other addresses are not affected";
  // Node a learns of b's failures at its next exchange.
  ASSERT_TRUE(a.Exchange().ok());
  auto wait = Try(a, "10.0.0.1", now, true);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 1);  // 2^0 s after the latest failure
  // After the wait one attempt goes through (the store gives one node a slice of 1), then the
  // wait doubles; a window later it is over.
  now += 1000;
  EXPECT_FALSE(Try(a, "10.0.0.1", now, true));
  EXPECT_EQ(Try(a, "10.0.0.1", now, true), 2);
  ASSERT_TRUE(b.Exchange().ok());
  EXPECT_EQ(Try(b, "10.0.0.1", now, true), 2) << "the wait holds on every node";
  now += 60'000;
  ASSERT_TRUE(a.Exchange().ok());
  EXPECT_FALSE(Try(a, "10.0.0.1", now, true));
}

// The documented bound: slices never exceed the room (a slice one node holds is not given to
// another, used or not); beyond them each node lets at most one failure per window through on
// credit.
TEST_F(SharedThrottleTest, BeyondTheSlicesEachNodeHasOneFailureOnCredit) {
  auto s1 = Open();
  auto s2 = Open();
  ASSERT_TRUE(s1 && s2);
  TimeMs now = 1'790'000'000'000;
  SharedThrottle a(*s1, "invalid-token", Manual(), [&] { return now; });
  SharedThrottle b(*s2, "invalid-token", Manual(), [&] { return now; });
  EXPECT_FALSE(Try(a, "10.0.0.1", now, true));  // on credit
  EXPECT_FALSE(Try(a, "10.0.0.1", now, true));  // takes the slice: all the room (one node live)
  // b has not heard of it yet: its first failure goes through on credit.
  EXPECT_FALSE(Try(b, "10.0.0.1", now, true)) << "b's credit";
  EXPECT_TRUE(Try(b, "10.0.0.1", now, true)) << "no room left for b: a holds it";
  for (int i = 0; i < 18; ++i) EXPECT_FALSE(Try(a, "10.0.0.1", now, true)) << i;
  EXPECT_TRUE(Try(a, "10.0.0.1", now, true)) << "1 + 19 + 1 = free + one credit per node";
}

// Requests on many threads while the exchange thread runs (TSan runs this one: `make test-tsan`):
// across two nodes, no more failures pass than the free ones plus one credit per node.
TEST_F(SharedThrottleTest, ConcurrentAttemptsAndExchangesStayWithinTheBound) {
  auto s1 = Open();
  auto s2 = Open();
  ASSERT_TRUE(s1 && s2);
  SharedThrottle::Policy p;
  p.free_failures = 20;
  p.exchange_ms = 5;
  const TimeMs now = 1'790'000'000'000;
  SharedThrottle a(*s1, "invalid-token", p, [&] { return now; });
  SharedThrottle b(*s2, "invalid-token", p, [&] { return now; });
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      SharedThrottle& node = t % 2 ? a : b;
      for (int i = 0; i < 30; ++i)
        if (!Try(node, "10.0.0.1", now, true)) passed++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(passed.load(), 20);
  EXPECT_LE(passed.load(), 22);
}

}  // namespace
}  // namespace sandgate::auth
