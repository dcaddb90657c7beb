#include "common/cidr.h"

#include <algorithm>
#include <charconv>

namespace sandgate {

namespace asio = boost::asio;

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <class Bytes>
bool PrefixMatch(const Bytes& a, const Bytes& b, int prefix) {
  for (size_t i = 0; i < a.size() && prefix > 0; ++i, prefix -= 8) {
    const unsigned mask = prefix >= 8 ? 0xffu : (0xffu << (8 - prefix)) & 0xffu;
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

}  // namespace

std::optional<asio::ip::address> ParseAddress(std::string_view s) {
  s = Trim(s);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  boost::system::error_code ec;
  auto a = asio::ip::make_address(std::string(s), ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

bool Cidr::Contains(const asio::ip::address& in) const {
  asio::ip::address a = in;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  if (a.is_v4() != network.is_v4()) return false;
  if (a.is_v4()) return PrefixMatch(a.to_v4().to_bytes(), network.to_v4().to_bytes(), prefix);
  return PrefixMatch(a.to_v6().to_bytes(), network.to_v6().to_bytes(), prefix);
}

std::optional<Cidr> ParseCidr(std::string_view text) {
  const size_t slash = text.find('/');
  auto addr = ParseAddress(text.substr(0, slash));
  if (!addr) return std::nullopt;
  Cidr c{*addr, addr->is_v4() ? 32 : 128};
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    int prefix = -1;
    auto r = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || r.ec != std::errc() || r.ptr != p.data() + p.size() || prefix < 0 ||
        prefix > c.prefix)
      return std::nullopt;
    c.prefix = prefix;
  }
  // Host bits must be zero: "10.0.0.1/8" is probably a typo for something else.
  if (c.network.is_v4()) {
    auto b = c.network.to_v4().to_bytes();
    for (size_t i = 0; i < b.size(); ++i) {
      const int keep = std::max(0, std::min(8, c.prefix - static_cast<int>(i) * 8));
      if (b[i] & (0xffu >> keep)) return std::nullopt;
    }
  } else {
    auto b = c.network.to_v6().to_bytes();
    for (size_t i = 0; i < b.size(); ++i) {
      const int keep = std::max(0, std::min(8, c.prefix - static_cast<int>(i) * 8));
      if (b[i] & (0xffu >> keep)) return std::nullopt;
    }
  }
  return c;
}

bool AnyContains(const std::vector<Cidr>& nets, const asio::ip::address& a) {
  for (const auto& n : nets)
    if (n.Contains(a)) return true;
  return false;
}

}  // namespace sandgate
