#include "auth/login_throttle.h"

#include <algorithm>
#include <cctype>

namespace sandgate::auth {

FailureCounts::Entry LocalFailureCounts::Get(const std::string& key, TimeMs now, TimeMs window) {
  auto it = entries_.find(key);
  if (it == entries_.end() || now - it->second.last_failure >= window) return Entry{};
  return it->second;
}

void LocalFailureCounts::AddFailure(const std::string& key, TimeMs now, TimeMs window) {
  if (now - last_prune_ >= 60'000) {
    last_prune_ = now;
    std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.last_failure >= window; });
  }
  Entry& e = entries_[key];
  if (now - e.last_failure >= window) e.failures = 0;
  e.failures++;
  e.last_failure = now;
}

void LocalFailureCounts::Forgive(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.failures > 0) it->second.failures--;
}

void LocalFailureCounts::Clear(const std::string& key) { entries_.erase(key); }

std::string LoginThrottle::PairKey(const std::string& username, const std::string& address) {
  std::string out = "p\n";
  out.reserve(out.size() + username.size() + 1 + address.size());
  for (unsigned char c : username) out += static_cast<char>(std::tolower(c));
  out += '\n';
  out += address;
  return out;
}

std::optional<int64_t> LoginThrottle::Check(const FailureCounts::Entry& e, int free,
                                            TimeMs now) const {
  if (e.failures < free) return std::nullopt;
  int excess = std::min(e.failures - free, 30);
  TimeMs delay = std::min<TimeMs>(policy_.max_delay, (TimeMs{1} << excess) * 1000);
  TimeMs until = e.last_failure + delay;
  if (now >= until) return std::nullopt;
  return std::max<int64_t>(1, (until - now + 999) / 1000);
}

std::optional<int64_t> LoginThrottle::RetryAfter(const std::string& username,
                                                 const std::string& address, TimeMs now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto w = RetryAfterLocked(username, address, now);
  return w ? std::optional<int64_t>(w->seconds) : std::nullopt;
}

std::optional<LoginThrottle::Wait> LoginThrottle::RetryAfterLocked(const std::string& username,
                                                                   const std::string& address,
                                                                   TimeMs now) {
  auto rp = Check(counts_->Get(PairKey(username, address), now, policy_.window),
                  policy_.free_failures_per_pair, now);
  auto ra = Check(counts_->Get(AddressKey(address), now, policy_.window),
                  policy_.free_failures_per_address, now);
  if (ra && (!rp || *ra >= *rp)) return Wait{*ra, Limit::kAddress};
  if (rp) return Wait{*rp, Limit::kPair};
  return std::nullopt;
}

void LoginThrottle::RecordFailure(const std::string& username, const std::string& address,
                                  TimeMs now) {
  std::lock_guard<std::mutex> lock(mu_);
  RecordFailureLocked(username, address, now);
}

std::optional<int64_t> LoginThrottle::Begin(const std::string& username, const std::string& address,
                                            TimeMs now, Limit* which) {
  return Attempt(username, address, now, true, which);
}

void LoginThrottle::Succeeded(const std::string& username, const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_->Clear(PairKey(username, address));
  counts_->Forgive(AddressKey(address));
}

std::optional<int64_t> LoginThrottle::Attempt(const std::string& username,
                                              const std::string& address, TimeMs now, bool failed,
                                              Limit* which) {
  std::lock_guard<std::mutex> lock(mu_);
  auto wait = RetryAfterLocked(username, address, now);
  if (!wait && failed) RecordFailureLocked(username, address, now);
  if (!wait) return std::nullopt;
  if (which) *which = wait->limit;
  return wait->seconds;
}

void LoginThrottle::RecordFailureLocked(const std::string& username, const std::string& address,
                                        TimeMs now) {
  counts_->AddFailure(PairKey(username, address), now, policy_.window);
  counts_->AddFailure(AddressKey(address), now, policy_.window);
}

void LoginThrottle::RecordSuccess(const std::string& username, const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_->Clear(PairKey(username, address));
}

}  // namespace sandgate::auth
