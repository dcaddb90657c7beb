#include "store/pg_tx.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "store/audit_chain.h"
#include "store/change_log.h"
#include "store/org_query.h"
#include "store/pg_schema.h"

namespace sandgate::store::pgdb {

Result<OrgRecord> PgTx::GetOrg(OrgId id) {
  static const std::string sql = std::string("SELECT ") + kOrgCols + " FROM orgs WHERE id = $1";
  return OneOrg(sql, Params().Int(id));
}

Result<OrgRecord> PgTx::GetOrgByName(const std::string& name) {
  static const std::string sql = std::string("SELECT ") + kOrgCols +
                                 " FROM orgs WHERE lower(name COLLATE \"C\") = "
                                 "lower($1 COLLATE \"C\")";
  return OneOrg(sql, Params().Text(name));
}

Result<OrgId> PgTx::InsertOrg(const OrgRecord& org) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql =
      std::string("INSERT INTO orgs (") + kOrgDataCols +
      ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Handled(sql, rows::BindOrgData(Params().Ref(), org), "inserting an organization",
                   OrgExists());
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Status PgTx::UpdateOrg(const OrgRecord& org) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql =
      "UPDATE orgs SET name = $1, created_at = $2, subscription = $3, ends_at = $4, "
      "provider_disabled = $5, disable_reason = $6, disable_note = $7, disabled_at = $8, "
      "disabled_by = $9, daily_allowance = $10, rate_per_second = $11, rate_per_hour = $12, "
      "disable_threshold = $13 WHERE id = $14";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Handled(sql, rows::BindOrgData(Params().Ref(), org).Int(org.id),
                   "updating an organization", OrgExists());
  if (!r.ok()) return r.status();
  if (r->affected() == 0) return OrgNotFound();
  return Status::Ok();
}

Result<OrgPage> PgTx::ListOrgs(const std::string& search, int64_t offset, int64_t limit) {
  static const std::string count_sql =
      "SELECT count(*) FROM orgs WHERE strpos(lower(name COLLATE \"C\"), "
      "lower($1 COLLATE \"C\")) > 0";
  static const std::string page_sql = std::string("SELECT ") + kOrgCols +
                                      " FROM orgs WHERE strpos(lower(name COLLATE \"C\"), "
                                      "lower($1 COLLATE \"C\")) > 0 "
                                      "ORDER BY id LIMIT $2 OFFSET $3";
  if (Status g = Guard(false); !g.ok()) return g;
  OrgPage page;
  auto n = Run(count_sql, Params().Text(search), "counting organizations");
  if (!n.ok()) return n.status();
  page.total = n->Int(0, 0);
  auto r = Run(page_sql,
               Params()
                   .Text(search)
                   .Int(std::clamp<int64_t>(limit, 1, kMaxPageLimit))
                   .Int(std::max<int64_t>(offset, 0)),
               "listing organizations");
  if (!r.ok()) return r.status();
  for (int i = 0; i < r->size(); ++i) {
    auto o = rows::ReadOrg(r->Row(i), 0);
    if (!o.ok()) return o.status();
    page.items.push_back(std::move(o).value());
  }
  return page;
}

Result<OrgRowPage> PgTx::QueryOrgs(const OrgQuery& q) {
  if (Status g = Guard(false); !g.ok()) return g;
  constexpr auto kDialect = orgsql::Dialect::kPostgres;
  OrgRowPage page;
  auto run = [&](const orgsql::Statement& st) -> Result<std::vector<int64_t>> {
    auto r = RunBuilt(st, "listing organizations");
    if (!r.ok()) return r.status();
    std::vector<int64_t> out;
    for (int i = 0; i < r->size(); ++i) {
      for (int c = 0; c < st.columns; ++c) out.push_back(r->Int(i, c));
    }
    return out;
  };
  auto counts = orgsql::CountList(q, kDialect, run);
  if (!counts.ok()) return counts.status();
  page.total = counts->total;
  auto ids = orgsql::PageIds(q, kDialect, *counts, run);
  if (!ids.ok()) return ids.status();
  if (ids->empty()) return page;
  auto r = RunBuilt(orgsql::BuildRows(*ids, q.day, kDialect), "listing organizations");
  if (!r.ok()) return r.status();
  std::map<OrgId, OrgRow> rows;
  for (int i = 0; i < r->size(); ++i) {
    auto row = rows::ReadOrgRow(r->Row(i));
    if (!row.ok()) return row.status();
    rows.emplace(row->org.id, std::move(row).value());
  }
  for (OrgId id : *ids) {
    auto it = rows.find(id);
    if (it != rows.end()) page.items.push_back(std::move(it->second));
  }
  return page;
}

Result<OrgOverviewRecord> PgTx::OrgOverview(TimeMs now, int64_t day, TimeMs expiring_before,
                                            int days, int top_n) {
  if (Status g = Guard(false); !g.ok()) return g;
  constexpr auto kPg = orgsql::Dialect::kPostgres;
  OrgOverviewRecord o;
  auto c =
      RunBuilt(orgsql::BuildOverviewCounts(now, expiring_before, kPg), "counting organizations");
  if (!c.ok()) return c.status();
  int64_t* out[] = {&o.orgs,
                    &o.enabled,
                    &o.no_subscription,
                    &o.expired,
                    &o.disabled_quota_threshold,
                    &o.disabled_terms_violation,
                    &o.disabled_other,
                    &o.no_token,
                    &o.expiring};
  for (int i = 0; i < static_cast<int>(std::size(out)); ++i) *out[i] = c->Int(0, i);
  auto u = RunBuilt(orgsql::BuildOverviewUsage(now, day, kPg), "counting usage");
  if (!u.ok()) return u.status();
  o.over80 = u->Int(0, 0);
  o.near_threshold = u->Int(0, 1);
  for (int64_t d = day - days + 1; d <= day; ++d) o.days.push_back({d, 0, 0});
  auto ds = RunBuilt(orgsql::BuildOverviewDays(day - days, day, kPg), "summing usage");
  if (!ds.ok()) return ds.status();
  for (int i = 0; i < ds->size(); ++i) {
    int64_t d = ds->Int(i, 0);
    if (d > day - days && d <= day)
      o.days[static_cast<size_t>(d - (day - days + 1))] = {d, ds->Int(i, 1), ds->Int(i, 2)};
  }
  auto t = RunBuilt(orgsql::BuildOverviewTop(day, top_n, kPg), "listing the busiest organizations");
  if (!t.ok()) return t.status();
  for (int i = 0; i < t->size(); ++i) {
    auto row = rows::ReadOrgRow(t->Row(i));
    if (!row.ok()) return row.status();
    o.top.push_back(std::move(row).value());
  }
  return o;
}

