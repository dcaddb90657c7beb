#include "token/token_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "token/token_format.h"

namespace sandgate::token {
namespace {

using domain::OrgState;
using domain::StatusReason;
using domain::Subscription;

constexpr TimeMs kNow = 1'800'000'000'000;
constexpr TimeMs kDay = 86'400'000;

OrgState Active(domain::OrgId id, TimeMs ends_at = kNow + 30 * kDay) {
  OrgState s;
  s.org_id = id;
  s.subscription = Subscription::kActive;
  s.ends_at = ends_at;
  s.has_token = true;
  return s;
}

class TokenIndexTest : public ::testing::Test {
 protected:
  // Gives `org` a fresh token in the index and returns its text.
  std::string Issue(domain::OrgId org) {
    std::string t = Generate();
    index_.PutToken(org, keys_->LookupHash(t), Last4(t));
    return t;
  }
  void ExpectUnknown(const Verification& v) {
    EXPECT_FALSE(v.status.ok());
    EXPECT_EQ(v.status.http_status(), 401);
    EXPECT_EQ(v.status.code(), "INVALID_TOKEN");
    EXPECT_EQ(v.status.message(), "Invalid API token");
    EXPECT_FALSE(v.org.has_value());
    EXPECT_EQ(v.reason, StatusReason::kNone);
    EXPECT_TRUE(v.last4.empty());
  }

