// TokenIndex: the in-memory map from a token's lookup hash to its organization and that
// organization's rule-relevant state. verify() answers every Submission API request from here with
// no database round trip. The service layer updates it right after each change commits, while it
// still holds the write lock, so index order equals commit order.
// Thread-safe: many concurrent Verify() calls, updates take an exclusive lock briefly.
#pragma once

#include <pthread.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "domain/decision.h"
#include "token/keyring.h"
#include "token/token_table.h"

namespace sandgate::token {

struct Verification {
  // OK: the token authenticates. Otherwise 401 INVALID_TOKEN (malformed, unknown or deleted) or
  // 403 TOKEN_DISABLED / SUBSCRIPTION_EXPIRED / NO_SUBSCRIPTION (known token that may not be used).
  Status status;
  std::optional<domain::OrgId> org;  // set when the token is known, even if refused
  domain::StatusReason reason = domain::StatusReason::kNone;
  std::string last4;  // fingerprint of the presented token when known
};

class TokenIndex {
 public:
  explicit TokenIndex(std::shared_ptr<const Keyring> keys);  // keys must not be null

  // Parse, hash, look up (constant-time comparison of the stored hash), then apply
  // domain::AuthenticateToken at `now`.
  Verification Verify(std::string_view token, TimeMs now) const;

  // Sets the organization's state (kept even when it has no token).
  void PutOrg(const domain::OrgState& state);
  // Sets the organization's token, replacing any previous one (which stops verifying at once).
  // `last4` is not stored: Verify reports the presented token's own last four characters.
  // `lookup_hash` is Keyring::LookupHash of the token (32 bytes); any other size removes the
  // organization's token instead (fail closed). An organization not yet given to PutOrg gets a
  // default state (no subscription). A hash already held by another organization moves here.
  void PutToken(domain::OrgId org, const std::string& lookup_hash, const std::string& last4);
  // Removes the organization's token; its state stays.
  void RemoveToken(domain::OrgId org);
  // Forgets every organization and token.
  void Clear();
  // The number of tokens that can verify (known organizations with a token).
  size_t token_count() const;

 private:
  // A reader/writer lock that prefers writers (glibc's default rwlock prefers readers, so a steady
  // stream of Verify calls could postpone a revocation indefinitely). Meets SharedMutex for
  // std::shared_lock / std::unique_lock.
  class RwLock {
   public:
    RwLock();
    ~RwLock();
    RwLock(const RwLock&) = delete;
    RwLock& operator=(const RwLock&) = delete;
    void lock();
    void unlock();
    void lock_shared();
    void unlock_shared();

   private:
    pthread_rwlock_t rw_;
  };
  using Hash = Keyring::Hash;
  // The authoritative per-organization record; the token's entry in tokens_ mirrors `state`.
  struct OrgSlot {
    domain::OrgState state;
    bool has_token = false;
    Hash lookup_hash{};  // meaningful when has_token
  };
  // Unlinks the slot's token from tokens_ (if it has one). Caller holds mu_ exclusively.
  void DropToken(OrgSlot& slot);

  std::shared_ptr<const Keyring> keys_;
  mutable RwLock mu_;
  TokenTable tokens_;  // lookup hash -> organization and its state: Verify reads only this
  std::unordered_map<domain::OrgId, OrgSlot> orgs_;
};

}  // namespace sandgate::token
