#include "domain/audit_actions.h"

#include <array>

namespace sandgate::domain {

namespace {

// name, label, filter, did, attempt
constexpr std::array kActions{
    AuditActionInfo{"TOKEN_ADD", "Added the token", "Token added", "added the token",
                    "add the token"},
    AuditActionInfo{"TOKEN_REGENERATE", "Regenerated the token", "Token regenerated",
                    "regenerated the token", "regenerate the token"},
    AuditActionInfo{"TOKEN_DELETE", "Deleted the token", "Token deleted", "deleted the token",
                    "delete the token"},
    AuditActionInfo{"TOKEN_REVEAL", "Revealed the token", "Token revealed or copied",
                    "revealed the token", "reveal the token"},
    AuditActionInfo{"TOKEN_READ", "Viewed the token", "", "viewed the token page",
                    "read the token page"},
    AuditActionInfo{"TOKEN_PROVISION", "Provisioned the token", "", "provisioned a token",
                    "provision a token"},
    AuditActionInfo{"TOKEN_DISABLE", "Disabled the token", "Token disabled", "disabled the token",
                    "disable the token"},
    AuditActionInfo{"TOKEN_ENABLE", "Enabled the token", "Token enabled", "enabled the token",
                    "enable the token"},
    AuditActionInfo{"TOKEN_LEAKED", "Reported the token leaked", "Token found in public",
                    "found the token in public", "report the token leaked"},
    AuditActionInfo{"SUBSCRIPTION_ACTIVATE", "Activated the subscription", "Subscription activated",
                    "activated the subscription", "activate the subscription"},
    AuditActionInfo{"SUBSCRIPTION_RENEW", "Renewed the subscription", "Subscription renewed",
                    "renewed the subscription", "renew the subscription"},
    AuditActionInfo{"SUBSCRIPTION_EXPIRE", "Expired the subscription", "Subscription ended",
                    "ended the subscription", "end the subscription"},
    AuditActionInfo{"LOGIN", "Signed in", "Sign-ins", "signed in", "sign in"},
    AuditActionInfo{"LOGOUT", "Signed out", "", "signed out", "sign out"},
    AuditActionInfo{"ORG_CREATE", "Created the organization", "", "created the organization",
                    "create the organization"},
    AuditActionInfo{"ORG_UPDATE", "Changed the settings", "", "changed the organization's settings",
                    "change the organization's settings"},
    AuditActionInfo{"SETTINGS_UPDATE", "Changed the provider settings", "",
                    "changed the provider settings", "change the provider settings"},
    AuditActionInfo{"USER_CREATE", "Created a user", "", "added a user", "add a user"},
    AuditActionInfo{"USER_ROLE_CHANGE", "Changed a user\u2019s role", "", "changed a user's role",
                    "change a user's role"},
    AuditActionInfo{"USER_PASSWORD_RESET", "Reset a user\u2019s password", "",
                    "reset a user's password", "reset a user's password"},
    AuditActionInfo{"USER_DELETE", "Deleted a user", "", "removed a user", "remove a user"},
    AuditActionInfo{"AUDIT_READ", "Read the audit log", "", "read the audit log",
                    "read the audit log"},
    AuditActionInfo{"PROVIDER_API", "Used the provider console", "", "used the provider API",
                    "use the provider API"},
    AuditActionInfo{"CSRF_CHECK", "Failed the request check (CSRF)", "",
                    "sent a request without a valid CSRF token",
                    "make a change without a valid CSRF token"},
    AuditActionInfo{"WEBHOOK_CREATE", "Added a webhook endpoint", "", "added a webhook endpoint",
                    "add a webhook endpoint"},
    AuditActionInfo{"WEBHOOK_UPDATE", "Edited a webhook endpoint", "", "edited a webhook endpoint",
                    "edit a webhook endpoint"},
    AuditActionInfo{"WEBHOOK_DELETE", "Deleted a webhook endpoint", "",
                    "deleted a webhook endpoint", "delete a webhook endpoint"},
    AuditActionInfo{"WEBHOOK_TEST", "Sent a webhook test event", "", "sent a webhook test event",
                    "send a webhook test event"},
    AuditActionInfo{"WEBHOOK_SECRET_ROTATE", "Rotated a webhook secret", "",
                    "rotated a webhook signing secret", "rotate a webhook signing secret"},
    AuditActionInfo{"KEYS_ROTATE", "Rotated the keys", "", "rotated the keys", "rotate the keys"},
    AuditActionInfo{"KEYS_RESEAL", "Resealed the tokens", "", "resealed the tokens",
                    "reseal the tokens"},
    AuditActionInfo{"KEYS_RETIRE", "Retired old keys", "", "retired old keys", "retire old keys"},
};

}  // namespace

std::span<const AuditActionInfo> AuditActions() { return kActions; }

const AuditActionInfo* FindAuditAction(std::string_view name) {
  for (const auto& a : kActions)
    if (a.name == name) return &a;
  return nullptr;
}

}  // namespace sandgate::domain
