// Internal to the PostgreSQL backend: the transaction (pg_tx.cc; webhooks, leak reports, the
// support contact, export and restore in pg_tx_data.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/org_query.h"
#include "store/pg_conn.h"
#include "store/row_layout.h"
#include "store/row_mapping.h"
#include "store/store.h"
#include "store/store_errors.h"
#include "store/tx_methods.h"

namespace sandgate::store::pgdb {

using namespace layout;  // column lists and value parsing shared with the other backend
using namespace errors;  // the statuses both backends answer

// A Tx on one connection with an open transaction; semantics as the SQLite backend's (a failed
// statement other than a handled constraint violation poisons the Tx; a mutating call in a read
// transaction fails). Statements whose constraint violations are answered (409/404) run inside a
// savepoint, because PostgreSQL aborts the whole transaction on any error, unless they avoid the
// violation in the statement itself (kOrgRow).
class PgTx final : public Tx {
 public:
  PgTx(Conn& c, bool writable, const std::string& audit_key)
      : c_(c), writable_(writable), audit_key_(audit_key) {}
  const Status& poison() const { return poison_; }
  // Whether this transaction changed something the per-node read caches hold (sessions, users,
  // organizations, tokens, usage and last use), and the change it recorded itself (0: none).
  bool cache_change() const { return cache_change_ || usage_change_; }
  // Whether that was usage alone (AddUsage, ConsumeUsage) with no change recorded.
  bool usage_only() const { return usage_change_ && !cache_change_ && recorded_change_ == 0; }
  int64_t recorded_change() const { return recorded_change_; }

  SANDGATE_STORE_TX_METHODS;  // tx_methods.h
  Result<int64_t> LiveNodes() override;
  Result<AdmissionCount> ConsumeAdmission(OrgId org, int64_t day, int64_t limit, int64_t per_second,
                                          int64_t per_hour, TimeMs now) override;
  Status PutReportWithUsage(const ReportRecord& r, int64_t day, int64_t used_delta,
                            std::optional<TimeMs> last_used_at) override;
  Ticket SendAdmission(OrgId org, int64_t day, int64_t limit, int64_t per_second, int64_t per_hour,
                       TimeMs now) override;
  Result<AdmissionCount> TakeAdmission(Ticket t) override;
  Ticket SendReportWithUsage(const ReportRecord& r, int64_t day, int64_t used_delta,
                             std::optional<TimeMs> last_used_at) override;
  Status TakeReportWithUsage(Ticket t) override;
  Ticket SendReport(const ReportRecord& r) override;
  Status TakeReport(Ticket t) override;
  // Reads the answers of every statement sent and not yet answered (Conn::Collect: one round
  // trip); a failure poisons the Tx. Returns the poison. RunTx calls it before it commits.
  Status CollectSent();

  // RunTx's cache-only entry (kCacheOnlyChange, or kUsageOnlyChange when usage_only()), the
  // COMMIT and Store::AwaitPropagation's first question (how many other nodes, `self_node`
  // excluded, hold a live lease and lack the entry: *lagging_nodes, -1 when not known) in one
  // round trip. On success the transaction is committed; on failure the caller rolls back (a
  // no-op when COMMIT itself failed) and answers 503, as for any failed COMMIT.
  // `usage_notice`: the notification payload of a usage-only entry (OwnUsageNotice; empty when
  // the node does not follow the log).
  Result<int64_t> RecordCacheChangeAndCommit(std::string_view usage_notice,
                                             const std::string& self_node, int64_t* lagging_nodes);

 private:
  Status Guard(bool mutating);

  // An orgsql statement.
  Result<Rows> RunBuilt(const orgsql::Statement& st, std::string_view what);
  // A statement whose every failure poisons the Tx.
  Result<Rows> Run(const std::string& sql, const Params& p, std::string_view what);

