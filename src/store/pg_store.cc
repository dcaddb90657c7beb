#include "store/pg_store.h"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/no_wait.h"
#include "metrics/sandgate_metrics.h"
#include "store/audit_chain.h"
#include "store/change_log.h"
#include "store/org_query.h"
#include "store/row_layout.h"
#include "store/row_mapping.h"
#include "store/store_errors.h"

namespace sandgate::store {
namespace {

using namespace layout;  // column lists and value parsing shared with the other backend
using namespace errors;  // the statuses both backends answer

using domain::Subscription;
using SteadyClock = std::chrono::steady_clock;

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

// After a usage write (a CTE `u` RETURNING org_id, day, used, over_quota): the organization's row
// keeps the usage of its latest day (migration 10), in the same statement.
constexpr const char* kSyncLatestUsage =
    "UPDATE orgs o SET usage_day = u.day, used_today = u.used, over_quota_today = u.over_quota "
    "FROM u WHERE o.id = u.org_id AND o.usage_day <= u.day";

// Every write transaction starts by taking the cluster-wide write lock (see the header).
constexpr const char* kBeginWriteTx = "BEGIN ISOLATION LEVEL READ COMMITTED";
constexpr const char* kWriteLock = "SELECT pg_advisory_xact_lock(74110001)";
constexpr const char* kMigrateLock = "SELECT pg_advisory_xact_lock(74110002)";
constexpr const char* kChangesChannel = "sandgate_changes";
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

// ---------------------------------------------------------------------------------------------
// libpq wrappers

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// A result set in text format (bytea arrives as \x hex).
class Rows {
 public:
  explicit Rows(ResultPtr r) : r_(std::move(r)) {}
  int size() const { return PQntuples(r_.get()); }
  int64_t affected() const {
    const char* n = PQcmdTuples(r_.get());
    return n && *n ? std::stoll(n) : 0;
  }
  bool Null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       static_cast<size_t>(PQgetlength(r_.get(), row, col)));
  }
  int64_t Int(int row, int col) const { return std::stoll(PQgetvalue(r_.get(), row, col)); }
  std::optional<int64_t> OptInt(int row, int col) const {
    if (Null(row, col)) return std::nullopt;
    return Int(row, col);
  }
  bool Bool(int row, int col) const { return PQgetvalue(r_.get(), row, col)[0] == 't'; }
  std::string Bytes(int row, int col) const {
    const char* v = PQgetvalue(r_.get(), row, col);
    std::string_view s(v, static_cast<size_t>(PQgetlength(r_.get(), row, col)));
    std::string out;
    if (s.size() < 2 || s[0] != '\\' || s[1] != 'x') return out;  // bytea_output is hex
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return c - 'A' + 10;
    };
    out.reserve((s.size() - 2) / 2);
    for (size_t i = 2; i + 1 < s.size(); i += 2)
      out.push_back(static_cast<char>(nib(s[i]) << 4 | nib(s[i + 1])));
    return out;
  }

  // Row `i` as a rows::RowReader (store/row_mapping.h).
  class RowView {
   public:
    RowView(const Rows& r, int i) : r_(r), i_(i) {}
    int64_t Int(int c) const { return r_.Int(i_, c); }
    std::optional<int64_t> OptInt(int c) const { return r_.OptInt(i_, c); }
    std::string Text(int c) const { return r_.Text(i_, c); }
    std::string Blob(int c) const { return r_.Bytes(i_, c); }
    bool Bool(int c) const { return r_.Bool(i_, c); }

   private:
    const Rows& r_;
    int i_;
  };
  RowView Row(int i) const { return RowView(*this, i); }

 private:
  ResultPtr r_;
};

// Statement parameters: numbers and text in text format, binary values in binary format.
class Params {
 public:
  Params& Int(int64_t v) { return Add(std::to_string(v), 0, false); }
  Params& OptInt(const std::optional<int64_t>& v) {
    return v ? Int(*v) : Add(std::string(), 0, true);
  }
  Params& Text(std::string_view v) { return Add(std::string(v), 0, false); }
  Params& Bool(bool v) { return Add(v ? "t" : "f", 0, false); }
  Params& Bytes(std::string_view v) { return Add(std::string(v), 1, false); }
  Params& Null() { return Add(std::string(), 0, true); }
  // This list as an lvalue, so that a temporary can go through the rows:: binders.
  Params& Ref() { return *this; }
  // As a rows::ParamSink (store/row_mapping.h): OptBlob binds NULL when empty.
  Params& Blob(std::string_view v) { return Bytes(v); }
  Params& OptBlob(std::string_view v) { return v.empty() ? Null() : Bytes(v); }

  int count() const { return static_cast<int>(values_.size()); }
  // Pointers valid while this object lives and is not modified.
  void Arrays(std::vector<const char*>* vals, std::vector<int>* lens,
              std::vector<int>* fmts) const {
    for (size_t i = 0; i < values_.size(); ++i) {
      vals->push_back(null_[i] ? nullptr : values_[i].data());
      lens->push_back(static_cast<int>(values_[i].size()));
      fmts->push_back(formats_[i]);
    }
  }

 private:
  Params& Add(std::string v, int fmt, bool null) {
    values_.push_back(std::move(v));
    formats_.push_back(fmt);
    null_.push_back(null);
    return *this;
  }
  std::vector<std::string> values_;
  std::vector<int> formats_;
  std::vector<bool> null_;
};

std::string SqlState(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s ? s : "";
}

std::string ConstraintName(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : nullptr;
  return s ? s : "";
}

// Failures of the storage itself (retrying later may work): the connection, resources, operator
// intervention (shutdown, timeouts), serialization and lock timeouts.
bool IsUnavailable(PGconn* c, const std::string& state) {
  if (c == nullptr || PQstatus(c) != CONNECTION_OK || state.empty()) return true;
  const std::string cls = state.substr(0, 2);
  return cls == "08" || cls == "53" || cls == "57" || cls == "58" || cls == "40" ||
         state == "55P03" || state == "55006";
}

// 503 STORE_UNAVAILABLE or 500 INTERNAL. Only PostgreSQL's primary message is used: its DETAIL
// can quote key values, and bound values may be secrets.
Status PgError(PGconn* c, const PGresult* r, std::string_view what) {
  std::string msg = "store: " + std::string(what) + " failed: ";
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (primary != nullptr) {
    msg += primary;
  } else if (c != nullptr && PQstatus(c) != CONNECTION_OK) {
    msg += "the connection to PostgreSQL was lost";
  } else {
    msg += "no answer from PostgreSQL";
  }
  if (IsUnavailable(c, SqlState(r))) return Status::Unavailable(std::move(msg));
  return Status::Internal(std::move(msg));
}

void IgnoreNotice(void*, const char*) {}

// One connection with its prepared statements. Not thread-safe: one thread at a time.
class Conn {
 public:
  ~Conn() { PQfinish(c_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  static Result<std::unique_ptr<Conn>> Open(const std::string& url, const PgOptions& o) {
    const std::string timeout = std::to_string(std::max(1, o.connect_timeout_s));
    // connect_timeout first: values expanded from the URL (dbname) override it if given there.
    const char* keys[] = {"connect_timeout", "dbname", "application_name", nullptr};
    const char* vals[] = {timeout.c_str(), url.c_str(), "sandgate", nullptr};
    std::unique_ptr<Conn> conn(new Conn(PQconnectdbParams(keys, vals, /*expand_dbname=*/1)));
    if (conn->c_ == nullptr || PQstatus(conn->c_) != CONNECTION_OK) {
      std::string why = conn->c_ ? PQerrorMessage(conn->c_) : "out of memory";
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      return Status::Unavailable("store: cannot connect to PostgreSQL at " + RedactPgUrl(url) +
                                 ": " + why);
    }
    PQsetNoticeProcessor(conn->c_, IgnoreNotice, nullptr);
    Status st = conn->Exec(
        "SET statement_timeout = 30000; SET lock_timeout = 10000; "
        "SET idle_in_transaction_session_timeout = 60000; SET bytea_output = 'hex'; "
        "SET client_encoding = 'UTF8'",
        "configuring the connection");
    if (!st.ok()) return st;
    return conn;
  }

  PGconn* raw() const { return c_; }
  bool broken() const { return bad_ || PQstatus(c_) != CONNECTION_OK; }

  // Round trips (issue 19, target 6): commands that open a transaction are not sent on their own
  // but ahead of the transaction's first statement, in the same round trip (libpq's pipeline
  // mode); a transaction that runs no statement sends nothing at all (its COMMIT or ROLLBACK is
  // then a no-op here).
  void Defer(std::vector<const char*> commands) { deferred_ = std::move(commands); }

  // Simple-protocol SQL text (may hold several statements), no parameters, no rows wanted.
  Status Exec(const char* sql, std::string_view what) {
    if (!deferred_.empty()) {
      const std::string_view v(sql);
      if (v == "COMMIT" || v == "ROLLBACK") {  // the transaction never reached the server
        deferred_.clear();
        return Status::Ok();
      }
      std::string all;
      for (const char* d : deferred_) all.append(d).append("; ");
      all.append(sql);
      deferred_.clear();
      return Exec(all.c_str(), what);
    }
    ResultPtr r(PQexec(c_, sql));
    ExecStatusType s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return Status::Ok();
    last_error_ = r ? SqlState(r.get()) : "";
    return PgError(c_, r.get(), what);
  }

  // Runs a statement (prepared once per connection). On error returns the failed result through
  // `err` (for the SQLSTATE and constraint) and the Status. The deferred commands (Defer), then
  // `before`, the statement and `after` go in one round trip; the first that fails is the error
  // (the ones after it are skipped by the server, as in any pipeline).
  Result<Rows> Query(const std::string& sql, const Params& p, std::string_view what,
                     ResultPtr* err = nullptr, std::initializer_list<const char*> before = {},
                     std::initializer_list<const char*> after = {}) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "s" + std::to_string(prepared_.size());
      ResultPtr r(PQprepare(c_, name.c_str(), sql.c_str(), 0, nullptr));
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        Status st = PgError(c_, r.get(), what);
        if (err) *err = std::move(r);
        return st;
      }
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    std::vector<const char*> vals;
    std::vector<int> lens, fmts;
    p.Arrays(&vals, &lens, &fmts);
    if (deferred_.empty() && before.size() == 0 && after.size() == 0) {
      ResultPtr r(PQexecPrepared(c_, it->second.c_str(), p.count(), vals.data(), lens.data(),
                                 fmts.data(), 0));
      ExecStatusType s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
      if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return Rows(std::move(r));
      Status st = PgError(c_, r.get(), what);
      if (err) *err = std::move(r);
      return st;
    }
    std::vector<const char*> head = std::move(deferred_);
    deferred_.clear();
    head.insert(head.end(), before.begin(), before.end());
    return Pipelined(head, it->second, p.count(), vals, lens, fmts, std::vector<const char*>(after),
                     what, err);
  }

