// Router: maps (method, path) to a handler. Patterns are literal segments and `{name}` captures,
// e.g. "/api/v1/provider/orgs/{id}/users/{uid}". Unknown path -> 404; known path with another
// method -> 405 with the Allow header. Immutable after set-up; Find() is thread-safe.
#pragma once

#include <boost/beast/http.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandgate::http {

namespace bhttp = boost::beast::http;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

// What a handler knows about the request besides the message itself.
struct RequestContext {
  std::string client_addr;
  bool tls = false;
  std::string path;   // percent-decoded path, without the query
  std::string query;  // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> params;  // path captures
  const std::string* param(std::string_view name) const {
    for (const auto& p : params)
      if (p.first == name) return &p.second;
    return nullptr;
  }
};

using Handler = std::function<Response(const Request&, RequestContext&)>;

struct RouteOptions {
  size_t body_limit = 64 * 1024;  // larger bodies get 413 before they are read
  bool blocking = false;          // runs on the blocking pool (password hashing)
};

struct Route {
  bhttp::verb method;
  std::vector<std::string> segments;
  Handler handler;
  RouteOptions options;
};

class Router {
 public:
  void Add(bhttp::verb method, std::string_view pattern, Handler h, RouteOptions o = {});

  struct Match {
    const Route* route = nullptr;  // set when found
    int status = 0;                // 404 or 405 when route is null
    std::string allow;             // for 405
    std::vector<std::pair<std::string, std::string>> params;
  };
  Match Find(bhttp::verb method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
};

// Splits "/a/b?c=d" into a percent-decoded path and the raw query. False on a malformed target.
bool SplitTarget(std::string_view target, std::string* path, std::string* query);
// The value of `name` in a query string (percent-decoded, '+' as space); nullopt if absent.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);

}  // namespace sandgate::http
