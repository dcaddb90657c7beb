// The organization's usage and reports, served with the Submission API only: GET
// /api/v1/sandbox/usage (the last 30 UTC days), GET /api/v1/sandbox/report/quota (Zscaler's quota
// report) and GET /api/v1/sandbox/report/{md5} (a submitted file's report, summary or full).
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "api/responses.h"
#include "api/routes.h"
#include "api/views.h"
#include "quota/quota.h"

namespace sandgate::api {

namespace json = boost::json;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

// GET /api/v1/sandbox/usage: the last 30 UTC days (oldest first, today last), today's refusals by
// kind, when the quota resets and how many more over-quota calls disable the token.
Response Usage(const Routes& api, const service::Actor& a) {
  domain::OrgId org;
  if (Status st = SessionGuard::OwnOrg(a, &org); !st.ok()) return Error(st);
  auto view = api.services.ReadToken(a, org);
  if (!view.ok()) return Error(view.status());
  const TimeMs now = api.services.clock().now();
  const int64_t today = quota::UtcDay(now);
  constexpr int64_t kDays = 30;
  std::vector<store::UsageRecord> rows(kDays);
  Status st = api.services.store().Read([&](store::Tx& tx) -> Status {
    for (int64_t i = 0; i < kDays; i++) {
      auto u = tx.GetUsage(org, today - (kDays - 1) + i);
      if (!u.ok()) return u.status();
      rows[i] = std::move(u).value();
    }
    return Status::Ok();
  });
  if (!st.ok()) return Error(st);
  auto used = api.options.submissions->quota().UsedToday(org, now);
  if (!used.ok()) return Error(used.status());
  const int64_t rate_limited = api.options.submissions->quota().RateLimitedToday(org, now);
  return JsonResponse(200, UsageJson(rows, today, used.value(), rate_limited, view->org, now));
}

Response QuotaReport(const Routes& api, const service::Actor& a) {
  domain::OrgId org;
  if (Status st = SessionGuard::OwnOrg(a, &org); !st.ok()) return Error(st);
  auto view = api.services.ReadToken(a, org);
  if (!view.ok()) return Error(view.status());
  const TimeMs now = api.services.clock().now();
  auto used = api.options.submissions->quota().UsedToday(org, now);
  if (!used.ok()) return Error(used.status());
  return JsonResponse(200, QuotaReportJson(now, used.value(), view->org.daily_allowance));
}

Response Report(const Routes& api, RequestContext& ctx, const service::Actor& a) {
  domain::OrgId org;
  if (Status st = SessionGuard::OwnOrg(a, &org); !st.ok()) return Error(st);
  const std::string& md5 = *ctx.param("md5");
  bool hex = md5.size() == 32 && std::all_of(md5.begin(), md5.end(), [](char c) {
               return std::isxdigit(static_cast<unsigned char>(c));
             });
  if (!hex) return Error(Status::Invalid("INVALID_MD5", "The MD5 is 32 hexadecimal characters."));
  std::string details = http::QueryParam(ctx.query, "details").value_or("summary");
  if (details != "summary" && details != "full")
    return Error(
        Status::Invalid("INVALID_PARAMETER", "Query parameter 'details' is summary or full."));
  auto rep = api.options.submissions->Report(org, md5);
  if (!rep.ok()) return Error(rep.status());
  if (!rep->has_value()) return JsonResponse(200, ReportNotFoundJson());
  return JsonResponse(200, ReportJson(**rep, details == "full"));
}

}  // namespace

void RegisterReportRoutes(http::Router& r, const Routes& api) {
  if (!api.options.submissions) return;
  const RouteGroup routes = api.guard.SignedIn(r);
  routes.Add(verb::get, "/api/v1/sandbox/usage",
             [api](auto&, auto&, auto&, auto& a) { return Usage(api, a); });
  // Before report/{md5}: the router answers the first route that matches.
  routes.Add(verb::get, "/api/v1/sandbox/report/quota",
             [api](auto&, auto&, auto&, auto& a) { return QuotaReport(api, a); });
  routes.Add(verb::get, "/api/v1/sandbox/report/{md5}",
             [api](auto&, RequestContext& ctx, auto&, auto& a) { return Report(api, ctx, a); });
}

}  // namespace sandgate::api
