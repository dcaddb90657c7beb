// One outbound HTTP/1.1 exchange (webhook deliveries, the secret scanner's key document): plain
// TCP, or TLS 1.2+ with the peer verified against the system's CAs (plus `ca_file` if set), SNI
// and host name verification. Redirects are never followed; the caller resolves the addresses
// (so it can check them first, url_guard.h). Stateless, usable from any thread's io_context.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "notify/url_guard.h"

namespace sandgate::notify {

struct HttpAnswer {
  int status = 0;
  std::string body;
  // Set when the answer was cut short after its header (closed early, or a body over the limit):
  // the status is still what the peer said, the body is partial.
  boost::system::error_code read_error;
};

// Sends `req` to `url` at one of `endpoints`, with Host and "Connection: close" set from `url`;
// the whole exchange within `timeout_ms`, headers at most 16 KiB, the body at most `body_limit`.
// Throws boost::system::system_error when nothing up to a status line could be exchanged.
boost::asio::awaitable<HttpAnswer> Exchange(
    const ParsedUrl& url, const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
    boost::beast::http::request<boost::beast::http::string_body> req, size_t body_limit,
    TimeMs timeout_ms, const std::string& ca_file = "");

// What RunExchange saw: the answer, or why there is none.
struct ExchangeOutcome {
  HttpAnswer answer;
  // Empty on a 2xx answer; otherwise "timed out", the socket or TLS error's message, or
  // "answered N" for another status.
  std::string error;
  // False when `ioc` stopped (run out, or stopped by another thread) before the exchange ended.
  bool finished = false;
};

// Runs `exchange` (an Exchange, possibly behind a name lookup) on `ioc`, which the caller owns and
// may stop from another thread, for at most `timeout_ms` plus one second. Blocks the calling
// thread.
ExchangeOutcome RunExchange(boost::asio::io_context& ioc,
                            boost::asio::awaitable<HttpAnswer> exchange, TimeMs timeout_ms);

}  // namespace sandgate::notify