  // A statement whose unique (23505) or foreign key (23503) violation is answered with the given
  // status instead of poisoning the Tx; it runs in a savepoint so the transaction survives.
  Result<Rows> Handled(const std::string& sql, const Params& p, std::string_view what,
                       std::optional<Status> on_unique, std::optional<Status> on_fk = std::nullopt,
                       std::string* constraint = nullptr);
  Status Mutation(const std::string& sql, const Params& p, std::string_view what);
  // Why the rate windows refused organization `org` just now (ConsumeRate's refusal).
  Result<RateCheck> RateRefusal(OrgId org, int64_t per_second, int64_t per_hour);

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

  // Runs a read-only query with parameters `p` and calls fn for each row; stops at fn's first
  // error.
  template <typename RowFn>
  Status All(const std::string& sql, const Params& p, std::string_view what, RowFn fn) {
    if (Status g = Guard(false); !g.ok()) return g;
    auto r = Run(sql, p, what);
    if (!r.ok()) return r.status();
    for (int i = 0; i < r->size(); ++i) {
      if (Status st = fn(*r, i); !st.ok()) return st;
    }
    return Status::Ok();
  }
  // All of a query without parameters.
  template <typename RowFn>
  Status All(const std::string& sql, std::string_view what, RowFn fn) {
    return All(sql, Params(), what, fn);
  }

  // Sends every queued call's statement in one pipeline (merging what can be merged: see
  // CollectSent in pg_tx.cc) and returns with the statements sent and nothing read.
  void SendQueued(std::vector<std::vector<size_t>>* members);
  // The answers of a collected statement, given to the calls it served.
  void AnswerCalls(const std::vector<size_t>& calls, const Rows& rows);

  Result<OrgRecord> OneOrg(const std::string& sql, const Params& p);
  Result<UserRecord> OneUser(const std::string& sql, const Params& p);
  Conn& c_;
  const bool writable_;
  const std::string& audit_key_;
  Status poison_;
  bool cache_change_ = false;  // other than usage
  bool usage_change_ = false;
  int64_t recorded_change_ = 0;
  // Pipelined calls, by ticket (Tx::Send*). A call is queued, with its arguments, until the next
  // statement of this Tx or Take, which sends every queued call in one pipeline and reads their
  // answers (CollectSent).
  struct SentCall {
    enum class Kind { kAdmission, kReport } kind = Kind::kAdmission;
    bool queued = false;  // not sent yet
    OrgId org = 0;
    int64_t day = 0;
    // kAdmission
    int64_t limit = 0, per_second = 0, per_hour = 0;
    std::optional<Result<AdmissionCount>> admission;  // the answer, once known
    // kReport
    bool with_usage = true;  // SendReportWithUsage (else SendReport: no usage)
    ReportRecord report;
    int64_t used_delta = 0;
    std::optional<TimeMs> last_used_at;
    std::optional<Status> report_status;  // the answer, once known
  };
  std::vector<SentCall> sent_;
};

// What a committed write tells the node's read caches (PgStore::ChangeStamp).
struct CacheEffect {
  bool changed = false;     // it changed cached data
  bool usage_only = false;  // ... and that was usage alone (ChangeStampIgnoringUsage stays)
  int64_t own_change = 0;   // the change RunTx recorded for it (the caller recorded none)
  // Other live nodes that lacked own_change just after the COMMIT (0: AwaitPropagation has
  // nothing to wait for); -1 when not asked.
  int64_t lagging_nodes = -1;
};

// Runs fn in one transaction on `c`. Write: BEGIN + the cluster-wide write lock. Read: a
// read-only snapshot. Commits only when fn returned OK and nothing poisoned the Tx. A failed
// COMMIT answers 503; if the connection broke during COMMIT the outcome is unknown to us (the
// one case where PostgreSQL cannot say) and the caller is told 503 all the same.
// `usage_notice`: see PgTx::RecordCacheChangeAndCommit.
Status RunTx(Conn& c, bool writable, const std::string& audit_key,
             const std::function<Status(Tx&)>& fn, CacheEffect* effect = nullptr,
             std::string_view usage_notice = {}, const std::string& self_node = {});

}  // namespace sandgate::store::pgdb