 private:
  explicit Conn(PGconn* c) : c_(c) {}

  // head..., the prepared statement `name`, tail... in one pipeline and one round trip.
  Result<Rows> Pipelined(const std::vector<const char*>& head, const std::string& name, int nparams,
                         const std::vector<const char*>& vals, const std::vector<int>& lens,
                         const std::vector<int>& fmts, const std::vector<const char*>& tail,
                         std::string_view what, ResultPtr* err) {
    auto fail = [&](ResultPtr r) -> Status {
      Status st = PgError(c_, r.get(), what);
      if (err) *err = std::move(r);
      return st;
    };
    if (PQenterPipelineMode(c_) != 1) return fail(nullptr);
    bool sent = true;
    for (const char* cmd : head)
      sent = sent && PQsendQueryParams(c_, cmd, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    sent = sent && PQsendQueryPrepared(c_, name.c_str(), nparams, vals.data(), lens.data(),
                                       fmts.data(), 0) == 1;
    for (const char* cmd : tail)
      sent = sent && PQsendQueryParams(c_, cmd, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    sent = sent && PQpipelineSync(c_) == 1;
    const size_t n = head.size() + 1 + tail.size();
    std::vector<ResultPtr> results;
    results.reserve(n);
    bool lost = !sent;
    for (size_t i = 0; i < n && !lost; ++i) {
      ResultPtr r(PQgetResult(c_));
      if (!r) {
        lost = true;
        break;
      }
      while (PGresult* extra = PQgetResult(c_)) PQclear(extra);  // the end of this command
      results.push_back(std::move(r));
    }
    if (!lost) {
      ResultPtr sync(PQgetResult(c_));
      lost = !sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC;
    }
    if (lost || PQexitPipelineMode(c_) != 1) {
      bad_ = true;  // out of step with the server: never used again
      return fail(nullptr);
    }
    for (size_t i = 0; i < results.size(); ++i) {
      const ExecStatusType s = PQresultStatus(results[i].get());
      if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) return fail(std::move(results[i]));
    }
    return Rows(std::move(results[head.size()]));
  }

  PGconn* c_;
  bool bad_ = false;
  std::vector<const char*> deferred_;                      // see Defer
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
  std::string last_error_;
};

// ---------------------------------------------------------------------------------------------
// Record <-> row: store/row_mapping.h, over Rows::RowView and Params.

// ---------------------------------------------------------------------------------------------
// Transactions

// A Tx on one connection with an open transaction; semantics as the SQLite backend's (a failed
// statement other than a handled constraint violation poisons the Tx; a mutating call in a read
// transaction fails). Statements whose constraint violations are answered (409/404) run inside a
// savepoint, because PostgreSQL aborts the whole transaction on any error.
class PgTx final : public Tx {
 public:
  PgTx(Conn& c, bool writable, const std::string& audit_key)
      : c_(c), writable_(writable), audit_key_(audit_key) {}
  const Status& poison() const { return poison_; }
  // Whether this transaction changed something the per-node read caches hold (sessions, users,
  // organizations, tokens, a last use), and the change it recorded itself (0: none).
  bool cache_change() const { return cache_change_; }
  int64_t recorded_change() const { return recorded_change_; }

  Result<OrgRecord> GetOrg(OrgId id) override {
    static const std::string sql = std::string("SELECT ") + kOrgCols + " FROM orgs WHERE id = $1";
    return OneOrg(sql, Params().Int(id));
  }

  Result<OrgRecord> GetOrgByName(const std::string& name) override {
    static const std::string sql = std::string("SELECT ") + kOrgCols +
                                   " FROM orgs WHERE lower(name COLLATE \"C\") = "
                                   "lower($1 COLLATE \"C\")";
    return OneOrg(sql, Params().Text(name));
  }

  Result<OrgId> InsertOrg(const OrgRecord& org) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql =
        std::string("INSERT INTO orgs (") + kOrgDataCols +
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Handled(sql, rows::BindOrgData(Params().Ref(), org), "inserting an organization",
                     OrgExists());
    if (!r.ok()) return r.status();
    return r->Int(0, 0);
  }

