#include "auth/login_throttle.h"

#include <algorithm>
#include <cctype>

namespace sandgate::auth {

std::string LoginThrottle::Fold(const std::string& username) {
  std::string out = username;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<int64_t> LoginThrottle::Check(const Entry* e, int free, TimeMs now) const {
  if (!e || now - e->last_failure >= policy_.window || e->failures < free) return std::nullopt;
  int excess = std::min(e->failures - free, 30);
  TimeMs delay = std::min<TimeMs>(policy_.max_delay, (TimeMs{1} << excess) * 1000);
  TimeMs until = e->last_failure + delay;
  if (now >= until) return std::nullopt;
  return std::max<int64_t>(1, (until - now + 999) / 1000);
}

std::optional<int64_t> LoginThrottle::RetryAfter(const std::string& username,
                                                 const std::string& address, TimeMs now) {
  std::lock_guard<std::mutex> lock(mu_);
  return RetryAfterLocked(username, address, now);
}

std::optional<int64_t> LoginThrottle::RetryAfterLocked(const std::string& username,
                                                       const std::string& address, TimeMs now) {
  auto u = by_user_.find(Fold(username));
  auto a = by_address_.find(address);
  auto ru = Check(u == by_user_.end() ? nullptr : &u->second, policy_.free_failures_per_user, now);
  auto ra =
      Check(a == by_address_.end() ? nullptr : &a->second, policy_.free_failures_per_address, now);
  if (ru && ra) return std::max(*ru, *ra);
  return ru ? ru : ra;
}

void LoginThrottle::RecordFailure(const std::string& username, const std::string& address,
                                  TimeMs now) {
  std::lock_guard<std::mutex> lock(mu_);
  RecordFailureLocked(username, address, now);
}

std::optional<int64_t> LoginThrottle::Begin(const std::string& username, const std::string& address,
                                            TimeMs now) {
  return Attempt(username, address, now, true);
}

void LoginThrottle::Succeeded(const std::string& username, const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  by_user_.erase(Fold(username));
  auto a = by_address_.find(address);
  if (a != by_address_.end() && a->second.failures > 0) a->second.failures--;
}

std::optional<int64_t> LoginThrottle::Attempt(const std::string& username,
                                              const std::string& address, TimeMs now, bool failed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto wait = RetryAfterLocked(username, address, now);
  if (!wait && failed) RecordFailureLocked(username, address, now);
  return wait;
}

void LoginThrottle::RecordFailureLocked(const std::string& username, const std::string& address,
                                        TimeMs now) {
  Prune(now);
  for (Entry* e : {&by_user_[Fold(username)], &by_address_[address]}) {
    if (now - e->last_failure >= policy_.window) e->failures = 0;
    e->failures++;
    e->last_failure = now;
  }
}

void LoginThrottle::RecordSuccess(const std::string& username) {
  std::lock_guard<std::mutex> lock(mu_);
  by_user_.erase(Fold(username));
}

void LoginThrottle::Prune(TimeMs now) {
  if (now - last_prune_ < 60'000) return;
  last_prune_ = now;
  for (auto* m : {&by_user_, &by_address_})
    std::erase_if(*m,
                  [&](const auto& kv) { return now - kv.second.last_failure >= policy_.window; });
}

}  // namespace sandgate::auth
