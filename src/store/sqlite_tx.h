// Internal to the SQLite backend: the transaction (sqlite_tx.cc; webhooks, leak reports, the
// support contact, export and restore in sqlite_tx_data.cc).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/org_query.h"
#include "store/row_layout.h"
#include "store/row_mapping.h"
#include "store/sqlite_conn.h"
#include "store/store.h"
#include "store/store_errors.h"
#include "store/tx_methods.h"

namespace sandgate::store::sqlitedb {

using namespace layout;  // column lists and value parsing shared with the other backend
using namespace errors;  // the statuses both backends answer

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

  SANDGATE_STORE_TX_METHODS;  // tx_methods.h

  // orgs.usage_day/used_today/over_quota_today: the usage row of the organization's latest day
  // (migration 10), after a write to its row of `day`.
  Status SyncLatestUsage(OrgId org, int64_t day);

  // Store::PruneChangeLog: removes the entries up to `through` and raises the floor.
  Result<int64_t> PruneChanges(int64_t through);
  Result<int64_t> LiveNodes() override { return int64_t{1}; }

 private:
  // Checks that the Tx may run a statement now.
  Status Guard(bool mutating);

  // A prepared statement with orgsql's parameters bound.
  Result<Stmt> Bound(const orgsql::Statement& st);
  Result<Stmt> Prep(const std::string& sql);

  // Turns a failed step into a Status. `on_unique` answers a UNIQUE/PRIMARY KEY violation, `on_fk`
  // a FOREIGN KEY violation (a missing parent row). Any other error poisons the Tx, as does any
  // error after which SQLite has rolled the transaction back.
  Status Fail(int rc, std::string_view what, std::optional<Status> on_unique = std::nullopt,
              std::optional<Status> on_fk = std::nullopt);
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

  // Runs a read-only query with parameters set by bind(Stmt&) and calls fn for each row; stops at
  // fn's first error.
  template <typename BindFn, typename RowFn>
  Status Scan(const std::string& sql, std::string_view what, BindFn bind, RowFn fn) {
    if (Status g = Guard(false); !g.ok()) return g;
    auto s = Prep(sql);
    if (!s.ok()) return s.status();
    bind(*s);
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      if (Status st = fn(*s); !st.ok()) return st;
    }
    if (rc != SQLITE_DONE) return Fail(rc, what);
    return Status::Ok();
  }
  // Scan of a query without parameters.
  template <typename RowFn>
  Status Scan(const std::string& sql, std::string_view what, RowFn fn) {
    return Scan(
        sql, what, [](Stmt&) {}, fn);
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
             const std::function<Status(Tx&)>& fn);

}  // namespace sandgate::store::sqlitedb
