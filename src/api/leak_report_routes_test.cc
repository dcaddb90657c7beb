// /api/v1/secret-scanning/github and /api/v1/provider/leak-reports through the router.
#include "api/route_test_fixture.h"

namespace sandgate::api::testing {
namespace {

using LeakReportRoutesTest = RouteTest;

TEST_F(LeakReportRoutesTest, TheScannerEndpointNeedsNoSessionAndIs404WhenNotConfigured) {
  Answer a = Call(verb::post, "/api/v1/secret-scanning/github", nullptr, "[]");
  ExpectError(a, 404, "NOT_CONFIGURED");
}

TEST_F(LeakReportRoutesTest, AProviderReportOfALiveTokenRevokesItByDefault) {
  domain::OrgId org = 0;
  Session s = OrgUser("alice", domain::Role::kOrgAdmin, &org);
  const std::string token(
      Call(verb::get, "/api/v1/sandbox/token/reveal", &s).obj().at("token").as_string());
  Session p = Provider();
  json::object body{{"token", token}, {"url", "https://example.com/leak"}, {"source", "commit"}};
  Answer a = Call(verb::post, "/api/v1/provider/leak-reports", &p, json::serialize(body));
  ASSERT_EQ(a.status, 200) << a.code();
  EXPECT_EQ(a.obj().at("label"), "true_positive");
  EXPECT_EQ(a.obj().at("action"), "REVOKED");
  EXPECT_EQ(a.obj().at("orgId"), org);
  EXPECT_EQ(a.obj().at("tokenLast4"), json::value(token.substr(token.size() - 4)));
  // The token page shows the report, and the token is gone.
  Answer page = Call(verb::get, "/api/v1/sandbox/token", &s);
  EXPECT_TRUE(page.obj().at("token").is_null());
  EXPECT_EQ(page.obj().at("leakReport").at("url"), "https://example.com/leak");
  // A replay finds nothing live.
  Answer again = Call(verb::post, "/api/v1/provider/leak-reports", &p, json::serialize(body));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.obj().at("label"), "false_positive");
  EXPECT_TRUE(again.obj().at("action").is_null());
  EXPECT_TRUE(again.obj().at("tokenLast4").is_null());
}

TEST_F(LeakReportRoutesTest, BadReportsAreRefused) {
  Session p = Provider();
  ExpectError(Call(verb::post, "/api/v1/provider/leak-reports", &p, R"({"token":"x","url":""})"),
              400, "INVALID_FIELD");
  const std::string long_token(1025, 'a');
  json::object body{{"token", long_token}, {"url", "https://example.com/"}};
  ExpectError(Call(verb::post, "/api/v1/provider/leak-reports", &p, json::serialize(body)), 400,
              "INVALID_FIELD");
  ExpectError(Call(verb::post, "/api/v1/provider/leak-reports", &p, R"({"url":"u"})"), 400,
              "MISSING_FIELD");
}

TEST_F(LeakReportRoutesTest, OrganizationUsersGet404Audited) {
  Session s = OrgUser("bob");
  const int before = Audited("PROVIDER_API", "NOT_FOUND");
  ExpectError(Call(verb::post, "/api/v1/provider/leak-reports", &s,
                   R"({"token":"x","url":"https://example.com/"})"),
              404, "NOT_FOUND");
  EXPECT_EQ(Audited("PROVIDER_API", "NOT_FOUND"), before + 1);
}

}  // namespace
}  // namespace sandgate::api::testing
