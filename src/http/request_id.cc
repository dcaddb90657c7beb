#include "http/request_id.h"

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace sandgate::http {

namespace asio = boost::asio;

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

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

template <class Bytes>
bool PrefixMatch(const Bytes& a, const Bytes& b, int prefix) {
  for (size_t i = 0; i < a.size() && prefix > 0; ++i, prefix -= 8) {
    const unsigned mask = prefix >= 8 ? 0xffu : (0xffu << (8 - prefix)) & 0xffu;
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

}  // namespace

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

std::string NewRequestId() {
  struct State {
    uint64_t prefix = 0;
    uint64_t counter = 0;
    State() { randombytes_buf(&prefix, sizeof prefix); }
  };
  thread_local State st;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(24, '0');
  uint64_t p = st.prefix, c = st.counter++;
  for (int i = 15; i >= 0; --i, p >>= 4) id[static_cast<size_t>(i)] = kHex[p & 15];
  for (int i = 23; i >= 16; --i, c >>= 4) id[static_cast<size_t>(i)] = kHex[c & 15];
  return id;
}

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char ch : id) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<asio::ip::address> ForwardedClient(std::string_view xff,
                                                 const std::vector<Cidr>& trusted) {
  std::optional<asio::ip::address> client;
  while (!xff.empty()) {
    const size_t comma = xff.rfind(',');
    std::string_view entry = comma == std::string_view::npos ? xff : xff.substr(comma + 1);
    xff = comma == std::string_view::npos ? std::string_view() : xff.substr(0, comma);
    auto a = ParseAddress(entry);
    if (!a) break;  // malformed: what lies further left cannot be trusted either
    client = a;
    if (!AnyContains(trusted, *a)) break;
  }
  return client;
}

}  // namespace sandgate::http
