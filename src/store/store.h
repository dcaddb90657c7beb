// The store: one interface, implemented by SQLite (store/sqlite_store) and later PostgreSQL, both
// held to the shared suite in store/store_test_suite. No SQL exists outside the implementations.
//
// Contract:
// - Write(fn) runs fn in one read-write transaction. Writes are serialised against each other: fn
//   sees the latest committed state and nothing changes under it. The transaction commits when fn
//   returns OK and is rolled back otherwise; if the commit fails, the result is 503
//   STORE_UNAVAILABLE and nothing was changed. Durable once Write returns OK.
// - Read(fn) runs fn on a consistent snapshot; fn must not call mutating methods (they fail).
// - A Tx is only valid inside the callback and only on the calling thread.
// - Store implementations are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "domain/model.h"

namespace sandgate::store {

using domain::OrgId;
using UserId = int64_t;

struct OrgRecord {
  OrgId id = 0;  // assigned by InsertOrg
  std::string name;
  TimeMs created_at = 0;
  domain::Subscription subscription = domain::Subscription::kNone;
  std::optional<TimeMs> ends_at;
  bool provider_disabled = false;
  domain::DisableReason disable_reason = domain::DisableReason::kOther;
  std::string disable_note;
  std::optional<TimeMs> disabled_at;
  std::string disabled_by;
  // Submission API settings (defaults from the Zscaler service).
  int64_t daily_allowance = 100;
  int64_t rate_per_second = 1;
  int64_t rate_per_hour = 400;
  int64_t disable_threshold = 100;
};

// The stored form of an organization's single token. The token text itself is never stored.
struct TokenRecord {
  OrgId org_id = 0;
  std::string lookup_hash;  // keyed hash of the token text (binary, 32 bytes); unique
  std::string sealed;       // AEAD-sealed token text (binary)
  std::string key_id;       // which key sealed it
  std::string last4;        // fingerprint shown in audit and the masked view
  TimeMs created_at = 0;
  std::string last_modified_by;
  TimeMs last_modified_on = 0;
};

struct UserRecord {
  UserId id = 0;  // assigned by InsertUser
  std::string username;
  std::string password_hash;  // argon2id string (libsodium crypto_pwhash_str)
  domain::Role role = domain::Role::kOrgReadonly;
  std::optional<OrgId> org_id;  // none for provider admins
  TimeMs created_at = 0;
};

struct SessionRecord {
  std::string id_hash;  // hash of the session id (binary); the id itself is never stored
  UserId user_id = 0;
  TimeMs created_at = 0;
  TimeMs last_seen_at = 0;
};

struct AuditRecord {
  int64_t id = 0;  // assigned by AppendAudit, increasing
  TimeMs ts = 0;
  std::string actor;       // username, "system" or "cli"
  std::string actor_role;  // PROVIDER_ADMIN, ORG_ADMIN, ORG_READONLY, SYSTEM, or "" if unknown
  std::optional<OrgId> org_id;
  std::string action;   // e.g. TOKEN_REGENERATE, LOGIN
  std::string outcome;  // "ALLOWED" or the refusal code (e.g. TOKEN_DISABLED)
  std::string client_addr;
  std::string token_fp;  // last 4 characters of the token involved, or ""
  std::string detail;    // free text without secrets
  // X-Request-Id of the HTTP request that caused it, or "".
  std::string request_id;
  // The tamper-evident chain (store/audit_chain.h), set by AppendAudit (32 bytes each; empty on
  // records written before the chain existed). RestoreAudit copies them as given.
  std::string prev_chain;
  std::string chain;
};

// An organization's Submission API usage on one UTC day.
struct UsageRecord {
  OrgId org_id = 0;
  int64_t day = 0;         // days since the epoch (UTC)
  int64_t used = 0;        // accepted submissions
  int64_t over_quota = 0;  // attempts refused for quota or rate
  std::optional<TimeMs> last_used_at;
};

// The provider's support contact as saved in the console (Tx::GetSupportContact). Each part may be
// "" (not shown); validated by the service (domain/support_contact.h), not here.
struct SupportContactRecord {
  std::string name, email, url, phone;
  TimeMs updated_at = 0;
  std::string updated_by;  // the provider admin who saved it
};

// The analysis of one file submitted by one organization (an organization sees only its own).
struct ReportRecord {
  OrgId org_id = 0;
  std::string md5;          // upper-case hex, the lookup key together with org_id
  std::string sha256;       // lower-case hex
  std::string status;       // COMPLETED, INPROGRESS, NODYNAMIC
  std::string report_json;  // the full report document (the API renders summary/full from it)
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

struct AuditFilter {
  std::optional<OrgId> org_id;
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<TimeMs> from;        // inclusive
  std::optional<TimeMs> to;          // exclusive
  std::optional<int64_t> before_id;  // paging: records with id < before_id
  int limit = 100;
};

struct OrgPage {
  std::vector<OrgRecord> items;
  int64_t total = 0;  // matching the search, ignoring offset/limit
};

// The provider console's organization list (Tx::QueryOrgs): one filter, one sort, a page.
enum class OrgFilter {
  kAll,
  kEnabled,           // the token (if any) would be accepted: active subscription, not disabled
  kDisabled,          // anything else: no or expired subscription, or disabled by the provider
  kProviderDisabled,  // disabled by the provider (optionally of one reason)
  kExpired,           // subscription expired (by state or end date)
  kNoSubscription,
  kExpiring,       // active, ending after `now` and at or before `expiring_before`
  kOver80,         // accepted submissions today at 80% or more of the daily allowance
  kNearThreshold,  // not disabled, over-quota attempts today at 80% or more of the threshold
  kNoToken,
};
enum class OrgSort { kName, kId, kUsage, kEndsAt };

struct OrgQuery {
  std::string search;  // case-insensitive substring of the name; "" for all
  OrgFilter filter = OrgFilter::kAll;
  std::optional<domain::DisableReason> reason;  // with kProviderDisabled
  OrgSort sort = OrgSort::kName;
  bool descending = false;  // ties are broken by id, ascending
  TimeMs now = 0;
  int64_t day = 0;  // the UTC day whose usage is shown and filtered on
  TimeMs expiring_before = 0;
  int64_t offset = 0;
  int64_t limit = 25;
};

struct OrgRow {
  OrgRecord org;
  bool has_token = false;
  int64_t used_today = 0;        // accepted submissions on `day`
  int64_t over_quota_today = 0;  // over-quota attempts on `day`
};

struct OrgRowPage {
  std::vector<OrgRow> items;
  int64_t total = 0;  // matching the search and filter, ignoring offset/limit
};

// The provider console's overview (Tx::OrgOverview): counts at `now`, usage on `day`.
struct OrgOverviewRecord {
  int64_t orgs = 0;
  int64_t enabled = 0;  // active subscription, not disabled by the provider
  int64_t no_subscription = 0;
  int64_t expired = 0;
  int64_t disabled_quota_threshold = 0;  // disabled by the provider, by reason
  int64_t disabled_terms_violation = 0;
  int64_t disabled_other = 0;
  int64_t no_token = 0;
  int64_t expiring = 0;  // active, ending within (now, expiring_before]
  int64_t over80 = 0;    // OrgFilter::kOver80 on `day`
  int64_t near_threshold = 0;
  struct Day {
    int64_t day = 0;
    int64_t used = 0;
    int64_t over_quota = 0;
  };
  std::vector<Day> days;    // the last `days` days up to `day`, oldest first, zeros included
  std::vector<OrgRow> top;  // by accepted submissions on `day`, most first (used > 0 only)
};

// Tx::ConsumeRate's answer.
struct RateCheck {
  bool admitted = false;
  bool hour = false;     // refused by the per-hour window (otherwise by the per-second one)
  int64_t reset_ms = 0;  // when refused: until the refusing window ends
};

// Tx::ConsumeAdmission's answer.
struct AdmissionCount {
  std::optional<int64_t> used;  // the day's count with this one; nullopt: the allowance was full
  RateCheck rate;               // when counted: admitted, or refused (and the count given back)
};

// One key's count in a shared throttle (Tx::ExchangeThrottle).
struct ThrottleCount {
  std::string key;
  int64_t count = 0;
  TimeMs last = 0;  // the latest attempt counted
};

// A webhook endpoint (src/notify/): an organization's, or provider-wide when org_id is empty.
// The signing secret is never stored: it is derived from the key file's lookup key and `seed`
// (notify::SecretFor), so the database alone reveals nothing. During a rotation's overlap the
// previous seed signs too, until old_until.
struct WebhookEndpoint {
  int64_t id = 0;  // assigned by InsertWebhookEndpoint
  std::optional<OrgId> org_id;
  std::string url;
  std::string events;  // comma-separated event types
  std::string description;
  std::string seed;      // 32 random bytes (binary)
  std::string old_seed;  // "" when none
  std::optional<TimeMs> old_until;
  TimeMs created_at = 0;
  std::optional<TimeMs> failing_since;  // deliveries gave up after 24 h of retries
};

// One event for one endpoint, in the durable outbox (written in the transaction of its change).
struct OutboxMessage {
  int64_t id = 0;  // assigned by InsertOutbox; delivery order per endpoint
  int64_t endpoint_id = 0;
  std::string msg_id;      // webhook-id: the same on every attempt
  std::string event;       // e.g. token.disabled
  std::string payload;     // the JSON body
  std::string dedupe_key;  // "" or a key unique per endpoint (scheduled events fire once)
  TimeMs created_at = 0;
  std::string state = "pending";  // pending, delivered, failed
  int64_t attempts = 0;
  TimeMs next_attempt_at = 0;
  TimeMs claimed_until = 0;  // a node is delivering it until then
  int64_t last_status = 0;   // HTTP status of the last attempt, 0 when none answered
  std::string last_error;
  int64_t last_latency_ms = 0;
  std::optional<TimeMs> delivered_at;
};

// An organization's leak policy and the last report of its token found in public (issue 20,
// secret scanning). A missing row reads as the default: policy REVOKE, no report.
struct LeakRecord {
  OrgId org_id = 0;
  domain::LeakPolicy policy = domain::LeakPolicy::kRevoke;
  // The last report of a live token of the organization; cleared when a new token is added.
  std::optional<TimeMs> reported_at;
  std::string url;          // where it was found, as reported (shown as text, never a secret)
  std::string source;       // the scanner's word for where (e.g. "commit", "github")
  std::string action;       // what was done: REVOKED or NOTIFIED
  std::string token_last4;  // the reported token's fingerprint
};

// Operations inside one transaction. Errors: NotFound for a missing row, Conflict for a unique
// constraint (codes given per method), Unavailable for an I/O failure.
class Tx {
 public:
  virtual ~Tx() = default;

