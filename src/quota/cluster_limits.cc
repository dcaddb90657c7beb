#include "quota/cluster_limits.h"

#include <algorithm>
#include <string>

namespace sandgate::quota {

ClusterAdmission AdmitShared(store::Store& store, domain::OrgId org, const Limits& limits,
                             int64_t day, TimeMs now, const CountHook& on_counted) {
  return AdmitShared(
      [&store](const store::StagedWrite& w) {
        return store.Write([&w](store::Tx& tx) { return w.Run(tx); });
      },
      org, limits, day, now, on_counted);
}

ClusterAdmission AdmitShared(const TxWriter& write, domain::OrgId org, const Limits& limits,
                             int64_t day, TimeMs now, const CountHook& on_counted) {
  ClusterAdmission out;
  bool full = false;
  std::optional<store::RateCheck> rate;
  store::Tx::Ticket sent = 0;
  store::StagedWrite admit;
  admit.send = [&](store::Tx& tx) -> Status {
    // The daily count and the rate windows; a refusal changes nothing (and is not a failure of
    // the transaction, which others may share).
    sent = tx.SendAdmission(org, day, limits.daily_allowance, limits.rate_per_second,
                            limits.rate_per_hour, now);
    return Status::Ok();
  };
  admit.finish = [&](store::Tx& tx) -> Status {
    // May run twice (a shared transaction that failed is run again alone): no state carried over.
    full = false;
    rate.reset();
    auto a = tx.TakeAdmission(sent);
    if (!a.ok()) return a.status();
    if (!a->used) {
      full = true;
      return Status::Ok();  // nothing changed
    }
    if (!a->rate.admitted) {
      rate = a->rate;
      return Status::Ok();
    }
    // The day's count is this call's own (others of the batch may have counted since).
    return on_counted ? on_counted(tx, *a->used) : Status::Ok();
  };
  Status st = write(admit);
  if (!st.ok()) return out;  // kUnavailable: nothing counted
  if (rate) {
    const int64_t limit = rate->hour ? limits.rate_per_hour : limits.rate_per_second;
    Admission& a = out.refusal;
    a.status = Status(
        429, "RATE_LIMITED",
        "Rate Limit (" + std::to_string(limit) + (rate->hour ? "/HOUR" : "/SECOND") + ") exceeded");
    a.limit = limit;
    a.remaining = 0;
    a.reset_seconds = (rate->reset_ms + 999) / 1000;
    a.retry_after = std::max<int64_t>(1, a.reset_seconds);
    a.day = day;
    out.kind = ClusterAdmission::Kind::kRateLimited;
    return out;
  }
  out.kind = full ? ClusterAdmission::Kind::kQuotaFull : ClusterAdmission::Kind::kAdmitted;
  return out;
}

Result<bool> CountOverQuotaShared(store::Store& store, domain::OrgId org, int64_t day,
                                  int64_t threshold, const CountHook& on_counted) {
  bool crossed = false;
  Status st = store.Write([&](store::Tx& tx) -> Status {
    if (Status s = tx.AddUsage(org, day, 0, 1, std::nullopt); !s.ok()) return s;
    auto u = tx.GetUsage(org, day);
    if (!u.ok()) return u.status();
    // Writes are serialised: exactly one transaction sees the count go from threshold to
    // threshold + 1.
    crossed = u->over_quota == threshold + 1;
    return on_counted ? on_counted(tx, u->over_quota) : Status::Ok();
  });
  if (!st.ok()) return st;
  return crossed;
}

}  // namespace sandgate::quota
