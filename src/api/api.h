// The admin and provider JSON API: translates HTTP to service calls and results to JSON. No rule
// lives here: permissions come from domain::Decide through the services, and what the caller may do
// next is reported as `allowedActions`.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>

#include "auth/secret_scanning.h"
#include "auth/sessions.h"
#include "http/router.h"
#include "service/services.h"
#include "service/webhook_service.h"
#include "submission/submission.h"

namespace sandgate::api {

struct ApiOptions {
  bool secure_cookies = false;  // set when served over TLS
  // When set: reports and quota endpoints, and usage on the token page.
  submission::SubmissionService* submissions = nullptr;
  // When set: /readyz's "analysis" detail (rules loaded, rule files skipped and why, ...).
  std::function<boost::json::object()> analysis_status;
  // When set: the webhook routes (src/api/webhooks_api.h).
  service::WebhookService* webhooks = nullptr;
  // The secret scanner's public keys (issue 20). Null or not configured: POST
  // /api/v1/secret-scanning/github answers 404 NOT_CONFIGURED.
  auth::ScannerKeys* scanner_keys = nullptr;
};

// Registers every /api/v1 route, /healthz and /readyz on `router`. `services` and `sessions` must
// outlive the router; so must the returned handle, which owns the handlers' shared state.
std::shared_ptr<void> RegisterApi(http::Router& router, service::Services& services,
                                  auth::SessionManager& sessions, ApiOptions options);

}  // namespace sandgate::api
