#include "store/change_log.h"

#include <algorithm>

namespace sandgate::store {

Status ApplyChangeLog(
    const std::function<Result<std::vector<LoggedChange>>(int64_t after)>& read_after,
    const FollowHooks& hooks, int64_t* applied, bool* applied_some, bool* beyond_usage) {
  for (;;) {
    auto batch = read_after(*applied);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) return Status::Ok();
    std::vector<OrgId> orgs;
    orgs.reserve(batch->size());
    bool not_usage = false;
    for (const LoggedChange& c : *batch) {
      if (c.org != kUsageOnlyChange) not_usage = true;
      if (c.org != kCacheOnlyChange && c.org != kUsageOnlyChange) orgs.push_back(c.org);
    }
    std::sort(orgs.begin(), orgs.end());
    orgs.erase(std::unique(orgs.begin(), orgs.end()), orgs.end());
    if (!orgs.empty()) {
      if (Status st = hooks.apply(orgs); !st.ok()) return st;
    }
    *applied = batch->back().seq;
    if (applied_some) *applied_some = true;
    if (beyond_usage && not_usage) *beyond_usage = true;
    if (static_cast<int64_t>(batch->size()) < kChangeBatch) return Status::Ok();
  }
}

Status ReloadIfPruned(int64_t start, const std::function<Result<int64_t>()>& read_floor,
                      const std::function<Result<int64_t>()>& read_horizon,
                      const FollowHooks& hooks, int64_t* applied, bool* applied_some) {
  auto floor = read_floor();
  if (!floor.ok()) return floor.status();
  if (*floor <= start) return Status::Ok();
  auto horizon = read_horizon();
  if (!horizon.ok()) return horizon.status();
  if (!hooks.reload) return Status::Internal("store: the change log was pruned past this follower");
  if (Status st = hooks.reload(); !st.ok()) return st;
  *applied = std::max(*applied, *horizon);
  if (applied_some) *applied_some = true;
  return Status::Ok();
}

}  // namespace sandgate::store
