#include "store/pg_follower.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "metrics/sandgate_metrics.h"
#include "store/change_log.h"
#include "store/pg_schema.h"

namespace sandgate::store::pgdb {

Follower::Follower(std::string url, PgOptions o, std::string node_id, int64_t from_seq,
                   FollowHooks hooks)
    : url_(std::move(url)),
      options_(o),
      node_id_(std::move(node_id)),
      own_usage_notice_(OwnUsageNotice(node_id_)),
      applied_(from_seq),
      hooks_(std::move(hooks)),
      applied_published_(from_seq) {
  thread_ = std::thread([this] { Run(); });
}

Follower::~Follower() {
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

bool Follower::Trusted() const {
  return SteadyClock::now().time_since_epoch().count() < trusted_until_.load();
}

bool Follower::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void Follower::Sleep(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stop_; });
}

void Follower::Run() {
  std::unique_ptr<Conn> c;
  bool warned = false;
  while (!Stopping()) {
    Status st;
    if (!c) {
      auto opened = Conn::Open(url_, options_);
      if (opened.ok()) {
        c = std::move(opened).value();
        st = c->Exec((std::string("LISTEN ") + kChangesChannel).c_str(), "listening");
        // The change-log read (`seq > $1 ORDER BY seq LIMIT n`) is planned once, as a walk of the
        // primary key from $1: left to choose, PostgreSQL planned it again on every call (73 µs
        // on the bench machine, more than the read), and its generic plan sorts a sequential scan
        // of the whole log. No other statement of this connection sorts (issue 19, target 6).
        if (st.ok()) st = c->Exec("SET plan_cache_mode = force_generic_plan", "configuring");
        if (st.ok()) st = c->Exec("SET enable_sort = off", "configuring");
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

Status Follower::Round(Conn& c, bool* applied_some) {
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
  bool beyond_usage = false;
  Status applied_st = ApplyChangeLog(read_after, hooks_, &applied_, applied_some, &beyond_usage);
  // Before Applied() moves (even when a later batch failed: what was applied stays applied).
  if (beyond_usage) beyond_usage_published_.fetch_add(1);
  if (!applied_st.ok()) return applied_st;
  applied_published_.store(applied_);
  if (metrics::Enabled()) metrics::M().store_follower_lag->Set(0);
  auto read_int = [&](const char* sql, std::string_view what) -> Result<int64_t> {
    auto rows = c.Query(sql, Params(), what);
    if (!rows.ok()) return rows.status();
    return rows->Int(0, 0);
  };
  bool reloaded = false;
  if (Status st = ReloadIfPruned(
          start, [&] { return read_int(kChangeFloorSql, "reading the change log's floor"); },
          [&] { return read_int(kChangeHorizonSql, "reading the change log"); }, hooks_, &applied_,
          &reloaded);
      !st.ok())
    return st;
  if (reloaded) {  // entries of any kind may have been skipped
    *applied_some = true;
    beyond_usage_published_.fetch_add(1);
  }
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

void Follower::Wait(Conn& c) {
  // True when a notification other than this node's own usage-only notice (OwnUsageNotice,
  // which waits for the next round) has been received.
  auto woken = [&] {
    bool any = false;
    while (PGnotify* m = PQnotifies(c.raw())) {
      if (m->extra == nullptr || own_usage_notice_ != m->extra) any = true;
      PQfreemem(m);
    }
    return any;
  };
  // libpq parses notifications that arrive while a query's result is read, and keeps them: one
  // that came during the round's log read (for a commit that read did not see) is no longer on
  // the socket, so poll alone would sleep through it until the renew interval.
  if (woken()) return;
  if (hooks_.idle) hooks_.idle(applied_);
  const auto until = SteadyClock::now() + std::chrono::milliseconds(options_.renew_ms);
  while (!Stopping()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
    if (left.count() <= 0) return;
    pollfd p{PQsocket(c.raw()), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    if (n > 0) {
      if (!PQconsumeInput(c.raw())) return;  // broken: the next round notices
      if (woken()) return;
    }
  }
}

}  // namespace sandgate::store::pgdb
