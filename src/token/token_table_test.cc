#include "token/token_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

namespace sandgate::token {
namespace {

using Hash = TokenTable::Hash;

// A hash whose probe tag (first 8 bytes) is `tag`; `salt` varies the remaining bytes so hashes
// with equal tags still differ.
Hash MakeHash(uint64_t tag, uint64_t salt) {
  Hash h{};
  std::memcpy(h.data(), &tag, sizeof tag);
  std::memcpy(h.data() + 8, &salt, sizeof salt);
  h[31] = 0xA5;
  return h;
}

TEST(TokenTable, InsertFindErase) {
  TokenTable t;
  const Hash a = MakeHash(1, 1);
  EXPECT_EQ(t.Find(a), nullptr);
  t.Erase(a);  // absent: no effect
  domain::OrgState s;
  s.org_id = 42;
  s.subscription = domain::Subscription::kActive;
  s.ends_at = 1234;
  s.provider_disabled = true;
  s.disable_reason = domain::DisableReason::kTermsViolation;
  t.Insert(a).SetState(s);
  ASSERT_NE(t.Find(a), nullptr);
  const domain::OrgState got = t.Find(a)->State();
  EXPECT_EQ(got.org_id, 42);
  EXPECT_EQ(got.subscription, domain::Subscription::kActive);
  EXPECT_EQ(got.ends_at, std::optional<TimeMs>(1234));
  EXPECT_TRUE(got.provider_disabled);
  EXPECT_EQ(got.disable_reason, domain::DisableReason::kTermsViolation);
  EXPECT_TRUE(got.has_token);
  s.ends_at.reset();
  t.Find(a)->SetState(s);
  EXPECT_FALSE(t.Find(a)->State().ends_at.has_value());
  // Same tag, different hash: not found.
  EXPECT_EQ(t.Find(MakeHash(1, 2)), nullptr);
  Hash b = a;
  b[31] ^= 1;  // differs only in the last byte
  EXPECT_EQ(t.Find(b), nullptr);
  EXPECT_EQ(t.size(), 1u);
  t.Erase(a);
  EXPECT_EQ(t.Find(a), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

// Random inserts and erases against a reference map, with tags drawn from a tiny range so probe
// runs are long, collide and wrap around the end of the table.
TEST(TokenTable, MatchesReferenceModelUnderCollisions) {
  for (uint64_t tag_range : {uint64_t{4}, uint64_t{64}, uint64_t{1} << 40}) {
    TokenTable t;
    std::map<Hash, domain::OrgId> model;
    std::mt19937_64 rng(tag_range);
    std::vector<Hash> universe;
    for (uint64_t i = 0; i < 600; ++i) {
      // Tags near a power of two minus one land at the table's last slots: runs wrap.
      const uint64_t tag = (rng() % tag_range) | (i % 3 == 0 ? 0xF : 0);
      universe.push_back(MakeHash(tag, i));
    }
    for (int step = 0; step < 20000; ++step) {
      const Hash& h = universe[rng() % universe.size()];
      if (rng() % 3 != 0) {
        const domain::OrgId org = static_cast<domain::OrgId>(rng() % 1000000 + 1);
        domain::OrgState s;
        s.org_id = org;
        t.Insert(h).SetState(s);
        model[h] = org;
      } else {
        t.Erase(h);
        model.erase(h);
      }
      ASSERT_EQ(t.size(), model.size());
      if (step % 97 == 0) {
        for (const Hash& u : universe) {
          const auto it = model.find(u);
          const TokenTable::Entry* e = t.Find(u);
          if (it == model.end()) {
            ASSERT_EQ(e, nullptr);
          } else {
            ASSERT_NE(e, nullptr);
            ASSERT_EQ(e->org, it->second);
          }
        }
      }
    }
    t.Clear();
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.Find(universe[0]), nullptr);
    t.Insert(universe[0]);  // usable after Clear
    EXPECT_NE(t.Find(universe[0]), nullptr);
  }
}

TEST(TokenTable, GrowsPastHugePageThreshold) {
  TokenTable t;
  constexpr uint64_t kN = 40000;  // > 2 MiB of slots
  std::mt19937_64 rng(7);
  std::vector<Hash> hashes;
  for (uint64_t i = 0; i < kN; ++i) {
    hashes.push_back(MakeHash(rng(), i));
    domain::OrgState s;
    s.org_id = static_cast<domain::OrgId>(i);
    t.Insert(hashes.back()).SetState(s);
  }
  EXPECT_EQ(t.size(), kN);
  for (uint64_t i = 0; i < kN; ++i) {
    const TokenTable::Entry* e = t.Find(hashes[i]);
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->org, static_cast<domain::OrgId>(i));
  }
}

}  // namespace
}  // namespace sandgate::token
