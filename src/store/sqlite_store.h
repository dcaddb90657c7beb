// SQLite backend of store::Store (the interface and its contract are in store/store.h).
//
// One database file in WAL mode, synchronous=FULL (a Write that returned OK survives kill -9 and
// power loss), foreign keys on. Writes run on one writer connection serialised by a mutex
// (BEGIN IMMEDIATE, so another process's writer is waited for up to busy_timeout_ms); reads run on
// a small pool of read-only (query_only) connections, each Read in its own snapshot transaction.
// The schema is versioned (table schema_version) and migrated on open.
//
// Storage faults: a failed write or commit is 503 STORE_UNAVAILABLE with nothing changed. A failed
// fsync of the WAL is reported the same way, but its frames may be on disk: after a crash before
// the next commit the change can reappear, whole (tests: store/sqlite_fault_vfs_test.cc).
//
// Change stamp (Store::ChangeStamp): a counter in `<database>-stamp`, mapped shared by every
// process that opens the database through this backend and bumped after each Write. A commit that
// bypasses it (the sqlite3 shell, a process killed between commit and bump) is noticed through
// PRAGMA data_version, checked at most every foreign_check_interval_ms by a ChangeStamp call.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace sandgate::store {

// The newest schema version this build knows (the number of migrations). A database with a higher
// version is refused with 500 SCHEMA_TOO_NEW.
int SqliteSchemaVersion();
// The SQL of migration `version` (1..SqliteSchemaVersion()), for `sandgate migrate --dry-run`.
const char* SqliteMigrationSql(int version);

struct SqliteOptions {
  // How long a statement waits for a lock held by another connection or process before the
  // operation fails with 503 STORE_UNAVAILABLE.
  int busy_timeout_ms = 5000;
  // Reader connections, opened on demand; Read() and Ping() wait while all are in use.
  int max_readers = 4;
  // For tests of schema upgrades only: migrate no further than this version (0: to the newest).
  // The methods that need a later version then fail with 500 INTERNAL.
  int max_schema_version = 0;
  // How often ChangeStamp asks SQLite whether the database changed without the counter moving
  // (0: on every call, for tests).
  int foreign_check_interval_ms = 1000;
};

// As OpenSqliteStore(path) (store/store.h), with explicit options. `path` must name a file (not
// ":memory:"); a new database file is created with mode 0600. Errors: 503 STORE_UNAVAILABLE when
// the file cannot be opened or is not a database, 500 SCHEMA_TOO_NEW, 500 INTERNAL otherwise.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteOptions& options);

}  // namespace sandgate::store
