// /api/v1/provider/supportContact through the router: provider only; a refused save names fields.
#include "api/route_test_fixture.h"

namespace sandgate::api::testing {
namespace {

using SettingsRoutesTest = RouteTest;

TEST_F(SettingsRoutesTest, TheConfigFilesContactUntilOneIsSavedThenResetGoesBack) {
  Session p = Provider();
  Answer g = Call(verb::get, "/api/v1/provider/supportContact", &p);
  ASSERT_EQ(g.status, 200) << g.res.body();
  EXPECT_EQ(g.obj().at("source"), "configFile");
  EXPECT_TRUE(g.obj().at("updatedAt").is_null());
  EXPECT_TRUE(g.obj().at("contact").as_object().empty());

  json::object c{{"name", "Help"}, {"email", "help@example.com"}, {"url", ""}, {"phone", ""}};
  Answer put = Call(verb::put, "/api/v1/provider/supportContact", &p, json::serialize(c));
  ASSERT_EQ(put.status, 200) << put.res.body();
  EXPECT_EQ(put.obj().at("source"), "console");
  EXPECT_EQ(put.obj().at("updatedBy"), "provider");
  EXPECT_EQ(put.obj().at("contact"),
            (json::object{{"name", "Help"}, {"email", "help@example.com"}}));

  Answer del = Call(verb::delete_, "/api/v1/provider/supportContact", &p);
  ASSERT_EQ(del.status, 200) << del.res.body();
  EXPECT_EQ(del.obj().at("source"), "configFile");
}

TEST_F(SettingsRoutesTest, ARefusedSaveNamesEachField) {
  Session p = Provider();
  json::object c{{"name", "Help"}, {"email", "not an address"}, {"url", ""}, {"phone", ""}};
  Answer a = Call(verb::put, "/api/v1/provider/supportContact", &p, json::serialize(c));
  ExpectError(a, 400, "INVALID_SUPPORT_CONTACT");
  const auto& fields = a.obj().at("fields").as_array();
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields.at(0).at("field"), "email");
  EXPECT_FALSE(fields.at(0).at("message").as_string().empty());
  ExpectError(Call(verb::put, "/api/v1/provider/supportContact", &p, R"({"name":"x"})"), 400,
              "MISSING_FIELD");
}

TEST_F(SettingsRoutesTest, OrganizationUsersGet404AuditedAndChangesNeedCsrf) {
  Session s = OrgUser("alice");
  const int before = Audited("PROVIDER_API", "NOT_FOUND");
  ExpectError(Call(verb::get, "/api/v1/provider/supportContact", &s), 404, "NOT_FOUND");
  ExpectError(Call(verb::delete_, "/api/v1/provider/supportContact", &s), 404, "NOT_FOUND");
  EXPECT_EQ(Audited("PROVIDER_API", "NOT_FOUND"), before + 2);
  Session p = Provider();
  CallOptions no_csrf;
  no_csrf.csrf = false;
  ExpectError(Call(verb::delete_, "/api/v1/provider/supportContact", &p, "", no_csrf), 403,
              "CSRF_INVALID");
}

}  // namespace
}  // namespace sandgate::api::testing