  Status UpdateOrg(const OrgRecord& org) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql =
        "UPDATE orgs SET name = $1, created_at = $2, subscription = $3, ends_at = $4, "
        "provider_disabled = $5, disable_reason = $6, disable_note = $7, disabled_at = $8, "
        "disabled_by = $9, daily_allowance = $10, rate_per_second = $11, rate_per_hour = $12, "
        "disable_threshold = $13 WHERE id = $14";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Handled(sql, rows::BindOrgData(Params().Ref(), org).Int(org.id),
                     "updating an organization", OrgExists());
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return OrgNotFound();
    return Status::Ok();
  }

  Result<OrgPage> ListOrgs(const std::string& search, int64_t offset, int64_t limit) override {
    static const std::string count_sql =
        "SELECT count(*) FROM orgs WHERE strpos(lower(name COLLATE \"C\"), "
        "lower($1 COLLATE \"C\")) > 0";
    static const std::string page_sql = std::string("SELECT ") + kOrgCols +
                                        " FROM orgs WHERE strpos(lower(name COLLATE \"C\"), "
                                        "lower($1 COLLATE \"C\")) > 0 "
                                        "ORDER BY id LIMIT $2 OFFSET $3";
    if (Status g = Guard(false); !g.ok()) return g;
    OrgPage page;
    auto n = Run(count_sql, Params().Text(search), "counting organizations");
    if (!n.ok()) return n.status();
    page.total = n->Int(0, 0);
    auto r = Run(page_sql,
                 Params()
                     .Text(search)
                     .Int(std::clamp<int64_t>(limit, 1, kMaxPageLimit))
                     .Int(std::max<int64_t>(offset, 0)),
                 "listing organizations");
    if (!r.ok()) return r.status();
    for (int i = 0; i < r->size(); ++i) {
      auto o = rows::ReadOrg(r->Row(i), 0);
      if (!o.ok()) return o.status();
      page.items.push_back(std::move(o).value());
    }
    return page;
  }

  Result<OrgRowPage> QueryOrgs(const OrgQuery& q) override {
    if (Status g = Guard(false); !g.ok()) return g;
    constexpr auto kDialect = orgsql::Dialect::kPostgres;
    OrgRowPage page;
    auto run = [&](const orgsql::Statement& st) -> Result<std::vector<int64_t>> {
      auto r = RunBuilt(st, "listing organizations");
      if (!r.ok()) return r.status();
      std::vector<int64_t> out;
      for (int i = 0; i < r->size(); ++i) {
        for (int c = 0; c < st.columns; ++c) out.push_back(r->Int(i, c));
      }
      return out;
    };
    auto counts = orgsql::CountList(q, kDialect, run);
    if (!counts.ok()) return counts.status();
    page.total = counts->total;
    auto ids = orgsql::PageIds(q, kDialect, *counts, run);
    if (!ids.ok()) return ids.status();
    if (ids->empty()) return page;
    auto r = RunBuilt(orgsql::BuildRows(*ids, q.day, kDialect), "listing organizations");
    if (!r.ok()) return r.status();
    std::map<OrgId, OrgRow> rows;
    for (int i = 0; i < r->size(); ++i) {
      auto row = rows::ReadOrgRow(r->Row(i));
      if (!row.ok()) return row.status();
      rows.emplace(row->org.id, std::move(row).value());
    }
    for (OrgId id : *ids) {
      auto it = rows.find(id);
      if (it != rows.end()) page.items.push_back(std::move(it->second));
    }
    return page;
  }

  Result<OrgOverviewRecord> OrgOverview(TimeMs now, int64_t day, TimeMs expiring_before, int days,
                                        int top_n) override {
    if (Status g = Guard(false); !g.ok()) return g;
    constexpr auto kPg = orgsql::Dialect::kPostgres;
    OrgOverviewRecord o;
    auto c =
        RunBuilt(orgsql::BuildOverviewCounts(now, expiring_before, kPg), "counting organizations");
    if (!c.ok()) return c.status();
    int64_t* out[] = {&o.orgs,
                      &o.enabled,
                      &o.no_subscription,
                      &o.expired,
                      &o.disabled_quota_threshold,
                      &o.disabled_terms_violation,
                      &o.disabled_other,
                      &o.no_token,
                      &o.expiring};
    for (int i = 0; i < static_cast<int>(std::size(out)); ++i) *out[i] = c->Int(0, i);
    auto u = RunBuilt(orgsql::BuildOverviewUsage(now, day, kPg), "counting usage");
    if (!u.ok()) return u.status();
    o.over80 = u->Int(0, 0);
    o.near_threshold = u->Int(0, 1);
    for (int64_t d = day - days + 1; d <= day; ++d) o.days.push_back({d, 0, 0});
    auto ds = RunBuilt(orgsql::BuildOverviewDays(day - days, day, kPg), "summing usage");
    if (!ds.ok()) return ds.status();
    for (int i = 0; i < ds->size(); ++i) {
      int64_t d = ds->Int(i, 0);
      if (d > day - days && d <= day)
        o.days[static_cast<size_t>(d - (day - days + 1))] = {d, ds->Int(i, 1), ds->Int(i, 2)};
    }
    auto t =
        RunBuilt(orgsql::BuildOverviewTop(day, top_n, kPg), "listing the busiest organizations");
    if (!t.ok()) return t.status();
    for (int i = 0; i < t->size(); ++i) {
      auto row = rows::ReadOrgRow(t->Row(i));
      if (!row.ok()) return row.status();
      o.top.push_back(std::move(row).value());
    }
    return o;
  }

  Result<std::optional<TokenRecord>> GetToken(OrgId org) override {
    static const std::string sql =
        std::string("SELECT ") + kTokenCols + " FROM tokens WHERE org_id = $1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, Params().Int(org), "reading a token");
    if (!r.ok()) return r.status();
    if (r->size() == 0) return std::optional<TokenRecord>();
    return std::optional<TokenRecord>(rows::ReadToken(r->Row(0), 0));
  }

  Status InsertToken(const TokenRecord& t) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql = std::string("INSERT INTO tokens (") + kTokenCols +
                                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    if (Status g = Guard(true); !g.ok()) return g;
    std::string constraint;
    auto r = Handled(sql, rows::BindToken(Params().Ref(), t), "inserting a token",
                     TokenHashExists(), OrgNotFound(), &constraint);
    if (!r.ok() && r.status().code() == "TOKEN_HASH_EXISTS" && constraint == "tokens_pkey") {
      return TokenExists();
    }
    return r.status();
  }

  Status ReplaceToken(const TokenRecord& t) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql =
        "UPDATE tokens SET lookup_hash = $2, sealed = $3, key_id = $4, last4 = $5, "
        "created_at = $6, last_modified_by = $7, last_modified_on = $8 WHERE org_id = $1";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r =
        Handled(sql, rows::BindToken(Params().Ref(), t), "replacing a token", TokenHashExists());
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return TokenNotFound();
    return Status::Ok();
  }

  Status DeleteToken(OrgId org) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql = "DELETE FROM tokens WHERE org_id = $1";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Run(sql, Params().Int(org), "deleting a token");
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return TokenNotFound();
    return Status::Ok();
  }

  Status ForEachToken(
      const std::function<void(const TokenRecord&, const OrgRecord&)>& fn) override {
    static const std::string sql =
        "SELECT t.org_id, t.lookup_hash, t.sealed, t.key_id, t.last4, t.created_at, "
        "t.last_modified_by, t.last_modified_on, "
        "o.id, o.name, o.created_at, o.subscription, o.ends_at, o.provider_disabled, "
        "o.disable_reason, o.disable_note, o.disabled_at, o.disabled_by, o.daily_allowance, "
        "o.rate_per_second, o.rate_per_hour, o.disable_threshold "
        "FROM tokens t JOIN orgs o ON o.id = t.org_id WHERE t.org_id > $1 "
        "ORDER BY t.org_id LIMIT 10000";
    if (Status g = Guard(false); !g.ok()) return g;
    // Keyset pages keep the client's memory bounded on large installations.
    int64_t after = std::numeric_limits<int64_t>::min();
    for (;;) {
      auto r = Run(sql, Params().Int(after), "listing tokens");
      if (!r.ok()) return r.status();
      for (int i = 0; i < r->size(); ++i) {
        TokenRecord t = rows::ReadToken(r->Row(i), 0);
        auto o = rows::ReadOrg(r->Row(i), 8);
        if (!o.ok()) return o.status();
        after = t.org_id;
        fn(t, *o);
      }
      if (r->size() < 10000) return Status::Ok();
    }
  }

  Result<UserRecord> GetUser(UserId id) override {
    static const std::string sql = std::string("SELECT ") + kUserCols + " FROM users WHERE id = $1";
    return OneUser(sql, Params().Int(id));
  }

  Result<UserRecord> GetUserByName(const std::string& name) override {
    static const std::string sql = std::string("SELECT ") + kUserCols +
                                   " FROM users WHERE lower(username COLLATE \"C\") = "
                                   "lower($1 COLLATE \"C\")";
    return OneUser(sql, Params().Text(name));
  }

  Result<UserId> InsertUser(const UserRecord& u) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql = std::string("INSERT INTO users (") + kUserDataCols +
                                   ") VALUES ($1, $2, $3, $4, $5) RETURNING id";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Handled(sql, rows::BindUserData(Params().Ref(), u), "inserting a user", UserExists(),
                     OrgNotFound());
    if (!r.ok()) return r.status();
    return r->Int(0, 0);
  }

  Status UpdateUser(const UserRecord& u) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql =
        "UPDATE users SET username = $1, password_hash = $2, role = $3, org_id = $4, "
        "created_at = $5 WHERE id = $6";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Handled(sql, rows::BindUserData(Params().Ref(), u).Int(u.id), "updating a user",
                     UserExists(), OrgNotFound());
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return UserNotFound();
    return Status::Ok();
  }

  Status DeleteUser(UserId id) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql = "DELETE FROM users WHERE id = $1";
    if (Status st = DeleteSessionsOfUser(id); !st.ok()) return st;
    auto r = Run(sql, Params().Int(id), "deleting a user");
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return UserNotFound();
    return Status::Ok();
  }

  Result<std::vector<UserRecord>> ListUsers(std::optional<OrgId> org) override {
    static const std::string by_org =
        std::string("SELECT ") + kUserCols + " FROM users WHERE org_id = $1 ORDER BY id";
    static const std::string provider =
        std::string("SELECT ") + kUserCols + " FROM users WHERE org_id IS NULL ORDER BY id";
    if (Status g = Guard(false); !g.ok()) return g;
    Params p;
    if (org) p.Int(*org);
    auto r = Run(org ? by_org : provider, p, "listing users");
    if (!r.ok()) return r.status();
    std::vector<UserRecord> users;
    for (int i = 0; i < r->size(); ++i) {
      auto u = rows::ReadUser(r->Row(i));
      if (!u.ok()) return u.status();
      users.push_back(std::move(u).value());
    }
    return users;
  }

  Result<int64_t> CountUsers() override {
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run("SELECT count(*) FROM users", Params(), "counting users");
    if (!r.ok()) return r.status();
    return r->Int(0, 0);
  }

  Status InsertSession(const SessionRecord& s) override {
    static const std::string sql =
        std::string("INSERT INTO sessions (") + kSessionCols + ") VALUES ($1, $2, $3, $4)";
    if (Status g = Guard(true); !g.ok()) return g;
    return Handled(sql, rows::BindSession(Params().Ref(), s), "inserting a session",
                   SessionExists(), UserNotFound())
        .status();
  }

  Result<SessionRecord> GetSession(const std::string& id_hash) override {
    static const std::string sql =
        std::string("SELECT ") + kSessionCols + " FROM sessions WHERE id_hash = $1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, Params().Bytes(id_hash), "reading a session");
    if (!r.ok()) return r.status();
    if (r->size() == 0) return SessionNotFound();
    return rows::ReadSession(r->Row(0));
  }

  Status TouchSession(const std::string& id_hash, TimeMs last_seen) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql = "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Run(sql, Params().Bytes(id_hash).Int(last_seen), "updating a session");
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return SessionNotFound();
    return Status::Ok();
  }

  Status DeleteSession(const std::string& id_hash) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    return Mutation("DELETE FROM sessions WHERE id_hash = $1", Params().Bytes(id_hash),
                    "deleting a session");
  }
  Status DeleteSessionsOfUser(UserId user) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    return Mutation("DELETE FROM sessions WHERE user_id = $1", Params().Int(user),
                    "deleting a user's sessions");
  }
  Status DeleteSessionsBefore(TimeMs last_seen_before) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    return Mutation("DELETE FROM sessions WHERE last_seen_at < $1", Params().Int(last_seen_before),
                    "deleting old sessions");
  }

  Result<UsageRecord> GetUsage(OrgId org, int64_t day) override {
    static const std::string sql =
        std::string("SELECT ") + kUsageCols + " FROM usage WHERE org_id = $1 AND day = $2";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, Params().Int(org).Int(day), "reading usage");
    if (!r.ok()) return r.status();
    if (r->size() == 0) {
      UsageRecord zero;
      zero.org_id = org;
      zero.day = day;
      return zero;
    }
    return rows::ReadUsage(r->Row(0));
  }

  Status AddUsage(OrgId org, int64_t day, int64_t used_delta, int64_t over_quota_delta,
                  std::optional<TimeMs> last_used_at) override {
    cache_change_ = true;  // the token page's usage and last use
    static const std::string sql =
        std::string("WITH u AS (INSERT INTO usage (") + kUsageCols +
        ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, day) DO UPDATE SET "
        "used = usage.used + excluded.used, over_quota = usage.over_quota + excluded.over_quota, "
        "last_used_at = coalesce(excluded.last_used_at, usage.last_used_at) "
        "RETURNING org_id, day, used, over_quota) " +
        kSyncLatestUsage;
    if (Status g = Guard(true); !g.ok()) return g;
    return Handled(sql,
                   Params()
                       .Int(org)
                       .Int(day)
                       .Int(used_delta)
                       .Int(over_quota_delta)
                       .OptInt(last_used_at),
                   "adding usage", std::nullopt, OrgNotFound())
        .status();
  }

  Result<std::optional<TimeMs>> LastUsed(OrgId org) override {
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run("SELECT max(last_used_at) FROM usage WHERE org_id = $1", Params().Int(org),
                 "reading last use");
    if (!r.ok()) return r.status();
    return r->OptInt(0, 0);
  }

  Result<std::optional<ReportRecord>> GetReport(OrgId org, const std::string& md5) override {
    static const std::string sql =
        std::string("SELECT ") + kReportCols + " FROM reports WHERE org_id = $1 AND md5 = $2";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, Params().Int(org).Text(md5), "reading a report");
    if (!r.ok()) return r.status();
    if (r->size() == 0) return std::optional<ReportRecord>();
    return std::optional<ReportRecord>(rows::ReadReport(r->Row(0)));
  }

  Status PutReport(const ReportRecord& x) override {
    static const std::string sql =
        std::string("INSERT INTO reports (") + kReportCols +
        ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, md5) DO UPDATE SET "
        "sha256 = excluded.sha256, status = excluded.status, report_json = excluded.report_json, "
        "created_at = excluded.created_at, updated_at = excluded.updated_at";
    if (Status g = Guard(true); !g.ok()) return g;
    return Handled(sql, rows::BindReport(Params().Ref(), x), "storing a report", std::nullopt,
                   OrgNotFound())
        .status();
  }

  Result<int64_t> AppendAudit(const AuditRecord& a) override {
    static const std::string last_sql = "SELECT chain FROM audit ORDER BY id DESC LIMIT 1";
    static const std::string sql =
        std::string("INSERT INTO audit (") + kAuditDataCols +
        ", prev_chain) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id";
    static const std::string chain_sql = "UPDATE audit SET chain = $2 WHERE id = $1";
    if (Status g = Guard(true); !g.ok()) return g;
    AuditAppendSteps steps;
    steps.read_last_chain = [&]() -> Result<std::string> {
      auto last = Run(last_sql, Params(), "reading the audit chain");
      if (!last.ok()) return last.status();
      return last->size() > 0 ? last->Bytes(0, 0) : std::string();
    };
    steps.insert = [&](const AuditRecord& rec) -> Result<int64_t> {
      auto r = Run(sql, rows::BindAuditData(Params().Ref(), rec).Bytes(rec.prev_chain),
                   "appending to the audit trail");
      if (!r.ok()) return r.status();
      return r->Int(0, 0);
    };
    steps.set_chain = [&](int64_t id, const std::string& chain) -> Status {
      return Run(chain_sql, Params().Int(id).Bytes(chain), "chaining the audit record").status();
    };
    return AppendChainedAudit(a, audit_key_, steps);
  }

  Result<std::vector<AuditRecord>> ListAudit(const AuditFilter& f) override {
    if (Status g = Guard(false); !g.ok()) return g;
    // Fixed fragments only; values are bound, numbered in the order they are added.
    std::string sql = std::string("SELECT ") + kAuditCols + " FROM audit WHERE true";
    Params p;
    int n = 0;
    auto arg = [&] {
      std::string a = "$";
      a.append(std::to_string(++n));
      return a;
    };
    if (f.org_id) sql += " AND org_id = " + arg(), p.Int(*f.org_id);
    if (f.actor) sql += " AND actor = " + arg(), p.Text(*f.actor);
    if (f.action) sql += " AND action = " + arg(), p.Text(*f.action);
    if (f.from) sql += " AND ts >= " + arg(), p.Int(*f.from);
    if (f.to) sql += " AND ts < " + arg(), p.Int(*f.to);
    if (f.before_id) sql += " AND id < " + arg(), p.Int(*f.before_id);
    sql += " ORDER BY id DESC LIMIT " + arg();
    p.Int(std::clamp<int64_t>(f.limit, 1, kMaxPageLimit));
    auto r = Run(sql, p, "listing the audit trail");
    if (!r.ok()) return r.status();
    std::vector<AuditRecord> out;
    for (int i = 0; i < r->size(); ++i) out.push_back(rows::ReadAudit(r->Row(i)));
    return out;
  }

  Result<std::optional<int64_t>> ConsumeUsage(OrgId org, int64_t day, int64_t limit) override {
    static const std::string sql =
        std::string("WITH u AS (INSERT INTO usage (org_id, day, used, over_quota) ") +
        "VALUES ($1, $2, 1, 0) ON CONFLICT (org_id, day) DO UPDATE SET used = usage.used + 1 "
        "WHERE usage.used < $3 RETURNING org_id, day, used, over_quota), s AS (" +
        kSyncLatestUsage + ") SELECT used FROM u";
    if (Status g = Guard(true); !g.ok()) return g;
    if (limit <= 0) return std::optional<int64_t>();
    auto r = Handled(sql, Params().Int(org).Int(day).Int(limit), "counting usage", std::nullopt,
                     OrgNotFound());
    if (!r.ok()) return r.status();
    if (r->size() == 0) return std::optional<int64_t>();
    cache_change_ = true;  // the token page's usage today
    return std::optional<int64_t>(r->Int(0, 0));
  }

  Result<RateCheck> ConsumeRate(OrgId org, int64_t per_second, int64_t per_hour, TimeMs) override {
    // Database time: every node counts in the same windows, whatever its own clock says.
    static const std::string sql =
        "WITH t AS (SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms) "
        "INSERT INTO rate_windows (org_id, sec_window, in_sec, hour_window, in_hour) "
        "SELECT $1, ms / 1000, 1, ms / 3600000, 1 FROM t ON CONFLICT (org_id) DO UPDATE SET "
        "in_sec = CASE WHEN rate_windows.sec_window >= excluded.sec_window "
        "THEN rate_windows.in_sec + 1 ELSE 1 END, "
        "sec_window = greatest(rate_windows.sec_window, excluded.sec_window), "
        "in_hour = CASE WHEN rate_windows.hour_window >= excluded.hour_window "
        "THEN rate_windows.in_hour + 1 ELSE 1 END, "
        "hour_window = greatest(rate_windows.hour_window, excluded.hour_window) "
        "WHERE (rate_windows.sec_window < excluded.sec_window OR rate_windows.in_sec < $2) "
        "AND (rate_windows.hour_window < excluded.hour_window OR rate_windows.in_hour < $3) "
        "RETURNING 1";
    static const std::string why =
        "SELECT sec_window, in_sec, hour_window, in_hour, "
        "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM rate_windows "
        "WHERE org_id = $1";
    if (Status g = Guard(true); !g.ok()) return g;
    RateCheck out;
    if (per_second > 0 && per_hour > 0) {
      auto r = Handled(sql, Params().Int(org).Int(per_second).Int(per_hour), "counting the rate",
                       std::nullopt, OrgNotFound());
      if (!r.ok()) return r.status();
      if (r->size() > 0) {
        out.admitted = true;
        return out;
      }
    }
    auto r = Run(why, Params().Int(org), "reading the rate windows");
    if (!r.ok()) return r.status();
    if (r->size() == 0) {  // a zero limit: refused by the per-second window
      out.reset_ms = 1000;
      return out;
    }
    // The clock read here is later than the refused insert's: a second may have rolled over in
    // between. So the hour is blamed only when its window is current and full; otherwise the
    // per-second window refused, and a window that has already rolled over resets in 1 ms.
    const int64_t ms = r->Int(0, 4);
    const bool hour_full =
        per_hour <= 0 || (r->Int(0, 2) >= ms / 3'600'000 && r->Int(0, 3) >= per_hour);
    if (per_second > 0 && hour_full) {
      out.hour = true;
      out.reset_ms = std::max<int64_t>(1, (r->Int(0, 2) + 1) * 3'600'000 - ms);
    } else {
      out.reset_ms = std::max<int64_t>(1, (r->Int(0, 0) + 1) * 1000 - ms);
    }
    return out;
  }

  Result<std::vector<ThrottleCount>> ExchangeThrottle(const std::string& scope,
                                                      const std::vector<ThrottleCount>& deltas,
                                                      TimeMs now, TimeMs window,
                                                      int max_rows) override {
    static const std::string add =
        "INSERT INTO throttle_counts (scope, key, count, last) VALUES ($1, $2, greatest(0, "
        "$3::bigint), $4) "
        "ON CONFLICT (scope, key) DO UPDATE SET count = greatest(0, CASE WHEN "
        "throttle_counts.last <= $5 THEN $3::bigint ELSE throttle_counts.count + $3::bigint "
        "END), "
        "last = greatest(throttle_counts.last, excluded.last)";
    static const std::string expire = "DELETE FROM throttle_counts WHERE scope = $1 AND last <= $2";
    static const std::string live =
        "SELECT key, count, last FROM throttle_counts WHERE scope = $1 ORDER BY count DESC "
        "LIMIT $2";
    if (Status g = Guard(true); !g.ok()) return g;
    const TimeMs stale = now - window;
    for (const ThrottleCount& d : deltas) {
      auto r = Run(add, Params().Text(scope).Text(d.key).Int(d.count).Int(d.last).Int(stale),
                   "counting throttled attempts");
      if (!r.ok()) return r.status();
    }
    if (auto r = Run(expire, Params().Text(scope).Int(stale), "expiring throttle counts"); !r.ok())
      return r.status();
    auto r = Run(live, Params().Text(scope).Int(std::max(1, max_rows)), "reading throttle counts");
    if (!r.ok()) return r.status();
    std::vector<ThrottleCount> out;
    out.reserve(r->size());
    for (int i = 0; i < r->size(); ++i) out.push_back({r->Text(i, 0), r->Int(i, 1), r->Int(i, 2)});
    return out;
  }

  Result<int64_t> LiveNodes() override {
    static const std::string sql = "SELECT count(*) FROM nodes WHERE lease_until > now()";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, Params(), "counting the nodes");
    if (!r.ok()) return r.status();
    return r->Int(0, 0);
  }

  Result<int64_t> RecordChange(OrgId org) override {
    // The entry and the notification in one statement (one round trip). The notification is
    // delivered to the listening nodes when (and only if) the transaction commits.
    static const std::string sql =
        std::string(
            "WITH c AS (INSERT INTO changes (org_id) VALUES ($1) RETURNING seq) "
            "SELECT seq, pg_notify('") +
        kChangesChannel + "', '') FROM c";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Run(sql, Params().Int(org), "recording a change");
    if (!r.ok()) return r.status();
    recorded_change_ = r->Int(0, 0);
    return recorded_change_;
  }

  // RunTx's cache-only entry (organization 0) and the COMMIT in one round trip. On success the
  // transaction is committed; on failure the caller rolls back (a no-op when COMMIT itself
  // failed) and answers 503, as for any failed COMMIT.
  Result<int64_t> RecordCacheChangeAndCommit() {
    static const std::string sql =
        std::string(
            "WITH c AS (INSERT INTO changes (org_id) VALUES ($1) RETURNING seq) "
            "SELECT seq, pg_notify('") +
        kChangesChannel + "', '') FROM c";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = c_.Query(sql, Params().Int(kCacheOnlyChange), "recording a change and committing",
                      nullptr, {}, {"COMMIT"});
    if (!r.ok()) return poison_ = r.status();
    recorded_change_ = r->Int(0, 0);
    return recorded_change_;
  }

  // --- Webhooks ---
  Result<int64_t> InsertWebhookEndpoint(const WebhookEndpoint& e) override {
    static const std::string sql =
        "INSERT INTO webhook_endpoints (org_id, url, events, description, seed, old_seed, "
        "old_until, created_at, failing_since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "RETURNING id";
    if (Status g = Guard(true); !g.ok()) return g;
    Params p;
    rows::BindEndpointData(p, e);
    auto r = Handled(sql, p, "inserting a webhook endpoint", std::nullopt, OrgNotFound());
    if (!r.ok()) return r.status();
    return r->Int(0, 0);
  }

  Result<WebhookEndpoint> GetWebhookEndpoint(int64_t id) override {
    static const std::string sql =
        std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints WHERE id = $1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, Params().Int(id), "reading a webhook endpoint");
    if (!r.ok()) return r.status();
    if (r->size() == 0) return EndpointNotFound();
    return rows::ReadEndpoint(r->Row(0));
  }

  Result<std::vector<WebhookEndpoint>> ListWebhookEndpoints(std::optional<OrgId> org) override {
    static const std::string of_org = std::string("SELECT ") + kEndpointCols +
                                      " FROM webhook_endpoints WHERE org_id = $1 ORDER BY id";
    static const std::string wide = std::string("SELECT ") + kEndpointCols +
                                    " FROM webhook_endpoints WHERE org_id IS NULL ORDER BY id";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = org ? Run(of_org, Params().Int(*org), "listing webhook endpoints")
                 : Run(wide, Params(), "listing webhook endpoints");
    if (!r.ok()) return r.status();
    std::vector<WebhookEndpoint> out;
    for (int i = 0; i < r->size(); ++i) out.push_back(rows::ReadEndpoint(r->Row(i)));
    return out;
  }

  Status UpdateWebhookEndpoint(const WebhookEndpoint& e) override {
    static const std::string sql =
        "UPDATE webhook_endpoints SET url = $2, events = $3, description = $4, seed = $5, "
        "old_seed = $6, old_until = $7, failing_since = $8 WHERE id = $1";
    if (Status g = Guard(true); !g.ok()) return g;
    Params p;
    rows::BindEndpointUpdate(p, e);
    auto r = Run(sql, p, "updating a webhook endpoint");
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return EndpointNotFound();
    return Status::Ok();
  }

  Status DeleteWebhookEndpoint(int64_t id) override {
    static const std::string msgs = "DELETE FROM webhook_outbox WHERE endpoint_id = $1";
    static const std::string sql = "DELETE FROM webhook_endpoints WHERE id = $1";
    if (Status g = Guard(true); !g.ok()) return g;
    if (auto r = Run(msgs, Params().Int(id), "deleting webhook messages"); !r.ok())
      return r.status();
    auto r = Run(sql, Params().Int(id), "deleting a webhook endpoint");
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return EndpointNotFound();
    return Status::Ok();
  }

  Result<bool> InsertOutbox(const OutboxMessage& m) override {
    static const std::string sql =
        "INSERT INTO webhook_outbox (endpoint_id, msg_id, event, payload, dedupe_key, "
        "created_at, state, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "$9) ON CONFLICT (endpoint_id, dedupe_key) WHERE dedupe_key <> '' DO NOTHING";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Handled(sql, rows::BindOutboxNew(Params().Ref(), m), "queueing a webhook message",
                     std::nullopt, EndpointNotFound());
    if (!r.ok()) return r.status();
    return r->affected() > 0;
  }

  Result<std::vector<OutboxMessage>> ClaimOutbox(TimeMs now, TimeMs claim_until,
                                                 int limit) override {
    // Several nodes: a row another node is claiming is skipped, not waited for.
    static const std::string sql =
        std::string(
            "UPDATE webhook_outbox SET claimed_until = $3 WHERE id IN (SELECT o.id FROM "
            "webhook_outbox o WHERE o.state = 'pending' AND o.id = (SELECT min(p.id) "
            "FROM webhook_outbox p WHERE p.endpoint_id = o.endpoint_id AND p.state = "
            "'pending') AND o.next_attempt_at <= $1 AND o.claimed_until <= $1 ORDER BY "
            "o.id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING ") +
        kOutboxCols;
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Run(sql, Params().Int(now).Int(std::max(1, limit)).Int(claim_until),
                 "claiming webhook messages");
    if (!r.ok()) return r.status();
    std::vector<OutboxMessage> out;
    for (int i = 0; i < r->size(); ++i) out.push_back(rows::ReadOutbox(r->Row(i)));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }

  Status UpdateOutbox(const OutboxMessage& m) override {
    static const std::string sql =
        "UPDATE webhook_outbox SET state = $2, attempts = $3, next_attempt_at = $4, "
        "claimed_until = $5, last_status = $6, last_error = $7, last_latency_ms = $8, "
        "delivered_at = $9 WHERE id = $1";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Run(sql, rows::BindOutboxUpdate(Params().Ref(), m), "updating a webhook message");
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return OutboxNotFound();
    return Status::Ok();
  }

  Result<std::vector<OutboxMessage>> ListOutbox(int64_t endpoint_id, int limit) override {
    static const std::string sql = std::string("SELECT ") + kOutboxCols +
                                   " FROM webhook_outbox WHERE endpoint_id = $1 ORDER BY id "
                                   "DESC LIMIT $2";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r =
        Run(sql, Params().Int(endpoint_id).Int(std::max(1, limit)), "listing webhook messages");
    if (!r.ok()) return r.status();
    std::vector<OutboxMessage> out;
    for (int i = 0; i < r->size(); ++i) out.push_back(rows::ReadOutbox(r->Row(i)));
    return out;
  }

  Result<bool> OutboxDue(TimeMs now) override {
    static const std::string sql =
        "SELECT EXISTS (SELECT 1 FROM webhook_outbox o WHERE o.state = 'pending' AND "
        "o.next_attempt_at <= $1 AND o.claimed_until <= $1 AND o.id = (SELECT min(p.id) FROM "
        "webhook_outbox p WHERE p.endpoint_id = o.endpoint_id AND p.state = 'pending'))";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, Params().Int(now), "checking the webhook outbox");
    if (!r.ok()) return r.status();
    return r->Bool(0, 0);
  }

  Result<int64_t> ReleaseOutboxClaims() override {
    static const std::string sql =
        "UPDATE webhook_outbox SET claimed_until = 0 WHERE claimed_until <> 0 AND state = "
        "'pending'";
    if (Status g = Guard(true); !g.ok()) return g;
    auto r = Run(sql, Params(), "releasing webhook claims");
    if (!r.ok()) return r.status();
    return r->affected();
  }

  Status ForEachOrg(const std::function<Status(const OrgRecord&)>& fn) override {
    static const std::string sql =
        std::string("SELECT ") + kOrgCols + " FROM orgs WHERE id > $1 ORDER BY id LIMIT 5000";
    return Pages(sql, "exporting organizations", [&](const Rows& r, int i) -> Result<int64_t> {
      auto o = rows::ReadOrg(r.Row(i), 0);
      if (!o.ok()) return o.status();
      if (Status st = fn(*o); !st.ok()) return st;
      return o->id;
    });
  }
  Status ForEachUser(const std::function<Status(const UserRecord&)>& fn) override {
    static const std::string sql =
        std::string("SELECT ") + kUserCols + " FROM users WHERE id > $1 ORDER BY id LIMIT 5000";
    return Pages(sql, "exporting users", [&](const Rows& r, int i) -> Result<int64_t> {
      auto u = rows::ReadUser(r.Row(i));
      if (!u.ok()) return u.status();
      if (Status st = fn(*u); !st.ok()) return st;
      return u->id;
    });
  }
  Status ForEachSession(const std::function<Status(const SessionRecord&)>& fn) override {
    return All(std::string("SELECT ") + kSessionCols + " FROM sessions ORDER BY id_hash",
               "exporting sessions",
               [&](const Rows& r, int i) { return fn(rows::ReadSession(r.Row(i))); });
  }
  Status ForEachUsage(const std::function<Status(const UsageRecord&)>& fn) override {
    return All(std::string("SELECT ") + kUsageCols + " FROM usage ORDER BY org_id DESC, day DESC",
               "exporting usage",
               [&](const Rows& r, int i) { return fn(rows::ReadUsage(r.Row(i))); });
  }
  Result<LeakRecord> GetLeak(OrgId org) override {
    static const std::string sql =
        std::string("SELECT ") + kLeakCols + " FROM leak_reports WHERE org_id = $1";
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, Params().Int(org), "reading the leak policy");
    if (!r.ok()) return r.status();
    if (r->size() == 0) {
      LeakRecord none;
      none.org_id = org;
      return none;
    }
    return rows::ReadLeak(r->Row(0));
  }

  Status PutLeak(const LeakRecord& x) override {
    cache_change_ = true;  // the token page shows the report
    static const std::string sql =
        std::string("INSERT INTO leak_reports (") + kLeakCols +
        ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id) DO UPDATE SET "
        "policy = excluded.policy, reported_at = excluded.reported_at, url = excluded.url, "
        "source = excluded.source, action = excluded.action, token_last4 = excluded.token_last4";
    if (Status g = Guard(true); !g.ok()) return g;
    return Handled(sql, rows::BindLeak(Params().Ref(), x), "storing the leak policy", std::nullopt,
                   OrgNotFound())
        .status();
  }

  Status ForEachLeak(const std::function<Status(const LeakRecord&)>& fn) override {
    return All(std::string("SELECT ") + kLeakCols + " FROM leak_reports ORDER BY org_id",
               "exporting leak reports", [&](const Rows& r, int i) -> Status {
                 auto x = rows::ReadLeak(r.Row(i));
                 return x.ok() ? fn(*x) : x.status();
               });
  }

  Status ForEachReport(const std::function<Status(const ReportRecord&)>& fn) override {
    return All(std::string("SELECT ") + kReportCols + " FROM reports ORDER BY org_id, md5",
               "exporting reports",
               [&](const Rows& r, int i) { return fn(rows::ReadReport(r.Row(i))); });
  }
  Status ForEachAudit(const std::function<Status(const AuditRecord&)>& fn) override {
    static const std::string sql =
        std::string("SELECT ") + kAuditCols + " FROM audit WHERE id > $1 ORDER BY id LIMIT 5000";
    return Pages(sql, "exporting the audit trail", [&](const Rows& r, int i) -> Result<int64_t> {
      AuditRecord a = rows::ReadAudit(r.Row(i));
      if (Status st = fn(a); !st.ok()) return st;
      return a.id;
    });
  }

  Status ForEachWebhookEndpoint(const std::function<Status(const WebhookEndpoint&)>& fn) override {
    return All(std::string("SELECT ") + kEndpointCols + " FROM webhook_endpoints ORDER BY id",
               "exporting webhook endpoints",
               [&](const Rows& r, int i) { return fn(rows::ReadEndpoint(r.Row(i))); });
  }
  Status ForEachOutbox(const std::function<Status(const OutboxMessage&)>& fn) override {
    static const std::string sql = std::string("SELECT ") + kOutboxCols +
                                   " FROM webhook_outbox WHERE id > $1 ORDER BY id LIMIT 5000";
    return Pages(sql, "exporting the webhook outbox", [&](const Rows& r, int i) -> Result<int64_t> {
      OutboxMessage m = rows::ReadOutbox(r.Row(i));
      if (Status st = fn(m); !st.ok()) return st;
      return m.id;
    });
  }

  Status RestoreWebhookEndpoint(const WebhookEndpoint& e) override {
    static const std::string sql =
        std::string("WITH ins AS (INSERT INTO webhook_endpoints (") + kEndpointCols +
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id) "
        "SELECT setval(pg_get_serial_sequence('webhook_endpoints', 'id'), "
        "greatest((SELECT id FROM ins), (SELECT last_value FROM webhook_endpoints_id_seq)))";
    if (Status g = Guard(true); !g.ok()) return g;
    Params p;
    rows::BindEndpointData(p.Int(e.id), e);
    return Handled(sql, p, "restoring a webhook endpoint", EndpointExists(), OrgNotFound())
        .status();
  }
  Status RestoreOutbox(const OutboxMessage& m) override {
    static const std::string sql =
        std::string("WITH ins AS (INSERT INTO webhook_outbox (") + kOutboxCols +
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13, $14) RETURNING id) "
        "SELECT setval(pg_get_serial_sequence('webhook_outbox', 'id'), "
        "greatest((SELECT id FROM ins), (SELECT last_value FROM webhook_outbox_id_seq)))";
    if (Status g = Guard(true); !g.ok()) return g;
    return Handled(sql, rows::BindOutboxOutcome(rows::BindOutboxNew(Params().Int(m.id), m), m),
                   "restoring a webhook message", OutboxExists(), EndpointNotFound())
        .status();
  }

  Status RestoreOrg(const OrgRecord& org) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql =
        std::string("WITH ins AS (INSERT INTO orgs (") + kOrgDataCols +
        ", id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id) "
        "SELECT setval(pg_get_serial_sequence('orgs', 'id'), "
        "greatest((SELECT id FROM ins), (SELECT last_value FROM orgs_id_seq)))";
    if (Status g = Guard(true); !g.ok()) return g;
    return Handled(sql, rows::BindOrgData(Params().Ref(), org).Int(org.id),
                   "restoring an organization", OrgExists())
        .status();
  }
  Status RestoreUser(const UserRecord& u) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql =
        std::string("WITH ins AS (INSERT INTO users (") + kUserDataCols +
        ", id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id) "
        "SELECT setval(pg_get_serial_sequence('users', 'id'), "
        "greatest((SELECT id FROM ins), (SELECT last_value FROM users_id_seq)))";
    if (Status g = Guard(true); !g.ok()) return g;
    return Handled(sql, rows::BindUserData(Params().Ref(), u).Int(u.id), "restoring a user",
                   UserExists(), OrgNotFound())
        .status();
  }
  Status RestoreAudit(const AuditRecord& a) override {
    static const std::string sql =
        std::string("WITH ins AS (INSERT INTO audit (") + kAuditDataCols +
        ", id, prev_chain, chain) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
        "RETURNING id) "
        "SELECT setval(pg_get_serial_sequence('audit', 'id'), "
        "greatest((SELECT id FROM ins), (SELECT last_value FROM audit_id_seq)))";
    if (Status g = Guard(true); !g.ok()) return g;
    Params p;
    rows::BindAuditData(p, a).Int(a.id).OptBlob(a.prev_chain).OptBlob(a.chain);
    return Handled(sql, p, "restoring an audit record", AuditExists()).status();
  }
  Result<std::optional<SupportContactRecord>> GetSupportContact() override {
    if (Status g = Guard(false); !g.ok()) return g;
    auto r =
        Run(std::string("SELECT ") + kSupportContactCols + " FROM support_contact WHERE id = 1",
            Params(), "reading the support contact");
    if (!r.ok()) return r.status();
    if (r->size() == 0) return std::optional<SupportContactRecord>();
    return std::optional<SupportContactRecord>(rows::ReadSupportContact(r->Row(0)));
  }
  Status PutSupportContact(const SupportContactRecord& c) override {
    cache_change_ = true;  // the token page shows it
    static const std::string sql =
        "INSERT INTO support_contact (id, name, email, url, phone, updated_at, updated_by) "
        "VALUES (1, $1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
        "email = excluded.email, url = excluded.url, phone = excluded.phone, "
        "updated_at = excluded.updated_at, updated_by = excluded.updated_by";
    if (Status g = Guard(true); !g.ok()) return g;
    return Run(sql, rows::BindSupportContact(Params().Ref(), c), "saving the support contact")
        .status();
  }
  Status DeleteSupportContact() override {
    cache_change_ = true;  // the token page shows it
    if (Status g = Guard(true); !g.ok()) return g;
    return Run("DELETE FROM support_contact", Params(), "removing the support contact").status();
  }

  Status RestoreUsage(const UsageRecord& u) override {
    cache_change_ = true;  // read by the per-node caches (ChangeStamp)
    static const std::string sql =
        std::string("WITH u AS (INSERT INTO usage (") + kUsageCols +
        ") VALUES ($1, $2, $3, $4, $5) RETURNING org_id, day, used, over_quota) " +
        kSyncLatestUsage;
    if (Status g = Guard(true); !g.ok()) return g;
    return Handled(sql, rows::BindUsage(Params().Ref(), u), "restoring usage", UsageExists(),
                   OrgNotFound())
        .status();
  }

 private:
  Status Guard(bool mutating) {
    if (!poison_.ok()) return poison_;
    if (mutating && !writable_) {
      poison_ = MutatingInRead();
      return poison_;
    }
    return Status::Ok();
  }

  // An orgsql statement.
  Result<Rows> RunBuilt(const orgsql::Statement& st, std::string_view what) {
    Params p;
    for (const auto& v : st.params) {
      if (v.is_text)
        p.Text(v.s);
      else
        p.Int(v.i);
    }
    return Run(st.sql, p, what);
  }
  // A statement whose every failure poisons the Tx.
  Result<Rows> Run(const std::string& sql, const Params& p, std::string_view what) {
    if (!poison_.ok()) return poison_;
    auto r = c_.Query(sql, p, what);
    if (!r.ok()) poison_ = r.status();
    return r;
  }

  // A statement whose unique (23505) or foreign key (23503) violation is answered with the given
  // status instead of poisoning the Tx; it runs in a savepoint so the transaction survives.
  Result<Rows> Handled(const std::string& sql, const Params& p, std::string_view what,
                       std::optional<Status> on_unique, std::optional<Status> on_fk = std::nullopt,
                       std::string* constraint = nullptr) {
    if (!poison_.ok()) return poison_;
    // SAVEPOINT, the statement and RELEASE in one round trip (issue 19, target 6).
    ResultPtr err;
    auto r =
        c_.Query(sql, p, what, &err, {"SAVEPOINT sg_handled"}, {"RELEASE SAVEPOINT sg_handled"});
    if (r.ok()) return r;
    const std::string state = SqlState(err.get());
    std::optional<Status> answer;
    if (state == "23505" && on_unique) answer = on_unique;
    if (state == "23503" && on_fk) answer = on_fk;
    if (!answer) {
      poison_ = r.status();
      return r.status();
    }
    if (constraint != nullptr) *constraint = ConstraintName(err.get());
    if (Status st = c_.Exec("ROLLBACK TO SAVEPOINT sg_handled", what); !st.ok()) {
      return poison_ = st;
    }
    return *answer;
  }

  Status Mutation(const std::string& sql, const Params& p, std::string_view what) {
    if (Status g = Guard(true); !g.ok()) return g;
    return Run(sql, p, what).status();
  }

  // Keyset-paged scan: `sql` takes the last key as $1; fn returns each row's key.
  template <typename RowFn>
  Status Pages(const std::string& sql, std::string_view what, RowFn fn) {
    if (Status g = Guard(false); !g.ok()) return g;
    int64_t after = std::numeric_limits<int64_t>::min();
    for (;;) {
      auto r = Run(sql, Params().Int(after), what);
      if (!r.ok()) return r.status();
      for (int i = 0; i < r->size(); ++i) {
        auto key = fn(*r, i);
        if (!key.ok()) return key.status();
        after = *key;
      }
      if (r->size() < 5000) return Status::Ok();
    }
  }

  template <typename RowFn>
  Status All(const std::string& sql, std::string_view what, RowFn fn) {
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, Params(), what);
    if (!r.ok()) return r.status();
    for (int i = 0; i < r->size(); ++i) {
      if (Status st = fn(*r, i); !st.ok()) return st;
    }
    return Status::Ok();
  }

  Result<OrgRecord> OneOrg(const std::string& sql, const Params& p) {
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, p, "reading an organization");
    if (!r.ok()) return r.status();
    if (r->size() == 0) return OrgNotFound();
    return rows::ReadOrg(r->Row(0), 0);
  }

  Result<UserRecord> OneUser(const std::string& sql, const Params& p) {
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, p, "reading a user");
    if (!r.ok()) return r.status();
    if (r->size() == 0) return UserNotFound();
    return rows::ReadUser(r->Row(0));
  }

  Conn& c_;
  const bool writable_;
  const std::string& audit_key_;
  Status poison_;
  bool cache_change_ = false;
  int64_t recorded_change_ = 0;
};

