#include "http/connection_limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace sandgate::http {
namespace {

namespace ip = boost::asio::ip;

TEST(ConnectionLimits, AddressKeyGroupsIpv6By64AndUnmapsIpv4) {
  EXPECT_EQ(AddressKey(ip::make_address("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(AddressKey(ip::make_address("::ffff:192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(AddressKey(ip::make_address("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressKey(ip::make_address("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
  EXPECT_NE(AddressKey(ip::make_address("2001:db8:1:3::1")), "2001:db8:1:2::/64");
}

TEST(ConnectionLimits, PerAddressCap) {
  ConnectionLimits l(100, 3);
  std::vector<ConnectionLimits::Ticket> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(l.Admit("a"));
    EXPECT_TRUE(held.back());
  }
  ConnectionLimits::Refusal why;
  EXPECT_FALSE(l.Admit("a", &why));
  EXPECT_EQ(why, ConnectionLimits::Refusal::kPerAddress);
  EXPECT_TRUE(l.Admit("b"));  // another address is not affected (and its ticket is released)
  EXPECT_EQ(l.open("b"), 0u);
  held.pop_back();
  EXPECT_EQ(l.open("a"), 2u);
  EXPECT_TRUE(l.Admit("a"));
}

TEST(ConnectionLimits, TotalCap) {
  ConnectionLimits l(2, 10);
  auto t1 = l.Admit("a");
  auto t2 = l.Admit("b");
  ConnectionLimits::Refusal why;
  EXPECT_FALSE(l.Admit("c", &why));
  EXPECT_EQ(why, ConnectionLimits::Refusal::kTotal);
  EXPECT_EQ(l.open(), 2u);
  {
    auto moved = std::move(t1);
    EXPECT_EQ(l.open(), 2u);
  }
  EXPECT_EQ(l.open(), 1u);
  EXPECT_TRUE(l.Admit("c"));
}

}  // namespace
}  // namespace sandgate::http
