// Internal to the SQLite backend: errors, statements and connections (the driver wrapper).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/status.h"
#include "store/sqlite_fault_vfs.h"
#include "store/sqlite_store.h"

namespace sandgate::store::sqlitedb {

// Failures of the storage itself (the operation could not be done; retrying later may work).
bool IsUnavailable(int rc);

// Maps a SQLite error to 503 STORE_UNAVAILABLE or 500 INTERNAL. Messages name the operation and
// SQLite's description; SQLite never puts bound values (secrets) in its messages.
Status SqlError(sqlite3* db, int rc, std::string_view what);

// A UNIQUE or PRIMARY KEY constraint refused the statement.
bool IsUniqueViolation(int rc);

// One execution of a prepared statement. Binding errors are remembered and reported by Step().
// On destruction the statement is reset and its bindings cleared; it goes back to its
// connection's cache, or is finalized if it was not cached. Move-only; must not outlive its Conn.
class Stmt {
 public:
  Stmt(sqlite3_stmt* s, bool* in_use) : s_(s), in_use_(in_use) {}
  Stmt(Stmt&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)),
        in_use_(std::exchange(o.in_use_, nullptr)),
        bind_rc_(o.bind_rc_) {}
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (s_ == nullptr) return;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    if (in_use_ != nullptr) {
      *in_use_ = false;
    } else {
      sqlite3_finalize(s_);
    }
  }

  // Parameters are 1-based (?1, ?2, ...). Values are copied.
  Stmt& Int(int i, int64_t v) { return Note(sqlite3_bind_int64(s_, i, v)); }
  Stmt& OptInt(int i, const std::optional<int64_t>& v) {
    return v ? Int(i, *v) : Note(sqlite3_bind_null(s_, i));
  }
  Stmt& Text(int i, std::string_view v) {
    return Note(sqlite3_bind_text64(s_, i, v.data() ? v.data() : "", v.size(), SQLITE_TRANSIENT,
                                    SQLITE_UTF8));
  }
  Stmt& Blob(int i, std::string_view v) {
    // A non-null pointer even when empty: a null one would bind NULL instead of an empty blob.
    return Note(sqlite3_bind_blob64(s_, i, v.data() ? v.data() : "", v.size(), SQLITE_TRANSIENT));
  }

  // An empty value binds NULL (e.g. the chain of a record written before the chain existed).
  Stmt& BlobOrNull(int i, std::string_view v) {
    return v.empty() ? Note(sqlite3_bind_null(s_, i)) : Blob(i, v);
  }

  // SQLITE_ROW, SQLITE_DONE, or an (extended) error code.
  int Step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_); }

  // Columns are 0-based.
  int64_t ColInt(int c) const { return sqlite3_column_int64(s_, c); }
  std::optional<int64_t> ColOptInt(int c) const {
    if (sqlite3_column_type(s_, c) == SQLITE_NULL) return std::nullopt;
    return ColInt(c);
  }
  std::string ColText(int c) const {
    const unsigned char* p = sqlite3_column_text(s_, c);
    int n = sqlite3_column_bytes(s_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : "";
  }
  std::string ColBlob(int c) const {
    const void* p = sqlite3_column_blob(s_, c);
    int n = sqlite3_column_bytes(s_, c);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : "";
  }

  // The current row as a rows::RowReader (store/row_mapping.h).
  class Row {
   public:
    explicit Row(const Stmt& s) : s_(s) {}
    int64_t Int(int c) const { return s_.ColInt(c); }
    std::optional<int64_t> OptInt(int c) const { return s_.ColOptInt(c); }
    std::string Text(int c) const { return s_.ColText(c); }
    std::string Blob(int c) const { return s_.ColBlob(c); }
    bool Bool(int c) const { return s_.ColInt(c) != 0; }

   private:
    const Stmt& s_;
  };
  Row row() const { return Row(*this); }

  // Binds parameters in order from `first` on: a rows::ParamSink (store/row_mapping.h).
  class Binder {
   public:
    Binder(Stmt& s, int first) : s_(s), n_(first) {}
    Binder& Int(int64_t v) { return Did(s_.Int(n_, v)); }
    Binder& OptInt(const std::optional<int64_t>& v) { return Did(s_.OptInt(n_, v)); }
    Binder& Text(std::string_view v) { return Did(s_.Text(n_, v)); }
    Binder& Blob(std::string_view v) { return Did(s_.Blob(n_, v)); }
    Binder& OptBlob(std::string_view v) { return Did(s_.BlobOrNull(n_, v)); }
    Binder& Bool(bool v) { return Did(s_.Int(n_, v ? 1 : 0)); }

   private:
    Binder& Did(Stmt&) {
      ++n_;
      return *this;
    }
    Stmt& s_;
    int n_;
  };
  Binder Params(int first = 1) { return Binder(*this, first); }

 private:
  Stmt& Note(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3_stmt* s_;
  bool* in_use_;  // the cache entry's flag, or null when this statement is not cached
  int bind_rc_ = SQLITE_OK;
};

// One SQLite connection and its cache of prepared statements. Not thread-safe: used by one thread
// at a time (the writer under the store's write mutex, a reader while leased from the pool).
class Conn {
 public:
  ~Conn() {
    for (auto& [sql, entry] : cache_) sqlite3_finalize(entry.stmt);
    for (sqlite3_stmt* s : control_) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Opens `path` and configures the connection. A reader is set query_only.
  static Result<std::unique_ptr<Conn>> Open(const std::string& path, bool reader,
                                            const SqliteOptions& options) {
    sqlite3* db = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    if (!reader) flags |= SQLITE_OPEN_CREATE;
    // The fault-injecting shim VFS only when a test enabled fault injection (common/fault.h).
    int rc = sqlite3_open_v2(path.c_str(), &db, flags, FaultVfsNameIfEnabled());
    std::unique_ptr<Conn> conn(new Conn(db));  // closes db on every path
    if (rc != SQLITE_OK) {
      return Status::Unavailable("store: cannot open database " + path + ": " + sqlite3_errstr(rc));
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    Status st = conn->Exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
                           "configuring the database connection");
    if (st.ok() && reader) st = conn->Exec("PRAGMA query_only = ON;", "configuring a reader");
    if (!st.ok()) return st;
    return conn;
  }

  sqlite3* db() const { return db_; }

  // Runs SQL text (one or more statements) that returns no rows.
  Status Exec(const char* sql, std::string_view what) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status::Ok() : SqlError(db_, rc, what);
  }

  // Transaction control, run from statements prepared once per connection (sqlite3_exec would
  // parse the text again on every transaction, which costs more than a short read).
  enum Control { kBegin, kBeginImmediate, kCommit, kRollback, kControlCount };
  int Run(Control which) {
    static constexpr const char* kSql[kControlCount] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT",
                                                        "ROLLBACK"};
    sqlite3_stmt*& s = control_[which];
    if (!s) {
      int rc = sqlite3_prepare_v3(db_, kSql[which], -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        s = nullptr;
        return rc;
      }
    }
    int rc = sqlite3_step(s);
    int reset_rc = sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : (rc == SQLITE_ROW ? reset_rc : rc);
  }

  // The cached statement for `sql`, prepared on first use. If that statement is already executing
  // (a callback re-entered the Tx), a fresh uncached statement is returned instead.
  Result<Stmt> Prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end() && !it->second.in_use) {
      it->second.in_use = true;
      return Stmt(it->second.stmt, &it->second.in_use);
    }
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1),
                                it == cache_.end() ? SQLITE_PREPARE_PERSISTENT : 0, &s, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(s);
      return SqlError(db_, rc, "preparing a statement");
    }
    if (it != cache_.end()) return Stmt(s, nullptr);
    Cached& entry = cache_[sql];  // node addresses are stable across rehashing
    entry.stmt = s;
    entry.in_use = true;
    return Stmt(s, &entry.in_use);
  }

 private:
  explicit Conn(sqlite3* db) : db_(db) {}

  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  sqlite3* db_;
  std::unordered_map<std::string, Cached> cache_;
  sqlite3_stmt* control_[kControlCount] = {};
};

// Runs a query expected to return one row and reads its first column as text.
Result<std::string> QueryText(Conn& c, const std::string& sql, std::string_view what);

Result<int64_t> QueryInt(Conn& c, const std::string& sql, std::string_view what);

// Rolls back the connection's open transaction, if any (best effort).
void RollbackIfOpen(Conn& c);

}  // namespace sandgate::store::sqlitedb
