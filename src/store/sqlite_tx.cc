#include "store/sqlite_tx.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <utility>

#include "store/audit_chain.h"
#include "store/org_query.h"
#include "store/row_mapping.h"

namespace sandgate::store::sqlitedb {

Result<OrgRecord> SqliteTx::GetOrg(OrgId id) {
  static const std::string sql = std::string("SELECT ") + kOrgCols + " FROM orgs WHERE id = ?1";
  return GetOneOrg(sql, [&](Stmt& s) { s.Int(1, id); });
}

Result<OrgRecord> SqliteTx::GetOrgByName(const std::string& name) {
  static const std::string sql =
      std::string("SELECT ") + kOrgCols + " FROM orgs WHERE name = ?1";  // NOCASE column
  return GetOneOrg(sql, [&](Stmt& s) { s.Text(1, name); });
}

Result<OrgId> SqliteTx::InsertOrg(const OrgRecord& org) {
  static const std::string sql =
      std::string("INSERT INTO orgs (") + kOrgDataCols +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindOrgData(p, org);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "inserting an organization", OrgExists());
  return static_cast<OrgId>(sqlite3_last_insert_rowid(c_.db()));
}

Status SqliteTx::UpdateOrg(const OrgRecord& org) {
  static const std::string sql =
      "UPDATE orgs SET name = ?1, created_at = ?2, subscription = ?3, ends_at = ?4, "
      "provider_disabled = ?5, disable_reason = ?6, disable_note = ?7, disabled_at = ?8, "
      "disabled_by = ?9, daily_allowance = ?10, rate_per_second = ?11, rate_per_hour = ?12, "
      "disable_threshold = ?13 WHERE id = ?14";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindOrgData(p, org).Int(org.id);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "updating an organization", OrgExists());
  if (sqlite3_changes(c_.db()) == 0) return OrgNotFound();
  return Status::Ok();
}

Result<OrgPage> SqliteTx::ListOrgs(const std::string& search, int64_t offset, int64_t limit) {
  static const std::string count_sql =
      "SELECT count(*) FROM orgs WHERE instr(lower(name), lower(?1)) > 0";
  static const std::string page_sql = std::string("SELECT ") + kOrgCols +
                                      " FROM orgs WHERE instr(lower(name), lower(?1)) > 0 "
                                      "ORDER BY id LIMIT ?2 OFFSET ?3";
  if (Status g = Guard(false); !g.ok()) return g;
  OrgPage page;
  {
    auto s = Prep(count_sql);
    if (!s.ok()) return s.status();
    s->Text(1, search);
    int rc = s->Step();
    if (rc != SQLITE_ROW) return Fail(rc, "counting organizations");
    page.total = s->ColInt(0);
  }
  auto s = Prep(page_sql);
  if (!s.ok()) return s.status();
  s->Text(1, search)
      .Int(2, std::clamp<int64_t>(limit, 1, kMaxPageLimit))
      .Int(3, std::max<int64_t>(offset, 0));
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    auto org = rows::ReadOrg(s->row(), 0);
    if (!org.ok()) return org.status();
    page.items.push_back(std::move(org).value());
  }
  if (rc != SQLITE_DONE) return Fail(rc, "listing organizations");
  return page;
}

Result<OrgRowPage> SqliteTx::QueryOrgs(const OrgQuery& q) {
  if (Status g = Guard(false); !g.ok()) return g;
  constexpr auto kDialect = orgsql::Dialect::kSqlite;
  OrgRowPage page;
  auto run = [&](const orgsql::Statement& st) -> Result<std::vector<int64_t>> {
    auto s = Bound(st);
    if (!s.ok()) return s.status();
    std::vector<int64_t> out;
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      for (int c = 0; c < st.columns; ++c) out.push_back(s->ColInt(c));
    }
    if (rc != SQLITE_DONE) return Fail(rc, "listing organizations");
    return out;
  };
  auto counts = orgsql::CountList(q, kDialect, run);
  if (!counts.ok()) return counts.status();
  page.total = counts->total;
  auto ids = orgsql::PageIds(q, kDialect, *counts, run);
  if (!ids.ok()) return ids.status();
  if (ids->empty()) return page;
  auto s = Bound(orgsql::BuildRows(*ids, q.day, kDialect));
  if (!s.ok()) return s.status();
  std::map<OrgId, OrgRow> rows;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    auto row = rows::ReadOrgRow(s->row());
    if (!row.ok()) return row.status();
    rows.emplace(row->org.id, std::move(row).value());
  }
  if (rc != SQLITE_DONE) return Fail(rc, "listing organizations");
  for (OrgId id : *ids) {
    auto it = rows.find(id);
    if (it != rows.end()) page.items.push_back(std::move(it->second));
  }
  return page;
}

