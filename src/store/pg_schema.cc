#include "store/pg_schema.h"

#include <iterator>
#include <string>

#include "store/migration_runner.h"
#include "store/store_errors.h"

namespace sandgate::store::pgdb {

using namespace errors;  // the statuses both backends answer

namespace {

// ---------------------------------------------------------------------------------------------
// Schema (PostgreSQL's own versions; the SQLite schema is versioned separately).
//
// Conventions as in SQLite: times are bigint milliseconds since the epoch, enums their
// domain::ToString text, binary values bytea. Names compare case-insensitively in ASCII only
// (lower() under the "C" collation), exactly like SQLite's NOCASE.
constexpr const char* kMigrations[] = {
    // 1: initial schema.
    R"sql(
CREATE TABLE orgs (
  id                bigserial PRIMARY KEY,  -- never reused
  name              text NOT NULL,
  created_at        bigint NOT NULL,
  subscription      text NOT NULL,
  ends_at           bigint,
  provider_disabled boolean NOT NULL,
  disable_reason    text NOT NULL,
  disable_note      text NOT NULL,
  disabled_at       bigint,
  disabled_by       text NOT NULL,
  daily_allowance   bigint NOT NULL,
  rate_per_second   bigint NOT NULL,
  rate_per_hour     bigint NOT NULL,
  disable_threshold bigint NOT NULL
);
CREATE UNIQUE INDEX orgs_name_key ON orgs (lower(name COLLATE "C"));

-- One token per organization: enforced by the primary key on org_id.
CREATE TABLE tokens (
  org_id           bigint PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
  lookup_hash      bytea NOT NULL CONSTRAINT tokens_lookup_hash_key UNIQUE,
  sealed           bytea NOT NULL,
  key_id           text NOT NULL,
  last4            text NOT NULL,
  created_at       bigint NOT NULL,
  last_modified_by text NOT NULL,
  last_modified_on bigint NOT NULL
);

CREATE TABLE users (
  id            bigserial PRIMARY KEY,
  username      text NOT NULL,
  password_hash text NOT NULL,
  role          text NOT NULL,
  org_id        bigint REFERENCES orgs(id),  -- NULL for provider admins
  created_at    bigint NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username COLLATE "C"));
CREATE INDEX users_by_org ON users (org_id, id);

CREATE TABLE sessions (
  id_hash      bytea PRIMARY KEY,
  user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at   bigint NOT NULL,
  last_seen_at bigint NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);

-- No foreign key on org_id: the trail also records refusals for organizations that do not exist.
CREATE TABLE audit (
  id          bigserial PRIMARY KEY,  -- increasing in commit order (writes are serialised)
  ts          bigint NOT NULL,
  actor       text NOT NULL,
  actor_role  text NOT NULL,
  org_id      bigint,
  action      text NOT NULL,
  outcome     text NOT NULL,
  client_addr text NOT NULL,
  token_fp    text NOT NULL,
  detail      text NOT NULL
);
CREATE INDEX audit_by_org ON audit (org_id, id);
CREATE INDEX audit_by_ts ON audit (ts);
)sql",

    // 2: Submission API usage per organization and day; analysis reports per organization.
    R"sql(
CREATE TABLE usage (
  org_id       bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  day          bigint NOT NULL,  -- days since the epoch (UTC)
  used         bigint NOT NULL DEFAULT 0,
  over_quota   bigint NOT NULL DEFAULT 0,
  last_used_at bigint,
  PRIMARY KEY (org_id, day)
);

CREATE TABLE reports (
  org_id      bigint NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  md5         text NOT NULL,
  sha256      text NOT NULL,
  status      text NOT NULL,
  report_json text NOT NULL,
  created_at  bigint NOT NULL,
  updated_at  bigint NOT NULL,
  PRIMARY KEY (org_id, md5)
);
)sql",

    // 3: cluster coherence (docs/CLUSTER.md): the change log and the nodes' leases.
    R"sql(
CREATE TABLE changes (
  seq    bigserial PRIMARY KEY,  -- assigned under the write lock: increasing in commit order
  org_id bigint NOT NULL,
  at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
  node_id     text PRIMARY KEY,
  applied_seq bigint NOT NULL,      -- every change up to here is in the node's index
  lease_until timestamptz NOT NULL, -- database time; after it the node trusts nothing it holds
  started_at  timestamptz NOT NULL DEFAULT now()
);
)sql",

    // 4: the tamper-evident audit chain (store/audit_chain.h). Older records keep NULLs.
    R"sql(
ALTER TABLE audit ADD COLUMN prev_chain bytea;
ALTER TABLE audit ADD COLUMN chain bytea;
)sql",

    // 5: the X-Request-Id of the request behind each audit record ('' for older ones, the CLI).
    R"sql(
ALTER TABLE audit ADD COLUMN request_id text NOT NULL DEFAULT '';
)sql",

    // 6: cluster-wide limits (docs/CLUSTER.md): rate windows per organization (database time),
    // the shared throttle counts, and the change log's floor (entries up to it were pruned).
    R"sql(
CREATE TABLE rate_windows (
  org_id      bigint PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
  sec_window  bigint NOT NULL,  -- seconds since the epoch, database time
  in_sec      bigint NOT NULL,
  hour_window bigint NOT NULL,  -- hours since the epoch, database time
  in_hour     bigint NOT NULL
);

CREATE TABLE throttle_counts (
  scope text NOT NULL,
  key   text NOT NULL,
  count bigint NOT NULL,
  last  bigint NOT NULL,  -- the latest attempt counted (ms since the epoch)
  PRIMARY KEY (scope, key)
);

