// Services: what the HTTP and CLI tests cannot see (issue 21): the index's order under concurrent
// changes, and the user-management audit records.
#include "service/services.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
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
    clock_ = std::make_shared<ManualClock>(kNow);
    services_ = std::make_unique<Services>(store_, keys_, clock_, Settings{});
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
  std::shared_ptr<ManualClock> clock_;
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

// ReadTokenPage's drawing function for the tests: what a page must not mix up (the role, the
// state, the subscription in effect), and a count of its calls.
std::atomic<int> draws{0};
std::string DrawForTest(const TokenView& v, domain::Role role, const Settings& settings) {
  ++draws;
  std::string allowed;
  for (domain::Action a : v.allowed) allowed += std::string(domain::ToString(a)) + ",";
  return std::string(domain::ToString(role)) + " " + settings.base_url + " " +
         std::string(domain::ToString(v.status.status)) + " " +
         std::string(domain::ToString(v.subscription)) + " " + allowed +
         (v.token ? " token " + v.token->last4 : " no token");
}
// A second drawing function: its pages are its own.
std::string DrawOther(const TokenView& v, domain::Role, const Settings&) {
  return "other " + std::to_string(v.org.id);
}

// A drawn page is exactly ReadToken followed by the drawing function, for every reader and at every
// instant, while drawn only once per kind of reader: the roles do not share pages, another
// organization's user is refused (and audited) though a page is drawn, a change to the store is
// seen by the next read, and so is the subscription's end passing without any change.
TEST_F(ServicesTest, DrawnTokenPagesAreWhatAFreshReadWouldDraw) {
  const OrgId org = ActiveOrg("Drawn Corp");
  const OrgId other = ActiveOrg("Other Drawn Corp");
  const Actor admin{"drawn-admin", domain::Caller{domain::Role::kOrgAdmin, org}, "", false};
  const Actor viewer{"drawn-viewer", domain::Caller{domain::Role::kOrgReadonly, org}, "", false};
  const Actor stranger{"drawn-stranger", domain::Caller{domain::Role::kOrgAdmin, other}, "", false};
  const Actor provider{"drawn-prov", domain::Caller{domain::Role::kProviderAdmin, std::nullopt}, "",
                       false};
  // What a fresh read draws now, for comparison.
  auto fresh = [&](const Actor& a) {
    auto v = services_->ReadToken(a, org);
    EXPECT_TRUE(v.ok());
    return v.ok() ? DrawForTest(*v, a.caller.role, services_->settings()) : std::string("error");
  };
  auto drawn = [&](const Actor& a) {
    auto p = services_->ReadTokenPage(a, org, &DrawForTest);
    EXPECT_TRUE(p.ok()) << p.status().message();
    return p.ok() ? *p : nullptr;
  };

  draws = 0;
  auto first = drawn(admin);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(draws.load(), 1);
  EXPECT_EQ(drawn(admin), first);  // the same page, shared: not drawn again
  EXPECT_EQ(draws.load(), 1);
  EXPECT_EQ(first->text, fresh(admin));
  EXPECT_EQ(first->view.org.id, org);
  EXPECT_NE(first->text.find("REGENERATE"), std::string::npos) << first->text;

  // Each role its own page.
  auto seen_by_viewer = drawn(viewer);
  ASSERT_NE(seen_by_viewer, nullptr);
  EXPECT_NE(seen_by_viewer, first);
  EXPECT_EQ(seen_by_viewer->text, fresh(viewer));
  EXPECT_EQ(seen_by_viewer->text.find("REGENERATE"), std::string::npos) << seen_by_viewer->text;
  auto seen_by_provider = drawn(provider);
  ASSERT_NE(seen_by_provider, nullptr);
  EXPECT_EQ(seen_by_provider->text, fresh(provider));
  // Another drawing function gets its own page from the same read.
  auto other_page = services_->ReadTokenPage(admin, org, &DrawOther);
  ASSERT_TRUE(other_page.ok());
  EXPECT_EQ((*other_page)->text, "other " + std::to_string(org));
  EXPECT_EQ(drawn(admin), first);

  // Another organization's user: refused as by ReadToken (404), and the refusal audited.
  auto refused = services_->ReadTokenPage(stranger, org, &DrawForTest);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().http_status(), 404);
  store::AuditFilter f;
  f.actor = "drawn-stranger";
  f.action = "TOKEN_READ";
  auto refusals = services_->ListAudit(provider, f);
  ASSERT_TRUE(refusals.ok());
  EXPECT_EQ(refusals->size(), 1u);

  // A change: the next page is drawn from the new state.
  ASSERT_TRUE(
      services_->DisableToken(provider, org, domain::DisableReason::kTermsViolation, "").ok());
  auto disabled = drawn(admin);
  ASSERT_NE(disabled, nullptr);
  EXPECT_NE(disabled, first);
  EXPECT_EQ(disabled->text, fresh(admin));
  EXPECT_NE(disabled->text.find("DISABLED"), std::string::npos) << disabled->text;
  ASSERT_TRUE(services_->EnableToken(provider, org).ok());

  // The subscription ends at kNow + 1 h. A page drawn before the end is not served after it,
  // though nothing in the store changes at the end.
  ASSERT_TRUE(services_
                  ->ChangeSubscription(provider, org, domain::Action::kRenew,
                                       std::optional<TimeMs>(kNow + 3'600'000))
                  .ok());
  auto before_end = drawn(admin);
  ASSERT_NE(before_end, nullptr);
  EXPECT_EQ(before_end->text, fresh(admin));
  EXPECT_NE(before_end->text.find("ACTIVE"), std::string::npos) << before_end->text;
  clock_->set(kNow + 3'600'000);
  auto after_end = drawn(admin);
  ASSERT_NE(after_end, nullptr);
  EXPECT_NE(after_end, before_end);
  EXPECT_EQ(after_end->text, fresh(admin));
  EXPECT_NE(after_end->text.find("EXPIRED"), std::string::npos) << after_end->text;
  EXPECT_EQ(after_end->text.find("REGENERATE"), std::string::npos) << after_end->text;
  // The clock set back: the active page, still kept, is served again.
  clock_->set(kNow);
  EXPECT_EQ(drawn(admin), before_end);
}

// Readers on several threads at once all get the one page kept for their kind.
TEST_F(ServicesTest, ConcurrentReadersShareOneDrawnPage) {
  const OrgId org = ActiveOrg("Concurrent Drawn Corp");
  const Actor admin{"cdrawn-admin", domain::Caller{domain::Role::kOrgAdmin, org}, "", false};
  ASSERT_TRUE(services_->ReadToken(admin, org).ok());  // the read cached first
  std::vector<std::future<std::shared_ptr<const DrawnTokenPage>>> readers;
  for (int i = 0; i < 4; ++i)
    readers.push_back(std::async(std::launch::async, [&] {
      std::shared_ptr<const DrawnTokenPage> last;
      for (int j = 0; j < 200; ++j) {
        auto p = services_->ReadTokenPage(admin, org, &DrawForTest);
        if (!p.ok()) return std::shared_ptr<const DrawnTokenPage>();
        if (last && *p != last) return std::shared_ptr<const DrawnTokenPage>();
        last = *p;
      }
      return last;
    }));
  std::shared_ptr<const DrawnTokenPage> one;
  for (auto& r : readers) {
    auto p = r.get();
    ASSERT_NE(p, nullptr);
    if (!one) one = p;
    EXPECT_EQ(p, one);
  }
}

}  // namespace
}  // namespace sandgate::service
