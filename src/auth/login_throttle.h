// LoginThrottle: slows password guessing per (username, client address) pair and per client
// address (OWASP's authentication guidance), never per username alone: failures from one address
// do not lock the user out of another address (a known user cannot be locked out by strangers),
// while guessing from one address stays throttled, and an address guessing many usernames is
// throttled as a whole. Usernames are case-folded.
// After `free_failures_*` failures within the window, each further attempt must wait
// 2^(failures - free) seconds (capped at `max_delay`) after the last failure; a success clears the
// pair's counter and takes its one failure back from the address's.
// The counts live behind FailureCounts (in this process by default). Several nodes on one
// PostgreSQL (ShareThrough, docs/CLUSTER.md): each limit is a SharedThrottle instead (the pair's
// and the address's), so the counts hold for the cluster as a whole, within a bound of one more
// failure per node and window (free + K on K nodes); decisions stay in memory.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/shared_throttle.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace sandgate::auth {

// Failure counts by key, each with the time of its last failure. Calls are made under the
// throttle's lock (one at a time).
class FailureCounts {
 public:
  struct Entry {
    int failures = 0;
    TimeMs last_failure = 0;
  };
  virtual ~FailureCounts() = default;
  // The key's count (failures = 0 when unknown or older than `window`).
  virtual Entry Get(const std::string& key, TimeMs now, TimeMs window) = 0;
  // One more failure at `now` (a count older than `window` starts again from zero).
  virtual void AddFailure(const std::string& key, TimeMs now, TimeMs window) = 0;
  // One failure less (an attempt counted at its start that then succeeded).
  virtual void Forgive(const std::string& key) = 0;
  virtual void Clear(const std::string& key) = 0;
};

// FailureCounts in this process's memory; entries older than the window are pruned at most once a
// minute.
class LocalFailureCounts : public FailureCounts {
 public:
  Entry Get(const std::string& key, TimeMs now, TimeMs window) override;
  void AddFailure(const std::string& key, TimeMs now, TimeMs window) override;
  void Forgive(const std::string& key) override;
  void Clear(const std::string& key) override;

 private:
  std::unordered_map<std::string, Entry> entries_;
  TimeMs last_prune_ = 0;
};

class LoginThrottle {
 public:
  struct Policy {
    int free_failures_per_pair = 5;  // per (username, address)
    int free_failures_per_address = 20;
    TimeMs window = 15 * 60 * 1000;
    TimeMs max_delay = 15 * 60 * 1000;
    // False: the address limit only, and no pair is counted or looked up (the Submission API's
    // invalid tokens, which have no username: one count per request instead of two).
    bool per_pair = true;
  };
  // Which limit refused an attempt. kStore: shared counts (ShareThrough) and the attempt needed a
  // new slice but the store could not be reached (answer 503, not a throttle refusal).
  enum class Limit { kPair, kAddress, kStore };
  struct Wait {
    int64_t seconds = 0;
    Limit limit = Limit::kPair;
  };

  LoginThrottle() : LoginThrottle(Policy{}) {}
  explicit LoginThrottle(Policy p, std::unique_ptr<FailureCounts> counts = nullptr)
      : policy_(p), counts_(counts ? std::move(counts) : std::make_unique<LocalFailureCounts>()) {}

  // Seconds to wait before an attempt for (username, address) is considered; nullopt: go ahead.
  std::optional<int64_t> RetryAfter(const std::string& username, const std::string& address,
                                    TimeMs now);
  void RecordFailure(const std::string& username, const std::string& address, TimeMs now);
  void RecordSuccess(const std::string& username, const std::string& address);

  // Check and count in one step, so that attempts spread over many connections at once cannot all
  // pass the check before any failure is recorded:
  // Begin: RetryAfter; when the attempt may go ahead it is counted as a failure right away (the
  // password check takes a while). Succeeded takes that count back: it clears the pair's counter
  // and removes the one failure from the address's. *which (when given) says which limit refused.
  std::optional<int64_t> Begin(const std::string& username, const std::string& address, TimeMs now,
                               Limit* which = nullptr);
  void Succeeded(const std::string& username, const std::string& address);
  // For checks whose outcome is known at once: RetryAfter, and when the attempt may go ahead and
  // `failed`, RecordFailure; atomically.
  std::optional<int64_t> Attempt(const std::string& username, const std::string& address,
                                 TimeMs now, bool failed, Limit* which = nullptr);

  // Counts shared by the nodes of a cluster from now on (call before the first attempt): the
  // pair's and the address's limits become SharedThrottles on `store` (scopes "login-pair" and
  // "login-address") with this policy, exchanging every `exchange_ms` while they have counts.
  // An attempt whose node has used up its slice waits for one exchange (a write transaction).
  void ShareThrough(store::Store& store, std::function<TimeMs()> now, int exchange_ms = 1000);
  bool shared() const { return shared_pair_ != nullptr; }
  // Shared: one exchange of both limits now (tests; the exchange thread does it otherwise).
  Status Exchange();

 private:
  std::optional<int64_t> SharedAttempt(const std::string& username, const std::string& address,
                                       TimeMs now, bool failed, Limit* which);
  std::optional<int64_t> Check(const FailureCounts::Entry& e, int free, TimeMs now) const;
  std::optional<Wait> RetryAfterLocked(const std::string& username, const std::string& address,
                                       TimeMs now) REQUIRES(mu_);
  void RecordFailureLocked(const std::string& username, const std::string& address, TimeMs now)
      REQUIRES(mu_);
  static std::string PairKey(const std::string& username, const std::string& address);
  static std::string AddressKey(const std::string& address) { return "a\n" + address; }

  Policy policy_;
  Mutex mu_;
  std::unique_ptr<FailureCounts> counts_ PT_GUARDED_BY(mu_);
  std::unique_ptr<SharedThrottle> shared_pair_, shared_address_;  // set by ShareThrough
};

}  // namespace sandgate::auth
