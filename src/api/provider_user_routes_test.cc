// /api/v1/provider/orgs/{id}/users* through the router: provider only, generated passwords shown
// once, organization roles only.
#include "api/route_test_fixture.h"

namespace sandgate::api::testing {
namespace {

using ProviderUserRoutesTest = RouteTest;

TEST_F(ProviderUserRoutesTest, OrganizationUsersGet404Audited) {
  domain::OrgId org = 0;
  Session s = OrgUser("alice", domain::Role::kOrgAdmin, &org);
  const std::string users = "/api/v1/provider/orgs/" + std::to_string(org) + "/users";
  const int before = Audited("PROVIDER_API", "NOT_FOUND");
  ExpectError(Call(verb::get, users, &s), 404, "NOT_FOUND");
  ExpectError(Call(verb::delete_, users + "/1", &s), 404, "NOT_FOUND");
  EXPECT_EQ(Audited("PROVIDER_API", "NOT_FOUND"), before + 2);
  ExpectError(Call(verb::get, users, nullptr), 401, "UNAUTHENTICATED");
}

TEST_F(ProviderUserRoutesTest, CreateWithAGeneratedPasswordListChangeRoleResetAndDelete) {
  Session p = Provider();
  const domain::OrgId org = ActiveOrg("Acme");
  const std::string users = "/api/v1/provider/orgs/" + std::to_string(org) + "/users";
  Answer c = Call(verb::post, users, &p, R"({"username":"bob","role":"ORG_ADMIN"})");
  ASSERT_EQ(c.status, 201) << c.res.body();
  EXPECT_EQ(c.obj().at("username"), "bob");
  EXPECT_EQ(c.obj().at("orgId"), org);
  EXPECT_FALSE(c.obj().at("password").as_string().empty());  // generated: shown once
  const int64_t uid = c.obj().at("id").as_int64();

  Answer given =
      Call(verb::post, users, &p,
           R"({"username":"carol","role":"ORG_READONLY","password":"another long pw 42"})");
  ASSERT_EQ(given.status, 201) << given.res.body();
  EXPECT_FALSE(given.obj().contains("password"));

  Answer l = Call(verb::get, users, &p);
  ASSERT_EQ(l.status, 200);
  EXPECT_EQ(l.obj().at("items").as_array().size(), 2u);

  const std::string user = users + "/" + std::to_string(uid);
  Answer role = Call(verb::patch, user, &p, R"({"role":"ORG_READONLY"})");
  ASSERT_EQ(role.status, 200) << role.res.body();
  EXPECT_EQ(role.obj().at("role"), "ORG_READONLY");

  Answer reset = Call(verb::post, user + "/password", &p);
  ASSERT_EQ(reset.status, 200) << reset.res.body();
  EXPECT_EQ(reset.obj().at("reset"), true);
  EXPECT_FALSE(reset.obj().at("password").as_string().empty());

  EXPECT_EQ(Call(verb::delete_, user, &p).status, 204);
  EXPECT_EQ(Call(verb::get, users, &p).obj().at("items").as_array().size(), 1u);
}

TEST_F(ProviderUserRoutesTest, OnlyOrganizationRolesAndWellFormedIds) {
  Session p = Provider();
  const domain::OrgId org = ActiveOrg("Beta");
  const std::string users = "/api/v1/provider/orgs/" + std::to_string(org) + "/users";
  ExpectError(Call(verb::post, users, &p, R"({"username":"x","role":"PROVIDER_ADMIN"})"), 400,
              "INVALID_FIELD");
  ExpectError(Call(verb::post, users, &p, R"({"username":"x","role":"KING"})"), 400,
              "INVALID_FIELD");
  ExpectError(Call(verb::post, users, &p, R"({"username":"x"})"), 400, "MISSING_FIELD");
  ExpectError(Call(verb::patch, users + "/abc", &p, R"({"role":"ORG_ADMIN"})"), 404, "NOT_FOUND");
  ExpectError(Call(verb::get, "/api/v1/provider/orgs/x/users", &p), 404, "NOT_FOUND");
  ExpectError(Call(verb::post, users + "/0/password", &p), 404, "NOT_FOUND");
}

}  // namespace
}  // namespace sandgate::api::testing
