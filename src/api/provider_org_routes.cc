// The provider's organizations (provider only): GET|POST /api/v1/provider/orgs (the console's
// filtered, sorted list; create), GET /api/v1/provider/overview, GET|PATCH
// /api/v1/provider/orgs/{id}, POST .../subscription, POST .../token/disable and .../token/enable.
#include <algorithm>
#include <boost/json.hpp>
#include <mutex>

#include "api/json_body.h"
#include "api/responses.h"
#include "api/routes.h"
#include "api/views.h"
#include "quota/quota.h"

namespace sandgate::api {

namespace json = boost::json;
using domain::Action;
using http::Request;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

constexpr int64_t kExpiringWithinDays = 14;

// A row of the list or the overview, with the quota manager's counts once the Submission API is
// served.
json::object OrgRow(const Routes& api, const store::OrgRow& row, TimeMs now) {
  json::object o = OrgRowJson(row, now);
  if (api.options.submissions) {
    auto used = api.options.submissions->quota().UsedToday(row.org.id, now);
    o["usage"] = UsageSummaryJson(used.ok() ? used.value() : 0, row.org.daily_allowance);
    o["rateLimitedToday"] = api.options.submissions->quota().RateLimitedToday(row.org.id, now);
  }
  return o;
}

Response OrgResult(const Routes& api, const Result<service::TokenView>& r, int ok_status) {
  if (!r.ok()) return Error(r.status());
  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  WriteOrgMembers(w, r.value(), api.services.settings().base_url);
  WriteUsage(api, w, r.value());
  // The provider sees rate-limit refusals (bursts) apart from the daily quota and its threshold.
  if (api.options.submissions)
    w.Member("rateLimitedToday", api.options.submissions->quota().RateLimitedToday(
                                     r.value().org.id, api.services.clock().now()));
  w.EndObject();
  return JsonTextResponse(ok_status, std::move(body));
}

Response ListOrgs(const Routes& api, RequestContext& ctx, const service::Actor& a) {
  int64_t page = 1, size = 50;
  if (Status st = IntParam(ctx, "page", 1, 1'000'000, &page); !st.ok()) return Error(st);
  if (Status st = IntParam(ctx, "pageSize", 1, 500, &size); !st.ok()) return Error(st);
  std::string search = http::QueryParam(ctx.query, "search").value_or("");
  if (search.size() > 200)
    return Error(Status::Invalid("INVALID_PARAMETER", "The search is at most 200 characters."));
  const TimeMs now = api.services.clock().now();
  store::OrgQuery q;
  q.search = search;
  q.now = now;
  q.day = quota::UtcDay(now);
  q.expiring_before = now + kExpiringWithinDays * 86'400'000LL;
  q.offset = (page - 1) * size;
  q.limit = size;
  q.sort = store::OrgSort::kId;  // the order before sorting existed
  static const std::pair<std::string_view, store::OrgFilter> kFilters[] = {
      {"all", store::OrgFilter::kAll},
      {"enabled", store::OrgFilter::kEnabled},
      {"disabled", store::OrgFilter::kDisabled},
      {"providerDisabled", store::OrgFilter::kProviderDisabled},
      {"expired", store::OrgFilter::kExpired},
      {"noSubscription", store::OrgFilter::kNoSubscription},
      {"expiring", store::OrgFilter::kExpiring},
      {"over80", store::OrgFilter::kOver80},
      {"nearThreshold", store::OrgFilter::kNearThreshold},
      {"noToken", store::OrgFilter::kNoToken},
  };
  if (auto v = http::QueryParam(ctx.query, "filter"); v && !v->empty()) {
    auto it = std::find_if(std::begin(kFilters), std::end(kFilters),
                           [&](const auto& f) { return f.first == *v; });
    if (it == std::end(kFilters))
      return Error(
          Status::Invalid("INVALID_PARAMETER",
                          "The filter is one of all, enabled, disabled, providerDisabled, expired, "
                          "noSubscription, expiring, over80, nearThreshold, noToken."));
    q.filter = it->second;
  }
  if (auto v = http::QueryParam(ctx.query, "reason"); v && !v->empty()) {
    q.reason = domain::ParseDisableReason(*v);
    if (!q.reason)
      return Error(Status::Invalid("INVALID_PARAMETER",
                                   "The reason is QUOTA_THRESHOLD, TERMS_VIOLATION or OTHER."));
    if (q.filter != store::OrgFilter::kProviderDisabled)
      return Error(
          Status::Invalid("INVALID_PARAMETER", "The reason goes with filter=providerDisabled."));
  }
  if (auto v = http::QueryParam(ctx.query, "sort"); v && !v->empty()) {
    std::string_view key = *v;
    q.descending = !key.empty() && key.front() == '-';
    if (q.descending) key.remove_prefix(1);
    if (key == "name")
      q.sort = store::OrgSort::kName;
    else if (key == "id")
      q.sort = store::OrgSort::kId;
    else if (key == "usage")
      q.sort = store::OrgSort::kUsage;
    else if (key == "endsAt")
      q.sort = store::OrgSort::kEndsAt;
    else
      return Error(Status::Invalid(
          "INVALID_PARAMETER",
          "The sort is name, id, usage or endsAt, with a leading - for descending order."));
  }
  auto r = api.services.QueryOrgs(a, q);
  if (!r.ok()) return Error(r.status());
  json::array items;
  for (const auto& row : r->items) items.push_back(OrgRow(api, row, now));
  json::object out;
  out["items"] = std::move(items);
  out["total"] = r->total;
  out["page"] = page;
  out["pageSize"] = size;
  return JsonResponse(200, out);
}

// The overview's totals of the 13 days before today. Those days change no more (submissions count
// on the current UTC day): their totals, a scan over every organization's usage rows, are kept for
// a few minutes, and only today is summed on each call.
class Overview {
 public:
  Response Get(const Routes& api, const service::Actor& a) {
    constexpr int kDays = 14, kTop = 10;
    constexpr TimeMs kPastDaysTtl = 5 * 60'000;
    const TimeMs now = api.services.clock().now();
    const int64_t day = quota::UtcDay(now);
    std::vector<store::OrgOverviewRecord::Day> past;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (past_days_day_ == day && now >= past_days_at_ && now - past_days_at_ < kPastDaysTtl)
        past = past_days_;
    }
    const bool cached = past.size() == kDays - 1;
    auto r = api.services.OrgOverview(a, now, day, now + kExpiringWithinDays * 86'400'000LL,
                                      cached ? 1 : kDays, kTop);
    if (!r.ok()) return Error(r.status());
    auto& v = r.value();
    if (cached) {
      past.insert(past.end(), v.days.begin(), v.days.end());
      v.days = std::move(past);
    } else if (v.days.size() == kDays) {
      std::lock_guard<std::mutex> lock(mu_);
      past_days_.assign(v.days.begin(), v.days.end() - 1);
      past_days_day_ = day;
      past_days_at_ = now;
    }
    json::array top;
    for (const auto& row : v.top) top.push_back(OrgRow(api, row, now));
    return JsonResponse(200, OverviewJson(v, now, kExpiringWithinDays, std::move(top)));
  }

