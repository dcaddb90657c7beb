#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "metrics/sandgate_metrics.h"
#include "store/audit_chain.h"
#include "store/change_log.h"
#include "store/org_query.h"
#include "store/row_layout.h"
#include "store/row_mapping.h"
#include "store/sqlite_fault_vfs.h"
#include "store/store_errors.h"

namespace sandgate::store {
namespace {

using namespace layout;  // column lists and value parsing shared with the other backend
using namespace errors;  // the statuses both backends answer

using domain::DisableReason;
using domain::Role;
using domain::Subscription;

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

// The change log's horizon: its newest entry, or how far it was pruned if that is more.
constexpr const char* kChangeHorizonSql =
    "SELECT max(coalesce(max(seq), 0), (SELECT pruned_through FROM change_floor)) FROM changes";

// ---------------------------------------------------------------------------------------------
// Errors

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

// ---------------------------------------------------------------------------------------------
// Statements and connections

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

// ---------------------------------------------------------------------------------------------
// Row mapping

// Record <-> row: store/row_mapping.h, over Stmt::Row and Stmt::Binder.

bool IsUniqueViolation(int rc) {
  return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

// ---------------------------------------------------------------------------------------------
// Transactions

// A Tx bound to one connection that has an open transaction. Valid only inside the Write/Read
// callback, on the calling thread.
//
// Once an error that may have ended the transaction occurs (any error other than a handled
// constraint violation), or a mutating method is called in a read transaction, the Tx is
// "poisoned": every later call returns that error and the transaction is rolled back even if the
// callback returns OK. So no statement can ever run outside the transaction.
class SqliteTx final : public Tx {
 public:
  SqliteTx(Conn& conn, bool writable, const std::string& audit_key)
      : c_(conn), writable_(writable), audit_key_(audit_key) {}

  const Status& poison() const { return poison_; }

  Result<OrgRecord> GetOrg(OrgId id) override {
    static const std::string sql = std::string("SELECT ") + kOrgCols + " FROM orgs WHERE id = ?1";
    return GetOneOrg(sql, [&](Stmt& s) { s.Int(1, id); });
  }

  Result<OrgRecord> GetOrgByName(const std::string& name) override {
    static const std::string sql =
        std::string("SELECT ") + kOrgCols + " FROM orgs WHERE name = ?1";  // NOCASE column
    return GetOneOrg(sql, [&](Stmt& s) { s.Text(1, name); });
  }

  Result<OrgId> InsertOrg(const OrgRecord& org) override {
    static const std::string sql =
        std::string("INSERT INTO orgs (") + kOrgDataCols +
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindOrgData(p, org);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "inserting an organization", OrgExists());
    return static_cast<OrgId>(sqlite3_last_insert_rowid(c_.db()));
  }

  Status UpdateOrg(const OrgRecord& org) override {
    static const std::string sql =
        "UPDATE orgs SET name = ?1, created_at = ?2, subscription = ?3, ends_at = ?4, "
        "provider_disabled = ?5, disable_reason = ?6, disable_note = ?7, disabled_at = ?8, "
        "disabled_by = ?9, daily_allowance = ?10, rate_per_second = ?11, rate_per_hour = ?12, "
        "disable_threshold = ?13 WHERE id = ?14";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindOrgData(p, org).Int(org.id);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "updating an organization", OrgExists());
    if (sqlite3_changes(c_.db()) == 0) return OrgNotFound();
    return Status::Ok();
  }

  Result<OrgPage> ListOrgs(const std::string& search, int64_t offset, int64_t limit) override {
    static const std::string count_sql =
        "SELECT count(*) FROM orgs WHERE instr(lower(name), lower(?1)) > 0";
    static const std::string page_sql = std::string("SELECT ") + kOrgCols +
                                        " FROM orgs WHERE instr(lower(name), lower(?1)) > 0 "
                                        "ORDER BY id LIMIT ?2 OFFSET ?3";
    if (Status g = Guard(false); !g.ok()) return g;
    OrgPage page;
    {
      auto s = Prep(count_sql);
      if (!s.ok()) return s.status();
      s->Text(1, search);
      int rc = s->Step();
      if (rc != SQLITE_ROW) return Fail(rc, "counting organizations");
      page.total = s->ColInt(0);
    }
    auto s = Prep(page_sql);
    if (!s.ok()) return s.status();
    s->Text(1, search)
        .Int(2, std::clamp<int64_t>(limit, 1, kMaxPageLimit))
        .Int(3, std::max<int64_t>(offset, 0));
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      auto org = rows::ReadOrg(s->row(), 0);
      if (!org.ok()) return org.status();
      page.items.push_back(std::move(org).value());
    }
    if (rc != SQLITE_DONE) return Fail(rc, "listing organizations");
    return page;
  }

