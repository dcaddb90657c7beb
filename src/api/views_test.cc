// The API's JSON views (api/views.h): pure functions of their arguments.
#include "api/views.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "token/token_format.h"

namespace sandgate::api {
namespace {

namespace json = boost::json;
constexpr TimeMs kDay = 86'400'000;
constexpr TimeMs kNow = 1800000000000;  // 2027-01-15T08:00:00Z

service::TokenView View(bool with_token) {
  service::TokenView v;
  v.org.id = 7;
  v.org.name = "Acme";
  v.org.created_at = kNow - kDay;
  v.org.subscription = domain::Subscription::kActive;
  v.subscription = domain::Subscription::kActive;
  v.status.status = domain::TokenStatus::kEnabled;
  v.allowed = {domain::Action::kRegenerate};
  if (with_token) {
    store::TokenRecord t;
    t.last4 = "WXYZ";
    t.created_at = kNow - kDay;
    t.last_modified_by = "alice";
    t.last_modified_on = kNow;
    v.token = t;
  }
  return v;
}

// The token page's members, written as a whole object and parsed back. Also checks that no member
// is written twice (a parser keeps one of two duplicates silently).
json::object TokenViewJson(const service::TokenView& v, const std::string& base_url,
                           bool provider) {
  std::string text;
  JsonWriter w(text);
  w.BeginObject();
  WriteTokenViewMembers(w, v, base_url, provider);
  w.EndObject();
  json::object o = json::parse(text).as_object();
  size_t members = 0;
  for (size_t i = 0; (i = text.find("\":", i)) != std::string::npos; ++i) ++members;
  EXPECT_EQ(members,
            o.size() + (o.at("token").is_object() ? o.at("token").as_object().size() : 0) +
                o.at("subscription").as_object().size() +
                (o.at("leakReport").is_object() ? o.at("leakReport").as_object().size() : 0))
      << text;
  return o;
}

json::object OrgJson(const service::TokenView& v, const std::string& base_url) {
  std::string text;
  JsonWriter w(text);
  w.BeginObject();
  WriteOrgMembers(w, v, base_url);
  w.EndObject();
  return json::parse(text).as_object();
}

TEST(ViewsTest, OptTimeIsIsoOrNull) {
  EXPECT_EQ(OptTime(std::nullopt), json::value(nullptr));
  EXPECT_EQ(OptTime(kNow), json::value("2027-01-15T08:00:00Z"));
}

TEST(ViewsTest, TokenViewWithAndWithoutAToken) {
  json::object o = TokenViewJson(View(true), "https://sb.example", false);
  EXPECT_EQ(o.at("orgId"), 7);
  EXPECT_EQ(o.at("baseUrl"), "https://sb.example");
  EXPECT_EQ(o.at("token").at("last4"), "WXYZ");
  EXPECT_EQ(o.at("token").at("masked"), json::value(token::Mask("WXYZ")));
  EXPECT_EQ(o.at("lastModifiedBy"), "alice");
  EXPECT_EQ(o.at("lastModifiedOn"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(o.at("status"), "ENABLED");
  EXPECT_TRUE(o.at("statusReason").is_null());
  EXPECT_EQ(o.at("disabledByProvider"), false);
  EXPECT_TRUE(o.at("disableReason").is_null());
  EXPECT_EQ(o.at("subscription"), (json::object{{"state", "ACTIVE"}, {"endsAt", nullptr}}));
  EXPECT_EQ(o.at("allowedActions"), (json::array{"REGENERATE"}));
  EXPECT_EQ(o.at("leakPolicy"), "REVOKE");
  EXPECT_TRUE(o.at("leakReport").is_null());

  json::object none = TokenViewJson(View(false), "u", false);
  EXPECT_TRUE(none.at("token").is_null());
  EXPECT_TRUE(none.at("lastModifiedBy").is_null());
  EXPECT_TRUE(none.at("lastModifiedOn").is_null());
}

TEST(ViewsTest, ADisabledTokenShowsTheNoteToTheProviderOnly) {
  service::TokenView v = View(true);
  v.org.provider_disabled = true;
  v.org.disable_reason = domain::DisableReason::kQuotaThreshold;
  v.org.disable_note = "over quota";
  v.org.disabled_by = "system";
  v.org.disabled_at = kNow;
  json::object org_view = TokenViewJson(v, "u", false);
  EXPECT_EQ(org_view.at("disableReason"), "QUOTA_THRESHOLD");
  EXPECT_EQ(org_view.at("disabledOn"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(org_view.at("disabledAutomatically"), true);
  EXPECT_FALSE(org_view.contains("disableNote"));
  EXPECT_FALSE(org_view.contains("disabledBy"));
  json::object provider_view = OrgJson(v, "u");
  EXPECT_EQ(provider_view.at("disableNote"), "over quota");
  EXPECT_EQ(provider_view.at("disabledBy"), "system");
  EXPECT_EQ(provider_view.at("id"), 7);
  EXPECT_EQ(provider_view.at("name"), "Acme");
  EXPECT_EQ(provider_view.at("settings"), (json::object{{"dailyAllowance", 100},
                                                        {"ratePerSecond", 1},
                                                        {"ratePerHour", 400},
                                                        {"disableThreshold", 100}}));
}

TEST(ViewsTest, ALeakReportIsShownWithItsUrlAsText) {
  service::TokenView v = View(false);
  v.leak.policy = domain::LeakPolicy::kNotify;
  v.leak.reported_at = kNow;
  v.leak.url = "https://example.com/<b>";
  v.leak.source = "commit";
  v.leak.action = "NOTIFIED";
  v.leak.token_last4 = "ABCD";
  json::object o = TokenViewJson(v, "u", false);
  EXPECT_EQ(o.at("leakPolicy"), "NOTIFY");
  EXPECT_EQ(o.at("leakReport"), (json::object{{"foundAt", "2027-01-15T08:00:00Z"},
                                              {"url", "https://example.com/<b>"},
                                              {"source", "commit"},
                                              {"action", "NOTIFIED"},
                                              {"tokenLast4", "ABCD"}}));
}

TEST(ViewsTest, OrgRowAtNow) {
  store::OrgRow row;
  row.org.id = 3;
  row.org.name = "Expired Inc";
  row.org.subscription = domain::Subscription::kActive;
  row.org.ends_at = kNow - 1;  // ended a moment ago
  row.has_token = true;
  row.used_today = 5;
  row.over_quota_today = 2;
  json::object o = OrgRowJson(row, kNow);
  EXPECT_EQ(o.at("subscription"), "EXPIRED");
  EXPECT_EQ(o.at("tokenStatus"), "DISABLED");
  EXPECT_EQ(o.at("statusReason"), "SUBSCRIPTION_EXPIRED");
  EXPECT_EQ(o.at("hasToken"), true);
  EXPECT_EQ(o.at("usedToday"), 5);
  EXPECT_EQ(o.at("overQuotaToday"), 2);
  EXPECT_FALSE(o.contains("usage"));  // added by the handler with the Submission API
  EXPECT_EQ(UsageSummaryJson(3, 10), (json::object{{"used", 3}, {"allowed", 10}}));
}

TEST(ViewsTest, OverviewSumsTheDisabledAndNamesTheDays) {
  store::OrgOverviewRecord v;
  v.orgs = 9;
  v.disabled_quota_threshold = 1;
  v.disabled_terms_violation = 2;
  v.disabled_other = 3;
  v.days = {{kNow / kDay - 1, 4, 1}, {kNow / kDay, 6, 0}};
  json::object o = OverviewJson(v, kNow, 14, json::array{"row"});
  EXPECT_EQ(o.at("asOf"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(o.at("tokenStates").at("disabledByProvider"), 6);
  EXPECT_EQ(o.at("disabledByReason").at("TERMS_VIOLATION"), 2);
  EXPECT_EQ(o.at("expiringWithinDays"), 14);
  EXPECT_EQ(o.at("days"),
            (json::array{json::object{{"day", "2027-01-14"}, {"accepted", 4}, {"refused", 1}},
                         json::object{{"day", "2027-01-15"}, {"accepted", 6}, {"refused", 0}}}));
  EXPECT_EQ(o.at("top"), (json::array{"row"}));
}

TEST(ViewsTest, UserAndAuditRecords) {
  store::UserRecord u;
  u.id = 4;
  u.username = "bob";
  u.password_hash = "$argon2id$secret";
  u.role = domain::Role::kOrgReadonly;
  u.org_id = 7;
  u.created_at = kNow;
  json::object uo = UserJson(u);
  EXPECT_EQ(uo, (json::object{{"id", 4},
                              {"username", "bob"},
                              {"role", "ORG_READONLY"},
                              {"orgId", 7},
                              {"createdAt", "2027-01-15T08:00:00Z"}}));  // never the hash
  u.org_id.reset();
  EXPECT_TRUE(UserJson(u).at("orgId").is_null());

  store::AuditRecord r;
  r.id = 11;
  r.ts = kNow;
  r.actor = "bob";
  r.actor_role = "ORG_ADMIN";
  r.action = "TOKEN_REGENERATE";
  r.outcome = "ALLOWED";
  r.client_addr = "192.0.2.1";
  r.token_fp = "WXYZ";
  r.request_id = "rid";
  json::object ao = AuditJson(r);
  EXPECT_EQ(ao.at("time"), "2027-01-15T08:00:00Z");
  EXPECT_TRUE(ao.at("orgId").is_null());
  EXPECT_EQ(ao.at("clientAddress"), "192.0.2.1");
  EXPECT_EQ(ao.at("tokenFingerprint"), "WXYZ");
  EXPECT_EQ(ao.at("requestId"), "rid");
  EXPECT_EQ(ao.size(), 11u);
}

TEST(ViewsTest, SupportContactOmitsEmptyPartsAndSaysWhereItComesFrom) {
  store::SupportContactRecord c;
  c.name = "Help";
  c.phone = "+1 555";
  EXPECT_EQ(ContactPartsJson(c), (json::object{{"name", "Help"}, {"phone", "+1 555"}}));
  service::SupportContactView v;
  v.contact = c;
  v.config.email = "cfg@example.com";
  json::object from_file = SupportSettingJson(v);
  EXPECT_EQ(from_file.at("source"), "configFile");
  EXPECT_TRUE(from_file.at("updatedAt").is_null());
  EXPECT_TRUE(from_file.at("updatedBy").is_null());
  EXPECT_EQ(from_file.at("configFile"), (json::object{{"email", "cfg@example.com"}}));
  v.from_console = true;
  v.contact.updated_at = kNow;
  v.contact.updated_by = "provider";
  json::object saved = SupportSettingJson(v);
  EXPECT_EQ(saved.at("source"), "console");
  EXPECT_EQ(saved.at("updatedAt"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(saved.at("updatedBy"), "provider");

  json::object e = FieldErrorsJson(Status::Invalid("INVALID_SUPPORT_CONTACT", "Bad email."),
                                   {{"email", "Bad email."}});
  EXPECT_EQ(e, (json::object{{"code", "INVALID_SUPPORT_CONTACT"},
                             {"message", "Bad email."},
                             {"fields", json::array{json::object{{"field", "email"},
                                                                 {"message", "Bad email."}}}}}));
}

TEST(ViewsTest, UsageCountsTodayFromTheLargerOfQuotaAndStoreAndTheThreshold) {
  const int64_t today = kNow / kDay;
  std::vector<store::UsageRecord> rows(30);
  rows[0].used = 2;
  rows[29].used = 3;
  rows[29].over_quota = 4;
  store::OrgRecord org;
  org.daily_allowance = 10;
  org.disable_threshold = 5;
  json::object o = UsageJson(rows, today, /*used_today=*/6, /*rate_limited=*/1, org, kNow);
  const auto& days = o.at("days").as_array();
  ASSERT_EQ(days.size(), 30u);
  EXPECT_EQ(days.front(), (json::object{{"date", "2026-12-17"}, {"accepted", 2}, {"refused", 0}}));
  EXPECT_EQ(days.back(), (json::object{{"date", "2027-01-15"}, {"accepted", 6}, {"refused", 5}}));
  EXPECT_EQ(o.at("usedToday"), 6);
  EXPECT_EQ(o.at("allowed"), 10);
  EXPECT_EQ(o.at("refusedToday"), (json::object{{"quota", 4}, {"rate", 1}}));
  EXPECT_EQ(o.at("overQuotaCallsBeforeDisable"), 2);  // 5 + 1 - 4
  EXPECT_EQ(o.at("resetsAt"), "2027-01-16T00:00:00Z");
  EXPECT_EQ(o.at("resetsInSeconds"), 16 * 3600);
  rows[29].over_quota = 9;
  EXPECT_EQ(UsageJson(rows, today, 0, 0, org, kNow).at("overQuotaCallsBeforeDisable"), 0);
}

TEST(ViewsTest, QuotaReportNeverAnswersANegativeUnused) {
  json::array a = QuotaReportJson(kNow, 12, 10);
  EXPECT_EQ(a, (json::array{json::object{{"startTime", kNow / kDay * 86'400},
                                         {"used", 12},
                                         {"allowed", 10},
                                         {"scale", "DAYS"},
                                         {"unused", 0}}}));
}

TEST(ViewsTest, ReportSummaryAndFullDetails) {
  store::ReportRecord rec;
  rec.status = "COMPLETED";
  rec.report_json = R"({"category":"EXECS","fileType":"EXE","startTime":1,"duration":2,
    "size":3,"md5":"M","sha1":"S1","sha256":"S2","ssdeep":"D",
    "verdict":{"type":"MALICIOUS","category":"TROJAN","score":90,"detectedMalware":"X"},
    "findings":[{"section":"Networking","name":"a"},{"section":"Nowhere","name":"b"}]})";
  json::value s = ReportJson(rec, false);
  const auto& sum = s.at("Summary");
  EXPECT_EQ(sum.at("Summary").at("Status"), "COMPLETED");
  EXPECT_EQ(sum.at("Classification").at("Score"), 90);
  EXPECT_EQ(sum.at("FileProperties").at("Sha256"), "S2");
  EXPECT_FALSE(sum.as_object().contains("Networking"));
  json::value f = ReportJson(rec, true);
  const auto& full = f.at("Full Details");
  EXPECT_EQ(full.at("Networking"), (json::array{json::object{{"name", "a"}}}));
  EXPECT_EQ(full.at("SystemSummary"), (json::array{json::object{{"name", "b"}}}));
  EXPECT_EQ(full.at("Exploit"), json::array{});
  EXPECT_EQ(ReportNotFoundJson().at("Summary").at("Summary").at("Status"), "CONTENT_NOTFOUND");
}

TEST(ViewsTest, LeakOutcomeLabels) {
  service::LeakOutcome live{true, "REVOKED", 7, "WXYZ"};
  EXPECT_EQ(LeakOutcomeJson(live), (json::object{{"label", "true_positive"},
                                                 {"action", "REVOKED"},
                                                 {"orgId", 7},
                                                 {"tokenLast4", "WXYZ"}}));
  service::LeakOutcome dead;
  EXPECT_EQ(LeakOutcomeJson(dead), (json::object{{"label", "false_positive"},
                                                 {"action", nullptr},
                                                 {"orgId", nullptr},
                                                 {"tokenLast4", nullptr}}));
}

TEST(ViewsTest, WebhookEndpointAndDelivery) {
  store::WebhookEndpoint e;
  e.id = 2;
  e.url = "https://hooks.example/in";
  e.events = "token.disabled,token.leaked";
  e.seed = "never shown";
  e.created_at = kNow;
  json::object eo = WebhookEndpointJson(e);
  EXPECT_EQ(eo.at("events"), (json::array{"token.disabled", "token.leaked"}));
  EXPECT_EQ(eo.at("scope"), "provider");
  EXPECT_EQ(eo.at("failing"), false);
  EXPECT_EQ(json::serialize(eo).find("never shown"), std::string::npos);
  e.org_id = 7;
  e.events = "";
  EXPECT_EQ(WebhookEndpointJson(e).at("scope"), "organization");
  EXPECT_EQ(WebhookEndpointJson(e).at("events"), json::array{});

  store::OutboxMessage m;
  m.id = 1;
  m.payload = R"({"type":"webhook.test"})";
  m.next_attempt_at = kNow;
  json::object mo = WebhookDeliveryJson(m);
  EXPECT_EQ(mo.at("state"), "pending");
  EXPECT_EQ(mo.at("nextAttemptAt"), "2027-01-15T08:00:00Z");
  EXPECT_TRUE(mo.at("lastStatus").is_null());
  EXPECT_TRUE(mo.at("latencyMs").is_null());
  EXPECT_EQ(mo.at("body"), (json::object{{"type", "webhook.test"}}));
  m.state = "delivered";
  m.payload = "not json";
  m.attempts = 1;
  m.last_status = 200;
  EXPECT_TRUE(WebhookDeliveryJson(m).at("nextAttemptAt").is_null());
  EXPECT_EQ(WebhookDeliveryJson(m).at("body"), json::object{});
  EXPECT_EQ(WebhookDeliveryJson(m).at("lastStatus"), 200);
}

}  // namespace
}  // namespace sandgate::api
