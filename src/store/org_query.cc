#include "store/org_query.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "store/row_layout.h"

namespace sandgate::store::orgsql {
namespace {

// Concatenation without `"literal" + std::string&&` (GCC 12 warns falsely about it: -Wrestrict).
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out.append(p);
  return out;
}

class Builder {
 public:
  explicit Builder(Dialect d) : d_(d) {}
  // Adds a value and returns its placeholder.
  std::string Int(int64_t v) {
    params_.push_back(Param{false, v, {}});
    return Placeholder();
  }
  std::string Text(std::string v) {
    params_.push_back(Param{true, 0, std::move(v)});
    return Placeholder();
  }
  Statement Done(std::string sql) { return Statement{std::move(sql), params_}; }
  Dialect dialect() const { return d_; }

 private:
  std::string Placeholder() const {
    return Cat({d_ == Dialect::kSqlite ? "?" : "$", std::to_string(params_.size())});
  }
  Dialect d_;
  std::vector<Param> params_;
};

// The organization (alias o) would have its token accepted at `now`.
std::string Active(const std::string& now) {
  return Cat({"(o.subscription = 'ACTIVE' AND (o.ends_at IS NULL OR o.ends_at > ", now, "))"});
}
std::string Expired(const std::string& now) {
  return Cat(
      {"(o.subscription = 'EXPIRED' OR (o.subscription = 'ACTIVE' AND o.ends_at <= ", now, "))"});
}
std::string Enabled(const std::string& now) {
  return Cat({"(", Active(now), " AND NOT o.provider_disabled)"});
}
std::string Expiring(const std::string& now, const std::string& soon) {
  return Cat({"(o.subscription = 'ACTIVE' AND o.ends_at > ", now, " AND o.ends_at <= ", soon, ")"});
}
constexpr char kHasToken[] = "EXISTS (SELECT 1 FROM tokens t WHERE t.org_id = o.id)";
constexpr char kNoToken[] = "NOT EXISTS (SELECT 1 FROM tokens t WHERE t.org_id = o.id)";
constexpr char kOver80[] =
    "(o.daily_allowance > 0 AND coalesce(u.used, 0) * 5 >= o.daily_allowance * 4)";
std::string NearThreshold(const std::string& now) {
  return Cat({"(", Enabled(now),
              " AND o.disable_threshold > 0 AND coalesce(u.over_quota, 0) > 0 AND "
              "coalesce(u.over_quota, 0) * 5 >= o.disable_threshold * 4)"});
}
std::string Count(const std::string& cond) {
  return Cat({"coalesce(sum(CASE WHEN ", cond, " THEN 1 ELSE 0 END), 0)"});
}
std::string OrgCols() {
  // kOrgCols with the alias: the usage join has columns of its own.
  std::string out = "o.";
  for (const char* c = layout::kOrgCols; *c; ++c) {
    out += *c;
    if (*c == ' ') out += "o.";
  }
  return out;
}

}  // namespace

