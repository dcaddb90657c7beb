// PostgreSQL backend of store::Store (the interface and its contract are in store/store.h), for
// several `sandgate serve` nodes on one database. See docs/CLUSTER.md for the coherence design.
//
// - Write(): one READ COMMITTED transaction that first takes a transaction-scoped advisory lock, so
//   writes are serialised across every node and process exactly as SQLite's single writer does
//   (fn sees the latest committed state and nothing changes under it). Commit order therefore
//   equals the order of change sequence numbers.
// - Read(): a REPEATABLE READ READ ONLY transaction (one snapshot).
// - Connections come from a pool; a connection that broke is dropped and the call answers 503
//   STORE_UNAVAILABLE; the next call reconnects, so the store recovers by itself.
// - Cluster coherence: RecordChange() appends to the `changes` table and NOTIFYs; Follow() runs a
//   listener thread that applies other processes' changes and renews this node's lease;
//   AwaitPropagation() waits until every node holding a live lease has applied a change.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace sandgate::store {

int PgSchemaVersion();
// The SQL of migration `version` (1..PgSchemaVersion()), for `sandgate migrate --dry-run`.
const char* PgMigrationSql(int version);

struct PgOptions {
  int pool_size = 8;          // connections per process (Read and Write each lease one)
  int connect_timeout_s = 3;  // libpq connect_timeout
  // Apply pending migrations on open. Off for `serve` (migrations are applied by `sandgate
  // migrate`); the store then refuses a schema older than this build with 503 SCHEMA_OUTDATED.
  bool migrate = true;
  int max_schema_version = 0;  // tests of upgrades only (as SqliteOptions)
  // Lease of a following node: how long the database trusts its acknowledgement, and how often
  // it is renewed. The node stops trusting its own index earlier (lease - renew interval).
  int lease_ms = 2000;
  int renew_ms = 400;
};

// `url` is a libpq connection URI (postgres://user@host:port/db?...). Errors: 503
// STORE_UNAVAILABLE when the server cannot be reached, 500 SCHEMA_TOO_NEW, 503 SCHEMA_OUTDATED.
Result<std::unique_ptr<Store>> OpenPgStore(const std::string& url, const PgOptions& options);

// The URL without its password (user, host, port, database), for logs and messages.
std::string RedactPgUrl(const std::string& url);

}  // namespace sandgate::store
