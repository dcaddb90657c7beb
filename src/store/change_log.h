// The change log both backends keep (table `changes`: `seq` increasing in commit order, `org_id`)
// and how a follower applies it (PostgreSQL's follower thread, SQLite's CatchUp). Internal to the
// store backends.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace sandgate::store {

inline constexpr int64_t kChangeBatch = 5000;  // changes read per query

// A change-log entry that refreshes no organization in the index: a change to data only the
// read caches hold (a session, a user, a last use; PostgreSQL, issue 19). Followers advance past
// it, which moves their ChangeStamp. No organization has id 0.
inline constexpr OrgId kCacheOnlyChange = 0;
// A change-log entry for a write that changed only usage (counts, last use): it moves followers'
// ChangeStamp but not their ChangeStampIgnoringUsage (PostgreSQL, issue 19).
inline constexpr OrgId kUsageOnlyChange = -1;

struct LoggedChange {
  int64_t seq;
  OrgId org;
};

// Applies the log after *applied until it is exhausted: `read_after(seq)` returns up to
// kChangeBatch changes with a larger seq, in seq order; hooks.apply gets each batch's
// organizations once. *applied advances after every batch applied (and *applied_some, if given,
// becomes true); on an error it stays at the last batch applied, so the caller retries from there.
// *beyond_usage, if given, becomes true when an entry applied was not kUsageOnlyChange.
Status ApplyChangeLog(
    const std::function<Result<std::vector<LoggedChange>>(int64_t after)>& read_after,
    const FollowHooks& hooks, int64_t* applied, bool* applied_some = nullptr,
    bool* beyond_usage = nullptr);

// To be called after ApplyChangeLog, with `start` the value *applied had before it. Entries are
// pruned (Store::PruneChangeLog) once every live follower has applied them, and the log's floor
// records how far. When the floor, read after the changes were, is above `start`, entries this
// follower had not applied may have gone before it read them: it reloads its whole index from
// `read_horizon()` (read before the reload, so nothing later falls in between) on.
Status ReloadIfPruned(int64_t start, const std::function<Result<int64_t>()>& read_floor,
                      const std::function<Result<int64_t>()>& read_horizon,
                      const FollowHooks& hooks, int64_t* applied, bool* applied_some = nullptr);

}  // namespace sandgate::store
