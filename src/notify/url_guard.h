// SSRF protection for webhook URLs: http or https only, no credentials in the URL, and every
// address the host resolves to must be public unless an allowed range (`--webhook-allow-cidr`)
// contains it. Refused: loopback, unspecified, link-local (169.254/16 with the cloud metadata
// address 169.254.169.254, fe80::/10), private (10/8, 172.16/12, 192.168/16, fc00::/7 with
// fd00:ec2::254), shared address space (100.64/10), 0/8, multicast, broadcast, documentation and
// reserved ranges; IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
// Deliveries connect to the addresses checked, never to a second resolution (DNS rebinding).
#pragma once

#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "common/status.h"

namespace sandgate::notify {

struct ParsedUrl {
  bool tls = false;
  std::string host;  // without brackets for IPv6 literals
  uint16_t port = 0;
  std::string target;  // path and query, "/" at least
};

// 400 WEBHOOK_URL_INVALID when not an absolute http(s) URL of at most 2000 characters without
// user information or fragment.
Result<ParsedUrl> ParseUrl(std::string_view url);

// True when `a` is not a public address (see above).
bool ForbiddenAddress(const boost::asio::ip::address& a);

// Resolves the URL's host and returns its addresses, all of them allowed. 400
// WEBHOOK_URL_FORBIDDEN naming the refused address when any is not; 400 WEBHOOK_URL_UNRESOLVED
// when the host does not resolve. A host name (not an address literal) inside a no_wait::Scope
// (an I/O thread) is not looked up: 503 WOULD_BLOCK, and the server retries on the blocking pool.
Result<std::vector<boost::asio::ip::address>> ResolveAllowed(const ParsedUrl& u,
                                                             const std::vector<Cidr>& allow);

}  // namespace sandgate::notify
