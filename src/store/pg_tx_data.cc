#include <algorithm>

#include "store/pg_schema.h"
#include "store/pg_tx.h"

namespace sandgate::store::pgdb {

Result<int64_t> PgTx::InsertWebhookEndpoint(const WebhookEndpoint& e) {
  static const std::string sql =
      "INSERT INTO webhook_endpoints (org_id, url, events, description, seed, old_seed, "
      "old_until, created_at, failing_since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
      "RETURNING id";
  if (Status g = Guard(true); !g.ok()) return g;
  Params p;
  rows::BindEndpointData(p, e);
  auto r = Handled(sql, p, "inserting a webhook endpoint", std::nullopt, OrgNotFound());
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<WebhookEndpoint> PgTx::GetWebhookEndpoint(int64_t id) {
  static const std::string sql =
      std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints WHERE id = $1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, Params().Int(id), "reading a webhook endpoint");
  if (!r.ok()) return r.status();
  if (r->size() == 0) return EndpointNotFound();
  return rows::ReadEndpoint(r->Row(0));
}

Result<std::vector<WebhookEndpoint>> PgTx::ListWebhookEndpoints(std::optional<OrgId> org) {
  static const std::string of_org = std::string("SELECT ") + kEndpointCols +
                                    " FROM webhook_endpoints WHERE org_id = $1 ORDER BY id";
  static const std::string wide = std::string("SELECT ") + kEndpointCols +
                                  " FROM webhook_endpoints WHERE org_id IS NULL ORDER BY id";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = org ? Run(of_org, Params().Int(*org), "listing webhook endpoints")
               : Run(wide, Params(), "listing webhook endpoints");
  if (!r.ok()) return r.status();
  std::vector<WebhookEndpoint> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(rows::ReadEndpoint(r->Row(i)));
  return out;
}

Status PgTx::UpdateWebhookEndpoint(const WebhookEndpoint& e) {
  static const std::string sql =
      "UPDATE webhook_endpoints SET url = $2, events = $3, description = $4, seed = $5, "
      "old_seed = $6, old_until = $7, failing_since = $8 WHERE id = $1";
  if (Status g = Guard(true); !g.ok()) return g;
  Params p;
  rows::BindEndpointUpdate(p, e);
  auto r = Run(sql, p, "updating a webhook endpoint");
  if (!r.ok()) return r.status();
  if (r->affected() == 0) return EndpointNotFound();
  return Status::Ok();
}

Status PgTx::DeleteWebhookEndpoint(int64_t id) {
  static const std::string msgs = "DELETE FROM webhook_outbox WHERE endpoint_id = $1";
  static const std::string sql = "DELETE FROM webhook_endpoints WHERE id = $1";
  if (Status g = Guard(true); !g.ok()) return g;
  if (auto r = Run(msgs, Params().Int(id), "deleting webhook messages"); !r.ok()) return r.status();
  auto r = Run(sql, Params().Int(id), "deleting a webhook endpoint");
  if (!r.ok()) return r.status();
  if (r->affected() == 0) return EndpointNotFound();
  return Status::Ok();
}

Result<bool> PgTx::InsertOutbox(const OutboxMessage& m) {
  static const std::string sql =
      "INSERT INTO webhook_outbox (endpoint_id, msg_id, event, payload, dedupe_key, "
      "created_at, state, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
      "$9) ON CONFLICT (endpoint_id, dedupe_key) WHERE dedupe_key <> '' DO NOTHING";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Handled(sql, rows::BindOutboxNew(Params().Ref(), m), "queueing a webhook message",
                   std::nullopt, EndpointNotFound());
  if (!r.ok()) return r.status();
  return r->affected() > 0;
}

Result<std::vector<OutboxMessage>> PgTx::ClaimOutbox(TimeMs now, TimeMs claim_until, int limit) {
  // Several nodes: a row another node is claiming is skipped, not waited for.
  static const std::string sql =
      std::string(
          "UPDATE webhook_outbox SET claimed_until = $3 WHERE id IN (SELECT o.id FROM "
          "webhook_outbox o WHERE o.state = 'pending' AND o.id = (SELECT min(p.id) "
          "FROM webhook_outbox p WHERE p.endpoint_id = o.endpoint_id AND p.state = "
          "'pending') AND o.next_attempt_at <= $1 AND o.claimed_until <= $1 ORDER BY "
          "o.id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING ") +
      kOutboxCols;
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Run(sql, Params().Int(now).Int(std::max(1, limit)).Int(claim_until),
               "claiming webhook messages");
  if (!r.ok()) return r.status();
  std::vector<OutboxMessage> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(rows::ReadOutbox(r->Row(i)));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

Status PgTx::UpdateOutbox(const OutboxMessage& m) {
  static const std::string sql =
      "UPDATE webhook_outbox SET state = $2, attempts = $3, next_attempt_at = $4, "
      "claimed_until = $5, last_status = $6, last_error = $7, last_latency_ms = $8, "
      "delivered_at = $9 WHERE id = $1";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Run(sql, rows::BindOutboxUpdate(Params().Ref(), m), "updating a webhook message");
  if (!r.ok()) return r.status();
  if (r->affected() == 0) return OutboxNotFound();
  return Status::Ok();
}

Result<std::vector<OutboxMessage>> PgTx::ListOutbox(int64_t endpoint_id, int limit) {
  static const std::string sql = std::string("SELECT ") + kOutboxCols +
                                 " FROM webhook_outbox WHERE endpoint_id = $1 ORDER BY id "
                                 "DESC LIMIT $2";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, Params().Int(endpoint_id).Int(std::max(1, limit)), "listing webhook messages");
  if (!r.ok()) return r.status();
  std::vector<OutboxMessage> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(rows::ReadOutbox(r->Row(i)));
  return out;
}

Result<bool> PgTx::OutboxDue(TimeMs now) {
  static const std::string sql =
      "SELECT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.state = 'pending' AND "
      "o.next_attempt_at <= $1 AND o.claimed_until <= $1 AND o.id = (SELECT min(p.id) FROM "
      "webhook_outbox p WHERE p.endpoint_id = o.endpoint_id AND p.state = 'pending'))";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, Params().Int(now), "checking the webhook outbox");
  if (!r.ok()) return r.status();
  return r->Bool(0, 0);
}