CREATE TABLE change_floor (
  id             integer PRIMARY KEY CHECK (id = 1),
  pruned_through bigint NOT NULL
);
INSERT INTO change_floor VALUES (1, 0);
)sql",

    // 7: webhooks (src/notify/): endpoints and the durable outbox, written in the transaction of
    // the change an event describes.
    R"sql(
CREATE TABLE webhook_endpoints (
  id            bigserial PRIMARY KEY,
  org_id        bigint REFERENCES orgs(id) ON DELETE CASCADE,  -- NULL: provider-wide
  url           text NOT NULL,
  events        text NOT NULL,
  description   text NOT NULL DEFAULT '',
  seed          bytea NOT NULL,
  old_seed      bytea,
  old_until     bigint,
  created_at    bigint NOT NULL,
  failing_since bigint
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id);

CREATE TABLE webhook_outbox (
  id              bigserial PRIMARY KEY,
  endpoint_id     bigint NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  msg_id          text NOT NULL,
  event           text NOT NULL,
  payload         text NOT NULL,
  dedupe_key      text NOT NULL DEFAULT '',
  created_at      bigint NOT NULL,
  state           text NOT NULL DEFAULT 'pending',
  attempts        bigint NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  claimed_until   bigint NOT NULL DEFAULT 0,
  last_status     bigint NOT NULL DEFAULT 0,
  last_error      text NOT NULL DEFAULT '',
  last_latency_ms bigint NOT NULL DEFAULT 0,
  delivered_at    bigint
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
  org_id      bigint PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
  policy      text NOT NULL DEFAULT 'REVOKE',
  reported_at bigint,
  url         text NOT NULL DEFAULT '',
  source      text NOT NULL DEFAULT '',
  action      text NOT NULL DEFAULT '',
  token_last4 text NOT NULL DEFAULT ''
);
)sql",
    // 10: the provider's support contact as saved in the console (one row; none until saved,
    // when the config file's support_* keys apply).
    R"sql(
CREATE TABLE support_contact (
  id         integer PRIMARY KEY CHECK (id = 1),
  name       text NOT NULL,
  email      text NOT NULL,
  url        text NOT NULL,
  phone      text NOT NULL,
  updated_at bigint NOT NULL,
  updated_by text NOT NULL
);

-- The provider console at 100,000 organizations (issue 18, item 12): each organization's usage
-- of its latest day, kept on its row by every usage write in the same statement, so the list,
-- its usage sort and filters and the overview read no usage row per organization. orgs_by_usage
-- walks one day's users by usage (most first) for the usage sort and the overview's top list.
ALTER TABLE orgs ADD COLUMN usage_day bigint NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN used_today bigint NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN over_quota_today bigint NOT NULL DEFAULT 0;
UPDATE orgs o SET usage_day = l.day, used_today = l.used, over_quota_today = l.over_quota
  FROM (SELECT DISTINCT ON (org_id) org_id, day, used, over_quota FROM usage
        ORDER BY org_id, day DESC) l
  WHERE o.id = l.org_id;
CREATE INDEX orgs_by_usage ON orgs(usage_day, used_today DESC, id);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

}  // namespace

int KnownSchemaVersion() { return kSchemaVersion; }

Status Migrate(Conn& c, int target) {
  MigrationSteps steps;
  steps.begin = [&] { return c.Exec("BEGIN", "starting a migration"); };
  steps.prepare = [&]() -> Status {
    if (Status st = c.Exec(kMigrateLock, "locking the schema"); !st.ok()) return st;
    return c.Exec(
        "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at "
        "bigint NOT NULL)",
        "creating the schema_version table");
  };
  steps.current = [&]() -> Result<int64_t> {
    auto cur = c.Query("SELECT coalesce(max(version), 0) FROM schema_version", Params(),
                       "reading the schema version");
    if (!cur.ok()) return cur.status();
    return cur->Int(0, 0);
  };
  steps.apply = [&](int version) -> Status {
    const std::string what = "migrating to schema version " + std::to_string(version);
    if (Status st = c.Exec(kMigrations[version - 1], what); !st.ok()) return st;
    return c
        .Query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
               Params().Int(version).Int(SystemClock()->now()), what)
        .status();
  };
  steps.commit = [&](std::string_view what) { return c.Exec("COMMIT", what); };
  steps.rollback = [&] { (void)c.Exec("ROLLBACK", "rolling back a migration"); };
  return RunMigrations(target, kSchemaVersion, "", steps);
}

// The schema version, 0 when there is no schema yet.
Result<int64_t> SchemaVersion(Conn& c) {
  auto exists = c.Query("SELECT to_regclass('schema_version') IS NOT NULL", Params(),
                        "reading the schema version");
  if (!exists.ok()) return exists.status();
  if (!exists->Bool(0, 0)) return int64_t{0};
  auto v = c.Query("SELECT coalesce(max(version), 0) FROM schema_version", Params(),
                   "reading the schema version");
  if (!v.ok()) return v.status();
  return v->Int(0, 0);
}

}  // namespace sandgate::store::pgdb

namespace sandgate::store {

int PgSchemaVersion() { return pgdb::KnownSchemaVersion(); }
const char* PgMigrationSql(int version) {
  using pgdb::kMigrations, pgdb::kSchemaVersion;
  return version >= 1 && version <= kSchemaVersion ? kMigrations[version - 1] : "";
}

}  // namespace sandgate::store
