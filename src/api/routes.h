// The API's route groups, one file each (src/api/<group>_routes.cc), and what they share. Each
// Register* function adds its group's routes to the router; RegisterApi (api.cc) calls them all.
// Every group's handlers keep references into `Routes`, which must outlive the router.
#pragma once

#include "api/api.h"
#include "api/session_guard.h"
#include "common/json_writer.h"

namespace sandgate::api {

// What the handlers of every group use.
struct Routes {
  service::Services& services;
  auth::SessionManager& sessions;
  const ApiOptions& options;
  const SessionGuard& guard;
};

// With the Submission API: today's usage ("usage": used and allowed) and the last use
// ("lastUsedOn") of the viewed organization, as members of the object `w` is writing.
void WriteUsage(const Routes& api, JsonWriter& w, const service::TokenView& view);

// GET /healthz, GET /readyz (no session).
void RegisterHealthRoutes(http::Router& r, const Routes& api);
// /api/v1/authenticatedSession: sign in (no session), read, sign out.
void RegisterSessionRoutes(http::Router& r, const Routes& api);
// /api/v1/sandbox/token[/reveal]: the caller's organization's token.
void RegisterTokenRoutes(http::Router& r, const Routes& api);
// /api/v1/auditLog (the caller's organization) and /api/v1/provider/auditLog.
void RegisterAuditRoutes(http::Router& r, const Routes& api);
// /api/v1/provider/supportContact: the provider's settings (provider only).
void RegisterSettingsRoutes(http::Router& r, const Routes& api);
// /api/v1/provider/orgs[/{id}[/subscription|/token/disable|/token/enable]] and
// /api/v1/provider/overview (provider only).
void RegisterProviderOrgRoutes(http::Router& r, const Routes& api);
// /api/v1/provider/orgs/{id}/users[/{uid}[/password]] (provider only).
void RegisterProviderUserRoutes(http::Router& r, const Routes& api);
// /api/v1/sandbox/usage and /api/v1/sandbox/report/{quota,md5}; only with the Submission API.
void RegisterReportRoutes(http::Router& r, const Routes& api);
// POST /api/v1/secret-scanning/github (signed by the scanner, no session) and POST
// /api/v1/provider/leak-reports (provider only).
void RegisterLeakReportRoutes(http::Router& r, const Routes& api);

}  // namespace sandgate::api
