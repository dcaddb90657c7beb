// TokenTable: TokenIndex's lookup structure. An open-addressing (linear probing) hash table from a
// token's 32-byte lookup hash to one cache line holding everything Verify needs, so a lookup among
// a million tokens costs one memory miss instead of the three of a node-based map.
// Not thread-safe: TokenIndex serialises access with its lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "domain/model.h"
#include "token/keyring.h"

namespace sandgate::token {

class TokenTable {
 public:
  using Hash = Keyring::Hash;

  // One slot: the token's hash and a compact copy of its organization's rule-relevant state.
  struct alignas(64) Entry {
    Hash hash;
    domain::OrgId org;
    TimeMs ends_at;
    uint8_t used;  // 0: empty slot
    uint8_t subscription;
    uint8_t has_ends_at;
    uint8_t provider_disabled;
    uint8_t disable_reason;

    void SetState(const domain::OrgState& s);
    domain::OrgState State() const;  // has_token is true
  };

  TokenTable() = default;
  ~TokenTable();
  TokenTable(const TokenTable&) = delete;
  TokenTable& operator=(const TokenTable&) = delete;

  // The entry for `h`, or null. The full hash is compared in constant time (crypto_verify_32).
  const Entry* Find(const Hash& h) const;
  Entry* Find(const Hash& h);
  // The entry for `h`, inserted (empty state) when absent; the caller fills in the state.
  // May move every entry (pointers from Find become invalid).
  Entry& Insert(const Hash& h);
  // Removes `h` if present.
  void Erase(const Hash& h);
  void Clear();
  size_t size() const { return size_; }

 private:
  size_t Home(const Hash& h) const;
  size_t Probe(const Hash& h) const;  // the slot holding h, or the empty slot ending its run
  void Grow();
  static Entry* Allocate(size_t n);
  static void Free(Entry* p);

  Entry* slots_ = nullptr;
  size_t capacity_ = 0;  // 0 or a power of two
  size_t size_ = 0;
};

}  // namespace sandgate::token