  Result<OrgRowPage> QueryOrgs(const OrgQuery& q) override {
    if (Status g = Guard(false); !g.ok()) return g;
    constexpr auto kDialect = orgsql::Dialect::kSqlite;
    OrgRowPage page;
    auto run = [&](const orgsql::Statement& st) -> Result<std::vector<int64_t>> {
      auto s = Bound(st);
      if (!s.ok()) return s.status();
      std::vector<int64_t> out;
      int rc;
      while ((rc = s->Step()) == SQLITE_ROW) {
        for (int c = 0; c < st.columns; ++c) out.push_back(s->ColInt(c));
      }
      if (rc != SQLITE_DONE) return Fail(rc, "listing organizations");
      return out;
    };
    auto counts = orgsql::CountList(q, kDialect, run);
    if (!counts.ok()) return counts.status();
    page.total = counts->total;
    auto ids = orgsql::PageIds(q, kDialect, *counts, run);
    if (!ids.ok()) return ids.status();
    if (ids->empty()) return page;
    auto s = Bound(orgsql::BuildRows(*ids, q.day, kDialect));
    if (!s.ok()) return s.status();
    std::map<OrgId, OrgRow> rows;
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      auto row = rows::ReadOrgRow(s->row());
      if (!row.ok()) return row.status();
      rows.emplace(row->org.id, std::move(row).value());
    }
    if (rc != SQLITE_DONE) return Fail(rc, "listing organizations");
    for (OrgId id : *ids) {
      auto it = rows.find(id);
      if (it != rows.end()) page.items.push_back(std::move(it->second));
    }
    return page;
  }

  Result<OrgOverviewRecord> OrgOverview(TimeMs now, int64_t day, TimeMs expiring_before, int days,
                                        int top_n) override {
    if (Status g = Guard(false); !g.ok()) return g;
    OrgOverviewRecord o;
    {
      auto s = Bound(orgsql::BuildOverviewCounts(now, expiring_before, orgsql::Dialect::kSqlite));
      if (!s.ok()) return s.status();
      int rc = s->Step();
      if (rc != SQLITE_ROW) return Fail(rc, "counting organizations");
      int64_t* out[] = {&o.orgs,
                        &o.enabled,
                        &o.no_subscription,
                        &o.expired,
                        &o.disabled_quota_threshold,
                        &o.disabled_terms_violation,
                        &o.disabled_other,
                        &o.no_token,
                        &o.expiring};
      for (int i = 0; i < static_cast<int>(std::size(out)); ++i) *out[i] = s->ColInt(i);
    }
    {
      auto s = Bound(orgsql::BuildOverviewUsage(now, day, orgsql::Dialect::kSqlite));
      if (!s.ok()) return s.status();
      int rc = s->Step();
      if (rc != SQLITE_ROW) return Fail(rc, "counting usage");
      o.over80 = s->ColInt(0);
      o.near_threshold = s->ColInt(1);
    }
    for (int64_t d = day - days + 1; d <= day; ++d) o.days.push_back({d, 0, 0});
    {
      auto s = Bound(orgsql::BuildOverviewDays(day - days, day, orgsql::Dialect::kSqlite));
      if (!s.ok()) return s.status();
      int rc;
      while ((rc = s->Step()) == SQLITE_ROW) {
        int64_t d = s->ColInt(0);
        if (d > day - days && d <= day)
          o.days[static_cast<size_t>(d - (day - days + 1))] = {d, s->ColInt(1), s->ColInt(2)};
      }
      if (rc != SQLITE_DONE) return Fail(rc, "summing usage");
    }
    auto s = Bound(orgsql::BuildOverviewTop(day, top_n, orgsql::Dialect::kSqlite));
    if (!s.ok()) return s.status();
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      auto row = rows::ReadOrgRow(s->row());
      if (!row.ok()) return row.status();
      o.top.push_back(std::move(row).value());
    }
    if (rc != SQLITE_DONE) return Fail(rc, "listing the busiest organizations");
    return o;
  }

  Result<std::optional<TokenRecord>> GetToken(OrgId org) override {
    static const std::string sql =
        std::string("SELECT ") + kTokenCols + " FROM tokens WHERE org_id = ?1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org);
    int rc = s->Step();
    if (rc == SQLITE_DONE) return std::optional<TokenRecord>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading a token");
    return std::optional<TokenRecord>(rows::ReadToken(s->row(), 0));
  }

  Status InsertToken(const TokenRecord& t) override {
    static const std::string sql = std::string("INSERT INTO tokens (") + kTokenCols +
                                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    if (Status g = Guard(true); !g.ok()) return g;
    int rc;
    {
      auto s = Prep(sql);
      if (!s.ok()) return s.status();
      auto p = s->Params();
      rows::BindToken(p, t);
      rc = s->Step();
    }
    if (rc == SQLITE_DONE) return Status::Ok();
    if (IsUniqueViolation(rc) && !sqlite3_get_autocommit(c_.db())) {
      // The constraint refused it; find out which one to give the right answer.
      auto existing = GetToken(t.org_id);
      if (!existing.ok()) return existing.status();
      if (existing->has_value()) {
        return TokenExists();
      }
      return TokenHashExists();
    }
    return Fail(rc, "inserting a token", std::nullopt, OrgNotFound());
  }

  Status ReplaceToken(const TokenRecord& t) override {
    static const std::string sql =
        "UPDATE tokens SET lookup_hash = ?2, sealed = ?3, key_id = ?4, last4 = ?5, "
        "created_at = ?6, last_modified_by = ?7, last_modified_on = ?8 WHERE org_id = ?1";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindToken(p, t);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "replacing a token", TokenHashExists());
    if (sqlite3_changes(c_.db()) == 0) return TokenNotFound();
    return Status::Ok();
  }

  Status DeleteToken(OrgId org) override {
    static const std::string sql = "DELETE FROM tokens WHERE org_id = ?1";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "deleting a token");
    if (sqlite3_changes(c_.db()) == 0) return TokenNotFound();
    return Status::Ok();
  }

  Status ForEachToken(
      const std::function<void(const TokenRecord&, const OrgRecord&)>& fn) override {
    static const std::string sql =
        "SELECT t.org_id, t.lookup_hash, t.sealed, t.key_id, t.last4, t.created_at, "
        "t.last_modified_by, t.last_modified_on, "  // kTokenCols
        "o.id, o.name, o.created_at, o.subscription, o.ends_at, o.provider_disabled, "
        "o.disable_reason, o.disable_note, o.disabled_at, o.disabled_by, o.daily_allowance, "
        "o.rate_per_second, o.rate_per_hour, o.disable_threshold "  // kOrgCols
        "FROM tokens t JOIN orgs o ON o.id = t.org_id ORDER BY t.org_id";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      TokenRecord token = rows::ReadToken(s->row(), 0);
      auto org = rows::ReadOrg(s->row(), 8);
      if (!org.ok()) return org.status();
      fn(token, *org);
    }
    if (rc != SQLITE_DONE) return Fail(rc, "listing tokens");
    return Status::Ok();
  }

  Result<UserRecord> GetUser(UserId id) override {
    static const std::string sql = std::string("SELECT ") + kUserCols + " FROM users WHERE id = ?1";
    return GetOneUser(sql, [&](Stmt& s) { s.Int(1, id); });
  }

  Result<UserRecord> GetUserByName(const std::string& name) override {
    static const std::string sql =
        std::string("SELECT ") + kUserCols + " FROM users WHERE username = ?1";  // NOCASE
    return GetOneUser(sql, [&](Stmt& s) { s.Text(1, name); });
  }

  Result<UserId> InsertUser(const UserRecord& u) override {
    static const std::string sql =
        std::string("INSERT INTO users (") + kUserDataCols + ") VALUES (?1, ?2, ?3, ?4, ?5)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindUserData(p, u);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "inserting a user", UserExists(), OrgNotFound());
    return static_cast<UserId>(sqlite3_last_insert_rowid(c_.db()));
  }

  Status UpdateUser(const UserRecord& u) override {
    static const std::string sql =
        "UPDATE users SET username = ?1, password_hash = ?2, role = ?3, org_id = ?4, "
        "created_at = ?5 WHERE id = ?6";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindUserData(p, u).Int(u.id);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "updating a user", UserExists(), OrgNotFound());
    if (sqlite3_changes(c_.db()) == 0) return UserNotFound();
    return Status::Ok();
  }

  Status DeleteUser(UserId id) override {
    static const std::string sql = "DELETE FROM users WHERE id = ?1";
    // The sessions go explicitly too, not only through ON DELETE CASCADE.
    if (Status st = DeleteSessionsOfUser(id); !st.ok()) return st;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, id);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "deleting a user");
    if (sqlite3_changes(c_.db()) == 0) return UserNotFound();
    return Status::Ok();
  }

  Result<std::vector<UserRecord>> ListUsers(std::optional<OrgId> org) override {
    static const std::string by_org =
        std::string("SELECT ") + kUserCols + " FROM users WHERE org_id = ?1 ORDER BY id";
    static const std::string provider =
        std::string("SELECT ") + kUserCols + " FROM users WHERE org_id IS NULL ORDER BY id";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(org ? by_org : provider);
    if (!s.ok()) return s.status();
    if (org) s->Int(1, *org);
    std::vector<UserRecord> users;
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      auto u = rows::ReadUser(s->row());
      if (!u.ok()) return u.status();
      users.push_back(std::move(u).value());
    }
    if (rc != SQLITE_DONE) return Fail(rc, "listing users");
    return users;
  }

  Result<int64_t> CountUsers() override {
    static const std::string sql = "SELECT count(*) FROM users";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    int rc = s->Step();
    if (rc != SQLITE_ROW) return Fail(rc, "counting users");
    return s->ColInt(0);
  }

  Status InsertSession(const SessionRecord& r) override {
    static const std::string sql =
        std::string("INSERT INTO sessions (") + kSessionCols + ") VALUES (?1, ?2, ?3, ?4)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindSession(p, r);
    int rc = s->Step();
    if (rc != SQLITE_DONE) {
      return Fail(rc, "inserting a session", SessionExists(), UserNotFound());
    }
    return Status::Ok();
  }

  Result<SessionRecord> GetSession(const std::string& id_hash) override {
    static const std::string sql =
        std::string("SELECT ") + kSessionCols + " FROM sessions WHERE id_hash = ?1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Blob(1, id_hash);
    int rc = s->Step();
    if (rc == SQLITE_DONE) return SessionNotFound();
    if (rc != SQLITE_ROW) return Fail(rc, "reading a session");
    return rows::ReadSession(s->row());
  }

  Status TouchSession(const std::string& id_hash, TimeMs last_seen) override {
    static const std::string sql = "UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Blob(1, id_hash).Int(2, last_seen);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "updating a session");
    if (sqlite3_changes(c_.db()) == 0) return SessionNotFound();
    return Status::Ok();
  }

  Status DeleteSession(const std::string& id_hash) override {
    static const std::string sql = "DELETE FROM sessions WHERE id_hash = ?1";
    return Delete(sql, "deleting a session", [&](Stmt& s) { s.Blob(1, id_hash); });
  }

  Status DeleteSessionsOfUser(UserId user) override {
    static const std::string sql = "DELETE FROM sessions WHERE user_id = ?1";
    return Delete(sql, "deleting a user's sessions", [&](Stmt& s) { s.Int(1, user); });
  }

  Status DeleteSessionsBefore(TimeMs last_seen_before) override {
    static const std::string sql = "DELETE FROM sessions WHERE last_seen_at < ?1";
    return Delete(sql, "deleting old sessions", [&](Stmt& s) { s.Int(1, last_seen_before); });
  }

  Result<UsageRecord> GetUsage(OrgId org, int64_t day) override {
    static const std::string sql =
        std::string("SELECT ") + kUsageCols + " FROM usage WHERE org_id = ?1 AND day = ?2";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org).Int(2, day);
    int rc = s->Step();
    if (rc == SQLITE_DONE) {
      UsageRecord zero;
      zero.org_id = org;
      zero.day = day;
      return zero;
    }
    if (rc != SQLITE_ROW) return Fail(rc, "reading usage");
    return rows::ReadUsage(s->row());
  }

  Status AddUsage(OrgId org, int64_t day, int64_t used_delta, int64_t over_quota_delta,
                  std::optional<TimeMs> last_used_at) override {
    // In DO UPDATE, bare column names are the stored row and excluded.* the proposed one.
    static const std::string sql =
        std::string("INSERT INTO usage (") + kUsageCols +
        ") VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (org_id, day) DO UPDATE SET "
        "used = used + excluded.used, over_quota = over_quota + excluded.over_quota, "
        "last_used_at = coalesce(excluded.last_used_at, last_used_at)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org).Int(2, day).Int(3, used_delta).Int(4, over_quota_delta).OptInt(5, last_used_at);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "adding usage", std::nullopt, OrgNotFound());
    return SyncLatestUsage(org, day);
  }

  // orgs.usage_day/used_today/over_quota_today: the usage row of the organization's latest day
  // (migration 10), after a write to its row of `day`.
  Status SyncLatestUsage(OrgId org, int64_t day) {
    static const std::string sql =
        "UPDATE orgs SET (usage_day, used_today, over_quota_today) = (SELECT day, used, over_quota "
        "FROM usage WHERE org_id = ?1 AND day = ?2) WHERE id = ?1 AND usage_day <= ?2";
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org).Int(2, day);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "adding usage");
    return Status::Ok();
  }

  Result<std::optional<TimeMs>> LastUsed(OrgId org) override {
    static const std::string sql = "SELECT max(last_used_at) FROM usage WHERE org_id = ?1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org);
    int rc = s->Step();
    if (rc != SQLITE_ROW) return Fail(rc == SQLITE_DONE ? SQLITE_ERROR : rc, "reading last use");
    return s->ColOptInt(0);
  }

  Result<std::optional<ReportRecord>> GetReport(OrgId org, const std::string& md5) override {
    static const std::string sql =
        std::string("SELECT ") + kReportCols + " FROM reports WHERE org_id = ?1 AND md5 = ?2";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org).Text(2, md5);
    int rc = s->Step();
    if (rc == SQLITE_DONE) return std::optional<ReportRecord>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading a report");
    return std::optional<ReportRecord>(rows::ReadReport(s->row()));
  }

  Status PutReport(const ReportRecord& r) override {
    // An upsert rather than INSERT OR REPLACE: it updates the row in place instead of deleting it.
    static const std::string sql =
        std::string("INSERT INTO reports (") + kReportCols +
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (org_id, md5) DO UPDATE SET "
        "sha256 = excluded.sha256, status = excluded.status, report_json = excluded.report_json, "
        "created_at = excluded.created_at, updated_at = excluded.updated_at";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindReport(p, r);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "storing a report", std::nullopt, OrgNotFound());
    return Status::Ok();
  }

  Result<int64_t> AppendAudit(const AuditRecord& r) override {
    static const std::string last_sql = "SELECT chain FROM audit ORDER BY id DESC LIMIT 1";
    static const std::string sql =
        std::string("INSERT INTO audit (") + kAuditDataCols +
        ", prev_chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    static const std::string chain_sql = "UPDATE audit SET chain = ?2 WHERE id = ?1";
    if (Status g = Guard(true); !g.ok()) return g;
    AuditAppendSteps steps;
    steps.read_last_chain = [&]() -> Result<std::string> {
      auto s = Prep(last_sql);
      if (!s.ok()) return s.status();
      int rc = s->Step();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail(rc, "reading the audit chain");
      return rc == SQLITE_ROW ? s->ColBlob(0) : std::string();
    };
    steps.insert = [&](const AuditRecord& rec) -> Result<int64_t> {
      auto s = Prep(sql);
      if (!s.ok()) return s.status();
      auto p = s->Params();
      rows::BindAuditData(p, rec).Blob(rec.prev_chain);
      if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "appending to the audit trail");
      return static_cast<int64_t>(sqlite3_last_insert_rowid(c_.db()));
    };
    steps.set_chain = [&](int64_t id, const std::string& chain) -> Status {
      auto s = Prep(chain_sql);
      if (!s.ok()) return s.status();
      s->Int(1, id).Blob(2, chain);
      if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "chaining the audit record");
      return Status::Ok();
    };
    return AppendChainedAudit(r, audit_key_, steps);
  }

  Result<std::vector<AuditRecord>> ListAudit(const AuditFilter& f) override {
    if (Status g = Guard(false); !g.ok()) return g;
    // Only fixed fragments go into the SQL text (at most 2^6 variants, each cached); values are
    // bound. Parameter numbers are fixed so every variant binds the same way.
    std::string sql = std::string("SELECT ") + kAuditCols + " FROM audit WHERE 1";
    if (f.org_id) sql += " AND org_id = ?1";
    if (f.actor) sql += " AND actor = ?2";
    if (f.action) sql += " AND action = ?3";
    if (f.from) sql += " AND ts >= ?4";
    if (f.to) sql += " AND ts < ?5";
    if (f.before_id) sql += " AND id < ?6";
    sql += " ORDER BY id DESC LIMIT ?7";
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    if (f.org_id) s->Int(1, *f.org_id);
    if (f.actor) s->Text(2, *f.actor);
    if (f.action) s->Text(3, *f.action);
    if (f.from) s->Int(4, *f.from);
    if (f.to) s->Int(5, *f.to);
    if (f.before_id) s->Int(6, *f.before_id);
    s->Int(7, std::clamp<int64_t>(f.limit, 1, kMaxPageLimit));
    std::vector<AuditRecord> out;
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) out.push_back(rows::ReadAudit(s->row()));
    if (rc != SQLITE_DONE) return Fail(rc, "listing the audit trail");
    return out;
  }

  Result<std::optional<int64_t>> ConsumeUsage(OrgId org, int64_t day, int64_t limit) override {
    static const std::string sql =
        "INSERT INTO usage (org_id, day, used, over_quota) VALUES (?1, ?2, 1, 0) "
        "ON CONFLICT (org_id, day) DO UPDATE SET used = used + 1 WHERE used < ?3 RETURNING used";
    if (Status g = Guard(true); !g.ok()) return g;
    if (limit <= 0) return std::optional<int64_t>();
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org).Int(2, day).Int(3, limit);
    int rc = s->Step();
    if (rc == SQLITE_DONE) return std::optional<int64_t>();
    if (rc != SQLITE_ROW) return Fail(rc, "counting usage", std::nullopt, OrgNotFound());
    std::optional<int64_t> used = s->ColInt(0);
    if ((rc = s->Step()) != SQLITE_DONE) return Fail(rc, "counting usage");
    if (Status st = SyncLatestUsage(org, day); !st.ok()) return st;
    return used;
  }

  // Store::PruneChangeLog: removes the entries up to `through` and raises the floor.
  Result<int64_t> PruneChanges(int64_t through) {
    static const std::string del = "DELETE FROM changes WHERE seq <= ?1";
    static const std::string floor =
        "UPDATE change_floor SET pruned_through = max(pruned_through, ?1)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(del);
    if (!s.ok()) return s.status();
    s->Int(1, through);
    if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "pruning the change log");
    const int64_t removed = sqlite3_changes(c_.db());
    if (removed == 0) return int64_t{0};
    auto f = Prep(floor);
    if (!f.ok()) return f.status();
    f->Int(1, through);
    if (int rc = f->Step(); rc != SQLITE_DONE) return Fail(rc, "pruning the change log");
    return removed;
  }

  Result<RateCheck> ConsumeRate(OrgId org, int64_t per_second, int64_t per_hour,
                                TimeMs now) override {
    static const std::string sql =
        "INSERT INTO rate_windows (org_id, sec_window, in_sec, hour_window, in_hour) "
        "VALUES (?1, ?4, 1, ?5, 1) ON CONFLICT (org_id) DO UPDATE SET "
        "in_sec = CASE WHEN sec_window >= excluded.sec_window THEN in_sec + 1 ELSE 1 END, "
        "sec_window = max(sec_window, excluded.sec_window), "
        "in_hour = CASE WHEN hour_window >= excluded.hour_window THEN in_hour + 1 ELSE 1 END, "
        "hour_window = max(hour_window, excluded.hour_window) "
        "WHERE (sec_window < excluded.sec_window OR in_sec < ?2) "
        "AND (hour_window < excluded.hour_window OR in_hour < ?3) RETURNING 1";
    static const std::string why =
        "SELECT sec_window, in_sec, hour_window, in_hour FROM rate_windows WHERE org_id = ?1";
    if (Status g = Guard(true); !g.ok()) return g;
    RateCheck out;
    const int64_t sec = now >= 0 ? now / 1000 : 0, hour = now >= 0 ? now / 3'600'000 : 0;
    if (per_second > 0 && per_hour > 0) {
      auto s = Prep(sql);
      if (!s.ok()) return s.status();
      s->Int(1, org).Int(2, per_second).Int(3, per_hour).Int(4, sec).Int(5, hour);
      int rc = s->Step();
      if (rc == SQLITE_ROW) {
        if ((rc = s->Step()) != SQLITE_DONE) return Fail(rc, "counting the rate");
        out.admitted = true;
        return out;
      }
      if (rc != SQLITE_DONE) return Fail(rc, "counting the rate", std::nullopt, OrgNotFound());
    }
    auto s = Prep(why);
    if (!s.ok()) return s.status();
    s->Int(1, org);
    int rc = s->Step();
    if (rc == SQLITE_DONE) {  // a zero limit: refused by the per-second window
      out.reset_ms = 1000;
      return out;
    }
    if (rc != SQLITE_ROW) return Fail(rc, "reading the rate windows");
    const int64_t w_sec = s->ColInt(0), n_sec = s->ColInt(1), w_hour = s->ColInt(2);
    if (per_second <= 0 || (w_sec >= sec && n_sec >= per_second)) {
      out.reset_ms = std::max<int64_t>(1, (w_sec + 1) * 1000 - now);
    } else {
      out.hour = true;
      out.reset_ms = std::max<int64_t>(1, (w_hour + 1) * 3'600'000 - now);
    }
    return out;
  }

  Result<std::vector<ThrottleCount>> ExchangeThrottle(const std::string& scope,
                                                      const std::vector<ThrottleCount>& deltas,
                                                      TimeMs now, TimeMs window,
                                                      int max_rows) override {
    static const std::string add =
        "INSERT INTO throttle_counts (scope, key, count, last) VALUES (?1, ?2, max(0, ?3), ?4) "
        "ON CONFLICT (scope, key) DO UPDATE SET count = max(0, CASE WHEN last <= ?5 "
        "THEN ?3 ELSE count + ?3 END), "
        "last = max(last, excluded.last)";
    static const std::string expire = "DELETE FROM throttle_counts WHERE scope = ?1 AND last <= ?2";
    static const std::string live =
        "SELECT key, count, last FROM throttle_counts WHERE scope = ?1 ORDER BY count DESC "
        "LIMIT ?2";
    if (Status g = Guard(true); !g.ok()) return g;
    const TimeMs stale = now - window;
    for (const ThrottleCount& d : deltas) {
      auto s = Prep(add);
      if (!s.ok()) return s.status();
      s->Text(1, scope).Text(2, d.key).Int(3, d.count).Int(4, d.last).Int(5, stale);
      if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "counting throttled attempts");
    }
    {
      auto s = Prep(expire);
      if (!s.ok()) return s.status();
      s->Text(1, scope).Int(2, stale);
      if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "expiring throttle counts");
    }
    auto s = Prep(live);
    if (!s.ok()) return s.status();
    s->Text(1, scope).Int(2, std::max(1, max_rows));
    std::vector<ThrottleCount> out;
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW)
      out.push_back({s->ColText(0), s->ColInt(1), s->ColInt(2)});
    if (rc != SQLITE_DONE) return Fail(rc, "reading throttle counts");
    return out;
  }

  Result<int64_t> LiveNodes() override { return int64_t{1}; }

  Result<int64_t> RecordChange(OrgId org) override {
    static const std::string sql = "INSERT INTO changes (org_id, at) VALUES (?1, ?2)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org).Int(2, SystemClock()->now());
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "recording a change");
    return static_cast<int64_t>(sqlite3_last_insert_rowid(c_.db()));
  }

  // --- Webhooks ---
  Result<int64_t> InsertWebhookEndpoint(const WebhookEndpoint& e) override {
    static const std::string sql =
        "INSERT INTO webhook_endpoints (org_id, url, events, description, seed, old_seed, "
        "old_until, created_at, failing_since) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindEndpointData(p, e);
    int rc = s->Step();
    if (rc != SQLITE_DONE)
      return Fail(rc, "inserting a webhook endpoint", std::nullopt, OrgNotFound());
    return static_cast<int64_t>(sqlite3_last_insert_rowid(c_.db()));
  }

  Result<WebhookEndpoint> GetWebhookEndpoint(int64_t id) override {
    static const std::string sql =
        std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints WHERE id = ?1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, id);
    int rc = s->Step();
    if (rc == SQLITE_DONE) return EndpointNotFound();
    if (rc != SQLITE_ROW) return Fail(rc, "reading a webhook endpoint");
    return rows::ReadEndpoint(s->row());
  }

  Result<std::vector<WebhookEndpoint>> ListWebhookEndpoints(std::optional<OrgId> org) override {
    static const std::string of_org = std::string("SELECT ") + kEndpointCols +
                                      " FROM webhook_endpoints WHERE org_id = ?1 ORDER BY id";
    static const std::string wide = std::string("SELECT ") + kEndpointCols +
                                    " FROM webhook_endpoints WHERE org_id IS NULL ORDER BY id";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(org ? of_org : wide);
    if (!s.ok()) return s.status();
    if (org) s->Int(1, *org);
    std::vector<WebhookEndpoint> out;
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) out.push_back(rows::ReadEndpoint(s->row()));
    if (rc != SQLITE_DONE) return Fail(rc, "listing webhook endpoints");
    return out;
  }

  Status UpdateWebhookEndpoint(const WebhookEndpoint& e) override {
    static const std::string sql =
        "UPDATE webhook_endpoints SET url = ?2, events = ?3, description = ?4, seed = ?5, "
        "old_seed = ?6, old_until = ?7, failing_since = ?8 WHERE id = ?1";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindEndpointUpdate(p, e);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "updating a webhook endpoint");
    if (sqlite3_changes(c_.db()) == 0) return EndpointNotFound();
    return Status::Ok();
  }

  Status DeleteWebhookEndpoint(int64_t id) override {
    static const std::string msgs = "DELETE FROM webhook_outbox WHERE endpoint_id = ?1";
    static const std::string sql = "DELETE FROM webhook_endpoints WHERE id = ?1";
    if (Status g = Guard(true); !g.ok()) return g;
    {
      auto s = Prep(msgs);
      if (!s.ok()) return s.status();
      s->Int(1, id);
      if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "deleting webhook messages");
    }
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, id);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "deleting a webhook endpoint");
    if (sqlite3_changes(c_.db()) == 0) return EndpointNotFound();
    return Status::Ok();
  }

  Result<bool> InsertOutbox(const OutboxMessage& m) override {
    static const std::string sql =
        "INSERT OR IGNORE INTO webhook_outbox (endpoint_id, msg_id, event, payload, dedupe_key, "
        "created_at, state, attempts, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
        "?9)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindOutboxNew(p, m);
    int rc = s->Step();
    if (rc != SQLITE_DONE)
      return Fail(rc, "queueing a webhook message", std::nullopt, EndpointNotFound());
    return sqlite3_changes(c_.db()) > 0;
  }

  Result<std::vector<OutboxMessage>> ClaimOutbox(TimeMs now, TimeMs claim_until,
                                                 int limit) override {
    static const std::string sql =
        std::string("SELECT ") + kOutboxCols +
        " FROM webhook_outbox o WHERE o.state = 'pending' AND o.id = (SELECT min(p.id) FROM "
        "webhook_outbox p WHERE p.endpoint_id = o.endpoint_id AND p.state = 'pending') AND "
        "o.next_attempt_at <= ?1 AND o.claimed_until <= ?1 ORDER BY o.id LIMIT ?2";
    static const std::string claim = "UPDATE webhook_outbox SET claimed_until = ?2 WHERE id = ?1";
    if (Status g = Guard(true); !g.ok()) return g;
    std::vector<OutboxMessage> out;
    {
      auto s = Prep(sql);
      if (!s.ok()) return s.status();
      s->Int(1, now).Int(2, std::max(1, limit));
      int rc;
      while ((rc = s->Step()) == SQLITE_ROW) out.push_back(rows::ReadOutbox(s->row()));
      if (rc != SQLITE_DONE) return Fail(rc, "claiming webhook messages");
    }
    for (OutboxMessage& m : out) {
      auto s = Prep(claim);
      if (!s.ok()) return s.status();
      s->Int(1, m.id).Int(2, claim_until);
      if (int rc = s->Step(); rc != SQLITE_DONE) return Fail(rc, "claiming a webhook message");
      m.claimed_until = claim_until;
    }
    return out;
  }

  Status UpdateOutbox(const OutboxMessage& m) override {
    static const std::string sql =
        "UPDATE webhook_outbox SET state = ?2, attempts = ?3, next_attempt_at = ?4, "
        "claimed_until = ?5, last_status = ?6, last_error = ?7, last_latency_ms = ?8, "
        "delivered_at = ?9 WHERE id = ?1";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindOutboxUpdate(p, m);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "updating a webhook message");
    if (sqlite3_changes(c_.db()) == 0) return OutboxNotFound();
    return Status::Ok();
  }

  Result<std::vector<OutboxMessage>> ListOutbox(int64_t endpoint_id, int limit) override {
    static const std::string sql = std::string("SELECT ") + kOutboxCols +
                                   " FROM webhook_outbox WHERE endpoint_id = ?1 ORDER BY id "
                                   "DESC LIMIT ?2";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, endpoint_id).Int(2, std::max(1, limit));
    std::vector<OutboxMessage> out;
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) out.push_back(rows::ReadOutbox(s->row()));
    if (rc != SQLITE_DONE) return Fail(rc, "listing webhook messages");
    return out;
  }

  Result<bool> OutboxDue(TimeMs now) override {
    static const std::string sql =
        "SELECT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.state = 'pending' AND "
        "o.next_attempt_at <= ?1 AND o.claimed_until <= ?1 AND o.id = (SELECT min(p.id) FROM "
        "webhook_outbox p WHERE p.endpoint_id = o.endpoint_id AND p.state = 'pending'))";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, now);
    int rc = s->Step();
    if (rc != SQLITE_ROW) return Fail(rc, "checking the webhook outbox");
    return s->ColInt(0) != 0;
  }

  Result<int64_t> ReleaseOutboxClaims() override {
    static const std::string sql =
        "UPDATE webhook_outbox SET claimed_until = 0 WHERE claimed_until <> 0 AND state = "
        "'pending'";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "releasing webhook claims");
    return static_cast<int64_t>(sqlite3_changes(c_.db()));
  }

  Result<LeakRecord> GetLeak(OrgId org) override {
    static const std::string sql =
        std::string("SELECT ") + kLeakCols + " FROM leak_reports WHERE org_id = ?1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    s->Int(1, org);
    int rc = s->Step();
    if (rc == SQLITE_DONE) {
      LeakRecord none;
      none.org_id = org;
      return none;
    }
    if (rc != SQLITE_ROW) return Fail(rc, "reading the leak policy");
    return rows::ReadLeak(s->row());
  }

  Status PutLeak(const LeakRecord& r) override {
    static const std::string sql =
        std::string("INSERT INTO leak_reports (") + kLeakCols +
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (org_id) DO UPDATE SET "
        "policy = excluded.policy, reported_at = excluded.reported_at, url = excluded.url, "
        "source = excluded.source, action = excluded.action, token_last4 = excluded.token_last4";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindLeak(p, r);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "storing the leak policy", std::nullopt, OrgNotFound());
    return Status::Ok();
  }

  Status ForEachLeak(const std::function<Status(const LeakRecord&)>& fn) override {
    static const std::string sql =
        std::string("SELECT ") + kLeakCols + " FROM leak_reports ORDER BY org_id";
    return Scan(sql, "exporting leak reports", [&](const Stmt& s) -> Status {
      auto r = rows::ReadLeak(s.row());
      return r.ok() ? fn(*r) : r.status();
    });
  }

  Status ForEachOrg(const std::function<Status(const OrgRecord&)>& fn) override {
    static const std::string sql = std::string("SELECT ") + kOrgCols + " FROM orgs ORDER BY id";
    return Scan(sql, "exporting organizations", [&](const Stmt& s) -> Status {
      auto o = rows::ReadOrg(s.row(), 0);
      return o.ok() ? fn(*o) : o.status();
    });
  }
  Status ForEachUser(const std::function<Status(const UserRecord&)>& fn) override {
    static const std::string sql = std::string("SELECT ") + kUserCols + " FROM users ORDER BY id";
    return Scan(sql, "exporting users", [&](const Stmt& s) -> Status {
      auto u = rows::ReadUser(s.row());
      return u.ok() ? fn(*u) : u.status();
    });
  }
  Status ForEachSession(const std::function<Status(const SessionRecord&)>& fn) override {
    static const std::string sql =
        std::string("SELECT ") + kSessionCols + " FROM sessions ORDER BY id_hash";
    return Scan(sql, "exporting sessions",
                [&](const Stmt& s) { return fn(rows::ReadSession(s.row())); });
  }
  Status ForEachUsage(const std::function<Status(const UsageRecord&)>& fn) override {
    static const std::string sql =
        std::string("SELECT ") + kUsageCols + " FROM usage ORDER BY org_id DESC, day DESC";
    return Scan(sql, "exporting usage",
                [&](const Stmt& s) { return fn(rows::ReadUsage(s.row())); });
  }
  Status ForEachReport(const std::function<Status(const ReportRecord&)>& fn) override {
    static const std::string sql =
        std::string("SELECT ") + kReportCols + " FROM reports ORDER BY org_id, md5";
    return Scan(sql, "exporting reports",
                [&](const Stmt& s) { return fn(rows::ReadReport(s.row())); });
  }
  Status ForEachAudit(const std::function<Status(const AuditRecord&)>& fn) override {
    static const std::string sql = std::string("SELECT ") + kAuditCols + " FROM audit ORDER BY id";
    return Scan(sql, "exporting the audit trail",
                [&](const Stmt& s) { return fn(rows::ReadAudit(s.row())); });
  }

  Status ForEachWebhookEndpoint(const std::function<Status(const WebhookEndpoint&)>& fn) override {
    static const std::string sql =
        std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints ORDER BY id";
    return Scan(sql, "exporting webhook endpoints",
                [&](const Stmt& s) { return fn(rows::ReadEndpoint(s.row())); });
  }
  Status ForEachOutbox(const std::function<Status(const OutboxMessage&)>& fn) override {
    static const std::string sql =
        std::string("SELECT ") + kOutboxCols + " FROM webhook_outbox ORDER BY id";
    return Scan(sql, "exporting the webhook outbox",
                [&](const Stmt& s) { return fn(rows::ReadOutbox(s.row())); });
  }

  Status RestoreWebhookEndpoint(const WebhookEndpoint& e) override {
    static const std::string sql = std::string("INSERT INTO webhook_endpoints (") + kEndpointCols +
                                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindEndpointData(p.Int(e.id), e);
    int rc = s->Step();
    if (rc != SQLITE_DONE)
      return Fail(rc, "restoring a webhook endpoint", EndpointExists(), OrgNotFound());
    return Status::Ok();
  }
  Status RestoreOutbox(const OutboxMessage& m) override {
    static const std::string sql =
        std::string("INSERT INTO webhook_outbox (") + kOutboxCols +
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11, ?12, ?13, ?14)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindOutboxNew(p.Int(m.id), m);
    rows::BindOutboxOutcome(p, m);
    int rc = s->Step();
    if (rc != SQLITE_DONE)
      return Fail(rc, "restoring a webhook message", OutboxExists(), EndpointNotFound());
    return Status::Ok();
  }

  Result<std::optional<SupportContactRecord>> GetSupportContact() override {
    static const std::string sql =
        std::string("SELECT ") + kSupportContactCols + " FROM support_contact WHERE id = 1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    int rc = s->Step();
    if (rc == SQLITE_DONE) return std::optional<SupportContactRecord>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading the support contact");
    return std::optional<SupportContactRecord>(rows::ReadSupportContact(s->row()));
  }
  Status PutSupportContact(const SupportContactRecord& c) override {
    static const std::string sql =
        "INSERT OR REPLACE INTO support_contact (id, name, email, url, phone, updated_at, "
        "updated_by) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindSupportContact(p, c);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "saving the support contact");
    return Status::Ok();
  }
  Status DeleteSupportContact() override {
    static const std::string sql = "DELETE FROM support_contact";
    return Delete(sql, "removing the support contact", [](Stmt&) {});
  }

  Status RestoreOrg(const OrgRecord& org) override {
    static const std::string sql =
        std::string("INSERT INTO orgs (") + kOrgDataCols +
        ", id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindOrgData(p, org).Int(org.id);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "restoring an organization", OrgExists());
    return Status::Ok();
  }
  Status RestoreUser(const UserRecord& u) override {
    static const std::string sql = std::string("INSERT INTO users (") + kUserDataCols +
                                   ", id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindUserData(p, u).Int(u.id);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, "restoring a user", UserExists(), OrgNotFound());
    return Status::Ok();
  }
  Status RestoreAudit(const AuditRecord& r) override {
    static const std::string sql =
        std::string("INSERT INTO audit (id, ") + kAuditDataCols +
        ", prev_chain, chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindAuditData(p.Int(r.id), r).OptBlob(r.prev_chain).OptBlob(r.chain);
    int rc = s->Step();
    if (rc != SQLITE_DONE) {
      return Fail(rc, "restoring an audit record", AuditExists());
    }
    return Status::Ok();
  }
  Status RestoreUsage(const UsageRecord& u) override {
    static const std::string sql =
        std::string("INSERT INTO usage (") + kUsageCols + ") VALUES (?1, ?2, ?3, ?4, ?5)";
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    auto p = s->Params();
    rows::BindUsage(p, u);
    int rc = s->Step();
    if (rc != SQLITE_DONE) {
      return Fail(rc, "restoring usage", UsageExists(), OrgNotFound());
    }
    return SyncLatestUsage(u.org_id, u.day);
  }

 private:
  // Checks that the Tx may run a statement now.
  Status Guard(bool mutating) {
    if (!poison_.ok()) return poison_;
    if (mutating && !writable_) {
      poison_ = MutatingInRead();
      return poison_;
    }
    return Status::Ok();
  }

  // A prepared statement with orgsql's parameters bound.
  Result<Stmt> Bound(const orgsql::Statement& st) {
    auto s = Prep(st.sql);
    if (!s.ok()) return s.status();
    for (size_t i = 0; i < st.params.size(); ++i) {
      const int n = static_cast<int>(i + 1);
      if (st.params[i].is_text)
        s->Text(n, st.params[i].s);
      else
        s->Int(n, st.params[i].i);
    }
    return s;
  }
  Result<Stmt> Prep(const std::string& sql) {
    auto s = c_.Prepare(sql);
    if (!s.ok()) poison_ = s.status();
    return s;
  }

  // Turns a failed step into a Status. `on_unique` answers a UNIQUE/PRIMARY KEY violation, `on_fk`
  // a FOREIGN KEY violation (a missing parent row). Any other error poisons the Tx, as does any
  // error after which SQLite has rolled the transaction back.
  Status Fail(int rc, std::string_view what, std::optional<Status> on_unique = std::nullopt,
              std::optional<Status> on_fk = std::nullopt) {
    bool tx_open = !sqlite3_get_autocommit(c_.db());
    if (tx_open && on_unique && IsUniqueViolation(rc)) return *on_unique;
    if (tx_open && on_fk && rc == SQLITE_CONSTRAINT_FOREIGNKEY) return *on_fk;
    Status st = SqlError(c_.db(), rc, what);
    if (!tx_open && st.http_status() != 503) {
      st = Status::Unavailable("store: " + std::string(what) +
                               " failed and the transaction was rolled back");
    }
    poison_ = st;
    return st;
  }

  template <typename BindFn>
  Result<OrgRecord> GetOneOrg(const std::string& sql, BindFn bind) {
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    bind(*s);
    int rc = s->Step();
    if (rc == SQLITE_DONE) return OrgNotFound();
    if (rc != SQLITE_ROW) return Fail(rc, "reading an organization");
    return rows::ReadOrg(s->row(), 0);
  }

  template <typename BindFn>
  Result<UserRecord> GetOneUser(const std::string& sql, BindFn bind) {
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    bind(*s);
    int rc = s->Step();
    if (rc == SQLITE_DONE) return UserNotFound();
    if (rc != SQLITE_ROW) return Fail(rc, "reading a user");
    return rows::ReadUser(s->row());
  }

  // Runs a read-only query and calls fn for each row; stops at fn's first error.
  template <typename RowFn>
  Status Scan(const std::string& sql, std::string_view what, RowFn fn) {
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      if (Status st = fn(*s); !st.ok()) return st;
    }
    if (rc != SQLITE_DONE) return Fail(rc, what);
    return Status::Ok();
  }

  // A DELETE that is not an error when nothing matches.
  template <typename BindFn>
  Status Delete(const std::string& sql, std::string_view what, BindFn bind) {
    if (Status g = Guard(true); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    bind(*s);
    int rc = s->Step();
    if (rc != SQLITE_DONE) return Fail(rc, what);
    return Status::Ok();
  }

  Conn& c_;
  const bool writable_;
  const std::string& audit_key_;
  Status poison_;
};

