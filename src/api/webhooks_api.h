// The webhook routes (issue 20; docs/openapi.yaml, tag "Webhooks"):
//   /api/v1/sandbox/webhooks[...]   the caller's organization's endpoints
//   /api/v1/provider/webhooks[...]  provider-wide endpoints (provider admins; 404 for others)
// GET (list) and POST (create; answers the secret once), PATCH /{id} (edit), DELETE /{id}, GET
// /{id}/deliveries, POST /{id}/test (queues a webhook.test event), POST /{id}/secret (rotates the
// secret).
#pragma once

#include <functional>

#include "auth/sessions.h"
#include "http/router.h"
#include "service/webhook_service.h"

namespace sandgate::api {

using AuthedHandler =
    std::function<http::Response(const http::Request&, http::RequestContext&,
                                 const auth::Authenticated&, const service::Actor&)>;
// Wraps a handler with the session and CSRF checks (Api::WithSession); provider_only hides it.
using SessionWrap = std::function<http::Handler(AuthedHandler, bool provider_only)>;

void RegisterWebhookRoutes(http::Router& r, service::WebhookService& w, const SessionWrap& wrap);

}  // namespace sandgate::api