Result<OrgOverviewRecord> SqliteTx::OrgOverview(TimeMs now, int64_t day, TimeMs expiring_before,
                                                int days, int top_n) {
  if (Status g = Guard(false); !g.ok()) return g;
  OrgOverviewRecord o;
  {
    auto s = Bound(orgsql::BuildOverviewCounts(now, expiring_before, orgsql::Dialect::kSqlite));
    if (!s.ok()) return s.status();
    int rc = s->Step();
    if (rc != SQLITE_ROW) return Fail(rc, "counting organizations");
    int64_t* out[] = {&o.orgs,
                      &o.enabled,
                      &o.no_subscription,
                      &o.expired,
                      &o.disabled_quota_threshold,
                      &o.disabled_terms_violation,
                      &o.disabled_other,
                      &o.no_token,
                      &o.expiring};
    for (int i = 0; i < static_cast<int>(std::size(out)); ++i) *out[i] = s->ColInt(i);
  }
  {
    auto s = Bound(orgsql::BuildOverviewUsage(now, day, orgsql::Dialect::kSqlite));
    if (!s.ok()) return s.status();
    int rc = s->Step();
    if (rc != SQLITE_ROW) return Fail(rc, "counting usage");
    o.over80 = s->ColInt(0);
    o.near_threshold = s->ColInt(1);
  }
  for (int64_t d = day - days + 1; d <= day; ++d) o.days.push_back({d, 0, 0});
  {
    auto s = Bound(orgsql::BuildOverviewDays(day - days, day, orgsql::Dialect::kSqlite));
    if (!s.ok()) return s.status();
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      int64_t d = s->ColInt(0);
      if (d > day - days && d <= day)
        o.days[static_cast<size_t>(d - (day - days + 1))] = {d, s->ColInt(1), s->ColInt(2)};
    }
    if (rc != SQLITE_DONE) return Fail(rc, "summing usage");
  }
  auto s = Bound(orgsql::BuildOverviewTop(day, top_n, orgsql::Dialect::kSqlite));
  if (!s.ok()) return s.status();
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    auto row = rows::ReadOrgRow(s->row());
    if (!row.ok()) return row.status();
    o.top.push_back(std::move(row).value());
  }
  if (rc != SQLITE_DONE) return Fail(rc, "listing the busiest organizations");
  return o;
}

Result<std::optional<TokenRecord>> SqliteTx::GetToken(OrgId org) {
  static const std::string sql =
      std::string("SELECT ") + kTokenCols + " FROM tokens WHERE org_id = ?1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org);
  int rc = s->Step();
  if (rc == SQLITE_DONE) return std::optional<TokenRecord>();
  if (rc != SQLITE_ROW) return Fail(rc, "reading a token");
  return std::optional<TokenRecord>(rows::ReadToken(s->row(), 0));
}

Status SqliteTx::InsertToken(const TokenRecord& t) {
  static const std::string sql = std::string("INSERT INTO tokens (") + kTokenCols +
                                 ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
  if (Status g = Guard(true); !g.ok()) return g;
  int rc;
  {
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindToken(p, t);
    rc = s->Step();
  }
  if (rc == SQLITE_DONE) return Status::Ok();
  if (IsUniqueViolation(rc) && !sqlite3_get_autocommit(c_.db())) {
    // The constraint refused it; find out which one to give the right answer.
    auto existing = GetToken(t.org_id);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      return TokenExists();
    }
    return TokenHashExists();
  }
  return Fail(rc, "inserting a token", std::nullopt, OrgNotFound());
}

