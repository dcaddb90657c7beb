#include <sqlite3.h>

#include <algorithm>

#include "store/row_mapping.h"
#include "store/sqlite_tx.h"

namespace sandgate::store::sqlitedb {

Result<int64_t> SqliteTx::InsertWebhookEndpoint(const WebhookEndpoint& e) {
  static const std::string sql =
      "INSERT INTO webhook_endpoints (org_id, url, events, description, seed, old_seed, "
      "old_until, created_at, failing_since) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindEndpointData(p, e);
  int rc = s->Step();
  if (rc != SQLITE_DONE)
    return Fail(rc, "inserting a webhook endpoint", std::nullopt, OrgNotFound());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(c_.db()));
}

Result<WebhookEndpoint> SqliteTx::GetWebhookEndpoint(int64_t id) {
  static const std::string sql =
      std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints WHERE id = ?1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, id);
  int rc = s->Step();
  if (rc == SQLITE_DONE) return EndpointNotFound();
  if (rc != SQLITE_ROW) return Fail(rc, "reading a webhook endpoint");
  return rows::ReadEndpoint(s->row());
}

Result<std::vector<WebhookEndpoint>> SqliteTx::ListWebhookEndpoints(std::optional<OrgId> org) {
  static const std::string of_org = std::string("SELECT ") + kEndpointCols +
                                    " FROM webhook_endpoints WHERE org_id = ?1 ORDER BY id";
  static const std::string wide = std::string("SELECT ") + kEndpointCols +
                                  " FROM webhook_endpoints WHERE org_id IS NULL ORDER BY id";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(org ? of_org : wide);
  if (!s.ok()) return s.status();
  if (org) s->Int(1, *org);
  std::vector<WebhookEndpoint> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) out.push_back(rows::ReadEndpoint(s->row()));
  if (rc != SQLITE_DONE) return Fail(rc, "listing webhook endpoints");
  return out;
}

Status SqliteTx::UpdateWebhookEndpoint(const WebhookEndpoint& e) {
  static const std::string sql =
      "UPDATE webhook_endpoints SET url = ?2, events = ?3, description = ?4, seed = ?5, "
      "old_seed = ?6, old_until = ?7, failing_since = ?8 WHERE id = ?1";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindEndpointUpdate(p, e);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "updating a webhook endpoint");
  if (sqlite3_changes(c_.db()) == 0) return EndpointNotFound();
  return Status::Ok();
}

Status SqliteTx::DeleteWebhookEndpoint(int64_t id) {
  static const std::string msgs = "DELETE FROM webhook_outbox WHERE endpoint_id = ?1";
  static const std::string sql = "DELETE FROM webhook_endpoints WHERE id = ?1";
  if (Status g = Guard(true); !g.ok()) return g;
  {
    auto s = Prep(msgs);
    if (!s.ok()) return s.status();
    s->Int(1, id);
    if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "deleting webhook messages");
  }
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, id);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "deleting a webhook endpoint");
  if (sqlite3_changes(c_.db()) == 0) return EndpointNotFound();
  return Status::Ok();
}

Result<bool> SqliteTx::InsertOutbox(const OutboxMessage& m) {
  static const std::string sql =
      "INSERT OR IGNORE INTO webhook_outbox (endpoint_id, msg_id, event, payload, dedupe_key, "
      "created_at, state, attempts, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
      "?9)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindOutboxNew(p, m);
  int rc = s->Step();
  if (rc != SQLITE_DONE)
    return Fail(rc, "queueing a webhook message", std::nullopt, EndpointNotFound());
  return sqlite3_changes(c_.db()) > 0;
}

