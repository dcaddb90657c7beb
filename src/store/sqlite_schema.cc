#include "store/sqlite_schema.h"

#include <iterator>
#include <string>

#include "store/migration_runner.h"
#include "store/store_errors.h"

namespace sandgate::store::sqlitedb {

using namespace errors;  // the statuses both backends answer

namespace {

// ---------------------------------------------------------------------------------------------
// Schema

// kMigrations[i] takes the schema from version i to version i + 1. Append only: never edit an
// entry that has been released. Each runs in its own transaction together with its schema_version
// row. foreign_keys is ON while they run (a migration that rebuilds a table must account for it).
//
// Conventions: times are INTEGER milliseconds since the epoch, enums their domain::ToString text,
// binary values BLOB, booleans INTEGER 0/1. Names compare case-insensitively (ASCII) via NOCASE.
constexpr const char* kMigrations[] = {
    // 1: initial schema.
    R"sql(
CREATE TABLE orgs (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
  name              TEXT NOT NULL COLLATE NOCASE UNIQUE,
  created_at        INTEGER NOT NULL,
  subscription      TEXT NOT NULL,
  ends_at           INTEGER,
  provider_disabled INTEGER NOT NULL CHECK (provider_disabled IN (0, 1)),
  disable_reason    TEXT NOT NULL,
  disable_note      TEXT NOT NULL,
  disabled_at       INTEGER,
  disabled_by       TEXT NOT NULL,
  daily_allowance   INTEGER NOT NULL,
  rate_per_second   INTEGER NOT NULL,
  rate_per_hour     INTEGER NOT NULL,
  disable_threshold INTEGER NOT NULL
);

-- One token per organization: enforced by the primary key on org_id.
CREATE TABLE tokens (
  org_id           INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
  lookup_hash      BLOB NOT NULL UNIQUE,
  sealed           BLOB NOT NULL,
  key_id           TEXT NOT NULL,
  last4            TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  last_modified_by TEXT NOT NULL,
  last_modified_on INTEGER NOT NULL
);

CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  username      TEXT NOT NULL COLLATE NOCASE UNIQUE,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL,
  org_id        INTEGER REFERENCES orgs(id),  -- NULL for provider admins
  created_at    INTEGER NOT NULL
);
CREATE INDEX users_by_org ON users(org_id, id);

CREATE TABLE sessions (
  id_hash      BLOB PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_last_seen ON sessions(last_seen_at);

-- No foreign key on org_id: the trail also records refusals for organizations that do not exist.
CREATE TABLE audit (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- increasing, never reused
  ts          INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  actor_role  TEXT NOT NULL,
  org_id      INTEGER,
  action      TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  client_addr TEXT NOT NULL,
  token_fp    TEXT NOT NULL,
  detail      TEXT NOT NULL
);
CREATE INDEX audit_by_org ON audit(org_id, id);
CREATE INDEX audit_by_ts ON audit(ts);
)sql",

    // 2: Submission API usage per organization and day; analysis reports per organization.
    R"sql(
-- A missing row means zero usage. LastUsed is max(last_used_at) over the organization's rows,
-- found through the primary key (an organization has one row per day of use).
CREATE TABLE usage (
  org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  day          INTEGER NOT NULL,  -- days since the epoch (UTC)
  used         INTEGER NOT NULL DEFAULT 0,
  over_quota   INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER,
  PRIMARY KEY (org_id, day)
) WITHOUT ROWID;

-- A rowid table: report documents can be large, which WITHOUT ROWID handles poorly.
CREATE TABLE reports (
  org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  md5         TEXT NOT NULL,  -- compared exactly; callers store upper-case hex
  sha256      TEXT NOT NULL,
  status      TEXT NOT NULL,
  report_json TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (org_id, md5)
);
)sql",

    // 3: the tamper-evident audit chain (store/audit_chain.h). Older records keep NULLs.
    R"sql(
ALTER TABLE audit ADD COLUMN prev_chain BLOB;
ALTER TABLE audit ADD COLUMN chain BLOB;
)sql",

    // 4: the change log, so a running server refreshes its token index after the CLI (another
    // process) changes an organization or its token (SqliteStore::CatchUp).
    R"sql(
CREATE TABLE changes (
  seq    INTEGER PRIMARY KEY AUTOINCREMENT,  -- assigned under the write lock: commit order
  org_id INTEGER NOT NULL,
  at     INTEGER NOT NULL
);
)sql",

    // 5: the X-Request-Id of the request behind each audit record ('' for older ones, the CLI).
    R"sql(
ALTER TABLE audit ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
)sql",

    // 6: cluster-wide limits, kept here too so both stores pass the same suite (one node: the
    // windows are this process's clock), and the change log's floor (entries up to it were
    // pruned; see Store::PruneChangeLog).
    R"sql(
CREATE TABLE rate_windows (
  org_id      INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
  sec_window  INTEGER NOT NULL,
  in_sec      INTEGER NOT NULL,
  hour_window INTEGER NOT NULL,
  in_hour     INTEGER NOT NULL
);

CREATE TABLE throttle_counts (
  scope TEXT NOT NULL,
  key   TEXT NOT NULL,
  count INTEGER NOT NULL,
  last  INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
) WITHOUT ROWID;

