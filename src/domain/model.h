// The domain vocabulary: subscription states, token status, roles and actions. Pure values, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace sandgate::domain {

using OrgId = int64_t;

enum class Subscription { kNone, kActive, kExpired };
enum class Role { kProviderAdmin, kOrgAdmin, kOrgReadonly };
enum class DisableReason { kQuotaThreshold, kTermsViolation, kOther };
// What a report of the organization's token found in public (issue 20, secret scanning) does:
// revoke it (the default) or only record and notify.
enum class LeakPolicy { kRevoke, kNotify };

// Everything a caller can ask of the system that the rules govern.
enum class Action {
  // Organization-scoped token actions.
  kRead,
  kReveal,
  kAdd,
  kRegenerate,
  kDelete,
  kReadAudit,
  // Provider actions on an organization.
  kDisable,
  kEnable,
  kActivate,
  kExpire,
  kRenew,
  kManageOrg,    // create, rename, change settings
  kManageUsers,  // create, list, change role, reset password, delete
  // A secret scanner (or the provider for one) reports the token found in public. Not in
  // kAllActions: it is no control anyone is offered (allowedActions), only the rule for reports.
  kReportLeak,
};
inline constexpr Action kAllActions[] = {Action::kRead,       Action::kReveal, Action::kAdd,
                                         Action::kRegenerate, Action::kDelete, Action::kReadAudit,
                                         Action::kDisable,    Action::kEnable, Action::kActivate,
                                         Action::kExpire,     Action::kRenew,  Action::kManageOrg,
                                         Action::kManageUsers};

// The state of one organization as far as the rules care.
struct OrgState {
  OrgId org_id = 0;
  Subscription subscription = Subscription::kNone;
  std::optional<TimeMs> ends_at;  // only meaningful when kActive
  bool has_token = false;
  bool provider_disabled = false;
  DisableReason disable_reason = DisableReason::kOther;
  LeakPolicy leak_policy = LeakPolicy::kRevoke;
};

// Who is asking. Organization users carry their organization; provider admins carry none.
struct Caller {
  Role role = Role::kOrgReadonly;
  std::optional<OrgId> org_id;
};

enum class TokenStatus { kEnabled, kDisabled };
// Why a token is disabled; kNone when enabled.
enum class StatusReason { kNone, kProvider, kSubscriptionExpired, kNoSubscription };

std::string_view ToString(Subscription s);
std::string_view ToString(Role r);
std::string_view ToString(DisableReason r);
std::string_view ToString(Action a);
std::string_view ToString(TokenStatus s);
std::string_view ToString(StatusReason r);
std::optional<Role> ParseRole(std::string_view s);
std::optional<DisableReason> ParseDisableReason(std::string_view s);
std::string_view ToString(LeakPolicy p);                        // REVOKE, NOTIFY
std::optional<LeakPolicy> ParseLeakPolicy(std::string_view s);  // exactly those

}  // namespace sandgate::domain
