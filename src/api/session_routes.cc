// /api/v1/authenticatedSession: POST signs in (no session; blocking, for the password hash), GET
// reads the session (user, idle timeout, CSRF token), DELETE signs out.
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

Response Login(const Routes& api, const Request& req, RequestContext& ctx) {
  auto body = ParseBody(
      req, {{"username", Field::Kind::kString, true}, {"password", Field::Kind::kString, true}});
  if (!body.ok()) return Error(body.status());
  std::string username(body->at("username").as_string());
  std::string password(body->at("password").as_string());
  Wipe(body->at("password").as_string());
  WipeOnExit wipe_pw(password);
  if (username.size() > 256 || password.size() > 1024)
    return Error(Status(401, "INVALID_CREDENTIALS", "The username or password is not correct."));
  int64_t retry_after = 0;
  auto r = api.sessions.Login(username, password, ctx.client_addr, &retry_after, ctx.client_key,
                              ctx.request_id);
  if (!r.ok()) {
    Response res = Error(r.status());
    if (r.status().IsRateLimited())
      res.set(http::bhttp::field::retry_after, std::to_string(retry_after));
    return res;
  }
  WipeOnExit wipe_sid(r->session_id), wipe_csrf(r->csrf_token);
  json::object o;
  o["user"] = UserJson(r->user);
  o["idleTimeoutSeconds"] = api.sessions.policy().idle_timeout / 1000;
  o["csrfToken"] = r->csrf_token;
  Response res = JsonResponseWiping(200, o, {"csrfToken"});
  std::string cookie = api.guard.SessionCookie(r->session_id);
  WipeOnExit wipe_cookie(cookie);
  res.set(http::bhttp::field::set_cookie, cookie);
  return res;
}

}  // namespace

void RegisterSessionRoutes(http::Router& r, const Routes& api) {
  r.Add(
      verb::post, "/api/v1/authenticatedSession",
      [api](const Request& req, RequestContext& ctx) { return Login(api, req, ctx); },
      http::RouteOptions{64 * 1024, true});
  const RouteGroup signed_in = api.guard.SignedIn(r);
  signed_in.Add(verb::get, "/api/v1/authenticatedSession",
                [api](const Request& req, RequestContext&, const auth::Authenticated& who,
                      const service::Actor&) {
                  std::string sid = CookieValue(req, kSessionCookie);
                  WipeOnExit wipe_sid(sid);
                  json::object o;
                  o["user"] = UserJson(who.user);
                  o["idleTimeoutSeconds"] = api.sessions.policy().idle_timeout / 1000;
                  std::string csrf = api.sessions.CsrfFor(sid);
                  WipeOnExit wipe_csrf(csrf);
                  o["csrfToken"] = csrf;
                  return JsonResponseWiping(200, o, {"csrfToken"});
                });
  signed_in.Add(verb::delete_, "/api/v1/authenticatedSession",
                [api](const Request& req, RequestContext&, const auth::Authenticated&,
                      const service::Actor& a) {
                  std::string sid = CookieValue(req, kSessionCookie);
                  WipeOnExit wipe_sid(sid);
                  Status st = api.sessions.Logout(sid);
                  if (!st.ok()) return Error(st);
                  api.services.Audit(a, a.caller.org_id, "LOGOUT", "ALLOWED").IgnoreError();
                  Response res{http::bhttp::status::no_content, 11};
                  res.set(http::bhttp::field::set_cookie, api.guard.ClearCookie());
                  return res;
                });
}

}  // namespace sandgate::api