  virtual Result<OrgRecord> GetOrg(OrgId id) = 0;                       // 404 NOT_FOUND
  virtual Result<OrgRecord> GetOrgByName(const std::string& name) = 0;  // 404 NOT_FOUND
  virtual Result<OrgId> InsertOrg(const OrgRecord& org) = 0;  // 409 ORG_EXISTS (name is unique)
  virtual Status UpdateOrg(const OrgRecord& org) = 0;         // 404 NOT_FOUND; 409 ORG_EXISTS
  // Case-insensitive substring search on the name, ordered by id.
  virtual Result<OrgPage> ListOrgs(const std::string& search, int64_t offset, int64_t limit) = 0;
  // Organizations whose subscription is active and ends at or before `until`, in id order (the
  // webhook scheduler's expiring/expired events). A filtered scan: rows outside it are never
  // decoded, so a pass over 1,000,000 organizations costs tens of milliseconds, not a second.
  virtual Status ForEachOrgEndingBy(TimeMs until,
                                    const std::function<Status(const OrgRecord&)>& fn) = 0;
  // The provider console's list: OrgQuery's filter and sort, with today's usage.
  virtual Result<OrgRowPage> QueryOrgs(const OrgQuery& q) = 0;
  // The provider console's overview; `days` days of totals, the `top_n` busiest organizations.
  virtual Result<OrgOverviewRecord> OrgOverview(TimeMs now, int64_t day, TimeMs expiring_before,
                                                int days, int top_n) = 0;