Status SqliteTx::ReplaceToken(const TokenRecord& t) {
  static const std::string sql =
      "UPDATE tokens SET lookup_hash = ?2, sealed = ?3, key_id = ?4, last4 = ?5, "
      "created_at = ?6, last_modified_by = ?7, last_modified_on = ?8 WHERE org_id = ?1";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindToken(p, t);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "replacing a token", TokenHashExists());
  if (sqlite3_changes(c_.db()) == 0) return TokenNotFound();
  return Status::Ok();
}

Status SqliteTx::DeleteToken(OrgId org) {
  static const std::string sql = "DELETE FROM tokens WHERE org_id = ?1";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "deleting a token");
  if (sqlite3_changes(c_.db()) == 0) return TokenNotFound();
  return Status::Ok();
}

Status SqliteTx::ForEachToken(const std::function<void(const TokenRecord&, const OrgRecord&)>& fn) {
  static const std::string sql =
      "SELECT t.org_id, t.lookup_hash, t.sealed, t.key_id, t.last4, t.created_at, "
      "t.last_modified_by, t.last_modified_on, "  // kTokenCols
      "o.id, o.name, o.created_at, o.subscription, o.ends_at, o.provider_disabled, "
      "o.disable_reason, o.disable_note, o.disabled_at, o.disabled_by, o.daily_allowance, "
      "o.rate_per_second, o.rate_per_hour, o.disable_threshold "  // kOrgCols
      "FROM tokens t JOIN orgs o ON o.id = t.org_id ORDER BY t.org_id";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    TokenRecord token = rows::ReadToken(s->row(), 0);
    auto org = rows::ReadOrg(s->row(), 8);
    if (!org.ok()) return org.status();
    fn(token, *org);
  }
  if (rc != SQLITE_DONE) return Fail(rc, "listing tokens");
  return Status::Ok();
}

Result<UserRecord> SqliteTx::GetUser(UserId id) {
  static const std::string sql = std::string("SELECT ") + kUserCols + " FROM users WHERE id = ?1";
  return GetOneUser(sql, [&](Stmt& s) { s.Int(1, id); });
}

Result<UserRecord> SqliteTx::GetUserByName(const std::string& name) {
  static const std::string sql =
      std::string("SELECT ") + kUserCols + " FROM users WHERE username = ?1";  // NOCASE
  return GetOneUser(sql, [&](Stmt& s) { s.Text(1, name); });
}

Result<UserId> SqliteTx::InsertUser(const UserRecord& u) {
  static const std::string sql =
      std::string("INSERT INTO users (") + kUserDataCols + ") VALUES (?1, ?2, ?3, ?4, ?5)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindUserData(p, u);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "inserting a user", UserExists(), OrgNotFound());
  return static_cast<UserId>(sqlite3_last_insert_rowid(c_.db()));
}

Status SqliteTx::UpdateUser(const UserRecord& u) {
  static const std::string sql =
      "UPDATE users SET username = ?1, password_hash = ?2, role = ?3, org_id = ?4, "
      "created_at = ?5 WHERE id = ?6";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindUserData(p, u).Int(u.id);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "updating a user", UserExists(), OrgNotFound());
  if (sqlite3_changes(c_.db()) == 0) return UserNotFound();
  return Status::Ok();
}

Status SqliteTx::DeleteUser(UserId id) {
  static const std::string sql = "DELETE FROM users WHERE id = ?1";
  // The sessions go explicitly too, not only through ON DELETE CASCADE.
  if (Status st = DeleteSessionsOfUser(id); !st.ok()) return st;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, id);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "deleting a user");
  if (sqlite3_changes(c_.db()) == 0) return UserNotFound();
  return Status::Ok();
}

Result<std::vector<UserRecord>> SqliteTx::ListUsers(std::optional<OrgId> org) {
  static const std::string by_org =
      std::string("SELECT ") + kUserCols + " FROM users WHERE org_id = ?1 ORDER BY id";
  static const std::string provider =
      std::string("SELECT ") + kUserCols + " FROM users WHERE org_id IS NULL ORDER BY id";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(org ? by_org : provider);
  if (!s.ok()) return s.status();
  if (org) s->Int(1, *org);
  std::vector<UserRecord> users;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    auto u = rows::ReadUser(s->row());
    if (!u.ok()) return u.status();
    users.push_back(std::move(u).value());
  }
  if (rc != SQLITE_DONE) return Fail(rc, "listing users");
  return users;
}

