#include "domain/model.h"

namespace sandgate::domain {

std::string_view ToString(Subscription s) {
  switch (s) {
    case Subscription::kNone:
      return "NONE";
    case Subscription::kActive:
      return "ACTIVE";
    case Subscription::kExpired:
      return "EXPIRED";
  }
  return "NONE";
}

std::string_view ToString(Role r) {
  switch (r) {
    case Role::kProviderAdmin:
      return "PROVIDER_ADMIN";
    case Role::kOrgAdmin:
      return "ORG_ADMIN";
    case Role::kOrgReadonly:
      return "ORG_READONLY";
  }
  return "ORG_READONLY";
}

std::string_view ToString(DisableReason r) {
  switch (r) {
    case DisableReason::kQuotaThreshold:
      return "QUOTA_THRESHOLD";
    case DisableReason::kTermsViolation:
      return "TERMS_VIOLATION";
    case DisableReason::kOther:
      return "OTHER";
  }
  return "OTHER";
}

std::string_view ToString(Action a) {
  switch (a) {
    case Action::kRead:
      return "READ";
    case Action::kReveal:
      return "REVEAL";
    case Action::kAdd:
      return "ADD";
    case Action::kRegenerate:
      return "REGENERATE";
    case Action::kDelete:
      return "DELETE";
    case Action::kReadAudit:
      return "READ_AUDIT";
    case Action::kDisable:
      return "DISABLE";
    case Action::kEnable:
      return "ENABLE";
    case Action::kActivate:
      return "ACTIVATE";
    case Action::kExpire:
      return "EXPIRE";
    case Action::kRenew:
      return "RENEW";
    case Action::kManageOrg:
      return "MANAGE_ORG";
    case Action::kManageUsers:
      return "MANAGE_USERS";
    case Action::kReportLeak:
      return "REPORT_LEAK";
  }
  return "READ";
}

std::string_view ToString(TokenStatus s) {
  return s == TokenStatus::kEnabled ? "ENABLED" : "DISABLED";
}

std::string_view ToString(StatusReason r) {
  switch (r) {
    case StatusReason::kNone:
      return "NONE";
    case StatusReason::kProvider:
      return "PROVIDER";
    case StatusReason::kSubscriptionExpired:
      return "SUBSCRIPTION_EXPIRED";
    case StatusReason::kNoSubscription:
      return "NO_SUBSCRIPTION";
  }
  return "NONE";
}

std::optional<Role> ParseRole(std::string_view s) {
  for (Role r : {Role::kProviderAdmin, Role::kOrgAdmin, Role::kOrgReadonly})
    if (ToString(r) == s) return r;
  return std::nullopt;
}

std::optional<DisableReason> ParseDisableReason(std::string_view s) {
  for (DisableReason r :
       {DisableReason::kQuotaThreshold, DisableReason::kTermsViolation, DisableReason::kOther})
    if (ToString(r) == s) return r;
  return std::nullopt;
}

std::string_view ToString(LeakPolicy p) { return p == LeakPolicy::kNotify ? "NOTIFY" : "REVOKE"; }

std::optional<LeakPolicy> ParseLeakPolicy(std::string_view s) {
  if (s == "REVOKE") return LeakPolicy::kRevoke;
  if (s == "NOTIFY") return LeakPolicy::kNotify;
  return std::nullopt;
}

}  // namespace sandgate::domain
