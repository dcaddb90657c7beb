#include "auth/login_throttle.h"

#include <algorithm>

#include "common/ascii.h"

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
  out += AsciiLower(username);
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

void LoginThrottle::ShareThrough(store::Store& store, std::function<TimeMs()> now,
                                 int exchange_ms) {
  SharedThrottle::Policy p;
  p.window = policy_.window;
  p.max_delay = policy_.max_delay;
  p.exchange_ms = exchange_ms;
  p.exchange_when_idle = false;  // logins are rare: no write while nobody fails
  p.free_failures = policy_.free_failures_per_pair;
  shared_pair_ = std::make_unique<SharedThrottle>(store, "login-pair", p, now);
  p.free_failures = policy_.free_failures_per_address;
  shared_address_ = std::make_unique<SharedThrottle>(store, "login-address", p, now);
}

Status LoginThrottle::Exchange() {
  if (!shared()) return Status::Ok();
  Status a = shared_pair_->Exchange();
  Status b = shared_address_->Exchange();
  return a.ok() ? b : a;
}

std::optional<int64_t> LoginThrottle::SharedAttempt(const std::string& username,
                                                    const std::string& address, TimeMs now,
                                                    bool failed, Limit* which) {
  const std::string pk = PairKey(username, address), ak = AddressKey(address);
  auto refuse = [&](int64_t seconds, Limit limit) -> std::optional<int64_t> {
    if (which) *which = limit;
    return seconds;
  };
  // Both limits first, as on one node (the longer wait and its limit).
  auto rp = shared_pair_->Attempt(pk, now, false);
  auto ra = shared_address_->Attempt(ak, now, false);
  if (ra && (!rp || *ra >= *rp)) return refuse(*ra, Limit::kAddress);
  if (rp) return refuse(*rp, Limit::kPair);
  if (!failed) return std::nullopt;
  // Then count in both (each checks again, atomically with its count). A failure that needs a new
  // slice waits for an exchange (this runs on a blocking thread, beside the password check).
  bool store_failed = false;
  auto count = [&](SharedThrottle& t, const std::string& key) {
    bool exchange_first = false;
    auto wait = t.Attempt(key, now, true, &exchange_first);
    if (!exchange_first) return wait;
    store_failed = !t.ExchangeSoon().ok();
    return t.Attempt(key, now, true);
  };
  if (auto w = count(*shared_pair_, pk))
    return refuse(*w, store_failed ? Limit::kStore : Limit::kPair);
  if (auto w = count(*shared_address_, ak)) {
    shared_pair_->Forgive(pk);  // not attempted after all
    return refuse(*w, store_failed ? Limit::kStore : Limit::kAddress);
  }
  return std::nullopt;
}

std::optional<int64_t> LoginThrottle::RetryAfter(const std::string& username,
                                                 const std::string& address, TimeMs now) {
  if (shared()) return SharedAttempt(username, address, now, false, nullptr);
  MutexLock lock(mu_);
  auto w = RetryAfterLocked(username, address, now);
  return w ? std::optional<int64_t>(w->seconds) : std::nullopt;
}

std::optional<LoginThrottle::Wait> LoginThrottle::RetryAfterLocked(const std::string& username,
                                                                   const std::string& address,
                                                                   TimeMs now) {
  std::optional<int64_t> rp;
  if (policy_.per_pair)
    rp = Check(counts_->Get(PairKey(username, address), now, policy_.window),
               policy_.free_failures_per_pair, now);
  auto ra = Check(counts_->Get(AddressKey(address), now, policy_.window),
                  policy_.free_failures_per_address, now);
  if (ra && (!rp || *ra >= *rp)) return Wait{*ra, Limit::kAddress};
  if (rp) return Wait{*rp, Limit::kPair};
  return std::nullopt;
}

void LoginThrottle::RecordFailure(const std::string& username, const std::string& address,
                                  TimeMs now) {
  if (shared()) {
    // Counted whatever the limits say (the attempt was made).
    for (auto [t, key] : {std::pair{shared_pair_.get(), PairKey(username, address)},
                          std::pair{shared_address_.get(), AddressKey(address)}}) {
      bool exchange_first = false;
      if (!t->Attempt(key, now, true, &exchange_first) && exchange_first) {
        (void)t->ExchangeSoon();
        (void)t->Attempt(key, now, true);
      }
    }
    return;
  }
  MutexLock lock(mu_);
  RecordFailureLocked(username, address, now);
}

std::optional<int64_t> LoginThrottle::Begin(const std::string& username, const std::string& address,
                                            TimeMs now, Limit* which) {
  return Attempt(username, address, now, true, which);
}

void LoginThrottle::Succeeded(const std::string& username, const std::string& address) {
  if (shared()) {
    shared_pair_->Clear(PairKey(username, address));
    shared_address_->Forgive(AddressKey(address));
    return;
  }
  MutexLock lock(mu_);
  counts_->Clear(PairKey(username, address));
  counts_->Forgive(AddressKey(address));
}

std::optional<int64_t> LoginThrottle::Attempt(const std::string& username,
                                              const std::string& address, TimeMs now, bool failed,
                                              Limit* which) {
  if (shared()) return SharedAttempt(username, address, now, failed, which);
  MutexLock lock(mu_);
  auto wait = RetryAfterLocked(username, address, now);
  if (!wait && failed) RecordFailureLocked(username, address, now);
  if (!wait) return std::nullopt;
  if (which) *which = wait->limit;
  return wait->seconds;
}

void LoginThrottle::RecordFailureLocked(const std::string& username, const std::string& address,
                                        TimeMs now) {
  if (policy_.per_pair) counts_->AddFailure(PairKey(username, address), now, policy_.window);
  counts_->AddFailure(AddressKey(address), now, policy_.window);
}

void LoginThrottle::RecordSuccess(const std::string& username, const std::string& address) {
  if (shared()) {
    shared_pair_->Clear(PairKey(username, address));
    return;
  }
  MutexLock lock(mu_);
  counts_->Clear(PairKey(username, address));
}

}  // namespace sandgate::auth
