// SharedThrottle: a throttle counted across every node of a cluster (docs/CLUSTER.md, "Limits
// that hold across nodes"), without a database round trip per attempt.
//
// The policy is LoginThrottle's for one key: after `free_failures` failures within `window`, each
// further attempt waits 2^(failures - free_failures) s after the latest failure (capped at
// `max_delay`).
//
// Allowance slices: the store's count of a key (Tx::ExchangeThrottle) holds the failures the
// nodes reported plus the slices they hold. A node lets a failure through against its slice,
// without the store; when its slice is used up it takes a new one in an exchange: its share
// ceil(room / live nodes) of the room left (free_failures - count), or, past the limit, one
// attempt once the wait since the latest failure has passed. Taking slices is serialised by the
// store's write lock, so slices never add up to more than the room. A slice counts in the store
// from the moment it is taken, used or not, until the key's window ends (conservative: a slice
// one node holds unused is room the others do not get).
//
// Exchanges run every `exchange_ms` on a background thread, and on demand when a request finds its
// slice used up (ExchangeSoon: concurrent requests share one exchange; the request waits for it
// rather than being refused). So an address that uses one node gets exactly the free failures,
// as against one server, and one spread over K nodes no more.
//
// Bounded overshoot: a node lets the first failure of a key in each window through on credit
// (reported at the next exchange), so that addresses that fail once cost no database write on
// the request path. Across K nodes that is at most free_failures + K failures per window (one per
// node). When the store cannot be reached the
// counts stay with the node and are sent later; no new slices are given meanwhile. Thread-safe.
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
#include "common/mutex.h"
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
    // false: the periodic exchange skips the store while this node has nothing to report, no
    // slice to ask for and no count or slice to refresh (an idle throttle costs no write).
    bool exchange_when_idle = true;
  };
  SharedThrottle(store::Store& store, std::string scope, Policy policy,
                 std::function<TimeMs()> now);
  ~SharedThrottle();  // stops the exchange thread (counts not sent are dropped)

  // Seconds to wait before an attempt for `key` is considered; nullopt: go ahead, and when
  // `failed`, the failure is counted (atomically with the check). When a failure needs a new slice
  // and `exchange_first` is given, sets it and returns nullopt without counting: the caller runs
  // ExchangeSoon (it blocks) and asks again; without it the answer is to wait 1 s.
  std::optional<int64_t> Attempt(const std::string& key, TimeMs now, bool failed,
                                 bool* exchange_first = nullptr);
  // Takes back one failure counted for `key` by an attempt that then succeeded: from the failures
  // on credit, else back into this node's slice, else reported to the store at the next exchange.
  void Forgive(const std::string& key);
  // Clears `key`'s count in the cluster (at the next exchange; this node forgets it at once).
  void Clear(const std::string& key);
  // One exchange with the store.
  Status Exchange();
  // Returns once an exchange that started after this call has ended (running one if none did):
  // concurrent callers share one exchange.
  Status ExchangeSoon();

 private:
  struct Known {
    int64_t count = 0;
    TimeMs last = 0;
  };
  struct Slice {
    int64_t left = 0;
    TimeMs at = 0;  // when taken; it lapses with the window
  };
  void Run();
  TimeMs Delay(int64_t count) const;

  store::Store& store_;
  const std::string scope_;
  const Policy policy_;
  const std::function<TimeMs()> now_;
  Mutex mu_;
  // the store's counts at the last exchange
  std::unordered_map<std::string, Known> known_ GUARDED_BY(mu_);
  // held by this node (counted in the store)
  std::unordered_map<std::string, Slice> slices_ GUARDED_BY(mu_);
  // failures on credit, not yet reported
  std::unordered_map<std::string, Known> credits_ GUARDED_BY(mu_);
  // when a key last used its credit
  std::unordered_map<std::string, TimeMs> credit_used_ GUARDED_BY(mu_);
  std::unordered_map<std::string, bool> want_ GUARDED_BY(mu_);  // keys that need a new slice
  // forgiven/cleared, not yet reported
  std::unordered_map<std::string, int64_t> adjust_ GUARDED_BY(mu_);
  std::mutex exchange_mu_;  // one exchange at a time (guards no state: it orders exchanges)
  std::atomic<uint64_t> exchanges_started_{0};
  CondVar cv_{&mu_};
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sandgate::auth