Result<int64_t> SqliteTx::CountUsers() {
  static const std::string sql = "SELECT count(*) FROM users";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  int rc = s->Step();
  if (rc != SQLITE_ROW) return Fail(rc, "counting users");
  return s->ColInt(0);
}

Status SqliteTx::InsertSession(const SessionRecord& r) {
  static const std::string sql =
      std::string("INSERT INTO sessions (") + kSessionCols + ") VALUES (?1, ?2, ?3, ?4)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindSession(p, r);
  int rc = s->Step();
  if (rc != SQLITE_DONE) {
    return Fail(rc, "inserting a session", SessionExists(), UserNotFound());
  }
  return Status::Ok();
}

Result<SessionRecord> SqliteTx::GetSession(const std::string& id_hash) {
  static const std::string sql =
      std::string("SELECT ") + kSessionCols + " FROM sessions WHERE id_hash = ?1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Blob(1, id_hash);
  int rc = s->Step();
  if (rc == SQLITE_DONE) return SessionNotFound();
  if (rc != SQLITE_ROW) return Fail(rc, "reading a session");
  return rows::ReadSession(s->row());
}

Status SqliteTx::TouchSession(const std::string& id_hash, TimeMs last_seen) {
  static const std::string sql = "UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Blob(1, id_hash).Int(2, last_seen);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "updating a session");
  if (sqlite3_changes(c_.db()) == 0) return SessionNotFound();
  return Status::Ok();
}

Status SqliteTx::DeleteSession(const std::string& id_hash) {
  static const std::string sql = "DELETE FROM sessions WHERE id_hash = ?1";
  return Delete(sql, "deleting a session", [&](Stmt& s) { s.Blob(1, id_hash); });
}

Status SqliteTx::DeleteSessionsOfUser(UserId user) {
  static const std::string sql = "DELETE FROM sessions WHERE user_id = ?1";
  return Delete(sql, "deleting a user's sessions", [&](Stmt& s) { s.Int(1, user); });
}

Status SqliteTx::DeleteSessionsBefore(TimeMs last_seen_before) {
  static const std::string sql = "DELETE FROM sessions WHERE last_seen_at < ?1";
  return Delete(sql, "deleting old sessions", [&](Stmt& s) { s.Int(1, last_seen_before); });
}

Result<UsageRecord> SqliteTx::GetUsage(OrgId org, int64_t day) {
  static const std::string sql =
      std::string("SELECT ") + kUsageCols + " FROM usage WHERE org_id = ?1 AND day = ?2";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org).Int(2, day);
  int rc = s->Step();
  if (rc == SQLITE_DONE) {
    UsageRecord zero;
    zero.org_id = org;
    zero.day = day;
    return zero;
  }
  if (rc != SQLITE_ROW) return Fail(rc, "reading usage");
  return rows::ReadUsage(s->row());
}

Status SqliteTx::AddUsage(OrgId org, int64_t day, int64_t used_delta, int64_t over_quota_delta,
                          std::optional<TimeMs> last_used_at) {
  // In DO UPDATE, bare column names are the stored row and excluded.* the proposed one.
  static const std::string sql =
      std::string("INSERT INTO usage (") + kUsageCols +
      ") VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (org_id, day) DO UPDATE SET "
      "used = used + excluded.used, over_quota = over_quota + excluded.over_quota, "
      "last_used_at = coalesce(excluded.last_used_at, last_used_at)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org).Int(2, day).Int(3, used_delta).Int(4, over_quota_delta).OptInt(5, last_used_at);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "adding usage", std::nullopt, OrgNotFound());
  return SyncLatestUsage(org, day);
}

Status SqliteTx::SyncLatestUsage(OrgId org, int64_t day) {
  static const std::string sql =
      "UPDATE orgs SET (usage_day, used_today, over_quota_today) = (SELECT day, used, over_quota "
      "FROM usage WHERE org_id = ?1 AND day = ?2) WHERE id = ?1 AND usage_day <= ?2";
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org).Int(2, day);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "adding usage");
  return Status::Ok();
}

