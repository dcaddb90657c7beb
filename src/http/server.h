// Server: a Boost.Beast HTTP/1.1 server on Asio C++20 coroutines.
// - One coroutine per connection, on one of `threads` I/O threads, each with its own io_context;
//   the thread calling Run accepts connections and hands them out in turn.
// - Keep-alive; header, body and idle timeouts; header size cap (431); per-route body limit (413,
//   checked on Content-Length before the body is read).
// - Timeouts bound whole operations, never single reads: a header must be complete within
//   `header_timeout` of its first byte (of the connection, for the first request); an idle
//   keep-alive connection waits `idle_timeout` for the next request's first byte; a buffered body
//   must arrive within `body_timeout`; a streamed body within `body_timeout` plus one second per
//   `min_body_rate` bytes received (and no pause longer than `body_timeout`). Dripping a byte a
//   second buys nothing. Each I/O thread enforces its connections' deadlines with one sweep
//   (connection_deadlines.h), at most 250 ms late; no deadline runs while a handler does.
// - Caps on open connections, overall and per client address (ConnectionLimits): a connection
//   over a cap is closed before a byte is read (plain HTTP: after a minimal 503).
// - The request filter (request_filter.h) refuses ambiguous framing (smuggling) and obsolete
//   header syntax before routing.
// - Optional TLS (1.2 and later, OpenSSL through asio::ssl): every response then carries
//   Strict-Transport-Security.
// - Handlers marked blocking run on a separate pool so password hashing never stalls the I/O
// threads.
// - Graceful stop on SIGTERM/SIGINT or Stop(): stop accepting, let in-flight requests finish (up to
//   `drain_timeout`), then return from Run().
// - Every response carries the security headers; every request is access-logged without its query
//   string (the Submission API token travels there).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/request_id.h"
#include "http/router.h"

namespace sandgate::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";
  int threads = 0;  // 0: one per core
  // Threads for blocking work (scans, password hashing, store writes that wait on fsync).
  // 0: eight per core (at most 256), so that scans keep the cores busy while other threads wait
  // on the disk (fsync of a group commit, spool files).
  int blocking_threads = 0;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{60};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds drain_timeout{30};
  size_t max_header_bytes = 16 * 1024;
  uint64_t min_body_rate = 1024;  // bytes/s, see above
  size_t max_connections = 10000;
  size_t max_connections_per_address = 256;
  // Both set: serve HTTPS with this PEM certificate chain and PEM private key.
  std::string tls_cert;
  std::string tls_key;
  bool handle_signals = true;
  // Proxies whose X-Request-Id and X-Forwarded-For are believed (http/request_id.h).
  std::vector<Cidr> trusted_proxies;
  // Count requests into the metrics registry (metrics/registry.h); off: not a single counter.
  bool metrics = true;
  // Called on SIGHUP (on the blocking pool), e.g. to reload the analysis engine.
  std::function<void()> on_reload;
  // Called once when a graceful stop begins (signal or Stop()), e.g. to tell systemd STOPPING=1.
  std::function<void()> on_stop;
};

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<const Router> router);
  ~Server();

  // Loads the TLS certificate and key (when set), binds and listens. After OK, port() is the bound
  // port (useful with port 0).
  Status Bind();
  bool tls() const;
  uint16_t port() const;
  std::string address() const;  // "127.0.0.1:PORT"
  // Serves until stopped; returns after a graceful drain.
  void Run();
  // Thread-safe; may be called from a signal-handling context of Asio or another thread.
  void Stop();

 private:
  void WaitForSignal();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Adds the headers every response carries (security headers, Cache-Control for the API).
void AddCommonHeaders(Response& res);
// The same headers as ready-made wire lines ("Name: value\r\n" each), for SerializeResponse's
// `more_lines`: Cache-Control only when `cache_control` (the response has none of its own), and
// Strict-Transport-Security when `tls`. The server writes these instead of setting the fields on
// every response: handlers must not set the five security headers themselves.
std::string CommonHeaderLines(bool tls, bool cache_control);
// Writes `res` as it goes on the wire (status line, fields in order, `more_lines` verbatim, blank
// line, body) into `out`, for a single write; the fields must already be final (prepare_payload,
// keep_alive). Byte-for-byte what Beast's serializer writes for a string body (with the lines of
// `more_lines` as the last fields), at a fraction of its cost.
void SerializeResponse(const Response& res, std::string& out, std::string_view more_lines = {});
// Adds "requestId" to a JSON error body (an object answered with status >= 400), so a user can
// quote it; any other response is left alone.
void AddRequestIdToError(Response& res, const std::string& request_id);
// A JSON error response {"code","message"} with the given status.
Response JsonError(unsigned version, int status, const std::string& code,
                   const std::string& message);

}  // namespace sandgate::http