  virtual Result<std::optional<TokenRecord>> GetToken(OrgId org) = 0;
  virtual Status InsertToken(const TokenRecord& t) = 0;   // 409 TOKEN_EXISTS: org already has one
  virtual Status ReplaceToken(const TokenRecord& t) = 0;  // 404 TOKEN_NOT_FOUND
  virtual Status DeleteToken(OrgId org) = 0;              // 404 TOKEN_NOT_FOUND
  // Every token with its organization, in org id order (loads the verification index).
  virtual Status ForEachToken(
      const std::function<void(const TokenRecord&, const OrgRecord&)>& fn) = 0;

  virtual Result<UserRecord> GetUser(UserId id) = 0;                      // 404 NOT_FOUND
  virtual Result<UserRecord> GetUserByName(const std::string& name) = 0;  // 404 NOT_FOUND
  virtual Result<UserId> InsertUser(const UserRecord& u) = 0;             // 409 USER_EXISTS
  virtual Status UpdateUser(const UserRecord& u) = 0;                     // 404 NOT_FOUND
  virtual Status DeleteUser(UserId id) = 0;  // 404 NOT_FOUND; also deletes the user's sessions
  // Users of one organization, or provider admins when org is nullopt; ordered by id.
  virtual Result<std::vector<UserRecord>> ListUsers(std::optional<OrgId> org) = 0;
  virtual Result<int64_t> CountUsers() = 0;

