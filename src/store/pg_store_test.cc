// The PostgreSQL backend: the shared StoreSuite (unchanged) plus PostgreSQL-specific behaviour
// (schema versions, an unreachable server, the cluster change feed and leases).
//
// The server: CTest starts a throwaway cluster (scripts/pg-test-cluster.sh, fixture "postgres")
// and passes its URL file in SANDGATE_TEST_PG_URL_FILE; SANDGATE_TEST_PG_URL may name a server
// directly. Without either (running the binary by hand) these tests are skipped; under CTest they
// always run. Every test gets its own database, dropped afterwards.
#include "store/pg_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "quota/cluster_limits.h"
#include "service/services.h"
#include "store/change_log.h"
#include "store/group_commit.h"
#include "store/store_test_suite.h"
#include "token/keyring.h"

namespace sandgate::store {
namespace {

// The admin URL (database "postgres"), or "" when no server is configured.
std::string AdminUrl() {
  if (const char* u = std::getenv("SANDGATE_TEST_PG_URL"); u && *u) return u;
  if (const char* f = std::getenv("SANDGATE_TEST_PG_URL_FILE"); f && *f) {
    std::ifstream in(f);
    std::string url;
    std::getline(in, url);
    return url.empty() ? std::string("unreadable:") + f : url;
  }
  return "";
}

std::string SkipReason() {
  return AdminUrl().empty() ? "no PostgreSQL test server (set SANDGATE_TEST_PG_URL_FILE)" : "";
}

// Runs one SQL command on the admin database; fails the test on error.
void AdminExec(const std::string& sql) {
  PGconn* c = PQconnectdb(AdminUrl().c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, sql.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << sql << ": " << PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
}

std::string DbName(const std::string& scratch_dir) {
  std::string name = "sg_";
  for (char ch : std::filesystem::path(scratch_dir).filename().string())
    name +=
        std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch)) : '_';
  return name;
}

// The URL of database `db` on the test server.
std::string DbUrl(const std::string& db) {
  std::string url = AdminUrl();
  return url.substr(0, url.rfind('/') + 1) + db;
}

std::unique_ptr<Store> OpenInDir(const std::string& dir, PgOptions options = {}) {
  const std::string db = DbName(dir);
  if (!std::filesystem::exists(dir + "/.pg-created")) {
    AdminExec("CREATE DATABASE " + db);
    std::ofstream(dir + "/.pg-created") << db;
  }
  auto r = OpenPgStore(DbUrl(db), options);
  if (!r.ok()) {
    ADD_FAILURE() << "OpenPgStore: " << r.status().ToString();
    return nullptr;
  }
  return std::move(r).value();
}

void DropForDir(const std::string& dir) {
  if (std::filesystem::exists(dir + "/.pg-created"))
    AdminExec("DROP DATABASE IF EXISTS " + DbName(dir) + " WITH (FORCE)");
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreSuite,
                         ::testing::Values(StoreBackend{
                             "Postgres", [](const std::string& d) { return OpenInDir(d); },
                             DropForDir, SkipReason}),
                         StoreBackendName);

// A scratch database for the PostgreSQL-only tests.
class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = SkipReason(); !why.empty()) GTEST_SKIP() << why;
    std::string tmpl = (std::filesystem::temp_directory_path() / "sandgate-pg-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (dir_.empty()) return;
    DropForDir(dir_);
    std::filesystem::remove_all(dir_);
  }
  std::string url() const { return DbUrl(DbName(dir_)); }
  std::string dir_;
};

