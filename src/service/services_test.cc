// Services: what the HTTP and CLI tests cannot see (issue 21): the index's order under concurrent
// changes, and the user-management audit records.
#include "service/services.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>

#include "store/store.h"
#include "token/keyring.h"
#include "token/token_index.h"

namespace sandgate::service {
namespace {

namespace fs = std::filesystem;
constexpr TimeMs kNow = 1800000000000;

class ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sandgate-services-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto keys = token::Keyring::LoadOrCreate((dir_ / "sandgate.key").string());
    ASSERT_TRUE(keys.ok());
    keys_ = *keys;
    auto st = store::OpenSqliteStore((dir_ / "sandgate.db").string());
    ASSERT_TRUE(st.ok());
    store_ = std::shared_ptr<store::Store>(std::move(st.value()));
    services_ =
        std::make_unique<Services>(store_, keys_, std::make_shared<ManualClock>(kNow), Settings{});
    ASSERT_TRUE(services_->LoadIndex().ok());
  }
  void TearDown() override {
    services_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // An organization with an active subscription (and so a token).
  OrgId ActiveOrg(const std::string& name) {
    auto org = services_->CreateOrg(Actor::Cli(), name);
    EXPECT_TRUE(org.ok());
    EXPECT_TRUE(
        services_
            ->ChangeSubscription(Actor::Cli(), org->org.id, domain::Action::kActivate, std::nullopt)
            .ok());
    return org->org.id;
  }

  // The organization's token as the store holds it (read directly, not through the services).
  std::string StoredToken(OrgId org) {
    std::string text;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> Status {
                      auto t = tx.GetToken(org);
                      if (!t.ok()) return t.status();
                      if (!t->has_value()) return Status(404, "NO_TOKEN", "no token");
                      auto plain = keys_->Unseal((*t)->sealed, (*t)->key_id);
                      if (!plain.ok()) return plain.status();
                      text = *plain;
                      return Status::Ok();
                    })
                    .ok());
    return text;
  }

  fs::path dir_;
  std::shared_ptr<token::Keyring> keys_;
  std::shared_ptr<store::Store> store_;
  std::unique_ptr<Services> services_;
};

// Survivor 1: the index must be updated before the write lock is released, so that its order is
// the commit order. Regenerate A is held after its commit, before its index update; regenerate B
// is started meanwhile. With the update under the lock, B waits for A and the index ends with B's
// token; with the update after the unlock, B commits and updates the index first, then A's late
// update puts A's (already replaced) token back: the index accepts a token the store no longer
// has and refuses the one it has.
TEST_F(ServicesTest, IndexEndsWithTheLastCommittedTokenWhenRegeneratesOverlap) {
  const OrgId org = ActiveOrg("Overlap Corp");
  const Actor admin{"overlap-admin", domain::Caller{domain::Role::kOrgAdmin, org}, "", false};
  std::mutex m;
  std::condition_variable cv;
  bool armed = false, a_committed = false, release_a = false, a_timed_out = false;
  std::string token_a;
  services_->before_index_update_for_test = [&](OrgId) {
    std::unique_lock<std::mutex> lk(m);
    if (!armed) return;
    armed = false;
    token_a = StoredToken(org);  // what A has just committed
    a_committed = true;
    cv.notify_all();
    a_timed_out = !cv.wait_for(lk, std::chrono::seconds(60), [&] { return release_a; });
  };
  {
    std::lock_guard<std::mutex> lk(m);
    armed = true;
  }
  auto a = std::async(std::launch::async, [&] { return services_->RegenerateToken(admin, org); });
  {
    std::unique_lock<std::mutex> lk(m);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(60), [&] { return a_committed; }));
  }
  auto b = std::async(std::launch::async, [&] { return services_->RegenerateToken(admin, org); });
  // A correct build keeps B waiting for A's lock; a build that lets B through finishes it now.
  // The wait gives B that chance; its outcome is not asserted (a slow machine only weakens the
  // test, it cannot fail a correct build).
  b.wait_for(std::chrono::seconds(2));
  {
    std::lock_guard<std::mutex> lk(m);
    release_a = true;
  }
  cv.notify_all();
  ASSERT_TRUE(a.get().ok());
  ASSERT_TRUE(b.get().ok());
  services_->before_index_update_for_test = nullptr;
  EXPECT_FALSE(a_timed_out);
  const std::string stored = StoredToken(org);
  ASSERT_FALSE(token_a.empty());
  ASSERT_NE(stored, token_a);  // B committed last
  auto v = services_->index().Verify(stored, kNow);
  EXPECT_TRUE(v.status.ok()) << "the token in the store does not verify: " << v.status.code();
  auto old = services_->index().Verify(token_a, kNow);
  EXPECT_EQ(old.status.http_status(), 401) << "A's replaced token still verifies";
}

// Survivor 2: every user-management change writes exactly one audit record, with the actor and
// the detail (the user, and the role where one is set).
TEST_F(ServicesTest, UserManagementWritesOneAuditRecordPerChange) {
  const OrgId org = ActiveOrg("Audit Users Corp");
  const Actor provider{"prov-admin", domain::Caller{domain::Role::kProviderAdmin, std::nullopt},
                       "127.0.0.9", false};
  auto created =
      services_->CreateUser(provider, {"audit-user", domain::Role::kOrgReadonly, org, ""});
  ASSERT_TRUE(created.ok()) << created.status().message();
  const store::UserId uid = created->first.id;
  ASSERT_TRUE(services_->ChangeRole(provider, org, uid, domain::Role::kOrgAdmin).ok());
  auto pw = services_->ResetPassword(provider, org, uid, "");
  ASSERT_TRUE(pw.ok());
  ASSERT_TRUE(services_->DeleteUser(provider, org, uid).ok());

  store::AuditFilter f;
  f.actor = "prov-admin";
  f.limit = 1000;
  auto records = services_->ListAudit(provider, f);
  ASSERT_TRUE(records.ok());
  std::map<std::string, std::vector<store::AuditRecord>> by_action;
  for (const auto& r : *records) by_action[r.action].push_back(r);
  const std::map<std::string, std::string> want = {
      {"USER_CREATE", "audit-user ORG_READONLY"},
      {"USER_ROLE_CHANGE", "audit-user ORG_ADMIN"},
      {"USER_PASSWORD_RESET", "audit-user"},
      {"USER_DELETE", "audit-user"},
  };
  for (const auto& [action, detail] : want) {
    ASSERT_EQ(by_action[action].size(), 1u) << action;
    const auto& r = by_action[action][0];
    EXPECT_EQ(r.actor, "prov-admin") << action;
    EXPECT_EQ(r.actor_role, "PROVIDER_ADMIN") << action;
    EXPECT_EQ(r.outcome, "ALLOWED") << action;
    EXPECT_EQ(r.org_id, std::optional<OrgId>(org)) << action;
    EXPECT_EQ(r.client_addr, "127.0.0.9") << action;
    EXPECT_EQ(r.detail, detail) << action;
    EXPECT_EQ(r.detail.find(*pw), std::string::npos) << action;  // no password in a record
  }
  EXPECT_EQ(records->size(), want.size());  // nothing else by this actor
  // A refused deletion (the user is gone) writes no USER_DELETE record.
  EXPECT_FALSE(services_->DeleteUser(provider, org, uid).ok());
  f.action = "USER_DELETE";
  auto deletes = services_->ListAudit(provider, f);
  ASSERT_TRUE(deletes.ok());
  EXPECT_EQ(deletes->size(), 1u);
}

}  // namespace
}  // namespace sandgate::service
