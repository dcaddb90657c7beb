#include "auth/shared_throttle.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace sandgate::auth {

SharedThrottle::SharedThrottle(store::Store& store, std::string scope, Policy policy,
                               std::function<TimeMs()> now)
    : store_(store), scope_(std::move(scope)), policy_(policy), now_(std::move(now)) {
  if (policy_.exchange_ms > 0) thread_ = std::thread([this] { Run(); });
}

SharedThrottle::~SharedThrottle() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void SharedThrottle::Run() {
  for (;;) {
    {
      MutexLock lock(mu_);
      const auto due =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(policy_.exchange_ms);
      while (!stop_ && std::chrono::steady_clock::now() < due)
        cv_.WaitFor(due - std::chrono::steady_clock::now());
      if (stop_) return;
    }
    (void)Exchange();  // on failure the counts stay with the node and the next round retries
  }
}

TimeMs SharedThrottle::Delay(int64_t count) const {
  const int excess = static_cast<int>(std::clamp<int64_t>(count - policy_.free_failures, 0, 30));
  return std::min<TimeMs>(policy_.max_delay, (TimeMs{1} << excess) * 1000);
}

std::optional<int64_t> SharedThrottle::Attempt(const std::string& key, TimeMs now, bool failed,
                                               bool* exchange_first) {
  MutexLock lock(mu_);
  // A slice is the store's permission, given under its lock (past the limit: after the wait).
  // While this node holds some, the key does not wait here (the store's count includes them).
  if (auto s = slices_.find(key);
      s != slices_.end() && s->second.left > 0 && now - s->second.at < policy_.window) {
    if (failed) s->second.left--;
    return std::nullopt;
  }
  Known k, credit;
  if (auto it = known_.find(key); it != known_.end() && now - it->second.last < policy_.window)
    k = it->second;
  if (auto it = credits_.find(key); it != credits_.end()) credit = it->second;
  const int64_t count = k.count + credit.count;
  const TimeMs last = std::max(k.last, credit.last);
  if (count >= policy_.free_failures && now - last < policy_.window) {
    const TimeMs until = last + Delay(count);
    if (now < until) return std::max<int64_t>(1, (until - now + 999) / 1000);
  }
  if (!failed) return std::nullopt;
  auto c = credit_used_.find(key);
  if (c == credit_used_.end() || now - c->second >= policy_.window) {
    credit_used_[key] = now;
    Known& mine = credits_[key];
    mine.count++;
    mine.last = std::max(mine.last, now);
    return std::nullopt;
  }
  want_[key] = true;
  if (!exchange_first) return int64_t{1};
  *exchange_first = true;
  return std::nullopt;
}

void SharedThrottle::Forgive(const std::string& key) {
  MutexLock lock(mu_);
  if (auto it = credits_.find(key); it != credits_.end() && it->second.count > 0) {
    if (--it->second.count == 0) credits_.erase(it);
    return;
  }
  const TimeMs now = now_();
  if (auto s = slices_.find(key); s != slices_.end() && now - s->second.at < policy_.window) {
    s->second.left++;  // counted in the store when taken: back into the slice
    return;
  }
  adjust_[key]--;
  if (auto it = known_.find(key); it != known_.end() && it->second.count > 0) it->second.count--;
}

void SharedThrottle::Clear(const std::string& key) {
  MutexLock lock(mu_);
  credits_.erase(key);
  slices_.erase(key);
  known_.erase(key);
  // Far below any count: the store's count of the key goes to 0 (counts never go below 0).
  adjust_[key] = -(int64_t{1} << 40);
}

Status SharedThrottle::ExchangeSoon() {
  const uint64_t seen = exchanges_started_.load();
  std::unique_lock<std::mutex> one(exchange_mu_);
  if (exchanges_started_.load() > seen) return Status::Ok();  // one started since, and ended
  one.unlock();
  return Exchange();
}

