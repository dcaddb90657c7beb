#include "token/token_table.h"

#include <sodium.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

namespace sandgate::token {
namespace {

static_assert(sizeof(TokenTable::Entry) == 64, "one entry per cache line");
static_assert(sizeof(TokenTable::Hash) == crypto_verify_32_BYTES);
static_assert(std::is_trivially_copyable_v<TokenTable::Entry>);
// Entry copies the OrgState fields domain::TokenStatusAt reads. If OrgState changes, check that
// Entry::SetState/State still carry every field the token rules use, then update this size.
// (leak_policy, issue 20, is not one: it only decides what a leak report does.)
static_assert(sizeof(domain::OrgState) == 48, "OrgState changed: review TokenTable::Entry");

constexpr size_t kMinCapacity = 16;
constexpr size_t kHugePage = size_t{2} << 20;

uint64_t Tag(const TokenTable::Hash& h) {
  uint64_t v;
  std::memcpy(&v, h.data(), sizeof v);
  return v;
}

}  // namespace

void TokenTable::Entry::SetState(const domain::OrgState& s) {
  org = s.org_id;
  subscription = static_cast<uint8_t>(s.subscription);
  has_ends_at = s.ends_at.has_value();
  ends_at = s.ends_at.value_or(0);
  provider_disabled = s.provider_disabled;
  disable_reason = static_cast<uint8_t>(s.disable_reason);
}

domain::OrgState TokenTable::Entry::State() const {
  domain::OrgState s;
  s.org_id = org;
  s.subscription = static_cast<domain::Subscription>(subscription);
  if (has_ends_at) s.ends_at = ends_at;
  s.has_token = true;
  s.provider_disabled = provider_disabled != 0;
  s.disable_reason = static_cast<domain::DisableReason>(disable_reason);
  return s;
}

TokenTable::~TokenTable() { Free(slots_); }

TokenTable::Entry* TokenTable::Allocate(size_t n) {
  size_t bytes = n * sizeof(Entry);
  // Large tables are 2 MiB-aligned and ask for transparent huge pages: a random lookup then misses
  // the TLB far less often.
  const size_t align = bytes >= kHugePage ? kHugePage : alignof(Entry);
  bytes = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, bytes);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) ::madvise(p, bytes, MADV_HUGEPAGE);  // advisory; failure is harmless
#endif
  std::memset(p, 0, bytes);  // all slots empty
  return static_cast<Entry*>(p);
}

void TokenTable::Free(Entry* p) { std::free(p); }

size_t TokenTable::Home(const Hash& h) const {
  // Keyed BLAKE2b output: its first 8 bytes are uniform and unknown to an attacker.
  return static_cast<size_t>(Tag(h)) & (capacity_ - 1);
}

size_t TokenTable::Probe(const Hash& h) const {
  const uint64_t tag = Tag(h);
  for (size_t i = Home(h);; i = (i + 1) & (capacity_ - 1)) {
    const Entry& e = slots_[i];
    if (!e.used) return i;
    // The tag filters; the full comparison is constant-time (crypto_verify_32: libsodium's
    // vectorised counterpart of sodium_memcmp for exactly 32 bytes).
    if (Tag(e.hash) == tag && crypto_verify_32(e.hash.data(), h.data()) == 0) return i;
  }
}

const TokenTable::Entry* TokenTable::Find(const Hash& h) const {
  if (size_ == 0) return nullptr;
  const Entry& e = slots_[Probe(h)];
  return e.used ? &e : nullptr;
}

TokenTable::Entry* TokenTable::Find(const Hash& h) {
  return const_cast<Entry*>(static_cast<const TokenTable*>(this)->Find(h));
}

void TokenTable::Grow() {
  const size_t new_capacity = capacity_ == 0 ? kMinCapacity : capacity_ * 2;
  Entry* fresh = Allocate(new_capacity);
  Entry* old = slots_;
  const size_t old_capacity = capacity_;
  slots_ = fresh;
  capacity_ = new_capacity;
  for (size_t i = 0; i < old_capacity; ++i) {
    if (!old[i].used) continue;
    slots_[Probe(old[i].hash)] = old[i];
  }
  Free(old);
}

TokenTable::Entry& TokenTable::Insert(const Hash& h) {
  // Load factor at most 3/4: short probe runs, which stay within a few adjacent cache lines.
  if ((size_ + 1) * 4 > capacity_ * 3) Grow();
  Entry& e = slots_[Probe(h)];
  if (!e.used) {
    std::memset(&e, 0, sizeof e);
    e.hash = h;
    e.used = 1;
    ++size_;
  }
  return e;
}

void TokenTable::Erase(const Hash& h) {
  if (size_ == 0) return;
  size_t hole = Probe(h);
  if (!slots_[hole].used) return;
  // Backward-shift deletion: pull later members of the probe run into the hole so every entry stays
  // reachable from its home slot without tombstones.
  const size_t mask = capacity_ - 1;
  for (size_t j = (hole + 1) & mask; slots_[j].used; j = (j + 1) & mask) {
    const size_t home = Home(slots_[j].hash);
    // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  std::memset(&slots_[hole], 0, sizeof(Entry));
  --size_;
}

void TokenTable::Clear() {
  Free(slots_);
  slots_ = nullptr;
  capacity_ = 0;
  size_ = 0;
}

}  // namespace sandgate::token
