// StampedCache: values read from the store, kept for as long as the store has not changed.
// - Every entry belongs to one Store::ChangeStamp, taken BEFORE the read that produced the value.
//   A lookup under stamp S returns only entries put under S; the first lookup or insert under a
//   newer stamp empties the cache. So a hit is exactly what a read would return now, whoever
//   committed in between (this process, the CLI, another node): no time-to-live, no lag.
// - Values are immutable and shared (a hit costs a lock and a reference count, not a copy).
// - At most `capacity` entries; inserts beyond it are dropped until the next change empties it.
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/mutex.h"
#include "common/status.h"

namespace sandgate::store {

template <class Key, class Value, class Hash = std::hash<Key>>
class StampedCache {
 public:
  explicit StampedCache(size_t capacity) : capacity_(capacity) {}

  // The value put under `stamp` for `key`, or null.
  std::shared_ptr<const Value> Get(uint64_t stamp, const Key& key) {
    MutexLock lock(mu_);
    if (!Advance(stamp)) return nullptr;
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : it->second;
  }

  // Keeps `value`, read after `stamp` was taken, for `key`. Ignored when the cache has already
  // moved past `stamp` (the value may be stale) or is full.
  void Put(uint64_t stamp, const Key& key, std::shared_ptr<const Value> value) {
    MutexLock lock(mu_);
    if (!Advance(stamp)) return;
    if (entries_.size() >= capacity_ && entries_.find(key) == entries_.end()) return;
    entries_.insert_or_assign(key, std::move(value));
  }

  // Read-through: the value put under `stamp` for `key`, or else what `read()` returns (a
  // Result<std::shared_ptr<const Value>>, called without the lock), kept under `stamp` when it is
  // a value. Take `stamp` (Store::ChangeStamp) before calling; without one nothing is kept.
  template <class Read>
  Result<std::shared_ptr<const Value>> GetOrRead(std::optional<uint64_t> stamp, const Key& key,
                                                 Read&& read) {
    if (stamp) {
      if (auto hit = Get(*stamp, key)) return hit;
    }
    Result<std::shared_ptr<const Value>> fresh = read();
    if (stamp && fresh.ok()) Put(*stamp, key, fresh.value());
    return fresh;
  }

  size_t size() const {
    MutexLock lock(mu_);
    return entries_.size();
  }

 private:
  // Moves the cache to `stamp` when it is newer (emptying it); false when it is older.
  bool Advance(uint64_t stamp) REQUIRES(mu_) {
    if (stamp < stamp_) return false;
    if (stamp > stamp_) {
      entries_.clear();
      stamp_ = stamp;
    }
    return true;
  }

  const size_t capacity_;
  mutable Mutex mu_;
  uint64_t stamp_ GUARDED_BY(mu_) = 0;
  std::unordered_map<Key, std::shared_ptr<const Value>, Hash> entries_ GUARDED_BY(mu_);
};

}  // namespace sandgate::store