// Runs fn in one transaction on `c` (BEGIN IMMEDIATE when writable, else a deferred BEGIN that
// takes its snapshot at the first read). Commits only if fn returned OK and the Tx is not
// poisoned; otherwise, and if fn throws, rolls back. A failed COMMIT is rolled back and reported
// as 503 STORE_UNAVAILABLE.
Status RunTx(Conn& c, bool writable, const std::string& audit_key,
             const std::function<Status(Tx&)>& fn) {
  RollbackIfOpen(c);  // heal a connection left in a transaction by a failed ROLLBACK
  if (int rc = c.Run(writable ? Conn::kBeginImmediate : Conn::kBegin); rc != SQLITE_OK) {
    RollbackIfOpen(c);
    return SqlError(c.db(), rc, "starting a transaction");
  }
  struct RollbackUnlessCommitted {
    Conn& c;
    bool committed = false;
    ~RollbackUnlessCommitted() {
      if (!committed) RollbackIfOpen(c);
    }
  } guard{c};

  SqliteTx tx(c, writable, audit_key);
  Status result = fn(tx);
  if (!result.ok()) return result;
  if (!tx.poison().ok()) return tx.poison();
  if (sqlite3_get_autocommit(c.db())) {
    return Status::Unavailable("store: the transaction was rolled back by the database");
  }
  int rc = c.Run(Conn::kCommit);
  if (rc != SQLITE_OK) {
    return Status::Unavailable(std::string("store: commit failed and was rolled back: ") +
                               sqlite3_errstr(rc));
  }
  guard.committed = true;
  return Status::Ok();
}