Result<std::optional<TimeMs>> SqliteTx::LastUsed(OrgId org) {
  static const std::string sql = "SELECT max(last_used_at) FROM usage WHERE org_id = ?1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org);
  int rc = s->Step();
  if (rc != SQLITE_ROW) return Fail(rc == SQLITE_DONE ? SQLITE_ERROR : rc, "reading last use");
  return s->ColOptInt(0);
}

Result<std::optional<ReportRecord>> SqliteTx::GetReport(OrgId org, const std::string& md5) {
  static const std::string sql =
      std::string("SELECT ") + kReportCols + " FROM reports WHERE org_id = ?1 AND md5 = ?2";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org).Text(2, md5);
  int rc = s->Step();
  if (rc == SQLITE_DONE) return std::optional<ReportRecord>();
  if (rc != SQLITE_ROW) return Fail(rc, "reading a report");
  return std::optional<ReportRecord>(rows::ReadReport(s->row()));
}

Status SqliteTx::PutReport(const ReportRecord& r) {
  // An upsert rather than INSERT OR REPLACE: it updates the row in place instead of deleting it.
  static const std::string sql =
      std::string("INSERT INTO reports (") + kReportCols +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (org_id, md5) DO UPDATE SET "
      "sha256 = excluded.sha256, status = excluded.status, report_json = excluded.report_json, "
      "created_at = excluded.created_at, updated_at = excluded.updated_at";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindReport(p, r);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "storing a report", std::nullopt, OrgNotFound());
  return Status::Ok();
}

Result<int64_t> SqliteTx::AppendAudit(const AuditRecord& r) {
  static const std::string last_sql = "SELECT chain FROM audit ORDER BY id DESC LIMIT 1";
  static const std::string sql =
      std::string("INSERT INTO audit (") + kAuditDataCols +
      ", prev_chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
  static const std::string chain_sql = "UPDATE audit SET chain = ?2 WHERE id = ?1";
  if (Status g = Guard(true); !g.ok()) return g;
  AuditAppendSteps steps;
  steps.read_last_chain = [&]() -> Result<std::string> {
    auto s = Prep(last_sql);
    if (!s.ok()) return s.status();
    int rc = s->Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail(rc, "reading the audit chain");
    return rc == SQLITE_ROW ? s->ColBlob(0) : std::string();
  };
  steps.insert = [&](const AuditRecord& rec) -> Result<int64_t> {
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindAuditData(p, rec).Blob(rec.prev_chain);
    if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "appending to the audit trail");
    return static_cast<int64_t>(sqlite3_last_insert_rowid(c_.db()));
  };
  steps.set_chain = [&](int64_t id, const std::string& chain) -> Status {
    auto s = Prep(chain_sql);
    if (!s.ok()) return s.status();
    s->Int(1, id).Blob(2, chain);
    if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "chaining the audit record");
    return Status::Ok();
  };
  return AppendChainedAudit(r, audit_key_, steps);
}

Result<std::vector<AuditRecord>> SqliteTx::ListAudit(const AuditFilter& f) {
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Bound(orgsql::BuildAuditList(f, orgsql::Dialect::kSqlite));
  if (!s.ok()) return s.status();
  std::vector<AuditRecord> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) out.push_back(rows::ReadAudit(s->row()));
  if (rc != SQLITE_DONE) return Fail(rc, "listing the audit trail");
  return out;
}

Result<std::optional<int64_t>> SqliteTx::ConsumeUsage(OrgId org, int64_t day, int64_t limit) {
  static const std::string sql =
      "INSERT INTO usage (org_id, day, used, over_quota) VALUES (?1, ?2, 1, 0) "
      "ON CONFLICT (org_id, day) DO UPDATE SET used = used + 1 WHERE used < ?3 RETURNING used";
  if (Status g = Guard(true); !g.ok()) return g;
  if (limit <= 0) return std::optional<int64_t>();
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org).Int(2, day).Int(3, limit);
  int rc = s->Step();
  if (rc == SQLITE_DONE) return std::optional<int64_t>();
  if (rc != SQLITE_ROW) return Fail(rc, "counting usage", std::nullopt, OrgNotFound());
  std::optional<int64_t> used = s->ColInt(0);
  if ((rc = s->Step()) != SQLITE_DONE) return Fail(rc, "counting usage");
  if (Status st = SyncLatestUsage(org, day); !st.ok()) return st;
  return used;
}