  virtual Status InsertSession(const SessionRecord& s) = 0;
  virtual Result<SessionRecord> GetSession(const std::string& id_hash) = 0;  // 404 NOT_FOUND
  virtual Status TouchSession(const std::string& id_hash, TimeMs last_seen) = 0;
  virtual Status DeleteSession(const std::string& id_hash) = 0;  // no error if absent
  virtual Status DeleteSessionsOfUser(UserId user) = 0;
  virtual Status DeleteSessionsBefore(TimeMs last_seen_before) = 0;  // housekeeping

  // Usage: a missing row reads as zeros. AddUsage creates the row when needed and adds the deltas;
  // last_used_at, when given, replaces the stored one.
  virtual Result<UsageRecord> GetUsage(OrgId org, int64_t day) = 0;
  virtual Status AddUsage(OrgId org, int64_t day, int64_t used_delta, int64_t over_quota_delta,
                          std::optional<TimeMs> last_used_at) = 0;
  // The most recent last_used_at over all days, if any.
  virtual Result<std::optional<TimeMs>> LastUsed(OrgId org) = 0;

  // Reports: keyed by (org_id, md5); PutReport inserts or replaces.
  virtual Result<std::optional<ReportRecord>> GetReport(OrgId org, const std::string& md5) = 0;
  virtual Status PutReport(const ReportRecord& r) = 0;
  // A submission's report and its usage: PutReport(r), then AddUsage(r.org_id, day, used_delta, 0,
  // last_used_at). By default those two calls; PostgreSQL in one statement (issue 19, target 6).
  virtual Status PutReportWithUsage(const ReportRecord& r, int64_t day, int64_t used_delta,
                                    std::optional<TimeMs> last_used_at) {
    if (Status st = PutReport(r); !st.ok()) return st;
    return AddUsage(r.org_id, day, used_delta, 0, last_used_at);
  }

  virtual Result<int64_t> AppendAudit(const AuditRecord& r) = 0;
  // Newest first.
  virtual Result<std::vector<AuditRecord>> ListAudit(const AuditFilter& f) = 0;

  // Counts one submission at admission, atomically: when the day's `used` is below `limit` it is
  // incremented and the new value returned; otherwise nothing changes and nullopt is returned.
  // (Used where several nodes share the quota; single-node admission is counted in memory.)
  virtual Result<std::optional<int64_t>> ConsumeUsage(OrgId org, int64_t day, int64_t limit) = 0;