Result<int64_t> PgTx::ReleaseOutboxClaims() {
  static const std::string sql =
      "UPDATE webhook_outbox SET claimed_until = 0 WHERE claimed_until <> 0 AND state = "
      "'pending'";
  if (Status g = Guard(true); !g.ok()) return g;
  auto r = Run(sql, Params(), "releasing webhook claims");
  if (!r.ok()) return r.status();
  return r->affected();
}

Status PgTx::ForEachOrg(const std::function<Status(const OrgRecord&)>& fn) {
  static const std::string sql =
      std::string("SELECT ") + kOrgCols + " FROM orgs WHERE id > $1 ORDER BY id LIMIT 5000";
  return Pages(sql, "exporting organizations", [&](const Rows& r, int i) -> Result<int64_t> {
    auto o = rows::ReadOrg(r.Row(i), 0);
    if (!o.ok()) return o.status();
    if (Status st = fn(*o); !st.ok()) return st;
    return o->id;
  });
}

Status PgTx::ForEachOrgEndingBy(TimeMs until, const std::function<Status(const OrgRecord&)>& fn) {
  static const std::string sql = std::string("SELECT ") + kOrgCols +
                                 " FROM orgs WHERE subscription = $1 AND ends_at <= $2 ORDER BY id";
  return All(sql, Params().Text(domain::ToString(domain::Subscription::kActive)).Int(until),
             "reading the subscriptions that end", [&](const Rows& r, int i) -> Status {
               auto o = rows::ReadOrg(r.Row(i), 0);
               return o.ok() ? fn(*o) : o.status();
             });
}

Status PgTx::ForEachUser(const std::function<Status(const UserRecord&)>& fn) {
  static const std::string sql =
      std::string("SELECT ") + kUserCols + " FROM users WHERE id > $1 ORDER BY id LIMIT 5000";
  return Pages(sql, "exporting users", [&](const Rows& r, int i) -> Result<int64_t> {
    auto u = rows::ReadUser(r.Row(i));
    if (!u.ok()) return u.status();
    if (Status st = fn(*u); !st.ok()) return st;
    return u->id;
  });
}

Status PgTx::ForEachSession(const std::function<Status(const SessionRecord&)>& fn) {
  return All(std::string("SELECT ") + kSessionCols + " FROM sessions ORDER BY id_hash",
             "exporting sessions",
             [&](const Rows& r, int i) { return fn(rows::ReadSession(r.Row(i))); });
}