Status SharedThrottle::Exchange() {
  std::lock_guard<std::mutex> one(exchange_mu_);
  exchanges_started_++;
  const TimeMs now = now_();
  std::unordered_map<std::string, Known> sending;
  std::unordered_map<std::string, bool> wanted;
  std::unordered_map<std::string, int64_t> adjusting;
  {
    MutexLock lock(mu_);
    if (!policy_.exchange_when_idle && credits_.empty() && want_.empty() && adjust_.empty() &&
        known_.empty() && slices_.empty())
      return Status::Ok();
    sending.swap(credits_);
    wanted.swap(want_);
    adjusting.swap(adjust_);
  }
  // Report what was forgiven or cleared (negative; last 0 leaves the key's latest attempt as it
  // is), then the failures let through on credit since (those against slices were counted when
  // taken).
  std::vector<store::ThrottleCount> deltas;
  deltas.reserve(sending.size() + adjusting.size());
  for (const auto& [key, n] : adjusting) deltas.push_back({key, n, 0});
  for (const auto& [key, c] : sending) deltas.push_back({key, c.count, c.last});
  std::vector<store::ThrottleCount> rows;
  std::unordered_map<std::string, int64_t> grants;
  int64_t nodes = 1;
  Status st = store_.Write([&](store::Tx& tx) -> Status {
    auto r = tx.ExchangeThrottle(scope_, deltas, now, policy_.window, policy_.max_rows);
    if (!r.ok()) return r.status();
    auto n = tx.LiveNodes();
    if (!n.ok()) return n.status();
    nodes = std::max<int64_t>(1, *n);
    std::unordered_map<std::string, store::ThrottleCount> by_key;
    for (const store::ThrottleCount& c : *r) by_key[c.key] = c;
    // New slices, taken under the store's write lock: they never add up to more than the room.
    std::vector<store::ThrottleCount> taken;
    grants.clear();
    for (const auto& [key, yes] : wanted) {
      store::ThrottleCount c;
      if (auto it = by_key.find(key); it != by_key.end()) c = it->second;
      const int64_t room = policy_.free_failures - c.count;
      int64_t slice = room > 0 ? (room + nodes - 1) / nodes : 0;
      if (room <= 0 && now >= c.last + Delay(c.count)) slice = 1;  // past the limit: one per wait
      if (slice <= 0) continue;
      grants[key] = slice;
      taken.push_back({key, slice, std::max(c.last, now)});
    }
    if (!taken.empty()) {
      r = tx.ExchangeThrottle(scope_, taken, now, policy_.window, policy_.max_rows);
      if (!r.ok()) return r.status();
    }
    rows = std::move(r).value();
    return Status::Ok();
  });
  MutexLock lock(mu_);
  if (!st.ok()) {
    // Nothing was sent or taken: the counts stay with this node.
    for (const auto& [key, c] : sending) {
      Known& p = credits_[key];
      p.count += c.count;
      p.last = std::max(p.last, c.last);
    }
    for (const auto& [key, yes] : wanted) want_[key] = yes;
    for (const auto& [key, n] : adjusting) {
      int64_t& a = adjust_[key];
      a = std::max(a + n, -(int64_t{1} << 40));
    }
    return st;
  }
  known_.clear();
  for (const store::ThrottleCount& r : rows) known_[r.key] = Known{r.count, r.last};
  for (const auto& [key, slice] : grants) {
    Slice& s = slices_[key];
    if (now - s.at >= policy_.window) s.left = 0;
    s.left += slice;
    s.at = now;
  }
  for (auto it = slices_.begin(); it != slices_.end();)
    it = now - it->second.at >= policy_.window ? slices_.erase(it) : std::next(it);
  for (auto it = credit_used_.begin(); it != credit_used_.end();)
    it = now - it->second >= policy_.window ? credit_used_.erase(it) : std::next(it);
  return Status::Ok();
}

}  // namespace sandgate::auth
