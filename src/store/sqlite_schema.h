// Internal to the SQLite backend: the schema's migrations (sqlite_schema.cc).
#pragma once

#include "store/sqlite_conn.h"

namespace sandgate::store::sqlitedb {

// The newest schema version this build knows (SqliteSchemaVersion()).
int SchemaVersion();

// Brings the schema up to `target` (<= kSchemaVersion), one migration per transaction. Safe
// against another process migrating at the same time: the version is re-read under the write lock
// each step. A database already past `target` (but not past kSchemaVersion) is left as it is.
Status Migrate(Conn& c, int target);

// The change log's horizon: its newest entry, or how far it was pruned if that is more.
constexpr const char* kChangeHorizonSql =
    "SELECT max(coalesce(max(seq), 0), (SELECT pruned_through FROM change_floor)) FROM changes";

}  // namespace sandgate::store::sqlitedb
