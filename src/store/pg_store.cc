#include "store/pg_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "common/no_wait.h"
#include "metrics/sandgate_metrics.h"
#include "store/pg_follower.h"
#include "store/pg_schema.h"
#include "store/pg_tx.h"
#include "store/store_errors.h"

namespace sandgate::store {
namespace {

using namespace pgdb;

thread_local const void* t_active_store = nullptr;

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
  // The same, counting only the entries that were not usage alone (kUsageOnlyChange).
  std::optional<uint64_t> ChangeStampIgnoringUsage() override {
    if (!follower_ || !follower_->Trusted()) return std::nullopt;
    return static_cast<uint64_t>(follower_->AppliedBeyondUsage()) + local_beyond_usage_.load();
  }

  Status Follow(const std::string& node_id, int64_t from_seq, FollowHooks hooks) override {
    if (follower_) return AlreadyFollowing();
    node_id_ = node_id;
    usage_notice_ = OwnUsageNotice(node_id);
    follower_ = std::make_unique<Follower>(url_, options_, node_id, from_seq, std::move(hooks));
    return Status::Ok();
  }

  bool IndexTrusted() const override { return follower_ && follower_->Trusted(); }

  Status AwaitPropagation(int64_t seq, const std::string& self_node) override {
    static const std::string sql = LaggingNodesSql("$2");
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
          options_.max_schema_version >= 1 && options_.max_schema_version < KnownSchemaVersion()
              ? options_.max_schema_version
              : KnownSchemaVersion();
      Status st = Migrate(c, target);
      lease->broken = c.broken();
      return st;
    }
    auto v = SchemaVersion(c);
    lease->broken = c.broken();
    if (!v.ok()) return v.status();
    if (*v > KnownSchemaVersion()) {
      return SchemaTooNew(*v, KnownSchemaVersion());
    }
    if (*v < KnownSchemaVersion()) {
      return Status(503, "SCHEMA_OUTDATED",
                    "store: the database has schema version " + std::to_string(*v) +
                        "; this build needs version " + std::to_string(KnownSchemaVersion()) +
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
      Status st = RunTx(*lease->conn, writable, audit_key(), fn, &effect, usage_notice_, node_id_);
      lease->broken = lease->conn->broken();
      if (!st.ok()) return st;
    }
    if (effect.changed) {
      // This node's caches: at once (its own follower applies the entry later).
      local_cache_changes_.fetch_add(1);
      if (!effect.usage_only) local_beyond_usage_.fetch_add(1);
      // The other nodes' caches: once each has applied the entry, as for a token change. A
      // caller that logged its own change waits for it itself (Services::Mutate).
      // The COMMIT's round trip already asked once (RunTx): often nobody lacks the entry.
      if (effect.own_change > 0 && effect.lagging_nodes != 0)
        (void)AwaitPropagation(effect.own_change, node_id_);
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
  std::string node_id_;       // set once by Follow, before serving
  std::string usage_notice_;  // OwnUsageNotice(node_id_), likewise
  std::atomic<uint64_t> local_cache_changes_{0};
  std::atomic<uint64_t> local_beyond_usage_{0};  // local_cache_changes_ that were not usage alone
};

}  // namespace

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
