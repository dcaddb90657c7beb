// TokenIndex: the in-memory map from a token's lookup hash to its organization and that
// organization's rule-relevant state. verify() answers every Submission API request from here with
// no database round trip. The service layer updates it right after each change commits, while it
// still holds the write lock, so index order equals commit order.
// Thread-safe: many concurrent Verify() calls, updates take an exclusive lock briefly.
#pragma once

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "domain/decision.h"
#include "token/keyring.h"

namespace sandgate::token {

struct Verification {
  // OK: the token authenticates. Otherwise 401 INVALID_TOKEN (malformed, unknown or deleted) or
  // 403 TOKEN_DISABLED / SUBSCRIPTION_EXPIRED / NO_SUBSCRIPTION (known token that may not be used).
  Status status;
  std::optional<domain::OrgId> org;   // set when the token is known, even if refused
  domain::StatusReason reason = domain::StatusReason::kNone;
  std::string last4;                  // fingerprint of the presented token when known
};

class TokenIndex {
 public:
  explicit TokenIndex(std::shared_ptr<const Keyring> keys);

  // Parse, hash, look up (constant-time comparison of the stored hash), then apply
  // domain::AuthenticateToken at `now`.
  Verification Verify(std::string_view token, TimeMs now) const;

  // Sets the organization's state (kept even when it has no token).
  void PutOrg(const domain::OrgState& state);
  // Sets the organization's token, replacing any previous one (which stops verifying at once).
  void PutToken(domain::OrgId org, const std::string& lookup_hash, const std::string& last4);
  // Removes the organization's token; its state stays.
  void RemoveToken(domain::OrgId org);
  void Clear();
  size_t token_count() const;

 private:
  struct OrgSlot {
    domain::OrgState state;
    std::string lookup_hash;  // empty when no token
    std::string last4;
  };
  std::shared_ptr<const Keyring> keys_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, domain::OrgId> by_hash_;
  std::unordered_map<domain::OrgId, OrgSlot> orgs_;
};

}  // namespace sandgate::token
