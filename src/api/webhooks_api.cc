#include "api/webhooks_api.h"

#include <boost/json.hpp>

#include "api/json_body.h"
#include "api/responses.h"
#include "api/views.h"
#include "common/secret.h"

namespace sandgate::api {

namespace json = boost::json;
using http::Request;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

Response NotFound() { return Error(Status::NotFound("NOT_FOUND", "No such webhook endpoint.")); }

// The organization routes act on the caller's organization; provider routes on nullopt.
Status ScopeOf(const service::Actor& a, bool provider, std::optional<domain::OrgId>* scope) {
  if (provider) {
    *scope = std::nullopt;
    return Status::Ok();
  }
  if (!a.caller.org_id)
    return Status::Forbidden("FORBIDDEN",
                             "Provider administrators manage provider-wide webhooks through "
                             "/api/v1/provider/webhooks.");
  *scope = a.caller.org_id;
  return Status::Ok();
}

Response WithSecret(int status, const service::EndpointWithSecret& e) {
  json::object o = WebhookEndpointJson(e.endpoint);
  o["secret"] = e.secret;
  Response res = JsonResponse(status, o);
  Wipe(o["secret"].as_string());
  return res;
}

// Both scopes answer the same handlers: the organization's routes act on the caller's
// organization, the provider's on the provider-wide endpoints. Each route is written out in full
// (tests/blackbox/test_openapi.py finds the registrations in the source).
void RegisterAll(http::Router& r, service::WebhookService& w, const SessionGuard& guard) {
  using Fn = std::function<Response(const Request&, RequestContext&, const service::Actor&,
                                    std::optional<domain::OrgId>, int64_t)>;
  // Create and edit resolve the URL's host (the SSRF check), which may wait for DNS: they run on
  // the blocking pool, never on an I/O thread.
  const http::RouteOptions blocking{64 * 1024, true};
  const RouteGroup sandbox = guard.SignedIn(r), provider = guard.Provider(r);
  auto Add = [&](verb v, const char* path, const RouteGroup& group, Fn fn,
                 http::RouteOptions o = {}) {
    const bool provider_scope = group.audience() == Audience::kProvider;
    group.Add(
        v, path,
        [fn, provider_scope](const Request& req, RequestContext& ctx, const auth::Authenticated&,
                             const service::Actor& a) -> Response {
          std::optional<domain::OrgId> scope;
          if (Status st = ScopeOf(a, provider_scope, &scope); !st.ok()) return Error(st);
          int64_t id = 0;
          if (ctx.param("id") && !ParseId(ctx.param("id"), &id)) return NotFound();
          return fn(req, ctx, a, scope, id);
        },
        o);
  };
  Fn list = [&w](const Request&, RequestContext&, const service::Actor& a,
                 std::optional<domain::OrgId> scope, int64_t) {
    auto l = w.List(a, scope);
    if (!l.ok()) return Error(l.status());
    json::array items;
    for (const auto& e : *l) items.push_back(WebhookEndpointJson(e));
    return JsonResponse(200, json::object{{"items", std::move(items)}});
  };
  Fn create = [&w](const Request& req, RequestContext&, const service::Actor& a,
                   std::optional<domain::OrgId> scope, int64_t) {
    auto body = ParseBody(req, {{"url", Field::Kind::kString, true},
                                {"events", Field::Kind::kStringArray, false},
                                {"description", Field::Kind::kString, false}});
    if (!body.ok()) return Error(body.status());
    service::EndpointInput in;
    in.url = std::string(body->at("url").as_string());
    if (auto* ev = body->if_contains("events")) {
      in.events.emplace();
      for (const auto& e : ev->as_array()) in.events->emplace_back(e.as_string());
    }
    if (auto* d = body->if_contains("description")) in.description = std::string(d->as_string());
    auto c = w.Create(a, scope, in);
    if (!c.ok()) return Error(c.status());
    Response res = WithSecret(201, *c);
    Wipe(c->secret);
    return res;
  };
  Fn update = [&w](const Request& req, RequestContext&, const service::Actor& a,
                   std::optional<domain::OrgId> scope, int64_t id) {
    auto body = ParseBody(req, {{"url", Field::Kind::kString, false},
                                {"events", Field::Kind::kStringArray, false},
                                {"description", Field::Kind::kString, false}});
    if (!body.ok()) return Error(body.status());
    service::EndpointPatch in;
    if (auto* u = body->if_contains("url")) in.url = std::string(u->as_string());
    if (auto* ev = body->if_contains("events")) {
      in.events.emplace();
      for (const auto& e : ev->as_array()) in.events->emplace_back(e.as_string());
    }
    if (auto* d = body->if_contains("description")) in.description = std::string(d->as_string());
    auto e = w.Update(a, scope, id, in);
    if (!e.ok()) return Error(e.status());
    return JsonResponse(200, WebhookEndpointJson(*e));
  };
  Fn remove = [&w](const Request& req, RequestContext&, const service::Actor& a,
                   std::optional<domain::OrgId> scope, int64_t id) {
    auto body = ParseBody(req, {});
    if (!body.ok()) return Error(body.status());
    if (Status st = w.Delete(a, scope, id); !st.ok()) return Error(st);
    return Response{http::bhttp::status::no_content, 11};
  };
  Fn deliveries = [&w](const Request&, RequestContext&, const service::Actor& a,
                       std::optional<domain::OrgId> scope, int64_t id) {
    auto l = w.Deliveries(a, scope, id, 50);
    if (!l.ok()) return Error(l.status());
    json::array items;
    for (const auto& m : *l) items.push_back(WebhookDeliveryJson(m));
    return JsonResponse(200, json::object{{"items", std::move(items)}});
  };
  Fn test = [&w](const Request& req, RequestContext&, const service::Actor& a,
                 std::optional<domain::OrgId> scope, int64_t id) {
    auto body = ParseBody(req, {});
    if (!body.ok()) return Error(body.status());
    auto m = w.SendTest(a, scope, id);
    if (!m.ok()) return Error(m.status());
    return JsonResponse(202, WebhookDeliveryJson(*m));
  };
  Fn rotate = [&w](const Request& req, RequestContext&, const service::Actor& a,
                   std::optional<domain::OrgId> scope, int64_t id) {
    auto body = ParseBody(req, {});
    if (!body.ok()) return Error(body.status());
    auto c = w.RotateSecret(a, scope, id);
    if (!c.ok()) return Error(c.status());
    Response res = WithSecret(200, *c);
    Wipe(c->secret);
    return res;
  };
  Add(verb::get, "/api/v1/sandbox/webhooks", sandbox, list);
  Add(verb::get, "/api/v1/provider/webhooks", provider, list);
  Add(verb::post, "/api/v1/sandbox/webhooks", sandbox, create, blocking);
  Add(verb::post, "/api/v1/provider/webhooks", provider, create, blocking);
  Add(verb::patch, "/api/v1/sandbox/webhooks/{id}", sandbox, update, blocking);
  Add(verb::patch, "/api/v1/provider/webhooks/{id}", provider, update, blocking);
  Add(verb::delete_, "/api/v1/sandbox/webhooks/{id}", sandbox, remove);
  Add(verb::delete_, "/api/v1/provider/webhooks/{id}", provider, remove);
  Add(verb::get, "/api/v1/sandbox/webhooks/{id}/deliveries", sandbox, deliveries);
  Add(verb::get, "/api/v1/provider/webhooks/{id}/deliveries", provider, deliveries);
  Add(verb::post, "/api/v1/sandbox/webhooks/{id}/test", sandbox, test);
  Add(verb::post, "/api/v1/provider/webhooks/{id}/test", provider, test);
  Add(verb::post, "/api/v1/sandbox/webhooks/{id}/secret", sandbox, rotate);
  Add(verb::post, "/api/v1/provider/webhooks/{id}/secret", provider, rotate);
}

}  // namespace

void RegisterWebhookRoutes(http::Router& r, service::WebhookService& w, const SessionGuard& guard) {
  RegisterAll(r, w, guard);
}

}  // namespace sandgate::api