TEST_F(PgStoreTest, RefusesOutdatedAndNewerSchemas) {
  PgOptions partial;
  partial.max_schema_version = 1;
  ASSERT_NE(OpenInDir(dir_, partial), nullptr);

  PgOptions no_migrate;
  no_migrate.migrate = false;
  auto outdated = OpenPgStore(url(), no_migrate);
  ASSERT_FALSE(outdated.ok());
  EXPECT_EQ(outdated.status().code(), "SCHEMA_OUTDATED");
  EXPECT_NE(outdated.status().message().find("sandgate migrate"), std::string::npos);

  ASSERT_NE(OpenInDir(dir_), nullptr);  // migrates to the newest
  ASSERT_TRUE(OpenPgStore(url(), no_migrate).ok());

  PGconn* c = PQconnectdb(url().c_str());
  PQclear(PQexec(c, "INSERT INTO schema_version VALUES (99, 0)"));
  PQfinish(c);
  auto too_new = OpenPgStore(url(), no_migrate);
  ASSERT_FALSE(too_new.ok());
  EXPECT_EQ(too_new.status().code(), "SCHEMA_TOO_NEW");
  EXPECT_EQ(OpenPgStore(url(), PgOptions{}).status().code(), "SCHEMA_TOO_NEW");
}

TEST_F(PgStoreTest, UnreachableServerIs503AndPasswordNeverShown) {
  // A port nobody listens on.
  auto r = OpenPgStore("postgres://u:s3cret-pw@127.0.0.1:1/db", PgOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_status(), 503);
  EXPECT_EQ(r.status().message().find("s3cret-pw"), std::string::npos) << r.status().message();
  EXPECT_EQ(RedactPgUrl("postgres://u:s3cret-pw@h:5/db?password=x&sslmode=require"),
            "postgres://u@h:5/db");
}

OrgRecord NewOrg(const std::string& name) {
  OrgRecord o;
  o.name = name;
  o.created_at = 1;
  return o;
}