Result<std::optional<TokenRecord>> PgTx::GetToken(OrgId org) {
  static const std::string sql =
      std::string("SELECT ") + kTokenCols + " FROM tokens WHERE org_id = $1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, Params().Int(org), "reading a token");
  if (!r.ok()) return r.status();
  if (r->size() == 0) return std::optional<TokenRecord>();
  return std::optional<TokenRecord>(rows::ReadToken(r->Row(0), 0));
}

Status PgTx::InsertToken(const TokenRecord& t) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql = std::string("INSERT INTO tokens (") + kTokenCols +
                                 ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
  if (Status g = Guard(true); !g.ok()) return g;
  std::string constraint;
  auto r = Handled(sql, rows::BindToken(Params().Ref(), t), "inserting a token", TokenHashExists(),
                   OrgNotFound(), &constraint);
  if (!r.ok() && r.status().code() == "TOKEN_HASH_EXISTS" && constraint == "tokens_pkey") {
    return TokenExists();
  }
  return r.status();
}

Status PgTx::ReplaceToken(const TokenRecord& t) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql =
      "UPDATE tokens SET lookup_hash = $2, sealed = $3, key_id = $4, last4 = $5, "
      "created_at = $6, last_modified_by = $7, last_modified_on = $8 WHERE org_id = $1";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Handled(sql, rows::BindToken(Params().Ref(), t), "replacing a token", TokenHashExists());
  if (!r.ok()) return r.status();
  if (r->affected() == 0) return TokenNotFound();
  return Status::Ok();
}

Status PgTx::DeleteToken(OrgId org) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql = "DELETE FROM tokens WHERE org_id = $1";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Run(sql, Params().Int(org), "deleting a token");
  if (!r.ok()) return r.status();
  if (r->affected() == 0) return TokenNotFound();
  return Status::Ok();
}

Status PgTx::ForEachToken(const std::function<void(const TokenRecord&, const OrgRecord&)>& fn) {
  static const std::string sql =
      "SELECT t.org_id, t.lookup_hash, t.sealed, t.key_id, t.last4, t.created_at, "
      "t.last_modified_by, t.last_modified_on, "
      "o.id, o.name, o.created_at, o.subscription, o.ends_at, o.provider_disabled, "
      "o.disable_reason, o.disable_note, o.disabled_at, o.disabled_by, o.daily_allowance, "
      "o.rate_per_second, o.rate_per_hour, o.disable_threshold "
      "FROM tokens t JOIN orgs o ON o.id = t.org_id WHERE t.org_id > $1 "
      "ORDER BY t.org_id LIMIT 10000";
  if (Status g = Guard(false); !g.ok()) return g;
  // Keyset pages keep the client's memory bounded on large installations.
  int64_t after = std::numeric_limits<int64_t>::min();
  for (;;) {
    auto r = Run(sql, Params().Int(after), "listing tokens");
    if (!r.ok()) return r.status();
    for (int i = 0; i < r->size(); ++i) {
      TokenRecord t = rows::ReadToken(r->Row(i), 0);
      auto o = rows::ReadOrg(r->Row(i), 8);
      if (!o.ok()) return o.status();
      after = t.org_id;
      fn(t, *o);
    }
    if (r->size() < 10000) return Status::Ok();
  }
}

Result<UserRecord> PgTx::GetUser(UserId id) {
  static const std::string sql = std::string("SELECT ") + kUserCols + " FROM users WHERE id = $1";
  return OneUser(sql, Params().Int(id));
}

Result<UserRecord> PgTx::GetUserByName(const std::string& name) {
  static const std::string sql = std::string("SELECT ") + kUserCols +
                                 " FROM users WHERE lower(username COLLATE \"C\") = "
                                 "lower($1 COLLATE \"C\")";
  return OneUser(sql, Params().Text(name));
}

Result<UserId> PgTx::InsertUser(const UserRecord& u) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql = std::string("INSERT INTO users (") + kUserDataCols +
                                 ") VALUES ($1, $2, $3, $4, $5) RETURNING id";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Handled(sql, rows::BindUserData(Params().Ref(), u), "inserting a user", UserExists(),
                   OrgNotFound());
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Status PgTx::UpdateUser(const UserRecord& u) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql =
      "UPDATE users SET username = $1, password_hash = $2, role = $3, org_id = $4, "
      "created_at = $5 WHERE id = $6";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Handled(sql, rows::BindUserData(Params().Ref(), u).Int(u.id), "updating a user",
                   UserExists(), OrgNotFound());
  if (!r.ok()) return r.status();
  if (r->affected() == 0) return UserNotFound();
  return Status::Ok();
}

Status PgTx::DeleteUser(UserId id) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql = "DELETE FROM users WHERE id = $1";
  if (Status st = DeleteSessionsOfUser(id); !st.ok()) return st;
  auto r = Run(sql, Params().Int(id), "deleting a user");
  if (!r.ok()) return r.status();
  if (r->affected() == 0) return UserNotFound();
  return Status::Ok();
}

