// Server: a Boost.Beast HTTP/1.1 server on Asio C++20 coroutines.
// - One coroutine per connection, on its own strand; a pool of `threads` runs the io_context.
// - Keep-alive; header, body and idle timeouts; header size cap (431); per-route body limit (413,
//   checked on Content-Length before the body is read).
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
#include "http/router.h"

namespace sandgate::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";
  int threads = 0;  // 0: one per core
  int blocking_threads = 2;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{60};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds drain_timeout{30};
  size_t max_header_bytes = 16 * 1024;
  bool handle_signals = true;
  // Called on SIGHUP (on the blocking pool), e.g. to reload the analysis engine.
  std::function<void()> on_reload;
};

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<const Router> router);
  ~Server();

  // Binds and listens. After OK, port() is the bound port (useful with port 0).
  Status Bind();
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
// A JSON error response {"code","message"} with the given status.
Response JsonError(unsigned version, int status, const std::string& code,
                   const std::string& message);

}  // namespace sandgate::http