Result<std::vector<OutboxMessage>> SqliteTx::ClaimOutbox(TimeMs now, TimeMs claim_until,
                                                         int limit) {
  static const std::string sql =
      std::string("SELECT ") + kOutboxCols +
      " FROM webhook_outbox o WHERE o.state = 'pending' AND o.id = (SELECT min(p.id) FROM "
      "webhook_outbox p WHERE p.endpoint_id = o.endpoint_id AND p.state = 'pending') AND "
      "o.next_attempt_at <= ?1 AND o.claimed_until <= ?1 ORDER BY o.id LIMIT ?2";
  static const std::string claim = "UPDATE webhook_outbox SET claimed_until = ?2 WHERE id = ?1";
  if (Status g = Guard(true); !g.ok()) return g;
  std::vector<OutboxMessage> out;
  {
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, now).Int(2, std::max(1, limit));
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) out.push_back(rows::ReadOutbox(s->row()));
    if (rc != SQLITE_DONE) return Fail(rc, "claiming webhook messages");
  }
  for (OutboxMessage& m : out) {
    auto s = Prep(claim);
    if (!s.ok()) return s.status();
    s->Int(1, m.id).Int(2, claim_until);
    if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "claiming a webhook message");
    m.claimed_until = claim_until;
  }
  return out;
}

Status SqliteTx::UpdateOutbox(const OutboxMessage& m) {
  static const std::string sql =
      "UPDATE webhook_outbox SET state = ?2, attempts = ?3, next_attempt_at = ?4, "
      "claimed_until = ?5, last_status = ?6, last_error = ?7, last_latency_ms = ?8, "
      "delivered_at = ?9 WHERE id = ?1";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindOutboxUpdate(p, m);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "updating a webhook message");
  if (sqlite3_changes(c_.db()) == 0) return OutboxNotFound();
  return Status::Ok();
}

Result<std::vector<OutboxMessage>> SqliteTx::ListOutbox(int64_t endpoint_id, int limit) {
  static const std::string sql = std::string("SELECT ") + kOutboxCols +
                                 " FROM webhook_outbox WHERE endpoint_id = ?1 ORDER BY id "
                                 "DESC LIMIT ?2";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, endpoint_id).Int(2, std::max(1, limit));
  std::vector<OutboxMessage> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) out.push_back(rows::ReadOutbox(s->row()));
  if (rc != SQLITE_DONE) return Fail(rc, "listing webhook messages");
  return out;
}

Result<bool> SqliteTx::OutboxDue(TimeMs now) {
  static const std::string sql =
      "SELECT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.state = 'pending' AND "
      "o.next_attempt_at <= ?1 AND o.claimed_until <= ?1 AND o.id = (SELECT min(p.id) FROM "
      "webhook_outbox p WHERE p.endpoint_id = o.endpoint_id AND p.state = 'pending'))";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, now);
  int rc = s->Step();
  if (rc != SQLITE_ROW) return Fail(rc, "checking the webhook outbox");
  return s->ColInt(0) != 0;
}

Result<int64_t> SqliteTx::ReleaseOutboxClaims() {
  static const std::string sql =
      "UPDATE webhook_outbox SET claimed_until = 0 WHERE claimed_until <> 0 AND state = "
      "'pending'";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "releasing webhook claims");
  return static_cast<int64_t>(sqlite3_changes(c_.db()));
}

Result<LeakRecord> SqliteTx::GetLeak(OrgId org) {
  static const std::string sql =
      std::string("SELECT ") + kLeakCols + " FROM leak_reports WHERE org_id = ?1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  s->Int(1, org);
  int rc = s->Step();
  if (rc == SQLITE_DONE) {
    LeakRecord none;
    none.org_id = org;
    return none;
  }
  if (rc != SQLITE_ROW) return Fail(rc, "reading the leak policy");
  return rows::ReadLeak(s->row());
}

Status SqliteTx::PutLeak(const LeakRecord& r) {
  static const std::string sql =
      std::string("INSERT INTO leak_reports (") + kLeakCols +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (org_id) DO UPDATE SET "
      "policy = excluded.policy, reported_at = excluded.reported_at, url = excluded.url, "
      "source = excluded.source, action = excluded.action, token_last4 = excluded.token_last4";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindLeak(p, r);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "storing the leak policy", std::nullopt, OrgNotFound());
  return Status::Ok();
}