Result<std::vector<UserRecord>> PgTx::ListUsers(std::optional<OrgId> org) {
  static const std::string by_org =
      std::string("SELECT ") + kUserCols + " FROM users WHERE org_id = $1 ORDER BY id";
  static const std::string provider =
      std::string("SELECT ") + kUserCols + " FROM users WHERE org_id IS NULL ORDER BY id";
  if (Status g = Guard(false); !g.ok()) return g;
  Params p;
  if (org) p.Int(*org);
  auto r = Run(org ? by_org : provider, p, "listing users");
  if (!r.ok()) return r.status();
  std::vector<UserRecord> users;
  for (int i = 0; i < r->size(); ++i) {
    auto u = rows::ReadUser(r->Row(i));
    if (!u.ok()) return u.status();
    users.push_back(std::move(u).value());
  }
  return users;
}

Result<int64_t> PgTx::CountUsers() {
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run("SELECT count(*) FROM users", Params(), "counting users");
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Status PgTx::InsertSession(const SessionRecord& s) {
  static const std::string sql =
      std::string("INSERT INTO sessions (") + kSessionCols + ") VALUES ($1, $2, $3, $4)";
  if (Status g = Guard(true); !g.ok()) return g;
  return Handled(sql, rows::BindSession(Params().Ref(), s), "inserting a session", SessionExists(),
                 UserNotFound())
      .status();
}

Result<SessionRecord> PgTx::GetSession(const std::string& id_hash) {
  static const std::string sql =
      std::string("SELECT ") + kSessionCols + " FROM sessions WHERE id_hash = $1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, Params().Bytes(id_hash), "reading a session");
  if (!r.ok()) return r.status();
  if (r->size() == 0) return SessionNotFound();
  return rows::ReadSession(r->Row(0));
}

Status PgTx::TouchSession(const std::string& id_hash, TimeMs last_seen) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql = "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Run(sql, Params().Bytes(id_hash).Int(last_seen), "updating a session");
  if (!r.ok()) return r.status();
  if (r->affected() == 0) return SessionNotFound();
  return Status::Ok();
}

Status PgTx::DeleteSession(const std::string& id_hash) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  return Mutation("DELETE FROM sessions WHERE id_hash = $1", Params().Bytes(id_hash),
                  "deleting a session");
}

Status PgTx::DeleteSessionsOfUser(UserId user) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  return Mutation("DELETE FROM sessions WHERE user_id = $1", Params().Int(user),
                  "deleting a user's sessions");
}

Status PgTx::DeleteSessionsBefore(TimeMs last_seen_before) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  return Mutation("DELETE FROM sessions WHERE last_seen_at < $1", Params().Int(last_seen_before),
                  "deleting old sessions");
}

Result<UsageRecord> PgTx::GetUsage(OrgId org, int64_t day) {
  static const std::string sql =
      std::string("SELECT ") + kUsageCols + " FROM usage WHERE org_id = $1 AND day = $2";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, Params().Int(org).Int(day), "reading usage");
  if (!r.ok()) return r.status();
  if (r->size() == 0) {
    UsageRecord zero;
    zero.org_id = org;
    zero.day = day;
    return zero;
  }
  return rows::ReadUsage(r->Row(0));
}

namespace {

// "$n", built in two steps: GCC 12 warns (-Wrestrict) on "$" + std::to_string(n).
std::string PgPlaceholder(int n) {
  std::string p = "$";
  p += std::to_string(n);
  return p;
}

// The usage upsert of organization k (kOrgRow), from parameters $first.. (day, used delta,
// over-quota delta, last use), returning the row for kSyncLatestUsage.
std::string UsageUpsert(int first) {
  return std::string("INSERT INTO usage (") + kUsageCols + ") SELECT k.id, " +
         PgPlaceholder(first) + ", " + PgPlaceholder(first + 1) + ", " + PgPlaceholder(first + 2) +
         ", " + PgPlaceholder(first + 3) +
         " FROM k ON CONFLICT (org_id, day) DO UPDATE SET used = usage.used + excluded.used, "
         "over_quota = usage.over_quota + excluded.over_quota, "
         "last_used_at = coalesce(excluded.last_used_at, usage.last_used_at) "
         "RETURNING org_id, day, used, over_quota";
}

// One more submission counted for organization k (kOrgRow) on day $2 while below $3, returning
// the row for kSyncLatestUsage (nothing when the day is full).
std::string CountUpsert() {
  return "INSERT INTO usage (org_id, day, used, over_quota) SELECT k.id, $2, 1, 0 FROM k "
         "ON CONFLICT (org_id, day) DO UPDATE SET used = usage.used + 1 WHERE usage.used < $3 "
         "RETURNING org_id, day, used, over_quota";
}

// The report upsert of organization k (kOrgRow), from parameters $2..$7 (rows::BindReport's).
std::string ReportUpsert() {
  return std::string("INSERT INTO reports (") + kReportCols +
         ") SELECT k.id, $2, $3, $4, $5, $6, $7 FROM k ON CONFLICT (org_id, md5) DO UPDATE SET "
         "sha256 = excluded.sha256, status = excluded.status, report_json = excluded.report_json, "
         "created_at = excluded.created_at, updated_at = excluded.updated_at RETURNING 1";
}

// The rate windows' upsert for ConsumeRate and ConsumeAdmission: `source` names the organization
// (a query of one column, or none), $limit_param and the next are the per-second and per-hour
// limits. Database time: every node counts in the same windows, whatever its own clock says.
std::string RateUpsert(const std::string& source, int limit_param) {
  const std::string sec = PgPlaceholder(limit_param);
  const std::string hour = PgPlaceholder(limit_param + 1);
  return "INSERT INTO rate_windows (org_id, sec_window, in_sec, hour_window, in_hour) "
         "SELECT o.id, t.ms / 1000, 1, t.ms / 3600000, 1 FROM (" +
         source +
         ") o, (SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms) t "
         "ON CONFLICT (org_id) DO UPDATE SET "
         "in_sec = CASE WHEN rate_windows.sec_window >= excluded.sec_window "
         "THEN rate_windows.in_sec + 1 ELSE 1 END, "
         "sec_window = greatest(rate_windows.sec_window, excluded.sec_window), "
         "in_hour = CASE WHEN rate_windows.hour_window >= excluded.hour_window "
         "THEN rate_windows.in_hour + 1 ELSE 1 END, "
         "hour_window = greatest(rate_windows.hour_window, excluded.hour_window) "
         "WHERE (rate_windows.sec_window < excluded.sec_window OR rate_windows.in_sec < " +
         sec + ") AND (rate_windows.hour_window < excluded.hour_window OR rate_windows.in_hour < " +
         hour + ") RETURNING 1";
}

}  // namespace

