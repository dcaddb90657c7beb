// Internal to the store backends (sqlite_store.cc, pg_store.cc): the column lists and value
// parsing both share, so the two SQL dialects cannot drift apart on what a row holds. The *Data
// lists leave out the id the database assigns; each backend's Bind*/Read* functions follow these
// orders.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "domain/model.h"

namespace sandgate::store::layout {

inline constexpr int64_t kMaxPageLimit = 1000;  // ListOrgs/ListAudit page size cap

inline constexpr char kOrgCols[] =
    "id, name, created_at, subscription, ends_at, provider_disabled, disable_reason, disable_note, "
    "disabled_at, disabled_by, daily_allowance, rate_per_second, rate_per_hour, disable_threshold";
inline constexpr char kOrgDataCols[] =
    "name, created_at, subscription, ends_at, provider_disabled, disable_reason, disable_note, "
    "disabled_at, disabled_by, daily_allowance, rate_per_second, rate_per_hour, disable_threshold";
inline constexpr char kTokenCols[] =
    "org_id, lookup_hash, sealed, key_id, last4, created_at, last_modified_by, last_modified_on";
inline constexpr char kUserCols[] = "id, username, password_hash, role, org_id, created_at";
inline constexpr char kUserDataCols[] = "username, password_hash, role, org_id, created_at";
inline constexpr char kSessionCols[] = "id_hash, user_id, created_at, last_seen_at";
inline constexpr char kUsageCols[] = "org_id, day, used, over_quota, last_used_at";
inline constexpr char kReportCols[] =
    "org_id, md5, sha256, status, report_json, created_at, updated_at";
inline constexpr char kAuditCols[] =
    "id, ts, actor, actor_role, org_id, action, outcome, client_addr, token_fp, detail, "
    "prev_chain, chain, request_id";
inline constexpr char kAuditDataCols[] =
    "ts, actor, actor_role, org_id, action, outcome, client_addr, token_fp, detail, request_id";

inline constexpr char kLeakCols[] = "org_id, policy, reported_at, url, source, action, token_last4";
inline constexpr char kSupportContactCols[] = "name, email, url, phone, updated_at, updated_by";
inline constexpr char kEndpointCols[] =
    "id, org_id, url, events, description, seed, old_seed, old_until, created_at, failing_since";
inline constexpr char kOutboxCols[] =
    "id, endpoint_id, msg_id, event, payload, dedupe_key, created_at, state, attempts, "
    "next_attempt_at, claimed_until, last_status, last_error, last_latency_ms, delivered_at";

inline std::optional<domain::Subscription> ParseSubscription(std::string_view s) {
  using domain::Subscription;
  for (Subscription v : {Subscription::kNone, Subscription::kActive, Subscription::kExpired})
    if (domain::ToString(v) == s) return v;
  return std::nullopt;
}

inline Status BadValue(std::string_view column) {
  return Status::Internal("store: unrecognised value in column " + std::string(column));
}

}  // namespace sandgate::store::layout
