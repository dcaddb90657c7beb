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
  Statement Done(std::string sql) { return Statement{std::move(sql), params_, 1}; }
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
// Accepted submissions and over-quota attempts on `day` (a placeholder), from the row.
std::string UsedOn(const std::string& day) {
  return Cat({"(CASE WHEN o.usage_day = ", day, " THEN o.used_today ELSE 0 END)"});
}
std::string OverQuotaOn(const std::string& day) {
  return Cat({"(CASE WHEN o.usage_day = ", day, " THEN o.over_quota_today ELSE 0 END)"});
}
std::string Over80(const std::string& day) {
  return Cat({"(o.daily_allowance > 0 AND ", UsedOn(day), " * 5 >= o.daily_allowance * 4)"});
}
std::string NearThreshold(const std::string& now, const std::string& day) {
  return Cat({"(", Enabled(now), " AND o.disable_threshold > 0 AND ", OverQuotaOn(day), " > 0 AND ",
              OverQuotaOn(day), " * 5 >= o.disable_threshold * 4)"});
}
// Used on `day` by accepted submissions: the range of the index orgs_by_usage.
std::string UsedToday(const std::string& day) {
  return Cat({"(o.usage_day = ", day, " AND o.used_today > 0)"});
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

namespace {

// The WHERE conditions of the search and filter, joined with AND ("" for none).
std::string ListConds(const OrgQuery& q, Builder& b) {
  const Dialect d = b.dialect();
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
      conds.push_back(Over80(b.Int(q.day)));
      break;
    case OrgFilter::kNearThreshold: {
      std::string now = b.Int(q.now);
      conds.push_back(NearThreshold(now, b.Int(q.day)));
      break;
    }
    case OrgFilter::kNoToken:
      conds.push_back(kNoToken);
      break;
  }
  std::string w;
  for (const auto& c : conds) w += Cat({w.empty() ? "" : " AND ", c});
  return w;
}

std::string Where(const std::string& conds) { return conds.empty() ? "" : " WHERE " + conds; }

// SQLite: "NOT INDEXED" makes a statement read the table in id order. With a search or filter, the
// usage sort's counts and deep pages must: walking orgs_by_usage looks each row up in usage order,
// a random walk over the table that thrashes SQLite's page cache (measured at 100,000
// organizations: 1.6-2.3 s for a count, against 0.15-0.24 s in id order). PostgreSQL's planner
// has statistics to choose by; the clause is SQLite's only.
std::string From(Dialect d, bool not_indexed) {
  return not_indexed && d == Dialect::kSqlite ? " FROM orgs o NOT INDEXED" : " FROM orgs o";
}

// Ids with `cond` (and the list's conditions), in `order`, from `offset`, at most `limit`.
Result<std::vector<int64_t>> Ids(const OrgQuery& q, Dialect d, const std::string& cond,
                                 const std::string& order, int64_t offset, int64_t limit,
                                 const IdRunner& run, bool not_indexed = false) {
  Builder b(d);
  std::string conds = ListConds(q, b);
  std::string c = cond;
  if (!c.empty()) {
    // `cond` may use the day: numbered after the list's own placeholders.
    const std::string day = b.Int(q.day);
    for (size_t at; (at = c.find("{day}")) != std::string::npos;) c.replace(at, 5, day);
    conds = conds.empty() ? c : Cat({c, " AND ", conds});
  }
  std::string lim = b.Int(limit), off = b.Int(offset);
  return run(b.Done(Cat({"SELECT o.id", From(d, not_indexed), Where(conds), " ORDER BY ", order,
                         " LIMIT ", lim, " OFFSET ", off})));
}

// Used on q.day by accepted submissions, counted over the whole table (the index alone).
Result<int64_t> CountUsed(const OrgQuery& q, Dialect d, const IdRunner& run) {
  Builder b(d);
  const std::string day = b.Int(q.day);
  auto n = run(b.Done(Cat({"SELECT count(*) FROM orgs o WHERE ", UsedToday(day)})));
  if (!n.ok()) return n.status();
  return n->empty() ? int64_t{0} : n->front();
}

// A search or a filter narrows the list.
bool Filtered(const OrgQuery& q) { return !q.search.empty() || q.filter != OrgFilter::kAll; }

}  // namespace

