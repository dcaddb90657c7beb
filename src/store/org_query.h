// Internal to the store backends: the SQL of the provider console's organization list and overview
// (Tx::QueryOrgs, Tx::OrgOverview), built once for both dialects so they cannot drift apart. Only
// the placeholders ("?N" / "$N") and the name search differ.
#pragma once

#include <cstdint>
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
};

// Both select kOrgCols, then has_token, used_today, over_quota_today (the page) or count(*).
struct ListStatements {
  Statement count;
  Statement page;
};
ListStatements BuildList(const OrgQuery& q, Dialect d);

// Counts: orgs, enabled, no_subscription, expired, disabled QUOTA_THRESHOLD, TERMS_VIOLATION,
// OTHER, no_token, expiring.
Statement BuildOverviewCounts(TimeMs now, TimeMs expiring_before, Dialect d);
// Counts on `day`: over80, near_threshold.
Statement BuildOverviewUsage(TimeMs now, int64_t day, Dialect d);
// day, used, over_quota for days in (first_day_exclusive, day], oldest first.
Statement BuildOverviewDays(int64_t first_day_exclusive, int64_t day, Dialect d);
// kOrgCols, has_token, used, over_quota: the busiest organizations on `day`.
Statement BuildOverviewTop(int64_t day, int top_n, Dialect d);

}  // namespace sandgate::store::orgsql
