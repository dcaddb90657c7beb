#include "auth/login_throttle.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/fault.h"

namespace sandgate::auth {
namespace {

TEST(LoginThrottle, FreeFailuresThenExponentialDelay) {
  LoginThrottle t;
  TimeMs now = 1'000'000;
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(t.RetryAfter("bob", "10.0.0.1", now));
    t.RecordFailure("bob", "10.0.0.1", now);
  }
  EXPECT_EQ(t.RetryAfter("bob", "10.0.0.1", now), 1);    // 2^0 s, for this pair
  EXPECT_EQ(t.RetryAfter("BOB", "10.0.0.1", now), 1);    // case does not matter
  EXPECT_FALSE(t.RetryAfter("bob", "10.0.0.9", now));    // another address is not locked out
  EXPECT_FALSE(t.RetryAfter("alice", "10.0.0.1", now));  // the address has 20 free failures
  now += 1000;
  EXPECT_FALSE(t.RetryAfter("bob", "10.0.0.1", now));
  t.RecordFailure("bob", "10.0.0.1", now);
  EXPECT_EQ(t.RetryAfter("bob", "10.0.0.1", now), 2);
  t.RecordSuccess("Bob", "10.0.0.1");
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
  auto wait = t.RetryAfter("eve", "a", now);
  ASSERT_TRUE(wait);
  EXPECT_LE(*wait, 15 * 60);
  now += 15 * 60 * 1000;
  EXPECT_FALSE(t.RetryAfter("eve", "a", now));
}

TEST(LoginThrottle, BeginCountsAtOnceSoConcurrentAttemptsCannotSlipThrough) {
  LoginThrottle t;
  TimeMs now = 7'000'000;
  // Five attempts begin before any of them finishes (five connections at once): all go ahead, the
  // sixth does not, and neither does a different letter case of the same name.
  LoginThrottle::Limit which = LoginThrottle::Limit::kAddress;
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(t.Begin("carol", "10.0.0.5", now));
  EXPECT_TRUE(t.Begin("carol", "10.0.0.5", now, &which).has_value());
  EXPECT_EQ(which, LoginThrottle::Limit::kPair);
  EXPECT_TRUE(t.Begin("CAROL", "10.0.0.5", now).has_value());
  EXPECT_TRUE(t.Begin("Carol", "10.0.0.5", now).has_value());
  // The same user from an address without failures goes ahead.
  EXPECT_FALSE(t.Begin("carol", "10.0.0.6", now));
}

TEST(LoginThrottle, SucceededTakesBackTheAddressCount) {
  LoginThrottle t;
  TimeMs now = 9'000'000;
  for (int i = 0; i < 19; ++i) t.RecordFailure("user" + std::to_string(i), "10.1.1.1", now);
  EXPECT_FALSE(t.Begin("dave", "10.1.1.1", now));  // the 20th attempt from the address
  t.Succeeded("dave", "10.1.1.1");                 // it was right: 19 failures again
  EXPECT_FALSE(t.Begin("erin", "10.1.1.1", now));  // 20 now
  LoginThrottle::Limit which = LoginThrottle::Limit::kPair;
  EXPECT_TRUE(t.Begin("frank", "10.1.1.1", now, &which).has_value());
  EXPECT_EQ(which, LoginThrottle::Limit::kAddress);
}

TEST(LoginThrottle, AttemptRecordsOnlyFailuresAndRefusesWhileWaiting) {
  LoginThrottle t({1 << 30, 3, 60'000, 300'000});
  TimeMs now = 11'000'000;
  EXPECT_FALSE(t.Attempt("", "10.2.2.2", now, false));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(t.Attempt("", "10.2.2.2", now, true));
  EXPECT_EQ(t.Attempt("", "10.2.2.2", now, false), 1);  // even a good attempt waits
  EXPECT_FALSE(t.Attempt("", "10.2.2.3", now, true));   // another address is not affected
}

TEST(LoginThrottle, OneFailurePerWaitCannotLockAUserOutFromElsewhere) {
  // Issue #14, finding 5: an attacker fails once per wait period for days; the user's own
  // address never waits.
  LoginThrottle t;
  TimeMs now = 20'000'000;
  for (int i = 0; i < 40; ++i) {
    auto wait = t.Begin("victim", "203.0.113.66", now);
    now += (wait ? *wait : 0) * 1000 + 1;
    EXPECT_FALSE(t.Begin("victim", "198.51.100.7", now));
    t.Succeeded("victim", "198.51.100.7");
  }
}

// A FailureCounts that counts its calls: the throttle asks only through the interface.
class CountingCounts : public LocalFailureCounts {
 public:
  int adds = 0;
  void AddFailure(const std::string& key, TimeMs now, TimeMs window) override {
    adds++;
    LocalFailureCounts::AddFailure(key, now, window);
  }
};

TEST(LoginThrottle, CountsComeFromTheGivenFailureCounts) {
  auto counts = std::make_unique<CountingCounts>();
  CountingCounts* c = counts.get();
  LoginThrottle t(LoginThrottle::Policy{}, std::move(counts));
  t.RecordFailure("x", "10.9.9.9", 1000);
  EXPECT_EQ(c->adds, 2);  // the pair and the address
}

// Without pairs (the Submission API's invalid tokens): one count per failure, the address limit
// alone refuses, and a success forgives nothing that was not counted.
TEST(LoginThrottle, WithoutPairsOnlyTheAddressIsCounted) {
  auto counts = std::make_unique<CountingCounts>();
  CountingCounts* c = counts.get();
  LoginThrottle::Policy p;
  p.free_failures_per_pair = 1;  // would refuse the second failure if pairs were counted
  p.free_failures_per_address = 3;
  p.per_pair = false;
  LoginThrottle t(p, std::move(counts));
  for (TimeMs now = 1000; now < 1003; ++now)
    EXPECT_EQ(t.Attempt("", "10.1.1.1", now, true), std::nullopt);
  EXPECT_EQ(c->adds, 3);
  LoginThrottle::Limit which = LoginThrottle::Limit::kPair;
  EXPECT_TRUE(t.Attempt("", "10.1.1.1", 1003, true, &which).has_value());
  EXPECT_EQ(which, LoginThrottle::Limit::kAddress);
  EXPECT_EQ(t.Attempt("", "10.1.1.2", 1003, true), std::nullopt);  // another address
}

// Several nodes (ShareThrough): two throttles on two handles of one store stand for two nodes.
class SharedLoginThrottleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sandgate-login-XXXXXX").string();
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

// Guesses for one user from one address alternating between two nodes meet one throttle: the 5
// free failures once (plus at most one on credit per node), not 5 per node.
TEST_F(SharedLoginThrottleTest, GuessesSpreadOverNodesMeetOneThrottle) {
  auto s1 = Open();
  auto s2 = Open();
  ASSERT_TRUE(s1 && s2);
  TimeMs now = 1'790'000'000'000;
  LoginThrottle a, b;
  a.ShareThrough(
      *s1, [&] { return now; }, 0);
  b.ShareThrough(
      *s2, [&] { return now; }, 0);
  int passed = 0;
  for (int i = 0; i < 40; ++i) {
    LoginThrottle& t = i % 2 ? b : a;
    if (!t.Begin("bob", "10.0.0.1", now)) passed++;
  }
  EXPECT_GE(passed, 5);
  EXPECT_LE(passed, 5 + 2);
  // After the exchanges both nodes refuse, whichever is asked, and say so for the pair.
  ASSERT_TRUE(a.Exchange().ok());
  ASSERT_TRUE(b.Exchange().ok());
  LoginThrottle::Limit which = LoginThrottle::Limit::kAddress;
  EXPECT_TRUE(a.Begin("BOB", "10.0.0.1", now, &which));
  EXPECT_EQ(which, LoginThrottle::Limit::kPair);
  EXPECT_TRUE(b.RetryAfter("bob", "10.0.0.1", now));
  // Another address is not locked out (no per-username lock), nor another user from this one.
  EXPECT_FALSE(b.Begin("bob", "10.0.0.2", now));
  EXPECT_FALSE(a.Begin("alice", "10.0.0.1", now));
  // Past the wait, one more attempt in the cluster, not one per node.
  now += 60'000;
  int later = 0;
  for (int i = 0; i < 10; ++i) later += !(i % 2 ? b : a).Begin("bob", "10.0.0.1", now);
  EXPECT_EQ(later, 1);
}

// A success clears the pair's count for the whole cluster (after an exchange), and takes its one
// failure back from the address's.
TEST_F(SharedLoginThrottleTest, SuccessClearsThePairOnEveryNode) {
  auto s1 = Open();
  auto s2 = Open();
  ASSERT_TRUE(s1 && s2);
  TimeMs now = 1'790'000'000'000;
  LoginThrottle a, b;
  a.ShareThrough(
      *s1, [&] { return now; }, 0);
  b.ShareThrough(
      *s2, [&] { return now; }, 0);
  int passed = 0;
  for (int i = 0; i < 10; ++i) passed += !a.Begin("carol", "10.0.0.5", now);
  EXPECT_EQ(passed, 5);  // one node alone: exactly the free failures, as on one server
  ASSERT_TRUE(a.Exchange().ok());
  // The other node lets one through on credit (the documented + 1 per node), then refuses.
  EXPECT_FALSE(b.Begin("carol", "10.0.0.5", now));
  EXPECT_TRUE(b.Begin("carol", "10.0.0.5", now));
  now += 60'000;                                    // past the wait
  EXPECT_FALSE(a.Begin("carol", "10.0.0.5", now));  // the right password
  a.Succeeded("carol", "10.0.0.5");
  EXPECT_FALSE(a.RetryAfter("carol", "10.0.0.5", now));
  ASSERT_TRUE(a.Exchange().ok());
  // The store's count went back to 0 (B's failure on credit included): five free failures again.
  // (On A: SQLite counts one live node, so A's slice holds the address's whole room.)
  passed = 0;
  for (int i = 0; i < 10; ++i) passed += !a.Begin("carol", "10.0.0.5", now);
  EXPECT_EQ(passed, 5);
  // ... and they count on the other node too.
  ASSERT_TRUE(b.Exchange().ok());
  EXPECT_TRUE(b.RetryAfter("carol", "10.0.0.5", now));
}

// An attempt that needs a new slice while the store cannot be written is refused as kStore (the
// sign-in answers 503), not as a throttle refusal; it goes ahead once the store is back.
TEST_F(SharedLoginThrottleTest, AStoreFailureIsNotAThrottleRefusal) {
  fault::Set(fault::Site::kStoreWrite,
             fault::Kind::kNone);  // the store opens through the fault VFS
  auto s1 = Open();
  ASSERT_TRUE(s1);
  TimeMs now = 1'790'000'000'000;
  LoginThrottle a;
  a.ShareThrough(
      *s1, [&] { return now; }, 0);
  EXPECT_FALSE(a.Begin("dave", "10.0.0.9", now));  // on credit: no store needed
  fault::Set(fault::Site::kStoreWrite, fault::Kind::kIoError);
  LoginThrottle::Limit which = LoginThrottle::Limit::kPair;
  EXPECT_TRUE(a.Begin("dave", "10.0.0.9", now, &which));
  EXPECT_EQ(which, LoginThrottle::Limit::kStore);
  fault::ClearAll();
  EXPECT_FALSE(a.Begin("dave", "10.0.0.9", now));
}

// Without ShareThrough (SQLite, one node) nothing changes: per-process counts.
TEST(LoginThrottle, NotSharedByDefault) {
  LoginThrottle t;
  EXPECT_FALSE(t.shared());
  EXPECT_TRUE(t.Exchange().ok());
}

}  // namespace
}  // namespace sandgate::auth
