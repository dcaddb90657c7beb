#include "store/sqlite_conn.h"

namespace sandgate::store::sqlitedb {

// Failures of the storage itself (the operation could not be done; retrying later may work).
bool IsUnavailable(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_NOLFS:
      return true;
    default:
      return false;
  }
}

// Maps a SQLite error to 503 STORE_UNAVAILABLE or 500 INTERNAL. Messages name the operation and
// SQLite's description; SQLite never puts bound values (secrets) in its messages.
Status SqlError(sqlite3* db, int rc, std::string_view what) {
  std::string msg = "store: " + std::string(what) + " failed: " + sqlite3_errstr(rc);
  if (IsUnavailable(rc)) return Status::Unavailable(std::move(msg));
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    msg += " (";
    msg += sqlite3_errmsg(db);
    msg += ")";
  }
  return Status::Internal(std::move(msg));
}

// Runs a query expected to return one row and reads its first column as text.
Result<std::string> QueryText(Conn& c, const std::string& sql, std::string_view what) {
  auto st = c.Prepare(sql);
  if (!st.ok()) return st.status();
  int rc = st->Step();
  if (rc != SQLITE_ROW) return SqlError(c.db(), rc == SQLITE_DONE ? SQLITE_ERROR : rc, what);
  return st->ColText(0);
}

Result<int64_t> QueryInt(Conn& c, const std::string& sql, std::string_view what) {
  auto st = c.Prepare(sql);
  if (!st.ok()) return st.status();
  int rc = st->Step();
  if (rc != SQLITE_ROW) return SqlError(c.db(), rc == SQLITE_DONE ? SQLITE_ERROR : rc, what);
  return st->ColInt(0);
}

// Rolls back the connection's open transaction, if any (best effort).
void RollbackIfOpen(Conn& c) {
  if (!sqlite3_get_autocommit(c.db())) c.Run(Conn::kRollback);
}

bool IsUniqueViolation(int rc) {
  return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

}  // namespace sandgate::store::sqlitedb
