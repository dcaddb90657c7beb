// The SQLite backend: the shared StoreSuite plus SQLite-specific behaviour (pragmas, schema
// versions, file handling, lock timeouts, commit failures, the reader pool).
#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "store/store_test_suite.h"

namespace sandgate::store {
namespace {

std::unique_ptr<Store> OpenSqliteInDir(const std::string& dir) {
  auto r = OpenSqliteStore(dir + "/sandgate.db");
  if (!r.ok()) {
    ADD_FAILURE() << "OpenSqliteStore: " << r.status().ToString();
    return nullptr;
  }
  return std::move(r).value();
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSuite,
                         ::testing::Values(StoreBackend{"Sqlite", OpenSqliteInDir, nullptr,
                                                        nullptr}),
                         StoreBackendName);

// A plain SQLite connection to poke at the file from outside the store.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  std::string QueryText(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    std::string out;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
    if (s != nullptr && sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* p = sqlite3_column_text(s, 0);
      if (p != nullptr) out = reinterpret_cast<const char*>(p);
    }
    sqlite3_finalize(s);
    return out;
  }
  int64_t QueryInt(const std::string& sql) { return std::stoll(QueryText(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sandgate-sqlite-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/sandgate.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<Store> Open(const SqliteOptions& options = {}) {
    auto r = OpenSqliteStore(path_, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  static OrgRecord Org(const std::string& name) {
    OrgRecord o;
    o.name = name;
    return o;
  }

  // Names of all organizations, via a Read.
  std::vector<std::string> OrgNames(Store& store) {
    std::vector<std::string> names;
    Status st = store.Read([&](Tx& tx) -> Status {
      auto page = tx.ListOrgs("", 0, 1000);
      if (!page.ok()) return page.status();
      for (const auto& o : page->items) names.push_back(o.name);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return names;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, UsesWalAndRecordsTheSchemaVersion) {
  ASSERT_GE(SqliteSchemaVersion(), 1);
  auto store = Open();
  ASSERT_NE(store, nullptr);
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.QueryInt("SELECT max(version) FROM schema_version"), SqliteSchemaVersion());
  EXPECT_EQ(raw.QueryInt("SELECT count(*) FROM schema_version"), SqliteSchemaVersion());
}

TEST_F(SqliteStoreTest, ReopeningDoesNotReapplyMigrations) {
  for (int i = 0; i < 3; ++i) {
    auto store = Open();
    ASSERT_NE(store, nullptr);
  }
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryInt("SELECT count(*) FROM schema_version"), SqliteSchemaVersion());
}

TEST_F(SqliteStoreTest, RefusesASchemaNewerThanTheBuild) {
  Open().reset();
  const int newer = SqliteSchemaVersion() + 1;
  {
    RawDb raw(path_);
    raw.Exec("INSERT INTO schema_version (version, applied_at) VALUES (" + std::to_string(newer) +
             ", 0)");
  }
  auto r = OpenSqliteStore(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_status(), 500);
  EXPECT_EQ(r.status().code(), "SCHEMA_TOO_NEW");
  EXPECT_NE(r.status().message().find(std::to_string(newer)), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(std::to_string(SqliteSchemaVersion())), std::string::npos);
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryInt("SELECT max(version) FROM schema_version"), newer);  // left alone
}

TEST_F(SqliteStoreTest, Version1DatabaseMigratesToTheNewestKeepingItsData) {
  ASSERT_GE(SqliteSchemaVersion(), 2);
  OrgRecord org = Org("Old Org");
  org.created_at = 1'700'000'000'000;
  org.subscription = domain::Subscription::kActive;
  org.ends_at = 1'800'000'000'000;
  org.daily_allowance = 42;
  TokenRecord token;
  UserRecord user;
  int64_t audit_id = 0;
  {
    SqliteOptions v1;
    v1.max_schema_version = 1;
    auto old = Open(v1);
    ASSERT_NE(old, nullptr);
    Status st = old->Write([&](Tx& tx) -> Status {
      auto id = tx.InsertOrg(org);
      if (!id.ok()) return id.status();
      org.id = *id;
      token.org_id = org.id;
      token.lookup_hash = std::string("\0\xffhash", 6);
      token.sealed = std::string("\0sealed", 7);
      token.key_id = "k1";
      token.last4 = "wxyz";
      if (Status s = tx.InsertToken(token); !s.ok()) return s;
      user.username = "alice";
      user.password_hash = "$argon2id$x";
      user.role = domain::Role::kOrgAdmin;
      user.org_id = org.id;
      auto uid = tx.InsertUser(user);
      if (!uid.ok()) return uid.status();
      user.id = *uid;
      SessionRecord session;
      session.id_hash = "session-hash";
      session.user_id = user.id;
      if (Status s = tx.InsertSession(session); !s.ok()) return s;
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    {
      // An audit record as version 1 wrote it (this build's AppendAudit needs the chain columns).
      RawDb raw(path_);
      raw.Exec(
          "INSERT INTO audit (ts, actor, actor_role, org_id, action, outcome, client_addr, "
          "token_fp, detail) VALUES (0, 'alice', '', " +
          std::to_string(org.id) + ", 'LOGIN', 'ALLOWED', '', '', '')");
      audit_id = raw.QueryInt("SELECT max(id) FROM audit");
    }
    // Version 1 has no usage table: the new methods fail instead of touching anything.
    Status usage = old->Write([&](Tx& tx) { return tx.AddUsage(org.id, 1, 1, 0, 5); });
    EXPECT_EQ(usage.http_status(), 500) << usage.ToString();
  }
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.QueryInt("SELECT max(version) FROM schema_version"), 1);
    EXPECT_EQ(raw.QueryInt("SELECT count(*) FROM sqlite_master WHERE name IN ('usage', 'reports')"),
              0);
  }

  auto store = Open();
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.QueryInt("SELECT max(version) FROM schema_version"), SqliteSchemaVersion());
    EXPECT_EQ(raw.QueryInt("SELECT count(*) FROM schema_version"), SqliteSchemaVersion());
    EXPECT_EQ(raw.QueryText("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(raw.QueryText("PRAGMA foreign_key_check"), "");
  }
  Status st = store->Read([&](Tx& tx) -> Status {
    auto o = tx.GetOrg(org.id);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    if (o.ok()) {
      EXPECT_EQ(o->name, "Old Org");
      EXPECT_EQ(o->created_at, org.created_at);
      EXPECT_EQ(o->subscription, domain::Subscription::kActive);
      EXPECT_EQ(o->ends_at, org.ends_at);
      EXPECT_EQ(o->daily_allowance, 42);
    }
    auto t = tx.GetToken(org.id);
    EXPECT_TRUE(t.ok() && t->has_value());
    if (t.ok() && t->has_value()) {
      EXPECT_EQ((*t)->lookup_hash, token.lookup_hash);
      EXPECT_EQ((*t)->sealed, token.sealed);
    }
    auto u = tx.GetUserByName("alice");
    EXPECT_TRUE(u.ok() && u->id == user.id && u->org_id == org.id);
    EXPECT_TRUE(tx.GetSession("session-hash").ok());
    auto a = tx.ListAudit({});
    EXPECT_TRUE(a.ok() && a->size() == 1 && (*a)[0].id == audit_id);
    auto usage = tx.GetUsage(org.id, 1);
    EXPECT_TRUE(usage.ok() && usage->used == 0);
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();

  // The new tables work for the organizations that were already there.
  st = store->Write([&](Tx& tx) -> Status {
    if (Status s = tx.AddUsage(org.id, 1, 3, 1, 5); !s.ok()) return s;
    ReportRecord r;
    r.org_id = org.id;
    r.md5 = "AB";
    r.report_json = "{}";
    return tx.PutReport(r);
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  st = store->Read([&](Tx& tx) -> Status {
    auto usage = tx.GetUsage(org.id, 1);
    EXPECT_TRUE(usage.ok() && usage->used == 3 && usage->over_quota == 1);
    auto last = tx.LastUsed(org.id);
    EXPECT_TRUE(last.ok() && *last == std::optional<TimeMs>(5));
    auto r = tx.GetReport(org.id, "AB");
    EXPECT_TRUE(r.ok() && r->has_value());
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();

  // A store limited to version 1 still opens the newer database (it does not downgrade).
  SqliteOptions v1;
  v1.max_schema_version = 1;
  EXPECT_NE(Open(v1), nullptr);
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryInt("SELECT max(version) FROM schema_version"), SqliteSchemaVersion());
}

TEST_F(SqliteStoreTest, NewDatabaseFilesArePrivate) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Tx& tx) { return tx.InsertOrg(Org("Acme")).status(); }).ok());
  for (const std::string& p : {path_, path_ + "-wal", path_ + "-stamp"}) {
    struct stat st {};
    ASSERT_EQ(stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << p;
  }
}

// A commit that bypasses the store (here: a plain SQLite connection, as the sqlite3 shell) does not
// bump the shared counter; the data-version check notices it and moves the stamp.
TEST_F(SqliteStoreTest, ChangeStampNoticesCommitsThatBypassTheStore) {
  SqliteOptions every_call;
  every_call.foreign_check_interval_ms = 0;
  auto store = Open(every_call);
  ASSERT_NE(store, nullptr);
  const std::optional<uint64_t> s0 = store->ChangeStamp();
  ASSERT_TRUE(s0);
  EXPECT_EQ(store->ChangeStamp(), s0);
  RawDb raw(path_);
  raw.Exec("UPDATE schema_version SET applied_at = applied_at + 1");
  const std::optional<uint64_t> s1 = store->ChangeStamp();
  ASSERT_TRUE(s1);
  EXPECT_GT(*s1, *s0);
  EXPECT_EQ(store->ChangeStamp(), s1) << "no commit, no move";

  // With the default interval, the check runs at most once a second.
  auto slow = Open();
  ASSERT_NE(slow, nullptr);
  const std::optional<uint64_t> t0 = slow->ChangeStamp();  // first check: records the version
  raw.Exec("UPDATE schema_version SET applied_at = applied_at + 1");
  EXPECT_EQ(slow->ChangeStamp(), t0) << "checked again within the second";
}

// The server (`serving`) follows; the CLI (`cli`, another handle on the file) records changes.
// CatchUp hands the changed organizations to the hook once, in one batch, and only when something
// was committed since; a failed hook is retried from the same point.
TEST_F(SqliteStoreTest, CatchUpAppliesTheChangesOtherProcessesRecorded) {
  auto serving = Open();
  auto cli = Open();
  ASSERT_NE(serving, nullptr);
  ASSERT_NE(cli, nullptr);
  OrgId a = 0, b = 0;
  ASSERT_TRUE(cli->Write([&](Tx& tx) {
                   a = tx.InsertOrg(Org("A")).value();
                   b = tx.InsertOrg(Org("B")).value();
                   return tx.RecordChange(a).status();
                 })
                  .ok());
  auto horizon = serving->ChangeHorizon();  // read before the index is loaded
  ASSERT_TRUE(horizon.ok());
  std::vector<std::vector<OrgId>> applied;
  Status next_apply = Status::Ok();
  FollowHooks hooks;
  hooks.apply = [&](const std::vector<OrgId>& orgs) {
    applied.push_back(orgs);
    return next_apply;
  };
  hooks.reload = [] { return Status::Ok(); };
  ASSERT_TRUE(serving->Follow("", *horizon, hooks).ok());
  EXPECT_TRUE(serving->CatchUp().ok());
  EXPECT_TRUE(applied.empty()) << "what the index was loaded with is not applied again";

  auto record = [&](std::vector<OrgId> orgs) {
    ASSERT_TRUE(cli->Write([&](Tx& tx) -> Status {
                     for (OrgId o : orgs)
                       if (auto s = tx.RecordChange(o); !s.ok()) return s.status();
                     return Status::Ok();
                   })
                    .ok());
  };
  record({b, a, b});
  EXPECT_TRUE(serving->CatchUp().ok());
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0], (std::vector<OrgId>{a, b}));
  EXPECT_TRUE(serving->CatchUp().ok());
  EXPECT_EQ(applied.size(), 1u) << "nothing committed since";

  record({a});
  next_apply = Status::Unavailable("index busy");
  EXPECT_EQ(serving->CatchUp().code(), "STORE_UNAVAILABLE");
  next_apply = Status::Ok();
  EXPECT_TRUE(serving->CatchUp().ok());
  ASSERT_EQ(applied.size(), 3u);
  EXPECT_EQ(applied[2], std::vector<OrgId>{a}) << "retried from the same point";
  EXPECT_TRUE(serving->CatchUp().ok());
  EXPECT_EQ(applied.size(), 3u);
}

// The change log is pruned once the server's catch-up applied it; a follower that had not (a
// second handle following from before) reloads its whole index instead of missing entries.
TEST_F(SqliteStoreTest, PruneChangeLogDropsWhatWasAppliedAndALateFollowerReloads) {
  auto serving = Open();
  auto cli = Open();
  auto late = Open();
  ASSERT_TRUE(serving && cli && late);
  OrgId a = 0;
  ASSERT_TRUE(cli->Write([&](Tx& tx) {
                   a = tx.InsertOrg(Org("A")).value();
                   return Status::Ok();
                 })
                  .ok());
  int applied = 0, reloads = 0, late_applied = 0, late_reloads = 0;
  FollowHooks hooks{[&](const std::vector<OrgId>&) { return ++applied, Status::Ok(); },
                    [&] { return ++reloads, Status::Ok(); },
                    {}};
  FollowHooks late_hooks{[&](const std::vector<OrgId>&) { return ++late_applied, Status::Ok(); },
                         [&] { return ++late_reloads, Status::Ok(); },
                         {}};
  ASSERT_TRUE(serving->Follow("", 0, hooks).ok());
  ASSERT_TRUE(late->Follow("", 0, late_hooks).ok());
  EXPECT_EQ(*serving->PruneChangeLog(), 0) << "nothing recorded yet";
  int64_t last = 0;
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(cli->Write([&](Tx& tx) {
                     auto s = tx.RecordChange(a);
                     if (s.ok()) last = *s;
                     return s.status();
                   })
                    .ok());
  ASSERT_TRUE(serving->CatchUp().ok());
  EXPECT_EQ(applied, 1);
  auto pruned = serving->PruneChangeLog();
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 3);
  EXPECT_EQ(*serving->PruneChangeLog(), 0);
  EXPECT_EQ(*serving->ChangeHorizon(), last) << "the horizon survives the pruning";
  ASSERT_TRUE(late->CatchUp().ok());
  EXPECT_EQ(late_applied, 0);
  EXPECT_EQ(late_reloads, 1) << "entries it never applied are gone: it reloads";
  // Both go on from the horizon: a new change is applied, not reloaded.
  ASSERT_TRUE(cli->Write([&](Tx& tx) { return tx.RecordChange(a).status(); }).ok());
  ASSERT_TRUE(serving->CatchUp().ok());
  ASSERT_TRUE(late->CatchUp().ok());
  EXPECT_EQ(applied, 2);
  EXPECT_EQ(late_applied, 1);
  EXPECT_EQ(reloads + late_reloads, 1);
}

TEST_F(SqliteStoreTest, RefusesPathsItCannotUse) {
  auto missing_dir = OpenSqliteStore(dir_ + "/no/such/dir/x.db");
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.status().code(), "STORE_UNAVAILABLE");

  std::ofstream(path_) << std::string(4096, 'x');
  auto not_a_db = OpenSqliteStore(path_);
  ASSERT_FALSE(not_a_db.ok());
  EXPECT_EQ(not_a_db.status().code(), "STORE_UNAVAILABLE") << not_a_db.status().ToString();

  EXPECT_FALSE(OpenSqliteStore(":memory:").ok());
  EXPECT_FALSE(OpenSqliteStore("").ok());
}

TEST_F(SqliteStoreTest, NestedTransactionsAreRefused) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Status inner_write, inner_read, read_in_read;
  ASSERT_TRUE(store
                  ->Write([&](Tx&) {
                    inner_write = store->Write([](Tx&) { return Status::Ok(); });
                    inner_read = store->Read([](Tx&) { return Status::Ok(); });
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(store
                  ->Read([&](Tx&) {
                    read_in_read = store->Read([](Tx&) { return Status::Ok(); });
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(inner_write.code(), "INTERNAL");
  EXPECT_EQ(inner_read.code(), "INTERNAL");
  EXPECT_EQ(read_in_read.code(), "INTERNAL");
  // And the store still works afterwards.
  EXPECT_TRUE(store->Write([](Tx& tx) { return tx.InsertOrg(Org("Acme")).status(); }).ok());
}

TEST_F(SqliteStoreTest, LockHeldByAnotherProcessGivesUnavailable) {
  SqliteOptions options;
  options.busy_timeout_ms = 100;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Tx& tx) { return tx.InsertOrg(Org("Before")).status(); }).ok());

  RawDb other(path_);
  other.Exec("BEGIN IMMEDIATE");
  Status st = store->Write([](Tx& tx) { return tx.InsertOrg(Org("Blocked")).status(); });
  EXPECT_EQ(st.http_status(), 503) << st.ToString();
  EXPECT_EQ(st.code(), "STORE_UNAVAILABLE");
  EXPECT_EQ(OrgNames(*store), std::vector<std::string>{"Before"});  // readers are not blocked
  other.Exec("ROLLBACK");

  EXPECT_TRUE(store->Write([](Tx& tx) { return tx.InsertOrg(Org("After")).status(); }).ok());
  EXPECT_EQ(OrgNames(*store), (std::vector<std::string>{"Before", "After"}));
}

TEST_F(SqliteStoreTest, FailedCommitChangesNothingAndIsUnavailable) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  {
    // Inserting an org named "boom" violates a deferred foreign key, so COMMIT itself fails.
    RawDb raw(path_);
    raw.Exec(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);"
        "CREATE TRIGGER boom AFTER INSERT ON orgs WHEN NEW.name = 'boom' "
        "BEGIN INSERT INTO child VALUES (42); END;");
  }
  Status st = store->Write([](Tx& tx) -> Status {
    if (Status s = tx.InsertOrg(Org("innocent")).status(); !s.ok()) return s;
    return tx.InsertOrg(Org("boom")).status();
  });
  EXPECT_EQ(st.http_status(), 503) << st.ToString();
  EXPECT_EQ(st.code(), "STORE_UNAVAILABLE");
  EXPECT_TRUE(OrgNames(*store).empty());
  // The writer connection is usable again.
  EXPECT_TRUE(store->Write([](Tx& tx) { return tx.InsertOrg(Org("next")).status(); }).ok());
  EXPECT_EQ(OrgNames(*store), std::vector<std::string>{"next"});
}

TEST_F(SqliteStoreTest, TransactionEndedByTheDatabaseIsNeverHalfApplied) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(path_);
    raw.Exec(
        "CREATE TRIGGER rollback_now AFTER INSERT ON orgs WHEN NEW.name = 'rollback' "
        "BEGIN SELECT RAISE(ROLLBACK, 'injected'); END;");
  }
  Status after_status;
  Status st = store->Write([&](Tx& tx) -> Status {
    EXPECT_TRUE(tx.InsertOrg(Org("first")).ok());
    Status failed = tx.InsertOrg(Org("rollback")).status();
    EXPECT_EQ(failed.http_status(), 503) << failed.ToString();
    // A careless caller carries on; nothing may now run outside the (gone) transaction.
    after_status = tx.InsertOrg(Org("after")).status();
    return Status::Ok();
  });
  EXPECT_EQ(st.http_status(), 503) << st.ToString();
  EXPECT_FALSE(after_status.ok());
  EXPECT_TRUE(OrgNames(*store).empty());
}

TEST_F(SqliteStoreTest, ConstraintViolationLeavesTheTransactionUsable) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Tx& tx) { return tx.InsertOrg(Org("Acme")).status(); }).ok());
  Status st = store->Write([](Tx& tx) -> Status {
    EXPECT_EQ(tx.InsertOrg(Org("Acme")).status().code(), "ORG_EXISTS");
    return tx.InsertOrg(Org("Beta")).status();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(OrgNames(*store), (std::vector<std::string>{"Acme", "Beta"}));
}

TEST_F(SqliteStoreTest, ForEachTokenCallbackMayUseTheTx) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->Write([](Tx& tx) -> Status {
                    for (int i = 0; i < 3; ++i) {
                      auto id = tx.InsertOrg(Org("org" + std::to_string(i)));
                      if (!id.ok()) return id.status();
                      TokenRecord t;
                      t.org_id = *id;
                      t.lookup_hash = std::string(32, static_cast<char>('a' + i));
                      if (Status s = tx.InsertToken(t); !s.ok()) return s;
                    }
                    return Status::Ok();
                  })
                  .ok());
  int outer = 0, inner = 0;
  Status st = store->Read([&](Tx& tx) -> Status {
    return tx.ForEachToken([&](const TokenRecord& t, const OrgRecord&) {
      ++outer;
      EXPECT_TRUE(tx.GetOrg(t.org_id).ok());
      EXPECT_TRUE(tx.ForEachToken([&](const TokenRecord&, const OrgRecord&) { ++inner; }).ok());
    });
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(outer, 3);
  EXPECT_EQ(inner, 9);
}

TEST_F(SqliteStoreTest, ReaderPoolIsBounded) {
  SqliteOptions options;
  options.max_readers = 2;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  std::atomic<int> active{0}, max_active{0}, failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 3; ++j) {
        Status st = store->Read([&](Tx& tx) -> Status {
          int now = ++active;
          int seen = max_active.load();
          while (now > seen && !max_active.compare_exchange_weak(seen, now)) {
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          Status s = tx.CountUsers().status();
          --active;
          return s;
        });
        if (!st.ok()) failures++;
        if (!store->Ping().ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(max_active.load(), 1);
  EXPECT_LE(max_active.load(), 2);
}

}  // namespace
}  // namespace sandgate::store
