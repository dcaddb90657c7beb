// The webhook routes (issue 20; docs/openapi.yaml, tag "Webhooks"):
//   /api/v1/sandbox/webhooks[...]   the caller's organization's endpoints
//   /api/v1/provider/webhooks[...]  provider-wide endpoints (provider admins; 404 for others)
// GET (list) and POST (create; answers the secret once), PATCH /{id} (edit), DELETE /{id}, GET
// /{id}/deliveries, POST /{id}/test (queues a webhook.test event), POST /{id}/secret (rotates the
// secret).
#pragma once

#include "api/session_guard.h"
#include "http/router.h"
#include "service/webhook_service.h"

namespace sandgate::api {

// The organization's routes through guard.SignedIn, the provider's through guard.Provider.
void RegisterWebhookRoutes(http::Router& r, service::WebhookService& w, const SessionGuard& guard);

}  // namespace sandgate::api
