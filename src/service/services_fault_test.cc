// Services over a store whose writes fail (fault injection through the SQLite shim VFS): every
// change answers 503 STORE_UNAVAILABLE and leaves no trace — the token, the organization, the
// audit trail and the verification index are as before — reads go on, and the same Services
// instance works again once writes succeed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/fault.h"
#include "service/services.h"
#include "store/sqlite_store.h"

namespace sandgate::service {
namespace {

namespace fs = std::filesystem;
using domain::Role;

class ServicesFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fault::ClearAll();
    fault::Set(fault::Site::kStoreWrite, fault::Kind::kNone);  // enables injection
    std::string tmpl = (fs::temp_directory_path() / "sandgate-svcfault-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto st = store::OpenSqliteStore(dir_ + "/sandgate.db");
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(st).value();
    clock_ = std::make_shared<ManualClock>(1'800'000'000'000);
    svc_ = std::make_unique<Services>(store_, token::Keyring::Ephemeral(), clock_, Settings{});
    ASSERT_TRUE(svc_->LoadIndex().ok());
    auto org = svc_->CreateOrg(Actor::Cli(), "Acme");
    ASSERT_TRUE(org.ok()) << org.status().ToString();
    org_ = org->org.id;
    auto act = svc_->ChangeSubscription(Actor::Cli(), org_, domain::Action::kActivate, {});
    ASSERT_TRUE(act.ok()) << act.status().ToString();
    admin_ = Actor{"acme-admin", domain::Caller{Role::kOrgAdmin, org_}, "127.0.0.1", false};
    auto tok = svc_->RevealToken(admin_, org_);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    token_ = tok.value();
  }
  void TearDown() override {
    fault::ClearAll();
    svc_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  struct Snapshot {
    std::string lookup_hash;
    bool disabled = false;
    std::string subscription;
    size_t audit = 0;
    size_t users = 0;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot Take() {
    Snapshot s;
    Status st = store_->Read([&](store::Tx& tx) -> Status {
      auto t = tx.GetToken(org_);
      if (!t.ok()) return t.status();
      if (t->has_value()) s.lookup_hash = (*t)->lookup_hash;
      auto o = tx.GetOrg(org_);
      if (!o.ok()) return o.status();
      s.disabled = o->provider_disabled;
      s.subscription = std::string(domain::ToString(o->subscription));
      store::AuditFilter f;
      f.limit = 1000;
      auto a = tx.ListAudit(f);
      if (!a.ok()) return a.status();
      s.audit = a->size();
      auto u = tx.CountUsers();
      if (!u.ok()) return u.status();
      s.users = static_cast<size_t>(*u);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return s;
  }

  std::string dir_;
  std::shared_ptr<store::Store> store_;
  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<Services> svc_;
  OrgId org_ = 0;
  Actor admin_;
  std::string token_;
};

TEST_F(ServicesFaultTest, EveryChangeFailsWithoutATraceAndReadsGoOn) {
  const std::vector<std::pair<std::string, std::function<Status()>>> changes = {
      {"regenerate", [&] { return svc_->RegenerateToken(admin_, org_).status(); }},
      {"delete", [&] { return svc_->DeleteToken(admin_, org_).status(); }},
      {"reveal (audited)", [&] { return svc_->RevealToken(admin_, org_).status(); }},
      {"disable",
       [&] {
         return svc_->DisableToken(Actor::Cli(), org_, domain::DisableReason::kOther, "x").status();
       }},
      {"expire",
       [&] {
         return svc_->ChangeSubscription(Actor::Cli(), org_, domain::Action::kExpire, {}).status();
       }},
      {"create user",
       [&] {
         return svc_->CreateUser(Actor::Cli(), {"bob", Role::kOrgReadonly, org_, ""}).status();
       }},
      {"create org", [&] { return svc_->CreateOrg(Actor::Cli(), "Globex").status(); }},
  };
  for (fault::Kind kind : {fault::Kind::kIoError, fault::Kind::kNoSpace}) {
    const Snapshot before = Take();
    fault::Set(fault::Site::kStoreWrite, kind);
    for (const auto& [name, change] : changes) {
      SCOPED_TRACE(name);
      Status st = change();
      EXPECT_EQ(st.http_status(), 503) << st.ToString();
      EXPECT_EQ(st.code(), "STORE_UNAVAILABLE");
      EXPECT_TRUE(Take() == before);
      // The index still holds the old token: the Submission API keeps verifying it.
      EXPECT_TRUE(svc_->index().Verify(token_, clock_->now()).status.ok());
      auto view = svc_->ReadToken(admin_, org_);
      ASSERT_TRUE(view.ok()) << view.status().ToString();
      EXPECT_EQ(view->token->lookup_hash, before.lookup_hash);
    }
    fault::ClearAll();
  }
  // Healed, with no restart: the same instance changes state again.
  auto r = svc_->RegenerateToken(admin_, org_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(svc_->index().Verify(token_, clock_->now()).status.http_status(), 401);
  auto fresh = svc_->RevealToken(admin_, org_);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(svc_->index().Verify(fresh.value(), clock_->now()).status.ok());
}

TEST_F(ServicesFaultTest, RefusalsStandWhenTheirAuditCannotBeWritten) {
  Actor viewer{"acme-viewer", domain::Caller{Role::kOrgReadonly, org_}, "", false};
  const Snapshot before = Take();
  fault::Set(fault::Site::kStoreWrite, fault::Kind::kIoError);
  Status st = svc_->RegenerateToken(viewer, org_).status();
  EXPECT_EQ(st.http_status(), 403) << st.ToString();  // the rule's answer, not the disk's
  EXPECT_TRUE(Take() == before);
}

}  // namespace
}  // namespace sandgate::service
