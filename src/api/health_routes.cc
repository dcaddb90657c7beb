// GET /healthz and GET /readyz: no session.
#include <boost/json.hpp>

#include "api/responses.h"
#include "api/routes.h"
#include "metrics/sandgate_metrics.h"

namespace sandgate::api {

namespace json = boost::json;
using http::Request;
using http::RequestContext;
using http::bhttp::verb;

void RegisterHealthRoutes(http::Router& r, const Routes& api) {
  r.Add(verb::get, "/healthz", [](const Request&, RequestContext&) {
    return JsonResponse(200, json::object{{"status", "ok"}});
  });
  // Ready when the store answers reads, this node's token index may be trusted and the analysis
  // engine is loaded. Failing writes are reported ("degraded") but keep the node in: reads go on
  // (ARCHITECTURE.md, "When the disk fails").
  r.Add(verb::get, "/readyz", [api](const Request&, RequestContext&) {
    json::object checks;
    auto check = [&](const char* name, const char* state, const std::string& message) {
      json::object c{{"state", state}};
      if (!message.empty()) c["message"] = message;
      checks[name] = std::move(c);
    };
    const bool reads = api.services.store().Ping().ok();
    check("storeReads", reads ? "ok" : "failing", reads ? "" : "The store does not answer.");
    const int writes = metrics::LastStoreWrite();
    check("storeWrites",
          writes > 0    ? "ok"
          : writes == 0 ? "failing"
                        : "unknown",
          writes == 0 ? "The last store write failed; changes answer 503." : "");
    const bool trusted = api.services.store().IndexTrusted();
    check("indexTrusted", trusted ? "ok" : "failing",
          trusted ? "" : "This node has not caught up with the cluster's change log.");
    bool ready = reads && trusted;
    if (api.options.submissions) {
      const bool engine = api.options.submissions->engine_loaded();
      check("engineLoaded", engine ? "ok" : "failing",
            engine ? "" : "The analysis engine is not loaded.");
      ready = ready && engine;
    }
    json::object body{{"status", !ready        ? "not_ready"
                                 : writes == 0 ? "degraded"
                                               : "ready"},
                      {"checks", std::move(checks)}};
    if (!ready) {
      body["code"] = "NOT_READY";
      body["message"] = reads ? (trusted ? "The analysis engine is not loaded."
                                         : "This node has not caught up with the cluster's "
                                           "change log.")
                              : "The store does not answer.";
    }
    if (api.options.analysis_status) body["analysis"] = api.options.analysis_status();
    return JsonResponse(ready ? 200 : 503, body);
  });
}

}  // namespace sandgate::api
