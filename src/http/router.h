// Router: maps (method, path) to a handler. Patterns are literal segments and `{name}` captures,
// e.g. "/api/v1/provider/orgs/{id}/users/{uid}". Unknown path -> 404; known path with another
// method -> 405 with the Allow header. Immutable after set-up; Find() is thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sandgate::http {

namespace bhttp = boost::beast::http;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

// What a handler knows about the request besides the message itself.
struct RequestContext {
  std::string client_addr;
  // The client's address group for per-address limits and throttles: the IPv4 address, or the
  // /64 of an IPv6 address (see AddressKey in connection_limits.h).
  std::string client_key;
  bool tls = false;
  std::string path;   // percent-decoded path, without the query
  std::string query;  // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> params;  // path captures
  boost::asio::thread_pool* blocking = nullptr;  // for work that must not stall the I/O threads
  std::string request_id;                        // X-Request-Id of this request (http/request_id.h)
  int64_t org_id = 0;  // the organization acting, once known (for the access line); 0: none
  const std::string* param(std::string_view name) const {
    for (const auto& p : params)
      if (p.first == name) return &p.second;
    return nullptr;
  }
};

using Handler = std::function<Response(const Request&, RequestContext&)>;
using RequestHeader = bhttp::request_header<>;

// Streams a request body to a handler without holding it in memory. Not thread-safe: one reader
// per request, used from the request's coroutine only.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads up to n bytes of the body (chunked encoding already removed). 0 means the body ended.
  // Errors: 413 PAYLOAD_TOO_LARGE past the route's limit; 499 CLIENT_GONE when the client
  // disconnected or timed out (no response can be sent then).
  virtual boost::asio::awaitable<Result<size_t>> Read(char* buf, size_t n) = 0;
  virtual std::optional<uint64_t> content_length() const = 0;
  virtual bool done() const = 0;
};
// A handler that reads the body itself (uploads). It may answer before reading the body (e.g. 401);
// the server then closes the connection after the response.
using StreamHandler = std::function<boost::asio::awaitable<Response>(const RequestHeader&,
                                                                     RequestContext&, BodyReader&)>;

struct RouteOptions {
  size_t body_limit = 64 * 1024;  // larger bodies get 413 before they are read
  bool blocking = false;          // runs on the blocking pool (password hashing)
  // Errors the server itself answers (413, ...) carry a numeric "code" equal to the HTTP status,
  // as Zscaler's Submission API does, instead of an UPPER_SNAKE code.
  bool numeric_error_codes = false;
};

struct Route {
  bhttp::verb method;
  std::vector<std::string> segments;
  Handler handler;
  RouteOptions options;
  StreamHandler stream_handler;  // set instead of handler for streaming routes
};

class Router {
 public:
  void Add(bhttp::verb method, std::string_view pattern, Handler h, RouteOptions o = {});
  void AddStream(bhttp::verb method, std::string_view pattern, StreamHandler h, RouteOptions o);

  struct Match {
    const Route* route = nullptr;  // set when found
    int status = 0;                // 404 or 405 when route is null
    std::string allow;             // for 405
    std::vector<std::pair<std::string, std::string>> params;
  };
  Match Find(bhttp::verb method, std::string_view path) const;
  // Every route in registration order (a route's position is stable once the server runs).
  const std::vector<Route>& routes() const { return routes_; }

  // Runs for a request to a buffered route (Add) that asks for `Expect: 100-continue`, before the
  // server sends `100 Continue`: a response it returns (e.g. 401 for a request without a session)
  // is the final answer, sent without 100 and without reading the body (RFC 9110 10.1.1); nullopt
  // goes on as usual. It sees the header and ctx.path, ctx.client_addr (no path captures yet).
  using BeforeContinue =
      std::function<std::optional<Response>(const RequestHeader&, const RequestContext&)>;
  void SetBeforeContinue(BeforeContinue f) { before_continue_ = std::move(f); }
  const BeforeContinue& before_continue() const { return before_continue_; }

 private:
  void IndexExactPaths();
  // Transparent hashing, so that Find looks a path up without copying it.
  struct PathHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::vector<Route> routes_;
  // Paths that only parameter-free routes match, to those routes (indices into routes_, in
  // registration order): Find answers them without splitting the path or scanning every route.
  std::unordered_map<std::string, std::vector<size_t>, PathHash, std::equal_to<>> exact_;
  BeforeContinue before_continue_;
};

// Splits "/a/b?c=d" into a percent-decoded path and the raw query. False on a malformed target.
bool SplitTarget(std::string_view target, std::string* path, std::string* query);
// The value of `name` in a query string (percent-decoded, '+' as space); nullopt if absent.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);
// How many times `name` (compared after percent-decoding) occurs in a query string.
size_t QueryParamCount(std::string_view query, std::string_view name);

}  // namespace sandgate::http
