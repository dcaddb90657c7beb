#include "domain/audit_actions.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sandgate::domain {
namespace {

TEST(AuditActionsTest, EveryActionHasItsWordsAndANameOnce) {
  std::set<std::string_view> names;
  for (const auto& a : AuditActions()) {
    EXPECT_TRUE(names.insert(a.name).second) << a.name;
    EXPECT_FALSE(a.label.empty()) << a.name;
    EXPECT_FALSE(a.did.empty()) << a.name;
    EXPECT_FALSE(a.attempt.empty()) << a.name;
    for (char c : a.name) EXPECT_TRUE((c >= 'A' && c <= 'Z') || c == '_') << a.name;
  }
  EXPECT_GE(names.size(), 30u);
}

TEST(AuditActionsTest, FindsByNameAndNothingElse) {
  const auto* r = FindAuditAction("TOKEN_REGENERATE");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->did, "regenerated the token");
  EXPECT_EQ(r->filter, "Token regenerated");
  EXPECT_EQ(FindAuditAction("token_regenerate"), nullptr);
  EXPECT_EQ(FindAuditAction(""), nullptr);
  EXPECT_EQ(FindAuditAction("NOT_AN_ACTION"), nullptr);
}

// The organization's activity view offers these filters (tests/ui/token-usage.test.js picks one).
TEST(AuditActionsTest, TheActivityFiltersAreTheOrganizationsTokenEvents) {
  std::set<std::string_view> filters;
  for (const auto& a : AuditActions())
    if (!a.filter.empty()) filters.insert(a.name);
  EXPECT_EQ(filters, (std::set<std::string_view>{
                         "TOKEN_ADD", "TOKEN_REGENERATE", "TOKEN_DELETE", "TOKEN_REVEAL",
                         "TOKEN_DISABLE", "TOKEN_ENABLE", "TOKEN_LEAKED", "SUBSCRIPTION_ACTIVATE",
                         "SUBSCRIPTION_RENEW", "SUBSCRIPTION_EXPIRE", "LOGIN"}));
}

}  // namespace
}  // namespace sandgate::domain
