// Internal to the PostgreSQL backend: the schema's migrations (pg_schema.cc) and the SQL that
// the store, its transactions and the follower share.
#pragma once

#include <string>
#include <string_view>

#include "store/pg_conn.h"

namespace sandgate::store::pgdb {

// The newest schema version this build knows (PgSchemaVersion()).
int KnownSchemaVersion();

Status Migrate(Conn& c, int target);

// The schema version, 0 when there is no schema yet.
Result<int64_t> SchemaVersion(Conn& c);

// After a usage write (a CTE `u` RETURNING org_id, day, used, over_quota): the organization's row
// keeps the usage of its latest day (migration 10), in the same statement. A write that changed
// no count (a report's last use alone) leaves the row as it is: no new row version.
constexpr const char* kSyncLatestUsage =
    "UPDATE orgs o SET usage_day = u.day, used_today = u.used, over_quota_today = u.over_quota "
    "FROM u WHERE o.id = u.org_id AND o.usage_day <= u.day AND "
    "(o.usage_day, o.used_today, o.over_quota_today) IS DISTINCT FROM (u.day, u.used, "
    "u.over_quota)";

// A CTE `k` holding organization $1's id, or nothing when it does not exist. Statements that
// insert rows of an organization select from it rather than rely on the foreign key: a missing
// organization then inserts nothing and the transaction stays usable, with no SAVEPOINT around
// the statement (issue 19, target 6: a savepoint and its release cost the server a subtransaction
// per statement). Writers hold the write lock, so the organization cannot go in between.
constexpr const char* kOrgRow = "k AS (SELECT id FROM orgs WHERE id = $1)";

// Every write transaction starts by taking the cluster-wide write lock (see pg_store.h).
constexpr const char* kBeginWriteTx = "BEGIN ISOLATION LEVEL READ COMMITTED";
constexpr const char* kWriteLock = "SELECT pg_advisory_xact_lock(74110001)";
constexpr const char* kMigrateLock = "SELECT pg_advisory_xact_lock(74110002)";
constexpr const char* kChangesChannel = "sandgate_changes";

// Store::AwaitPropagation's question: how many nodes other than $1 hold a live lease and have not
// applied the change whose sequence number is the SQL expression `seq`.
inline std::string LaggingNodesSql(std::string_view seq) {
  std::string sql = "SELECT count(*) FROM nodes WHERE node_id <> $1 AND applied_seq < ";
  sql.append(seq);
  sql.append(" AND lease_until > now()");
  return sql;
}
// The notification payload of a usage-only entry (kUsageOnlyChange) that node `node_id` logged
// with its commit. Its own follower skips such a notification: nothing of its index or caches
// waits for it (its caches moved at its commit, and no writer waits for its acknowledgement of
// its own entries), so the entry is applied with the next round instead of costing one now.
// Every other notification (another node's, any other entry) wakes the follower as before.
inline std::string OwnUsageNotice(std::string_view node_id) {
  std::string n = "usage ";
  n += node_id;
  return n;
}
// The change log's horizon: its newest entry, or how far it was pruned if that is more.
constexpr const char* kChangeHorizonSql =
    "SELECT greatest(coalesce(max(seq), 0), (SELECT pruned_through FROM change_floor)) FROM "
    "changes";
constexpr const char* kChangeFloorSql = "SELECT pruned_through FROM change_floor";
// Removes what every node holding a live lease has applied and raises the floor; one statement,
// so the floor and the deletion commit together. Returns the number of entries removed.
constexpr const char* kPruneChangesSql =
    "WITH m AS (SELECT min(applied_seq) AS s FROM nodes WHERE lease_until > now()), "
    "d AS (DELETE FROM changes WHERE seq <= (SELECT s FROM m) RETURNING seq) "
    "UPDATE change_floor SET pruned_through = greatest(pruned_through, "
    "coalesce((SELECT max(seq) FROM d), 0)) RETURNING (SELECT count(*) FROM d)";
constexpr int kPruneEveryMs = 5000;

}  // namespace sandgate::store::pgdb