Status PgTx::ForEachUsage(const std::function<Status(const UsageRecord&)>& fn) {
  return All(std::string("SELECT ") + kUsageCols + " FROM usage ORDER BY org_id DESC, day DESC",
             "exporting usage",
             [&](const Rows& r, int i) { return fn(rows::ReadUsage(r.Row(i))); });
}

Result<LeakRecord> PgTx::GetLeak(OrgId org) {
  static const std::string sql =
      std::string("SELECT ") + kLeakCols + " FROM leak_reports WHERE org_id = $1";
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(sql, Params().Int(org), "reading the leak policy");
  if (!r.ok()) return r.status();
  if (r->size() == 0) {
    LeakRecord none;
    none.org_id = org;
    return none;
  }
  return rows::ReadLeak(r->Row(0));
}

Status PgTx::PutLeak(const LeakRecord& x) {
  cache_change_ = true;  // the token page shows the report
  static const std::string sql =
      std::string("INSERT INTO leak_reports (") + kLeakCols +
      ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id) DO UPDATE SET "
      "policy = excluded.policy, reported_at = excluded.reported_at, url = excluded.url, "
      "source = excluded.source, action = excluded.action, token_last4 = excluded.token_last4";
  if (Status g = Guard(true); !g.ok()) return g;
  return Handled(sql, rows::BindLeak(Params().Ref(), x), "storing the leak policy", std::nullopt,
                 OrgNotFound())
      .status();
}

Status PgTx::ForEachLeak(const std::function<Status(const LeakRecord&)>& fn) {
  return All(std::string("SELECT ") + kLeakCols + " FROM leak_reports ORDER BY org_id",
             "exporting leak reports", [&](const Rows& r, int i) -> Status {
               auto x = rows::ReadLeak(r.Row(i));
               return x.ok() ? fn(*x) : x.status();
             });
}

Status PgTx::ForEachReport(const std::function<Status(const ReportRecord&)>& fn) {
  return All(std::string("SELECT ") + kReportCols + " FROM reports ORDER BY org_id, md5",
             "exporting reports",
             [&](const Rows& r, int i) { return fn(rows::ReadReport(r.Row(i))); });
}

Status PgTx::ForEachAudit(const std::function<Status(const AuditRecord&)>& fn) {
  static const std::string sql =
      std::string("SELECT ") + kAuditCols + " FROM audit WHERE id > $1 ORDER BY id LIMIT 5000";
  return Pages(sql, "exporting the audit trail", [&](const Rows& r, int i) -> Result<int64_t> {
    AuditRecord a = rows::ReadAudit(r.Row(i));
    if (Status st = fn(a); !st.ok()) return st;
    return a.id;
  });
}

Status PgTx::ForEachWebhookEndpoint(const std::function<Status(const WebhookEndpoint&)>& fn) {
  return All(std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints ORDER BY id",
             "exporting webhook endpoints",
             [&](const Rows& r, int i) { return fn(rows::ReadEndpoint(r.Row(i))); });
}

Status PgTx::ForEachOutbox(const std::function<Status(const OutboxMessage&)>& fn) {
  static const std::string sql = std::string("SELECT ") + kOutboxCols +
                                 " FROM webhook_outbox WHERE id > $1 ORDER BY id LIMIT 5000";
  return Pages(sql, "exporting the webhook outbox", [&](const Rows& r, int i) -> Result<int64_t> {
    OutboxMessage m = rows::ReadOutbox(r.Row(i));
    if (Status st = fn(m); !st.ok()) return st;
    return m.id;
  });
}

Status PgTx::RestoreWebhookEndpoint(const WebhookEndpoint& e) {
  static const std::string sql =
      std::string("WITH ins AS (INSERT INTO webhook_endpoints (") + kEndpointCols +
      ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id) "
      "SELECT setval(pg_get_serial_sequence('webhook_endpoints', 'id'), "
      "greatest((SELECT id FROM ins), (SELECT last_value FROM webhook_endpoints_id_seq)))";
  if (Status g = Guard(true); !g.ok()) return g;
  Params p;
  rows::BindEndpointData(p.Int(e.id), e);
  return Handled(sql, p, "restoring a webhook endpoint", EndpointExists(), OrgNotFound()).status();
}

