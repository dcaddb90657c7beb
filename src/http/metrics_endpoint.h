// GET /metrics: the registry in the Prometheus text format. With a bearer token configured
// (`--metrics-bearer-file`), a request without `Authorization: Bearer <token>` gets 401.
#pragma once

#include <string>

#include "http/router.h"
#include "metrics/registry.h"

namespace sandgate::http {

// `bearer`: empty for no authentication. Registers GET /metrics on `router`.
void RegisterMetricsEndpoint(Router& router, metrics::Registry& registry, std::string bearer);

}  // namespace sandgate::http
