// /api/v1/sandbox/token: the caller's organization's token (GET reads, POST adds, PUT regenerates,
// DELETE deletes; /reveal shows the whole token, audited). Provider administrators have no
// organization: 403 FORBIDDEN.
#include <boost/json.hpp>

#include "api/json_body.h"
#include "api/responses.h"
#include "api/routes.h"
#include "api/views.h"
#include "common/secret.h"

namespace sandgate::api {

namespace json = boost::json;
using http::Request;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

// The view's members of the token page (ReadTokenPage's drawing function): no secret (the token
// only masked).
std::string DrawTokenViewMembers(const service::TokenView& v, domain::Role role,
                                 const service::Settings& settings) {
  std::string members;
  members.reserve(768);
  JsonWriter w(members);
  WriteTokenViewMembers(w, v, settings.base_url, role == domain::Role::kProviderAdmin);
  return members;
}

// The token page's answer: the view's members (drawn), today's usage and the support contact in
// effect, written straight into the body (JsonWriter: no tree of values per page).
Response TokenPage(const Routes& api, std::string_view members, const service::TokenView& v,
                   int ok_status) {
  // On the organization's token page, when any part of the contact in effect is set.
  auto contact = api.services.SupportContact();
  if (!contact.ok()) return Error(contact.status());
  std::string body;
  body.reserve(members.size() + 256);
  JsonWriter w(body);
  w.BeginObject().Members(members);
  WriteUsage(api, w, v);
  if (HasContactParts((*contact)->contact)) {
    w.Key("supportContact").BeginObject();
    WriteContactParts(w, (*contact)->contact);
    w.EndObject();
  }
  w.EndObject();
  return JsonTextResponse(ok_status, std::move(body));
}

// The page after a change to the token.
Response TokenResult(const Routes& api, const Result<service::TokenView>& r, int ok_status,
                     const service::Actor& a) {
  if (!r.ok()) return Error(r.status());
  return TokenPage(api, DrawTokenViewMembers(r.value(), a.caller.role, api.services.settings()),
                   r.value(), ok_status);
}

using TokenChange = std::function<Response(const service::Actor&, domain::OrgId)>;

// A change to the caller's token: an empty body (strict JSON), then the caller's organization.
AuthedHandler Modify(TokenChange op) {
  return [op = std::move(op)](const Request& req, RequestContext&, const auth::Authenticated&,
                              const service::Actor& a) {
    auto body = ParseBody(req, {});
    if (!body.ok()) return Error(body.status());
    domain::OrgId org;
    if (Status st = SessionGuard::OwnOrg(a, &org); !st.ok()) return Error(st);
    return op(a, org);
  };
}

}  // namespace

void RegisterTokenRoutes(http::Router& r, const Routes& api) {
  const RouteGroup routes = api.guard.SignedIn(r);
  routes.Add(verb::get, "/api/v1/sandbox/token", [api](auto&, auto&, auto&, auto& a) {
    domain::OrgId org;
    if (Status st = SessionGuard::OwnOrg(a, &org); !st.ok()) return Error(st);
    // Drawn once per snapshot and kind of reader (Services::ReadTokenPage).
    auto page = api.services.ReadTokenPage(a, org, &DrawTokenViewMembers);
    if (!page.ok()) return Error(page.status());
    return TokenPage(api, (*page)->text, (*page)->view, 200);
  });
  routes.Add(verb::get, "/api/v1/sandbox/token/reveal", [api](auto&, auto&, auto&, auto& a) {
    domain::OrgId org;
    if (Status st = SessionGuard::OwnOrg(a, &org); !st.ok()) return Error(st);
    auto t = api.services.RevealToken(a, org);
    if (!t.ok()) return Error(t.status());
    WipeOnExit wipe_token(t.value());
    // Written at its final size (base62: nothing to escape), so no copy is left behind in freed
    // memory; the server wipes the body once it is sent.
    Response res{http::bhttp::status::ok, 11};
    res.set(http::bhttp::field::content_type, "application/json");
    std::string& b = res.body();
    b.reserve(t.value().size() + 13);
    b += "{\"token\":\"";
    b += t.value();
    b += "\"}";
    return res;
  });
  routes.Add(verb::post, "/api/v1/sandbox/token",
             Modify([api](const service::Actor& a, domain::OrgId org) {
               return TokenResult(api, api.services.AddToken(a, org), 201, a);
             }));
  routes.Add(verb::put, "/api/v1/sandbox/token",
             Modify([api](const service::Actor& a, domain::OrgId org) {
               return TokenResult(api, api.services.RegenerateToken(a, org), 200, a);
             }));
  routes.Add(verb::delete_, "/api/v1/sandbox/token",
             Modify([api](const service::Actor& a, domain::OrgId org) {
               return TokenResult(api, api.services.DeleteToken(a, org), 200, a);
             }));
}

}  // namespace sandgate::api