// The store whose transaction the current thread is running (to refuse nested transactions,
// which would deadlock on the write mutex or see a different snapshot).
thread_local const void* t_active_store = nullptr;

class ActiveStoreScope {
 public:
  explicit ActiveStoreScope(const void* store) : prev_(t_active_store), nested_(prev_ == store) {
    t_active_store = store;
  }
  ~ActiveStoreScope() { t_active_store = prev_; }
  ActiveStoreScope(const ActiveStoreScope&) = delete;
  ActiveStoreScope& operator=(const ActiveStoreScope&) = delete;
  bool nested() const { return nested_; }

 private:
  const void* prev_;
  bool nested_;
};

// The database's change counter: 8 bytes in the file `<database>-stamp`, mapped shared by every
// process that opens the database through this store (server, CLI), and bumped by each of them
// after every write transaction. Loading it costs nanoseconds, where asking SQLite (PRAGMA
// data_version) costs a read transaction and its file locks. Writers that bypass this store (the
// sqlite3 shell) do not bump it: like the token index, read caches then see their change only at
// the next bump or restart. Thread-safe; movable, not copyable.
class ChangeCounter {
 public:
  static Result<ChangeCounter> Open(const std::string& db_path) {
    const std::string path = db_path + "-stamp";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Fail(path, "open");
    struct stat st {};
    void* map = MAP_FAILED;
    if (::fstat(fd, &st) == 0 &&
        (st.st_size >= kBytes || ::ftruncate(fd, kBytes) == 0)) {  // never shrinks
      map = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    const int err = errno;
    ::close(fd);
    if (map == MAP_FAILED) {
      errno = err;
      return Fail(path, "map");
    }
    return ChangeCounter(static_cast<uint64_t*>(map));
  }
  ChangeCounter(ChangeCounter&& o) noexcept : word_(std::exchange(o.word_, nullptr)) {}
  ChangeCounter& operator=(ChangeCounter&&) = delete;
  ~ChangeCounter() {
    if (word_) ::munmap(word_, kBytes);
  }
  uint64_t Load() const { return std::atomic_ref<uint64_t>(*word_).load(); }
  void Bump() { std::atomic_ref<uint64_t>(*word_).fetch_add(1); }

 private:
  static constexpr off_t kBytes = 8;
  static_assert(std::atomic_ref<uint64_t>::is_always_lock_free, "shared between processes");
  explicit ChangeCounter(uint64_t* word) : word_(word) {}
  static Status Fail(const std::string& path, const char* what) {
    return Status::Unavailable("store: cannot " + std::string(what) + " the change counter " +
                               path + ": " + std::strerror(errno));
  }
  uint64_t* word_;  // in the shared mapping
};

// Thread-safe. The writer connection is used only under write_mu_; reader connections are leased
// from the pool to one thread at a time. Destroy only when no call is in progress.
class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, SqliteOptions options, std::unique_ptr<Conn> writer,
              ChangeCounter counter)
      : path_(std::move(path)),
        options_(options),
        counter_(std::move(counter)),
        writer_(std::move(writer)) {}

  ~SqliteStore() override {
    idle_readers_.clear();  // readers first, so the writer's close checkpoints the WAL
    version_conn_.reset();
    writer_.reset();
  }

  Status Write(const std::function<Status(Tx&)>& fn) override {
    ActiveStoreScope scope(this);
    if (scope.nested()) return NestedTransaction();
    std::lock_guard<std::mutex> lock(write_mu_);
    metrics::ScopedTimer timed(metrics::TxTimer(metrics::TxKind::kWrite));
    Status st = RunTx(*writer_, /*writable=*/true, audit_key(), fn);
    // Also after a failure: a failed COMMIT (fsync) may still have reached the file.
    counter_.Bump();
    if (st.http_status() >= 500) metrics::CountTxFailure(metrics::TxKind::kWrite);
    metrics::NoteStoreWrite(st.http_status() < 500);
    return st;
  }

  Status Read(const std::function<Status(Tx&)>& fn) override {
    ActiveStoreScope scope(this);
    if (scope.nested()) return NestedTransaction();
    metrics::ScopedTimer timed(metrics::TxTimer(metrics::TxKind::kRead));
    auto lease = LeaseReader();
    Status st =
        lease.ok() ? RunTx(*lease->conn, /*writable=*/false, audit_key(), fn) : lease.status();
    if (st.http_status() >= 500) metrics::CountTxFailure(metrics::TxKind::kRead);
    return st;
  }

  std::string Describe() const override { return "sqlite:" + path_; }

  // The shared change counter (see ChangeCounter): every process's Write bumps it after its
  // transaction ends, so a load here is a stamp no commit through this backend can slip past.
  std::optional<uint64_t> ChangeStamp() override {
    NoticeForeignCommits();
    return counter_.Load();
  }

  Result<int64_t> ChangeHorizon() override {
    if (t_active_store == this) return NestedTransaction();
    auto lease = LeaseReader();
    if (!lease.ok()) return lease.status();
    return QueryInt(*lease->conn, kChangeHorizonSql, "reading the change log");
  }

  // Only this process's catch-up follows a SQLite file: what it applied can go.
  Result<int64_t> PruneChangeLog() override {
    if (!following_.load()) return int64_t{0};
    if (t_active_store == this) return NestedTransaction();
    std::lock_guard<std::mutex> lock(follow_mu_);
    const int64_t through = applied_seq_;
    int64_t removed = 0;
    Status st = Write([&](Tx& tx) -> Status {
      auto r = static_cast<SqliteTx&>(tx).PruneChanges(through);
      if (!r.ok()) return r.status();
      removed = *r;
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return removed;
  }

  // No thread: CatchUp applies what other processes recorded, when the change counter moved.
  Status Follow(const std::string&, int64_t from_seq, FollowHooks hooks) override {
    std::lock_guard<std::mutex> lock(follow_mu_);
    if (following_.load()) return AlreadyFollowing();
    hooks_ = std::move(hooks);
    applied_seq_ = from_seq;
    // The index was loaded after from_seq was read: anything later is in the log.
    caught_up_at_.store(0);
    following_.store(true);
    return Status::Ok();
  }

  Status CatchUp() override {
    if (!following_.load(std::memory_order_acquire)) return Status::Ok();
    if (counter_.Load() == caught_up_at_.load(std::memory_order_acquire)) return Status::Ok();
    if (t_active_store == this) return NestedTransaction();
    std::unique_lock<std::mutex> lock(follow_mu_);
    const uint64_t counter = counter_.Load();  // before reading the log it vouches for
    if (counter == caught_up_at_.load()) return Status::Ok();  // another caller just did it
    static const std::string changes =
        "SELECT seq, org_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT " +
        std::to_string(kChangeBatch);
    auto read_after = [&](int64_t after) -> Result<std::vector<LoggedChange>> {
      auto lease = LeaseReader();
      if (!lease.ok()) return lease.status();
      auto st = lease->conn->Prepare(changes);
      if (!st.ok()) return st.status();
      st->Int(1, after);
      std::vector<LoggedChange> batch;
      int rc;
      while ((rc = st->Step()) == SQLITE_ROW) batch.push_back({st->ColInt(0), st->ColInt(1)});
      if (rc != SQLITE_DONE) return SqlError(lease->conn->db(), rc, "reading the change log");
      return batch;
    };
    // On an error applied_seq_ stays at the last batch applied: retried from there.
    const int64_t start = applied_seq_;
    if (Status st = ApplyChangeLog(read_after, hooks_, &applied_seq_); !st.ok()) return st;
    auto read_int = [&](const char* sql) -> Result<int64_t> {
      auto lease = LeaseReader();
      if (!lease.ok()) return lease.status();
      return QueryInt(*lease->conn, sql, "reading the change log");
    };
    if (Status st = ReloadIfPruned(
            start, [&] { return read_int("SELECT pruned_through FROM change_floor"); },
            [&] { return read_int(kChangeHorizonSql); }, hooks_, &applied_seq_);
        !st.ok())
      return st;
    caught_up_at_.store(counter, std::memory_order_release);
    // Now and then (every kPruneAfter changes applied) the applied entries go.
    if (applied_seq_ - pruned_seq_ >= kPruneAfter) {
      pruned_seq_ = applied_seq_;
      prune_due_.store(true);
    }
    lock.unlock();
    if (prune_due_.exchange(false)) (void)PruneChangeLog();
    return Status::Ok();
  }

  Status Ping() override {
    if (t_active_store == this) return NestedTransaction();  // could wait forever for a reader
    auto lease = LeaseReader();
    if (!lease.ok()) return lease.status();
    auto v = QueryInt(*lease->conn, "SELECT max(version) FROM schema_version", "ping");
    return v.ok() ? Status::Ok() : v.status();
  }

 private:
  // A reader connection checked out of the pool; returned to it on destruction.
  struct Lease {
    SqliteStore* store;
    std::unique_ptr<Conn> conn;
    Lease(SqliteStore* s, std::unique_ptr<Conn> c) : store(s), conn(std::move(c)) {}
    Lease(Lease&& o) noexcept : store(o.store), conn(std::move(o.conn)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn) store->ReturnReader(std::move(conn));
    }
  };

  // At most every foreign_check_interval_ms (one caller at a time; the others go on): when
  // SQLite's data version moved since the previous check, bumps the counter. That covers commits
  // the counter did not see (a writer bypassing this store, one killed before its bump) and, at
  // worst, empties read caches once more per interval after our own writes.
  void NoticeForeignCommits() {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    if (now < next_foreign_check_ms_.load(std::memory_order_relaxed)) return;
    std::unique_lock<std::mutex> lock(version_mu_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    next_foreign_check_ms_.store(now + options_.foreign_check_interval_ms,
                                 std::memory_order_relaxed);
    if (!version_conn_) {
      auto c = Conn::Open(path_, /*reader=*/true, options_);
      if (!c.ok()) return;
      version_conn_ = std::move(c).value();
    }
    auto v = QueryInt(*version_conn_, "PRAGMA data_version", "reading the data version");
    if (!v.ok()) return;
    if (last_data_version_ && *last_data_version_ != *v) counter_.Bump();
    last_data_version_ = *v;
  }

  // An idle reader, a newly opened one if fewer than max_readers exist, or waits for one.
  Result<Lease> LeaseReader() {
    std::unique_lock<std::mutex> lock(pool_mu_);
    const int max_readers = std::max(1, options_.max_readers);
    pool_cv_.wait(lock, [&] { return !idle_readers_.empty() || open_readers_ < max_readers; });
    if (!idle_readers_.empty()) {
      std::unique_ptr<Conn> c = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Lease(this, std::move(c));
    }
    ++open_readers_;
    lock.unlock();
    auto c = Conn::Open(path_, /*reader=*/true, options_);
    if (!c.ok()) {
      lock.lock();
      --open_readers_;
      pool_cv_.notify_one();
      return c.status();
    }
    return Lease(this, std::move(c).value());
  }

  void ReturnReader(std::unique_ptr<Conn> c) {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      idle_readers_.push_back(std::move(c));
    }
    pool_cv_.notify_one();
  }

  const std::string path_;
  const SqliteOptions options_;
  ChangeCounter counter_;
  // Following (Follow/CatchUp): the counter value the index is caught up with.
  std::atomic<bool> following_{false};
  std::atomic<uint64_t> caught_up_at_{0};
  std::mutex follow_mu_;     // one catch-up at a time
  FollowHooks hooks_;        // set once by Follow; guarded by follow_mu_
  int64_t applied_seq_ = 0;  // the newest change applied; guarded by follow_mu_
  static constexpr int64_t kPruneAfter = 1000;
  int64_t pruned_seq_ = 0;  // applied_seq_ when a prune was last asked for; guarded by follow_mu_
  std::atomic<bool> prune_due_{false};
  std::atomic<int64_t> next_foreign_check_ms_{0};  // steady clock
  std::mutex version_mu_;
  std::unique_ptr<Conn> version_conn_;        // PRAGMA data_version only; guarded by version_mu_
  std::optional<int64_t> last_data_version_;  // guarded by version_mu_

  std::mutex write_mu_;
  std::unique_ptr<Conn> writer_;  // guarded by write_mu_

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Conn>> idle_readers_;  // guarded by pool_mu_
  int open_readers_ = 0;                             // idle + leased; guarded by pool_mu_
};