Status PgTx::RestoreOutbox(const OutboxMessage& m) {
  static const std::string sql =
      std::string("WITH ins AS (INSERT INTO webhook_outbox (") + kOutboxCols +
      ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13, $14) RETURNING id) "
      "SELECT setval(pg_get_serial_sequence('webhook_outbox', 'id'), "
      "greatest((SELECT id FROM ins), (SELECT last_value FROM webhook_outbox_id_seq)))";
  if (Status g = Guard(true); !g.ok()) return g;
  return Handled(sql, rows::BindOutboxOutcome(rows::BindOutboxNew(Params().Int(m.id), m), m),
                 "restoring a webhook message", OutboxExists(), EndpointNotFound())
      .status();
}

Status PgTx::RestoreOrg(const OrgRecord& org) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql =
      std::string("WITH ins AS (INSERT INTO orgs (") + kOrgDataCols +
      ", id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id) "
      "SELECT setval(pg_get_serial_sequence('orgs', 'id'), "
      "greatest((SELECT id FROM ins), (SELECT last_value FROM orgs_id_seq)))";
  if (Status g = Guard(true); !g.ok()) return g;
  return Handled(sql, rows::BindOrgData(Params().Ref(), org).Int(org.id),
                 "restoring an organization", OrgExists())
      .status();
}

Status PgTx::RestoreUser(const UserRecord& u) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql =
      std::string("WITH ins AS (INSERT INTO users (") + kUserDataCols +
      ", id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id) "
      "SELECT setval(pg_get_serial_sequence('users', 'id'), "
      "greatest((SELECT id FROM ins), (SELECT last_value FROM users_id_seq)))";
  if (Status g = Guard(true); !g.ok()) return g;
  return Handled(sql, rows::BindUserData(Params().Ref(), u).Int(u.id), "restoring a user",
                 UserExists(), OrgNotFound())
      .status();
}

Status PgTx::RestoreAudit(const AuditRecord& a) {
  static const std::string sql =
      std::string("WITH ins AS (INSERT INTO audit (") + kAuditDataCols +
      ", id, prev_chain, chain) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
      "RETURNING id) "
      "SELECT setval(pg_get_serial_sequence('audit', 'id'), "
      "greatest((SELECT id FROM ins), (SELECT last_value FROM audit_id_seq)))";
  if (Status g = Guard(true); !g.ok()) return g;
  Params p;
  rows::BindAuditData(p, a).Int(a.id).OptBlob(a.prev_chain).OptBlob(a.chain);
  return Handled(sql, p, "restoring an audit record", AuditExists()).status();
}

Result<std::optional<SupportContactRecord>> PgTx::GetSupportContact() {
  if (Status g = Guard(false); !g.ok()) return g;
  auto r = Run(std::string("SELECT ") + kSupportContactCols + " FROM support_contact WHERE id = 1",
               Params(), "reading the support contact");
  if (!r.ok()) return r.status();
  if (r->size() == 0) return std::optional<SupportContactRecord>();
  return std::optional<SupportContactRecord>(rows::ReadSupportContact(r->Row(0)));
}

Status PgTx::PutSupportContact(const SupportContactRecord& c) {
  cache_change_ = true;  // the token page shows it
  static const std::string sql =
      "INSERT INTO support_contact (id, name, email, url, phone, updated_at, updated_by) "
      "VALUES (1, $1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
      "email = excluded.email, url = excluded.url, phone = excluded.phone, "
      "updated_at = excluded.updated_at, updated_by = excluded.updated_by";
  if (Status g = Guard(true); !g.ok()) return g;
  return Run(sql, rows::BindSupportContact(Params().Ref(), c), "saving the support contact")
      .status();
}

Status PgTx::DeleteSupportContact() {
  cache_change_ = true;  // the token page shows it
  if (Status g = Guard(true); !g.ok()) return g;
  return Run("DELETE FROM support_contact", Params(), "removing the support contact").status();
}

Status PgTx::RestoreUsage(const UsageRecord& u) {
  cache_change_ = true;  // read by the per-node caches (ChangeStamp)
  static const std::string sql =
      std::string("WITH u AS (INSERT INTO usage (") + kUsageCols +
      ") VALUES ($1, $2, $3, $4, $5) RETURNING org_id, day, used, over_quota) " + kSyncLatestUsage;
  if (Status g = Guard(true); !g.ok()) return g;
  return Handled(sql, rows::BindUsage(Params().Ref(), u), "restoring usage", UsageExists(),
                 OrgNotFound())
      .status();
}

}  // namespace sandgate::store::pgdb
