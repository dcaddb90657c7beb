// Services::ResealTokens (`sandgate keys rotate`): only the sealed copy and its key id change.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>

#include "service/services.h"
#include "store/store.h"
#include "token/keyring.h"
#include "token/token_index.h"

namespace sandgate::service {
namespace {

namespace fs = std::filesystem;

class ResealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sandgate-reseal-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto keys = token::Keyring::LoadOrCreate((dir_ / "sandgate.key").string());
    ASSERT_TRUE(keys.ok());
    keys_ = *keys;
    auto st = store::OpenSqliteStore((dir_ / "sandgate.db").string());
    ASSERT_TRUE(st.ok());
    store_ = std::shared_ptr<store::Store>(std::move(st.value()));
    services_ = std::make_unique<Services>(
        store_, keys_, std::make_shared<ManualClock>(1800000000000), Settings{});
    ASSERT_TRUE(services_->LoadIndex().ok());
  }
  void TearDown() override {
    services_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  std::map<OrgId, store::TokenRecord> Tokens() {
    std::map<OrgId, store::TokenRecord> out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) {
                      return tx.ForEachToken([&](const store::TokenRecord& t,
                                                 const store::OrgRecord&) { out[t.org_id] = t; });
                    })
                    .ok());
    return out;
  }

  fs::path dir_;
  std::shared_ptr<token::Keyring> keys_;
  std::shared_ptr<store::Store> store_;
  std::unique_ptr<Services> services_;
};

TEST_F(ResealTest, ResealKeepsEveryTokenAndRecordsTheNewKeyId) {
  const Actor cli = Actor::Cli();
  std::map<OrgId, std::string> texts;
  for (int i = 0; i < 7; ++i) {
    auto org = services_->CreateOrg(cli, "Org " + std::to_string(i));
    ASSERT_TRUE(org.ok());
    const OrgId id = org->org.id;
    if (i == 6) continue;  // an organization without a subscription nor a token
    // Activation provisions the organization's token.
    ASSERT_TRUE(
        services_->ChangeSubscription(cli, id, domain::Action::kActivate, std::nullopt).ok());
    Actor admin{"admin" + std::to_string(i), domain::Caller{domain::Role::kOrgAdmin, id}, "",
                false};
    auto text = services_->RevealToken(admin, id);
    ASSERT_TRUE(text.ok());
    texts[id] = *text;
  }
  const std::string old_id = keys_->key_id();
  const auto before = Tokens();
  ASSERT_EQ(before.size(), 6u);
  for (const auto& [id, t] : before) EXPECT_EQ(t.key_id, old_id);

  auto new_id = keys_->Rotate();
  ASSERT_TRUE(new_id.ok());
  auto r = services_->ResealTokens(cli, "KEYS_ROTATE", /*batch=*/4);  // two write transactions
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->tokens, 6);
  EXPECT_EQ(r->resealed, 6);
  EXPECT_EQ(r->key_id, new_id.value());

  const auto after = Tokens();
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [id, t] : after) {
    const auto& b = before.at(id);
    EXPECT_EQ(t.key_id, new_id.value());
    EXPECT_NE(t.sealed, b.sealed);
    EXPECT_EQ(t.lookup_hash, b.lookup_hash);
    EXPECT_EQ(t.last4, b.last4);
    EXPECT_EQ(t.created_at, b.created_at);
    EXPECT_EQ(t.last_modified_by, b.last_modified_by);
    EXPECT_EQ(t.last_modified_on, b.last_modified_on);
    auto opened = keys_->Unseal(t.sealed, t.key_id);
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(opened.value(), texts.at(id));
    // Still accepted by the index; revealed unchanged through the service.
    EXPECT_TRUE(services_->index().Verify(texts.at(id), services_->clock().now()).status.ok());
    Actor admin{"x", domain::Caller{domain::Role::kOrgAdmin, id}, "", false};
    auto revealed = services_->RevealToken(admin, id);
    ASSERT_TRUE(revealed.ok());
    EXPECT_EQ(revealed.value(), texts.at(id));
  }
  // A fresh keyring from the file (a restarted server) opens every token too.
  auto reloaded = token::Keyring::Load(keys_->path());
  ASSERT_TRUE(reloaded.ok());
  for (const auto& [id, t] : after) EXPECT_TRUE((*reloaded)->Unseal(t.sealed, t.key_id).ok());

  // Nothing left to do the second time.
  auto again = services_->ResealTokens(cli, "KEYS_RESEAL");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->resealed, 0);

  store::AuditFilter f;
  f.action = "KEYS_ROTATE";
  auto audit = services_->ListAudit(cli, f);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].actor, "cli");
  EXPECT_EQ((*audit)[0].outcome, "ALLOWED");
  EXPECT_EQ((*audit)[0].detail, "resealed 6 of 6 tokens under key " + new_id.value());
  for (const auto& [id, text] : texts) EXPECT_EQ((*audit)[0].detail.find(text), std::string::npos);

  auto per_key = services_->TokensPerKey();
  ASSERT_TRUE(per_key.ok());
  EXPECT_EQ(per_key.value(), (std::map<std::string, int64_t>{{new_id.value(), 6}}));
}

TEST_F(ResealTest, UnopenableTokenFailsNamingTheOrganization) {
  const Actor cli = Actor::Cli();
  auto org = services_->CreateOrg(cli, "Broken");
  ASSERT_TRUE(org.ok());
  const OrgId id = org->org.id;
  ASSERT_TRUE(services_->ChangeSubscription(cli, id, domain::Action::kActivate, std::nullopt).ok());
  ASSERT_TRUE(store_
                  ->Write([&](store::Tx& tx) {
                    auto t = tx.GetToken(id);
                    if (!t.ok()) return t.status();
                    store::TokenRecord r = **t;
                    r.key_id = "0badc0de";
                    return tx.ReplaceToken(r);
                  })
                  .ok());
  ASSERT_TRUE(keys_->Rotate().ok());
  auto r = services_->ResealTokens(cli, "KEYS_ROTATE");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), "UNSEAL_KEY_UNKNOWN");
  EXPECT_NE(r.status().message().find("Organization " + std::to_string(id)), std::string::npos);
  store::AuditFilter f;
  f.action = "KEYS_ROTATE";
  auto audit = services_->ListAudit(cli, f);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].outcome, "UNSEAL_KEY_UNKNOWN");
}

}  // namespace
}  // namespace sandgate::service
