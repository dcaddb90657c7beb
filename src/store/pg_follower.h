// Internal to the PostgreSQL backend: the change-log follower (pg_follower.cc).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "store/pg_conn.h"
#include "store/store.h"

namespace sandgate::store::pgdb {

using SteadyClock = std::chrono::steady_clock;

// The follower: this node's link to the change log (see docs/CLUSTER.md for the argument).
//
// Each round: (1) at local time t0, renew the lease (database time now() + lease) and acknowledge
// `applied_`; (2) read and apply every change after `applied_`; (3) on success the index is
// trusted until t0 + lease - renew interval. A writer that committed change X before (1) is seen
// by (2); one that commits after (1) finds the node's live lease and waits for its acknowledgement
// of X, which comes only after X is in the index. A node that cannot renew stops trusting its
// index before the database considers its lease over, and writers stop waiting for it then.
class Follower {
 public:
  Follower(std::string url, PgOptions o, std::string node_id, int64_t from_seq, FollowHooks hooks);
  ~Follower();
  bool Trusted() const;
  // Every change up to here is applied (published before it is acknowledged to the writers).
  int64_t Applied() const { return applied_published_.load(); }
  // How many rounds applied an entry other than kUsageOnlyChange (or reloaded): grows before
  // Applied() does for such an entry (PgStore::ChangeStampIgnoringUsage).
  int64_t AppliedBeyondUsage() const { return beyond_usage_published_.load(); }

 private:
  bool Stopping();
  void Sleep(int ms);
  void Run();

  // One renew + catch-up round.
  Status Round(Conn& c, bool* applied_some);

  // Waits for a notification, the renew interval, or stop.
  void Wait(Conn& c);
  const std::string url_;
  const PgOptions options_;
  const std::string node_id_;
  const std::string own_usage_notice_;    // OwnUsageNotice(node_id_): notifications Wait skips
  int64_t applied_;                       // follower thread only
  SteadyClock::time_point next_prune_{};  // follower thread only
  FollowHooks hooks_;
  std::atomic<int64_t> trusted_until_{0};  // steady_clock ticks
  std::atomic<int64_t> applied_published_{0};
  std::atomic<int64_t> beyond_usage_published_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sandgate::store::pgdb
