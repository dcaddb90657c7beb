// Internal to the store backends: the SQL of the provider console's organization list and overview
// (Tx::QueryOrgs, Tx::OrgOverview), built once for both dialects so they cannot drift apart. Only
// the placeholders ("?N" / "$N") and the name search differ. Also the audit trail's filtered list
// and the throttle statements, which differ only in their placeholders.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/store.h"

namespace sandgate::store::orgsql {

enum class Dialect { kSqlite, kPostgres };

// One bound value, in placeholder order (1, 2, ...): PostgreSQL refuses unused placeholders, so
// each statement numbers only what it uses.
struct Param {
  bool is_text = false;
  int64_t i = 0;
  std::string s;
};

struct Statement {
  std::string sql;
  std::vector<Param> params;
  int columns = 1;  // integer columns per row that the IdRunner reads
};

// Today's usage is read from the organization's row (orgs.usage_day, used_today,
// over_quota_today: the usage row of its latest day, kept by every usage write in the same
// statement or transaction), so the list and the overview never look up usage per organization.

// Runs a statement and answers its integer columns (Statement::columns of them), row after row:
// the ids of a page in order, or one row of counts.
using IdRunner = std::function<Result<std::vector<int64_t>>(const Statement&)>;
// The list's counts (search and filter, no paging). `total`: the listed organizations. For the
// usage sort also `in_used`: those of them used on q.day by accepted submissions, and `all_used`:
// every organization used that day. With a search or filter, one scan of the table answers the
// first two (they were two scans: issue 18, PostgreSQL at 100,000 organizations).
struct ListCounts {
  int64_t total = 0;
  int64_t in_used = 0;
  int64_t all_used = 0;
};
Result<ListCounts> CountList(const OrgQuery& q, Dialect d, const IdRunner& run);
// The ids of the page, in page order, given CountList's answer. Name, id and end-date sorts are
// one statement (the sort key's index walked, then cut); the usage sort is two parts, each an index
// walk: the organizations used on q.day by accepted submissions (orgs_by_usage), and the others by
// id.
Result<std::vector<int64_t>> PageIds(const OrgQuery& q, Dialect d, const ListCounts& counts,
                                     const IdRunner& run);
// kOrgCols, has_token, used_today, over_quota_today of these organizations on `day`, in no order.
Statement BuildRows(const std::vector<int64_t>& ids, int64_t day, Dialect d);

// Counts: orgs, enabled, no_subscription, expired, disabled QUOTA_THRESHOLD, TERMS_VIOLATION,
// OTHER, no_token, expiring.
Statement BuildOverviewCounts(TimeMs now, TimeMs expiring_before, Dialect d);
// Counts on `day`: over80, near_threshold.
Statement BuildOverviewUsage(TimeMs now, int64_t day, Dialect d);
// day, used, over_quota for days in (first_day_exclusive, day], oldest first.
Statement BuildOverviewDays(int64_t first_day_exclusive, int64_t day, Dialect d);
// kOrgCols, has_token, used, over_quota: the busiest organizations on `day`.
Statement BuildOverviewTop(int64_t day, int top_n, Dialect d);

// Tx::ListAudit: the records matching the filter, newest first (kAuditCols). Only fixed fragments
// go into the SQL text (at most 2^6 variants, each prepared once); values are bound.
Statement BuildAuditList(const AuditFilter& f, Dialect d);

// Tx::ExchangeThrottle's statements that differ only in their placeholders: deletes the counts
// of `scope` last counted at or before `stale`; key, count, last of the scope's counts, the
// largest first (at most max_rows, at least 1).
Statement BuildThrottleExpire(const std::string& scope, TimeMs stale, Dialect d);
Statement BuildThrottleLive(const std::string& scope, int max_rows, Dialect d);

}  // namespace sandgate::store::orgsql