Status SqliteTx::ForEachLeak(const std::function<Status(const LeakRecord&)>& fn) {
  static const std::string sql =
      std::string("SELECT ") + kLeakCols + " FROM leak_reports ORDER BY org_id";
  return Scan(sql, "exporting leak reports", [&](const Stmt& s) -> Status {
    auto r = rows::ReadLeak(s.row());
    return r.ok() ? fn(*r) : r.status();
  });
}

Status SqliteTx::ForEachOrg(const std::function<Status(const OrgRecord&)>& fn) {
  static const std::string sql = std::string("SELECT ") + kOrgCols + " FROM orgs ORDER BY id";
  return Scan(sql, "exporting organizations", [&](const Stmt& s) -> Status {
    auto o = rows::ReadOrg(s.row(), 0);
    return o.ok() ? fn(*o) : o.status();
  });
}

Status SqliteTx::ForEachOrgEndingBy(TimeMs until,
                                    const std::function<Status(const OrgRecord&)>& fn) {
  static const std::string sql = std::string("SELECT ") + kOrgCols +
                                 " FROM orgs WHERE subscription = ?1 AND ends_at <= ?2 ORDER BY id";
  return Scan(
      sql, "reading the subscriptions that end",
      [&](Stmt& s) { s.Text(1, domain::ToString(domain::Subscription::kActive)).Int(2, until); },
      [&](const Stmt& s) -> Status {
        auto o = rows::ReadOrg(s.row(), 0);
        return o.ok() ? fn(*o) : o.status();
      });
}

Status SqliteTx::ForEachUser(const std::function<Status(const UserRecord&)>& fn) {
  static const std::string sql = std::string("SELECT ") + kUserCols + " FROM users ORDER BY id";
  return Scan(sql, "exporting users", [&](const Stmt& s) -> Status {
    auto u = rows::ReadUser(s.row());
    return u.ok() ? fn(*u) : u.status();
  });
}

Status SqliteTx::ForEachSession(const std::function<Status(const SessionRecord&)>& fn) {
  static const std::string sql =
      std::string("SELECT ") + kSessionCols + " FROM sessions ORDER BY id_hash";
  return Scan(sql, "exporting sessions",
              [&](const Stmt& s) { return fn(rows::ReadSession(s.row())); });
}

Status SqliteTx::ForEachUsage(const std::function<Status(const UsageRecord&)>& fn) {
  static const std::string sql =
      std::string("SELECT ") + kUsageCols + " FROM usage ORDER BY org_id DESC, day DESC";
  return Scan(sql, "exporting usage", [&](const Stmt& s) { return fn(rows::ReadUsage(s.row())); });
}

Status SqliteTx::ForEachReport(const std::function<Status(const ReportRecord&)>& fn) {
  static const std::string sql =
      std::string("SELECT ") + kReportCols + " FROM reports ORDER BY org_id, md5";
  return Scan(sql, "exporting reports",
              [&](const Stmt& s) { return fn(rows::ReadReport(s.row())); });
}

Status SqliteTx::ForEachAudit(const std::function<Status(const AuditRecord&)>& fn) {
  static const std::string sql = std::string("SELECT ") + kAuditCols + " FROM audit ORDER BY id";
  return Scan(sql, "exporting the audit trail",
              [&](const Stmt& s) { return fn(rows::ReadAudit(s.row())); });
}

Status SqliteTx::ForEachWebhookEndpoint(const std::function<Status(const WebhookEndpoint&)>& fn) {
  static const std::string sql =
      std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints ORDER BY id";
  return Scan(sql, "exporting webhook endpoints",
              [&](const Stmt& s) { return fn(rows::ReadEndpoint(s.row())); });
}

Status SqliteTx::ForEachOutbox(const std::function<Status(const OutboxMessage&)>& fn) {
  static const std::string sql =
      std::string("SELECT ") + kOutboxCols + " FROM webhook_outbox ORDER BY id";
  return Scan(sql, "exporting the webhook outbox",
              [&](const Stmt& s) { return fn(rows::ReadOutbox(s.row())); });
}

