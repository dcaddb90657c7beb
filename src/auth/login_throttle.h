// LoginThrottle: slows password guessing, per username (case-folded) and per client address.
// After `free_failures` failures within the window, each further attempt must wait
// 2^(failures - free_failures) seconds (capped at `max_delay`) after the last failure; a success
// clears the username's counter (not the address's). Thread-safe; in memory (one node).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace sandgate::auth {

class LoginThrottle {
 public:
  struct Policy {
    int free_failures_per_user = 5;
    int free_failures_per_address = 20;
    TimeMs window = 15 * 60 * 1000;
    TimeMs max_delay = 15 * 60 * 1000;
  };
  LoginThrottle() : LoginThrottle(Policy{}) {}
  explicit LoginThrottle(Policy p) : policy_(p) {}

  // Seconds to wait before an attempt for (username, address) is considered; nullopt: go ahead.
  std::optional<int64_t> RetryAfter(const std::string& username, const std::string& address,
                                    TimeMs now);
  void RecordFailure(const std::string& username, const std::string& address, TimeMs now);
  void RecordSuccess(const std::string& username);

  // Check and count in one step, so that attempts spread over many connections at once cannot all
  // pass the check before any failure is recorded:
  // Begin: RetryAfter; when the attempt may go ahead it is counted as a failure right away (the
  // password check takes a while). Succeeded takes that count back: it clears the username's
  // counter and removes the one failure from the address's.
  std::optional<int64_t> Begin(const std::string& username, const std::string& address, TimeMs now);
  void Succeeded(const std::string& username, const std::string& address);
  // For checks whose outcome is known at once: RetryAfter, and when the attempt may go ahead and
  // `failed`, RecordFailure; atomically.
  std::optional<int64_t> Attempt(const std::string& username, const std::string& address,
                                 TimeMs now, bool failed);

 private:
  struct Entry {
    int failures = 0;
    TimeMs last_failure = 0;
  };
  std::optional<int64_t> Check(const Entry* e, int free, TimeMs now) const;
  std::optional<int64_t> RetryAfterLocked(const std::string& username, const std::string& address,
                                          TimeMs now);
  void RecordFailureLocked(const std::string& username, const std::string& address, TimeMs now);
  void Prune(TimeMs now);  // drops entries older than the window; called under mu_
  static std::string Fold(const std::string& username);

  Policy policy_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> by_user_;
  std::unordered_map<std::string, Entry> by_address_;
  TimeMs last_prune_ = 0;
};

}  // namespace sandgate::auth
