// /healthz and /readyz through the router: no session needed.
#include "api/route_test_fixture.h"

namespace sandgate::api::testing {
namespace {

class HealthRoutesTest : public RouteTest {
 protected:
  void Configure(ApiOptions& o) override {
    o.analysis_status = [] { return json::object{{"rules", 3}}; };
  }
};

TEST_F(HealthRoutesTest, HealthzIsOkWithoutASession) {
  Answer a = Call(verb::get, "/healthz", nullptr);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, (json::object{{"status", "ok"}}));
  EXPECT_EQ(a.res[http::bhttp::field::content_type], "application/json");
  EXPECT_EQ(Call(verb::post, "/healthz", nullptr).status, 405);
}

TEST_F(HealthRoutesTest, ReadyzReportsEachCheckAndTheAnalysisStatus) {
  Answer a = Call(verb::get, "/readyz", nullptr);
  ASSERT_EQ(a.status, 200) << a.res.body();
  const std::string status(a.obj().at("status").as_string());
  EXPECT_TRUE(status == "ready" || status == "degraded") << status;  // store writes: process-wide
  EXPECT_EQ(a.obj().at("checks").at("storeReads").at("state"), "ok");
  EXPECT_EQ(a.obj().at("checks").at("indexTrusted").at("state"), "ok");
  EXPECT_TRUE(a.obj().at("checks").as_object().contains("storeWrites"));
  EXPECT_FALSE(a.obj().at("checks").as_object().contains("engineLoaded"));  // no Submission API
  EXPECT_FALSE(a.obj().contains("code"));
  EXPECT_EQ(a.obj().at("analysis"), (json::object{{"rules", 3}}));
}

}  // namespace
}  // namespace sandgate::api::testing