// What a committed write tells the node's read caches (PgStore::ChangeStamp).
struct CacheEffect {
  bool changed = false;    // it changed cached data
  int64_t own_change = 0;  // the change RunTx recorded for it (the caller recorded none)
};

// Runs fn in one transaction on `c`. Write: BEGIN + the cluster-wide write lock. Read: a
// read-only snapshot. Commits only when fn returned OK and nothing poisoned the Tx. A failed
// COMMIT answers 503; if the connection broke during COMMIT the outcome is unknown to us (the
// one case where PostgreSQL cannot say) and the caller is told 503 all the same.
Status RunTx(Conn& c, bool writable, const std::string& audit_key,
             const std::function<Status(Tx&)>& fn, CacheEffect* effect = nullptr) {
  // BEGIN (and the write lock) travel with the first statement (Conn::Defer).
  if (writable)
    c.Defer({kBeginWriteTx, kWriteLock});
  else
    c.Defer({"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"});
  PgTx tx(c, writable, audit_key);
  Status result;
  try {
    result = fn(tx);
  } catch (...) {
    (void)c.Exec("ROLLBACK", "rolling back");
    throw;
  }
  if (result.ok() && !tx.poison().ok()) result = tx.poison();
  // A change to cached data goes through the change log (as a cache-only entry, organization
  // 0, when the caller logged none), so every node's caches see it (issue 19).
  int64_t own_change = 0;
  bool committed = false;
  if (result.ok() && writable && effect && tx.cache_change() && tx.recorded_change() == 0) {
    auto seq = tx.RecordCacheChangeAndCommit();
    if (!seq.ok()) {
      (void)c.Exec("ROLLBACK", "rolling back");
      if (seq.status().http_status() == 503) return seq.status();
      return Status::Unavailable("store: commit failed: " + seq.status().message());
    }
    own_change = *seq;
    committed = true;
  }
  if (!result.ok()) {
    (void)c.Exec("ROLLBACK", "rolling back");
    return result;
  }
  if (Status st = committed ? Status::Ok() : c.Exec("COMMIT", "committing"); !st.ok()) {
    (void)c.Exec("ROLLBACK", "rolling back");
    return Status::Unavailable("store: commit failed: " + st.message());
  }
  if (effect) {
    effect->changed = writable && tx.cache_change();
    effect->own_change = own_change;
  }
  return Status::Ok();
}

