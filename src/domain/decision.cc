#include "domain/decision.h"

namespace sandgate::domain {
namespace {

bool IsOrgAction(Action a) {
  switch (a) {
    case Action::kRead:
    case Action::kReveal:
    case Action::kAdd:
    case Action::kRegenerate:
    case Action::kDelete:
    case Action::kReadAudit:
      return true;
    default:
      return false;
  }
}

Status NotFound() { return Status::NotFound("NOT_FOUND", "No such organization or resource."); }

Decision Refuse(Status s) { return Decision{std::move(s), false, false}; }

Decision DecideOrgAction(const OrgState& org, const Caller& caller, Action action, TimeMs now) {
  const bool provider = caller.role == Role::kProviderAdmin;
  if (action == Action::kRead) return {};
  // The audit log names colleagues, their addresses and every reveal: for administrators (the
  // organization's and the provider), not for read-only users (least privilege; README's table).
  if (action == Action::kReadAudit) {
    if (caller.role == Role::kOrgReadonly)
      return Refuse(Status::Forbidden(
          "FORBIDDEN",
          "Read-only users cannot read the audit log; ask an organization administrator."));
    return {};
  }
  if (action == Action::kReveal) {
    if (provider)
      return Refuse(Status::Forbidden(
          "FORBIDDEN", "Provider administrators cannot see an organization's token."));
    if (caller.role != Role::kOrgAdmin)
      return Refuse(Status::Forbidden(
          "FORBIDDEN",
          "Read-only users cannot reveal the token; ask an organization administrator."));
    if (!org.has_token)
      return Refuse(Status::NotFound("TOKEN_NOT_FOUND", "The organization has no token."));
    return {};
  }
  // Add, regenerate, delete.
  if (provider)
    return Refuse(Status::Forbidden(
        "FORBIDDEN",
        "Only the organization's administrators manage its token; the provider can disable or "
        "enable it."));
  if (caller.role != Role::kOrgAdmin)
    return Refuse(Status::Forbidden("FORBIDDEN", "Read-only users cannot change the token."));
  switch (EffectiveSubscription(org, now)) {
    case Subscription::kNone:
      return Refuse(Status::Forbidden(
          "NO_SUBSCRIPTION",
          "The organization has no sandbox subscription; contact your service provider."));
    case Subscription::kExpired:
      return Refuse(Status::Forbidden("SUBSCRIPTION_EXPIRED",
                                      "The sandbox subscription has expired; the token cannot be "
                                      "changed until it is renewed."));
    case Subscription::kActive:
      break;
  }
  if (org.provider_disabled)
    return Refuse(Status::Forbidden(
        "TOKEN_DISABLED",
        "The token was disabled by your service provider; contact your service provider."));
  if (action == Action::kAdd && org.has_token)
    return Refuse(
        Status::Conflict("TOKEN_EXISTS", "Delete the existing token before adding a new one."));
  if (action != Action::kAdd && !org.has_token)
    return Refuse(
        Status::NotFound("TOKEN_NOT_FOUND", "The organization has no token; add one first."));
  return {};
}

Decision DecideProviderAction(const OrgState& org, Action action, TimeMs now) {
  const Subscription sub = EffectiveSubscription(org, now);
  switch (action) {
    case Action::kDisable:
      if (org.provider_disabled)
        return Refuse(Status::Conflict("TOKEN_ALREADY_DISABLED", "The token is already disabled."));
      return {};
    case Action::kEnable:
      if (!org.provider_disabled)
        return Refuse(Status::Conflict("TOKEN_NOT_DISABLED", "The token is not disabled."));
      return {};
    case Action::kActivate:
      if (org.subscription != Subscription::kNone)
        return Refuse(Status::Conflict(
            "SUBSCRIPTION_EXISTS", "The subscription was already activated; renew it instead."));
      return Decision{Status::Ok(), !org.has_token, false};
    case Action::kExpire:
      if (sub != Subscription::kActive)
        return Refuse(
            Status::Conflict("SUBSCRIPTION_NOT_ACTIVE", "The subscription is not active."));
      return {};
    case Action::kRenew:
      if (sub == Subscription::kNone)
        return Refuse(Status::Conflict("SUBSCRIPTION_NOT_STARTED",
                                       "The subscription was never activated; activate it first."));
      return {};
    case Action::kManageOrg:
    case Action::kManageUsers:
      return {};
    case Action::kReportLeak:
      // A token found in public is acted on whatever the organization's state: a disabled token
      // is enabled again by the provider one day, and an expired subscription renewed, and the
      // leaked text would then work again. So the REVOKE policy deletes it even where the
      // organization itself may not change its token (expired, no subscription, disabled by the
      // provider); NOTIFY changes nothing in any state. Only a token that is there can leak.
      if (!org.has_token)
        return Refuse(Status::NotFound("TOKEN_NOT_FOUND", "The organization has no token."));
      return Decision{Status::Ok(), false, org.leak_policy == LeakPolicy::kRevoke};
    default:
      return Refuse(NotFound());
  }
}

}  // namespace

Subscription EffectiveSubscription(const OrgState& org, TimeMs now) {
  if (org.subscription == Subscription::kActive && org.ends_at && *org.ends_at <= now)
    return Subscription::kExpired;
  return org.subscription;
}

EffectiveStatus TokenStatusAt(const OrgState& org, TimeMs now) {
  switch (EffectiveSubscription(org, now)) {
    case Subscription::kNone:
      return {TokenStatus::kDisabled, StatusReason::kNoSubscription};
    case Subscription::kExpired:
      return {TokenStatus::kDisabled, StatusReason::kSubscriptionExpired};
    case Subscription::kActive:
      break;
  }
  if (org.provider_disabled) return {TokenStatus::kDisabled, StatusReason::kProvider};
  return {};
}

Status AuthenticateToken(const OrgState& org, TimeMs now) {
  switch (TokenStatusAt(org, now).reason) {
    case StatusReason::kNone:
      return Status::Ok();
    case StatusReason::kProvider:
      return Status::Forbidden("TOKEN_DISABLED", "API token disabled by your service provider");
    case StatusReason::kSubscriptionExpired:
      return Status::Forbidden("SUBSCRIPTION_EXPIRED", "Sandbox subscription expired");
    case StatusReason::kNoSubscription:
      return Status::Forbidden("NO_SUBSCRIPTION", "No sandbox subscription");
  }
  return Status::Forbidden("TOKEN_DISABLED", "API token disabled by your service provider");
}

Decision Decide(const OrgState& org, const Caller& caller, Action action, TimeMs now) {
  const bool provider = caller.role == Role::kProviderAdmin;
  // Tenant isolation first: an organization user never learns anything about another organization.
  if (!provider && (!caller.org_id || *caller.org_id != org.org_id)) return Refuse(NotFound());
  if (IsOrgAction(action)) return DecideOrgAction(org, caller, action, now);
  // The provider API is invisible to organization users.
  if (!provider) return Refuse(NotFound());
  return DecideProviderAction(org, action, now);
}

std::vector<Action> AllowedActions(const OrgState& org, const Caller& caller, TimeMs now) {
  std::vector<Action> out;
  for (Action a : kAllActions) {
    if (caller.role != Role::kProviderAdmin && !IsOrgAction(a)) continue;
    if (Decide(org, caller, a, now).allowed()) out.push_back(a);
  }
  return out;
}

}  // namespace sandgate::domain