// Brings the schema up to `target` (<= kSchemaVersion), one migration per transaction. Safe
// against another process migrating at the same time: the version is re-read under the write lock
// each step. A database already past `target` (but not past kSchemaVersion) is left as it is.
Status Migrate(Conn& c, int target) {
  for (;;) {
    if (Status st = c.Exec("BEGIN IMMEDIATE", "starting a migration"); !st.ok()) return st;
    struct RollbackUnlessCommitted {
      Conn& c;
      ~RollbackUnlessCommitted() { RollbackIfOpen(c); }
    } guard{c};
    if (Status st = c.Exec("CREATE TABLE IF NOT EXISTS schema_version ("
                           "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                           "creating the schema_version table");
        !st.ok()) {
      return st;
    }
    auto current = QueryInt(c, "SELECT coalesce(max(version), 0) FROM schema_version",
                            "reading the schema version");
    if (!current.ok()) return current.status();
    if (*current > kSchemaVersion) {
      return SchemaTooNew(*current, kSchemaVersion,
                          "; run a newer build or restore a backup made by this one");
    }
    if (*current >= target) return c.Exec("COMMIT", "reading the schema version");
    const int next = static_cast<int>(*current) + 1;
    const std::string what = "migrating to schema version " + std::to_string(next);
    if (Status st = c.Exec(kMigrations[next - 1], what); !st.ok()) return st;
    {
      auto s = c.Prepare("INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)");
      if (!s.ok()) return s.status();
      s->Int(1, next).Int(2, SystemClock()->now());
      int rc = s->Step();
      if (rc != SQLITE_DONE) return SqlError(c.db(), rc, what);
    }
    if (Status st = c.Exec("COMMIT", what); !st.ok()) return st;
  }
}

// Creates the file with mode 0600 if it does not exist, so the database (and its -wal and -shm
// files, which copy its mode) is private to the service's user.
Status CreatePrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::Ok();
  return Status::Unavailable("store: cannot create database " + path + ": " + std::strerror(errno));
}

}  // namespace