thread_local const void* t_active_store = nullptr;

Status Migrate(Conn& c, int target) {
  for (;;) {
    if (Status st = c.Exec("BEGIN", "starting a migration"); !st.ok()) return st;
    struct RollbackUnlessCommitted {
      Conn& c;
      bool done = false;
      ~RollbackUnlessCommitted() {
        if (!done) (void)c.Exec("ROLLBACK", "rolling back a migration");
      }
    } guard{c};
    if (Status st = c.Exec(kMigrateLock, "locking the schema"); !st.ok()) return st;
    if (Status st = c.Exec("CREATE TABLE IF NOT EXISTS schema_version ("
                           "version integer PRIMARY KEY, applied_at bigint NOT NULL)",
                           "creating the schema_version table");
        !st.ok()) {
      return st;
    }
    auto cur = c.Query("SELECT coalesce(max(version), 0) FROM schema_version", Params(),
                       "reading the schema version");
    if (!cur.ok()) return cur.status();
    const int64_t current = cur->Int(0, 0);
    if (current > kSchemaVersion) {
      return SchemaTooNew(current, kSchemaVersion);
    }
    if (current >= target) {
      guard.done = true;
      return c.Exec("COMMIT", "reading the schema version");
    }
    const int next = static_cast<int>(current) + 1;
    const std::string what = "migrating to schema version " + std::to_string(next);
    if (Status st = c.Exec(kMigrations[next - 1], what); !st.ok()) return st;
    auto ins = c.Query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                       Params().Int(next).Int(SystemClock()->now()), what);
    if (!ins.ok()) return ins.status();
    guard.done = true;
    if (Status st = c.Exec("COMMIT", what); !st.ok()) return st;
  }
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