Status PgTx::AddUsage(OrgId org, int64_t day, int64_t used_delta, int64_t over_quota_delta,
                      std::optional<TimeMs> last_used_at) {
  usage_change_ = true;  // the token page's usage and last use
  // No savepoint (kOrgRow): a missing organization inserts nothing and is answered, not raised.
  static const std::string sql = std::string("WITH ") + kOrgRow + ", u AS (" + UsageUpsert(2) +
                                 "), s AS (" + kSyncLatestUsage + ") SELECT count(*) FROM k";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Run(
      sql, Params().Int(org).Int(day).Int(used_delta).Int(over_quota_delta).OptInt(last_used_at),
      "adding usage");
  if (!r.ok()) return r.status();
  return r->Int(0, 0) == 0 ? OrgNotFound() : Status::Ok();
}

Result<std::optional<TimeMs>> PgTx::LastUsed(OrgId org) {
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run("SELECT max(last_used_at) FROM usage WHERE org_id = $1", Params().Int(org),
               "reading last use");
  if (!r.ok()) return r.status();
  return r->OptInt(0, 0);
}

Result<std::optional<ReportRecord>> PgTx::GetReport(OrgId org, const std::string& md5) {
  static const std::string sql =
      std::string("SELECT ") + kReportCols + " FROM reports WHERE org_id = $1 AND md5 = $2";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, Params().Int(org).Text(md5), "reading a report");
  if (!r.ok()) return r.status();
  if (r->size() == 0) return std::optional<ReportRecord>();
  return std::optional<ReportRecord>(rows::ReadReport(r->Row(0)));
}

Status PgTx::PutReport(const ReportRecord& x) { return TakeReport(SendReport(x)); }

Status PgTx::PutReportWithUsage(const ReportRecord& x, int64_t day, int64_t used_delta,
                                std::optional<TimeMs> last_used_at) {
  return TakeReportWithUsage(SendReportWithUsage(x, day, used_delta, last_used_at));
}

Tx::Ticket PgTx::SendReportWithUsage(const ReportRecord& x, int64_t day, int64_t used_delta,
                                     std::optional<TimeMs> last_used_at) {
  SentCall call;
  call.kind = SentCall::Kind::kReport;
  call.org = x.org_id;
  call.day = day;
  call.report = x;
  call.used_delta = used_delta;
  call.last_used_at = last_used_at;
  if (Status g = Guard(true); !g.ok())
    call.report_status = g;
  else
    call.queued = true;
  sent_.push_back(std::move(call));
  return sent_.size() - 1;
}

Tx::Ticket PgTx::SendReport(const ReportRecord& x) {
  const Ticket t = SendReportWithUsage(x, 0, 0, std::nullopt);
  sent_[t].with_usage = false;
  return t;
}

Status PgTx::TakeReport(Ticket t) { return TakeReportWithUsage(t); }

Status PgTx::TakeReportWithUsage(Ticket t) {
  if (Status st = CollectSent(); !st.ok()) return st;
  if (t >= sent_.size() || sent_[t].kind != SentCall::Kind::kReport || !sent_[t].report_status)
    return poison_ = Status::Internal("store: a pipelined answer was taken twice or never sent");
  Status out = std::move(*sent_[t].report_status);
  sent_[t].report_status.reset();
  return out;
}

Result<int64_t> PgTx::AppendAudit(const AuditRecord& a) {
  static const std::string last_sql = "SELECT chain FROM audit ORDER BY id DESC LIMIT 1";
  static const std::string sql =
      std::string("INSERT INTO audit (") + kAuditDataCols +
      ", prev_chain) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id";
  static const std::string chain_sql = "UPDATE audit SET chain = $2 WHERE id = $1";
  if (Status g = Guard(true); !g.ok()) return g;
  AuditAppendSteps steps;
  steps.read_last_chain = [&]() -> Result<std::string> {
    auto last = Run(last_sql, Params(), "reading the audit chain");
    if (!last.ok()) return last.status();
    return last->size() > 0 ? last->Bytes(0, 0) : std::string();
  };
  steps.insert = [&](const AuditRecord& rec) -> Result<int64_t> {
    auto r = Run(sql, rows::BindAuditData(Params().Ref(), rec).Bytes(rec.prev_chain),
                 "appending to the audit trail");
    if (!r.ok()) return r.status();
    return r->Int(0, 0);
  };
  steps.set_chain = [&](int64_t id, const std::string& chain) -> Status {
    return Run(chain_sql, Params().Int(id).Bytes(chain), "chaining the audit record").status();
  };
  return AppendChainedAudit(a, audit_key_, steps);
}

Result<std::vector<AuditRecord>> PgTx::ListAudit(const AuditFilter& f) {
  if (Status g = Guard(false); !g.ok()) return g;
  auto r =
      RunBuilt(orgsql::BuildAuditList(f, orgsql::Dialect::kPostgres), "listing the audit trail");
  if (!r.ok()) return r.status();
  std::vector<AuditRecord> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(rows::ReadAudit(r->Row(i)));
  return out;
}

