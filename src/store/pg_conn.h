// Internal to the PostgreSQL backend: errors, results, parameters and connections (the driver
// wrapper).
#pragma once

#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/pg_store.h"

namespace sandgate::store::pgdb {

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

inline void IgnoreNotice(void*, const char*) {}

std::string SqlState(const PGresult* r);

std::string ConstraintName(const PGresult* r);

// Failures of the storage itself (retrying later may work): the connection, resources, operator
// intervention (shutdown, timeouts), serialization and lock timeouts.
bool IsUnavailable(PGconn* c, const std::string& state);

// 503 STORE_UNAVAILABLE or 500 INTERNAL. Only PostgreSQL's primary message is used: its DETAIL
// can quote key values, and bound values may be secrets.
Status PgError(PGconn* c, const PGresult* r, std::string_view what);

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
    if (queued() > 0) (void)Collect(what);  // the answers are dropped (see Send)
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
    if (queued() > 0) (void)Collect(what);  // the answers are dropped (see Send)
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = NextName();
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

  // Pipelined statements (Tx::Send*, issue 19, target 6). Send queues a prepared statement,
  // after the deferred commands (Defer) when it is the first, and returns without waiting for
  // its answer. Collect ends the pipeline with one Sync, so everything queued travels and is
  // answered in one round trip, and returns the answers of the Sent statements in order. The
  // first failure is Collect's error (the server skips what follows it, and the transaction is
  // aborted). While statements are queued, Exec and Query collect first and drop the answers.
  // Send's failure (the connection) leaves nothing queued that Collect would not report.
  Status Send(const std::string& sql, const Params& p, std::string_view what) {
    if (keep_.empty()) {
      if (PQenterPipelineMode(c_) != 1) return PgError(c_, nullptr, what);
      for (const char* cmd : deferred_) {
        keep_.push_back(false);
        if (PQsendQueryParams(c_, cmd, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1)
          return Broken(what);
      }
      deferred_.clear();
    }
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {  // prepared in the pipeline: one more answer, dropped
      it = prepared_.emplace(sql, NextName()).first;
      preparing_.push_back(sql);
      keep_.push_back(false);
      if (PQsendPrepare(c_, it->second.c_str(), sql.c_str(), 0, nullptr) != 1) return Broken(what);
    }
    std::vector<const char*> vals;
    std::vector<int> lens, fmts;
    p.Arrays(&vals, &lens, &fmts);
    keep_.push_back(true);
    if (PQsendQueryPrepared(c_, it->second.c_str(), p.count(), vals.data(), lens.data(),
                            fmts.data(), 0) != 1)
      return Broken(what);
    return Status::Ok();
  }
  size_t queued() const { return keep_.size(); }
  Result<std::vector<ResultPtr>> Collect(std::string_view what) {
    std::vector<ResultPtr> out;
    Status st = Collect(what, &out);
    if (!st.ok()) return st;
    return out;
  }
  // The same, giving the answers of the Sent statements that succeeded before a failure too (so
  // a caller can tell a COMMIT that went through from the statement after it that failed).
  Status Collect(std::string_view what, std::vector<ResultPtr>* answers) {
    std::vector<bool> keep = std::move(keep_);
    keep_.clear();
    std::vector<std::string> preparing = std::move(preparing_);
    preparing_.clear();
    std::vector<ResultPtr>& out = *answers;
    if (keep.empty()) return Status::Ok();
    bool lost = PQpipelineSync(c_) != 1;
    ResultPtr failed;
    for (size_t i = 0; i < keep.size() && !lost; ++i) {
      ResultPtr r(PQgetResult(c_));
      if (!r) {
        lost = true;
        break;
      }
      while (PGresult* extra = PQgetResult(c_)) PQclear(extra);  // the end of this command
      const ExecStatusType s = PQresultStatus(r.get());
      if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        if (!failed) failed = std::move(r);  // the first: those after it were skipped
      } else if (keep[i] && !failed) {
        out.push_back(std::move(r));
      }
    }
    if (!lost) {
      ResultPtr sync(PQgetResult(c_));
      lost = !sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC;
    }
    if (lost || PQexitPipelineMode(c_) != 1) return Broken(what);
    if (failed) {
      // A failure skips the rest of the pipeline, prepares included: those are made again,
      // under new names, when next used.
      for (const std::string& sql : preparing) prepared_.erase(sql);
      last_error_ = SqlState(failed.get());
      return PgError(c_, failed.get(), what);
    }
    return Status::Ok();
  }

 private:
  explicit Conn(PGconn* c) : c_(c) {}

  // The next prepared statement's name.
  std::string NextName() {
    std::string name = "s";  // built in two steps: GCC 12 warns (-Wrestrict) on "s" + ...
    name += std::to_string(next_name_++);
    return name;
  }
  // Out of step with the server: never used again.
  Status Broken(std::string_view what) {
    bad_ = true;
    keep_.clear();
    preparing_.clear();
    return PgError(c_, nullptr, what);
  }

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
  std::vector<const char*> deferred_;  // see Defer
  std::vector<bool> keep_;  // per queued command (Send): whether Collect returns its answer
  std::vector<std::string> preparing_;  // statements prepared in the queued pipeline
  uint64_t next_name_ = 0;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
  std::string last_error_;
};

}  // namespace sandgate::store::pgdb
