#include "service/webhook_service.h"

#include <boost/json.hpp>

#include "notify/url_guard.h"
#include "notify/webhook.h"

namespace sandgate::service {

using domain::Role;
using notify::DefaultEventTypes;
using notify::EnqueueFor;
using notify::KnownEvent;
using notify::NewSeed;
using notify::ParseUrl;
using notify::ResolveAllowed;
using notify::SecretText;
using notify::Subscribed;

namespace {

Status NoSuchEndpoint() { return Status::NotFound("NOT_FOUND", "No such webhook endpoint."); }

bool PrintableText(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

Status WebhookService::Validate(const std::string& url_text,
                                const std::optional<std::vector<std::string>>& events_in,
                                const std::string& description, std::string* events,
                                std::string* host) const {
  auto url = ParseUrl(url_text);
  if (!url.ok()) return url.status();
  if (auto addrs = ResolveAllowed(*url, allow_); !addrs.ok()) return addrs.status();
  *host = url->host;
  if (description.size() > 200 || !PrintableText(description))
    return Status::Invalid("INVALID_DESCRIPTION",
                           "The description is at most 200 characters without control characters.");
  events->clear();
  const auto& wanted = events_in ? *events_in : DefaultEventTypes();
  if (wanted.empty())
    return Status::Invalid("INVALID_EVENTS", "Name at least one event, or leave 'events' out.");
  for (const auto& e : wanted) {
    if (!KnownEvent(e))
      return Status::Invalid("INVALID_EVENTS", "Unknown event type '" + e.substr(0, 64) + "'.");
    store::WebhookEndpoint so_far;
    so_far.events = *events;
    if (Subscribed(so_far, e)) continue;  // a duplicate
    *events += (events->empty() ? "" : ",") + e;
  }
  return Status::Ok();
}

WebhookService::WebhookService(service::Services& services, std::vector<Cidr> allow)
    : s_(services), allow_(std::move(allow)) {}

Status WebhookService::CheckAccess(const service::Actor& a, std::optional<domain::OrgId> scope,
                                   bool change) const {
  if (!scope) {
    if (a.caller.role == Role::kProviderAdmin) return Status::Ok();
    return Status::NotFound("NOT_FOUND", "No such organization or resource.");
  }
  if (a.caller.role == Role::kProviderAdmin || a.caller.org_id != scope)
    return Status::Forbidden("FORBIDDEN", "Only the organization's users see its webhooks.");
  if (change && a.caller.role != Role::kOrgAdmin)
    return Status::Forbidden("FORBIDDEN", "Only organization admins manage webhooks.");
  return Status::Ok();
}

Status WebhookService::Refuse(const service::Actor& a, std::optional<domain::OrgId> scope,
                              const std::string& action, Status st) {
  store::AuditRecord r = s_.AuditBase(a, scope, action, s_.clock().now());
  r.outcome = st.code();
  s_.store().Write([&](store::Tx& tx) { return tx.AppendAudit(r).status(); }).IgnoreError();
  return st;
}

Result<std::vector<store::WebhookEndpoint>> WebhookService::List(
    const service::Actor& a, std::optional<domain::OrgId> scope) {
  if (Status st = CheckAccess(a, scope, false); !st.ok()) return st;
  std::vector<store::WebhookEndpoint> out;
  Status st = s_.store().Read([&](store::Tx& tx) {
    auto l = tx.ListWebhookEndpoints(scope);
    if (!l.ok()) return l.status();
    out = std::move(l).value();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<EndpointWithSecret> WebhookService::Create(const service::Actor& a,
                                                  std::optional<domain::OrgId> scope,
                                                  const EndpointInput& in) {
  const std::string action = "WEBHOOK_CREATE";
  if (Status st = CheckAccess(a, scope, true); !st.ok()) return Refuse(a, scope, action, st);
  std::string events, host;
  if (Status st = Validate(in.url, in.events, in.description, &events, &host); !st.ok()) return st;
  const TimeMs now = s_.clock().now();
  store::WebhookEndpoint ep;
  ep.org_id = scope;
  ep.url = in.url;
  ep.events = events;
  ep.description = in.description;
  ep.seed = NewSeed();
  ep.created_at = now;
  Status st = s_.store().Write([&](store::Tx& tx) -> Status {
    auto existing = tx.ListWebhookEndpoints(scope);
    if (!existing.ok()) return existing.status();
    const size_t max = scope ? kMaxEndpointsPerOrg : kMaxProviderEndpoints;
    if (existing->size() >= max)
      return Status::Conflict("WEBHOOK_LIMIT", "At most " + std::to_string(max) +
                                                   " webhook endpoints; delete one first.");
    auto id = tx.InsertWebhookEndpoint(ep);
    if (!id.ok()) return id.status();
    ep.id = *id;
    store::AuditRecord r = s_.AuditBase(a, scope, action, now);
    r.detail = "endpoint " + std::to_string(ep.id) + " " + host;
    return tx.AppendAudit(r).status();
  });
  if (!st.ok()) return st;
  return EndpointWithSecret{ep, SecretText(s_.keys(), ep.seed)};
}

Result<store::WebhookEndpoint> WebhookService::Update(const service::Actor& a,
                                                      std::optional<domain::OrgId> scope,
                                                      int64_t id, const EndpointPatch& in) {
  const std::string action = "WEBHOOK_UPDATE";
  if (Status st = CheckAccess(a, scope, true); !st.ok()) return Refuse(a, scope, action, st);
  // Read first: the checks need the current values of the fields not given (the write re-reads).
  store::WebhookEndpoint cur;
  Status st = s_.store().Read([&](store::Tx& tx) -> Status {
    auto e = tx.GetWebhookEndpoint(id);
    if (!e.ok()) return e.status().IsNotFound() ? NoSuchEndpoint() : e.status();
    if (e->org_id != scope) return NoSuchEndpoint();
    cur = std::move(e).value();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  std::optional<std::vector<std::string>> events = in.events;
  if (!events) {
    events.emplace();
    std::string_view rest = cur.events;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      events->emplace_back(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  const std::string url = in.url.value_or(cur.url);
  const std::string description = in.description.value_or(cur.description);
  std::string events_csv, host;
  if (Status v = Validate(url, events, description, &events_csv, &host); !v.ok()) return v;
  const TimeMs now = s_.clock().now();
  store::WebhookEndpoint ep;
  st = s_.store().Write([&](store::Tx& tx) -> Status {
    auto e = tx.GetWebhookEndpoint(id);
    if (!e.ok()) return e.status().IsNotFound() ? NoSuchEndpoint() : e.status();
    if (e->org_id != scope) return NoSuchEndpoint();
    ep = std::move(e).value();
    ep.url = url;
    ep.events = events_csv;
    ep.description = description;
    if (Status u = tx.UpdateWebhookEndpoint(ep); !u.ok()) return u;
    store::AuditRecord r = s_.AuditBase(a, scope, action, now);
    r.detail = "endpoint " + std::to_string(id) + " " + host;
    return tx.AppendAudit(r).status();
  });
  if (!st.ok()) return st;
  return ep;
}

Status WebhookService::Delete(const service::Actor& a, std::optional<domain::OrgId> scope,
                              int64_t id) {
  const std::string action = "WEBHOOK_DELETE";
  if (Status st = CheckAccess(a, scope, true); !st.ok()) return Refuse(a, scope, action, st);
  const TimeMs now = s_.clock().now();
  return s_.store().Write([&](store::Tx& tx) -> Status {
    auto e = tx.GetWebhookEndpoint(id);
    if (!e.ok()) return e.status().IsNotFound() ? NoSuchEndpoint() : e.status();
    if (e->org_id != scope) return NoSuchEndpoint();
    if (Status st = tx.DeleteWebhookEndpoint(id); !st.ok()) return st;
    store::AuditRecord r = s_.AuditBase(a, scope, action, now);
    r.detail = "endpoint " + std::to_string(id);
    return tx.AppendAudit(r).status();
  });
}

Result<std::vector<store::OutboxMessage>> WebhookService::Deliveries(
    const service::Actor& a, std::optional<domain::OrgId> scope, int64_t id, int limit) {
  if (Status st = CheckAccess(a, scope, false); !st.ok()) return st;
  std::vector<store::OutboxMessage> out;
  Status st = s_.store().Read([&](store::Tx& tx) -> Status {
    auto e = tx.GetWebhookEndpoint(id);
    if (!e.ok()) return e.status().IsNotFound() ? NoSuchEndpoint() : e.status();
    if (e->org_id != scope) return NoSuchEndpoint();
    auto l = tx.ListOutbox(id, limit);
    if (!l.ok()) return l.status();
    out = std::move(l).value();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<store::OutboxMessage> WebhookService::SendTest(const service::Actor& a,
                                                      std::optional<domain::OrgId> scope,
                                                      int64_t id) {
  const std::string action = "WEBHOOK_TEST";
  if (Status st = CheckAccess(a, scope, true); !st.ok()) return Refuse(a, scope, action, st);
  const TimeMs now = s_.clock().now();
  store::OutboxMessage sent;
  Status st = s_.store().Write([&](store::Tx& tx) -> Status {
    auto e = tx.GetWebhookEndpoint(id);
    if (!e.ok()) return e.status().IsNotFound() ? NoSuchEndpoint() : e.status();
    if (e->org_id != scope) return NoSuchEndpoint();
    boost::json::object data{{"endpointId", id}, {"actor", a.name}};
    if (Status q = EnqueueFor(tx, *e, "webhook.test", now, boost::json::serialize(data)); !q.ok())
      return q;
    auto l = tx.ListOutbox(id, 1);
    if (!l.ok()) return l.status();
    if (!l->empty()) sent = l->front();
    store::AuditRecord r = s_.AuditBase(a, scope, action, now);
    r.detail = "endpoint " + std::to_string(id);
    return tx.AppendAudit(r).status();
  });
  if (!st.ok()) return st;
  return sent;
}

Result<EndpointWithSecret> WebhookService::RotateSecret(const service::Actor& a,
                                                        std::optional<domain::OrgId> scope,
                                                        int64_t id) {
  const std::string action = "WEBHOOK_SECRET_ROTATE";
  if (Status st = CheckAccess(a, scope, true); !st.ok()) return Refuse(a, scope, action, st);
  const TimeMs now = s_.clock().now();
  store::WebhookEndpoint ep;
  Status st = s_.store().Write([&](store::Tx& tx) -> Status {
    auto e = tx.GetWebhookEndpoint(id);
    if (!e.ok()) return e.status().IsNotFound() ? NoSuchEndpoint() : e.status();
    if (e->org_id != scope) return NoSuchEndpoint();
    ep = std::move(e).value();
    ep.old_seed = ep.seed;
    ep.old_until = now + kSecretOverlapMs;
    ep.seed = NewSeed();
    if (Status u = tx.UpdateWebhookEndpoint(ep); !u.ok()) return u;
    store::AuditRecord r = s_.AuditBase(a, scope, action, now);
    r.detail = "endpoint " + std::to_string(id);
    return tx.AppendAudit(r).status();
  });
  if (!st.ok()) return st;
  return EndpointWithSecret{ep, SecretText(s_.keys(), ep.seed)};
}

}  // namespace sandgate::service
