// /api/v1/sandbox/token[/reveal] through the router: the caller's organization's token.
#include "api/route_test_fixture.h"

namespace sandgate::api::testing {
namespace {

using TokenRoutesTest = RouteTest;

TEST_F(TokenRoutesTest, TheTokenPageShowsTheMaskedTokenAndWhatTheCallerMayDo) {
  domain::OrgId org = 0;
  Session s = OrgUser("alice", domain::Role::kOrgAdmin, &org);
  Answer a = Call(verb::get, "/api/v1/sandbox/token", &s);
  ASSERT_EQ(a.status, 200) << a.res.body();
  EXPECT_EQ(a.obj().at("orgId"), org);
  EXPECT_EQ(a.obj().at("orgName"), "alice Corp");
  EXPECT_EQ(a.obj().at("status"), "ENABLED");
  ASSERT_TRUE(a.obj().at("token").is_object());
  EXPECT_EQ(a.obj().at("token").at("last4").as_string().size(), 4u);
  EXPECT_TRUE(a.obj().at("allowedActions").is_array());
  EXPECT_FALSE(a.obj().contains("usage"));  // no Submission API here
  EXPECT_FALSE(a.obj().contains("disableNote"));
}

TEST_F(TokenRoutesTest, NoSessionIs401AndAProviderAdministratorHasNoOrganization) {
  ExpectError(Call(verb::get, "/api/v1/sandbox/token", nullptr), 401, "UNAUTHENTICATED");
  Session p = Provider();
  ExpectError(Call(verb::get, "/api/v1/sandbox/token", &p), 403, "FORBIDDEN");
  ExpectError(Call(verb::put, "/api/v1/sandbox/token", &p), 403, "FORBIDDEN");
}

TEST_F(TokenRoutesTest, ChangesNeedTheCsrfTokenAndAnEmptyBody) {
  Session s = OrgUser("bob");
  CallOptions no_csrf;
  no_csrf.csrf = false;
  ExpectError(Call(verb::put, "/api/v1/sandbox/token", &s, "", no_csrf), 403, "CSRF_INVALID");
  ExpectError(Call(verb::put, "/api/v1/sandbox/token", &s, R"({"x":1})"), 400, "UNKNOWN_FIELD");
  ExpectError(Call(verb::put, "/api/v1/sandbox/token", &s, "[1]"), 400, "INVALID_BODY");
  ExpectError(Call(verb::put, "/api/v1/sandbox/token", &s, "{"), 400, "MALFORMED_JSON");
}

TEST_F(TokenRoutesTest, RegenerateDeleteAndAddAnswerTheNewTokenPage) {
  Session s = OrgUser("carol");
  const std::string before(
      Call(verb::get, "/api/v1/sandbox/token", &s).obj().at("token").at("last4").as_string());
  Answer put = Call(verb::put, "/api/v1/sandbox/token", &s);
  ASSERT_EQ(put.status, 200) << put.res.body();
  EXPECT_EQ(put.obj().at("lastModifiedBy"), "carol");
  Answer del = Call(verb::delete_, "/api/v1/sandbox/token", &s);
  ASSERT_EQ(del.status, 200) << del.res.body();
  EXPECT_TRUE(del.obj().at("token").is_null());
  Answer add = Call(verb::post, "/api/v1/sandbox/token", &s);
  ASSERT_EQ(add.status, 201) << add.res.body();
  EXPECT_TRUE(add.obj().at("token").is_object());
  (void)before;
}

TEST_F(TokenRoutesTest, RevealAnswersTheWholeTokenAndIsAudited) {
  Session s = OrgUser("dave");
  Answer a = Call(verb::get, "/api/v1/sandbox/token/reveal", &s);
  ASSERT_EQ(a.status, 200) << a.res.body();
  const std::string token(a.obj().at("token").as_string());
  EXPECT_TRUE(token.starts_with("sbx_")) << token.size();
  EXPECT_EQ(token.size(), 53u);
  const std::string last4(
      Call(verb::get, "/api/v1/sandbox/token", &s).obj().at("token").at("last4").as_string());
  EXPECT_TRUE(token.ends_with(last4));
}

TEST_F(TokenRoutesTest, AReadonlyUserMayReadButNotChange) {
  Session s = OrgUser("erin", domain::Role::kOrgReadonly);
  EXPECT_EQ(Call(verb::get, "/api/v1/sandbox/token", &s).status, 200);
  Answer a = Call(verb::put, "/api/v1/sandbox/token", &s);
  EXPECT_EQ(a.status, 403) << a.res.body();
  EXPECT_FALSE(a.code().empty());
}

TEST_F(TokenRoutesTest, TheSupportContactInEffectIsOnTheTokenPage) {
  Session s = OrgUser("frank");
  EXPECT_FALSE(Call(verb::get, "/api/v1/sandbox/token", &s).obj().contains("supportContact"));
  Session p = Provider();
  json::object c{{"name", "Help Desk"}, {"email", "help@example.com"}, {"url", ""}, {"phone", ""}};
  ASSERT_EQ(Call(verb::put, "/api/v1/provider/supportContact", &p, json::serialize(c)).status, 200);
  Answer a = Call(verb::get, "/api/v1/sandbox/token", &s);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.obj().at("supportContact"),
            (json::object{{"name", "Help Desk"}, {"email", "help@example.com"}}));
}

}  // namespace
}  // namespace sandgate::api::testing
