#include "http/metrics_endpoint.h"

#include <sodium.h>

#include "http/server.h"

namespace sandgate::http {

void RegisterMetricsEndpoint(Router& router, metrics::Registry& registry, std::string bearer) {
  router.Add(
      http::bhttp::verb::get, "/metrics",
      [&registry, bearer = std::move(bearer)](const http::Request& req, http::RequestContext&) {
        if (!bearer.empty()) {
          const std::string expected = "Bearer " + bearer;
          const auto given = req[http::bhttp::field::authorization];
          if (given.size() != expected.size() ||
              sodium_memcmp(given.data(), expected.data(), expected.size()) != 0) {
            http::Response res =
                http::JsonError(req.version(), 401, "UNAUTHENTICATED",
                                "The metrics need the bearer token (Authorization: Bearer ...).");
            res.set(http::bhttp::field::www_authenticate, "Bearer realm=\"metrics\"");
            return res;
          }
        }
        http::Response res{http::bhttp::status::ok, req.version()};
        res.set(http::bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = registry.Expose();
        return res;
      },
      // Blocking pool: a scrape samples the store (sandgate_store_up) and /proc.
      http::RouteOptions{64 * 1024, true});
}

}  // namespace sandgate::http
