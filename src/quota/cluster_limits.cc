#include "quota/cluster_limits.h"

#include <algorithm>
#include <string>

namespace sandgate::quota {

ClusterAdmission AdmitShared(store::Store& store, domain::OrgId org, const Limits& limits,
                             int64_t day, TimeMs now, const CountHook& on_counted) {
  ClusterAdmission out;
  bool full = false;
  std::optional<store::RateCheck> rate;
  Status st = store.Write([&](store::Tx& tx) -> Status {
    auto used = tx.ConsumeUsage(org, day, limits.daily_allowance);
    if (!used.ok()) return used.status();
    if (!used->has_value()) {
      full = true;
      return Status::Ok();  // nothing changed
    }
    auto r = tx.ConsumeRate(org, limits.rate_per_second, limits.rate_per_hour, now);
    if (!r.ok()) return r.status();
    if (!r->admitted) {
      rate = *r;
      // Rolls back the daily count taken above: a refused request consumes nothing.
      return Status(429, "RATE_LIMITED", "rate window full");
    }
    return on_counted ? on_counted(tx, **used) : Status::Ok();
  });
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
  if (!st.ok()) return out;  // kUnavailable
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