Result<std::optional<int64_t>> PgTx::ConsumeUsage(OrgId org, int64_t day, int64_t limit) {
  // No savepoint (kOrgRow): one row, whether the organization exists and the new count (NULL
  // when full).
  static const std::string sql = std::string("WITH ") + kOrgRow + ", u AS (" + CountUpsert() +
                                 "), s AS (" + kSyncLatestUsage +
                                 ") SELECT (SELECT count(*) FROM k), (SELECT used FROM u)";
  if (Status g = Guard(true); !g.ok()) return g;
  if (limit <= 0) return std::optional<int64_t>();
  auto r = Run(sql, Params().Int(org).Int(day).Int(limit), "counting usage");
  if (!r.ok()) return r.status();
  if (r->Int(0, 0) == 0) return OrgNotFound();
  if (r->Null(0, 1)) return std::optional<int64_t>();
  usage_change_ = true;  // the token page's usage today
  return std::optional<int64_t>(r->Int(0, 1));
}

Result<AdmissionCount> PgTx::ConsumeAdmission(OrgId org, int64_t day, int64_t limit,
                                              int64_t per_second, int64_t per_hour, TimeMs now) {
  return TakeAdmission(SendAdmission(org, day, limit, per_second, per_hour, now));
}

Tx::Ticket PgTx::SendAdmission(OrgId org, int64_t day, int64_t limit, int64_t per_second,
                               int64_t per_hour, TimeMs now) {
  SentCall call;
  call.org = org;
  call.day = day;
  call.limit = limit;
  call.per_second = per_second;
  call.per_hour = per_hour;
  if (limit <= 0 || per_second <= 0 || per_hour <= 0) {
    // A zero limit refuses without counting: the calls one after the other, as by default.
    call.admission = Tx::ConsumeAdmission(org, day, limit, per_second, per_hour, now);
  } else if (Status g = Guard(true); !g.ok()) {
    call.admission = g;
  } else {
    call.queued = true;
  }
  sent_.push_back(std::move(call));
  return sent_.size() - 1;
}

Result<AdmissionCount> PgTx::TakeAdmission(Ticket t) {
  if (Status st = CollectSent(); !st.ok()) return st;
  if (t >= sent_.size() || sent_[t].kind != SentCall::Kind::kAdmission || !sent_[t].admission)
    return poison_ = Status::Internal("store: a pipelined answer was taken twice or never sent");
  Result<AdmissionCount> out = std::move(*sent_[t].admission);
  sent_[t].admission.reset();
  return out;
}

Result<RateCheck> PgTx::ConsumeRate(OrgId org, int64_t per_second, int64_t per_hour, TimeMs) {
  // No savepoint: a missing organization inserts nothing (answered by RateRefusal).
  static const std::string sql =
      std::string("WITH ") + kOrgRow + " " + RateUpsert("SELECT id FROM k", 2);
  if (Status g = Guard(true); !g.ok()) return g;
  if (per_second > 0 && per_hour > 0) {
    auto r = Run(sql, Params().Int(org).Int(per_second).Int(per_hour), "counting the rate");
    if (!r.ok()) return r.status();
    if (r->size() > 0) {
      RateCheck out;
      out.admitted = true;
      return out;
    }
  }
  return RateRefusal(org, per_second, per_hour);
}

Result<RateCheck> PgTx::RateRefusal(OrgId org, int64_t per_second, int64_t per_hour) {
  static const std::string why =
      "SELECT sec_window, in_sec, hour_window, in_hour, "
      "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM rate_windows "
      "WHERE org_id = $1";
  RateCheck out;
  auto r = Run(why, Params().Int(org), "reading the rate windows");
  if (!r.ok()) return r.status();
  if (r->size() == 0) {  // a missing organization, or a zero limit: refused by the second
    auto org_row =
        Run("SELECT 1 FROM orgs WHERE id = $1", Params().Int(org), "reading an organization");
    if (!org_row.ok()) return org_row.status();
    if (org_row->size() == 0) return OrgNotFound();
    out.reset_ms = 1000;
    return out;
  }
  // The clock read here is later than the refused insert's: a second may have rolled over in
  // between. So the hour is blamed only when its window is current and full; otherwise the
  // per-second window refused, and a window that has already rolled over resets in 1 ms.
  const int64_t ms = r->Int(0, 4);
  const bool hour_full =
      per_hour <= 0 || (r->Int(0, 2) >= ms / 3'600'000 && r->Int(0, 3) >= per_hour);
  if (per_second > 0 && hour_full) {
    out.hour = true;
    out.reset_ms = std::max<int64_t>(1, (r->Int(0, 2) + 1) * 3'600'000 - ms);
  } else {
    out.reset_ms = std::max<int64_t>(1, (r->Int(0, 0) + 1) * 1000 - ms);
  }
  return out;
}

Result<std::vector<ThrottleCount>> PgTx::ExchangeThrottle(const std::string& scope,
                                                          const std::vector<ThrottleCount>& deltas,
                                                          TimeMs now, TimeMs window, int max_rows) {
  static const std::string add =
      "INSERT INTO throttle_counts (scope, key, count, last) VALUES ($1, $2, greatest(0, "
      "$3::bigint), $4) "
      "ON CONFLICT (scope, key) DO UPDATE SET count = greatest(0, CASE WHEN "
      "throttle_counts.last <= $5 THEN $3::bigint ELSE throttle_counts.count + $3::bigint "
      "END), "
      "last = greatest(throttle_counts.last, excluded.last)";
  if (Status g = Guard(true); !g.ok()) return g;
  const TimeMs stale = now - window;
  for (const ThrottleCount& d : deltas) {
    auto r = Run(add, Params().Text(scope).Text(d.key).Int(d.count).Int(d.last).Int(stale),
                 "counting throttled attempts");
    if (!r.ok()) return r.status();
  }
  constexpr auto kPg = orgsql::Dialect::kPostgres;
  if (auto r = RunBuilt(orgsql::BuildThrottleExpire(scope, stale, kPg), "expiring throttle counts");
      !r.ok())
    return r.status();
  auto r = RunBuilt(orgsql::BuildThrottleLive(scope, max_rows, kPg), "reading throttle counts");
  if (!r.ok()) return r.status();
  std::vector<ThrottleCount> out;
  out.reserve(r->size());
  for (int i = 0; i < r->size(); ++i) out.push_back({r->Text(i, 0), r->Int(i, 1), r->Int(i, 2)});
  return out;
}

