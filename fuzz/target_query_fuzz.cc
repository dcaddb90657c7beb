// libFuzzer target: request-target and query-string parsing (src/http/router): SplitTarget (path
// percent-decoding, control characters), QueryParam (every parameter name the API and the
// Submission API read) and Router::Find over the real route patterns.
// Input: the request target as sent on the request line, e.g. "/zscsb/submit?api_token=...".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/router.h"

using namespace sandgate;
namespace bhttp = boost::beast::http;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// Every route pattern Sandgate registers (src/api/*_routes.cc, src/submission, src/web/portal.cc).
constexpr struct {
  bhttp::verb method;
  const char* pattern;
} kRoutes[] = {
    {bhttp::verb::get, "/healthz"},
    {bhttp::verb::get, "/readyz"},
    {bhttp::verb::post, "/api/v1/authenticatedSession"},
    {bhttp::verb::get, "/api/v1/authenticatedSession"},
    {bhttp::verb::delete_, "/api/v1/authenticatedSession"},
    {bhttp::verb::get, "/api/v1/sandbox/token"},
    {bhttp::verb::get, "/api/v1/sandbox/token/reveal"},
    {bhttp::verb::post, "/api/v1/sandbox/token"},
    {bhttp::verb::put, "/api/v1/sandbox/token"},
    {bhttp::verb::delete_, "/api/v1/sandbox/token"},
    {bhttp::verb::get, "/api/v1/auditLog"},
    {bhttp::verb::get, "/api/v1/provider/orgs"},
    {bhttp::verb::post, "/api/v1/provider/orgs"},
    {bhttp::verb::get, "/api/v1/provider/orgs/{id}"},
    {bhttp::verb::patch, "/api/v1/provider/orgs/{id}"},
    {bhttp::verb::post, "/api/v1/provider/orgs/{id}/subscription"},
    {bhttp::verb::post, "/api/v1/provider/orgs/{id}/token/disable"},
    {bhttp::verb::post, "/api/v1/provider/orgs/{id}/token/enable"},
    {bhttp::verb::get, "/api/v1/provider/orgs/{id}/users"},
    {bhttp::verb::post, "/api/v1/provider/orgs/{id}/users"},
    {bhttp::verb::patch, "/api/v1/provider/orgs/{id}/users/{uid}"},
    {bhttp::verb::post, "/api/v1/provider/orgs/{id}/users/{uid}/password"},
    {bhttp::verb::delete_, "/api/v1/provider/orgs/{id}/users/{uid}"},
    {bhttp::verb::get, "/api/v1/sandbox/report/quota"},
    {bhttp::verb::get, "/api/v1/sandbox/report/{md5}"},
    {bhttp::verb::get, "/api/v1/provider/auditLog"},
    {bhttp::verb::post, "/zscsb/submit"},
    {bhttp::verb::post, "/zscsb/discan"},
    {bhttp::verb::get, "/static/{file}"},
    {bhttp::verb::get, "/"},
    {bhttp::verb::get, "/admin/sandbox-api-token"},
    {bhttp::verb::get, "/provider"},
    {bhttp::verb::get, "/provider/audit"},
    {bhttp::verb::get, "/provider/orgs/{id}"},
};

const char* const kParams[] = {"api_token", "force", "details",  "search", "page",
                               "pageSize",  "limit", "beforeId", "from",   "to",
                               "action",    "orgId", "actor"};

const http::Router& TheRouter() {
  static const http::Router* r = [] {
    auto* router = new http::Router();
    for (const auto& rt : kRoutes)
      router->Add(rt.method, rt.pattern,
                  [](const http::Request&, http::RequestContext&) { return http::Response{}; });
    return router;
  }();
  return *r;
}

size_t Captures(const std::string& pattern) {
  size_t n = 0;
  for (char c : pattern) n += c == '{';
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  std::string path, query;
  if (!http::SplitTarget(target, &path, &query)) return 0;
  for (char c : path) Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  Check(query.size() < target.size());
  for (const char* name : kParams) {
    auto v = http::QueryParam(query, name);
    if (v) Check(v->size() <= query.size());
  }
  // The raw query as a parameter name too (odd names, '%', '+', '=').
  (void)http::QueryParam(query, query.substr(0, query.find('=')));
  for (auto method : {bhttp::verb::get, bhttp::verb::post, bhttp::verb::put, bhttp::verb::patch,
                      bhttp::verb::delete_, bhttp::verb::head}) {
    auto m = TheRouter().Find(method, path);
    if (m.route) {
      Check(m.route->method == method && m.status == 0);
      std::string pattern;
      for (const auto& s : m.route->segments) pattern += "/" + s;
      Check(m.params.size() == Captures(pattern));
    } else {
      Check(m.status == 404 || m.status == 405);
      Check((m.status == 405) == !m.allow.empty());
    }
  }
  return 0;
}
