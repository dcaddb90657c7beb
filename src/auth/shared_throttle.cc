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
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SharedThrottle::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(policy_.exchange_ms), [&] { return stop_; });
    if (stop_) break;
    lock.unlock();
    (void)Exchange();  // on failure the counts stay pending and the next round retries
    lock.lock();
  }
}

std::optional<int64_t> SharedThrottle::Attempt(const std::string& key, TimeMs now, bool failed,
                                               bool* exchange_first) {
  std::lock_guard<std::mutex> lock(mu_);
  Count known, mine;
  if (auto k = known_.find(key); k != known_.end() && now - k->second.last < policy_.window)
    known = k->second;
  auto p = pending_.find(key);
  if (p != pending_.end()) mine = p->second;
  const int64_t failures = known.count + mine.count;
  const TimeMs last = std::max(known.last, mine.last);
  if (failures >= policy_.free_failures && now - last < policy_.window) {
    const int excess = static_cast<int>(std::min<int64_t>(failures - policy_.free_failures, 30));
    const TimeMs delay = std::min<TimeMs>(policy_.max_delay, (TimeMs{1} << excess) * 1000);
    if (now < last + delay) return std::max<int64_t>(1, (last + delay - now + 999) / 1000);
  } else if (failures < policy_.free_failures) {
    // This node's slice of the room left: the other nodes may be using theirs right now.
    const int64_t room = policy_.free_failures - known.count;
    const int64_t slice = (room + nodes_ - 1) / nodes_;
    if (mine.count >= slice && failed) {
      if (!exchange_first) return int64_t{1};  // until the next exchange tells more
      *exchange_first = true;
      return std::nullopt;
    }
  }
  if (failed) {
    Count& c = pending_[key];
    c.count++;
    c.last = std::max(c.last, now);
  }
  return std::nullopt;
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
  std::unordered_map<std::string, Count> sending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sending.swap(pending_);
  }
  std::vector<store::ThrottleCount> deltas;
  deltas.reserve(sending.size());
  for (const auto& [key, c] : sending) deltas.push_back({key, c.count, c.last});
  const TimeMs now = now_();
  std::vector<store::ThrottleCount> rows;
  int64_t nodes = 1;
  Status st = store_.Write([&](store::Tx& tx) -> Status {
    auto r = tx.ExchangeThrottle(scope_, deltas, now, policy_.window, policy_.max_rows);
    if (!r.ok()) return r.status();
    rows = std::move(r).value();
    auto n = tx.LiveNodes();
    if (!n.ok()) return n.status();
    nodes = std::max<int64_t>(1, *n);
    return Status::Ok();
  });
  std::lock_guard<std::mutex> lock(mu_);
  if (!st.ok()) {
    // Not sent: count them again with what came since.
    for (const auto& [key, c] : sending) {
      Count& p = pending_[key];
      p.count += c.count;
      p.last = std::max(p.last, c.last);
    }
    return st;
  }
  known_.clear();
  for (const store::ThrottleCount& r : rows) known_[r.key] = Count{r.count, r.last};
  nodes_ = nodes;
  return Status::Ok();
}

}  // namespace sandgate::auth