ListStatements BuildList(const OrgQuery& q, Dialect d) {
  // The WHERE clause, built twice so each statement numbers its own placeholders.
  auto where = [&](Builder& b) {
    std::vector<std::string> conds;
    if (!q.search.empty()) {
      std::string p = b.Text(q.search);
      conds.push_back(d == Dialect::kSqlite ? Cat({"instr(lower(o.name), lower(", p, ")) > 0"})
                                            : Cat({"strpos(lower(o.name COLLATE \"C\"), lower(", p,
                                                   " COLLATE \"C\")) > 0"}));
    }
    switch (q.filter) {
      case OrgFilter::kAll:
        break;
      case OrgFilter::kEnabled:
        conds.push_back(Enabled(b.Int(q.now)));
        break;
      case OrgFilter::kDisabled:
        conds.push_back(Cat({"NOT ", Enabled(b.Int(q.now))}));
        break;
      case OrgFilter::kProviderDisabled:
        conds.push_back(Cat({"(", Active(b.Int(q.now)), " AND o.provider_disabled)"}));
        if (q.reason)
          conds.push_back(
              Cat({"o.disable_reason = ", b.Text(std::string(domain::ToString(*q.reason)))}));
        break;
      case OrgFilter::kExpired:
        conds.push_back(Expired(b.Int(q.now)));
        break;
      case OrgFilter::kNoSubscription:
        conds.push_back("o.subscription = 'NONE'");
        break;
      case OrgFilter::kExpiring: {
        std::string now = b.Int(q.now);
        conds.push_back(Expiring(now, b.Int(q.expiring_before)));
        break;
      }
      case OrgFilter::kOver80:
        conds.push_back(kOver80);
        break;
      case OrgFilter::kNearThreshold:
        conds.push_back(NearThreshold(b.Int(q.now)));
        break;
      case OrgFilter::kNoToken:
        conds.push_back(kNoToken);
        break;
    }
    std::string w;
    for (const auto& c : conds) w += Cat({w.empty() ? " WHERE " : " AND ", c});
    return w;
  };
  const bool needs_usage = q.filter == OrgFilter::kOver80 || q.filter == OrgFilter::kNearThreshold;
  ListStatements out;
  {
    Builder b(d);
    std::string join;
    if (needs_usage)
      join = Cat({" LEFT JOIN usage u ON u.org_id = o.id AND u.day = ", b.Int(q.day)});
    std::string w = where(b);
    out.count = b.Done(Cat({"SELECT count(*) FROM orgs o", join, w}));
  }
  // The page in two steps: the ids of the page, ordered and cut with only the sort key read
  // (an index walk for id and name), then the rows of those ids. Deep pages and sorts on usage
  // then sort and skip ids, not whole rows with their token look-ups.
  const bool sort_usage = q.sort == OrgSort::kUsage;
  Builder b(d);
  std::string join = Cat({" LEFT JOIN usage u ON u.org_id = o.id AND u.day = ", b.Int(q.day)});
  const char* dir = q.descending ? " DESC" : "";
  std::string order;
  switch (q.sort) {
    case OrgSort::kName:
      // Case-insensitive (ASCII) on both: SQLite's column is NOCASE; PostgreSQL is told so.
      order =
          Cat({d == Dialect::kSqlite ? "o.name" : "lower(o.name COLLATE \"C\")", dir, ", o.id"});
      break;
    case OrgSort::kId:
      order = Cat({"o.id", dir});
      break;
    case OrgSort::kUsage:
      order = Cat({"coalesce(u.used, 0)", dir, ", o.id"});
      break;
    case OrgSort::kEndsAt:
      order = Cat({"(o.ends_at IS NULL), o.ends_at", dir, ", o.id"});
      break;
  }
  std::string inner_join;
  if (needs_usage || sort_usage)
    inner_join = Cat({" LEFT JOIN usage u ON u.org_id = o.id AND u.day = ", b.Int(q.day)});
  std::string w = where(b);
  std::string limit = b.Int(std::clamp<int64_t>(q.limit, 1, layout::kMaxPageLimit));
  std::string offset = b.Int(std::max<int64_t>(q.offset, 0));
  out.page = b.Done(Cat({"SELECT ", OrgCols(), ", ", kHasToken,
                         ", coalesce(u.used, 0), coalesce(u.over_quota, 0) FROM orgs o", join,
                         " WHERE o.id IN (SELECT o.id FROM orgs o", inner_join, w, " ORDER BY ",
                         order, " LIMIT ", limit, " OFFSET ", offset, ") ORDER BY ", order}));
  return out;
}

Statement BuildOverviewCounts(TimeMs now, TimeMs expiring_before, Dialect d) {
  Builder b(d);
  std::string n = b.Int(now), soon = b.Int(expiring_before);
  auto reason = [&](const char* r) {
    return Count(
        Cat({"(", Active(n), " AND o.provider_disabled AND o.disable_reason = '", r, "')"}));
  };
  return b.Done(Cat({"SELECT count(*), ", Count(Enabled(n)), ", ", Count("o.subscription = 'NONE'"),
                     ", ", Count(Expired(n)), ", ", reason("QUOTA_THRESHOLD"), ", ",
                     reason("TERMS_VIOLATION"), ", ", reason("OTHER"), ", ", Count(kNoToken), ", ",
                     Count(Expiring(n, soon)), " FROM orgs o"}));
}

Statement BuildOverviewUsage(TimeMs now, int64_t day, Dialect d) {
  Builder b(d);
  std::string n = b.Int(now), dd = b.Int(day);
  return b.Done(Cat({"SELECT ", Count(kOver80), ", ", Count(NearThreshold(n)),
                     " FROM usage u JOIN orgs o ON o.id = u.org_id WHERE u.day = ", dd}));
}

Statement BuildOverviewDays(int64_t first_day_exclusive, int64_t day, Dialect d) {
  Builder b(d);
  std::string from = b.Int(first_day_exclusive), to = b.Int(day);
  return b.Done(
      Cat({"SELECT day, coalesce(sum(used), 0), coalesce(sum(over_quota), 0) FROM usage "
           "WHERE day > ",
           from, " AND day <= ", to, " GROUP BY day ORDER BY day"}));
}

Statement BuildOverviewTop(int64_t day, int top_n, Dialect d) {
  Builder b(d);
  std::string dd = b.Int(day), n = b.Int(std::clamp(top_n, 1, 100));
  return b.Done(Cat({"SELECT ", OrgCols(), ", ", kHasToken,
                     ", u.used, u.over_quota FROM usage u JOIN orgs o ON o.id = u.org_id WHERE "
                     "u.day = ",
                     dd, " AND u.used > 0 ORDER BY u.used DESC, o.id LIMIT ", n}));
}

}  // namespace sandgate::store::orgsql
