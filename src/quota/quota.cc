#include "quota/quota.h"

#include <algorithm>

namespace sandgate::quota {

namespace {
constexpr TimeMs kDayMs = 24LL * 3600 * 1000;
}

int64_t UtcDay(TimeMs t) { return t >= 0 ? t / kDayMs : (t - kDayMs + 1) / kDayMs; }

Status QuotaManager::Load(domain::OrgId org, int64_t day, Day* d) {
  if (d->day == day) return Status::Ok();
  auto loaded = loader_(org, day);
  if (!loaded.ok()) return loaded.status();
  *d = Day{};  // a new day: reservations of the old day no longer count here
  d->day = day;
  d->used = loaded->first;
  d->over_quota = loaded->second;
  return Status::Ok();
}

Admission QuotaManager::Reserve(domain::OrgId org, const Limits& limits, TimeMs now) {
  Admission a;
  a.day = UtcDay(now);
  MutexLock lock(mu_);
  Day& d = orgs_[org];
  if (Status st = Load(org, a.day, &d); !st.ok()) {
    a.status = st;
    return a;
  }
  const int64_t second = now / 1000, hour = now / 3'600'000;
  if (d.second != second) d.second = second, d.in_second = 0;
  if (d.hour != hour) d.hour = hour, d.in_hour = 0;
  const int64_t to_midnight = ((a.day + 1) * kDayMs - now + 999) / 1000;
  auto refuse = [&](Status st, int64_t limit, int64_t reset, bool over_quota = false) {
    Refuse(d, limits, std::move(st), limit, reset, over_quota, &a);
    return a;
  };
  if (d.used + d.reserved >= limits.daily_allowance)
    return refuse(Status(429, "QUOTA_EXCEEDED", "Exceeded the daily submission quota"),
                  limits.daily_allowance, to_midnight, true);
  if (d.in_second >= limits.rate_per_second)
    return refuse(
        Status(429, "RATE_LIMITED",
               "Rate Limit (" + std::to_string(limits.rate_per_second) + "/SECOND) exceeded"),
        limits.rate_per_second, ((second + 1) * 1000 - now + 999) / 1000);
  if (d.in_hour >= limits.rate_per_hour)
    return refuse(Status(429, "RATE_LIMITED",
                         "Rate Limit (" + std::to_string(limits.rate_per_hour) + "/HOUR) exceeded"),
                  limits.rate_per_hour, ((hour + 1) * 3'600'000 - now + 999) / 1000);
  d.in_second++;
  d.in_hour++;
  d.reserved++;
  a.limit = limits.daily_allowance;
  a.remaining = limits.daily_allowance - d.used - d.reserved;
  a.reset_seconds = to_midnight;
  a.over_quota_today = d.over_quota;
  return a;
}

void QuotaManager::Refuse(Day& d, const Limits& limits, Status st, int64_t limit, int64_t reset,
                          bool over_quota, Admission* a) {
  a->status = std::move(st);
  a->limit = limit;
  a->remaining = 0;
  a->reset_seconds = reset;
  a->retry_after = std::max<int64_t>(1, reset);
  if (!over_quota) {
    // A rate refusal is about pace, not about the daily allowance: its own figure, no threshold.
    d.rate_limited++;
    a->rate_limited = true;
    a->over_quota_today = d.over_quota;
    return;
  }
  d.over_quota++;
  a->over_quota_today = d.over_quota;
  if (d.over_quota > limits.disable_threshold && !d.threshold_reported) {
    d.threshold_reported = true;
    a->threshold_crossed = true;
  }
}

void QuotaManager::Commit(domain::OrgId org, int64_t day) {
  MutexLock lock(mu_);
  Day& d = orgs_[org];
  if (d.day != day) return;  // the day rolled over; the store holds the count
  if (d.reserved > 0) d.reserved--;
  d.used++;
}

bool QuotaManager::CommitMayReach(domain::OrgId org, int64_t day, int64_t count) {
  MutexLock lock(mu_);
  auto it = orgs_.find(org);
  if (it == orgs_.end() || it->second.day != day) return true;
  const Day& d = it->second;
  return count >= d.used + 1 && count <= d.used + d.reserved;
}

void QuotaManager::Release(domain::OrgId org, int64_t day) {
  MutexLock lock(mu_);
  Day& d = orgs_[org];
  if (d.day == day && d.reserved > 0) d.reserved--;
}

Admission QuotaManager::RefuseShared(domain::OrgId org, const Limits& limits,
                                     const Admission& granted, TimeMs now) {
  Admission a;
  a.day = granted.day;
  MutexLock lock(mu_);
  Day& d = orgs_[org];
  if (d.day == a.day && d.reserved > 0) d.reserved--;
  if (d.day == a.day) d.used = std::max(d.used, limits.daily_allowance);  // known full now
  Refuse(d, limits, Status(429, "QUOTA_EXCEEDED", "Exceeded the daily submission quota"),
         limits.daily_allowance, ((a.day + 1) * kDayMs - now + 999) / 1000, true, &a);
  return a;
}

int64_t QuotaManager::RateLimitedToday(domain::OrgId org, TimeMs now) {
  MutexLock lock(mu_);
  auto it = orgs_.find(org);
  return it != orgs_.end() && it->second.day == UtcDay(now) ? it->second.rate_limited : 0;
}

Result<int64_t> QuotaManager::UsedToday(domain::OrgId org, TimeMs now) {
  if (shared_) {
    auto loaded = loader_(org, UtcDay(now));
    if (!loaded.ok()) return loaded.status();
    return loaded->first;
  }
  MutexLock lock(mu_);
  Day& d = orgs_[org];
  if (Status st = Load(org, UtcDay(now), &d); !st.ok()) return st;
  return d.used;
}

}  // namespace sandgate::quota
