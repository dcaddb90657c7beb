// Internal to the store backends: every Tx method both backends' Tx classes (SqliteTx, PgTx)
// define, declared once (`SANDGATE_STORE_TX_METHODS;` in the class). Contracts: store/store.h.
// (Tx::LiveNodes is declared by each: SQLite's is inline.)
#pragma once

#include "store/store.h"

#define SANDGATE_STORE_TX_METHODS                                                                  \
  Result<OrgRecord> GetOrg(OrgId id) override;                                                     \
  Result<OrgRecord> GetOrgByName(const std::string& name) override;                                \
  Result<OrgId> InsertOrg(const OrgRecord& org) override;                                          \
  Status UpdateOrg(const OrgRecord& org) override;                                                 \
  Result<OrgPage> ListOrgs(const std::string& search, int64_t offset, int64_t limit) override;     \
  Result<OrgRowPage> QueryOrgs(const OrgQuery& q) override;                                        \
  Result<OrgOverviewRecord> OrgOverview(TimeMs now, int64_t day, TimeMs expiring_before, int days, \
                                        int top_n) override;                                       \
  Result<std::optional<TokenRecord>> GetToken(OrgId org) override;                                 \
  Status InsertToken(const TokenRecord& t) override;                                               \
  Status ReplaceToken(const TokenRecord& t) override;                                              \
  Status DeleteToken(OrgId org) override;                                                          \
  Status ForEachToken(const std::function<void(const TokenRecord&, const OrgRecord&)>& fn)         \
      override;                                                                                    \
  Result<UserRecord> GetUser(UserId id) override;                                                  \
  Result<UserRecord> GetUserByName(const std::string& name) override;                              \
  Result<UserId> InsertUser(const UserRecord& u) override;                                         \
  Status UpdateUser(const UserRecord& u) override;                                                 \
  Status DeleteUser(UserId id) override;                                                           \
  Result<std::vector<UserRecord>> ListUsers(std::optional<OrgId> org) override;                    \
  Result<int64_t> CountUsers() override;                                                           \
  Status InsertSession(const SessionRecord& r) override;                                           \
  Result<SessionRecord> GetSession(const std::string& id_hash) override;                           \
  Status TouchSession(const std::string& id_hash, TimeMs last_seen) override;                      \
  Status DeleteSession(const std::string& id_hash) override;                                       \
  Status DeleteSessionsOfUser(UserId user) override;                                               \
  Status DeleteSessionsBefore(TimeMs last_seen_before) override;                                   \
  Result<UsageRecord> GetUsage(OrgId org, int64_t day) override;                                   \
  Status AddUsage(OrgId org, int64_t day, int64_t used_delta, int64_t over_quota_delta,            \
                  std::optional<TimeMs> last_used_at) override;                                    \
  Result<std::optional<TimeMs>> LastUsed(OrgId org) override;                                      \
  Result<std::optional<ReportRecord>> GetReport(OrgId org, const std::string& md5) override;       \
  Status PutReport(const ReportRecord& r) override;                                                \
  Result<int64_t> AppendAudit(const AuditRecord& r) override;                                      \
  Result<std::vector<AuditRecord>> ListAudit(const AuditFilter& f) override;                       \
  Result<std::optional<int64_t>> ConsumeUsage(OrgId org, int64_t day, int64_t limit) override;     \
  Result<RateCheck> ConsumeRate(OrgId org, int64_t per_second, int64_t per_hour, TimeMs now)       \
      override;                                                                                    \
  Result<std::vector<ThrottleCount>> ExchangeThrottle(                                             \
      const std::string& scope, const std::vector<ThrottleCount>& deltas, TimeMs now,              \
      TimeMs window, int max_rows) override;                                                       \
  Result<int64_t> RecordChange(OrgId org) override;                                                \
  Result<int64_t> InsertWebhookEndpoint(const WebhookEndpoint& e) override;                        \
  Result<WebhookEndpoint> GetWebhookEndpoint(int64_t id) override;                                 \
  Result<std::vector<WebhookEndpoint>> ListWebhookEndpoints(std::optional<OrgId> org) override;    \
  Status UpdateWebhookEndpoint(const WebhookEndpoint& e) override;                                 \
  Status DeleteWebhookEndpoint(int64_t id) override;                                               \
  Result<bool> InsertOutbox(const OutboxMessage& m) override;                                      \
  Result<std::vector<OutboxMessage>> ClaimOutbox(TimeMs now, TimeMs claim_until, int limit)        \
      override;                                                                                    \
  Status UpdateOutbox(const OutboxMessage& m) override;                                            \
  Result<std::vector<OutboxMessage>> ListOutbox(int64_t endpoint_id, int limit) override;          \
  Result<bool> OutboxDue(TimeMs now) override;                                                     \
  Result<int64_t> ReleaseOutboxClaims() override;                                                  \
  Result<LeakRecord> GetLeak(OrgId org) override;                                                  \
  Status PutLeak(const LeakRecord& r) override;                                                    \
  Status ForEachLeak(const std::function<Status(const LeakRecord&)>& fn) override;                 \
  Status ForEachOrg(const std::function<Status(const OrgRecord&)>& fn) override;                   \
  Status ForEachOrgEndingBy(TimeMs until, const std::function<Status(const OrgRecord&)>& fn)       \
      override;                                                                                    \
  Status ForEachUser(const std::function<Status(const UserRecord&)>& fn) override;                 \
  Status ForEachSession(const std::function<Status(const SessionRecord&)>& fn) override;           \
  Status ForEachUsage(const std::function<Status(const UsageRecord&)>& fn) override;               \
  Status ForEachReport(const std::function<Status(const ReportRecord&)>& fn) override;             \
  Status ForEachAudit(const std::function<Status(const AuditRecord&)>& fn) override;               \
  Status ForEachWebhookEndpoint(const std::function<Status(const WebhookEndpoint&)>& fn) override; \
  Status ForEachOutbox(const std::function<Status(const OutboxMessage&)>& fn) override;            \
  Status RestoreWebhookEndpoint(const WebhookEndpoint& e) override;                                \
  Status RestoreOutbox(const OutboxMessage& m) override;                                           \
  Result<std::optional<SupportContactRecord>> GetSupportContact() override;                        \
  Status PutSupportContact(const SupportContactRecord& c) override;                                \
  Status DeleteSupportContact() override;                                                          \
  Status RestoreOrg(const OrgRecord& org) override;                                                \
  Status RestoreUser(const UserRecord& u) override;                                                \
  Status RestoreAudit(const AuditRecord& r) override;                                              \
  Status RestoreUsage(const UsageRecord& u) override
