#include "token/token_index.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "token/token_format.h"

namespace sandgate::token {

TokenIndex::RwLock::RwLock() {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
#if defined(__GLIBC__)
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
  if (pthread_rwlock_init(&rw_, &attr) != 0) std::abort();
  pthread_rwlockattr_destroy(&attr);
}
TokenIndex::RwLock::~RwLock() { pthread_rwlock_destroy(&rw_); }
// Lock failures (EDEADLK, EAGAIN on reader overflow) are programming errors; fail hard.
void TokenIndex::RwLock::lock() {
  if (pthread_rwlock_wrlock(&rw_) != 0) std::abort();
}
void TokenIndex::RwLock::unlock() { pthread_rwlock_unlock(&rw_); }
void TokenIndex::RwLock::lock_shared() {
  if (pthread_rwlock_rdlock(&rw_) != 0) std::abort();
}
void TokenIndex::RwLock::unlock_shared() { pthread_rwlock_unlock(&rw_); }

TokenIndex::TokenIndex(std::shared_ptr<const Keyring> keys) : keys_(std::move(keys)) {
  if (!keys_) std::abort();
}

Verification TokenIndex::Verify(std::string_view token, TimeMs now) const {
  Verification v;
  // Malformed input never reaches the hash or the table.
  if (Status parsed = Parse(token); !parsed.ok()) {
    v.status = std::move(parsed);
    return v;
  }
  const Hash h = keys_->LookupHashBytes(token);  // outside the lock
  std::optional<domain::OrgState> state;
  {
    std::shared_lock lock(mu_);
    if (const TokenTable::Entry* e = tokens_.Find(h)) state = e->State();
  }
  if (!state) {
    v.status = InvalidToken();
    return v;
  }
  v.org = state->org_id;
  v.last4 = Last4(token);  // equal to the stored token's: the hashes matched
  v.reason = domain::TokenStatusAt(*state, now).reason;
  if (v.reason != domain::StatusReason::kNone) v.status = domain::AuthenticateToken(*state, now);
  return v;
}

void TokenIndex::PutOrg(const domain::OrgState& state) {
  std::unique_lock lock(mu_);
  OrgSlot& slot = orgs_[state.org_id];
  slot.state = state;
  if (!slot.has_token) return;
  if (TokenTable::Entry* e = tokens_.Find(slot.lookup_hash)) e->SetState(state);
}

void TokenIndex::DropToken(OrgSlot& slot) {
  if (!slot.has_token) return;
  const TokenTable::Entry* e = tokens_.Find(slot.lookup_hash);
  if (e != nullptr && e->org == slot.state.org_id) tokens_.Erase(slot.lookup_hash);
  slot.has_token = false;
  slot.lookup_hash.fill(0);
}

void TokenIndex::PutToken(domain::OrgId org, const std::string& lookup_hash,
                          const std::string& /*last4*/) {
  Hash h;
  const bool valid = lookup_hash.size() == h.size();
  if (valid) std::memcpy(h.data(), lookup_hash.data(), h.size());
  std::unique_lock lock(mu_);
  auto [slot_it, inserted] = orgs_.try_emplace(org);
  OrgSlot& slot = slot_it->second;
  if (inserted) slot.state.org_id = org;
  DropToken(slot);
  if (!valid) return;
  // A hash held by another organization (only through a caller's bug) moves: one hash, one org.
  if (const TokenTable::Entry* e = tokens_.Find(h)) {
    if (auto other = orgs_.find(e->org); other != orgs_.end()) DropToken(other->second);
    tokens_.Erase(h);
  }
  slot.has_token = true;
  slot.lookup_hash = h;
  tokens_.Insert(h).SetState(slot.state);
}

void TokenIndex::RemoveToken(domain::OrgId org) {
  std::unique_lock lock(mu_);
  if (const auto it = orgs_.find(org); it != orgs_.end()) DropToken(it->second);
}

void TokenIndex::Clear() {
  std::unique_lock lock(mu_);
  tokens_.Clear();
  orgs_.clear();
}

size_t TokenIndex::token_count() const {
  std::shared_lock lock(mu_);
  return tokens_.size();
}

}  // namespace sandgate::token