Result<int64_t> PgTx::LiveNodes() {
  static const std::string sql = "SELECT count(*) FROM nodes WHERE lease_until > now()";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, Params(), "counting the nodes");
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<int64_t> PgTx::RecordChange(OrgId org) {
  // The entry and the notification in one statement (one round trip). The notification is
  // delivered to the listening nodes when (and only if) the transaction commits.
  static const std::string sql =
      std::string(
          "WITH c AS (INSERT INTO changes (org_id) VALUES ($1) RETURNING seq) "
          "SELECT seq, pg_notify('") +
      kChangesChannel + "', '') FROM c";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Run(sql, Params().Int(org), "recording a change");
  if (!r.ok()) return r.status();
  recorded_change_ = r->Int(0, 0);
  return recorded_change_;
}

Result<int64_t> PgTx::RecordCacheChangeAndCommit(std::string_view usage_notice,
                                                 const std::string& self_node,
                                                 int64_t* lagging_nodes) {
  static const std::string sql =
      std::string(
          "WITH c AS (INSERT INTO changes (org_id) VALUES ($1) RETURNING seq) "
          "SELECT seq, pg_notify('") +
      kChangesChannel + "', $2) FROM c";
  static const std::string commit = "COMMIT";
  // Store::AwaitPropagation's question, asked at once after the COMMIT (currval: this
  // session's entry).
  static const std::string lagging =
      LaggingNodesSql("currval(pg_get_serial_sequence('changes', 'seq'))");
  *lagging_nodes = -1;
  if (Status g = Guard(true); !g.ok()) return g;
  if (Status st = CollectSent(); !st.ok()) return st;
  const bool usage = usage_only();
  constexpr std::string_view what = "recording a change and committing";
  Status st = c_.Send(sql,
                      Params()
                          .Int(usage ? kUsageOnlyChange : kCacheOnlyChange)
                          .Text(usage ? usage_notice : std::string_view()),
                      what);
  if (st.ok()) st = c_.Send(commit, Params(), what);
  if (st.ok()) st = c_.Send(lagging, Params().Text(self_node), what);
  std::vector<ResultPtr> answers;
  Status collected = c_.Collect(what, &answers);
  if (answers.size() < 2) {  // the entry or the COMMIT failed: nothing is committed
    poison_ = !collected.ok() ? collected
              : !st.ok()      ? st
                              : Status::Unavailable("store: " + std::string(what));
    return poison_;
  }
  recorded_change_ = Rows(std::move(answers[0])).Int(0, 0);
  if (answers.size() >= 3) *lagging_nodes = Rows(std::move(answers[2])).Int(0, 0);
  return recorded_change_;
}

Status PgTx::Guard(bool mutating) {
  if (!poison_.ok()) return poison_;
  if (mutating && !writable_) {
    poison_ = MutatingInRead();
    return poison_;
  }
  return Status::Ok();
}

Result<Rows> PgTx::RunBuilt(const orgsql::Statement& st, std::string_view what) {
  Params p;
  for (const auto& v : st.params) {
    if (v.is_text)
      p.Text(v.s);
    else
      p.Int(v.i);
  }
  return Run(st.sql, p, what);
}

namespace {

// Admissions of one organization, day and limits, `$6` of them one after the other, in one
// statement (Tx::ConsumeAdmission's contract for each): call j is counted when the day has room
// for it (j < day_room) and both rate windows do (the windows of the database's clock, as in
// RateUpsert); a refused call changes nothing, so the calls counted are the first
// n = least($6, day_room, sec_room, hour_room). Writers hold the write lock: what a reads is what
// r and u update. One row (also when the organization is missing): whether it exists, the day's
// count before, n, day_room, hour_room and the clock (ms).
const std::string& AdmissionsSql() {
  static const std::string sql =
      std::string("WITH ") + kOrgRow +
      ", t AS (SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms), "
      "a AS (SELECT k.id, t.ms, d.used, greatest(0, $3 - d.used) AS day_room, "
      "greatest(0, $5 - coalesce(w.in_hour, 0)) AS hour_room, "
      "least($6::bigint, greatest(0, $3 - d.used), greatest(0, $4 - coalesce(w.in_sec, 0)), "
      "greatest(0, $5 - coalesce(w.in_hour, 0))) AS n "
      "FROM k CROSS JOIN t CROSS JOIN LATERAL (SELECT coalesce((SELECT used FROM usage "
      "WHERE org_id = k.id AND day = $2), 0) AS used) d "
      "LEFT JOIN LATERAL (SELECT CASE WHEN sec_window >= t.ms / 1000 THEN in_sec ELSE 0 END "
      "AS in_sec, CASE WHEN hour_window >= t.ms / 3600000 THEN in_hour ELSE 0 END AS in_hour "
      "FROM rate_windows WHERE org_id = k.id) w ON true), "
      "r AS (INSERT INTO rate_windows (org_id, sec_window, in_sec, hour_window, in_hour) "
      "SELECT id, ms / 1000, n, ms / 3600000, n FROM a WHERE n > 0 "
      "ON CONFLICT (org_id) DO UPDATE SET "
      "in_sec = CASE WHEN rate_windows.sec_window >= excluded.sec_window "
      "THEN rate_windows.in_sec + excluded.in_sec ELSE excluded.in_sec END, "
      "sec_window = greatest(rate_windows.sec_window, excluded.sec_window), "
      "in_hour = CASE WHEN rate_windows.hour_window >= excluded.hour_window "
      "THEN rate_windows.in_hour + excluded.in_hour ELSE excluded.in_hour END, "
      "hour_window = greatest(rate_windows.hour_window, excluded.hour_window)), "
      "u AS (INSERT INTO usage (org_id, day, used, over_quota) SELECT id, $2, n, 0 FROM a "
      "WHERE n > 0 ON CONFLICT (org_id, day) DO UPDATE SET used = usage.used + excluded.used "
      "RETURNING org_id, day, used, over_quota), s AS (" +
      kSyncLatestUsage +
      ") SELECT (SELECT count(*) FROM k), a.used, a.n, a.day_room, a.hour_room, a.ms "
      "FROM (SELECT 1) one LEFT JOIN a ON true";
  return sql;
}

}  // namespace

