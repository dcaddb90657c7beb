#include "api/views.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/json_writer.h"
#include "quota/quota.h"
#include "token/token_format.h"

namespace sandgate::api {

namespace json = boost::json;

json::value OptTime(const std::optional<TimeMs>& t, json::storage_ptr sp) {
  if (!t) return json::value(nullptr, std::move(sp));
  return json::value(FormatIso8601(*t), std::move(sp));
}

json::array ActionNames(const std::vector<domain::Action>& actions, json::storage_ptr sp) {
  json::array a(std::move(sp));
  a.reserve(actions.size());
  for (domain::Action x : actions) a.emplace_back(domain::ToString(x));
  return a;
}

void WriteTokenViewMembers(JsonWriter& w, const service::TokenView& v, const std::string& base_url,
                           bool provider) {
  w.Member("orgId", v.org.id).Member("orgName", v.org.name).Member("baseUrl", base_url);
  if (v.token) {
    w.Key("token").BeginObject();
    w.Member("masked", token::Mask(v.token->last4)).Member("last4", v.token->last4);
    w.Member("createdOn", FormatIso8601(v.token->created_at)).EndObject();
    w.Member("lastModifiedBy", v.token->last_modified_by);
    w.Member("lastModifiedOn", FormatIso8601(v.token->last_modified_on));
  } else {
    w.Member("token", nullptr).Member("lastModifiedBy", nullptr).Member("lastModifiedOn", nullptr);
  }
  w.Member("status", domain::ToString(v.status.status));
  if (v.status.reason == domain::StatusReason::kNone)
    w.Member("statusReason", nullptr);
  else
    w.Member("statusReason", domain::ToString(v.status.reason));
  w.Member("disabledByProvider", v.org.provider_disabled);
  if (v.org.provider_disabled) {
    w.Member("disableReason", domain::ToString(v.org.disable_reason));
    WriteOptTime(w, "disabledOn", v.org.disabled_at);
    // By the over-quota threshold (the "system" actor, submission/submission.cc), not a person.
    w.Member("disabledAutomatically", v.org.disabled_by == "system");
    if (provider)
      w.Member("disableNote", v.org.disable_note).Member("disabledBy", v.org.disabled_by);
  } else {
    w.Member("disableReason", nullptr);
  }
  w.Key("subscription").BeginObject().Member("state", domain::ToString(v.subscription));
  WriteOptTime(w, "endsAt", v.org.ends_at);
  w.EndObject();
  w.Key("allowedActions").BeginArray();
  for (domain::Action x : v.allowed) w.String(domain::ToString(x));
  w.EndArray();
  // Issue 20: the organization's leak policy, and the last report of its token found in public
  // (cleared when a new token is added). The URL is the scanner's text: clients show it as text.
  w.Member("leakPolicy", domain::ToString(v.leak.policy));
  if (v.leak.reported_at) {
    w.Key("leakReport").BeginObject();
    w.Member("foundAt", FormatIso8601(*v.leak.reported_at)).Member("url", v.leak.url);
    w.Member("source", v.leak.source).Member("action", v.leak.action);
    w.Member("tokenLast4", v.leak.token_last4).EndObject();
  } else {
    w.Member("leakReport", nullptr);
  }
}

void WriteOptTime(JsonWriter& w, std::string_view key, const std::optional<TimeMs>& t) {
  if (t)
    w.Member(key, FormatIso8601(*t));
  else
    w.Member(key, nullptr);
}

void WriteOrgMembers(JsonWriter& w, const service::TokenView& v, const std::string& base_url) {
  WriteTokenViewMembers(w, v, base_url, true);
  w.Member("id", v.org.id).Member("name", v.org.name);
  w.Member("createdAt", FormatIso8601(v.org.created_at));
  w.Key("settings").BeginObject();
  w.Member("dailyAllowance", v.org.daily_allowance).Member("ratePerSecond", v.org.rate_per_second);
  w.Member("ratePerHour", v.org.rate_per_hour);
  w.Member("disableThreshold", v.org.disable_threshold).EndObject();
}

json::object UsageSummaryJson(int64_t used, int64_t allowed, json::storage_ptr sp) {
  return json::object({{"used", used}, {"allowed", allowed}}, std::move(sp));
}

json::object OrgRowJson(const store::OrgRow& row, TimeMs now) {
  const auto& org = row.org;
  domain::OrgState st = service::Services::StateOf(org, true);
  auto status = domain::TokenStatusAt(st, now);
  json::object o;
  o["id"] = org.id;
  o["name"] = org.name;
  o["subscription"] = std::string(domain::ToString(domain::EffectiveSubscription(st, now)));
  o["endsAt"] = OptTime(org.ends_at);
  o["tokenStatus"] = std::string(domain::ToString(status.status));
  o["statusReason"] = status.reason == domain::StatusReason::kNone
                          ? json::value(nullptr)
                          : json::value(std::string(domain::ToString(status.reason)));
  o["disabledByProvider"] = org.provider_disabled;
  o["disableReason"] = org.provider_disabled
                           ? json::value(std::string(domain::ToString(org.disable_reason)))
                           : json::value(nullptr);
  o["hasToken"] = row.has_token;
  o["usedToday"] = row.used_today;
  o["overQuotaToday"] = row.over_quota_today;
  o["dailyAllowance"] = org.daily_allowance;
  o["disableThreshold"] = org.disable_threshold;
  return o;
}

json::object OverviewJson(const store::OrgOverviewRecord& v, TimeMs now,
                          int64_t expiring_within_days, json::array top) {
  json::object out;
  out["asOf"] = FormatIso8601(now);
  out["orgs"] = v.orgs;
  out["tokenStates"] =
      json::object{{"enabled", v.enabled},
                   {"disabledByProvider",
                    v.disabled_quota_threshold + v.disabled_terms_violation + v.disabled_other},
                   {"expired", v.expired},
                   {"noSubscription", v.no_subscription}};
  out["disabledByReason"] = json::object{{"QUOTA_THRESHOLD", v.disabled_quota_threshold},
                                         {"TERMS_VIOLATION", v.disabled_terms_violation},
                                         {"OTHER", v.disabled_other}};
  out["noToken"] = v.no_token;
  out["expiringWithinDays"] = expiring_within_days;
  out["expiring"] = v.expiring;
  out["over80Today"] = v.over80;
  out["nearThresholdToday"] = v.near_threshold;
  json::array days;
  for (const auto& d : v.days)
    days.push_back(json::object{{"day", FormatIso8601(d.day * 86'400'000LL).substr(0, 10)},
                                {"accepted", d.used},
                                {"refused", d.over_quota}});
  out["days"] = std::move(days);
  out["top"] = std::move(top);
  return out;
}

json::object UserJson(const store::UserRecord& u) {
  json::object o;
  o["id"] = u.id;
  o["username"] = u.username;
  o["role"] = std::string(domain::ToString(u.role));
  o["orgId"] = u.org_id ? json::value(*u.org_id) : json::value(nullptr);
  o["createdAt"] = FormatIso8601(u.created_at);
  return o;
}

json::object AuditJson(const store::AuditRecord& r) {
  json::object o;
  o["id"] = r.id;
  o["time"] = FormatIso8601(r.ts);
  o["actor"] = r.actor;
  o["actorRole"] = r.actor_role;
  o["orgId"] = r.org_id ? json::value(*r.org_id) : json::value(nullptr);
  o["action"] = r.action;
  o["outcome"] = r.outcome;
  o["clientAddress"] = r.client_addr;
  o["tokenFingerprint"] = r.token_fp;
  o["detail"] = r.detail;
  o["requestId"] = r.request_id;
  return o;
}

void WriteContactParts(JsonWriter& w, const store::SupportContactRecord& c) {
  if (!c.name.empty()) w.Member("name", c.name);
  if (!c.email.empty()) w.Member("email", c.email);
  if (!c.url.empty()) w.Member("url", c.url);
  if (!c.phone.empty()) w.Member("phone", c.phone);
}

bool HasContactParts(const store::SupportContactRecord& c) {
  return !c.name.empty() || !c.email.empty() || !c.url.empty() || !c.phone.empty();
}

json::object ContactPartsJson(const store::SupportContactRecord& c) {
  std::string text;
  JsonWriter w(text);
  w.BeginObject();
  WriteContactParts(w, c);
  w.EndObject();
  return json::parse(text).as_object();
}

json::object SupportSettingJson(const service::SupportContactView& v) {
  json::object o;
  o["contact"] = ContactPartsJson(v.contact);
  o["source"] = v.from_console ? "console" : "configFile";
  o["updatedAt"] = v.from_console ? OptTime(v.contact.updated_at) : json::value(nullptr);
  o["updatedBy"] = v.from_console ? json::value(v.contact.updated_by) : json::value(nullptr);
  o["configFile"] = ContactPartsJson(v.config);
  return o;
}

json::object FieldErrorsJson(const Status& s, const std::vector<domain::FieldError>& refused) {
  json::array fields;
  for (const auto& f : refused)
    fields.push_back(json::object{{"field", f.field}, {"message", f.message}});
  return json::object{{"code", s.code()}, {"message", s.message()}, {"fields", std::move(fields)}};
}

json::object UsageJson(const std::vector<store::UsageRecord>& rows, int64_t today,
                       int64_t used_today, int64_t rate_limited, const store::OrgRecord& o,
                       TimeMs now) {
  const int64_t n = static_cast<int64_t>(rows.size());
  json::array days;
  for (int64_t i = 0; i < n; i++) {
    const int64_t day = today - (n - 1) + i;
    const bool is_today = i == n - 1;
    const int64_t accepted = is_today ? std::max(used_today, rows[i].used) : rows[i].used;
    days.push_back(json::object{{"date", FormatIso8601(day * 86'400'000).substr(0, 10)},
                                {"accepted", accepted},
                                {"refused", rows[i].over_quota + (is_today ? rate_limited : 0)}});
  }
  const int64_t over_quota = n > 0 ? rows[n - 1].over_quota : 0;
  const int64_t used_row = n > 0 ? rows[n - 1].used : 0;
  return json::object{
      {"days", std::move(days)},
      {"allowed", o.daily_allowance},
      {"usedToday", std::max(used_today, used_row)},
      {"refusedToday", json::object{{"quota", over_quota}, {"rate", rate_limited}}},
      {"disableThreshold", o.disable_threshold},
      // The token is disabled by the over-quota call that makes the day's count exceed the
      // threshold (quota/quota.cc).
      {"overQuotaCallsBeforeDisable", std::max<int64_t>(0, o.disable_threshold + 1 - over_quota)},
      {"resetsAt", FormatIso8601((today + 1) * 86'400'000)},
      {"resetsInSeconds", ((today + 1) * 86'400'000 - now + 999) / 1000}};
}

json::array QuotaReportJson(TimeMs now, int64_t used, int64_t allowed) {
  return json::array{json::object{{"startTime", quota::UtcDay(now) * 86400},
                                  {"used", used},
                                  {"allowed", allowed},
                                  {"scale", "DAYS"},
                                  {"unused", std::max<int64_t>(0, allowed - used)}}};
}

json::value ReportJson(const store::ReportRecord& rec, bool full) {
  json::object d = json::parse(rec.report_json).as_object();
  json::object& verdict = d["verdict"].as_object();
  json::object summary{{"Status", rec.status},
                       {"Category", d["category"]},
                       {"FileType", d["fileType"]},
                       {"StartTime", d["startTime"]},
                       {"Duration", d["duration"]}};
  json::object classification{{"Type", verdict["type"]},
                              {"Category", verdict["category"]},
                              {"Score", verdict["score"]},
                              {"DetectedMalware", verdict["detectedMalware"]}};
  json::object props{{"FileType", d["fileType"]}, {"FileSize", d["size"]}, {"MD5", d["md5"]},
                     {"SHA1", d["sha1"]},         {"Sha256", d["sha256"]}, {"Issuer", ""},
                     {"DigitalCerificate", ""},   {"SSDeep", d["ssdeep"]}, {"RootCA", ""}};
  json::object body{
      {"Summary", summary}, {"Classification", classification}, {"FileProperties", props}};
  if (!full) return json::object{{"Summary", body}};
  body["Origin"] = json::object{{"Risk", ""}, {"Language", ""}, {"Country", ""}};
  for (const char* section : {"SystemSummary", "Networking", "SecurityBypass", "Stealth",
                              "Persistence", "Spyware", "Exploit"})
    body[section] = json::array{};
  for (auto& f : d["findings"].as_array()) {
    json::object item = f.as_object();
    std::string section(item["section"].as_string());
    item.erase("section");
    if (!body.contains(section)) section = "SystemSummary";
    body[section].as_array().push_back(item);
  }
  return json::object{{"Full Details", body}};
}

json::value ReportNotFoundJson() {
  return json::parse(R"({"Summary":{"Summary":{"Status":"CONTENT_NOTFOUND",)"
                     R"("Message":"Content lookup failed."}}})");
}

json::object LeakOutcomeJson(const service::LeakOutcome& out) {
  return json::object{{"label", out.live ? "true_positive" : "false_positive"},
                      {"action", out.live ? json::value(out.action) : nullptr},
                      {"orgId", out.org ? json::value(*out.org) : nullptr},
                      {"tokenLast4", out.live ? json::value(out.last4) : nullptr}};
}

namespace {
// The stored body as JSON (written by notify::Body, so always an object).
json::value ParsedBody(const std::string& payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  return ec ? json::value(json::object{}) : v;
}
}  // namespace

json::object WebhookEndpointJson(const store::WebhookEndpoint& e) {
  json::array events;
  std::string_view rest = e.events;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    events.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return json::object{{"id", e.id},
                      {"url", e.url},
                      {"events", std::move(events)},
                      {"description", e.description},
                      {"scope", e.org_id ? "organization" : "provider"},
                      {"createdAt", FormatIso8601(e.created_at)},
                      {"failing", e.failing_since.has_value()},
                      {"failingSince", OptTime(e.failing_since)}};
}

json::object WebhookDeliveryJson(const store::OutboxMessage& m) {
  return json::object{
      {"id", m.id},
      {"messageId", m.msg_id},
      {"event", m.event},
      {"state", m.state},
      {"attempts", m.attempts},
      {"createdAt", FormatIso8601(m.created_at)},
      {"nextAttemptAt",
       m.state == "pending" ? json::value(FormatIso8601(m.next_attempt_at)) : json::value(nullptr)},
      {"lastStatus", m.last_status == 0 ? json::value(nullptr) : json::value(m.last_status)},
      {"lastError", m.last_error},
      {"latencyMs", m.attempts == 0 ? json::value(nullptr) : json::value(m.last_latency_ms)},
      {"deliveredAt", OptTime(m.delivered_at)},
      {"body", ParsedBody(m.payload)}};
}

}  // namespace sandgate::api
