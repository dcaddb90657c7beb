// The provider's settings: GET|PUT|DELETE /api/v1/provider/supportContact (the support contact
// organizations see; DELETE goes back to the config file's). Provider only.
#include <boost/json.hpp>

#include "api/json_body.h"
#include "api/responses.h"
#include "api/routes.h"
#include "api/views.h"

namespace sandgate::api {

using http::Request;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

// 400 INVALID_SUPPORT_CONTACT names each refused field beside the message.
Response SupportSettingResult(const Result<service::SupportContactView>& r,
                              const std::vector<domain::FieldError>& refused = {}) {
  if (!r.ok()) {
    if (refused.empty()) return Error(r.status());
    return JsonResponse(r.status().http_status(), FieldErrorsJson(r.status(), refused));
  }
  return JsonResponse(200, SupportSettingJson(r.value()));
}

}  // namespace

void RegisterSettingsRoutes(http::Router& r, const Routes& api) {
  const RouteGroup provider = api.guard.Provider(r);
  provider.Add(verb::get, "/api/v1/provider/supportContact", [api](auto&, auto&, auto&, auto& a) {
    return SupportSettingResult(api.services.ProviderSupportContact(a));
  });
  provider.Add(verb::put, "/api/v1/provider/supportContact",
               [api](const Request& req, RequestContext&, auto&, auto& a) {
                 auto body = ParseBody(req, {{"name", Field::Kind::kString, true},
                                             {"email", Field::Kind::kString, true},
                                             {"url", Field::Kind::kString, true},
                                             {"phone", Field::Kind::kString, true}});
                 if (!body.ok()) return Error(body.status());
                 domain::SupportContactFields c;
                 c.name = std::string(body->at("name").as_string());
                 c.email = std::string(body->at("email").as_string());
                 c.url = std::string(body->at("url").as_string());
                 c.phone = std::string(body->at("phone").as_string());
                 std::vector<domain::FieldError> refused;
                 auto r = api.services.UpdateSupportContact(a, c, &refused);
                 return SupportSettingResult(r, refused);
               });
  provider.Add(verb::delete_, "/api/v1/provider/supportContact",
               [api](auto&, auto&, auto&, auto& a) {
                 return SupportSettingResult(api.services.ResetSupportContact(a));
               });
}

}  // namespace sandgate::api
