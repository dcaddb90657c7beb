// /api/v1/provider/orgs*, /api/v1/provider/overview through the router: the provider group's
// guard (404, audited, for organization users; CSRF first) and the organizations' answers.
#include "api/route_test_fixture.h"

namespace sandgate::api::testing {
namespace {

using ProviderOrgRoutesTest = RouteTest;

TEST_F(ProviderOrgRoutesTest, ProviderRoutesDoNotExistForOrganizationUsersAndTheTryIsAudited) {
  Session s = OrgUser("alice");
  const int before = Audited("PROVIDER_API", "NOT_FOUND");
  for (const char* path :
       {"/api/v1/provider/orgs", "/api/v1/provider/overview", "/api/v1/provider/orgs/1"}) {
    Answer a = Call(verb::get, path, &s);
    ExpectError(a, 404, "NOT_FOUND");
    EXPECT_EQ(a.obj().at("message"), "No such organization or resource.");
  }
  ExpectError(Call(verb::post, "/api/v1/provider/orgs", &s, R"({"name":"X"})"), 404, "NOT_FOUND");
  EXPECT_EQ(Audited("PROVIDER_API", "NOT_FOUND"), before + 4);
  // The CSRF check comes first: a change without the token is 403 whoever asks.
  CallOptions no_csrf;
  no_csrf.csrf = false;
  ExpectError(Call(verb::post, "/api/v1/provider/orgs", &s, R"({"name":"X"})", no_csrf), 403,
              "CSRF_INVALID");
  ExpectError(Call(verb::get, "/api/v1/provider/orgs", nullptr), 401, "UNAUTHENTICATED");
}

TEST_F(ProviderOrgRoutesTest, CreateReadAndListOrganizations) {
  Session p = Provider();
  Answer c = Call(verb::post, "/api/v1/provider/orgs", &p, R"({"name":"Acme"})");
  ASSERT_EQ(c.status, 201) << c.res.body();
  const int64_t id = c.obj().at("id").as_int64();
  EXPECT_EQ(c.obj().at("name"), "Acme");
  EXPECT_EQ(c.obj().at("subscription").at("state"), "NONE");
  EXPECT_EQ(c.obj().at("settings").at("dailyAllowance").kind(), json::kind::int64);

  Answer g = Call(verb::get, "/api/v1/provider/orgs/" + std::to_string(id), &p);
  ASSERT_EQ(g.status, 200) << g.res.body();
  EXPECT_EQ(g.obj().at("orgName"), "Acme");

  ActiveOrg("Beta");
  Answer l = Call(verb::get, "/api/v1/provider/orgs?sort=-name&pageSize=1", &p);
  ASSERT_EQ(l.status, 200) << l.res.body();
  EXPECT_EQ(l.obj().at("total"), 2);
  EXPECT_EQ(l.obj().at("pageSize"), 1);
  ASSERT_EQ(l.obj().at("items").as_array().size(), 1u);
  EXPECT_EQ(l.obj().at("items").at(0).at("name"), "Beta");
  EXPECT_EQ(l.obj().at("items").at(0).at("tokenStatus"), "ENABLED");
}

TEST_F(ProviderOrgRoutesTest, BadIdsAndParametersAreRefused) {
  Session p = Provider();
  ExpectError(Call(verb::get, "/api/v1/provider/orgs/abc", &p), 404, "NOT_FOUND");
  ExpectError(Call(verb::get, "/api/v1/provider/orgs/0", &p), 404, "NOT_FOUND");
  ExpectError(Call(verb::get, "/api/v1/provider/orgs/999", &p), 404, "NOT_FOUND");
  ExpectError(Call(verb::get, "/api/v1/provider/orgs?filter=nope", &p), 400, "INVALID_PARAMETER");
  ExpectError(Call(verb::get, "/api/v1/provider/orgs?pageSize=501", &p), 400, "INVALID_PARAMETER");
  ExpectError(Call(verb::get, "/api/v1/provider/orgs?reason=OTHER", &p), 400, "INVALID_PARAMETER");
  ExpectError(Call(verb::get, "/api/v1/provider/orgs?sort=size", &p), 400, "INVALID_PARAMETER");
  ExpectError(Call(verb::post, "/api/v1/provider/orgs", &p, "{}"), 400, "MISSING_FIELD");
}

TEST_F(ProviderOrgRoutesTest, PatchSubscriptionDisableAndEnable) {
  Session p = Provider();
  const domain::OrgId org = ActiveOrg("Gamma");
  const std::string base = "/api/v1/provider/orgs/" + std::to_string(org);
  ExpectError(Call(verb::patch, base, &p, R"({"leakPolicy":"IGNORE"})"), 400, "INVALID_FIELD");
  Answer patched = Call(verb::patch, base, &p, R"({"dailyAllowance":7,"leakPolicy":"NOTIFY"})");
  ASSERT_EQ(patched.status, 200) << patched.res.body();
  EXPECT_EQ(patched.obj().at("settings").at("dailyAllowance"), 7);
  EXPECT_EQ(patched.obj().at("leakPolicy"), "NOTIFY");

  ExpectError(Call(verb::post, base + "/subscription", &p, R"({"action":"pause"})"), 400,
              "INVALID_FIELD");
  ExpectError(Call(verb::post, base + "/subscription", &p, R"({"action":"renew","endsAt":"soon"})"),
              400, "INVALID_FIELD");
  Answer expired = Call(verb::post, base + "/subscription", &p, R"({"action":"expire"})");
  ASSERT_EQ(expired.status, 200) << expired.res.body();
  EXPECT_EQ(expired.obj().at("subscription").at("state"), "EXPIRED");

  ExpectError(Call(verb::post, base + "/token/disable", &p, R"({"reason":"BORED"})"), 400,
              "INVALID_FIELD");
  Answer off =
      Call(verb::post, base + "/token/disable", &p, R"({"reason":"OTHER","note":"why not"})");
  ASSERT_EQ(off.status, 200) << off.res.body();
  EXPECT_EQ(off.obj().at("disabledByProvider"), true);
  EXPECT_EQ(off.obj().at("disableReason"), "OTHER");
  EXPECT_EQ(off.obj().at("disableNote"), "why not");  // the provider's view
  EXPECT_EQ(off.obj().at("disabledBy"), "provider");
  Answer on = Call(verb::post, base + "/token/enable", &p);
  ASSERT_EQ(on.status, 200) << on.res.body();
  EXPECT_EQ(on.obj().at("disabledByProvider"), false);
}

TEST_F(ProviderOrgRoutesTest, OverviewCountsTheOrganizations) {
  Session p = Provider();
  ActiveOrg("One");
  ActiveOrg("Two");
  Answer a = Call(verb::get, "/api/v1/provider/overview", &p);
  ASSERT_EQ(a.status, 200) << a.res.body();
  EXPECT_EQ(a.obj().at("orgs"), 2);
  EXPECT_EQ(a.obj().at("tokenStates").at("enabled"), 2);
  EXPECT_EQ(a.obj().at("expiringWithinDays"), 14);
  EXPECT_EQ(a.obj().at("days").as_array().size(), 14u);
  EXPECT_TRUE(a.obj().at("top").as_array().empty());
  // The second call takes the 13 past days from its cache: the same answer.
  EXPECT_EQ(Call(verb::get, "/api/v1/provider/overview", &p).body, a.body);
}

}  // namespace
}  // namespace sandgate::api::testing
