// Cluster-wide admission (several nodes on one PostgreSQL; docs/CLUSTER.md, "Limits that hold
// across nodes"). The node's QuotaManager still reserves first (a per-node pre-check that never
// admits more than the cluster would); then one store transaction, which the submission path
// needed anyway for the daily count, checks and counts the daily allowance, the per-second and the
// per-hour window for the whole cluster:
// - daily: Tx::ConsumeUsage (exact);
// - rates: Tx::ConsumeRate, fixed windows of the *database's* clock shared by every node (exact:
//   no node can add to a window the others do not see; a failed upload keeps its rate count);
// - over-quota attempts: counted in the store in the same transaction that reads the new total,
//   so exactly one refusal in the cluster crosses the disable threshold.
// Cost: the rate check is one more statement in the transaction the daily count already runs
// (one round trip to the database; see docs/CLUSTER.md for the measurement). Token verification
// is not involved.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "common/status.h"
#include "quota/quota.h"
#include "store/group_commit.h"
#include "store/store.h"

namespace sandgate::quota {

struct ClusterAdmission {
  enum class Kind { kAdmitted, kQuotaFull, kRateLimited, kUnavailable };
  Kind kind = Kind::kUnavailable;
  Admission refusal;  // kRateLimited: the 429 to send (never counted toward the threshold)
};

// Counts one admission for `org` on `day` against the cluster's daily allowance and rates, in one
// store transaction; nothing is counted unless every limit has room.
// `on_counted`, when set, runs in that transaction once the call is admitted, with the day's new
// count (the submission path queues the quota.* webhooks there: notify::EnqueueQuotaUsed).
using CountHook = std::function<Status(store::Tx&, int64_t count)>;
ClusterAdmission AdmitShared(store::Store& store, domain::OrgId org, const Limits& limits,
                             int64_t day, TimeMs now, const CountHook& on_counted = nullptr);
// The same through `write`, which runs its argument in a write transaction with Store::Write's
// contract (the submission path passes its GroupCommitter, so concurrent admissions share one
// transaction, and their statements one round trip: issue 19, target 6). The write never fails
// on a refusal (a refused call changes nothing), so one caller's refusal never makes the others
// of a shared transaction run again.
using TxWriter = std::function<Status(const store::StagedWrite&)>;
ClusterAdmission AdmitShared(const TxWriter& write, domain::OrgId org, const Limits& limits,
                             int64_t day, TimeMs now, const CountHook& on_counted = nullptr);

// The same admission for a caller that runs the write itself, e.g. without blocking
// (GroupCommitter::WriteAsync): run write() with Store::Write's contract, then read Outcome of
// its status. write() refers to this object, which must outlive it; not copyable.
class SharedAdmission {
 public:
  SharedAdmission(domain::OrgId org, const Limits& limits, int64_t day, TimeMs now,
                  CountHook on_counted = nullptr);
  SharedAdmission(const SharedAdmission&) = delete;
  SharedAdmission& operator=(const SharedAdmission&) = delete;

  const store::StagedWrite& write() const { return write_; }
  // What the admission came to, given write()'s outcome.
  ClusterAdmission Outcome(const Status& written) const;

 private:
  const domain::OrgId org_;
  const Limits limits_;
  const int64_t day_;
  const TimeMs now_;
  const CountHook on_counted_;
  // Set by write_'s steps (each run of them starts afresh: a shared transaction may run again).
  store::Tx::Ticket sent_ = 0;
  bool full_ = false;
  std::optional<store::RateCheck> rate_;
  store::StagedWrite write_;
};

// Counts one over-quota attempt (a QUOTA_EXCEEDED refusal) in the store and tells whether it is
// the one, cluster-wide, that took the day's count past `threshold` (true once per day).
// `on_counted` runs in the same transaction with the day's new over-quota count.
Result<bool> CountOverQuotaShared(store::Store& store, domain::OrgId org, int64_t day,
                                  int64_t threshold, const CountHook& on_counted = nullptr);

}  // namespace sandgate::quota