Result<int64_t> SqliteTx::PruneChanges(int64_t through) {
  static const std::string del = "DELETE FROM changes WHERE seq <= ?1";
  static const std::string floor =
      "UPDATE change_floor SET pruned_through = max(pruned_through, ?1)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(del);
  if (!s.ok()) return s.status();
  s->Int(1, through);
  if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "pruning the change log");
  const int64_t removed = sqlite3_changes(c_.db());
  if (removed == 0) return int64_t{0};
  auto f = Prep(floor);
  if (!f.ok()) return f.status();
  f->Int(1, through);
  if (int rc = f->Step(); rc != SQLITE_DONE) return Fail(rc, "pruning the change log");
  return removed;
}

Result<RateCheck> SqliteTx::ConsumeRate(OrgId org, int64_t per_second, int64_t per_hour,
                                        TimeMs now) {
  static const std::string sql =
      "INSERT INTO rate_windows (org_id, sec_window, in_sec, hour_window, in_hour) "
      "VALUES (?1, ?4, 1, ?5, 1) ON CONFLICT (org_id) DO UPDATE SET "
      "in_sec = CASE WHEN sec_window >= excluded.sec_window THEN in_sec + 1 ELSE 1 END, "
      "sec_window = max(sec_window, excluded.sec_window), "
      "in_hour = CASE WHEN hour_window >= excluded.hour_window THEN in_hour + 1 ELSE 1 END, "
      "hour_window = max(hour_window, excluded.hour_window) "
      "WHERE (sec_window < excluded.sec_window OR in_sec < ?2) "
      "AND (hour_window < excluded.hour_window OR in_hour < ?3) RETURNING 1";
  static const std::string why =
      "SELECT sec_window, in_sec, hour_window, in_hour FROM rate_windows WHERE org_id = ?1";
  if (Status g = Guard(true); !g.ok()) return g;
  RateCheck out;
  const int64_t sec = now >= 0 ? now / 1000 : 0, hour = now >= 0 ? now / 3'600'000 : 0;
  if (per_second > 0 && per_hour > 0) {
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org).Int(2, per_second).Int(3, per_hour).Int(4, sec).Int(5, hour);
    int rc = s->Step();
    if (rc == SQLITE_ROW) {
      if ((rc = s->Step()) != SQLITE_DONE) return Fail(rc, "counting the rate");
      out.admitted = true;
      return out;
    }
    if (rc != SQLITE_DONE) return Fail(rc, "counting the rate", std::nullopt, OrgNotFound());
  }
  auto s = Prep(why);
  if (!s.ok()) return s.status();
  s->Int(1, org);
  int rc = s->Step();
  if (rc == SQLITE_DONE) {  // a zero limit: refused by the per-second window
    out.reset_ms = 1000;
    return out;
  }
  if (rc != SQLITE_ROW) return Fail(rc, "reading the rate windows");
  const int64_t w_sec = s->ColInt(0), n_sec = s->ColInt(1), w_hour = s->ColInt(2);
  if (per_second <= 0 || (w_sec >= sec && n_sec >= per_second)) {
    out.reset_ms = std::max<int64_t>(1, (w_sec + 1) * 1000 - now);
  } else {
    out.hour = true;
    out.reset_ms = std::max<int64_t>(1, (w_hour + 1) * 3'600'000 - now);
  }
  return out;
}

