// The HTTP server's request metrics, one slot per route of its router (labels: the route
// template, its method, the status class), looked up by the route's position in the router:
// no map, no lock on the request path. Unmatched requests (404, 405, 400) count under
// route="none", method="none".
#pragma once

#include <memory>
#include <vector>

#include "http/router.h"
#include "metrics/registry.h"

namespace sandgate::http {

// "/api/v1/provider/orgs/{id}": the pattern a route was registered with.
std::string RouteTemplate(const Route& r);

class HttpMetrics {
 public:
  // Creates (or finds, when another server shares the router) the series of every route.
  explicit HttpMetrics(const Router& router);
  // `route` may be null (no route matched).
  void Observe(const Route* route, int status, double seconds);

 private:
  struct Slot {
    metrics::Counter* by_class[6];  // 1xx..5xx, then anything else
    metrics::Histogram* duration;
  };
  const Route* first_ = nullptr;
  std::vector<Slot> slots_;  // one per route, then the unmatched slot
};

}  // namespace sandgate::http
