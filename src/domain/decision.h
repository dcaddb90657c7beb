// The rules of Sandgate, in one pure function. No I/O, no clock reads: `now` is an argument.
// Every service and every HTTP handler asks Decide() and never re-derives a rule.
#pragma once

#include <vector>

#include "common/status.h"
#include "domain/model.h"

namespace sandgate::domain {

// The subscription as it stands at `now`: ACTIVE whose end date is at or before now is EXPIRED.
Subscription EffectiveSubscription(const OrgState& org, TimeMs now);

struct EffectiveStatus {
  TokenStatus status = TokenStatus::kEnabled;
  StatusReason reason = StatusReason::kNone;
};
// The token's status at `now`. Precedence: no subscription, then expired subscription, then the
// provider's disable. (An expired subscription is reported first because renewing it is the first
// step; the provider's disable is still visible through OrgState and survives renewal.)
EffectiveStatus TokenStatusAt(const OrgState& org, TimeMs now);

// Whether a token of this organization authenticates a Submission API request at `now`.
// OK, or 403 TOKEN_DISABLED / SUBSCRIPTION_EXPIRED / NO_SUBSCRIPTION with the Submission API's
// words.
Status AuthenticateToken(const OrgState& org, TimeMs now);

struct Decision {
  Status status;                 // OK when allowed; otherwise the refusal to return
  bool provision_token = false;  // kActivate: generate the organization's first token
  bool revoke_token = false;     // kReportLeak: delete the reported token (policy REVOKE)
  bool allowed() const { return status.ok(); }
};

// The single decision function: may `caller` perform `action` on `org` at `now`?
Decision Decide(const OrgState& org, const Caller& caller, Action action, TimeMs now);

// The actions `caller` may perform on `org` right now, in kAllActions order, limited to those that
// make sense for the caller's role (organization actions for organization users, everything for the
// provider). Clients show exactly these controls.
std::vector<Action> AllowedActions(const OrgState& org, const Caller& caller, TimeMs now);

}  // namespace sandgate::domain
