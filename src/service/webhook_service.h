// Managing webhook endpoints (issue 20): an organization's admins manage their organization's
// endpoints (its read-only users may list them and their deliveries); provider admins manage the
// provider-wide endpoints, which receive every organization's events. Each change is audited in
// the transaction that makes it (WEBHOOK_CREATE, WEBHOOK_DELETE, WEBHOOK_TEST,
// WEBHOOK_SECRET_ROTATE, WEBHOOK_UPDATE). Create and Update resolve the URL's host (the SSRF
// check): on an I/O thread (inside a no_wait::Scope) that refuses with WOULD_BLOCK, so the server
// runs them on the blocking pool (their routes are registered blocking anyway). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "service/services.h"
#include "store/store.h"

namespace sandgate::service {

constexpr int kMaxEndpointsPerOrg = 5;
constexpr int kMaxProviderEndpoints = 20;
// How long the previous secret keeps signing after a rotation.
constexpr TimeMs kSecretOverlapMs = 24LL * 3600 * 1000;

struct EndpointInput {
  std::string url;
  std::optional<std::vector<std::string>> events;  // none: every event but token.revealed
  std::string description;
};

// An edit: the fields given change, the others stay (the secret never changes here).
struct EndpointPatch {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> events;
  std::optional<std::string> description;
};

// An endpoint with its secret, shown once (create, rotate).
struct EndpointWithSecret {
  store::WebhookEndpoint endpoint;
  std::string secret;  // whsec_...
};

class WebhookService {
 public:
  // `allow`: ranges the SSRF guard lets through (--webhook-allow-cidr).
  WebhookService(service::Services& services, std::vector<Cidr> allow);

  // scope: the organization's endpoints, or nullopt for the provider-wide ones.
  Result<std::vector<store::WebhookEndpoint>> List(const service::Actor& a,
                                                   std::optional<domain::OrgId> scope);
  Result<EndpointWithSecret> Create(const service::Actor& a, std::optional<domain::OrgId> scope,
                                    const EndpointInput& in);
  // Changes the URL, events or description (audited WEBHOOK_UPDATE); the same checks as Create.
  Result<store::WebhookEndpoint> Update(const service::Actor& a, std::optional<domain::OrgId> scope,
                                        int64_t id, const EndpointPatch& in);
  Status Delete(const service::Actor& a, std::optional<domain::OrgId> scope, int64_t id);
  // The endpoint's most recent messages, newest first.
  Result<std::vector<store::OutboxMessage>> Deliveries(const service::Actor& a,
                                                       std::optional<domain::OrgId> scope,
                                                       int64_t id, int limit);
  // Queues a webhook.test event for this endpoint only.
  Result<store::OutboxMessage> SendTest(const service::Actor& a, std::optional<domain::OrgId> scope,
                                        int64_t id);
  // A new secret; the previous one signs too for kSecretOverlapMs.
  Result<EndpointWithSecret> RotateSecret(const service::Actor& a,
                                          std::optional<domain::OrgId> scope, int64_t id);

 private:
  // The checks of Create and Update: the URL (SSRF guard), the description, the events (as the
  // stored comma-separated list).
  Status Validate(const std::string& url, const std::optional<std::vector<std::string>>& events_in,
                  const std::string& description, std::string* events, std::string* host) const;
  Status CheckAccess(const service::Actor& a, std::optional<domain::OrgId> scope,
                     bool change) const;
  // Audits a refusal and returns it.
  Status Refuse(const service::Actor& a, std::optional<domain::OrgId> scope,
                const std::string& action, Status st);

  service::Services& s_;
  std::vector<Cidr> allow_;
};

}  // namespace sandgate::service