// `store` follows the change log as "node-a", appending every organization it applies to
// `applied` (under `mu`), and waits (at most 2 s) until it trusts its index.
// idle_at, when given, holds the applied sequence number of the follower's last idle moment.
void FollowAsNodeA(Store& store, std::mutex& mu, std::vector<OrgId>& applied,
                   std::atomic<int64_t>* idle_at = nullptr) {
  FollowHooks hooks;
  if (idle_at) hooks.idle = [idle_at](int64_t seq) { idle_at->store(seq); };
  hooks.apply = [&](const std::vector<OrgId>& orgs) {
    std::lock_guard<std::mutex> lock(mu);
    applied.insert(applied.end(), orgs.begin(), orgs.end());
    return Status::Ok();
  };
  hooks.reload = [] { return Status::Ok(); };
  auto horizon = store.ChangeHorizon();
  ASSERT_TRUE(horizon.ok());
  ASSERT_TRUE(store.Follow("node-a", *horizon, hooks).ok());
  for (int i = 0; i < 200 && !store.IndexTrusted(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

TEST_F(PgStoreTest, FollowerAppliesOtherWritersChangesBeforeTheyReturn) {
  auto a = OpenInDir(dir_);
  auto b = OpenInDir(dir_);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->IndexTrusted()) << "a store that does not follow trusts nothing";

  std::mutex mu;
  std::vector<OrgId> applied;
  FollowAsNodeA(*a, mu, applied);
  ASSERT_TRUE(a->IndexTrusted());

  for (int round = 0; round < 20; ++round) {
    OrgId org = 0;
    int64_t seq = 0;
    ASSERT_TRUE(b->Write([&](Tx& tx) -> Status {
                   auto id = tx.InsertOrg(NewOrg("org" + std::to_string(round)));
                   if (!id.ok()) return id.status();
                   org = *id;
                   auto s = tx.RecordChange(org);
                   if (!s.ok()) return s.status();
                   seq = *s;
                   return Status::Ok();
                 }).ok());
    ASSERT_GT(seq, 0);
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(b->AwaitPropagation(seq, "node-b").ok());
    // Returned because node-a acknowledged, not because its lease ran out.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_FALSE(applied.empty());
    EXPECT_EQ(applied.back(), org) << "round " << round;
  }
  // A rolled-back change is never seen.
  EXPECT_FALSE(b->Write([&](Tx& tx) -> Status {
                  (void)tx.RecordChange(424242);
                  return Status::Conflict("NO", "roll back");
                }).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  std::lock_guard<std::mutex> lock(mu);
  for (OrgId o : applied) EXPECT_NE(o, 424242);
}

// Issue 19: the per-node read caches on PostgreSQL. A following, trusted store answers a change
// stamp; a write to cached data made through another store (another node) has moved it when that
// write returns (no waiting here: the write waits for every live node); an audit-only write (not
// cached) logs nothing; this store's own writes move it at once. The cache-only entries refresh
// no organization in the index.
// Issue 19, target 6: a node's own usage-only entries do not wake its follower (its caches moved
// at its commit, and no writer waits for its acknowledgement of its own entries); they are applied
// with the next round, which another node's entry (or the renew interval) starts. Another node's
// usage-only entry still wakes it at once.
TEST_F(PgStoreTest, OwnUsageOnlyEntriesWaitForTheNextRoundOthersWakeTheFollower) {
  // Declared before the stores: the follower's hooks use them until a is destroyed.
  std::mutex mu;
  std::vector<OrgId> applied;
  std::atomic<int64_t> idle_at{-1};
  PgOptions slow;  // no round of its own during the test
  slow.lease_ms = 60000;
  slow.renew_ms = 20000;
  auto a = OpenInDir(dir_, slow);
  auto b = OpenInDir(dir_);
  ASSERT_TRUE(a && b);
  FollowAsNodeA(*a, mu, applied, &idle_at);
  ASSERT_TRUE(a->IndexTrusted());
  OrgId org = 0;
  ASSERT_TRUE(b->Write([&](Tx& tx) -> Status {
                 auto id = tx.InsertOrg(NewOrg("usage-notice"));
                 if (!id.ok()) return id.status();
                 org = *id;
                 return Status::Ok();
               }).ok());
  for (int round = 0; round < 5; ++round) {
    // A barrier: b's write returns once a has applied every entry up to it.
    ASSERT_TRUE(b->Write([&](Tx& tx) { return tx.DeleteSessionsBefore(round); }).ok());
    // After applying b's entry the follower reads the log once more before it waits: a's write
    // must come after that read, or the read may apply it (harmless, but not what is tested).
    auto horizon = b->ChangeHorizon();
    ASSERT_TRUE(horizon.ok());
    for (int i = 0; i < 1000 && idle_at.load() < *horizon; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_GE(idle_at.load(), *horizon) << "round " << round << ": the follower never went idle";
    const auto before = a->ChangeStamp();
    ASSERT_TRUE(before);
    ASSERT_TRUE(
        a->Write([&](Tx& tx) { return tx.AddUsage(org, 20000, 1, 0, TimeMs{100 + round}); }).ok());
    const auto own = a->ChangeStamp();
    ASSERT_TRUE(own);
    EXPECT_EQ(*own, *before + 1) << "round " << round << ": the commit moves the stamp once";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(*a->ChangeStamp(), *own)
        << "round " << round << ": the follower woke for its own usage-only entry";
    // b's usage-only write returns once a has applied it (and a's own entry with it).
    ASSERT_TRUE(
        b->Write([&](Tx& tx) { return tx.AddUsage(org, 20000, 1, 0, TimeMs{200 + round}); }).ok());
    EXPECT_GT(*a->ChangeStamp(), *own) << "round " << round << ": node b's entry was not applied";
  }
}

// libpq keeps notifications that arrive while a query's result is read: the follower must look
// at those before it polls the socket, or it sleeps through a commit until its renew interval
// and every writer waits for it that long. Two writers keep commits arriving during the
// follower's rounds; with a 20 s renew interval, one missed wake is a write that waits ~20 s.
// Checked: with the early look removed, this failed in each of 5 runs.
TEST_F(PgStoreTest, FollowerWakesForNotificationsReceivedDuringItsOwnQueries) {
  std::mutex mu;
  std::vector<OrgId> applied;
  PgOptions slow;
  slow.lease_ms = 60000;
  slow.renew_ms = 20000;
  auto a = OpenInDir(dir_, slow);
  auto b = OpenInDir(dir_, slow);
  auto c = OpenInDir(dir_, slow);
  ASSERT_TRUE(a && b && c);
  FollowAsNodeA(*a, mu, applied);
  ASSERT_TRUE(a->IndexTrusted());
  std::atomic<int64_t> slowest_ms{0};
  auto writer = [&](Store& s) {
    for (int i = 0; i < 300 && slowest_ms.load() < 10000; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (!s.Write([&](Tx& tx) { return tx.DeleteSessionsBefore(i); }).ok()) {
        slowest_ms.store(-1);
        return;
      }
      const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - t0)
                             .count();
      int64_t seen = slowest_ms.load();
      while (seen >= 0 && ms > seen && !slowest_ms.compare_exchange_weak(seen, ms)) {
      }
    }
  };
  // Busy threads stretch the follower's rounds (CPU contention, as on a loaded node): without
  // them the race is seldom hit on an idle machine.
  std::atomic<bool> done{false};
  std::vector<std::thread> busy;
  for (int i = 0; i < 3; ++i)
    busy.emplace_back([&] {
      while (!done.load(std::memory_order_relaxed)) {
      }
    });
  std::thread tb(writer, std::ref(*b));
  std::thread tc(writer, std::ref(*c));
  tb.join();
  tc.join();
  done.store(true);
  for (auto& t : busy) t.join();
  ASSERT_GE(slowest_ms.load(), 0) << "a write failed";
  EXPECT_LT(slowest_ms.load(), 10000)
      << "a writer waited for the follower's renew interval: a notification was missed";
}

TEST_F(PgStoreTest, ChangeStampSeesEveryNodesWritesToCachedDataWhenTheyReturn) {
  auto a = OpenInDir(dir_);
  auto b = OpenInDir(dir_);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->ChangeStamp()) << "not following: nothing may be cached";
  std::mutex mu;
  std::vector<OrgId> applied;
  FollowAsNodeA(*a, mu, applied);
  ASSERT_TRUE(a->IndexTrusted());
  ASSERT_TRUE(a->ChangeStamp());

  OrgId org = 0;
  ASSERT_TRUE(b->Write([&](Tx& tx) -> Status {
                 auto id = tx.InsertOrg(NewOrg("cached"));
                 if (!id.ok()) return id.status();
                 org = *id;
                 return Status::Ok();
               }).ok());
  for (int round = 0; round < 50; ++round) {
    // A barrier: node b's write returns once node a has applied every entry up to it, a's own
    // from the previous round included, so nothing moves a's stamps but what follows.
    ASSERT_TRUE(b->Write([&](Tx& tx) { return tx.AddUsage(org, 19999, 0, 0, std::nullopt); }).ok());
    const auto before = a->ChangeStamp();
    const auto before_ignoring_usage = a->ChangeStampIgnoringUsage();
    ASSERT_TRUE(before && before_ignoring_usage);
    // Another node: a session touch, a last use, an organization's settings.
    ASSERT_TRUE(b->Write([&](Tx& tx) -> Status {
                   switch (round % 3) {
                     case 0:
                       return tx.DeleteSessionsBefore(round);
                     case 1:
                       return tx.AddUsage(org, 20000, 0, 0, TimeMs{1000 + round});
                     default: {
                       auto o = tx.GetOrg(org);
                       if (!o.ok()) return o.status();
                       o->daily_allowance = 100 + round;
                       return tx.UpdateOrg(*o);
                     }
                   }
                 }).ok());
    const auto after = a->ChangeStamp();
    ASSERT_TRUE(after);
    EXPECT_GT(*after, *before) << "round " << round << ": node a's caches missed node b's write";
    // Usage alone leaves the stamp of the caches that hold no usage (limits, sessions); any
    // other write moves it too.
    const auto after_ignoring_usage = a->ChangeStampIgnoringUsage();
    ASSERT_TRUE(after_ignoring_usage);
    if (round % 3 == 1)
      EXPECT_EQ(*after_ignoring_usage, *before_ignoring_usage) << "round " << round;
    else
      EXPECT_GT(*after_ignoring_usage, *before_ignoring_usage) << "round " << round;
    // This node's own usage: at once for ChangeStamp only.
    const auto own_before = a->ChangeStamp();
    ASSERT_TRUE(
        a->Write([&](Tx& tx) { return tx.AddUsage(org, 20000, 1, 0, TimeMs{5000 + round}); }).ok());
    EXPECT_GT(*a->ChangeStamp(), *own_before) << "round " << round;
    EXPECT_EQ(*a->ChangeStampIgnoringUsage(), *after_ignoring_usage) << "round " << round;
    // This node's own write: at once.
    ASSERT_TRUE(a->Write([&](Tx& tx) { return tx.DeleteSessionsBefore(round); }).ok());
    EXPECT_GT(*a->ChangeStamp(), *after) << "round " << round;
    EXPECT_GT(*a->ChangeStampIgnoringUsage(), *after_ignoring_usage) << "round " << round;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    for (OrgId o : applied) {
      EXPECT_NE(o, kCacheOnlyChange) << "a cache-only entry was applied";
      EXPECT_NE(o, kUsageOnlyChange) << "a usage-only entry was applied";
    }
  }
  // Data no cache holds (the audit trail) logs no change.
  auto h0 = b->ChangeHorizon();
  ASSERT_TRUE(h0.ok());
  AuditRecord rec;
  rec.ts = 1;
  rec.actor = "test";
  rec.action = "TOKEN_READ";
  rec.outcome = "ALLOWED";
  ASSERT_TRUE(b->Write([&](Tx& tx) { return tx.AppendAudit(rec).status(); }).ok());
  auto h1 = b->ChangeHorizon();
  ASSERT_TRUE(h1.ok());
  EXPECT_EQ(*h1, *h0);
}

// The change log is pruned up to what every node with a live lease applied (never further); a
// follower that starts below the pruned floor reloads its whole index instead of missing entries.
TEST_F(PgStoreTest, PruneChangeLogKeepsWhatALiveNodeLacksAndALateFollowerReloads) {
  auto a = OpenInDir(dir_);
  auto b = OpenInDir(dir_);
  auto late = OpenInDir(dir_);
  ASSERT_TRUE(a && b && late);
  std::atomic<int> late_applied{0}, late_reloads{0};
  FollowHooks hooks{
      [](const std::vector<OrgId>&) { return Status::Ok(); }, [] { return Status::Ok(); }, {}};
  ASSERT_TRUE(a->Follow("node-a", 0, hooks).ok());
  for (int i = 0; i < 200 && !a->IndexTrusted(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(a->IndexTrusted());
  int64_t seq = 0;
  ASSERT_TRUE(b->Write([&](Tx& tx) -> Status {
                 auto id = tx.InsertOrg(NewOrg("pruned"));
                 if (!id.ok()) return id.status();
                 for (int i = 0; i < 3; ++i) {
                   auto s = tx.RecordChange(*id);
                   if (!s.ok()) return s.status();
                   seq = *s;
                 }
                 return Status::Ok();
               }).ok());
  ASSERT_TRUE(b->AwaitPropagation(seq, "node-b").ok());
  // A live node that has applied nothing yet holds the log.
  PGconn* c = PQconnectdb(url().c_str());
  PQclear(PQexec(c,
                 "INSERT INTO nodes (node_id, applied_seq, lease_until) VALUES "
                 "('behind', 0, now() + interval '1 hour')"));
  auto kept = b->PruneChangeLog();
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_EQ(*kept, 0);
  PQclear(PQexec(c, "DELETE FROM nodes WHERE node_id = 'behind'"));
  PQfinish(c);
  auto pruned = b->PruneChangeLog();
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 3);
  EXPECT_EQ(*b->ChangeHorizon(), seq) << "the horizon survives the pruning";
  FollowHooks late_hooks{[&](const std::vector<OrgId>&) { return ++late_applied, Status::Ok(); },
                         [&] { return ++late_reloads, Status::Ok(); },
                         {}};
  ASSERT_TRUE(late->Follow("node-late", 0, late_hooks).ok());
  for (int i = 0; i < 200 && !late->IndexTrusted(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(late->IndexTrusted());
  EXPECT_EQ(late_reloads.load(), 1) << "entries it never applied are gone: it reloads";
  EXPECT_EQ(late_applied.load(), 0);
}

TEST_F(PgStoreTest, WritersStopWaitingForANodeWhoseLeaseRanOut) {
  auto b = OpenInDir(dir_);
  ASSERT_TRUE(b);
  // A node that registered a lease and then went silent (kill -9): its lease is in the past soon.
  PGconn* c = PQconnectdb(url().c_str());
  PQclear(PQexec(c,
                 "INSERT INTO nodes (node_id, applied_seq, lease_until) VALUES "
                 "('dead', 0, now() + interval '300 milliseconds')"));
  PQfinish(c);
  int64_t seq = 0;
  ASSERT_TRUE(b->Write([&](Tx& tx) -> Status {
                 auto id = tx.InsertOrg(NewOrg("x"));
                 if (!id.ok()) return id.status();
                 auto s = tx.RecordChange(*id);
                 if (s.ok()) seq = *s;
                 return s.status();
               }).ok());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(b->AwaitPropagation(seq, "").ok());
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(100)) << "it must wait while the lease is live";
  EXPECT_LT(waited, std::chrono::milliseconds(2500));
}

TEST_F(PgStoreTest, WritesFromManyStoresAreSerialised) {
  // Several processes' stores (here: several store objects) on one database: read-modify-write
  // inside Write() never loses an update, thanks to the cluster-wide write lock.
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < 4; ++i) stores.push_back(OpenInDir(dir_));
  OrgId org = 0;
  ASSERT_TRUE(stores[0]
                  ->Write([&](Tx& tx) -> Status {
                    auto id = tx.InsertOrg(NewOrg("counter"));
                    if (id.ok()) org = *id;
                    return id.status();
                  })
                  .ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        Status st = stores[t % 4]->Write([&](Tx& tx) -> Status {
          auto o = tx.GetOrg(org);
          if (!o.ok()) return o.status();
          o->daily_allowance += 1;
          return tx.UpdateOrg(*o);
        });
        if (!st.ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(stores[0]
                  ->Read([&](Tx& tx) -> Status {
                    auto o = tx.GetOrg(org);
                    if (!o.ok()) return o.status();
                    EXPECT_EQ(o->daily_allowance, 100 + 8 * 25);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_F(PgStoreTest, ConsumeUsageIsExactAcrossStores) {
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < 3; ++i) stores.push_back(OpenInDir(dir_));
  OrgId org = 0;
  ASSERT_TRUE(stores[0]
                  ->Write([&](Tx& tx) -> Status {
                    auto id = tx.InsertOrg(NewOrg("quota"));
                    if (id.ok()) org = *id;
                    return id.status();
                  })
                  .ok());
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::optional<int64_t> got;
        Status st = stores[t % 3]->Write([&](Tx& tx) -> Status {
          auto r = tx.ConsumeUsage(org, 7, 100);
          if (r.ok()) got = *r;
          return r.status();
        });
        if (st.ok() && got) accepted++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(accepted.load(), 100);
}

// A report PostgreSQL refuses (text that is not UTF-8): the statement fails on the server.
ReportRecord RefusedReport(OrgId org) {
  ReportRecord r;
  r.org_id = org;
  r.md5 = "BAD";
  r.sha256 = std::string(64, 'b');
  r.status = "COMPLETED";
  r.report_json = "{\"bad\":\"\xff\xfe\"}";
  return r;
}

// Pipelined calls (Tx::Send*): a statement the server refuses fails the whole pipeline, so every
// call sent with it answers the failure and the transaction stores nothing. Statements prepared
// inside a failed pipeline were skipped by the server; the connection prepares them again, so
// later transactions on it work.
TEST_F(PgStoreTest, APipelinedCallTheServerRefusesFailsTheTransactionAndNothingIsStored) {
  PgOptions one;
  one.pool_size = 1;  // every transaction on the same connection
  auto store = OpenInDir(dir_, one);
  ASSERT_NE(store, nullptr);
  OrgId org = 0;
  ASSERT_TRUE(store
                  ->Write([&](Tx& tx) -> Status {
                    auto id = tx.InsertOrg(NewOrg("piped"));
                    if (id.ok()) org = *id;
                    return id.status();
                  })
                  .ok());
  const TimeMs now = 1'700'000'000'000;
  // The refused report first: the admission's statement is prepared (for the first time on the
  // connection) after it, in the pipeline the failure aborts.
  Status st = store->Write([&](Tx& tx) -> Status {
    const Tx::Ticket bad = tx.SendReportWithUsage(RefusedReport(org), 7, 1, now);
    const Tx::Ticket admit = tx.SendAdmission(org, 7, 10, 100, 1000, now);
    auto a = tx.TakeAdmission(admit);
    EXPECT_FALSE(a.ok()) << "sent in the failed pipeline";
    Status refused = tx.TakeReportWithUsage(bad);
    EXPECT_FALSE(refused.ok());
    return refused;
  });
  EXPECT_FALSE(st.ok());
  for (int i = 1; i <= 3; ++i) {
    std::optional<int64_t> used;
    ASSERT_TRUE(store
                    ->Write([&](Tx& tx) -> Status {
                      auto a = tx.TakeAdmission(tx.SendAdmission(org, 7, 10, 100, 1000, now));
                      if (a.ok()) used = a->used;
                      return a.status();
                    })
                    .ok())
        << "the connection works after the failed pipeline";
    EXPECT_EQ(used, std::optional<int64_t>(i)) << "nothing of the failed transaction stayed";
  }
  ASSERT_TRUE(store
                  ->Read([&](Tx& tx) -> Status {
                    auto rep = tx.GetReport(org, "BAD");
                    if (!rep.ok()) return rep.status();
                    EXPECT_FALSE(rep->has_value());
                    return Status::Ok();
                  })
                  .ok());
}

// The submission path on a PostgreSQL node (issue 19, target 6): admissions and reports go
// through a GroupCommitter as staged writes, so a batch's statements travel in one pipeline.
// Under concurrency the daily allowance is exact, every report is stored, and one caller whose
// statement the server refuses fails alone (its batch is run again, each write by itself).
TEST_F(PgStoreTest, StagedWritesThroughAGroupCommitterAreExactAndFailAlone) {
  auto store = OpenInDir(dir_);
  ASSERT_NE(store, nullptr);
  OrgId org = 0;
  ASSERT_TRUE(store
                  ->Write([&](Tx& tx) -> Status {
                    auto id = tx.InsertOrg(NewOrg("staged"));
                    if (id.ok()) org = *id;
                    return id.status();
                  })
                  .ok());
  GroupCommitter commits(*store);
  quota::Limits limits;
  limits.daily_allowance = 60;
  limits.rate_per_second = 1'000'000;
  limits.rate_per_hour = 1'000'000;
  limits.disable_threshold = 1000;
  const TimeMs now = 1'700'000'000'000;
  const int64_t day = now / 86'400'000;
  std::atomic<int> admitted{0}, full{0}, stored{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto a = quota::AdmitShared([&](const StagedWrite& w) { return commits.Write(w); }, org,
                                    limits, day, now);
        if (a.kind == quota::ClusterAdmission::Kind::kAdmitted)
          ++admitted;
        else if (a.kind == quota::ClusterAdmission::Kind::kQuotaFull)
          ++full;
        else
          ++other;
        ReportRecord rec = (t == 3 && i % 3 == 0) ? RefusedReport(org) : ReportRecord{};
        if (rec.md5.empty()) {
          rec.org_id = org;
          rec.md5 = "M" + std::to_string(t) + "-" + std::to_string(i);
          rec.sha256 = std::string(64, 'a');
          rec.status = "COMPLETED";
          rec.report_json = "{}";
        }
        Tx::Ticket sent = 0;
        StagedWrite w;
        w.send = [&](Tx& tx) {
          sent = tx.SendReportWithUsage(rec, day, 0, now);
          return Status::Ok();
        };
        w.finish = [&](Tx& tx) { return tx.TakeReportWithUsage(sent); };
        if (commits.Write(w).ok())
          ++stored;
        else if (rec.md5 == "BAD")
          ++refused;
        else
          ++other;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 60);
  EXPECT_EQ(full.load(), 20);
  EXPECT_EQ(refused.load(), 4);
  EXPECT_EQ(stored.load(), 76);
  EXPECT_EQ(other.load(), 0);
  EXPECT_LT(commits.transactions(), 160u) << "the writes shared transactions";
  ASSERT_TRUE(store
                  ->Read([&](Tx& tx) -> Status {
                    auto u = tx.GetUsage(org, day);
                    if (!u.ok()) return u.status();
                    EXPECT_EQ(u->used, 60);
                    EXPECT_EQ(u->last_used_at, std::optional<TimeMs>(now));
                    auto bad = tx.GetReport(org, "BAD");
                    if (!bad.ok()) return bad.status();
                    EXPECT_FALSE(bad->has_value());
                    auto good = tx.GetReport(org, "M7-9");
                    if (!good.ok()) return good.status();
                    EXPECT_TRUE(good->has_value());
                    return Status::Ok();
                  })
                  .ok());
}

// `sandgate keys rotate` on PostgreSQL: every token re-sealed under the new key, nothing else
// changed, every token still revealed unchanged and verified.
TEST_F(PgStoreTest, ResealTokensAfterRotation) {
  auto keys = token::Keyring::LoadOrCreate(dir_ + "/sandgate.key");
  ASSERT_TRUE(keys.ok());
  std::shared_ptr<Store> store = OpenInDir(dir_);
  ASSERT_NE(store, nullptr);
  service::Services svc(store, *keys, std::make_shared<ManualClock>(1800000000000),
                        service::Settings{});
  ASSERT_TRUE(svc.LoadIndex().ok());
  const service::Actor cli = service::Actor::Cli();
  std::map<OrgId, std::string> texts;
  for (int i = 0; i < 5; ++i) {
    auto org = svc.CreateOrg(cli, "Pg Org " + std::to_string(i));
    ASSERT_TRUE(org.ok());
    const OrgId id = org->org.id;
    ASSERT_TRUE(svc.ChangeSubscription(cli, id, domain::Action::kActivate, std::nullopt).ok());
    service::Actor admin{"a", domain::Caller{domain::Role::kOrgAdmin, id}, "", false};
    auto text = svc.RevealToken(admin, id);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    texts[id] = *text;
  }
  auto rows = [&] {
    std::map<OrgId, TokenRecord> out;
    EXPECT_TRUE(store
                    ->Read([&](Tx& tx) {
                      return tx.ForEachToken(
                          [&](const TokenRecord& t, const OrgRecord&) { out[t.org_id] = t; });
                    })
                    .ok());
    return out;
  };
  const auto before = rows();
  auto new_id = (*keys)->Rotate();
  ASSERT_TRUE(new_id.ok());
  auto r = svc.ResealTokens(cli, "KEYS_ROTATE", /*batch=*/2);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->resealed, 5);
  const auto after = rows();
  ASSERT_EQ(after.size(), 5u);
  for (const auto& [id, t] : after) {
    EXPECT_EQ(t.key_id, new_id.value());
    EXPECT_EQ(t.lookup_hash, before.at(id).lookup_hash);
    EXPECT_EQ(t.last4, before.at(id).last4);
    EXPECT_EQ(t.created_at, before.at(id).created_at);
    EXPECT_EQ(t.last_modified_by, before.at(id).last_modified_by);
    EXPECT_EQ(t.last_modified_on, before.at(id).last_modified_on);
    service::Actor admin{"a", domain::Caller{domain::Role::kOrgAdmin, id}, "", false};
    auto text = svc.RevealToken(admin, id);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(text.value(), texts.at(id));
    EXPECT_TRUE(svc.index().Verify(texts.at(id), svc.clock().now()).status.ok());
  }
}

}  // namespace
}  // namespace sandgate::store