CREATE TABLE change_floor (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  pruned_through INTEGER NOT NULL
);
INSERT INTO change_floor VALUES (1, 0);
)sql",

    // 7: webhooks (src/notify/): endpoints and the durable outbox, written in the transaction of
    // the change an event describes.
    R"sql(
CREATE TABLE webhook_endpoints (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id        INTEGER REFERENCES orgs(id) ON DELETE CASCADE,  -- NULL: provider-wide
  url           TEXT NOT NULL,
  events        TEXT NOT NULL,
  description   TEXT NOT NULL DEFAULT '',
  seed          BLOB NOT NULL,
  old_seed      BLOB,
  old_until     INTEGER,
  created_at    INTEGER NOT NULL,
  failing_since INTEGER
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id);

CREATE TABLE webhook_outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  msg_id          TEXT NOT NULL,
  event           TEXT NOT NULL,
  payload         TEXT NOT NULL,
  dedupe_key      TEXT NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  claimed_until   INTEGER NOT NULL DEFAULT 0,
  last_status     INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT '',
  last_latency_ms INTEGER NOT NULL DEFAULT 0,
  delivered_at    INTEGER
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (endpoint_id, state, id);
CREATE UNIQUE INDEX webhook_outbox_dedupe ON webhook_outbox (endpoint_id, dedupe_key)
  WHERE dedupe_key <> '';
)sql",
    // 8: the provider console's overview and list read one day's usage over all organizations:
    // covering, so the day's totals and its busiest organizations come from the index alone.
    R"sql(
CREATE INDEX usage_by_day ON usage(day, used, over_quota);
)sql",  // 9: leaked-token reports (issue 20): each organization's policy and its last report. A
    // missing row is the default (REVOKE, nothing reported).
    R"sql(
CREATE TABLE leak_reports (
  org_id      INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
  policy      TEXT NOT NULL DEFAULT 'REVOKE',
  reported_at INTEGER,
  url         TEXT NOT NULL DEFAULT '',
  source      TEXT NOT NULL DEFAULT '',
  action      TEXT NOT NULL DEFAULT '',
  token_last4 TEXT NOT NULL DEFAULT ''
);
)sql",
    // 10: the provider's support contact as saved in the console (one row; none until saved,
    // when the config file's support_* keys apply).
    R"sql(
CREATE TABLE support_contact (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  name       TEXT NOT NULL,
  email      TEXT NOT NULL,
  url        TEXT NOT NULL,
  phone      TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL
);

-- The provider console at 100,000 organizations (issue 18, item 12): each organization's usage
-- of its latest day, kept on its row by every usage write in the same transaction, so the list,
-- its usage sort and filters and the overview read no usage row per organization. orgs_by_usage
-- walks one day's users by usage (most first) for the usage sort and the overview's top list.
ALTER TABLE orgs ADD COLUMN usage_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN used_today INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN over_quota_today INTEGER NOT NULL DEFAULT 0;
UPDATE orgs SET (usage_day, used_today, over_quota_today) =
  (SELECT u.day, u.used, u.over_quota FROM usage u WHERE u.org_id = orgs.id
   ORDER BY u.day DESC LIMIT 1)
  WHERE EXISTS (SELECT 1 FROM usage u WHERE u.org_id = orgs.id);
CREATE INDEX orgs_by_usage ON orgs(usage_day, used_today DESC, id);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

}  // namespace

int SchemaVersion() { return kSchemaVersion; }

// Brings the schema up to `target` (<= kSchemaVersion), one migration per transaction. Safe
// against another process migrating at the same time: the version is re-read under the write lock
// each step. A database already past `target` (but not past kSchemaVersion) is left as it is.
Status Migrate(Conn& c, int target) {
  MigrationSteps steps;
  steps.begin = [&] { return c.Exec("BEGIN IMMEDIATE", "starting a migration"); };
  steps.prepare = [&] {
    return c.Exec(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at "
        "INTEGER NOT NULL)",
        "creating the schema_version table");
  };
  steps.current = [&] {
    return QueryInt(c, "SELECT coalesce(max(version), 0) FROM schema_version",
                    "reading the schema version");
  };
  steps.apply = [&](int version) -> Status {
    const std::string what = "migrating to schema version " + std::to_string(version);
    if (Status st = c.Exec(kMigrations[version - 1], what); !st.ok()) return st;
    auto s = c.Prepare("INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)");
    if (!s.ok()) return s.status();
    s->Int(1, version).Int(2, SystemClock()->now());
    int rc = s->Step();
    return rc == SQLITE_DONE ? Status::Ok() : SqlError(c.db(), rc, what);
  };
  // A COMMIT that failed is rolled back.
  steps.commit = [&](std::string_view what) {
    Status st = c.Exec("COMMIT", what);
    RollbackIfOpen(c);
    return st;
  };
  steps.rollback = [&] { RollbackIfOpen(c); };
  return RunMigrations(target, kSchemaVersion,
                       "; run a newer build or restore a backup made by this one", steps);
}

}  // namespace sandgate::store::sqlitedb

namespace sandgate::store {

int SqliteSchemaVersion() { return sqlitedb::SchemaVersion(); }
const char* SqliteMigrationSql(int version) {
  using sqlitedb::kMigrations, sqlitedb::kSchemaVersion;
  return version >= 1 && version <= kSchemaVersion ? kMigrations[version - 1] : "";
}

}  // namespace sandgate::store
