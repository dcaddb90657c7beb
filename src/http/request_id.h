// Request ids and trusted proxies.
// - Every response carries X-Request-Id. A request that comes from a trusted proxy
//   (`--trusted-proxy CIDR`) keeps the id the proxy sent when it is well formed (1 to 128 of
//   A-Z a-z 0-9 . _ : -); any other request gets a fresh id (NewRequestId).
// - From a trusted proxy, the client address is taken from X-Forwarded-For: the rightmost address
//   that is not itself a trusted proxy (what each hop appended); a malformed entry stops the walk
//   and the last good address stands.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"

namespace sandgate::http {

// The CIDR helpers live in common/cidr.h; these names keep the http:: spelling working.
using sandgate::AnyContains;
using sandgate::Cidr;
using sandgate::ParseCidr;

// 24 hex characters: a random per-thread prefix and a per-thread counter (unique, unguessable
// enough for correlation; not a secret).
std::string NewRequestId();
bool ValidRequestId(std::string_view id);

// The client address behind trusted proxies, from an X-Forwarded-For value (see above), or
// nullopt when it names none.
std::optional<boost::asio::ip::address> ForwardedClient(std::string_view xff,
                                                        const std::vector<Cidr>& trusted);

}  // namespace sandgate::http