  // --- Cluster-wide limits (quota/cluster_limits.h, auth/shared_throttle.h; docs/CLUSTER.md) ---
  // Counts one admission against the organization's per-second and per-hour windows, atomically
  // and only if both have room. PostgreSQL uses the database's clock, so every node counts in the
  // same windows; SQLite (one node) uses `now`. A refusal changes nothing.
  virtual Result<RateCheck> ConsumeRate(OrgId org, int64_t per_second, int64_t per_hour,
                                        TimeMs now) = 0;
  // A cluster-wide admission: ConsumeUsage, then (when it counted) ConsumeRate, and when the rate
  // refused, the count given back (AddUsage -1), so a refused request consumes nothing. By default
  // those calls; PostgreSQL counts both in one statement that changes nothing on a refusal (issue
  // 19, target 6).
  virtual Result<AdmissionCount> ConsumeAdmission(OrgId org, int64_t day, int64_t limit,
                                                  int64_t per_second, int64_t per_hour,
                                                  TimeMs now) {
    AdmissionCount out;
    auto used = ConsumeUsage(org, day, limit);
    if (!used.ok()) return used.status();
    if (!used->has_value()) return out;
    out.used = *used;
    auto rate = ConsumeRate(org, per_second, per_hour, now);
    if (!rate.ok()) return rate.status();
    out.rate = *rate;
    if (!rate->admitted) {
      if (Status st = AddUsage(org, day, -1, 0, std::nullopt); !st.ok()) return st;
    }
    return out;
  }
  // --- Pipelined calls (issue 19, target 6; GroupCommitter's StagedWrite) ---
  // Send* starts a call and returns its ticket; Take*(ticket) gives the call's answer, exactly as
  // the plain call would have. Between the two, further calls may be sent: PostgreSQL sends them
  // all and reads their answers in one round trip, at the first Take (or plain call) after them.
  // The calls take effect in the order they were sent. A failed sent call poisons the Tx (every
  // later call and Take answers its error), as a failed statement does. A ticket is good in the
  // Tx that issued it, once. By default Send* makes the plain call at once and keeps its answer.
  using Ticket = size_t;
  virtual Ticket SendAdmission(OrgId org, int64_t day, int64_t limit, int64_t per_second,
                               int64_t per_hour, TimeMs now) {
    sent_admissions_.push_back(ConsumeAdmission(org, day, limit, per_second, per_hour, now));
    return sent_admissions_.size() - 1;
  }
  virtual Result<AdmissionCount> TakeAdmission(Ticket t) { return sent_admissions_.at(t); }
  virtual Ticket SendReportWithUsage(const ReportRecord& r, int64_t day, int64_t used_delta,
                                     std::optional<TimeMs> last_used_at) {
    sent_statuses_.push_back(PutReportWithUsage(r, day, used_delta, last_used_at));
    return sent_statuses_.size() - 1;
  }
  virtual Status TakeReportWithUsage(Ticket t) { return sent_statuses_.at(t); }
  virtual Ticket SendReport(const ReportRecord& r) {
    sent_statuses_.push_back(PutReport(r));
    return sent_statuses_.size() - 1;
  }
  virtual Status TakeReport(Ticket t) { return sent_statuses_.at(t); }

  // Adds each delta (a count, which may be negative, and the time of its latest attempt, per key)
  // to the shared throttle counts of `scope`, never below 0; a row whose latest attempt is
  // `window` or more before `now` starts again from the delta, and such rows are removed. Returns
  // the scope's live rows, largest counts first, at most `max_rows`.
  virtual Result<std::vector<ThrottleCount>> ExchangeThrottle(
      const std::string& scope, const std::vector<ThrottleCount>& deltas, TimeMs now, TimeMs window,
      int max_rows) = 0;
  // How many nodes hold a live lease (PostgreSQL); 1 where there are no leases (SQLite).
  virtual Result<int64_t> LiveNodes() = 0;

  // Records that the organization's token or state changed, so other processes refresh it (see
  // Store::AwaitPropagation and Store::CatchUp). Returns the change's sequence number, increasing
  // in commit order.
  virtual Result<int64_t> RecordChange(OrgId org) = 0;

  // --- Webhooks (src/notify/). ---
  virtual Result<int64_t> InsertWebhookEndpoint(const WebhookEndpoint& e) = 0;
  virtual Result<WebhookEndpoint> GetWebhookEndpoint(int64_t id) = 0;  // 404 NOT_FOUND
  // The endpoints of one organization, or the provider-wide ones when org is nullopt; by id.
  virtual Result<std::vector<WebhookEndpoint>> ListWebhookEndpoints(std::optional<OrgId> org) = 0;
  virtual Status UpdateWebhookEndpoint(const WebhookEndpoint& e) = 0;  // 404 NOT_FOUND
  // Also removes its outbox messages. 404 NOT_FOUND.
  virtual Status DeleteWebhookEndpoint(int64_t id) = 0;
  // False (and nothing written) when the endpoint already has a message with this dedupe_key.
  virtual Result<bool> InsertOutbox(const OutboxMessage& m) = 0;
  // Claims up to `limit` messages to deliver: the oldest pending message of each endpoint, when
  // it is due (next_attempt_at <= now) and not claimed (claimed_until <= now); sets their
  // claimed_until to `claim_until`. Oldest first. PostgreSQL: FOR UPDATE SKIP LOCKED.
  virtual Result<std::vector<OutboxMessage>> ClaimOutbox(TimeMs now, TimeMs claim_until,
                                                         int limit) = 0;
  // Writes a message's delivery state (state, attempts, next_attempt_at, claimed_until, last_*,
  // delivered_at). 404 NOT_FOUND when it is gone (its endpoint was deleted).
  virtual Status UpdateOutbox(const OutboxMessage& m) = 0;
  // An endpoint's messages, newest first.
  virtual Result<std::vector<OutboxMessage>> ListOutbox(int64_t endpoint_id, int limit) = 0;
  // Whether ClaimOutbox(now, ...) would claim something (a read before the write): false while
  // every endpoint's oldest pending message waits for its retry or is being delivered, so an
  // endpoint that is down costs no writes between its retries.
  virtual Result<bool> OutboxDue(TimeMs now) = 0;
  // Releases every claim (a single node starting: no delivery is in flight). Returns how many.
  virtual Result<int64_t> ReleaseOutboxClaims() = 0;

