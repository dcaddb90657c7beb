#include "api/audit_actions_api.h"

#include <string>

#include "domain/audit_actions.h"
#include "http/server.h"

namespace sandgate::api {

namespace json = boost::json;

json::object AuditActionsJson() {
  json::array actions;
  for (const auto& a : domain::AuditActions()) {
    json::object o{{"action", a.name}, {"label", a.label}, {"did", a.did}, {"attempt", a.attempt}};
    o["filter"] = a.filter.empty() ? json::value(nullptr) : json::value(a.filter);
    actions.push_back(std::move(o));
  }
  return json::object{{"actions", std::move(actions)}};
}

void RegisterAuditActionRoutes(http::Router& r) {
  // The table is the binary's: serialized once.
  r.Add(http::bhttp::verb::get, "/api/v1/auditActions",
        [body = json::serialize(AuditActionsJson())](const http::Request& req,
                                                     http::RequestContext&) {
          http::Response res{http::bhttp::status::ok, req.version()};
          res.set(http::bhttp::field::content_type, "application/json");
          res.body() = body;
          return res;
        });
}

}  // namespace sandgate::api