Status SqliteTx::RestoreWebhookEndpoint(const WebhookEndpoint& e) {
  static const std::string sql = std::string("INSERT INTO webhook_endpoints (") + kEndpointCols +
                                 ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindEndpointData(p.Int(e.id), e);
  int rc = s->Step();
  if (rc != SQLITE_DONE)
    return Fail(rc, "restoring a webhook endpoint", EndpointExists(), OrgNotFound());
  return Status::Ok();
}

Status SqliteTx::RestoreOutbox(const OutboxMessage& m) {
  static const std::string sql =
      std::string("INSERT INTO webhook_outbox (") + kOutboxCols +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11, ?12, ?13, ?14)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindOutboxNew(p.Int(m.id), m);
  rows::BindOutboxOutcome(p, m);
  int rc = s->Step();
  if (rc != SQLITE_DONE)
    return Fail(rc, "restoring a webhook message", OutboxExists(), EndpointNotFound());
  return Status::Ok();
}

Result<std::optional<SupportContactRecord>> SqliteTx::GetSupportContact() {
  static const std::string sql =
      std::string("SELECT ") + kSupportContactCols + " FROM support_contact WHERE id = 1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  int rc = s->Step();
  if (rc == SQLITE_DONE) return std::optional<SupportContactRecord>();
  if (rc != SQLITE_ROW) return Fail(rc, "reading the support contact");
  return std::optional<SupportContactRecord>(rows::ReadSupportContact(s->row()));
}

Status SqliteTx::PutSupportContact(const SupportContactRecord& c) {
  static const std::string sql =
      "INSERT OR REPLACE INTO support_contact (id, name, email, url, phone, updated_at, "
      "updated_by) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindSupportContact(p, c);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "saving the support contact");
  return Status::Ok();
}

Status SqliteTx::DeleteSupportContact() {
  static const std::string sql = "DELETE FROM support_contact";
  return Delete(sql, "removing the support contact", [](Stmt&) {});
}

Status SqliteTx::RestoreOrg(const OrgRecord& org) {
  static const std::string sql =
      std::string("INSERT INTO orgs (") + kOrgDataCols +
      ", id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindOrgData(p, org).Int(org.id);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "restoring an organization", OrgExists());
  return Status::Ok();
}

Status SqliteTx::RestoreUser(const UserRecord& u) {
  static const std::string sql =
      std::string("INSERT INTO users (") + kUserDataCols + ", id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindUserData(p, u).Int(u.id);
  int rc = s->Step();
  if (rc != SQLITE_DONE) return Fail(rc, "restoring a user", UserExists(), OrgNotFound());
  return Status::Ok();
}

Status SqliteTx::RestoreAudit(const AuditRecord& r) {
  static const std::string sql =
      std::string("INSERT INTO audit (id, ") + kAuditDataCols +
      ", prev_chain, chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindAuditData(p.Int(r.id), r).OptBlob(r.prev_chain).OptBlob(r.chain);
  int rc = s->Step();
  if (rc != SQLITE_DONE) {
    return Fail(rc, "restoring an audit record", AuditExists());
  }
  return Status::Ok();
}

Status SqliteTx::RestoreUsage(const UsageRecord& u) {
  static const std::string sql =
      std::string("INSERT INTO usage (") + kUsageCols + ") VALUES (?1, ?2, ?3, ?4, ?5)";
  if (Status g = Guard(true); !g.ok()) return g;
  auto s = Prep(sql);
  if (!s.ok()) return s.status();
  auto p = s->Params();
  rows::BindUsage(p, u);
  int rc = s->Step();
  if (rc != SQLITE_DONE) {
    return Fail(rc, "restoring usage", UsageExists(), OrgNotFound());
  }
  return SyncLatestUsage(u.org_id, u.day);
}

}  // namespace sandgate::store::sqlitedb