  // --- Leaked-token reports (issue 20). ---
  // The organization's row, or the default (REVOKE, no report) when it has none.
  virtual Result<LeakRecord> GetLeak(OrgId org) = 0;
  // Inserts or replaces the organization's row. 404 NOT_FOUND when the organization is gone.
  virtual Status PutLeak(const LeakRecord& r) = 0;

  // --- Provider settings. ---
  // The support contact saved in the console; none until one is saved (the config file's
  // support_* keys apply then). Put inserts or replaces it; Delete removes it (no error if none).
  // `sandgate store copy` carries it with Get and Put.
  virtual Result<std::optional<SupportContactRecord>> GetSupportContact() = 0;
  virtual Status PutSupportContact(const SupportContactRecord& c) = 0;
  virtual Status DeleteSupportContact() = 0;

  // --- Export and restore (`sandgate store copy`), every row in id/key order. ---
  virtual Status ForEachOrg(const std::function<Status(const OrgRecord&)>& fn) = 0;
  virtual Status ForEachUser(const std::function<Status(const UserRecord&)>& fn) = 0;
  virtual Status ForEachSession(const std::function<Status(const SessionRecord&)>& fn) = 0;
  // Usage newest first (organization, then day, descending): restoring in this order (RestoreUsage)
  // writes each organization's latest-day columns once, not once per day (14 row versions per
  // organization bloated PostgreSQL's orgs table 15-fold after a `store copy`).
  virtual Status ForEachUsage(const std::function<Status(const UsageRecord&)>& fn) = 0;
  virtual Status ForEachReport(const std::function<Status(const ReportRecord&)>& fn) = 0;
  virtual Status ForEachAudit(const std::function<Status(const AuditRecord&)>& fn) = 0;
  virtual Status ForEachLeak(const std::function<Status(const LeakRecord&)>& fn) = 0;  // by org
  virtual Status ForEachWebhookEndpoint(
      const std::function<Status(const WebhookEndpoint&)>& fn) = 0;
  virtual Status ForEachOutbox(const std::function<Status(const OutboxMessage&)>& fn) = 0;
  // Inserts a row keeping its id (later Insert* calls assign ids above it). 409 on duplicates.
  virtual Status RestoreOrg(const OrgRecord& org) = 0;
  virtual Status RestoreUser(const UserRecord& u) = 0;
  virtual Status RestoreAudit(const AuditRecord& r) = 0;
  virtual Status RestoreUsage(const UsageRecord& u) = 0;
  // Webhooks keep their ids too (an outbox message names its endpoint); a message keeps every
  // column (state, attempts, dedupe key) but its claim (claimed_until 0: nobody delivers it yet).
  virtual Status RestoreWebhookEndpoint(const WebhookEndpoint& e) = 0;
  virtual Status RestoreOutbox(const OutboxMessage& m) = 0;

