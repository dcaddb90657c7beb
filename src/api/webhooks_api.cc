#include "api/webhooks_api.h"

#include <boost/json.hpp>
#include <charconv>

#include "api/json_body.h"
#include "common/secret.h"
#include "http/server.h"

namespace sandgate::api {

namespace json = boost::json;
using http::Request;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

Response Json(int status, const json::value& v) {
  Response res{static_cast<http::bhttp::status>(status), 11};
  res.set(http::bhttp::field::content_type, "application/json");
  res.body() = json::serialize(v);
  return res;
}

Response Error(const Status& s) {
  return http::JsonError(11, s.http_status(), s.code(), s.message());
}

json::value OptTime(const std::optional<TimeMs>& t) {
  if (!t) return nullptr;
  return json::value(FormatIso8601(*t));
}

json::object EndpointJson(const store::WebhookEndpoint& e) {
  json::array events;
  std::string_view rest = e.events;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    events.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return json::object{{"id", e.id},
                      {"url", e.url},
                      {"events", std::move(events)},
                      {"description", e.description},
                      {"scope", e.org_id ? "organization" : "provider"},
                      {"createdAt", FormatIso8601(e.created_at)},
                      {"failing", e.failing_since.has_value()},
                      {"failingSince", OptTime(e.failing_since)}};
}

// The stored body as JSON (written by notify::Body, so always an object).
json::value ParsedBody(const std::string& payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  return ec ? json::value(json::object{}) : v;
}

json::object DeliveryJson(const store::OutboxMessage& m) {
  return json::object{
      {"id", m.id},
      {"messageId", m.msg_id},
      {"event", m.event},
      {"state", m.state},
      {"attempts", m.attempts},
      {"createdAt", FormatIso8601(m.created_at)},
      {"nextAttemptAt",
       m.state == "pending" ? json::value(FormatIso8601(m.next_attempt_at)) : json::value(nullptr)},
      {"lastStatus", m.last_status == 0 ? json::value(nullptr) : json::value(m.last_status)},
      {"lastError", m.last_error},
      {"latencyMs", m.attempts == 0 ? json::value(nullptr) : json::value(m.last_latency_ms)},
      {"deliveredAt", OptTime(m.delivered_at)},
      {"body", ParsedBody(m.payload)}};
}

bool ParseId(const std::string* s, int64_t* out) {
  if (!s || s->empty() || s->size() > 18) return false;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), *out);
  return ec == std::errc() && p == s->data() + s->size() && *out > 0;
}

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
  json::object o = EndpointJson(e.endpoint);
  o["secret"] = e.secret;
  Response res = Json(status, o);
  Wipe(o["secret"].as_string());
  return res;
}

// Both scopes answer the same handlers: the organization's routes act on the caller's
// organization, the provider's on the provider-wide endpoints. Each route is written out in full
// (tests/blackbox/test_openapi.py finds the registrations in the source).
void RegisterAll(http::Router& r, service::WebhookService& w, const SessionWrap& wrap) {
  using Fn = std::function<Response(const Request&, RequestContext&, const service::Actor&,
                                    std::optional<domain::OrgId>, int64_t)>;
  // Create and edit resolve the URL's host (the SSRF check), which may wait for DNS: they run on
  // the blocking pool, never on an I/O thread.
  const http::RouteOptions blocking{64 * 1024, true};
  auto Add = [&](verb v, const char* path, bool provider, Fn fn, http::RouteOptions o = {}) {
    r.Add(v, path,
          wrap(
              [fn, provider](const Request& req, RequestContext& ctx, const auth::Authenticated&,
                             const service::Actor& a) -> Response {
                std::optional<domain::OrgId> scope;
                if (Status st = ScopeOf(a, provider, &scope); !st.ok()) return Error(st);
                int64_t id = 0;
                if (ctx.param("id") && !ParseId(ctx.param("id"), &id)) return NotFound();
                return fn(req, ctx, a, scope, id);
              },
              provider),
          o);
  };
  Fn list = [&w](const Request&, RequestContext&, const service::Actor& a,
                 std::optional<domain::OrgId> scope, int64_t) {
    auto l = w.List(a, scope);
    if (!l.ok()) return Error(l.status());
    json::array items;
    for (const auto& e : *l) items.push_back(EndpointJson(e));
    return Json(200, json::object{{"items", std::move(items)}});
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
    return Json(200, EndpointJson(*e));
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
    for (const auto& m : *l) items.push_back(DeliveryJson(m));
    return Json(200, json::object{{"items", std::move(items)}});
  };
  Fn test = [&w](const Request& req, RequestContext&, const service::Actor& a,
                 std::optional<domain::OrgId> scope, int64_t id) {
    auto body = ParseBody(req, {});
    if (!body.ok()) return Error(body.status());
    auto m = w.SendTest(a, scope, id);
    if (!m.ok()) return Error(m.status());
    return Json(202, DeliveryJson(*m));
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
  Add(verb::get, "/api/v1/sandbox/webhooks", false, list);
  Add(verb::get, "/api/v1/provider/webhooks", true, list);
  Add(verb::post, "/api/v1/sandbox/webhooks", false, create, blocking);
  Add(verb::post, "/api/v1/provider/webhooks", true, create, blocking);
  Add(verb::patch, "/api/v1/sandbox/webhooks/{id}", false, update, blocking);
  Add(verb::patch, "/api/v1/provider/webhooks/{id}", true, update, blocking);
  Add(verb::delete_, "/api/v1/sandbox/webhooks/{id}", false, remove);
  Add(verb::delete_, "/api/v1/provider/webhooks/{id}", true, remove);
  Add(verb::get, "/api/v1/sandbox/webhooks/{id}/deliveries", false, deliveries);
  Add(verb::get, "/api/v1/provider/webhooks/{id}/deliveries", true, deliveries);
  Add(verb::post, "/api/v1/sandbox/webhooks/{id}/test", false, test);
  Add(verb::post, "/api/v1/provider/webhooks/{id}/test", true, test);
  Add(verb::post, "/api/v1/sandbox/webhooks/{id}/secret", false, rotate);
  Add(verb::post, "/api/v1/provider/webhooks/{id}/secret", true, rotate);
}

}  // namespace

void RegisterWebhookRoutes(http::Router& r, service::WebhookService& w, const SessionWrap& wrap) {
  RegisterAll(r, w, wrap);
}

}  // namespace sandgate::api
