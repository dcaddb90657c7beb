// The audit log, newest first: GET /api/v1/auditLog (the caller's organization's records) and GET
// /api/v1/provider/auditLog (every record, filterable by organization and actor, with the
// organizations' names; provider only).
#include <boost/json.hpp>
#include <map>

#include "api/responses.h"
#include "api/routes.h"
#include "api/views.h"

namespace sandgate::api {

namespace json = boost::json;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

Response AuditList(const Routes& api, RequestContext& ctx, const service::Actor& a, bool provider) {
  store::AuditFilter f;
  int64_t limit = 100, before = 0, org = 0;
  if (Status st = IntParam(ctx, "limit", 1, 1000, &limit); !st.ok()) return Error(st);
  if (Status st = IntParam(ctx, "beforeId", 1, INT64_MAX, &before); !st.ok()) return Error(st);
  if (Status st = TimeParam(ctx, "from", &f.from); !st.ok()) return Error(st);
  if (Status st = TimeParam(ctx, "to", &f.to); !st.ok()) return Error(st);
  f.limit = static_cast<int>(limit);
  if (before) f.before_id = before;
  if (auto v = http::QueryParam(ctx.query, "action"); v && !v->empty()) f.action = *v;
  if (provider) {
    if (Status st = IntParam(ctx, "orgId", 1, INT64_MAX, &org); !st.ok()) return Error(st);
    if (org) f.org_id = org;
    if (auto v = http::QueryParam(ctx.query, "actor"); v && !v->empty()) f.actor = *v;
  }
  auto r = api.services.ListAudit(a, f);
  if (!r.ok()) return Error(r.status());
  json::array items;
  std::map<domain::OrgId, std::string> names;
  if (provider) {
    std::vector<domain::OrgId> ids;
    for (const auto& rec : r.value())
      if (rec.org_id) ids.push_back(*rec.org_id);
    auto n = api.services.OrgNames(a, ids);
    if (!n.ok()) return Error(n.status());
    names = std::move(n).value();
  }
  for (const auto& rec : r.value()) {
    json::object o = AuditJson(rec);
    if (provider) {
      auto it = rec.org_id ? names.find(*rec.org_id) : names.end();
      o["orgName"] = it == names.end() ? json::value(nullptr) : json::value(it->second);
    }
    items.push_back(std::move(o));
  }
  json::object out;
  out["items"] = std::move(items);
  return JsonResponse(200, out);
}

}  // namespace

void RegisterAuditRoutes(http::Router& r, const Routes& api) {
  api.guard.SignedIn(r).Add(
      verb::get, "/api/v1/auditLog",
      [api](auto&, RequestContext& ctx, auto&, auto& a) { return AuditList(api, ctx, a, false); });
  api.guard.Provider(r).Add(
      verb::get, "/api/v1/provider/auditLog",
      [api](auto&, RequestContext& ctx, auto&, auto& a) { return AuditList(api, ctx, a, true); });
}

}  // namespace sandgate::api
