#include "api/session_guard.h"

#include "api/responses.h"
#include "common/secret.h"
#include "token/token_format.h"

namespace sandgate::api {

using domain::Role;
using http::Request;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

// Calls f(value) for each cookie named `name` until f returns true.
template <typename F>
void ForEachCookie(const http::RequestHeader& req, std::string_view name, F f) {
  for (auto it = req.find(http::bhttp::field::cookie);
       it != req.end() && it->name() == http::bhttp::field::cookie; ++it) {
    std::string_view v = it->value();
    while (!v.empty()) {
      size_t semi = v.find(';');
      std::string_view part = v.substr(0, semi);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      size_t eq = part.find('=');
      if (eq != std::string_view::npos && part.substr(0, eq) == name && f(part.substr(eq + 1)))
        return;
      if (semi == std::string_view::npos) break;
      v.remove_prefix(semi + 1);
    }
  }
}

}  // namespace

std::string CookieValue(const http::RequestHeader& req, std::string_view name) {
  std::string out;
  ForEachCookie(req, name, [&](std::string_view v) {
    out = std::string(v);
    return true;
  });
  return out;
}

SessionGuard::SessionGuard(service::Services& services, auth::SessionManager& sessions,
                           bool secure_cookies)
    : services_(services), sessions_(sessions), secure_cookies_(secure_cookies) {}

// Two session cookies (one planted by a sibling subdomain or a path-scoped cookie, "cookie
// tossing") are ambiguous: which one a server or a proxy honours would decide who acts. They are
// refused whatever their order or validity, ours cleared so the browser can recover.
std::optional<Response> SessionGuard::ReadSessionCookie(const http::RequestHeader& h,
                                                        std::string* sid) const {
  // One pass: the first value, and whether there is another.
  std::string_view first;
  size_t count = 0;
  ForEachCookie(h, kSessionCookie, [&](std::string_view v) {
    if (count++ == 0) first = v;
    return count > 1;
  });
  if (count > 1) {
    Response res = Error(
        Status::Invalid("AMBIGUOUS_SESSION",
                        "The request carries more than one sg_session cookie; sign in again."));
    res.set(http::bhttp::field::set_cookie, ClearCookie());
    return res;
  }
  sid->assign(first);
  if (sid->empty()) return Error(Status(401, "UNAUTHENTICATED", "Sign in first."));
  return std::nullopt;
}

http::Handler SessionGuard::WithSession(AuthedHandler h, Audience audience) const {
  return [this, h = std::move(h), audience](const Request& req, RequestContext& ctx) {
    std::string sid;
    WipeOnExit wipe_sid(sid);
    if (auto refused = ReadSessionCookie(req, &sid)) return std::move(*refused);
    // A page's background refresh (X-Sandgate-Background: 1 on a GET) is not user activity: it
    // must not keep an unattended session alive past its idle timeout.
    const bool background = req.method() == verb::get && req["X-Sandgate-Background"] == "1";
    auto who = sessions_.Authenticate(sid, !background);
    if (!who.ok()) return Error(who.status());
    service::Actor actor = who->actor(ctx.client_addr);
    ctx.org_id = actor.caller.org_id.value_or(0);
    actor.request_id = ctx.request_id;
    const bool changes = req.method() != verb::get && req.method() != verb::head;
    std::string presented;
    if (changes) presented = std::string(req["X-CSRF-Token"]);
    WipeOnExit wipe_presented(presented);
    if (changes && !sessions_.CsrfValid(sid, presented)) {
      services_
          .Audit(actor, actor.caller.org_id, "CSRF_CHECK", "CSRF_INVALID",
                 token::RedactTokens(ctx.path))
          .IgnoreError();
      return Error(Status::Forbidden("CSRF_INVALID",
                                     "The request lacks a valid X-CSRF-Token header; reload the "
                                     "page and try again."));
    }
    if (audience == Audience::kProvider && actor.caller.role != Role::kProviderAdmin) {
      services_
          .Audit(actor, actor.caller.org_id, "PROVIDER_API", "NOT_FOUND",
                 token::RedactTokens(ctx.path))
          .IgnoreError();
      return NotFoundResponse();
    }
    return h(req, ctx, who.value(), actor);
  };
}

RouteGroup SessionGuard::SignedIn(http::Router& r) const {
  return RouteGroup(r, *this, Audience::kSignedIn);
}

RouteGroup SessionGuard::Provider(http::Router& r) const {
  return RouteGroup(r, *this, Audience::kProvider);
}

void SessionGuard::InstallBeforeContinue(http::Router& r) const {
  // Every API route but the sign-in and the scanner's report needs a session, so without one a
  // request waiting for `100 Continue` gets its refusal at once, without its body being read.
  r.SetBeforeContinue(
      [this](const http::RequestHeader& h, const RequestContext& ctx) -> std::optional<Response> {
        if (!ctx.path.starts_with("/api/v1/") ||
            (ctx.path == "/api/v1/authenticatedSession" && h.method() == verb::post) ||
            // Signed by the scanner, not a session (issue 20): checked once the body is read.
            (ctx.path == kSecretScanningPath && h.method() == verb::post))
          return std::nullopt;
        std::string sid;
        WipeOnExit wipe_sid(sid);
        if (auto refused = ReadSessionCookie(h, &sid)) return refused;
        // No touch: the route's own WithSession authenticates again once the body is read, and
        // decides there whether the request is user activity (X-Sandgate-Background).
        if (auto who = sessions_.Authenticate(sid, /*touch=*/false); !who.ok())
          return Error(who.status());
        return std::nullopt;
      });
}

std::string SessionGuard::SessionCookie(const std::string& sid) const {
  return std::string(kSessionCookie) + "=" + sid + "; Path=/; HttpOnly; SameSite=Strict" +
         (secure_cookies_ ? "; Secure" : "");
}

std::string SessionGuard::ClearCookie() const {
  return std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
         (secure_cookies_ ? "; Secure" : "");
}

Status SessionGuard::OwnOrg(const service::Actor& a, domain::OrgId* org) {
  if (!a.caller.org_id)
    return Status::Forbidden(
        "FORBIDDEN", "Provider administrators manage tokens through /api/v1/provider/orgs.");
  *org = *a.caller.org_id;
  return Status::Ok();
}

}  // namespace sandgate::api