int SqliteSchemaVersion() { return kSchemaVersion; }
const char* SqliteMigrationSql(int version) {
  return version >= 1 && version <= kSchemaVersion ? kMigrations[version - 1] : "";
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                               const SqliteOptions& options) {
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) {
    return Status::Internal("store: the database path must name a file");
  }
  if (Status st = CreatePrivateFile(path); !st.ok()) return st;
  auto writer = Conn::Open(path, /*reader=*/false, options);
  if (!writer.ok()) return writer.status();
  Conn& c = **writer;

  auto mode = QueryText(c, "PRAGMA journal_mode = WAL", "enabling WAL journal mode");
  if (!mode.ok()) return mode.status();
  if (*mode != "wal") {
    return Status::Internal("store: the database could not be switched to WAL journal mode (got " +
                            *mode + ")");
  }
  const int target = options.max_schema_version >= 1 && options.max_schema_version < kSchemaVersion
                         ? options.max_schema_version
                         : kSchemaVersion;
  if (Status st = Migrate(c, target); !st.ok()) return st;
  auto counter = ChangeCounter::Open(path);
  if (!counter.ok()) return counter.status();
  counter->Bump();  // migrations may have changed the schema
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(
      path, options, std::move(writer).value(), std::move(counter).value()));
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  return OpenSqliteStore(path, SqliteOptions{});
}

}  // namespace sandgate::store
