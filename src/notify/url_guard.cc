#include "notify/url_guard.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cctype>

#include "common/no_wait.h"

namespace sandgate::notify {

namespace ip = boost::asio::ip;

namespace {

Status Invalid(const std::string& why) {
  return Status::Invalid("WEBHOOK_URL_INVALID", "The webhook URL is not valid: " + why + ".");
}

bool In4(uint32_t a, uint32_t net, int prefix) {
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (a & mask) == (net & mask);
}

bool Forbidden4(const ip::address_v4& v4) {
  const uint32_t a = v4.to_uint();
  static const struct {
    uint32_t net;
    int prefix;
  } kRanges[] = {
      {0x00000000, 8},   // this network
      {0x0a000000, 8},   // private
      {0x64400000, 10},  // shared address space (carrier-grade NAT)
      {0x7f000000, 8},   // loopback
      {0xa9fe0000, 16},  // link-local, cloud metadata 169.254.169.254
      {0xac100000, 12},  // private
      {0xc0000000, 24},  // IETF protocol assignments
      {0xc0000200, 24},  // documentation
      {0xc0a80000, 16},  // private
      {0xc6120000, 15},  // benchmarking
      {0xc6336400, 24},  // documentation
      {0xcb007100, 24},  // documentation
      {0xe0000000, 4},   // multicast
      {0xf0000000, 4},   // reserved, broadcast
  };
  for (const auto& r : kRanges)
    if (In4(a, r.net, r.prefix)) return true;
  return false;
}

}  // namespace

bool ForbiddenAddress(const ip::address& a) {
  if (a.is_v4()) return Forbidden4(a.to_v4());
  const ip::address_v6 v6 = a.to_v6();
  if (v6.is_v4_mapped()) return Forbidden4(ip::make_address_v4(ip::v4_mapped, v6));
  const auto b = v6.to_bytes();
  if (v6.is_loopback() || v6.is_unspecified() || v6.is_multicast()) return true;
  if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7 unique local (fd00:ec2::254)
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10 link-local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true;  // fec0::/10 site-local (deprecated)
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true;  // documentation
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) return true;  // NAT64
  bool v4_compat = true;  // ::a.b.c.d (deprecated) and other ::/96 addresses
  for (int i = 0; i < 12; ++i) v4_compat = v4_compat && b[i] == 0;
  return v4_compat;
}

Result<ParsedUrl> ParseUrl(std::string_view url) {
  if (url.size() > 2000) return Invalid("longer than 2000 characters");
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return Invalid("it contains spaces or control or non-ASCII characters");
  ParsedUrl u;
  std::string_view rest;
  if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "https://") {
    u.tls = true;
    rest = url.substr(8);
  } else {
    return Invalid("the scheme must be http or https");
  }
  if (url.find('#') != std::string_view::npos) return Invalid("it has a fragment");
  size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  u.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (u.target[0] == '?') u.target = "/" + u.target;
  if (authority.find('@') != std::string_view::npos)
    return Invalid("user information is not allowed");
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid("unterminated IPv6 address");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Invalid("malformed host");
      port = after.substr(1);
    }
    boost::system::error_code ec;
    ip::make_address_v6(u.host, ec);
    if (ec) return Invalid("malformed IPv6 address");
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    for (char c : u.host)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
        return Invalid("malformed host");
  }
  if (u.host.empty()) return Invalid("no host");
  u.port = u.tls ? 443 : 80;
  if (!port.empty()) {
    if (port.size() > 5) return Invalid("malformed port");
    int p = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return Invalid("malformed port");
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return Invalid("malformed port");
    u.port = static_cast<uint16_t>(p);
  }
  return u;
}

Result<std::vector<ip::address>> ResolveAllowed(const ParsedUrl& u,
                                                const std::vector<Cidr>& allow) {
  std::vector<ip::address> out;
  boost::system::error_code ec;
  ip::address literal = ip::make_address(u.host, ec);
  if (!ec) {
    out.push_back(literal);
  } else {
    // A name lookup may wait for a remote DNS server: never on an I/O thread. Inside a
    // no_wait::Scope refuse at once, so the server runs the handler again on the blocking pool.
    if (no_wait::Active()) {
      no_wait::NoteWouldBlock();
      return no_wait::WouldBlock();
    }
    boost::asio::io_context ioc;
    ip::tcp::resolver resolver(ioc);
    auto results = resolver.resolve(u.host, std::to_string(u.port), ec);
    if (ec || results.empty())
      return Status::Invalid("WEBHOOK_URL_UNRESOLVED",
                             "The webhook URL's host " + u.host + " does not resolve.");
    for (const auto& r : results) {
      ip::address a = r.endpoint().address();
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
  }
  for (const auto& a : out) {
    if (ForbiddenAddress(a) && !AnyContains(allow, a))
      return Status::Invalid("WEBHOOK_URL_FORBIDDEN",
                             "The webhook URL resolves to " + a.to_string() +
                                 ", a loopback, private, link-local or reserved address; the "
                                 "provider may allow a range with --webhook-allow-cidr.");
  }
  return out;
}

}  // namespace sandgate::notify