 private:
  std::mutex mu_;
  std::vector<store::OrgOverviewRecord::Day> past_days_;  // as of past_days_at_
  int64_t past_days_day_ = -1;
  TimeMs past_days_at_ = 0;
};

// PATCH /api/v1/provider/orgs/{id}.
Response PatchOrg(const Routes& api, const Request& req, RequestContext& ctx,
                  const service::Actor& a) {
  domain::OrgId org;
  if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
  auto body = ParseBody(req, {{"name", Field::Kind::kString, false},
                              {"dailyAllowance", Field::Kind::kInteger, false},
                              {"ratePerSecond", Field::Kind::kInteger, false},
                              {"ratePerHour", Field::Kind::kInteger, false},
                              {"disableThreshold", Field::Kind::kInteger, false},
                              {"leakPolicy", Field::Kind::kString, false}});
  if (!body.ok()) return Error(body.status());
  service::OrgPatch p;
  if (auto* v = body->if_contains("leakPolicy")) {
    p.leak_policy = domain::ParseLeakPolicy(v->as_string());
    if (!p.leak_policy)
      return Error(
          Status::Invalid("INVALID_FIELD", "Field 'leakPolicy' must be REVOKE or NOTIFY."));
  }
  if (auto* v = body->if_contains("name")) p.name = std::string(v->as_string());
  auto num = [&](const char* k, std::optional<int64_t>& out) {
    if (auto* v = body->if_contains(k)) out = v->to_number<int64_t>();
  };
  num("dailyAllowance", p.daily_allowance);
  num("ratePerSecond", p.rate_per_second);
  num("ratePerHour", p.rate_per_hour);
  num("disableThreshold", p.disable_threshold);
  return OrgResult(api, api.services.PatchOrg(a, org, p), 200);
}