// Sending: every queued call becomes a statement, in the order sent, except that calls whose
// effects commute are merged into one statement (issue 19, target 6: a busy organization's
// batch updates its rows once, not once per call):
// - admissions of the same organization, day and limits become one AdmissionsSql, at the place
//   of the first, unless a queued report of that organization changes its count (used_delta);
// - reports of the same organization and MD5 that change no count become one upsert of the last
//   of them, with the last use given last, at the place of the last.
// Neither kind reads what the other writes (a report's usage upsert sets only the last use),
// so the answers are those of the calls one after the other.
void PgTx::SendQueued(std::vector<std::vector<size_t>>* members) {
  static const std::string report_sql = std::string("WITH ") + kOrgRow + ", r AS (" +
                                        ReportUpsert() + "), u AS (" + UsageUpsert(8) +
                                        "), s AS (" + kSyncLatestUsage + ") SELECT count(*) FROM k";
  static const std::string report_only_sql =
      std::string("WITH ") + kOrgRow + ", r AS (" + ReportUpsert() + ") SELECT count(*) FROM k";
  std::vector<OrgId> counting;  // organizations with a queued report that changes the count
  for (const SentCall& c : sent_)
    if (c.queued && c.kind == SentCall::Kind::kReport && c.used_delta != 0)
      counting.push_back(c.org);
  auto counts = [&](OrgId org) {
    return std::find(counting.begin(), counting.end(), org) != counting.end();
  };
  // Group the queued calls; a group goes at `at` (the first admission, the last report).
  struct Group {
    size_t at;
    std::vector<size_t> calls;
    std::optional<int64_t> usage_day;  // reports: the day of the usage its calls write, if any
  };
  std::vector<Group> groups;
  std::map<std::tuple<OrgId, int64_t, int64_t, int64_t, int64_t>, size_t> admissions;
  std::map<std::pair<OrgId, std::string>, size_t> reports;
  for (size_t i = 0; i < sent_.size(); ++i) {
    SentCall& c = sent_[i];
    if (!c.queued) continue;
    c.queued = false;
    const bool report = c.kind == SentCall::Kind::kReport;
    std::optional<int64_t> day;  // a report's usage day
    if (report && c.with_usage) day = c.day;
    if (!report && !counts(c.org)) {
      const auto key = std::make_tuple(c.org, c.day, c.limit, c.per_second, c.per_hour);
      if (auto [it, fresh] = admissions.try_emplace(key, groups.size()); !fresh) {
        groups[it->second].calls.push_back(i);
        continue;
      }
    } else if (report && c.used_delta == 0) {
      auto [it, fresh] = reports.try_emplace(std::make_pair(c.org, c.report.md5), groups.size());
      // One usage day per statement; a call of another day goes on its own, at its place (the
      // last of a file's reports is still the one stored: the one placed last).
      if (!fresh) {
        if (Group& g = groups[it->second]; !day || !g.usage_day || *g.usage_day == *day) {
          g.calls.push_back(i);
          g.at = i;
          if (day) g.usage_day = day;
          continue;
        }
      }
    }
    groups.push_back(Group{i, {i}, day});
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const Group& a, const Group& b) { return a.at < b.at; });
  for (Group& g : groups) {
    const SentCall& c = sent_[g.at];
    Status st;
    if (c.kind == SentCall::Kind::kAdmission) {
      st = c_.Send(AdmissionsSql(),
                   Params()
                       .Int(c.org)
                       .Int(c.day)
                       .Int(c.limit)
                       .Int(c.per_second)
                       .Int(c.per_hour)
                       .Int(static_cast<int64_t>(g.calls.size())),
                   "counting admissions");
    } else if (!g.usage_day) {
      st = c_.Send(report_only_sql, rows::BindReport(Params().Ref(), c.report), "storing a report");
    } else {
      std::optional<TimeMs> last_used;  // the last one given, as one call after another
      int64_t used_delta = 0;           // 0 unless the call is alone (merged calls have 0)
      for (size_t i : g.calls) {
        if (!sent_[i].with_usage) continue;
        if (sent_[i].last_used_at) last_used = sent_[i].last_used_at;
        used_delta += sent_[i].used_delta;
      }
      st = c_.Send(report_sql,
                   rows::BindReport(Params().Ref(), c.report)
                       .Int(*g.usage_day)
                       .Int(used_delta)
                       .Int(0)
                       .OptInt(last_used),
                   "storing a report and its usage");
    }
    if (!st.ok()) {
      if (poison_.ok()) poison_ = st;
      break;
    }
    members->push_back(std::move(g.calls));
  }
}

void PgTx::AnswerCalls(const std::vector<size_t>& calls, const Rows& r) {
  if (sent_[calls[0]].kind == SentCall::Kind::kReport) {
    for (size_t i : calls) {
      if (sent_[i].with_usage) usage_change_ = true;  // the token page's usage and last use
      sent_[i].report_status = r.Int(0, 0) == 0 ? OrgNotFound() : Status::Ok();
    }
    return;
  }
  if (r.Int(0, 0) == 0) {
    for (size_t i : calls) sent_[i].admission = Result<AdmissionCount>(OrgNotFound());
    return;
  }
  const int64_t before = r.Int(0, 1), n = r.Int(0, 2), day_room = r.Int(0, 3);
  const int64_t hour_room = r.Int(0, 4), ms = r.Int(0, 5);
  if (n > 0) usage_change_ = true;  // the token page's usage today
  for (size_t j = 0; j < calls.size(); ++j) {
    AdmissionCount out;
    const int64_t k = static_cast<int64_t>(j);
    if (k < n) {
      out.used = before + k + 1;
      out.rate.admitted = true;
    } else if (n < day_room) {
      // The windows refused it, with the day's count at before + n: the count it would have
      // had, and why (the hour when its window is full, as RateRefusal tells).
      out.used = before + n + 1;
      out.rate.hour = hour_room <= n;
      out.rate.reset_ms =
          out.rate.hour ? (ms / 3'600'000 + 1) * 3'600'000 - ms : (ms / 1000 + 1) * 1000 - ms;
      out.rate.reset_ms = std::max<int64_t>(1, out.rate.reset_ms);
    }  // else the allowance was full: nothing counted (used stays nullopt)
    sent_[calls[j]].admission = Result<AdmissionCount>(out);
  }
}

