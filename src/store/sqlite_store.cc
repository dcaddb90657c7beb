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
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "metrics/sandgate_metrics.h"
#include "store/change_log.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_tx.h"
#include "store/store_errors.h"

namespace sandgate::store {
namespace {

using namespace sqlitedb;

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
  const int target = options.max_schema_version >= 1 && options.max_schema_version < SchemaVersion()
                         ? options.max_schema_version
                         : SchemaVersion();
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
