// IP address ranges ("10.0.0.0/8", "::1/128"): trusted proxies, the webhook SSRF allow list.
// Pure functions; IPv4-mapped IPv6 addresses compare as IPv4.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string_view>
#include <vector>

namespace sandgate {

struct Cidr {
  boost::asio::ip::address network;
  int prefix = 0;
  bool Contains(const boost::asio::ip::address& a) const;
};

// "10.0.0.0/8", "::1/128", "192.0.2.7" (a single address). nullopt when malformed or when the
// host bits are not zero.
std::optional<Cidr> ParseCidr(std::string_view text);
bool AnyContains(const std::vector<Cidr>& nets, const boost::asio::ip::address& a);

// An address as written in a header or a flag ("192.0.2.7", "[::1]", surrounding blanks allowed),
// IPv4-mapped IPv6 turned into IPv4. nullopt when malformed.
std::optional<boost::asio::ip::address> ParseAddress(std::string_view s);

}  // namespace sandgate