// ---------------------------------------------------------------------------------------------
// The follower: this node's link to the change log (see docs/CLUSTER.md for the argument).
//
// Each round: (1) at local time t0, renew the lease (database time now() + lease) and acknowledge
// `applied_`; (2) read and apply every change after `applied_`; (3) on success the index is
// trusted until t0 + lease - renew interval. A writer that committed change X before (1) is seen
// by (2); one that commits after (1) finds the node's live lease and waits for its acknowledgement
// of X, which comes only after X is in the index. A node that cannot renew stops trusting its
// index before the database considers its lease over, and writers stop waiting for it then.
class Follower {
 public:
  Follower(std::string url, PgOptions o, std::string node_id, int64_t from_seq, FollowHooks hooks)
      : url_(std::move(url)),
        options_(o),
        node_id_(std::move(node_id)),
        applied_(from_seq),
        hooks_(std::move(hooks)),
        applied_published_(from_seq) {
    thread_ = std::thread([this] { Run(); });
  }

  ~Follower() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    // Leave the cluster cleanly so that writers stop waiting for this node at once.
    auto c = Conn::Open(url_, options_);
    if (c.ok()) {
      (void)(*c)->Query("DELETE FROM nodes WHERE node_id = $1", Params().Text(node_id_),
                        "leaving the cluster");
    }
  }

  bool Trusted() const {
    return SteadyClock::now().time_since_epoch().count() < trusted_until_.load();
  }
  // Every change up to here is applied (published before it is acknowledged to the writers).
  int64_t Applied() const { return applied_published_.load(); }

 private:
  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }
  void Sleep(int ms) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stop_; });
  }

  void Run() {
    std::unique_ptr<Conn> c;
    bool warned = false;
    while (!Stopping()) {
      Status st;
      if (!c) {
        auto opened = Conn::Open(url_, options_);
        if (opened.ok()) {
          c = std::move(opened).value();
          st = c->Exec((std::string("LISTEN ") + kChangesChannel).c_str(), "listening");
        } else {
          st = opened.status();
        }
      }
      bool applied_some = false;
      if (st.ok()) st = Round(*c, &applied_some);
      if (!st.ok()) {
        if (!warned)
          spdlog::warn("cluster: {} (token verification refuses until back)", st.message());
        warned = true;
        if (c && c->broken()) c.reset();
        Sleep(std::min(options_.renew_ms, 250));
        continue;
      }
      if (warned) spdlog::info("cluster: link to the change log restored");
      warned = false;
      if (applied_some) continue;  // acknowledge at once: writers are waiting
      Wait(*c);
    }
  }

  // One renew + catch-up round.
  Status Round(Conn& c, bool* applied_some) {
    static const std::string renew =
        "INSERT INTO nodes (node_id, applied_seq, lease_until) VALUES ($1, $2, now() + $3 * "
        "interval '1 millisecond') ON CONFLICT (node_id) DO UPDATE SET applied_seq = "
        "excluded.applied_seq, lease_until = excluded.lease_until";
    static const std::string changes =
        "SELECT seq, org_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT " +
        std::to_string(kChangeBatch);
    const auto t0 = SteadyClock::now();
    auto r = c.Query(renew, Params().Text(node_id_).Int(applied_).Int(options_.lease_ms),
                     "renewing the node's lease");
    if (!r.ok()) return r.status();
    PQconsumeInput(c.raw());
    while (PGnotify* n = PQnotifies(c.raw())) PQfreemem(n);
    auto read_after = [&](int64_t after) -> Result<std::vector<LoggedChange>> {
      auto rows = c.Query(changes, Params().Int(after), "reading the change log");
      if (!rows.ok()) return rows.status();
      std::vector<LoggedChange> batch;
      for (int i = 0; i < rows->size(); ++i) batch.push_back({rows->Int(i, 0), rows->Int(i, 1)});
      // Known and not yet applied (sandgate_store_follower_lag_entries): 0 once applied.
      if (metrics::Enabled())
        metrics::M().store_follower_lag->Set(static_cast<int64_t>(batch.size()));
      return batch;
    };
    const int64_t start = applied_;
    if (Status st = ApplyChangeLog(read_after, hooks_, &applied_, applied_some); !st.ok())
      return st;
    applied_published_.store(applied_);
    if (metrics::Enabled()) metrics::M().store_follower_lag->Set(0);
    auto read_int = [&](const char* sql, std::string_view what) -> Result<int64_t> {
      auto rows = c.Query(sql, Params(), what);
      if (!rows.ok()) return rows.status();
      return rows->Int(0, 0);
    };
    if (Status st = ReloadIfPruned(
            start, [&] { return read_int(kChangeFloorSql, "reading the change log's floor"); },
            [&] { return read_int(kChangeHorizonSql, "reading the change log"); }, hooks_,
            &applied_, applied_some);
        !st.ok())
      return st;
    applied_published_.store(applied_);
    // Now and then, drop the entries every live node has applied (this one's acknowledgement
    // is at most one round old; the others' likewise).
    if (t0 >= next_prune_) {
      next_prune_ = t0 + std::chrono::milliseconds(kPruneEveryMs);
      if (auto p = c.Query(kPruneChangesSql, Params(), "pruning the change log"); !p.ok())
        return p.status();
    }
    const auto trust = t0 + std::chrono::milliseconds(options_.lease_ms - options_.renew_ms);
    trusted_until_.store(trust.time_since_epoch().count());
    return Status::Ok();
  }

  // Waits for a notification, the renew interval, or stop.
  void Wait(Conn& c) {
    const auto until = SteadyClock::now() + std::chrono::milliseconds(options_.renew_ms);
    while (!Stopping()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
      if (left.count() <= 0) return;
      pollfd p{PQsocket(c.raw()), POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
      if (n > 0) {
        if (!PQconsumeInput(c.raw())) return;  // broken: the next round notices
        bool any = false;
        while (PGnotify* m = PQnotifies(c.raw())) {
          any = true;
          PQfreemem(m);
        }
        if (any) return;
      }
    }
  }

  const std::string url_;
  const PgOptions options_;
  const std::string node_id_;
  int64_t applied_;                       // follower thread only
  SteadyClock::time_point next_prune_{};  // follower thread only
  FollowHooks hooks_;
  std::atomic<int64_t> trusted_until_{0};  // steady_clock ticks
  std::atomic<int64_t> applied_published_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// Thread-safe. Connections are leased from the pool to one thread at a time.
class PgStore final : public Store {
 public:
  PgStore(std::string url, PgOptions options) : url_(std::move(url)), options_(options) {}
  ~PgStore() override { follower_.reset(); }

  Status Write(const std::function<Status(Tx&)>& fn) override { return Timed(true, fn); }
  Status Read(const std::function<Status(Tx&)>& fn) override { return Timed(false, fn); }
  // Transact, timed and counted (sandgate_store_transaction_*).
  Status Timed(bool writable, const std::function<Status(Tx&)>& fn) {
    // On an I/O thread: refuse at once, the handler runs again on the blocking pool.
    if (no_wait::Active()) {
      no_wait::NoteWouldBlock();
      return no_wait::WouldBlock();
    }
    const auto kind = writable ? metrics::TxKind::kWrite : metrics::TxKind::kRead;
    metrics::ScopedTimer timed(metrics::TxTimer(kind));
    Status st = Transact(writable, fn);
    if (st.http_status() >= 500) metrics::CountTxFailure(kind);
    if (writable) metrics::NoteStoreWrite(st.http_status() < 500);
    return st;
  }

  Status Ping() override {
    auto lease = Lease();
    if (!lease.ok()) return lease.status();
    auto r = lease->conn->Query("SELECT 1", Params(), "ping");
    lease->broken = lease->conn->broken();
    return r.status();
  }

  bool Shared() const override { return true; }

  Result<int64_t> ChangeHorizon() override {
    auto lease = Lease();
    if (!lease.ok()) return lease.status();
    auto r = lease->conn->Query(kChangeHorizonSql, Params(), "reading the change log");
    lease->broken = lease->conn->broken();
    if (!r.ok()) return r.status();
    return r->Int(0, 0);
  }

  // Issue 19: the per-node read caches on PostgreSQL. Every write to cached data is in the change
  // log (RunTx) and returns once every node with a live lease has applied it, so a node that
  // trusts its index has seen every change acknowledged before (the argument of docs/CLUSTER.md
  // for the token index). The stamp: what this node's follower applied + this node's own writes
  // (both only grow). Not trusted (lease lapsed, not following): nothing is cached.
  std::optional<uint64_t> ChangeStamp() override {
    if (!follower_ || !follower_->Trusted()) return std::nullopt;
    return static_cast<uint64_t>(follower_->Applied()) + local_cache_changes_.load();
  }

  Status Follow(const std::string& node_id, int64_t from_seq, FollowHooks hooks) override {
    if (follower_) return AlreadyFollowing();
    node_id_ = node_id;
    follower_ = std::make_unique<Follower>(url_, options_, node_id, from_seq, std::move(hooks));
    return Status::Ok();
  }

  bool IndexTrusted() const override { return follower_ && follower_->Trusted(); }

  Status AwaitPropagation(int64_t seq, const std::string& self_node) override {
    static const std::string sql =
        "SELECT count(*) FROM nodes WHERE node_id <> $1 AND applied_seq < $2 AND "
        "lease_until > now()";
    if (seq <= 0) return Status::Ok();
    // After one lease from the commit every node has either applied the change or stopped
    // trusting its index (see Follower), whatever the database answers in between.
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(options_.lease_ms + 50);
    int pause_us = 200;
    while (SteadyClock::now() < deadline) {
      {
        auto lease = Lease();
        if (lease.ok()) {
          auto r =
              lease->conn->Query(sql, Params().Text(self_node).Int(seq), "waiting for the nodes");
          lease->broken = lease->conn->broken();
          if (r.ok() && r->Int(0, 0) == 0) return Status::Ok();
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
      pause_us = std::min(pause_us * 2, 10'000);
    }
    return Status::Ok();
  }

  Result<int64_t> PruneChangeLog() override {
    auto lease = Lease();
    if (!lease.ok()) return lease.status();
    auto r = lease->conn->Query(kPruneChangesSql, Params(), "pruning the change log");
    lease->broken = lease->conn->broken();
    if (!r.ok()) return r.status();
    return r->Int(0, 0);
  }

  std::string Describe() const override { return RedactPgUrl(url_); }

  Status Open() {
    auto lease = Lease();
    if (!lease.ok()) return lease.status();
    Conn& c = *lease->conn;
    if (options_.migrate) {
      const int target =
          options_.max_schema_version >= 1 && options_.max_schema_version < kSchemaVersion
              ? options_.max_schema_version
              : kSchemaVersion;
      Status st = Migrate(c, target);
      lease->broken = c.broken();
      return st;
    }
    auto v = SchemaVersion(c);
    lease->broken = c.broken();
    if (!v.ok()) return v.status();
    if (*v > kSchemaVersion) {
      return SchemaTooNew(*v, kSchemaVersion);
    }
    if (*v < kSchemaVersion) {
      return Status(503, "SCHEMA_OUTDATED",
                    "store: the database has schema version " + std::to_string(*v) +
                        "; this build needs version " + std::to_string(kSchemaVersion) +
                        ": run `sandgate migrate --store URL` first");
    }
    return Status::Ok();
  }

 private:
  struct LeaseT {
    PgStore* store;
    std::unique_ptr<Conn> conn;
    bool broken = false;
    LeaseT(PgStore* s, std::unique_ptr<Conn> c) : store(s), conn(std::move(c)) {}
    LeaseT(LeaseT&& o) noexcept : store(o.store), conn(std::move(o.conn)), broken(o.broken) {}
    LeaseT& operator=(LeaseT&&) = delete;
    ~LeaseT() {
      if (conn) store->Return(std::move(conn), broken || conn->broken());
    }
  };

  Status Transact(bool writable, const std::function<Status(Tx&)>& fn) {
    if (t_active_store == this) {
      return NestedTransaction();
    }
    const void* prev = t_active_store;
    t_active_store = this;
    struct Restore {
      const void* prev;
      ~Restore() { t_active_store = prev; }
    } restore{prev};
    CacheEffect effect;
    {
      auto lease = Lease();
      if (!lease.ok()) return lease.status();
      Status st = RunTx(*lease->conn, writable, audit_key(), fn, &effect);
      lease->broken = lease->conn->broken();
      if (!st.ok()) return st;
    }
    if (effect.changed) {
      // This node's caches: at once (its own follower applies the entry later).
      local_cache_changes_.fetch_add(1);
      // The other nodes' caches: once each has applied the entry, as for a token change. A
      // caller that logged its own change waits for it itself (Services::Mutate).
      if (effect.own_change > 0) (void)AwaitPropagation(effect.own_change, node_id_);
    }
    return Status::Ok();
  }

  Result<LeaseT> Lease() {
    if (no_wait::Active()) {  // Ping (readyz), ChangeHorizon, ... on an I/O thread
      no_wait::NoteWouldBlock();
      return no_wait::WouldBlock();
    }
    std::unique_lock<std::mutex> lock(mu_);
    const int max = std::max(1, options_.pool_size);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return LeaseT(this, std::move(c));
    }
    ++open_;
    lock.unlock();
    auto c = Conn::Open(url_, options_);
    if (!c.ok()) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return c.status();
    }
    return LeaseT(this, std::move(c).value());
  }

  void Return(std::unique_ptr<Conn> c, bool broken) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (broken) {
        --open_;
        c.reset();
      } else {
        idle_.push_back(std::move(c));
      }
    }
    cv_.notify_one();
  }

  const std::string url_;
  const PgOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
  int open_ = 0;                             // guarded by mu_
  std::unique_ptr<Follower> follower_;
  std::string node_id_;  // set once by Follow, before serving
  std::atomic<uint64_t> local_cache_changes_{0};
};

}  // namespace

int PgSchemaVersion() { return kSchemaVersion; }
const char* PgMigrationSql(int version) {
  return version >= 1 && version <= kSchemaVersion ? kMigrations[version - 1] : "";
}

std::string RedactPgUrl(const std::string& url) {
  // scheme://[user[:password]@]host[:port][/db][?params]: keep user, host, port and database.
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "postgres://(connection string)";
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find('?'));
  const size_t at = rest.rfind('@');
  std::string user, hostpart = rest;
  if (at != std::string::npos) {
    user = rest.substr(0, at);
    hostpart = rest.substr(at + 1);
    user = user.substr(0, user.find(':'));
  }
  std::string out = url.substr(0, scheme + 3);
  if (!user.empty()) out.append(user).append("@");
  out.append(hostpart);
  return out;
}

Result<std::unique_ptr<Store>> OpenPgStore(const std::string& url, const PgOptions& options) {
  auto store = std::make_unique<PgStore>(url, options);
  if (Status st = store->Open(); !st.ok()) return st;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace sandgate::store
