// The webhook routes (api/webhooks_api.cc) through the router: the organization's through the
// signed-in group, the provider's through the provider group.
#include "api/route_test_fixture.h"
#include "service/webhook_service.h"

namespace sandgate::api::testing {
namespace {

class WebhookRoutesTest : public RouteTest {
 protected:
  void Configure(ApiOptions& o) override {
    webhooks_.reset(new service::WebhookService(*services_, {}));
    o.webhooks = webhooks_.get();
  }
  void BeforeServicesGo() override { webhooks_.reset(); }
  std::unique_ptr<service::WebhookService> webhooks_;
};

TEST_F(WebhookRoutesTest, EachScopeListsItsOwnEndpoints) {
  Session s = OrgUser("alice");
  Answer org = Call(verb::get, "/api/v1/sandbox/webhooks", &s);
  ASSERT_EQ(org.status, 200) << org.res.body();
  EXPECT_EQ(org.body, (json::object{{"items", json::array{}}}));
  Session p = Provider();
  Answer prov = Call(verb::get, "/api/v1/provider/webhooks", &p);
  ASSERT_EQ(prov.status, 200) << prov.res.body();
  EXPECT_EQ(prov.body, (json::object{{"items", json::array{}}}));
}

TEST_F(WebhookRoutesTest, ProviderWebhooksDoNotExistForOrganizationUsers) {
  Session s = OrgUser("bob");
  const int before = Audited("PROVIDER_API", "NOT_FOUND");
  ExpectError(Call(verb::get, "/api/v1/provider/webhooks", &s), 404, "NOT_FOUND");
  ExpectError(Call(verb::post, "/api/v1/provider/webhooks/1/test", &s), 404, "NOT_FOUND");
  EXPECT_EQ(Audited("PROVIDER_API", "NOT_FOUND"), before + 2);
}

TEST_F(WebhookRoutesTest, ProviderAdministratorsUseTheProviderRoutes) {
  Session p = Provider();
  Answer a = Call(verb::get, "/api/v1/sandbox/webhooks", &p);
  ExpectError(a, 403, "FORBIDDEN");
  EXPECT_NE(a.obj().at("message").as_string().find("/api/v1/provider/webhooks"),
            std::string_view::npos);
}

TEST_F(WebhookRoutesTest, BadIdsBodiesAndCsrfAreRefused) {
  Session s = OrgUser("carol");
  Answer bad = Call(verb::get, "/api/v1/sandbox/webhooks/abc/deliveries", &s);
  ExpectError(bad, 404, "NOT_FOUND");
  EXPECT_EQ(bad.obj().at("message"), "No such webhook endpoint.");
  ExpectError(Call(verb::delete_, "/api/v1/sandbox/webhooks/99", &s), 404, "NOT_FOUND");
  ExpectError(Call(verb::post, "/api/v1/sandbox/webhooks", &s, R"({"events":[]})"), 400,
              "MISSING_FIELD");
  ExpectError(
      Call(verb::post, "/api/v1/sandbox/webhooks", &s, R"({"url":"ftp://hooks.example/in"})"), 400,
      "WEBHOOK_URL_INVALID");
  CallOptions no_csrf;
  no_csrf.csrf = false;
  ExpectError(Call(verb::post, "/api/v1/sandbox/webhooks", &s, R"({"url":"x"})", no_csrf), 403,
              "CSRF_INVALID");
  ExpectError(Call(verb::get, "/api/v1/sandbox/webhooks", nullptr), 401, "UNAUTHENTICATED");
}

}  // namespace
}  // namespace sandgate::api::testing