Result<ListCounts> CountList(const OrgQuery& q, Dialect d, const IdRunner& run) {
  ListCounts c;
  if (q.sort == OrgSort::kUsage && Filtered(q)) {
    // One pass in id order (see From) counts the listed and, of them, the used; the search and
    // filter are evaluated once per row. All used: the index alone.
    Builder b(d);
    const std::string conds = ListConds(q, b);
    const std::string used = UsedToday(b.Int(q.day));
    Statement st = b.Done(Cat({"SELECT count(*), ", Count(used), From(d, true), Where(conds)}));
    st.columns = 2;
    auto n = run(st);
    if (!n.ok()) return n.status();
    if (n->size() == 2) {
      c.total = (*n)[0];
      c.in_used = (*n)[1];
    }
    auto all = CountUsed(q, d, run);
    if (!all.ok()) return all.status();
    c.all_used = *all;
    return c;
  }
  Builder b(d);
  std::string conds = ListConds(q, b);
  // A filter reads the rows in id order (see From); a search alone reads the name index.
  auto n =
      run(b.Done(Cat({"SELECT count(*)", From(d, q.filter != OrgFilter::kAll), Where(conds)})));
  if (!n.ok()) return n.status();
  c.total = n->empty() ? 0 : n->front();
  if (q.sort == OrgSort::kUsage) {
    auto used = CountUsed(q, d, run);
    if (!used.ok()) return used.status();
    c.in_used = c.all_used = *used;
  }
  return c;
}

Result<std::vector<int64_t>> PageIds(const OrgQuery& q, Dialect d, const ListCounts& counts,
                                     const IdRunner& run) {
  const int64_t total = counts.total;
  const int64_t limit = std::clamp<int64_t>(q.limit, 1, layout::kMaxPageLimit);
  const int64_t offset = std::max<int64_t>(q.offset, 0);
  if (offset >= total) return std::vector<int64_t>();
  const char* dir = q.descending ? " DESC" : "";
  switch (q.sort) {
    case OrgSort::kName:
      // Case-insensitive (ASCII) on both: SQLite's column is NOCASE; PostgreSQL is told so.
      return Ids(
          q, d, "",
          Cat({d == Dialect::kSqlite ? "o.name" : "lower(o.name COLLATE \"C\")", dir, ", o.id"}),
          offset, limit, run);
    case OrgSort::kId:
      return Ids(q, d, "", Cat({"o.id", dir}), offset, limit, run);
    case OrgSort::kEndsAt:
      return Ids(q, d, "", Cat({"(o.ends_at IS NULL), o.ends_at", dir, ", o.id"}), offset, limit,
                 run);
    case OrgSort::kUsage:
      break;
  }
  // Usage on q.day, ties by id: the organizations used that day (U, by used_today) and the others
  // (all at 0, by id). Descending: U first; ascending: the others first. Each part is one index
  // walk; only the part(s) the page touches are read.
  const std::string used = "(o.usage_day = {day} AND o.used_today > 0)";
  const std::string unused = "NOT (o.usage_day = {day} AND o.used_today > 0)";
  const bool filtered = Filtered(q);
  // How many of the listed organizations were used that day, and how many in all (CountList): a
  // page of the used part walks the index only while that costs few look-ups.
  const int64_t in_used = counts.in_used;
  const int64_t all_used = counts.all_used;
  // Rows the index walk looks up to find the page: about (its end) * all_used / in_used.
  auto walk_index = [&](int64_t end) {
    return !filtered || end * all_used <= 2000 * std::max<int64_t>(1, in_used);
  };
  struct Part {
    std::string cond, order;
    int64_t size;
    bool used;
  };
  const Part used_part{used, q.descending ? "o.used_today DESC, o.id" : "o.used_today, o.id",
                       in_used, true};
  const Part other_part{unused, "o.id", std::max<int64_t>(0, total - in_used), false};
  const Part& first = q.descending ? used_part : other_part;
  const Part& second = q.descending ? other_part : used_part;
  auto part_ids = [&](const Part& p, int64_t from, int64_t n) {
    // The other part is read in id order either way.
    return Ids(q, d, p.cond, p.order, from, n, run, !p.used || !walk_index(from + n));
  };
  std::vector<int64_t> out;
  if (offset < first.size) {
    auto ids = part_ids(first, offset, limit);
    if (!ids.ok()) return ids.status();
    out = std::move(ids).value();
  }
  if (static_cast<int64_t>(out.size()) < limit && offset + limit > first.size) {
    const int64_t from = std::max<int64_t>(0, offset - first.size);
    auto ids = part_ids(second, from, limit - static_cast<int64_t>(out.size()));
    if (!ids.ok()) return ids.status();
    out.insert(out.end(), ids->begin(), ids->end());
  }
  return out;
}