  std::shared_ptr<Keyring> keys_ = Keyring::Ephemeral();
  TokenIndex index_{keys_};
};

TEST_F(TokenIndexTest, VerifiesKnownToken) {
  index_.PutOrg(Active(7));
  const std::string t = Issue(7);
  const Verification v = index_.Verify(t, kNow);
  EXPECT_TRUE(v.status.ok()) << v.status.code();
  ASSERT_TRUE(v.org.has_value());
  EXPECT_EQ(*v.org, 7);
  EXPECT_EQ(v.reason, StatusReason::kNone);
  EXPECT_EQ(v.last4, Last4(t));
  EXPECT_EQ(index_.token_count(), 1u);
}

TEST_F(TokenIndexTest, UnknownTokenIs401) {
  index_.PutOrg(Active(7));
  Issue(7);
  ExpectUnknown(index_.Verify(Generate(), kNow));
}

TEST_F(TokenIndexTest, MalformedTokenIs401WithoutLookup) {
  index_.PutOrg(Active(7));
  // Register the lookup hash of a malformed text: if Verify hashed and looked it up, it would
  // match.
  std::string bad = Generate();
  bad.back() = bad.back() == 'a' ? 'b' : 'a';  // checksum broken
  ASSERT_FALSE(Parse(bad).ok());
  index_.PutToken(7, keys_->LookupHash(bad), Last4(bad));
  ExpectUnknown(index_.Verify(bad, kNow));
  for (std::string_view s : {"", "sbx_", "Bearer x", "sbx_\xff"})
    ExpectUnknown(index_.Verify(s, kNow));
}

TEST_F(TokenIndexTest, ReplacedTokenStopsVerifying) {
  index_.PutOrg(Active(7));
  const std::string old_token = Issue(7);
  const std::string new_token = Issue(7);
  ExpectUnknown(index_.Verify(old_token, kNow));
  const Verification v = index_.Verify(new_token, kNow);
  EXPECT_TRUE(v.status.ok());
  EXPECT_EQ(v.last4, Last4(new_token));
  EXPECT_EQ(index_.token_count(), 1u);
}

TEST_F(TokenIndexTest, RemovedTokenStopsVerifying) {
  index_.PutOrg(Active(7));
  const std::string t = Issue(7);
  index_.RemoveToken(7);
  ExpectUnknown(index_.Verify(t, kNow));
  EXPECT_EQ(index_.token_count(), 0u);
  index_.RemoveToken(7);   // idempotent
  index_.RemoveToken(99);  // unknown organization: no effect
  // The state stays: a new token verifies without another PutOrg.
  EXPECT_TRUE(index_.Verify(Issue(7), kNow).status.ok());
}

TEST_F(TokenIndexTest, ProviderDisabledIs403) {
  OrgState s = Active(7);
  s.provider_disabled = true;
  index_.PutOrg(s);
  const std::string t = Issue(7);
  const Verification v = index_.Verify(t, kNow);
  EXPECT_EQ(v.status.http_status(), 403);
  EXPECT_EQ(v.status.code(), "TOKEN_DISABLED");
  EXPECT_EQ(v.reason, StatusReason::kProvider);
  ASSERT_TRUE(v.org.has_value());
  EXPECT_EQ(*v.org, 7);
  EXPECT_EQ(v.last4, Last4(t));
  s.provider_disabled = false;
  index_.PutOrg(s);
  EXPECT_TRUE(index_.Verify(t, kNow).status.ok());
}

TEST_F(TokenIndexTest, ExpiredSubscriptionIs403UntilRenewed) {
  index_.PutOrg(Active(7, /*ends_at=*/kNow));  // ends_at <= now: expired
  const std::string t = Issue(7);
  Verification v = index_.Verify(t, kNow);
  EXPECT_EQ(v.status.http_status(), 403);
  EXPECT_EQ(v.status.code(), "SUBSCRIPTION_EXPIRED");
  EXPECT_EQ(v.reason, StatusReason::kSubscriptionExpired);
  EXPECT_TRUE(index_.Verify(t, kNow - 1).status.ok());  // one millisecond earlier it was active
  index_.PutOrg(Active(7, kNow + 365 * kDay));          // renewed
  v = index_.Verify(t, kNow);
  EXPECT_TRUE(v.status.ok());
  EXPECT_EQ(v.reason, StatusReason::kNone);
}

TEST_F(TokenIndexTest, NoSubscriptionIs403) {
  const std::string t = Issue(7);  // PutToken before any PutOrg: default state
  const Verification v = index_.Verify(t, kNow);
  EXPECT_EQ(v.status.http_status(), 403);
  EXPECT_EQ(v.status.code(), "NO_SUBSCRIPTION");
  EXPECT_EQ(v.reason, StatusReason::kNoSubscription);
  ASSERT_TRUE(v.org.has_value());
  EXPECT_EQ(*v.org, 7);
}

TEST_F(TokenIndexTest, OrganizationsAreIndependent) {
  index_.PutOrg(Active(1));
  OrgState disabled = Active(2);
  disabled.provider_disabled = true;
  index_.PutOrg(disabled);
  const std::string t1 = Issue(1);
  const std::string t2 = Issue(2);
  EXPECT_EQ(*index_.Verify(t1, kNow).org, 1);
  EXPECT_TRUE(index_.Verify(t1, kNow).status.ok());
  EXPECT_EQ(*index_.Verify(t2, kNow).org, 2);
  EXPECT_EQ(index_.Verify(t2, kNow).status.code(), "TOKEN_DISABLED");
  index_.RemoveToken(2);
  EXPECT_TRUE(index_.Verify(t1, kNow).status.ok());
  EXPECT_EQ(index_.token_count(), 1u);
}

TEST_F(TokenIndexTest, BadHashSizeRemovesTokenFailClosed) {
  index_.PutOrg(Active(7));
  const std::string t = Issue(7);
  index_.PutToken(7, "short", "abcd");
  ExpectUnknown(index_.Verify(t, kNow));
  EXPECT_EQ(index_.token_count(), 0u);
}

TEST_F(TokenIndexTest, HashMovedToAnotherOrgLeavesOneOwner) {
  index_.PutOrg(Active(1));
  index_.PutOrg(Active(2));
  const std::string t = Issue(1);
  index_.PutToken(2, keys_->LookupHash(t), Last4(t));
  EXPECT_EQ(*index_.Verify(t, kNow).org, 2);
  EXPECT_EQ(index_.token_count(), 1u);
  index_.RemoveToken(1);  // must not remove organization 2's entry
  EXPECT_EQ(*index_.Verify(t, kNow).org, 2);
  index_.RemoveToken(2);
  ExpectUnknown(index_.Verify(t, kNow));
}

TEST_F(TokenIndexTest, ClearForgetsEverything) {
  index_.PutOrg(Active(7));
  const std::string t = Issue(7);
  index_.Clear();
  EXPECT_EQ(index_.token_count(), 0u);
  ExpectUnknown(index_.Verify(t, kNow));
  const std::string u = Issue(7);  // state forgotten too
  EXPECT_EQ(index_.Verify(u, kNow).status.code(), "NO_SUBSCRIPTION");
}

TEST_F(TokenIndexTest, ManyTokens) {
  std::vector<std::string> tokens;
  for (domain::OrgId id = 1; id <= 2000; ++id) {
    index_.PutOrg(Active(id));
    tokens.push_back(Issue(id));
  }
  EXPECT_EQ(index_.token_count(), 2000u);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Verification v = index_.Verify(tokens[i], kNow);
    ASSERT_TRUE(v.status.ok());
    ASSERT_EQ(*v.org, static_cast<domain::OrgId>(i + 1));
  }
}

// Readers verify while a writer rotates one organization's token and toggles its disable flag.
// Every answer must be one the index could have given at some instant: stable tokens always verify,
// the rotating organization's answers are internally consistent.
TEST_F(TokenIndexTest, ConcurrentReadersWithWriterStayConsistent) {
  constexpr int kStable = 50;
  std::vector<std::string> stable;
  for (int i = 1; i <= kStable; ++i) {
    index_.PutOrg(Active(i));
    stable.push_back(Issue(i));
  }
  constexpr domain::OrgId kHot = 1000;
  index_.PutOrg(Active(kHot));
  constexpr int kRotations = 200;
  std::vector<std::string> hot;  // pre-generated so readers can present old and new tokens
  for (int i = 0; i < kRotations; ++i) hot.push_back(Generate());
  index_.PutToken(kHot, keys_->LookupHash(hot[0]), Last4(hot[0]));

  std::atomic<int> current{0};  // index into hot of the token the writer installed last
  std::atomic<int> gen{0};      // odd while the writer is replacing the hot token
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> started{0};
  constexpr int kReaders = 3;
  constexpr int kWrites = 2000;
  static_assert((kWrites - 1) % kRotations != 0);
  auto reader = [&](int seed) {
    ++started;
    int i = seed;
    while (!done.load(std::memory_order_relaxed)) {
      ++i;
      const Verification s = index_.Verify(stable[i % kStable], kNow);
      if (!s.status.ok() || !s.org || *s.org != i % kStable + 1) ++failures;
      const int g1 = gen.load();
      const int cur = current.load();
      const int pick = (i % 2 == 0) ? cur : i % kRotations;
      const Verification h = index_.Verify(hot[pick], kNow);
      if (h.status.ok()) {
        if (!h.org || *h.org != kHot || h.reason != StatusReason::kNone ||
            h.last4 != Last4(hot[pick]))
          ++failures;
      } else if (h.status.code() == "TOKEN_DISABLED") {
        if (!h.org || *h.org != kHot || h.reason != StatusReason::kProvider) ++failures;
      } else if (h.status.code() == "INVALID_TOKEN") {
        if (h.org || !h.last4.empty()) ++failures;
        // The installed token cannot be refused unless a replacement overlapped this read.
        if (pick == cur && g1 % 2 == 0 && gen.load() == g1) ++failures;
      } else {
        ++failures;
      }
    }
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) readers.emplace_back(reader, r * 7);
  while (started.load() < kReaders) std::this_thread::yield();
  for (int n = 1; n < kWrites; ++n) {
    const int i = n % kRotations;  // tokens are reused: a reinstalled token verifies again
    const std::string hash = keys_->LookupHash(hot[i]);
    ++gen;
    index_.PutToken(kHot, hash, Last4(hot[i]));
    current.store(i);
    ++gen;
    OrgState s = Active(kHot);
    s.provider_disabled = (n % 3 == 0);
    index_.PutOrg(s);
    if (n % 50 == 0) index_.RemoveToken(kStable + 1);  // unrelated org: no effect on the others
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(index_.token_count(), static_cast<size_t>(kStable + 1));
  ExpectUnknown(index_.Verify(hot[0], kNow));
}

}  // namespace
}  // namespace sandgate::token
