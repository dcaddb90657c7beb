// The API's JSON views: service results and store rows turned into the objects the API answers
// (docs/openapi.yaml). Pure: no I/O, no clock reads; what a view needs from elsewhere (now, today's
// usage, ...) is an argument. Thread-safe.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"
#include "domain/model.h"
#include "service/services.h"
#include "store/store.h"

namespace sandgate::api {

// Views take an optional storage (e.g. a json::monotonic_resource for the life of one answer):
// everything they build lives there, so nothing is copied between storages.

// An ISO-8601 time, or null.
boost::json::value OptTime(const std::optional<TimeMs>& t, boost::json::storage_ptr sp = {});
// The actions' names, in order.
boost::json::array ActionNames(const std::vector<domain::Action>& actions,
                               boost::json::storage_ptr sp = {});

// The token page's read model, as members of an object the caller has begun (the page adds its
// own after them). `provider`: the provider's note and who disabled the token, too.
void WriteTokenViewMembers(JsonWriter& w, const service::TokenView& v, const std::string& base_url,
                           bool provider);
// The member `key`: an ISO-8601 time, or null.
void WriteOptTime(JsonWriter& w, std::string_view key, const std::optional<TimeMs>& t);
// The provider's organization: the token page's model plus id, name, creation time and settings,
// as members of an object the caller has begun.
void WriteOrgMembers(JsonWriter& w, const service::TokenView& v, const std::string& base_url);
// {"used", "allowed"}: today's accepted submissions against the daily allowance.
boost::json::object UsageSummaryJson(int64_t used, int64_t allowed,
                                     boost::json::storage_ptr sp = {});
// One row of the provider's organization list, its state at `now`.
boost::json::object OrgRowJson(const store::OrgRow& row, TimeMs now);
// The provider's overview at `now`; `top` is the already rendered rows of v.top.
boost::json::object OverviewJson(const store::OrgOverviewRecord& v, TimeMs now,
                                 int64_t expiring_within_days, boost::json::array top);

boost::json::object UserJson(const store::UserRecord& u);
boost::json::object AuditJson(const store::AuditRecord& r);

// A support contact's parts that are set, as members of an object the caller has begun; whether
// any is set.
void WriteContactParts(JsonWriter& w, const store::SupportContactRecord& c);
bool HasContactParts(const store::SupportContactRecord& c);
// The same as an object.
boost::json::object ContactPartsJson(const store::SupportContactRecord& c);
// The provider's view of the support contact: the one in effect, where it comes from, and the
// config file's.
boost::json::object SupportSettingJson(const service::SupportContactView& v);
// The 400 INVALID_SUPPORT_CONTACT body: code and message, and each refused field.
boost::json::object FieldErrorsJson(const Status& s, const std::vector<domain::FieldError>& fields);

// GET /api/v1/sandbox/usage. `days`: the organization's usage of the 30 UTC days up to `today`,
// oldest first; `used_today` and `rate_limited_today`: the quota manager's counts for today.
boost::json::object UsageJson(const std::vector<store::UsageRecord>& days, int64_t today,
                              int64_t used_today, int64_t rate_limited_today,
                              const store::OrgRecord& org, TimeMs now);
// GET /api/v1/sandbox/report/quota: today's quota in Zscaler's shape.
boost::json::array QuotaReportJson(TimeMs now, int64_t used, int64_t allowed);
// GET /api/v1/sandbox/report/{md5}: the stored report in Zscaler's summary or full shape.
boost::json::value ReportJson(const store::ReportRecord& rec, bool full);
// The same route's answer when no report of the MD5 exists.
boost::json::value ReportNotFoundJson();

// POST /api/v1/provider/leak-reports: what a report of one token came to.
boost::json::object LeakOutcomeJson(const service::LeakOutcome& out);

// A webhook endpoint (never its secret) and a delivery of the outbox.
boost::json::object WebhookEndpointJson(const store::WebhookEndpoint& e);
boost::json::object WebhookDeliveryJson(const store::OutboxMessage& m);

}  // namespace sandgate::api
