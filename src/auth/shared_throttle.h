// SharedThrottle: a throttle counted across every node of a cluster (docs/CLUSTER.md, "Limits
// that hold across nodes"), without a database round trip per attempt.
//
// The policy is LoginThrottle's for one key: after `free_failures` failures within `window`, each
// further attempt waits 2^(failures - free_failures) s after the latest failure (capped at
// `max_delay`). Each node counts its own failures in memory; a background thread exchanges them
// every `exchange_ms` through the store (Tx::ExchangeThrottle: adds this node's new counts and
// reads back the cluster's), and an attempt is judged on the cluster's count as last read plus
// this node's count not yet sent.
//
// Bounded overshoot: between two exchanges a node lets through, for a key below the limit, at most
// its slice ceil((free - known) / nodes) of the room `free - known` it knows of (nodes: the live
// nodes at the last exchange), and past the limit at most one attempt per wait. A request that
// finds its slice used up waits for an exchange on demand (ExchangeSoon; concurrent ones share
// it), so an address that uses one node only gets exactly the free failures, as on one server,
// and at most one exchange (one database write) happens per slice, not per attempt. So across K
// nodes at most free + K - 1 failures pass before the throttle holds (one more per other node), and
// at most K attempts per wait step after it. When the store cannot be reached the node goes on with
// its own counts (and the counts not sent are sent later). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace sandgate::auth {

class SharedThrottle {
 public:
  struct Policy {
    int free_failures = 20;
    TimeMs window = 60 * 1000;
    TimeMs max_delay = 5 * 60 * 1000;
    int exchange_ms = 250;  // 0: no thread (tests call Exchange)
    int max_rows = 4096;    // cluster counts read back per exchange (the largest)
  };
  SharedThrottle(store::Store& store, std::string scope, Policy policy,
                 std::function<TimeMs()> now);
  ~SharedThrottle();  // stops the exchange thread (unsent counts are dropped)

  // Seconds to wait before an attempt for `key` is considered; nullopt: go ahead, and when
  // `failed`, the failure is counted (atomically with the check). When this node's slice for the
  // key is used up and `exchange_first` is given, sets it and returns nullopt without counting:
  // the caller runs ExchangeSoon (it blocks) and asks again; without it, the answer is 1 s.
  std::optional<int64_t> Attempt(const std::string& key, TimeMs now, bool failed,
                                 bool* exchange_first = nullptr);
  // One exchange with the store.
  Status Exchange();
  // Returns once an exchange that started after this call has ended (running one if none did):
  // concurrent callers share one exchange.
  Status ExchangeSoon();

 private:
  struct Count {
    int64_t count = 0;
    TimeMs last = 0;
  };
  void Run();

  store::Store& store_;
  const std::string scope_;
  const Policy policy_;
  const std::function<TimeMs()> now_;
  std::mutex mu_;
  std::unordered_map<std::string, Count> known_;    // the cluster's counts at the last exchange
  std::unordered_map<std::string, Count> pending_;  // this node's, not yet sent
  int64_t nodes_ = 1;
  std::mutex exchange_mu_;  // one exchange at a time
  std::atomic<uint64_t> exchanges_started_{0};
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sandgate::auth
