#include "store/stamped_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace sandgate::store {
namespace {

using Cache = StampedCache<std::string, int>;

std::shared_ptr<const int> Val(int v) { return std::make_shared<const int>(v); }

TEST(StampedCacheTest, ServesWhatWasPutUnderTheSameStamp) {
  Cache c(10);
  EXPECT_EQ(c.Get(5, "a"), nullptr);
  c.Put(5, "a", Val(1));
  auto hit = c.Get(5, "a");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(*hit, 1);
  EXPECT_EQ(c.Get(5, "b"), nullptr);
}

TEST(StampedCacheTest, ANewerStampEmptiesIt) {
  Cache c(10);
  c.Put(5, "a", Val(1));
  c.Put(5, "b", Val(2));
  EXPECT_EQ(c.Get(6, "a"), nullptr);  // the store changed: nothing read before is served
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.Get(5, "b"), nullptr);  // and an older stamp never brings it back
  c.Put(7, "b", Val(3));              // a put under a newer stamp also moves it on
  EXPECT_EQ(c.Get(6, "b"), nullptr);
  ASSERT_NE(c.Get(7, "b"), nullptr);
  EXPECT_EQ(*c.Get(7, "b"), 3);
}

TEST(StampedCacheTest, APutUnderAnOlderStampIsDropped) {
  // A reader took stamp 5, read, and was overtaken by a commit seen by another reader (stamp 6):
  // what the first one read may be stale and must not be served under 6.
  Cache c(10);
  EXPECT_EQ(c.Get(6, "a"), nullptr);
  c.Put(5, "a", Val(1));
  EXPECT_EQ(c.Get(6, "a"), nullptr);
  EXPECT_EQ(c.size(), 0u);
}

TEST(StampedCacheTest, HoldsAtMostCapacityEntries) {
  Cache c(2);
  c.Put(1, "a", Val(1));
  c.Put(1, "b", Val(2));
  c.Put(1, "c", Val(3));
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.Get(1, "c"), nullptr);
  c.Put(1, "a", Val(4));  // replacing an entry is not growing
  EXPECT_EQ(*c.Get(1, "a"), 4);
}

TEST(StampedCacheTest, ConcurrentReadersAndWritersSeeOnlyTheirStamp) {
  // Value v is put under stamp v only; a hit under stamp s must be s.
  StampedCache<int, uint64_t> c(64);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t s = 1; s < 2000; ++s) {
        const uint64_t stamp = s + static_cast<uint64_t>(t % 2);
        if (auto v = c.Get(stamp, static_cast<int>(s % 8)); v && *v != stamp) ++wrong;
        c.Put(stamp, static_cast<int>(s % 8), std::make_shared<const uint64_t>(stamp));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace sandgate::store
