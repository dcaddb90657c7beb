// The decision table: every subscription state x token presence x provider-disable x role x action,
// including the boundary where the end date equals now. The expected outcome is computed by an
// independent, literal transcription of the rules in issue #2 (below), not by calling Decide.
#include "domain/decision.h"

#include <gtest/gtest.h>

#include <string>

namespace sandgate::domain {
namespace {

constexpr TimeMs kNow = 1'800'000'000'000;
constexpr OrgId kOrg = 7;

struct SubCase {
  const char* name;
  Subscription sub;
  std::optional<TimeMs> ends_at;
  bool effectively_active;
};
const SubCase kSubs[] = {
    {"none", Subscription::kNone, std::nullopt, false},
    {"active-open-ended", Subscription::kActive, std::nullopt, true},
    {"active-ends-later", Subscription::kActive, kNow + 1, true},
    {"active-ends-now", Subscription::kActive, kNow, false},  // the boundary: expired
    {"active-ended", Subscription::kActive, kNow - 1, false},
    {"expired", Subscription::kExpired, std::nullopt, false},
};

struct RoleCase {
  const char* name;
  Caller caller;
};
const RoleCase kRoles[] = {
    {"provider", {Role::kProviderAdmin, std::nullopt}},
    {"admin", {Role::kOrgAdmin, kOrg}},
    {"readonly", {Role::kOrgReadonly, kOrg}},
    {"admin-of-other-org", {Role::kOrgAdmin, kOrg + 1}},
    {"readonly-of-other-org", {Role::kOrgReadonly, kOrg + 1}},
};

// The rules, transcribed one by one. Returns "" when allowed, else "<http> <CODE>".
std::string Expected(const SubCase& s, bool has_token, bool disabled, const RoleCase& r, Action a) {
  const bool provider = r.caller.role == Role::kProviderAdmin;
  const bool same_org = r.caller.org_id == kOrg;
  const bool org_action = a == Action::kRead || a == Action::kReveal || a == Action::kAdd ||
                          a == Action::kRegenerate || a == Action::kDelete ||
                          a == Action::kReadAudit;
  // Tenant isolation: another organization's user learns nothing (404).
  if (!provider && !same_org) return "404 NOT_FOUND";
  // The provider API does not exist for organization users.
  if (!provider && !org_action) return "404 NOT_FOUND";
  // Reading the token page always works (rule 8), for every role; the audit log (rule 9) is for
  // administrators only (issue #14, finding 10).
  if (a == Action::kRead) return "";
  if (a == Action::kReadAudit) return r.caller.role == Role::kOrgReadonly ? "403 FORBIDDEN" : "";
  // Rule 10: reveal is for organization admins only.
  if (a == Action::kReveal) {
    if (r.caller.role != Role::kOrgAdmin) return "403 FORBIDDEN";
    return has_token ? "" : "404 TOKEN_NOT_FOUND";
  }
  if (a == Action::kAdd || a == Action::kRegenerate || a == Action::kDelete) {
    if (r.caller.role != Role::kOrgAdmin) return "403 FORBIDDEN";       // provider and read-only
    if (s.sub == Subscription::kNone) return "403 NO_SUBSCRIPTION";     // rule 1
    if (!s.effectively_active) return "403 SUBSCRIPTION_EXPIRED";       // rule 8
    if (disabled) return "403 TOKEN_DISABLED";                          // rule 7
    if (a == Action::kAdd) return has_token ? "409 TOKEN_EXISTS" : "";  // rule 4
    return has_token ? "" : "404 TOKEN_NOT_FOUND";                      // rules 5, 6
  }
  // Provider actions.
  switch (a) {
    case Action::kDisable:
      return disabled ? "409 TOKEN_ALREADY_DISABLED" : "";
    case Action::kEnable:
      return disabled ? "" : "409 TOKEN_NOT_DISABLED";
    case Action::kActivate:
      return s.sub == Subscription::kNone ? "" : "409 SUBSCRIPTION_EXISTS";
    case Action::kExpire:
      return s.effectively_active ? "" : "409 SUBSCRIPTION_NOT_ACTIVE";
    case Action::kRenew:
      return s.sub == Subscription::kNone ? "409 SUBSCRIPTION_NOT_STARTED" : "";
    case Action::kManageOrg:
    case Action::kManageUsers:
      return "";
    default:
      return "unreachable";
  }
}

std::string Actual(const Decision& d) {
  if (d.allowed()) return "";
  return std::to_string(d.status.http_status()) + " " + d.status.code();
}

TEST(DecisionTable, EveryStateActionAndRole) {
  int cases = 0;
  for (const SubCase& s : kSubs) {
    for (bool has_token : {false, true}) {
      for (bool disabled : {false, true}) {
        OrgState org{kOrg, s.sub, s.ends_at, has_token, disabled, DisableReason::kTermsViolation};
        for (const RoleCase& r : kRoles) {
          for (Action a : kAllActions) {
            Decision d = Decide(org, r.caller, a, kNow);
            EXPECT_EQ(Actual(d), Expected(s, has_token, disabled, r, a))
                << "sub=" << s.name << " token=" << has_token << " disabled=" << disabled
                << " role=" << r.name << " action=" << ToString(a);
            // A first activation provisions the token exactly when none exists.
            EXPECT_EQ(d.provision_token, a == Action::kActivate && d.allowed() && !has_token);
            if (!d.allowed()) {
              EXPECT_FALSE(d.status.message().empty());
            }
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 6 * 2 * 2 * 5 * 13);
}

TEST(DecisionTable, AllowedActionsAgreeWithDecide) {
  for (const SubCase& s : kSubs) {
    for (bool has_token : {false, true}) {
      for (bool disabled : {false, true}) {
        OrgState org{kOrg, s.sub, s.ends_at, has_token, disabled, DisableReason::kOther};
        for (const RoleCase& r : kRoles) {
          std::vector<Action> allowed = AllowedActions(org, r.caller, kNow);
          for (Action a : allowed) EXPECT_TRUE(Decide(org, r.caller, a, kNow).allowed());
          if (r.caller.role != Role::kProviderAdmin) {
            for (Action a : allowed)
              EXPECT_TRUE(a == Action::kRead || a == Action::kReveal || a == Action::kAdd ||
                          a == Action::kRegenerate || a == Action::kDelete ||
                          a == Action::kReadAudit);
          }
        }
      }
    }
  }
}

// The contract Services::ReadTokenPage's drawn pages rest on: the rules read the clock only
// through the subscription in effect. At any two instants where EffectiveSubscription agrees, every
// decision (outcome and code), the allowed actions and the token's status agree too. A rule that
// read the clock another way (a grace period, a warning before the end) fails here, and then the
// drawn pages need another key.
TEST(DecisionTable, TheClockIsReadOnlyThroughTheSubscriptionInEffect) {
  const TimeMs kTimes[] = {0,    kNow - 86'400'000, kNow - 2, kNow - 1,
                           kNow, kNow + 1,          kNow + 2, kNow + 86'400'000};
  int compared = 0;
  for (const SubCase& s : kSubs) {
    for (bool has_token : {false, true}) {
      for (bool disabled : {false, true}) {
        OrgState org{kOrg, s.sub, s.ends_at, has_token, disabled, DisableReason::kOther};
        for (TimeMs t1 : kTimes) {
          for (TimeMs t2 : kTimes) {
            if (EffectiveSubscription(org, t1) != EffectiveSubscription(org, t2)) continue;
            EXPECT_EQ(TokenStatusAt(org, t1).status, TokenStatusAt(org, t2).status);
            EXPECT_EQ(TokenStatusAt(org, t1).reason, TokenStatusAt(org, t2).reason);
            for (const RoleCase& r : kRoles) {
              EXPECT_EQ(AllowedActions(org, r.caller, t1), AllowedActions(org, r.caller, t2));
              for (Action a : kAllActions) {
                const Decision d1 = Decide(org, r.caller, a, t1), d2 = Decide(org, r.caller, a, t2);
                EXPECT_EQ(Actual(d1), Actual(d2))
                    << s.name << " " << ToString(a) << " at " << t1 << " and " << t2;
                EXPECT_EQ(d1.status.message(), d2.status.message());
                ++compared;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(compared, 0);
}

TEST(Decision, ExpiryBoundaryIsExclusiveOfTheEndInstant) {
  OrgState org{kOrg, Subscription::kActive, kNow, true, false, DisableReason::kOther};
  EXPECT_EQ(EffectiveSubscription(org, kNow - 1), Subscription::kActive);
  EXPECT_EQ(EffectiveSubscription(org, kNow), Subscription::kExpired);
  EXPECT_TRUE(AuthenticateToken(org, kNow - 1).ok());
  EXPECT_EQ(AuthenticateToken(org, kNow).code(), "SUBSCRIPTION_EXPIRED");
}

TEST(Decision, TokenStatusReasons) {
  OrgState org{kOrg, Subscription::kActive, std::nullopt, true, false, DisableReason::kOther};
  EXPECT_EQ(TokenStatusAt(org, kNow).status, TokenStatus::kEnabled);
  org.provider_disabled = true;
  EXPECT_EQ(TokenStatusAt(org, kNow).reason, StatusReason::kProvider);
  EXPECT_EQ(AuthenticateToken(org, kNow).code(), "TOKEN_DISABLED");
  EXPECT_EQ(AuthenticateToken(org, kNow).message(), "API token disabled by your service provider");
  org.subscription = Subscription::kExpired;
  EXPECT_EQ(TokenStatusAt(org, kNow).reason, StatusReason::kSubscriptionExpired);
  EXPECT_EQ(AuthenticateToken(org, kNow).message(), "Sandbox subscription expired");
  // Renewal brings the token back unless the provider disabled it.
  org.subscription = Subscription::kActive;
  org.provider_disabled = false;
  EXPECT_TRUE(AuthenticateToken(org, kNow).ok());
  org.subscription = Subscription::kNone;
  EXPECT_EQ(TokenStatusAt(org, kNow).reason, StatusReason::kNoSubscription);
}

TEST(Decision, MessagesArePinned) {
  OrgState org{kOrg, Subscription::kActive, std::nullopt, true, false, DisableReason::kOther};
  Caller admin{Role::kOrgAdmin, kOrg};
  EXPECT_EQ(Decide(org, admin, Action::kAdd, kNow).status.message(),
            "Delete the existing token before adding a new one.");
  org.provider_disabled = true;
  EXPECT_NE(Decide(org, admin, Action::kRegenerate, kNow)
                .status.message()
                .find("contact your service provider"),
            std::string::npos);
}

TEST(Model, RoundTripsNames) {
  for (Role r : {Role::kProviderAdmin, Role::kOrgAdmin, Role::kOrgReadonly})
    EXPECT_EQ(ParseRole(ToString(r)), r);
  for (DisableReason r :
       {DisableReason::kQuotaThreshold, DisableReason::kTermsViolation, DisableReason::kOther})
    EXPECT_EQ(ParseDisableReason(ToString(r)), r);
  EXPECT_FALSE(ParseRole("root").has_value());
  EXPECT_FALSE(ParseDisableReason("quota_threshold").has_value());
}

// Issue 20: a leaked token is revoked (policy REVOKE) in every subscription and disable state,
// even where the organization may not change its token itself, and never without a token;
// NOTIFY changes nothing anywhere. Organization users cannot report through the rules at all.
TEST(Decision, LeakReportRevokesInEveryStateByPolicy) {
  for (const SubCase& s : kSubs) {
    for (bool has_token : {false, true}) {
      for (bool disabled : {false, true}) {
        for (LeakPolicy p : {LeakPolicy::kRevoke, LeakPolicy::kNotify}) {
          OrgState org{kOrg, s.sub, s.ends_at, has_token, disabled, DisableReason::kOther, p};
          for (const RoleCase& r : kRoles) {
            Decision d = Decide(org, r.caller, Action::kReportLeak, kNow);
            const std::string where = std::string(s.name) + " token=" + std::to_string(has_token) +
                                      " disabled=" + std::to_string(disabled) + " role=" + r.name;
            if (r.caller.role != Role::kProviderAdmin) {
              EXPECT_EQ(Actual(d), "404 NOT_FOUND") << where;
            } else if (!has_token) {
              EXPECT_EQ(Actual(d), "404 TOKEN_NOT_FOUND") << where;
            } else {
              EXPECT_TRUE(d.allowed()) << where;
              EXPECT_EQ(d.revoke_token, p == LeakPolicy::kRevoke) << where;
            }
            if (!d.allowed()) {
              EXPECT_FALSE(d.revoke_token) << where;
            }
            EXPECT_FALSE(d.provision_token);
          }
        }
      }
    }
  }
  // Never offered as a control.
  OrgState org{kOrg, Subscription::kActive, std::nullopt, true, false, DisableReason::kOther};
  for (const RoleCase& r : kRoles)
    for (Action a : AllowedActions(org, r.caller, kNow)) EXPECT_NE(a, Action::kReportLeak);
}

TEST(Model, LeakPolicyNames) {
  for (LeakPolicy p : {LeakPolicy::kRevoke, LeakPolicy::kNotify})
    EXPECT_EQ(ParseLeakPolicy(ToString(p)), p);
  EXPECT_EQ(ToString(LeakPolicy::kRevoke), "REVOKE");
  EXPECT_FALSE(ParseLeakPolicy("revoke").has_value());
  EXPECT_FALSE(ParseLeakPolicy("").has_value());
}

}  // namespace
}  // namespace sandgate::domain
