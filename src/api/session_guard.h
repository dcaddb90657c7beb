// The guard every signed-in API route goes through (ARCHITECTURE.md, "The path of a request"):
// the one sg_session cookie, the session (401 without one), the X-CSRF-Token header on
// state-changing methods (403 CSRF_INVALID, audited) and, for provider routes, the caller's role
// (organization users get 404, audited: the provider API does not exist for them).
// Routes register through a RouteGroup, which declares the audience once for all its routes.
// Thread-safe once set up.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sessions.h"
#include "http/router.h"
#include "service/services.h"

namespace sandgate::api {

inline constexpr const char* kSessionCookie = "sg_session";
// Signed by the scanner, not a session (issue 20).
inline constexpr const char* kSecretScanningPath = "/api/v1/secret-scanning/github";

using AuthedHandler =
    std::function<http::Response(const http::Request&, http::RequestContext&,
                                 const auth::Authenticated&, const service::Actor&)>;

// Who a route exists for.
enum class Audience {
  kSignedIn,  // any signed-in user
  kProvider,  // provider administrators; 404 (audited) for organization users
};

// The first cookie named `name`, or "".
std::string CookieValue(const http::RequestHeader& req, std::string_view name);

class RouteGroup;

class SessionGuard {
 public:
  // `services` and `sessions` must outlive the guard and every handler it made.
  SessionGuard(service::Services& services, auth::SessionManager& sessions, bool secure_cookies);

  // Wraps `h` with the session, CSRF and audience checks; the handler gets the session and the
  // actor (with the request's client address and request id).
  http::Handler WithSession(AuthedHandler h, Audience audience) const;

  // The routes of one audience, registered on `r` (which must outlive the group's use).
  RouteGroup SignedIn(http::Router& r) const;
  RouteGroup Provider(http::Router& r) const;

  // The before-`100 Continue` check: an /api/v1 request other than the sign-in and the secret
  // scanner's report gets its 401 (or the 400 for two session cookies) before its body is read.
  void InstallBeforeContinue(http::Router& r) const;

  // Reads the request's one sg_session cookie into *sid, or returns the refusal: 400
  // AMBIGUOUS_SESSION for two (our cookie cleared), 401 UNAUTHENTICATED for none.
  std::optional<http::Response> ReadSessionCookie(const http::RequestHeader& h,
                                                  std::string* sid) const;
  // The Set-Cookie values that set and clear the session cookie.
  std::string SessionCookie(const std::string& sid) const;
  std::string ClearCookie() const;

  // Organization endpoints act on the caller's own organization: 403 FORBIDDEN for a provider
  // administrator (who has none).
  static Status OwnOrg(const service::Actor& a, domain::OrgId* org);

 private:
  service::Services& services_;
  auth::SessionManager& sessions_;
  bool secure_cookies_;
};

// Routes sharing one audience: Add wraps each handler with SessionGuard::WithSession. Call Add with
// the verb and a literal pattern (`g.Add(verb::get, "/api/v1/...", ...)`):
// tests/blackbox/test_openapi.py finds the server's routes in the source by that shape.
class RouteGroup {
 public:
  RouteGroup(http::Router& r, const SessionGuard& guard, Audience audience)
      : router_(r), guard_(guard), audience_(audience) {}
  void Add(http::bhttp::verb method, std::string_view pattern, AuthedHandler h,
           http::RouteOptions o = {}) const {
    router_.Add(method, pattern, guard_.WithSession(std::move(h), audience_), o);
  }
  Audience audience() const { return audience_; }

 private:
  http::Router& router_;
  const SessionGuard& guard_;
  Audience audience_;
};

}  // namespace sandgate::api
