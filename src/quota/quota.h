// Quota: admission control for the Submission API, per organization.
// - Daily allowance (UTC day), exact: used (durable, from the store) + reserved (in flight) never
//   exceeds the allowance. A reservation is committed when the submission is recorded (the caller
//   adds the usage in the same store transaction that stores the report) or released when the
//   request fails or the client goes away, so a failed upload consumes nothing.
// - Rate limits per second and per hour (fixed windows, in memory, one node).
// - Over-quota attempts per day (refusals because the daily allowance is used up); the first
//   attempt that exceeds the disable threshold is reported once so the caller can disable the
//   token. Rate-limit refusals (per second, per hour) never count toward the threshold: a burst is
//   answered 429 and counted in its own figure (RateLimitedToday, shown to the provider), nothing
//   more.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "domain/model.h"

namespace sandgate::quota {

struct Limits {
  int64_t daily_allowance = 100;
  int64_t rate_per_second = 1;
  int64_t rate_per_hour = 400;
  int64_t disable_threshold = 100;
};

struct Admission {
  // OK, or 429 QUOTA_EXCEEDED / RATE_LIMITED.
  Status status;
  int64_t limit = 0;               // X-RateLimit-Limit
  int64_t remaining = 0;           // X-RateLimit-Remaining (after this request, if admitted)
  int64_t reset_seconds = 0;       // X-RateLimit-Reset: seconds until the limit that applies resets
  int64_t retry_after = 0;         // Retry-After, when refused
  bool threshold_crossed = false;  // this refusal pushed over-quota attempts past the threshold
  bool rate_limited = false;       // refused by a rate (second/hour), not by the daily allowance
  int64_t over_quota_today = 0;
  int64_t day = 0;  // the UTC day the reservation belongs to
};

int64_t UtcDay(TimeMs t);

class QuotaManager {
 public:
  // Loads (org, day) -> (used, over_quota) from the store on first use.
  using UsageLoader =
      std::function<Result<std::pair<int64_t, int64_t>>(domain::OrgId, int64_t day)>;
  explicit QuotaManager(UsageLoader loader) : loader_(std::move(loader)) {}

  // Reserves one submission. On OK the caller must call Commit or Release with the same day.
  Admission Reserve(domain::OrgId org, const Limits& limits, TimeMs now);
  void Commit(domain::OrgId org, int64_t day);
  // Single node, called in the store transaction that records a reserved submission (before
  // Commit): whether the store's count after it may equal `count`. The store's count then lies in
  // [used + 1, used + reserved] as this manager knows them (it counts a commit only after the
  // store did, and every stored one was reserved first). True when unknown (another day). Lets the
  // submission path read the stored count only when a webhook line (quota.*) may be reached.
  bool CommitMayReach(domain::OrgId org, int64_t day, int64_t count);
  void Release(domain::OrgId org, int64_t day);
  // Used today (committed), for the token page and the quota report.
  Result<int64_t> UsedToday(domain::OrgId org, TimeMs now);
  // Submissions refused today by the per-second/per-hour rates (this node, in memory): shown to the
  // provider; never toward the disable threshold.
  int64_t RateLimitedToday(domain::OrgId org, TimeMs now);
  // Refuses one admission that Reserve granted but the shared count refused (several nodes: the
  // store's ConsumeUsage is the authority). Releases the reservation and counts an over-quota
  // attempt; returns the refusal to send.
  Admission RefuseShared(domain::OrgId org, const Limits& limits, const Admission& granted,
                         TimeMs now);

  // Several nodes on one database: the daily count lives in the store and this manager only
  // keeps the per-node rate windows; UsedToday reads the store every time. Set before use.
  void set_shared(bool shared) { shared_ = shared; }
  bool shared() const { return shared_; }

 private:
  struct Day {
    int64_t day = -1;
    int64_t used = 0;
    int64_t reserved = 0;
    int64_t over_quota = 0;
    int64_t rate_limited = 0;
    bool threshold_reported = false;
    int64_t second = -1, in_second = 0;
    int64_t hour = -1, in_hour = 0;
  };
  Status Load(domain::OrgId org, int64_t day, Day* d) REQUIRES(mu_);
  // Fills *a as a refusal (429 `st`, `limit`, retry after `reset` seconds). A quota refusal
  // (`over_quota`) counts an over-quota attempt on d, reporting the threshold crossing once per
  // day; a rate refusal counts only in d.rate_limited. Under mu_.
  static void Refuse(Day& d, const Limits& limits, Status st, int64_t limit, int64_t reset,
                     bool over_quota, Admission* a);

  UsageLoader loader_;
  bool shared_ = false;
  Mutex mu_;
  std::unordered_map<domain::OrgId, Day> orgs_ GUARDED_BY(mu_);
};

}  // namespace sandgate::quota