Result<std::vector<ThrottleCount>> SqliteTx::ExchangeThrottle(
    const std::string& scope, const std::vector<ThrottleCount>& deltas, TimeMs now, TimeMs window,
    int max_rows) {
  static const std::string add =
      "INSERT INTO throttle_counts (scope, key, count, last) VALUES (?1, ?2, max(0, ?3), ?4) "
      "ON CONFLICT (scope, key) DO UPDATE SET count = max(0, CASE WHEN last <= ?5 "
      "THEN ?3 ELSE count + ?3 END), "
      "last = max(last, excluded.last)";
  if (Status g = Guard(true); !g.ok()) return g;
  const TimeMs stale = now - window;
  for (const ThrottleCount& d : deltas) {
    auto s = Prep(add);
    if (!s.ok()) return s.status();
    s->Text(1, scope).Text(2, d.key).Int(3, d.count).Int(4, d.last).Int(5, stale);
    if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "counting throttled attempts");
  }
  {
    auto s = Bound(orgsql::BuildThrottleExpire(scope, stale, orgsql::Dialect::kSqlite));
    if (!s.ok()) return s.status();
    if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "expiring throttle counts");
  }
  auto s = Bound(orgsql::BuildThrottleLive(scope, max_rows, orgsql::Dialect::kSqlite));
  if (!s.ok()) return s.status();
  std::vector<ThrottleCount> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) out.push_back({s->ColText(0), s->ColInt(1), s->ColInt(2)});
  if (rc != SQLITE_DONE) return Fail(rc, "reading throttle counts");
  return out;
}

Result<int64_t> SqliteTx::RecordChange(OrgId org) {
  static const std::string sql = "INSERT INTO changes (org_id, at) VALUES (?1, ?2)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org).Int(2, SystemClock()->now());
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "recording a change");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(c_.db()));
}

Status SqliteTx::Guard(bool mutating) {
  if (!poison_.ok()) return poison_;
  if (mutating && !writable_) {
    poison_ = MutatingInRead();
    return poison_;
  }
  return Status::Ok();
}

Result<Stmt> SqliteTx::Bound(const orgsql::Statement& st) {
  auto s = Prep(st.sql);
  if (!s.ok()) return s.status();
  for (size_t i = 0; i < st.params.size(); ++i) {
    const int n = static_cast<int>(i + 1);
    if (st.params[i].is_text)
      s->Text(n, st.params[i].s);
    else
      s->Int(n, st.params[i].i);
  }
  return s;
}

Result<Stmt> SqliteTx::Prep(const std::string& sql) {
  auto s = c_.Prepare(sql);
  if (!s.ok()) poison_ = s.status();
  return s;
}

Status SqliteTx::Fail(int rc, std::string_view what, std::optional<Status> on_unique,
                      std::optional<Status> on_fk) {
  bool tx_open = !sqlite3_get_autocommit(c_.db());
  if (tx_open && on_unique && IsUniqueViolation(rc)) return *on_unique;
  if (tx_open && on_fk && rc == SQLITE_CONSTRAINT_FOREIGNKEY) return *on_fk;
  Status st = SqlError(c_.db(), rc, what);
  if (!tx_open && !st.IsUnavailable()) {
    st = Status::Unavailable("store: " + std::string(what) +
                             " failed and the transaction was rolled back");
  }
  poison_ = st;
  return st;
}

// Runs fn in one transaction on `c` (BEGIN IMMEDIATE when writable, else a deferred BEGIN that
// takes its snapshot at the first read). Commits only if fn returned OK and the Tx is not
// poisoned; otherwise, and if fn throws, rolls back. A failed COMMIT is rolled back and reported
// as 503 STORE_UNAVAILABLE.
Status RunTx(Conn& c, bool writable, const std::string& audit_key,
             const std::function<Status(Tx&)>& fn) {
  RollbackIfOpen(c);  // heal a connection left in a transaction by a failed ROLLBACK
  if (int rc = c.Run(writable ? Conn::kBeginImmediate : Conn::kBegin); rc != SQLITE_OK) {
    RollbackIfOpen(c);
    return SqlError(c.db(), rc, "starting a transaction");
  }
  struct RollbackUnlessCommitted {
    Conn& c;
    bool committed = false;
    ~RollbackUnlessCommitted() {
      if (!committed) RollbackIfOpen(c);
    }
  } guard{c};

  SqliteTx tx(c, writable, audit_key);
  Status result = fn(tx);
  if (!result.ok()) return result;
  if (!tx.poison().ok()) return tx.poison();
  if (sqlite3_get_autocommit(c.db())) {
    return Status::Unavailable("store: the transaction was rolled back by the database");
  }
  int rc = c.Run(Conn::kCommit);
  if (rc != SQLITE_OK) {
    return Status::Unavailable(std::string("store: commit failed and was rolled back: ") +
                               sqlite3_errstr(rc));
  }
  guard.committed = true;
  return Status::Ok();
}
}  // namespace sandgate::store::sqlitedb