// POST /api/v1/provider/orgs/{id}/subscription.
Response ChangeSubscription(const Routes& api, const Request& req, RequestContext& ctx,
                            const service::Actor& a) {
  domain::OrgId org;
  if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
  auto body = ParseBody(req, {{"action", Field::Kind::kString, true},
                              {"endsAt", Field::Kind::kNullableString, false}});
  if (!body.ok()) return Error(body.status());
  std::string action(body->at("action").as_string());
  Action act;
  if (action == "activate")
    act = Action::kActivate;
  else if (action == "expire")
    act = Action::kExpire;
  else if (action == "renew")
    act = Action::kRenew;
  else
    return Error(
        Status::Invalid("INVALID_FIELD", "Field 'action' must be activate, expire or renew."));
  std::optional<TimeMs> ends;
  if (auto* v = body->if_contains("endsAt"); v && v->is_string()) {
    TimeMs t;
    if (!ParseIso8601(std::string(v->as_string()), &t))
      return Error(Status::Invalid("INVALID_FIELD",
                                   "Field 'endsAt' must be a time like 2027-01-31T00:00:00Z."));
    ends = t;
  }
  return OrgResult(api, api.services.ChangeSubscription(a, org, act, ends), 200);
}

// POST /api/v1/provider/orgs/{id}/token/disable.
Response DisableToken(const Routes& api, const Request& req, RequestContext& ctx,
                      const service::Actor& a) {
  domain::OrgId org;
  if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
  auto body = ParseBody(
      req, {{"reason", Field::Kind::kString, true}, {"note", Field::Kind::kString, false}});
  if (!body.ok()) return Error(body.status());
  auto reason = domain::ParseDisableReason(body->at("reason").as_string());
  if (!reason)
    return Error(Status::Invalid(
        "INVALID_FIELD", "Field 'reason' must be QUOTA_THRESHOLD, TERMS_VIOLATION or OTHER."));
  std::string note;
  if (auto* v = body->if_contains("note")) note = std::string(v->as_string());
  return OrgResult(api, api.services.DisableToken(a, org, *reason, note), 200);
}

}  // namespace

void RegisterProviderOrgRoutes(http::Router& r, const Routes& api) {
  const RouteGroup provider = api.guard.Provider(r);
  provider.Add(verb::get, "/api/v1/provider/orgs",
               [api](auto&, RequestContext& ctx, auto&, auto& a) { return ListOrgs(api, ctx, a); });
  auto overview = std::make_shared<Overview>();
  provider.Add(verb::get, "/api/v1/provider/overview",
               [api, overview](auto&, auto&, auto&, auto& a) { return overview->Get(api, a); });
  provider.Add(verb::post, "/api/v1/provider/orgs",
               [api](const Request& req, RequestContext&, auto&, auto& a) {
                 auto body = ParseBody(req, {{"name", Field::Kind::kString, true}});
                 if (!body.ok()) return Error(body.status());
                 return OrgResult(
                     api, api.services.CreateOrg(a, std::string(body->at("name").as_string())),
                     201);
               });
  provider.Add(verb::get, "/api/v1/provider/orgs/{id}",
               [api](auto&, RequestContext& ctx, auto&, auto& a) {
                 domain::OrgId org;
                 if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
                 return OrgResult(api, api.services.ReadToken(a, org), 200);
               });
  provider.Add(verb::patch, "/api/v1/provider/orgs/{id}",
               [api](const Request& req, RequestContext& ctx, auto&, auto& a) {
                 return PatchOrg(api, req, ctx, a);
               });
  provider.Add(verb::post, "/api/v1/provider/orgs/{id}/subscription",
               [api](const Request& req, RequestContext& ctx, auto&, auto& a) {
                 return ChangeSubscription(api, req, ctx, a);
               });
  provider.Add(verb::post, "/api/v1/provider/orgs/{id}/token/disable",
               [api](const Request& req, RequestContext& ctx, auto&, auto& a) {
                 return DisableToken(api, req, ctx, a);
               });
  provider.Add(verb::post, "/api/v1/provider/orgs/{id}/token/enable",
               [api](const Request& req, RequestContext& ctx, auto&, auto& a) {
                 domain::OrgId org;
                 if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
                 auto body = ParseBody(req, {});
                 if (!body.ok()) return Error(body.status());
                 return OrgResult(api, api.services.EnableToken(a, org), 200);
               });
}

}  // namespace sandgate::api