Status PgTx::CollectSent() {
  bool queued = false;
  for (const SentCall& c : sent_) queued = queued || c.queued;
  if (!queued && c_.queued() == 0) return poison_;
  std::vector<std::vector<size_t>> members;  // per statement sent: the calls it answers
  if (poison_.ok()) {
    SendQueued(&members);
  } else {
    for (SentCall& c : sent_) c.queued = false;
  }
  auto answers = c_.Collect("answering pipelined statements");
  if (!answers.ok() && poison_.ok()) poison_ = answers.status();
  if (!poison_.ok()) return poison_;  // every call of the pipeline answers the failure
  for (size_t s = 0; s < members.size() && s < answers->size(); ++s)
    AnswerCalls(members[s], Rows(std::move((*answers)[s])));
  return poison_;
}

Result<Rows> PgTx::Run(const std::string& sql, const Params& p, std::string_view what) {
  if (Status st = CollectSent(); !st.ok()) return st;
  auto r = c_.Query(sql, p, what);
  if (!r.ok()) poison_ = r.status();
  return r;
}

Result<Rows> PgTx::Handled(const std::string& sql, const Params& p, std::string_view what,
                           std::optional<Status> on_unique, std::optional<Status> on_fk,
                           std::string* constraint) {
  if (Status st = CollectSent(); !st.ok()) return st;
  // SAVEPOINT, the statement and RELEASE in one round trip (issue 19, target 6).
  ResultPtr err;
  auto r = c_.Query(sql, p, what, &err, {"SAVEPOINT sg_handled"}, {"RELEASE SAVEPOINT sg_handled"});
  if (r.ok()) return r;
  const std::string state = SqlState(err.get());
  std::optional<Status> answer;
  if (state == "23505" && on_unique) answer = on_unique;
  if (state == "23503" && on_fk) answer = on_fk;
  if (!answer) {
    poison_ = r.status();
    return r.status();
  }
  if (constraint != nullptr) *constraint = ConstraintName(err.get());
  if (Status st = c_.Exec("ROLLBACK TO SAVEPOINT sg_handled", what); !st.ok()) {
    return poison_ = st;
  }
  return *answer;
}

Status PgTx::Mutation(const std::string& sql, const Params& p, std::string_view what) {
  if (Status g = Guard(true); !g.ok()) return g;
  return Run(sql, p, what).status();
}

Result<OrgRecord> PgTx::OneOrg(const std::string& sql, const Params& p) {
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, p, "reading an organization");
  if (!r.ok()) return r.status();
  if (r->size() == 0) return OrgNotFound();
  return rows::ReadOrg(r->Row(0), 0);
}

Result<UserRecord> PgTx::OneUser(const std::string& sql, const Params& p) {
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, p, "reading a user");
  if (!r.ok()) return r.status();
  if (r->size() == 0) return UserNotFound();
  return rows::ReadUser(r->Row(0));
}

// Runs fn in one transaction on `c`. Write: BEGIN + the cluster-wide write lock. Read: a
// read-only snapshot. Commits only when fn returned OK and nothing poisoned the Tx. A failed
// COMMIT answers 503; if the connection broke during COMMIT the outcome is unknown to us (the
// one case where PostgreSQL cannot say) and the caller is told 503 all the same.
Status RunTx(Conn& c, bool writable, const std::string& audit_key,
             const std::function<Status(Tx&)>& fn, CacheEffect* effect,
             std::string_view usage_notice, const std::string& self_node) {
  // BEGIN (and the write lock) travel with the first statement (Conn::Defer).
  if (writable)
    c.Defer({kBeginWriteTx, kWriteLock});
  else
    c.Defer({"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"});
  PgTx tx(c, writable, audit_key);
  Status result;
  try {
    result = fn(tx);
    (void)tx.CollectSent();  // sent and never taken: its failure is the poison
  } catch (...) {
    (void)c.Exec("ROLLBACK", "rolling back");
    throw;
  }
  if (result.ok() && !tx.poison().ok()) result = tx.poison();
  // A change to cached data goes through the change log (as a cache-only entry, organization
  // 0, when the caller logged none), so every node's caches see it (issue 19).
  int64_t own_change = 0;
  int64_t lagging_nodes = -1;
  bool committed = false;
  const bool usage_only = tx.usage_only();
  if (result.ok() && writable && effect && tx.cache_change() && tx.recorded_change() == 0) {
    auto seq = tx.RecordCacheChangeAndCommit(usage_notice, self_node, &lagging_nodes);
    if (!seq.ok()) {
      (void)c.Exec("ROLLBACK", "rolling back");
      if (seq.status().IsUnavailable()) return seq.status();
      return Status::Unavailable("store: commit failed: " + seq.status().message());
    }
    own_change = *seq;
    committed = true;
  }
  if (!result.ok()) {
    (void)c.Exec("ROLLBACK", "rolling back");
    return result;
  }
  if (Status st = committed ? Status::Ok() : c.Exec("COMMIT", "committing"); !st.ok()) {
    (void)c.Exec("ROLLBACK", "rolling back");
    return Status::Unavailable("store: commit failed: " + st.message());
  }
  if (effect) {
    effect->changed = writable && tx.cache_change();
    effect->usage_only = usage_only;
    effect->own_change = own_change;
    effect->lagging_nodes = lagging_nodes;
  }
  return Status::Ok();
}

}  // namespace sandgate::store::pgdb
