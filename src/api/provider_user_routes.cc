// An organization's users (provider only): GET|POST /api/v1/provider/orgs/{id}/users, PATCH|DELETE
// .../users/{uid} (role; delete) and POST .../users/{uid}/password (reset). A generated password
// is answered once. Creating and resetting hash a password: blocking routes.
#include <boost/json.hpp>

#include "api/json_body.h"
#include "api/responses.h"
#include "api/routes.h"
#include "api/views.h"
#include "common/secret.h"

namespace sandgate::api {

namespace json = boost::json;
using domain::Role;
using http::Request;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

// An organization user's role from the body's "role": ORG_ADMIN or ORG_READONLY.
Status OrgRole(const json::object& body, Role* out) {
  auto role = domain::ParseRole(body.at("role").as_string());
  if (!role || *role == Role::kProviderAdmin)
    return Status::Invalid("INVALID_FIELD", "Field 'role' must be ORG_ADMIN or ORG_READONLY.");
  *out = *role;
  return Status::Ok();
}

Response CreateUser(const Routes& api, const Request& req, RequestContext& ctx,
                    const service::Actor& a) {
  domain::OrgId org;
  if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
  auto body = ParseBody(req, {{"username", Field::Kind::kString, true},
                              {"role", Field::Kind::kString, true},
                              {"password", Field::Kind::kString, false}});
  if (!body.ok()) return Error(body.status());
  service::NewUser nu;
  if (Status st = OrgRole(*body, &nu.role); !st.ok()) return Error(st);
  nu.username = std::string(body->at("username").as_string());
  nu.org = org;
  if (auto* v = body->if_contains("password")) {
    nu.password = std::string(v->as_string());
    Wipe(v->as_string());
  }
  WipeOnExit wipe_pw(nu.password);
  auto created = api.services.CreateUser(a, nu);
  if (!created.ok()) return Error(created.status());
  WipeOnExit wipe_created(created->second);
  json::object o = UserJson(created->first);
  if (nu.password.empty()) o["password"] = created->second;  // generated: shown once
  return JsonResponseWiping(201, o, {"password"});
}

Response ResetPassword(const Routes& api, const Request& req, RequestContext& ctx,
                       const service::Actor& a) {
  domain::OrgId org;
  store::UserId uid;
  if (!ParseOrgAndUser(ctx, &org, &uid)) return NotFoundResponse();
  auto body = ParseBody(req, {{"password", Field::Kind::kString, false}});
  if (!body.ok()) return Error(body.status());
  std::string pw;
  if (auto* v = body->if_contains("password")) {
    pw = std::string(v->as_string());
    Wipe(v->as_string());
  }
  WipeOnExit wipe_pw(pw);
  auto r = api.services.ResetPassword(a, org, uid, pw);
  if (!r.ok()) return Error(r.status());
  WipeOnExit wipe_result(r.value());
  json::object o{{"reset", true}};
  if (pw.empty()) o["password"] = r.value();
  return JsonResponseWiping(200, o, {"password"});
}

}  // namespace

void RegisterProviderUserRoutes(http::Router& r, const Routes& api) {
  const RouteGroup provider = api.guard.Provider(r);
  const http::RouteOptions blocking{64 * 1024, true};
  provider.Add(verb::get, "/api/v1/provider/orgs/{id}/users",
               [api](auto&, RequestContext& ctx, auto&, auto& a) {
                 domain::OrgId org;
                 if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
                 auto users = api.services.ListUsers(a, org);
                 if (!users.ok()) return Error(users.status());
                 json::array arr;
                 for (const auto& u : users.value()) arr.push_back(UserJson(u));
                 return JsonResponse(200, json::object{{"items", arr}});
               });
  provider.Add(
      verb::post, "/api/v1/provider/orgs/{id}/users",
      [api](const Request& req, RequestContext& ctx, auto&, auto& a) {
        return CreateUser(api, req, ctx, a);
      },
      blocking);
  provider.Add(verb::patch, "/api/v1/provider/orgs/{id}/users/{uid}",
               [api](const Request& req, RequestContext& ctx, auto&, auto& a) {
                 domain::OrgId org;
                 store::UserId uid;
                 if (!ParseOrgAndUser(ctx, &org, &uid)) return NotFoundResponse();
                 auto body = ParseBody(req, {{"role", Field::Kind::kString, true}});
                 if (!body.ok()) return Error(body.status());
                 Role role;
                 if (Status st = OrgRole(*body, &role); !st.ok()) return Error(st);
                 auto u = api.services.ChangeRole(a, org, uid, role);
                 if (!u.ok()) return Error(u.status());
                 return JsonResponse(200, UserJson(u.value()));
               });
  provider.Add(
      verb::post, "/api/v1/provider/orgs/{id}/users/{uid}/password",
      [api](const Request& req, RequestContext& ctx, auto&, auto& a) {
        return ResetPassword(api, req, ctx, a);
      },
      blocking);
  provider.Add(verb::delete_, "/api/v1/provider/orgs/{id}/users/{uid}",
               [api](const Request&, RequestContext& ctx, auto&, auto& a) {
                 domain::OrgId org;
                 store::UserId uid;
                 if (!ParseOrgAndUser(ctx, &org, &uid)) return NotFoundResponse();
                 Status st = api.services.DeleteUser(a, org, uid);
                 if (!st.ok()) return Error(st);
                 return Response{http::bhttp::status::no_content, 11};
               });
}

}  // namespace sandgate::api
