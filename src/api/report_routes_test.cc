// /api/v1/sandbox/usage and /api/v1/sandbox/report/{quota,md5} through the router, with the real
// Submission API (its quota manager and report lookup) beside the routes.
#include "api/route_test_fixture.h"
#include "submission/submission.h"

namespace sandgate::api::testing {
namespace {

class ReportRoutesTest : public RouteTest {
 protected:
  static void SetUpTestSuite() {
    analysis::EngineConfig config;
    config.load_rules = false;  // ClamAV's own signatures only: the routes never scan here
    auto holder = analysis::EngineHolder::Open(config);
    ASSERT_TRUE(holder.ok()) << holder.status().message();
    engines_ = std::move(holder).value().release();
  }
  static void TearDownTestSuite() {
    delete engines_;
    engines_ = nullptr;
  }
  void Configure(ApiOptions& o) override {
    ASSERT_NE(engines_, nullptr);
    submission::SubmissionOptions so;
    so.spool_dir = (dir_ / "spool").string();
    so.static_workers = 1;
    submissions_ = std::make_unique<submission::SubmissionService>(*services_, *engines_, so);
    o.submissions = submissions_.get();
  }
  void BeforeServicesGo() override { submissions_.reset(); }

  static analysis::EngineHolder* engines_;
  std::unique_ptr<submission::SubmissionService> submissions_;
};
analysis::EngineHolder* ReportRoutesTest::engines_ = nullptr;

TEST_F(ReportRoutesTest, UsageShowsThirtyDaysAndWhenTheQuotaResets) {
  Session s = OrgUser("alice");
  Answer a = Call(verb::get, "/api/v1/sandbox/usage", &s);
  ASSERT_EQ(a.status, 200) << a.res.body();
  const auto& days = a.obj().at("days").as_array();
  ASSERT_EQ(days.size(), 30u);
  EXPECT_EQ(days.back().at("date"), "2027-01-15");
  EXPECT_EQ(days.front().at("date"), "2026-12-17");
  EXPECT_EQ(a.obj().at("usedToday"), 0);
  EXPECT_EQ(a.obj().at("resetsAt"), "2027-01-16T00:00:00Z");
  EXPECT_EQ(a.obj().at("resetsInSeconds"), 16 * 3600);
  EXPECT_EQ(a.obj().at("refusedToday"), (json::object{{"quota", 0}, {"rate", 0}}));
  // The token page carries today's usage once the Submission API is served.
  Answer page = Call(verb::get, "/api/v1/sandbox/token", &s);
  EXPECT_EQ(page.obj().at("usage").at("used"), 0);
  EXPECT_TRUE(page.obj().at("lastUsedOn").is_null());
}

TEST_F(ReportRoutesTest, QuotaReportInZscalersShape) {
  Session s = OrgUser("bob");
  Answer a = Call(verb::get, "/api/v1/sandbox/report/quota", &s);
  ASSERT_EQ(a.status, 200) << a.res.body();
  ASSERT_TRUE(a.body.is_array());
  const auto& q = a.body.as_array().at(0);
  EXPECT_EQ(q.at("scale"), "DAYS");
  EXPECT_EQ(q.at("used"), 0);
  EXPECT_EQ(q.at("unused"), q.at("allowed"));
  EXPECT_EQ(q.at("startTime"), kNow / 86'400'000 * 86'400);
}

TEST_F(ReportRoutesTest, ReportLookupChecksTheMd5AndAnswersNotFoundInZscalersShape) {
  Session s = OrgUser("carol");
  ExpectError(Call(verb::get, "/api/v1/sandbox/report/xyz", &s), 400, "INVALID_MD5");
  const std::string md5 = "/api/v1/sandbox/report/0123456789abcdef0123456789ABCDEF";
  ExpectError(Call(verb::get, md5 + "?details=some", &s), 400, "INVALID_PARAMETER");
  Answer a = Call(verb::get, md5 + "?details=full", &s);
  ASSERT_EQ(a.status, 200) << a.res.body();
  EXPECT_EQ(a.body.at("Summary").at("Summary").at("Status"), "CONTENT_NOTFOUND");
}

TEST_F(ReportRoutesTest, ProviderAdministratorsHaveNoOrganizationAndNoSessionIs401) {
  Session p = Provider();
  ExpectError(Call(verb::get, "/api/v1/sandbox/usage", &p), 403, "FORBIDDEN");
  ExpectError(Call(verb::get, "/api/v1/sandbox/report/quota", &p), 403, "FORBIDDEN");
  ExpectError(Call(verb::get, "/api/v1/sandbox/usage", nullptr), 401, "UNAUTHENTICATED");
}

// Without the Submission API the routes are not there at all.
TEST_F(RouteTest, ReportRoutesExistOnlyWithTheSubmissionApi) {
  Session s = OrgUser("dave");
  EXPECT_EQ(Call(verb::get, "/api/v1/sandbox/usage", &s).status, 404);
  EXPECT_EQ(Call(verb::get, "/api/v1/sandbox/report/quota", &s).status, 404);
}

}  // namespace
}  // namespace sandgate::api::testing
