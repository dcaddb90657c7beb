#include "http/request_id.h"

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace sandgate::http {

namespace asio = boost::asio;

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