Statement BuildRows(const std::vector<int64_t>& ids, int64_t day, Dialect d) {
  Builder b(d);
  std::string dd = b.Int(day);
  std::string list;
  for (int64_t id : ids) list += Cat({list.empty() ? "" : ", ", b.Int(id)});
  if (list.empty()) list = "NULL";
  return b.Done(Cat({"SELECT ", OrgCols(), ", ", kHasToken, ", ", UsedOn(dd), ", ", OverQuotaOn(dd),
                     " FROM orgs o WHERE o.id IN (", list, ")"}));
}

Statement BuildOverviewCounts(TimeMs now, TimeMs expiring_before, Dialect d) {
  Builder b(d);
  std::string n = b.Int(now), soon = b.Int(expiring_before);
  auto reason = [&](const char* r) {
    return Count(
        Cat({"(", Active(n), " AND o.provider_disabled AND o.disable_reason = '", r, "')"}));
  };
  // Without a token: every token belongs to an organization (foreign key), so the organizations
  // less the tokens (one count of the tokens table instead of a look-up per organization).
  return b.Done(
      Cat({"SELECT count(*), ", Count(Enabled(n)), ", ", Count("o.subscription = 'NONE'"), ", ",
           Count(Expired(n)), ", ", reason("QUOTA_THRESHOLD"), ", ", reason("TERMS_VIOLATION"),
           ", ", reason("OTHER"), ", count(*) - (SELECT count(*) FROM tokens), ",
           Count(Expiring(n, soon)), " FROM orgs o"}));
}

Statement BuildOverviewUsage(TimeMs now, int64_t day, Dialect d) {
  Builder b(d);
  std::string n = b.Int(now), dd = b.Int(day);
  return b.Done(
      Cat({"SELECT ", Count(Over80(dd)), ", ", Count(NearThreshold(n, dd)), " FROM orgs o"}));
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
  // The first entries of the index orgs_by_usage for the day.
  return b.Done(Cat({"SELECT ", OrgCols(), ", ", kHasToken,
                     ", o.used_today, o.over_quota_today FROM orgs o WHERE ", UsedToday(dd),
                     " ORDER BY o.used_today DESC, o.id LIMIT ", n}));
}

Statement BuildAuditList(const AuditFilter& f, Dialect d) {
  Builder b(d);
  std::string sql = Cat(
      {"SELECT ", layout::kAuditCols, " FROM audit WHERE ", d == Dialect::kSqlite ? "1" : "true"});
  if (f.org_id) sql += Cat({" AND org_id = ", b.Int(*f.org_id)});
  if (f.actor) sql += Cat({" AND actor = ", b.Text(*f.actor)});
  if (f.action) sql += Cat({" AND action = ", b.Text(*f.action)});
  if (f.from) sql += Cat({" AND ts >= ", b.Int(*f.from)});
  if (f.to) sql += Cat({" AND ts < ", b.Int(*f.to)});
  if (f.before_id) sql += Cat({" AND id < ", b.Int(*f.before_id)});
  const int64_t limit = std::clamp<int64_t>(f.limit, 1, layout::kMaxPageLimit);
  sql += Cat({" ORDER BY id DESC LIMIT ", b.Int(limit)});
  return b.Done(std::move(sql));
}

Statement BuildThrottleExpire(const std::string& scope, TimeMs stale, Dialect d) {
  Builder b(d);
  const std::string s = b.Text(scope), t = b.Int(stale);
  return b.Done(Cat({"DELETE FROM throttle_counts WHERE scope = ", s, " AND last <= ", t}));
}

Statement BuildThrottleLive(const std::string& scope, int max_rows, Dialect d) {
  Builder b(d);
  const std::string s = b.Text(scope), n = b.Int(std::max(1, max_rows));
  return b.Done(Cat({"SELECT key, count, last FROM throttle_counts WHERE scope = ", s,
                     " ORDER BY count DESC LIMIT ", n}));
}

}  // namespace sandgate::store::orgsql
