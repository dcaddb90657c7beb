// RegisterApi: the shared state every route group uses (the session guard, the options) and the
// groups' registration, one file each (routes.h).
#include "api/api.h"

#include <boost/json.hpp>

#include "api/audit_actions_api.h"
#include "api/routes.h"
#include "api/views.h"
#include "api/webhooks_api.h"

namespace sandgate::api {

void WriteUsage(const Routes& api, JsonWriter& w, const service::TokenView& view) {
  if (!api.options.submissions) return;
  auto used = api.options.submissions->quota().UsedToday(view.org.id, api.services.clock().now());
  w.Key("usage").BeginObject();
  w.Member("used", used.ok() ? used.value() : int64_t{0});
  w.Member("allowed", view.org.daily_allowance).EndObject();
  WriteOptTime(w, "lastUsedOn", view.last_used);
}

namespace {

// Owned by RegisterApi's handle; the handlers keep references into it.
struct ApiState {
  ApiState(service::Services& s, auth::SessionManager& sessions, ApiOptions o)
      : options(std::move(o)),
        guard(s, sessions, options.secure_cookies),
        routes{s, sessions, options, guard} {}
  ApiOptions options;
  SessionGuard guard;
  Routes routes;
};

}  // namespace

std::shared_ptr<void> RegisterApi(http::Router& router, service::Services& services,
                                  auth::SessionManager& sessions, ApiOptions options) {
  auto state = std::make_shared<ApiState>(services, sessions, std::move(options));
  const Routes& api = state->routes;
  RegisterAuditActionRoutes(router);  // public: the audit actions in words
  RegisterHealthRoutes(router, api);
  state->guard.InstallBeforeContinue(router);
  RegisterSessionRoutes(router, api);
  RegisterTokenRoutes(router, api);
  RegisterAuditRoutes(router, api);
  RegisterSettingsRoutes(router, api);
  RegisterProviderOrgRoutes(router, api);
  RegisterProviderUserRoutes(router, api);
  RegisterReportRoutes(router, api);
  RegisterLeakReportRoutes(router, api);
  if (api.options.webhooks)  // issue 20
    RegisterWebhookRoutes(router, *api.options.webhooks, state->guard);
  return state;
}

}  // namespace sandgate::api
