// /api/v1/auditLog and /api/v1/provider/auditLog through the router.
#include "api/route_test_fixture.h"

namespace sandgate::api::testing {
namespace {

using AuditRoutesTest = RouteTest;

TEST_F(AuditRoutesTest, AnOrganizationSeesItsOwnRecordsNewestFirst) {
  domain::OrgId org = 0;
  Session s = OrgUser("alice", domain::Role::kOrgAdmin, &org);
  ActiveOrg("Other");  // its records are not alice's
  ASSERT_EQ(Call(verb::put, "/api/v1/sandbox/token", &s).status, 200);
  Answer a = Call(verb::get, "/api/v1/auditLog", &s);
  ASSERT_EQ(a.status, 200) << a.res.body();
  const auto& items = a.obj().at("items").as_array();
  ASSERT_FALSE(items.empty());
  for (const auto& r : items) {
    EXPECT_EQ(r.at("orgId"), org);
    EXPECT_FALSE(r.as_object().contains("orgName"));
  }
  EXPECT_EQ(items.at(0).at("actor"), "alice");
  EXPECT_EQ(items.at(0).at("requestId"), "route-test");
  EXPECT_EQ(items.at(0).at("clientAddress"), "192.0.2.7");
  Answer one = Call(verb::get, "/api/v1/auditLog?limit=1", &s);
  EXPECT_EQ(one.obj().at("items").as_array().size(), 1u);
}

TEST_F(AuditRoutesTest, ParametersAreChecked) {
  Session s = OrgUser("bob");
  ExpectError(Call(verb::get, "/api/v1/auditLog?limit=0", &s), 400, "INVALID_PARAMETER");
  ExpectError(Call(verb::get, "/api/v1/auditLog?limit=1001", &s), 400, "INVALID_PARAMETER");
  ExpectError(Call(verb::get, "/api/v1/auditLog?beforeId=x", &s), 400, "INVALID_PARAMETER");
  ExpectError(Call(verb::get, "/api/v1/auditLog?from=yesterday", &s), 400, "INVALID_PARAMETER");
  ExpectError(Call(verb::get, "/api/v1/auditLog", nullptr), 401, "UNAUTHENTICATED");
}

TEST_F(AuditRoutesTest, TheProviderLogNamesOrganizationsAndFilters) {
  Session p = Provider();
  const domain::OrgId a = ActiveOrg("Acme");
  ActiveOrg("Beta");
  Answer all = Call(verb::get, "/api/v1/provider/auditLog", &p);
  ASSERT_EQ(all.status, 200) << all.res.body();
  bool named = false;
  for (const auto& r : all.obj().at("items").as_array())
    named = named || (r.at("orgId") == a && r.at("orgName") == "Acme");
  EXPECT_TRUE(named);
  Answer only = Call(verb::get, "/api/v1/provider/auditLog?orgId=" + std::to_string(a), &p);
  ASSERT_EQ(only.status, 200);
  ASSERT_FALSE(only.obj().at("items").as_array().empty());
  for (const auto& r : only.obj().at("items").as_array()) EXPECT_EQ(r.at("orgId"), a);
  ExpectError(Call(verb::get, "/api/v1/provider/auditLog?orgId=0", &p), 400, "INVALID_PARAMETER");
}

TEST_F(AuditRoutesTest, TheProviderLogDoesNotExistForOrganizationUsers) {
  Session s = OrgUser("carol");
  const int before = Audited("PROVIDER_API", "NOT_FOUND");
  ExpectError(Call(verb::get, "/api/v1/provider/auditLog", &s), 404, "NOT_FOUND");
  EXPECT_EQ(Audited("PROVIDER_API", "NOT_FOUND"), before + 1);
}

TEST_F(AuditRoutesTest, TheAuditActionsInWordsArePublic) {
  Answer a = Call(verb::get, "/api/v1/auditActions", nullptr);
  ASSERT_EQ(a.status, 200) << a.res.body();
  const auto& actions = a.obj().at("actions").as_array();
  ASSERT_FALSE(actions.empty());
  bool logout = false;
  for (const auto& x : actions) logout = logout || x.at("action") == "LOGOUT";
  EXPECT_TRUE(logout);
}

}  // namespace
}  // namespace sandgate::api::testing