 private:
  std::vector<Result<AdmissionCount>> sent_admissions_;  // the default Send*'s answers, by ticket
  std::vector<Status> sent_statuses_;
};

// What a following node is told (Store::Follow). Called on the follower's own thread.
struct FollowHooks {
  // Refresh these organizations (their state and token) in the index from the store.
  std::function<Status(const std::vector<OrgId>&)> apply;
  // Reload the whole index (the change log no longer reaches back to what was applied).
  std::function<Status()> reload;
  // Optional (PostgreSQL's follower): called on the follower thread, with the last applied
  // sequence number, each time a round applied nothing and the follower, with no notification
  // pending, starts to wait for one. Lets tests know the follower is idle; must not block.
  std::function<void(int64_t applied)> idle;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual Status Write(const std::function<Status(Tx&)>& fn) = 0;
  virtual Status Read(const std::function<Status(Tx&)>& fn) = 0;
  // OK when the store answers (used by /readyz).
  virtual Status Ping() = 0;
  // For read caches: a stamp that has grown once any Write on this data has returned, whichever
  // process made it (this one, the CLI), so what was read after the stamp was taken is current
  // for as long as the stamp stays the same. Reads leave it; it never shrinks. nullopt when the
  // backend cannot tell cheaply (PostgreSQL: other nodes): then nothing may be cached.
  // Thread-safe.
  virtual std::optional<uint64_t> ChangeStamp() { return std::nullopt; }
  // ChangeStamp's contract for every write except those that change only usage (Tx::AddUsage,
  // Tx::ConsumeUsage: the counts and last use), which may leave it: for caches of data no usage
  // write touches (an organization's limits, sessions), so that submissions do not empty them
  // (issue 19, target 6). By default ChangeStamp itself. Thread-safe.
  virtual std::optional<uint64_t> ChangeStampIgnoringUsage() { return ChangeStamp(); }

  // --- Several nodes on one database (docs/CLUSTER.md). Defaults describe a single node. ---
  // True when other processes may change the data while this one serves (PostgreSQL).
  virtual bool Shared() const { return false; }
  // The sequence number of the newest recorded change (read before loading an index).
  virtual Result<int64_t> ChangeHorizon() { return int64_t{0}; }
  // Follows the changes made by other processes from `from_seq` on, as node `node_id`: a
  // background thread applies them through `hooks` and renews the node's lease. Until stopped
  // (by destroying the store) the node's acknowledgements are what AwaitPropagation waits for.
  virtual Status Follow(const std::string& node_id, int64_t from_seq, FollowHooks hooks) {
    (void)node_id, (void)from_seq, (void)hooks;
    return Status::Ok();
  }
  // Applies now, through the Follow hooks, the changes other processes committed before this
  // call, where no follower thread does it (SQLite: the CLI beside a running server; a no-op when
  // nothing was committed since the last call, or when not following). An error means the index
  // may have missed a change: token verification must refuse (503) rather than guess.
  virtual Status CatchUp() { return Status::Ok(); }
  // Whether this node's index may be trusted now: its lease is live and every change it was
  // told of is applied. When false, token verification must refuse (503) rather than guess.
  virtual bool IndexTrusted() const { return true; }
  // Returns once every node holding a live lease (other than `self_node`) has applied change
  // `seq`, or its lease has run out (after which it refuses to verify until it has caught up).
  virtual Status AwaitPropagation(int64_t seq, const std::string& self_node) {
    (void)seq, (void)self_node;
    return Status::Ok();
  }
  // Removes the change-log entries that every node following it has applied (PostgreSQL: every
  // node with a live lease; SQLite: this process's catch-up) and raises the log's floor, so a
  // follower that had not applied them reloads its whole index instead (FollowHooks::reload).
  // Returns how many entries were removed. The followers call it by themselves now and then.
  virtual Result<int64_t> PruneChangeLog() { return int64_t{0}; }
  // What this store is, without secrets (e.g. "sqlite:/path" or "postgres://host:5432/db").
  virtual std::string Describe() const = 0;
  // The key of the audit chain (store/audit_chain.h); unkeyed until set. Set once, before use.
  void SetAuditKey(std::string key) { audit_key_ = std::move(key); }
  const std::string& audit_key() const { return audit_key_; }

 private:
  std::string audit_key_;
};

// Opens (creating if needed) the SQLite database at `path` and applies pending migrations.
// Refuses a schema newer than this build knows.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

// Copies every row of `from` into `to`, which must be empty (409 STORE_NOT_EMPTY otherwise), in
// one write transaction on `to`: on failure `to` is left unchanged. Not copied: the cluster's
// change log and node leases. `progress` (may be null) is told each table's row count.
Status CopyStore(Store& from, Store& to,
                 const std::function<void(const std::string& table, int64_t rows)>& progress);

}  // namespace sandgate::store
