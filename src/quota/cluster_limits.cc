#include "quota/cluster_limits.h"

#include <algorithm>
#include <string>
#include <utility>

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
  SharedAdmission admission(org, limits, day, now, on_counted);
  return admission.Outcome(write(admission.write()));
}

SharedAdmission::SharedAdmission(domain::OrgId org, const Limits& limits, int64_t day, TimeMs now,
                                 CountHook on_counted)
    : org_(org), limits_(limits), day_(day), now_(now), on_counted_(std::move(on_counted)) {
  write_.send = [this](store::Tx& tx) -> Status {
    // The daily count and the rate windows; a refusal changes nothing (and is not a failure of
    // the transaction, which others may share).
    sent_ = tx.SendAdmission(org_, day_, limits_.daily_allowance, limits_.rate_per_second,
                             limits_.rate_per_hour, now_);
    return Status::Ok();
  };
  write_.finish = [this](store::Tx& tx) -> Status {
    // May run twice (a shared transaction that failed is run again alone): no state carried over.
    full_ = false;
    rate_.reset();
    auto a = tx.TakeAdmission(sent_);
    if (!a.ok()) return a.status();
    if (!a->used) {
      full_ = true;
      return Status::Ok();  // nothing changed
    }
    if (!a->rate.admitted) {
      rate_ = a->rate;
      return Status::Ok();
    }
    // The day's count is this call's own (others of the batch may have counted since).
    return on_counted_ ? on_counted_(tx, *a->used) : Status::Ok();
  };
}

ClusterAdmission SharedAdmission::Outcome(const Status& written) const {
  ClusterAdmission out;
  if (!written.ok()) return out;  // kUnavailable: nothing counted
  if (rate_) {
    const int64_t limit = rate_->hour ? limits_.rate_per_hour : limits_.rate_per_second;
    Admission& a = out.refusal;
    a.status = Status(429, "RATE_LIMITED",
                      "Rate Limit (" + std::to_string(limit) + (rate_->hour ? "/HOUR" : "/SECOND") +
                          ") exceeded");
    a.limit = limit;
    a.remaining = 0;
    a.reset_seconds = (rate_->reset_ms + 999) / 1000;
    a.retry_after = std::max<int64_t>(1, a.reset_seconds);
    a.day = day_;
    out.kind = ClusterAdmission::Kind::kRateLimited;
    return out;
  }
  out.kind = full_ ? ClusterAdmission::Kind::kQuotaFull : ClusterAdmission::Kind::kAdmitted;
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
