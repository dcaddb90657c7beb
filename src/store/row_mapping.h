// Internal to the store backends: how a record maps to a row and back, written once for both
// drivers. Column orders are row_layout.h's.
//
// A RowReader is one result row: column c (0-based) as an integer, an optional integer (NULL:
// nullopt), text, a blob (bytes; NULL: empty) or a boolean. A ParamSink takes statement
// parameters in placeholder order (1, 2, ...): integers, optional integers (nullopt: NULL), text,
// blobs (OptBlob: empty binds NULL) and booleans. SQLite's statement and PostgreSQL's result rows
// and parameter lists are adapted to these in sqlite_conn.h and pg_conn.h.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "store/row_layout.h"
#include "store/store.h"

namespace sandgate::store::rows {

template <typename R>
concept RowReader = requires(const R& r, int c) {
  { r.Int(c) } -> std::convertible_to<int64_t>;
  { r.OptInt(c) } -> std::convertible_to<std::optional<int64_t>>;
  { r.Text(c) } -> std::convertible_to<std::string>;
  { r.Blob(c) } -> std::convertible_to<std::string>;
  { r.Bool(c) } -> std::convertible_to<bool>;
};

template <typename P>
concept ParamSink = requires(P& p, int64_t i, std::optional<int64_t> oi, std::string_view s) {
  p.Int(i);
  p.OptInt(oi);
  p.Text(s);
  p.Blob(s);
  p.OptBlob(s);
  p.Bool(true);
};

// kOrgCols from column `c` on.
template <RowReader R>
Result<OrgRecord> ReadOrg(const R& r, int c = 0) {
  OrgRecord o;
  o.id = r.Int(c + 0);
  o.name = r.Text(c + 1);
  o.created_at = r.Int(c + 2);
  auto sub = layout::ParseSubscription(r.Text(c + 3));
  if (!sub) return layout::BadValue("orgs.subscription");
  o.subscription = *sub;
  o.ends_at = r.OptInt(c + 4);
  o.provider_disabled = r.Bool(c + 5);
  auto reason = domain::ParseDisableReason(r.Text(c + 6));
  if (!reason) return layout::BadValue("orgs.disable_reason");
  o.disable_reason = *reason;
  o.disable_note = r.Text(c + 7);
  o.disabled_at = r.OptInt(c + 8);
  o.disabled_by = r.Text(c + 9);
  o.daily_allowance = r.Int(c + 10);
  o.rate_per_second = r.Int(c + 11);
  o.rate_per_hour = r.Int(c + 12);
  o.disable_threshold = r.Int(c + 13);
  return o;
}

// Every OrgRecord field but the id, in kOrgDataCols order (13 parameters).
template <ParamSink P>
P& BindOrgData(P& p, const OrgRecord& o) {
  p.Text(o.name);
  p.Int(o.created_at);
  p.Text(domain::ToString(o.subscription));
  p.OptInt(o.ends_at);
  p.Bool(o.provider_disabled);
  p.Text(domain::ToString(o.disable_reason));
  p.Text(o.disable_note);
  p.OptInt(o.disabled_at);
  p.Text(o.disabled_by);
  p.Int(o.daily_allowance);
  p.Int(o.rate_per_second);
  p.Int(o.rate_per_hour);
  p.Int(o.disable_threshold);
  return p;
}

// kOrgCols, has_token, used today, over quota today.
template <RowReader R>
Result<OrgRow> ReadOrgRow(const R& r) {
  auto org = ReadOrg(r, 0);
  if (!org.ok()) return org.status();
  OrgRow row;
  row.org = std::move(org).value();
  row.has_token = r.Bool(14);
  row.used_today = r.Int(15);
  row.over_quota_today = r.Int(16);
  return row;
}

// kTokenCols from column `c` on.
template <RowReader R>
TokenRecord ReadToken(const R& r, int c = 0) {
  TokenRecord t;
  t.org_id = r.Int(c + 0);
  t.lookup_hash = r.Blob(c + 1);
  t.sealed = r.Blob(c + 2);
  t.key_id = r.Text(c + 3);
  t.last4 = r.Text(c + 4);
  t.created_at = r.Int(c + 5);
  t.last_modified_by = r.Text(c + 6);
  t.last_modified_on = r.Int(c + 7);
  return t;
}

// kTokenCols order (8 parameters).
template <ParamSink P>
P& BindToken(P& p, const TokenRecord& t) {
  p.Int(t.org_id);
  p.Blob(t.lookup_hash);
  p.Blob(t.sealed);
  p.Text(t.key_id);
  p.Text(t.last4);
  p.Int(t.created_at);
  p.Text(t.last_modified_by);
  p.Int(t.last_modified_on);
  return p;
}

// kUserCols.
template <RowReader R>
Result<UserRecord> ReadUser(const R& r) {
  UserRecord u;
  u.id = r.Int(0);
  u.username = r.Text(1);
  u.password_hash = r.Text(2);
  auto role = domain::ParseRole(r.Text(3));
  if (!role) return layout::BadValue("users.role");
  u.role = *role;
  u.org_id = r.OptInt(4);
  u.created_at = r.Int(5);
  return u;
}

// Every UserRecord field but the id, in kUserDataCols order (5 parameters).
template <ParamSink P>
P& BindUserData(P& p, const UserRecord& u) {
  p.Text(u.username);
  p.Text(u.password_hash);
  p.Text(domain::ToString(u.role));
  p.OptInt(u.org_id);
  p.Int(u.created_at);
  return p;
}

// kSessionCols.
template <RowReader R>
SessionRecord ReadSession(const R& r) {
  SessionRecord s;
  s.id_hash = r.Blob(0);
  s.user_id = r.Int(1);
  s.created_at = r.Int(2);
  s.last_seen_at = r.Int(3);
  return s;
}

template <ParamSink P>
P& BindSession(P& p, const SessionRecord& s) {
  p.Blob(s.id_hash);
  p.Int(s.user_id);
  p.Int(s.created_at);
  p.Int(s.last_seen_at);
  return p;
}

// kAuditCols.
template <RowReader R>
AuditRecord ReadAudit(const R& r) {
  AuditRecord a;
  a.id = r.Int(0);
  a.ts = r.Int(1);
  a.actor = r.Text(2);
  a.actor_role = r.Text(3);
  a.org_id = r.OptInt(4);
  a.action = r.Text(5);
  a.outcome = r.Text(6);
  a.client_addr = r.Text(7);
  a.token_fp = r.Text(8);
  a.detail = r.Text(9);
  a.prev_chain = r.Blob(10);
  a.chain = r.Blob(11);
  a.request_id = r.Text(12);
  return a;
}

// kAuditDataCols order (10 parameters).
template <ParamSink P>
P& BindAuditData(P& p, const AuditRecord& a) {
  p.Int(a.ts);
  p.Text(a.actor);
  p.Text(a.actor_role);
  p.OptInt(a.org_id);
  p.Text(a.action);
  p.Text(a.outcome);
  p.Text(a.client_addr);
  p.Text(a.token_fp);
  p.Text(a.detail);
  p.Text(a.request_id);
  return p;
}

// kUsageCols.
template <RowReader R>
UsageRecord ReadUsage(const R& r) {
  UsageRecord u;
  u.org_id = r.Int(0);
  u.day = r.Int(1);
  u.used = r.Int(2);
  u.over_quota = r.Int(3);
  u.last_used_at = r.OptInt(4);
  return u;
}

template <ParamSink P>
P& BindUsage(P& p, const UsageRecord& u) {
  p.Int(u.org_id);
  p.Int(u.day);
  p.Int(u.used);
  p.Int(u.over_quota);
  p.OptInt(u.last_used_at);
  return p;
}

// kReportCols.
template <RowReader R>
ReportRecord ReadReport(const R& r) {
  ReportRecord x;
  x.org_id = r.Int(0);
  x.md5 = r.Text(1);
  x.sha256 = r.Text(2);
  x.status = r.Text(3);
  x.report_json = r.Text(4);
  x.created_at = r.Int(5);
  x.updated_at = r.Int(6);
  return x;
}

template <ParamSink P>
P& BindReport(P& p, const ReportRecord& x) {
  p.Int(x.org_id);
  p.Text(x.md5);
  p.Text(x.sha256);
  p.Text(x.status);
  p.Text(x.report_json);
  p.Int(x.created_at);
  p.Int(x.updated_at);
  return p;
}

// kLeakCols.
template <RowReader R>
Result<LeakRecord> ReadLeak(const R& r) {
  LeakRecord x;
  x.org_id = r.Int(0);
  auto p = domain::ParseLeakPolicy(r.Text(1));
  if (!p) return layout::BadValue("leak_reports.policy");
  x.policy = *p;
  x.reported_at = r.OptInt(2);
  x.url = r.Text(3);
  x.source = r.Text(4);
  x.action = r.Text(5);
  x.token_last4 = r.Text(6);
  return x;
}

template <ParamSink P>
P& BindLeak(P& p, const LeakRecord& x) {
  p.Int(x.org_id);
  p.Text(domain::ToString(x.policy));
  p.OptInt(x.reported_at);
  p.Text(x.url);
  p.Text(x.source);
  p.Text(x.action);
  p.Text(x.token_last4);
  return p;
}

// kSupportContactCols.
template <RowReader R>
SupportContactRecord ReadSupportContact(const R& r) {
  SupportContactRecord c;
  c.name = r.Text(0);
  c.email = r.Text(1);
  c.url = r.Text(2);
  c.phone = r.Text(3);
  c.updated_at = r.Int(4);
  c.updated_by = r.Text(5);
  return c;
}

template <ParamSink P>
P& BindSupportContact(P& p, const SupportContactRecord& c) {
  p.Text(c.name);
  p.Text(c.email);
  p.Text(c.url);
  p.Text(c.phone);
  p.Int(c.updated_at);
  p.Text(c.updated_by);
  return p;
}

// kEndpointCols.
template <RowReader R>
WebhookEndpoint ReadEndpoint(const R& r) {
  WebhookEndpoint e;
  e.id = r.Int(0);
  e.org_id = r.OptInt(1);
  e.url = r.Text(2);
  e.events = r.Text(3);
  e.description = r.Text(4);
  e.seed = r.Blob(5);
  e.old_seed = r.Blob(6);
  e.old_until = r.OptInt(7);
  e.created_at = r.Int(8);
  e.failing_since = r.OptInt(9);
  return e;
}

// kEndpointCols but the id (9 parameters).
template <ParamSink P>
P& BindEndpointData(P& p, const WebhookEndpoint& e) {
  p.OptInt(e.org_id);
  p.Text(e.url);
  p.Text(e.events);
  p.Text(e.description);
  p.Blob(e.seed);
  p.OptBlob(e.old_seed);
  p.OptInt(e.old_until);
  p.Int(e.created_at);
  p.OptInt(e.failing_since);
  return p;
}

// id, then what an update may change: url, events, description, seed, old_seed, old_until,
// failing_since (8 parameters).
template <ParamSink P>
P& BindEndpointUpdate(P& p, const WebhookEndpoint& e) {
  p.Int(e.id);
  p.Text(e.url);
  p.Text(e.events);
  p.Text(e.description);
  p.Blob(e.seed);
  p.OptBlob(e.old_seed);
  p.OptInt(e.old_until);
  p.OptInt(e.failing_since);
  return p;
}

// kOutboxCols.
template <RowReader R>
OutboxMessage ReadOutbox(const R& r) {
  OutboxMessage m;
  m.id = r.Int(0);
  m.endpoint_id = r.Int(1);
  m.msg_id = r.Text(2);
  m.event = r.Text(3);
  m.payload = r.Text(4);
  m.dedupe_key = r.Text(5);
  m.created_at = r.Int(6);
  m.state = r.Text(7);
  m.attempts = r.Int(8);
  m.next_attempt_at = r.Int(9);
  m.claimed_until = r.Int(10);
  m.last_status = r.Int(11);
  m.last_error = r.Text(12);
  m.last_latency_ms = r.Int(13);
  m.delivered_at = r.OptInt(14);
  return m;
}

// A new message: endpoint_id, msg_id, event, payload, dedupe_key, created_at, state, attempts,
// next_attempt_at (9 parameters).
template <ParamSink P>
P& BindOutboxNew(P& p, const OutboxMessage& m) {
  p.Int(m.endpoint_id);
  p.Text(m.msg_id);
  p.Text(m.event);
  p.Text(m.payload);
  p.Text(m.dedupe_key);
  p.Int(m.created_at);
  p.Text(m.state);
  p.Int(m.attempts);
  p.Int(m.next_attempt_at);
  return p;
}

// The delivery outcome: last_status, last_error, last_latency_ms, delivered_at (4 parameters).
template <ParamSink P>
P& BindOutboxOutcome(P& p, const OutboxMessage& m) {
  p.Int(m.last_status);
  p.Text(m.last_error);
  p.Int(m.last_latency_ms);
  p.OptInt(m.delivered_at);
  return p;
}

// id, state, attempts, next_attempt_at, claimed_until, then the outcome (9 parameters).
template <ParamSink P>
P& BindOutboxUpdate(P& p, const OutboxMessage& m) {
  p.Int(m.id);
  p.Text(m.state);
  p.Int(m.attempts);
  p.Int(m.next_attempt_at);
  p.Int(m.claimed_until);
  return BindOutboxOutcome(p, m);
}

}  // namespace sandgate::store::rows
