// The shared Store contract tests (see store_test_suite.h). Tests only: each backend instantiates
// StoreSuite in its own test file.
#include "store/store_test_suite.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "store/audit_chain.h"

namespace sandgate::store {
namespace {

using domain::DisableReason;
using domain::Role;
using domain::Subscription;

const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}
#define ASSERT_OK(expr)                                              \
  do {                                                               \
    auto&& sg_r_ = (expr);                                           \
    ASSERT_TRUE(StatusOf(sg_r_).ok()) << StatusOf(sg_r_).ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                              \
  do {                                                               \
    auto&& sg_r_ = (expr);                                           \
    EXPECT_TRUE(StatusOf(sg_r_).ok()) << StatusOf(sg_r_).ToString(); \
  } while (0)
#define EXPECT_STATUS(expr, http, status_code)                                    \
  do {                                                                            \
    auto&& sg_r_ = (expr);                                                        \
    EXPECT_EQ(StatusOf(sg_r_).http_status(), http) << StatusOf(sg_r_).ToString(); \
    EXPECT_EQ(StatusOf(sg_r_).code(), status_code) << StatusOf(sg_r_).ToString(); \
  } while (0)

// Runs f (returning Status or Result<T>) in one Write and returns f's result, or the Write's
// status when the transaction itself failed.
template <typename F>
auto InWrite(Store& store, F f) {
  using R = std::invoke_result_t<F&, Tx&>;
  std::optional<R> out;
  Status st = store.Write([&](Tx& tx) -> Status {
    out.emplace(f(tx));
    return StatusOf(*out);
  });
  if (!out || (!st.ok() && StatusOf(*out).ok())) return R(st);
  return R(std::move(*out));
}

// As InWrite, in one Read.
template <typename F>
auto InRead(Store& store, F f) {
  using R = std::invoke_result_t<F&, Tx&>;
  std::optional<R> out;
  Status st = store.Read([&](Tx& tx) -> Status {
    out.emplace(f(tx));
    return StatusOf(*out);
  });
  if (!out || (!st.ok() && StatusOf(*out).ok())) return R(st);
  return R(std::move(*out));
}

constexpr TimeMs kT0 = 1'790'000'000'000;  // 2026-09-21

OrgRecord MakeOrg(const std::string& name) {
  OrgRecord o;
  o.name = name;
  o.created_at = kT0;
  return o;
}

// Every field set away from its default.
OrgRecord MakeFullOrg(const std::string& name) {
  OrgRecord o;
  o.name = name;
  o.created_at = kT0 + 1;
  o.subscription = Subscription::kActive;
  o.ends_at = kT0 + 86'400'000;
  o.provider_disabled = true;
  o.disable_reason = DisableReason::kTermsViolation;
  o.disable_note = "note with 'quotes' and \"double\" and unicode \xc3\xa9";
  o.disabled_at = kT0 + 2;
  o.disabled_by = "alice";
  o.daily_allowance = 7;
  o.rate_per_second = 3;
  o.rate_per_hour = 90;
  o.disable_threshold = 55;
  return o;
}

auto Fields(const OrgRecord& o) {
  return std::make_tuple(o.id, o.name, o.created_at, o.subscription, o.ends_at, o.provider_disabled,
                         o.disable_reason, o.disable_note, o.disabled_at, o.disabled_by,
                         o.daily_allowance, o.rate_per_second, o.rate_per_hour,
                         o.disable_threshold);
}
auto Fields(const TokenRecord& t) {
  return std::make_tuple(t.org_id, t.lookup_hash, t.sealed, t.key_id, t.last4, t.created_at,
                         t.last_modified_by, t.last_modified_on);
}
auto Fields(const UserRecord& u) {
  return std::make_tuple(u.id, u.username, u.password_hash, u.role, u.org_id, u.created_at);
}
auto Fields(const SessionRecord& s) {
  return std::make_tuple(s.id_hash, s.user_id, s.created_at, s.last_seen_at);
}
auto Fields(const UsageRecord& u) {
  return std::make_tuple(u.org_id, u.day, u.used, u.over_quota, u.last_used_at);
}
auto Fields(const ReportRecord& r) {
  return std::make_tuple(r.org_id, r.md5, r.sha256, r.status, r.report_json, r.created_at,
                         r.updated_at);
}
auto Fields(const AuditRecord& r) {
  return std::make_tuple(r.id, r.ts, r.actor, r.actor_role, r.org_id, r.action, r.outcome,
                         r.client_addr, r.token_fp, r.detail);
}
auto Fields(const LeakRecord& r) {
  return std::make_tuple(r.org_id, r.policy, r.reported_at, r.url, r.source, r.action,
                         r.token_last4);
}
auto Fields(const WebhookEndpoint& e) {
  return std::make_tuple(e.id, e.org_id, e.url, e.events, e.description, e.seed, e.old_seed,
                         e.old_until, e.created_at, e.failing_since);
}
auto Fields(const OutboxMessage& m) {
  return std::make_tuple(m.id, m.endpoint_id, m.msg_id, m.event, m.payload, m.dedupe_key,
                         m.created_at, m.state, m.attempts, m.next_attempt_at, m.claimed_until,
                         m.last_status, m.last_error, m.last_latency_ms, m.delivered_at);
}

// A 32-byte binary value unique per `n`, including NUL and high bytes.
std::string Hash(int n) {
  std::string h(32, '\0');
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<char>((n * 31 + i * 7) & 0xff);
  h[0] = '\0';
  h[1] = static_cast<char>(0xff);
  h[2] = static_cast<char>(n & 0xff);
  h[3] = static_cast<char>((n >> 8) & 0xff);
  return h;
}

TokenRecord MakeToken(OrgId org, int n) {
  TokenRecord t;
  t.org_id = org;
  t.lookup_hash = Hash(n);
  t.sealed = std::string("\x00sealed\xfe", 8) + std::to_string(n);
  t.key_id = "k" + std::to_string(n % 3);
  t.last4 = "ab" + std::to_string(10 + n % 90);
  t.created_at = kT0 + n;
  t.last_modified_by = "admin" + std::to_string(n);
  t.last_modified_on = kT0 + 2 * n;
  return t;
}

UserRecord MakeUser(const std::string& name, Role role, std::optional<OrgId> org) {
  UserRecord u;
  u.username = name;
  u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$" + name;
  u.role = role;
  u.org_id = org;
  u.created_at = kT0 + 5;
  return u;
}

SessionRecord MakeSession(int n, UserId user, TimeMs last_seen) {
  SessionRecord s;
  s.id_hash = Hash(1000 + n);
  s.user_id = user;
  s.created_at = kT0;
  s.last_seen_at = last_seen;
  return s;
}

AuditRecord MakeAudit(TimeMs ts, std::string actor, std::optional<OrgId> org, std::string action) {
  AuditRecord r;
  r.ts = ts;
  r.actor = std::move(actor);
  r.actor_role = "ORG_ADMIN";
  r.org_id = org;
  r.action = std::move(action);
  r.outcome = "ALLOWED";
  r.client_addr = "192.0.2.1";
  r.token_fp = "wxyz";
  r.detail = "detail";
  return r;
}

ReportRecord MakeReport(OrgId org, const std::string& md5, int n) {
  ReportRecord r;
  r.org_id = org;
  r.md5 = md5;
  r.sha256 = std::string(64, static_cast<char>('a' + n % 6));
  r.status = n % 2 ? "COMPLETED" : "INPROGRESS";
  r.report_json = "{\"Summary\":{\"Status\":\"" + r.status + "\",\"n\":" + std::to_string(n) +
                  ",\"note\":\"unicode \xc3\xa9 and 'quotes'\"}}";
  r.created_at = kT0 + n;
  r.updated_at = kT0 + 2 * n;
  return r;
}

constexpr int64_t kDay = 20'717;  // kT0's UTC day

std::vector<OrgId> Ids(const std::vector<OrgRecord>& orgs) {
  std::vector<OrgId> ids;
  for (const auto& o : orgs) ids.push_back(o.id);
  return ids;
}
std::vector<int64_t> Ids(const std::vector<AuditRecord>& records) {
  std::vector<int64_t> ids;
  for (const auto& r : records) ids.push_back(r.id);
  return ids;
}
std::vector<UserId> Ids(const std::vector<UserRecord>& users) {
  std::vector<UserId> ids;
  for (const auto& u : users) ids.push_back(u.id);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Organizations

TEST_P(StoreSuite, InsertOrgAssignsIncreasingIdsAndRoundTripsEveryField) {
  OrgRecord full = MakeFullOrg("Acme Research");
  auto a = InWrite(store(), [&](Tx& tx) { return tx.InsertOrg(full); });
  auto b = InWrite(store(), [&](Tx& tx) { return tx.InsertOrg(MakeOrg("Beta")); });
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_GT(*a, 0);
  EXPECT_GT(*b, *a);

  full.id = *a;
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetOrg(*a); });
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(full));

  // Defaults (no optional times, default enums) round-trip too.
  OrgRecord beta = MakeOrg("Beta");
  beta.id = *b;
  auto got_b = InRead(store(), [&](Tx& tx) { return tx.GetOrgByName("Beta"); });
  ASSERT_OK(got_b);
  EXPECT_EQ(Fields(*got_b), Fields(beta));
}

TEST_P(StoreSuite, MissingOrgIsNotFound) {
  EXPECT_STATUS(InRead(store(), [](Tx& tx) { return tx.GetOrg(424242); }), 404, "NOT_FOUND");
  EXPECT_STATUS(InRead(store(), [](Tx& tx) { return tx.GetOrgByName("nobody"); }), 404,
                "NOT_FOUND");
}

TEST_P(StoreSuite, GetOrgByNameIgnoresCase) {
  auto id = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme Research")); });
  ASSERT_OK(id);
  auto got = InRead(store(), [](Tx& tx) { return tx.GetOrgByName("ACME research"); });
  ASSERT_OK(got);
  EXPECT_EQ(got->id, *id);
  EXPECT_EQ(got->name, "Acme Research");
}

TEST_P(StoreSuite, DuplicateOrgNameIsOrgExistsIgnoringCase) {
  ASSERT_OK(InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); }));
  EXPECT_STATUS(InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); }), 409,
                "ORG_EXISTS");
  EXPECT_STATUS(InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("aCME")); }), 409,
                "ORG_EXISTS");
  auto page = InRead(store(), [](Tx& tx) { return tx.ListOrgs("", 0, 100); });
  ASSERT_OK(page);
  EXPECT_EQ(page->total, 1);
}

TEST_P(StoreSuite, UpdateOrgReplacesEveryField) {
  auto id = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(id);
  OrgRecord changed = MakeFullOrg("Acme Renamed");
  changed.id = *id;
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.UpdateOrg(changed); }));
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetOrg(*id); });
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(changed));

  // And back to the defaults (optional times cleared).
  OrgRecord plain = MakeOrg("Acme");
  plain.id = *id;
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.UpdateOrg(plain); }));
  got = InRead(store(), [&](Tx& tx) { return tx.GetOrg(*id); });
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(plain));
}

TEST_P(StoreSuite, UpdateOrgErrors) {
  auto a = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  auto b = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Beta")); });
  ASSERT_OK(a);
  ASSERT_OK(b);

  OrgRecord missing = MakeOrg("Ghost");
  missing.id = *b + 100;
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.UpdateOrg(missing); }), 404, "NOT_FOUND");

  OrgRecord clash = MakeOrg("ACME");
  clash.id = *b;
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.UpdateOrg(clash); }), 409, "ORG_EXISTS");

  // Changing only the case of its own name is not a clash.
  OrgRecord recase = MakeOrg("ACME");
  recase.id = *a;
  EXPECT_OK(InWrite(store(), [&](Tx& tx) { return tx.UpdateOrg(recase); }));
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetOrg(*b); });
  ASSERT_OK(got);
  EXPECT_EQ(got->name, "Beta");
}

TEST_P(StoreSuite, ListOrgsSearchesPagesAndCounts) {
  std::vector<OrgId> ids;
  for (const char* name :
       {"Alpha Corp", "beta", "ALPHAbet", "Gamma", "100% Alpha", "under_score", "underXscore"}) {
    auto id = InWrite(store(), [&](Tx& tx) { return tx.InsertOrg(MakeOrg(name)); });
    ASSERT_OK(id);
    ids.push_back(*id);
  }

  auto all = InRead(store(), [](Tx& tx) { return tx.ListOrgs("", 0, 100); });
  ASSERT_OK(all);
  EXPECT_EQ(all->total, 7);
  EXPECT_EQ(Ids(all->items), ids);

  auto alpha = InRead(store(), [](Tx& tx) { return tx.ListOrgs("alpha", 0, 100); });
  ASSERT_OK(alpha);
  EXPECT_EQ(alpha->total, 3);
  EXPECT_EQ(Ids(alpha->items), (std::vector<OrgId>{ids[0], ids[2], ids[4]}));

  // Paging: total ignores offset and limit; items are in id order.
  auto page = InRead(store(), [](Tx& tx) { return tx.ListOrgs("ALPHA", 1, 1); });
  ASSERT_OK(page);
  EXPECT_EQ(page->total, 3);
  EXPECT_EQ(Ids(page->items), (std::vector<OrgId>{ids[2]}));
  page = InRead(store(), [](Tx& tx) { return tx.ListOrgs("alpha", 2, 5); });
  ASSERT_OK(page);
  EXPECT_EQ(Ids(page->items), (std::vector<OrgId>{ids[4]}));
  page = InRead(store(), [](Tx& tx) { return tx.ListOrgs("alpha", 3, 5); });
  ASSERT_OK(page);
  EXPECT_TRUE(page->items.empty());
  EXPECT_EQ(page->total, 3);

  // '%' and '_' are literal characters, not patterns.
  auto pct = InRead(store(), [](Tx& tx) { return tx.ListOrgs("%", 0, 100); });
  ASSERT_OK(pct);
  EXPECT_EQ(Ids(pct->items), (std::vector<OrgId>{ids[4]}));
  auto under = InRead(store(), [](Tx& tx) { return tx.ListOrgs("r_s", 0, 100); });
  ASSERT_OK(under);
  EXPECT_EQ(Ids(under->items), (std::vector<OrgId>{ids[5]}));

  auto none = InRead(store(), [](Tx& tx) { return tx.ListOrgs("zeta", 0, 100); });
  ASSERT_OK(none);
  EXPECT_EQ(none->total, 0);
  EXPECT_TRUE(none->items.empty());
}

// The webhook scheduler's read: active subscriptions ending by the instant, in id order; not one
// without an end, ending later, or not active (an expired subscription keeps its end date).
TEST_P(StoreSuite, ForEachOrgEndingByListsActiveSubscriptionsEndingInTime) {
  const TimeMs until = kT0 + 14 * 86'400'000LL;
  auto add = [&](const std::string& name, Subscription sub, std::optional<TimeMs> ends) {
    OrgRecord o = MakeOrg(name);
    o.subscription = sub;
    o.ends_at = ends;
    auto id = InWrite(store(), [&](Tx& tx) { return tx.InsertOrg(o); });
    EXPECT_TRUE(id.ok());
    return *id;
  };
  const OrgId at_the_edge = add("edge", Subscription::kActive, until);
  add("open", Subscription::kActive, std::nullopt);
  add("later", Subscription::kActive, until + 1);
  const OrgId ended = add("ended", Subscription::kActive, kT0 - 86'400'000LL);
  add("expired", Subscription::kExpired, kT0 - 86'400'000LL);
  add("none", Subscription::kNone, kT0);
  const OrgId soon = add("soon", Subscription::kActive, kT0 + 3 * 86'400'000LL);
  std::vector<OrgId> seen;
  EXPECT_OK(store().Read([&](Tx& tx) {
    return tx.ForEachOrgEndingBy(until, [&](const OrgRecord& o) {
      EXPECT_EQ(o.subscription, Subscription::kActive);
      seen.push_back(o.id);
      return Status::Ok();
    });
  }));
  EXPECT_EQ(seen, (std::vector<OrgId>{at_the_edge, ended, soon}));
  // An error from the callback stops the scan and is returned.
  int calls = 0;
  Status st = store().Read([&](Tx& tx) {
    return tx.ForEachOrgEndingBy(until, [&](const OrgRecord&) {
      ++calls;
      return Status::Invalid("STOP", "stop");
    });
  });
  EXPECT_EQ(st.code(), "STOP");
  EXPECT_EQ(calls, 1);
}

// The provider console: QueryOrgs' filters and sorts and OrgOverview's counts agree with each
// other, on every backend.
TEST_P(StoreSuite, QueryOrgsFiltersSortsAndOverviewCounts) {
  const TimeMs now = kT0;
  const TimeMs soon = now + 14 * 86'400'000LL;
  auto add = [&](const std::string& name, Subscription sub, std::optional<TimeMs> ends,
                 std::optional<DisableReason> disabled, bool token, int64_t used,
                 int64_t over) -> OrgId {
    OrgRecord o = MakeOrg(name);
    o.subscription = sub;
    o.ends_at = ends;
    o.daily_allowance = 10;
    o.disable_threshold = 5;
    if (disabled) {
      o.provider_disabled = true;
      o.disable_reason = *disabled;
    }
    auto id = InWrite(store(), [&](Tx& tx) { return tx.InsertOrg(o); });
    EXPECT_TRUE(id.ok());
    if (token)
      EXPECT_OK(InWrite(
          store(), [&](Tx& tx) { return tx.InsertToken(MakeToken(*id, static_cast<int>(*id))); }));
    if (used || over)
      EXPECT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*id, kDay, used, over, now); }));
    // Yesterday's usage counts in the days, never in today's figures.
    EXPECT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*id, kDay - 1, 1, 1, now); }));
    return *id;
  };
  const OrgId busy = add("Busy", Subscription::kActive, std::nullopt, std::nullopt, true, 9, 4);
  const OrgId ending =
      add("ending", Subscription::kActive, now + 3 * 86'400'000LL, std::nullopt, true, 2, 0);
  const OrgId later =
      add("Later", Subscription::kActive, now + 30 * 86'400'000LL, std::nullopt, true, 0, 0);
  const OrgId lapsed = add("lapsed", Subscription::kActive, now, std::nullopt, true, 0, 0);
  const OrgId expired =
      add("Expired", Subscription::kExpired, std::nullopt, std::nullopt, true, 0, 0);
  const OrgId terms = add("Terms", Subscription::kActive, std::nullopt,
                          DisableReason::kTermsViolation, true, 10, 9);
  const OrgId bare = add("bare", Subscription::kNone, std::nullopt, std::nullopt, false, 0, 0);

  auto query = [&](OrgFilter f, OrgSort sort = OrgSort::kId, bool desc = false,
                   const std::string& search = "", int64_t offset = 0, int64_t limit = 100,
                   std::optional<DisableReason> reason = std::nullopt) {
    OrgQuery q;
    q.filter = f;
    q.sort = sort;
    q.descending = desc;
    q.search = search;
    q.now = now;
    q.day = kDay;
    q.expiring_before = soon;
    q.offset = offset;
    q.limit = limit;
    q.reason = reason;
    auto r = InRead(store(), [&](Tx& tx) { return tx.QueryOrgs(q); });
    EXPECT_TRUE(r.ok());
    std::vector<OrgId> ids;
    for (const auto& row : r->items) ids.push_back(row.org.id);
    return std::make_pair(ids, r->total);
  };
  using V = std::vector<OrgId>;
  EXPECT_EQ(query(OrgFilter::kAll).first, (V{busy, ending, later, lapsed, expired, terms, bare}));
  EXPECT_EQ(query(OrgFilter::kEnabled).first, (V{busy, ending, later}));
  EXPECT_EQ(query(OrgFilter::kDisabled).first, (V{lapsed, expired, terms, bare}));
  EXPECT_EQ(query(OrgFilter::kProviderDisabled).first, (V{terms}));
  EXPECT_EQ(
      query(OrgFilter::kProviderDisabled, OrgSort::kId, false, "", 0, 100, DisableReason::kOther)
          .first,
      V{});
  EXPECT_EQ(query(OrgFilter::kExpired).first, (V{lapsed, expired}));
  EXPECT_EQ(query(OrgFilter::kNoSubscription).first, (V{bare}));
  EXPECT_EQ(query(OrgFilter::kExpiring).first, (V{ending}));
  EXPECT_EQ(query(OrgFilter::kOver80).first, (V{busy, terms}));
  EXPECT_EQ(query(OrgFilter::kNearThreshold).first, (V{busy}));  // terms is disabled already
  EXPECT_EQ(query(OrgFilter::kNoToken).first, (V{bare}));
  // Sorts (ties by id), search, paging; the total ignores the page.
  EXPECT_EQ(query(OrgFilter::kAll, OrgSort::kName).first,
            (V{bare, busy, ending, expired, lapsed, later, terms}));
  EXPECT_EQ(query(OrgFilter::kAll, OrgSort::kName, true).first,
            (V{terms, later, lapsed, expired, ending, busy, bare}));
  EXPECT_EQ(query(OrgFilter::kAll, OrgSort::kUsage, true).first,
            (V{terms, busy, ending, later, lapsed, expired, bare}));
  EXPECT_EQ(query(OrgFilter::kAll, OrgSort::kEndsAt).first,
            (V{lapsed, ending, later, busy, expired, terms, bare}));
  EXPECT_EQ(query(OrgFilter::kAll, OrgSort::kId, true).first,
            (V{bare, terms, expired, lapsed, later, ending, busy}));
  auto page = query(OrgFilter::kEnabled, OrgSort::kName, false, "E", 1, 1);
  EXPECT_EQ(page.first, (V{later}));
  EXPECT_EQ(page.second, 2);  // ending, later
  // Today's usage on each row.
  OrgQuery q;
  q.now = now;
  q.day = kDay;
  q.sort = OrgSort::kId;
  auto rows = InRead(store(), [&](Tx& tx) { return tx.QueryOrgs(q); });
  ASSERT_OK(rows);
  ASSERT_EQ(rows->items.size(), 7u);
  EXPECT_EQ(rows->items[0].used_today, 9);
  EXPECT_EQ(rows->items[0].over_quota_today, 4);
  EXPECT_TRUE(rows->items[0].has_token);
  EXPECT_FALSE(rows->items[6].has_token);
  EXPECT_EQ(rows->items[6].used_today, 0);

  auto ov = InRead(store(), [&](Tx& tx) { return tx.OrgOverview(now, kDay, soon, 3, 10); });
  ASSERT_OK(ov);
  EXPECT_EQ(ov->orgs, 7);
  EXPECT_EQ(ov->enabled, 3);
  EXPECT_EQ(ov->no_subscription, 1);
  EXPECT_EQ(ov->expired, 2);
  EXPECT_EQ(ov->disabled_terms_violation, 1);
  EXPECT_EQ(ov->disabled_quota_threshold + ov->disabled_other, 0);
  EXPECT_EQ(ov->no_token, 1);
  EXPECT_EQ(ov->expiring, 1);
  EXPECT_EQ(ov->over80, 2);
  EXPECT_EQ(ov->near_threshold, 1);
  ASSERT_EQ(ov->days.size(), 3u);
  EXPECT_EQ(ov->days[0].day, kDay - 2);
  EXPECT_EQ(ov->days[0].used + ov->days[0].over_quota, 0);
  EXPECT_EQ(ov->days[1].used, 7);
  EXPECT_EQ(ov->days[1].over_quota, 7);
  EXPECT_EQ(ov->days[2].used, 21);
  EXPECT_EQ(ov->days[2].over_quota, 13);
  std::vector<OrgId> top;
  for (const auto& r : ov->top) top.push_back(r.org.id);
  EXPECT_EQ(top, (V{terms, busy, ending}));
}

// ---------------------------------------------------------------------------------------------
// Tokens

// The usage sort reads each organization's latest day from its row (orgs.usage_day, kept by every
// usage write) and pages in two parts, the organizations used that day and the others: every page
// size and offset must stitch into the one order (usage, ties by id ascending), in both directions,
// with a search and a filter, whichever write (AddUsage, ConsumeUsage, RestoreUsage) set the usage.
TEST_P(StoreSuite, QueryOrgsUsageSortPagesAcrossUsedAndUnusedOrganizations) {
  const TimeMs now = kT0;
  std::vector<OrgId> ids;
  for (int i = 0; i < 12; ++i) {
    OrgRecord o = MakeOrg("U" + std::to_string(i));
    o.subscription = Subscription::kActive;
    o.daily_allowance = 10;
    auto id = InWrite(store(), [&](Tx& tx) { return tx.InsertOrg(o); });
    ASSERT_OK(id);
    ids.push_back(*id);
  }
  auto add = [&](int i, int64_t day, int64_t used, int64_t over) {
    EXPECT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(ids[i], day, used, over, now); }));
  };
  add(0, kDay, 5, 0);
  add(2, kDay, 5, 1);
  add(3, kDay, 3, 0);
  add(4, kDay, 0, 2);  // a row today, no accepted submission
  add(5, kDay - 1, 1, 0);
  add(5, kDay, 8, 0);
  add(5, kDay, -1, 0);  // a reservation released: 7
  add(7, kDay, 3, 0);
  for (int n = 0; n < 2; ++n) {
    auto c = InWrite(store(), [&](Tx& tx) { return tx.ConsumeUsage(ids[8], kDay, 10); });
    ASSERT_OK(c);
  }
  UsageRecord restored;
  restored.org_id = ids[9];
  restored.day = kDay;
  restored.used = 4;
  ASSERT_OK(store().Write([&](Tx& tx) { return tx.RestoreUsage(restored); }));
  add(10, kDay - 1, 9, 0);  // yesterday only: 0 today
  add(11, kDay, 2, 0);
  add(11, kDay - 1, 50, 0);  // a late write to an earlier day changes nothing today
  add(6, kDay + 1, 6, 0);    // a day after the one asked for: 0 on kDay
  std::vector<int64_t> used = {5, 0, 5, 3, 0, 7, 0, 3, 2, 4, 0, 2};

  auto order = [&](bool desc, const std::function<bool(int)>& keep) {
    std::vector<int> idx;
    for (int i = 0; i < 12; ++i)
      if (keep(i)) idx.push_back(i);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](int a, int b) { return desc ? used[a] > used[b] : used[a] < used[b]; });
    std::vector<OrgId> out;
    for (int i : idx) out.push_back(ids[i]);
    return out;
  };
  auto pages = [&](bool desc, const std::string& search, OrgFilter filter, int64_t size,
                   int64_t* total) {
    std::vector<OrgId> all;
    for (int64_t offset = 0; offset < 20; offset += size) {
      OrgQuery q;
      q.sort = OrgSort::kUsage;
      q.descending = desc;
      q.search = search;
      q.filter = filter;
      q.now = now;
      q.day = kDay;
      q.offset = offset;
      q.limit = size;
      auto r = InRead(store(), [&](Tx& tx) { return tx.QueryOrgs(q); });
      EXPECT_OK(r);
      if (!r.ok()) return all;
      *total = r->total;
      EXPECT_LE(static_cast<int64_t>(r->items.size()), size);
      for (const auto& row : r->items) {
        all.push_back(row.org.id);
        const auto at = std::find(ids.begin(), ids.end(), row.org.id) - ids.begin();
        EXPECT_EQ(row.used_today, used[static_cast<size_t>(at)]) << row.org.name;
      }
    }
    return all;
  };
  for (bool desc : {true, false}) {
    for (int64_t size : {1, 2, 3, 5, 12, 25}) {
      int64_t total = -1;
      EXPECT_EQ(pages(desc, "", OrgFilter::kAll, size, &total),
                order(desc, [](int) { return true; }))
          << "desc " << desc << " size " << size;
      EXPECT_EQ(total, 12);
      // "U1", "U10", "U11".
      EXPECT_EQ(pages(desc, "u1", OrgFilter::kAll, size, &total),
                order(desc, [](int i) { return i == 1 || i == 10 || i == 11; }))
          << "search, desc " << desc << " size " << size;
      EXPECT_EQ(total, 3);
      // At 80% of the allowance (8 of 10): none yet.
      EXPECT_TRUE(pages(desc, "", OrgFilter::kOver80, size, &total).empty());
      EXPECT_EQ(total, 0);
    }
  }
  // Organization 5 reaches 80% (8 of 10): the filter, the overview and its top list follow.
  add(5, kDay, 1, 0);
  used[5] = 8;
  int64_t total = -1;
  EXPECT_EQ(pages(true, "", OrgFilter::kOver80, 2, &total), std::vector<OrgId>{ids[5]});
  auto ov = InRead(store(), [&](Tx& tx) { return tx.OrgOverview(now, kDay, now, 1, 3); });
  ASSERT_OK(ov);
  EXPECT_EQ(ov->over80, 1);
  ASSERT_EQ(ov->top.size(), 3u);
  EXPECT_EQ(ov->top[0].org.id, ids[5]);
  EXPECT_EQ(ov->top[0].used_today, 8);
  EXPECT_EQ(ov->top[1].org.id, ids[0]);  // 5, before ids[2] (5) by id
  EXPECT_EQ(ov->top[2].org.id, ids[2]);
  EXPECT_EQ(ov->no_token, 12);
}

TEST_P(StoreSuite, TokenRoundTripsBinaryValues) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  auto none = InRead(store(), [&](Tx& tx) { return tx.GetToken(*org); });
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());

  TokenRecord t = MakeToken(*org, 1);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(t); }));
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetToken(*org); });
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Fields(**got), Fields(t));
  EXPECT_EQ((*got)->lookup_hash.size(), 32u);
}

TEST_P(StoreSuite, SecondTokenForAnOrgIsTokenExists) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  TokenRecord first = MakeToken(*org, 1);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(first); }));
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(MakeToken(*org, 2)); }), 409,
                "TOKEN_EXISTS");
  // Even with the very same record.
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(first); }), 409,
                "TOKEN_EXISTS");
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetToken(*org); });
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Fields(**got), Fields(first));
}

TEST_P(StoreSuite, DuplicateLookupHashIsRefused) {
  auto a = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  auto b = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Beta")); });
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(MakeToken(*a, 1)); }));
  TokenRecord same_hash = MakeToken(*b, 2);
  same_hash.lookup_hash = Hash(1);
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(same_hash); }), 409,
                "TOKEN_HASH_EXISTS");
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetToken(*b); });
  ASSERT_OK(got);
  EXPECT_FALSE(got->has_value());
}

TEST_P(StoreSuite, TokenForMissingOrgIsNotFound) {
  EXPECT_STATUS(InWrite(store(), [](Tx& tx) { return tx.InsertToken(MakeToken(777, 1)); }), 404,
                "NOT_FOUND");
}

TEST_P(StoreSuite, ReplaceToken) {
  auto a = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  auto b = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Beta")); });
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(MakeToken(*a, 1)); }));

  TokenRecord next = MakeToken(*a, 2);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.ReplaceToken(next); }));
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetToken(*a); });
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Fields(**got), Fields(next));

  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.ReplaceToken(MakeToken(*b, 3)); }), 404,
                "TOKEN_NOT_FOUND");
  got = InRead(store(), [&](Tx& tx) { return tx.GetToken(*b); });
  ASSERT_OK(got);
  EXPECT_FALSE(got->has_value());

  // Taking another organization's hash is refused.
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(MakeToken(*b, 4)); }));
  TokenRecord steal = MakeToken(*a, 5);
  steal.lookup_hash = Hash(4);
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.ReplaceToken(steal); }), 409,
                "TOKEN_HASH_EXISTS");
}

TEST_P(StoreSuite, DeleteToken) {
  auto a = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(a);
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.DeleteToken(*a); }), 404,
                "TOKEN_NOT_FOUND");
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(MakeToken(*a, 1)); }));
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.DeleteToken(*a); }));
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetToken(*a); });
  ASSERT_OK(got);
  EXPECT_FALSE(got->has_value());
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.DeleteToken(*a); }), 404,
                "TOKEN_NOT_FOUND");
  // The organization may get a token again, even one with the old hash.
  EXPECT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(MakeToken(*a, 1)); }));
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.DeleteToken(*a + 1000); }), 404,
                "TOKEN_NOT_FOUND");
}

TEST_P(StoreSuite, ForEachTokenVisitsTokensInOrgIdOrderWithTheirOrg) {
  auto count_visits = [&] {
    return InRead(store(), [](Tx& tx) -> Result<int> {
      int n = 0;
      Status st = tx.ForEachToken([&](const TokenRecord&, const OrgRecord&) { ++n; });
      if (!st.ok()) return st;
      return n;
    });
  };
  auto empty = count_visits();
  ASSERT_OK(empty);
  EXPECT_EQ(*empty, 0);

  std::vector<OrgRecord> orgs;
  for (const char* name : {"One", "Two", "Three", "Four"}) {
    OrgRecord o = MakeFullOrg(name);
    auto id = InWrite(store(), [&](Tx& tx) { return tx.InsertOrg(o); });
    ASSERT_OK(id);
    o.id = *id;
    orgs.push_back(o);
  }
  // Tokens inserted out of order; "Two" has none.
  std::vector<TokenRecord> tokens = {MakeToken(orgs[0].id, 1), MakeToken(orgs[2].id, 3),
                                     MakeToken(orgs[3].id, 4)};
  for (int i : {2, 0, 1}) {
    ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertToken(tokens[i]); }));
  }

  std::vector<std::pair<TokenRecord, OrgRecord>> seen;
  ASSERT_OK(store().Read([&](Tx& tx) {
    return tx.ForEachToken(
        [&](const TokenRecord& t, const OrgRecord& o) { seen.emplace_back(t, o); });
  }));
  ASSERT_EQ(seen.size(), 3u);
  const int org_of[] = {0, 2, 3};
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(Fields(seen[i].first), Fields(tokens[i]));
    EXPECT_EQ(Fields(seen[i].second), Fields(orgs[org_of[i]]));
  }
}

// ---------------------------------------------------------------------------------------------
// Users

TEST_P(StoreSuite, UserRoundTripAndLookups) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  UserRecord admin = MakeUser("root", Role::kProviderAdmin, std::nullopt);
  UserRecord member = MakeUser("Alice", Role::kOrgAdmin, *org);
  auto admin_id = InWrite(store(), [&](Tx& tx) { return tx.InsertUser(admin); });
  auto member_id = InWrite(store(), [&](Tx& tx) { return tx.InsertUser(member); });
  ASSERT_OK(admin_id);
  ASSERT_OK(member_id);
  EXPECT_GT(*admin_id, 0);
  EXPECT_GT(*member_id, *admin_id);
  admin.id = *admin_id;
  member.id = *member_id;

  auto got = InRead(store(), [&](Tx& tx) { return tx.GetUser(*admin_id); });
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(admin));
  got = InRead(store(), [&](Tx& tx) { return tx.GetUserByName("alice"); });  // any case
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(member));

  EXPECT_STATUS(InRead(store(), [&](Tx& tx) { return tx.GetUser(*member_id + 100); }), 404,
                "NOT_FOUND");
  EXPECT_STATUS(InRead(store(), [&](Tx& tx) { return tx.GetUserByName("bob"); }), 404, "NOT_FOUND");
}

TEST_P(StoreSuite, DuplicateUsernameIsUserExistsIgnoringCase) {
  ASSERT_OK(InWrite(store(), [](Tx& tx) {
    return tx.InsertUser(MakeUser("alice", Role::kProviderAdmin, std::nullopt));
  }));
  EXPECT_STATUS(InWrite(store(),
                        [](Tx& tx) {
                          return tx.InsertUser(MakeUser("alice", Role::kOrgAdmin, std::nullopt));
                        }),
                409, "USER_EXISTS");
  EXPECT_STATUS(InWrite(store(),
                        [](Tx& tx) {
                          return tx.InsertUser(MakeUser("ALICE", Role::kOrgAdmin, std::nullopt));
                        }),
                409, "USER_EXISTS");
  auto n = InRead(store(), [](Tx& tx) { return tx.CountUsers(); });
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1);
}

TEST_P(StoreSuite, UserForMissingOrgIsNotFound) {
  EXPECT_STATUS(
      InWrite(store(),
              [](Tx& tx) { return tx.InsertUser(MakeUser("alice", Role::kOrgAdmin, OrgId{999})); }),
      404, "NOT_FOUND");
}

TEST_P(StoreSuite, UpdateUser) {
  auto a = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  auto b = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Beta")); });
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto alice = InWrite(
      store(), [&](Tx& tx) { return tx.InsertUser(MakeUser("alice", Role::kOrgReadonly, *a)); });
  auto bob = InWrite(
      store(), [&](Tx& tx) { return tx.InsertUser(MakeUser("bob", Role::kOrgReadonly, *a)); });
  ASSERT_OK(alice);
  ASSERT_OK(bob);

  UserRecord changed = MakeUser("alice2", Role::kOrgAdmin, *b);
  changed.id = *alice;
  changed.password_hash = "$argon2id$new";
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.UpdateUser(changed); }));
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetUser(*alice); });
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(changed));

  UserRecord missing = changed;
  missing.id = *bob + 100;
  missing.username = "ghost";
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.UpdateUser(missing); }), 404, "NOT_FOUND");

  UserRecord clash = changed;
  clash.username = "BOB";
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.UpdateUser(clash); }), 409, "USER_EXISTS");
}

TEST_P(StoreSuite, DeleteUserAlsoDeletesTheirSessions) {
  auto alice = InWrite(store(), [](Tx& tx) {
    return tx.InsertUser(MakeUser("alice", Role::kProviderAdmin, std::nullopt));
  });
  auto bob = InWrite(store(), [](Tx& tx) {
    return tx.InsertUser(MakeUser("bob", Role::kProviderAdmin, std::nullopt));
  });
  ASSERT_OK(alice);
  ASSERT_OK(bob);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) -> Status {
    for (int i = 0; i < 3; ++i) {
      if (Status st = tx.InsertSession(MakeSession(i, *alice, kT0)); !st.ok()) return st;
    }
    return tx.InsertSession(MakeSession(10, *bob, kT0));
  }));

  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.DeleteUser(*alice); }));
  EXPECT_STATUS(InRead(store(), [&](Tx& tx) { return tx.GetUser(*alice); }), 404, "NOT_FOUND");
  for (int i = 0; i < 3; ++i) {
    EXPECT_STATUS(
        InRead(store(), [&](Tx& tx) { return tx.GetSession(MakeSession(i, 0, 0).id_hash); }), 404,
        "NOT_FOUND");
  }
  EXPECT_OK(InRead(store(), [&](Tx& tx) { return tx.GetSession(MakeSession(10, 0, 0).id_hash); }));
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.DeleteUser(*alice); }), 404, "NOT_FOUND");
  auto n = InRead(store(), [](Tx& tx) { return tx.CountUsers(); });
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1);
}

TEST_P(StoreSuite, ListUsersPerOrgAndProviderAndCount) {
  auto a = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  auto b = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Beta")); });
  auto c = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Gamma")); });
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(c);
  struct Spec {
    const char* name;
    std::optional<OrgId> org;
  };
  std::vector<UserId> ids;
  for (const Spec& s : {Spec{"p1", std::nullopt}, Spec{"a1", *a}, Spec{"b1", *b}, Spec{"a2", *a},
                        Spec{"p2", std::nullopt}}) {
    Role role = s.org ? Role::kOrgAdmin : Role::kProviderAdmin;
    auto id =
        InWrite(store(), [&](Tx& tx) { return tx.InsertUser(MakeUser(s.name, role, s.org)); });
    ASSERT_OK(id);
    ids.push_back(*id);
  }
  auto in_a = InRead(store(), [&](Tx& tx) { return tx.ListUsers(*a); });
  ASSERT_OK(in_a);
  EXPECT_EQ(Ids(*in_a), (std::vector<UserId>{ids[1], ids[3]}));
  auto in_b = InRead(store(), [&](Tx& tx) { return tx.ListUsers(*b); });
  ASSERT_OK(in_b);
  EXPECT_EQ(Ids(*in_b), (std::vector<UserId>{ids[2]}));
  auto in_c = InRead(store(), [&](Tx& tx) { return tx.ListUsers(*c); });
  ASSERT_OK(in_c);
  EXPECT_TRUE(in_c->empty());
  auto providers = InRead(store(), [](Tx& tx) { return tx.ListUsers(std::nullopt); });
  ASSERT_OK(providers);
  EXPECT_EQ(Ids(*providers), (std::vector<UserId>{ids[0], ids[4]}));
  for (const UserRecord& u : *providers) EXPECT_FALSE(u.org_id.has_value());
  auto n = InRead(store(), [](Tx& tx) { return tx.CountUsers(); });
  ASSERT_OK(n);
  EXPECT_EQ(*n, 5);
}

// ---------------------------------------------------------------------------------------------
// Sessions

TEST_P(StoreSuite, SessionInsertGetTouchDelete) {
  auto user = InWrite(store(), [](Tx& tx) {
    return tx.InsertUser(MakeUser("alice", Role::kProviderAdmin, std::nullopt));
  });
  ASSERT_OK(user);
  SessionRecord s = MakeSession(1, *user, kT0 + 10);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertSession(s); }));
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetSession(s.id_hash); });
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(s));
  EXPECT_STATUS(InRead(store(), [&](Tx& tx) { return tx.GetSession(Hash(5)); }), 404, "NOT_FOUND");
  // A duplicate session id is refused.
  EXPECT_EQ(InWrite(store(), [&](Tx& tx) { return tx.InsertSession(s); }).http_status(), 409);
  // A session of a missing user is refused.
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.InsertSession(MakeSession(2, 999, 0)); }),
                404, "NOT_FOUND");

  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.TouchSession(s.id_hash, kT0 + 99); }));
  got = InRead(store(), [&](Tx& tx) { return tx.GetSession(s.id_hash); });
  ASSERT_OK(got);
  EXPECT_EQ(got->last_seen_at, kT0 + 99);
  EXPECT_EQ(got->created_at, s.created_at);
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.TouchSession(Hash(5), kT0); }), 404,
                "NOT_FOUND");

  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.DeleteSession(s.id_hash); }));
  EXPECT_STATUS(InRead(store(), [&](Tx& tx) { return tx.GetSession(s.id_hash); }), 404,
                "NOT_FOUND");
  EXPECT_OK(InWrite(store(), [&](Tx& tx) { return tx.DeleteSession(s.id_hash); }));  // absent
}

TEST_P(StoreSuite, DeleteSessionsOfUserAndBefore) {
  auto alice = InWrite(store(), [](Tx& tx) {
    return tx.InsertUser(MakeUser("alice", Role::kProviderAdmin, std::nullopt));
  });
  auto bob = InWrite(store(), [](Tx& tx) {
    return tx.InsertUser(MakeUser("bob", Role::kProviderAdmin, std::nullopt));
  });
  ASSERT_OK(alice);
  ASSERT_OK(bob);
  // Alice: sessions 0,1 (last seen T0+0, T0+100). Bob: 2,3,4 (T0+50, T0+100, T0+200).
  ASSERT_OK(InWrite(store(), [&](Tx& tx) -> Status {
    const std::pair<UserId, TimeMs> specs[] = {
        {*alice, 0}, {*alice, 100}, {*bob, 50}, {*bob, 100}, {*bob, 200}};
    for (int i = 0; i < 5; ++i) {
      Status st = tx.InsertSession(MakeSession(i, specs[i].first, kT0 + specs[i].second));
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }));
  auto exists = [&](int i) {
    return InRead(store(), [&](Tx& tx) { return tx.GetSession(MakeSession(i, 0, 0).id_hash); })
        .ok();
  };

  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.DeleteSessionsOfUser(*alice); }));
  EXPECT_FALSE(exists(0));
  EXPECT_FALSE(exists(1));
  EXPECT_TRUE(exists(2));
  EXPECT_OK(InWrite(store(), [&](Tx& tx) { return tx.DeleteSessionsOfUser(*alice); }));  // none

  // Strictly before: the session last seen exactly at the cutoff stays.
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.DeleteSessionsBefore(kT0 + 100); }));
  EXPECT_FALSE(exists(2));
  EXPECT_TRUE(exists(3));
  EXPECT_TRUE(exists(4));
  auto bob_still = InRead(store(), [&](Tx& tx) { return tx.GetUser(*bob); });
  EXPECT_OK(bob_still);
}

// ---------------------------------------------------------------------------------------------
// Audit

TEST_P(StoreSuite, AppendAuditAssignsIncreasingIdsAndRoundTrips) {
  AuditRecord with_org = MakeAudit(kT0, "alice", OrgId{5}, "TOKEN_REGENERATE");
  with_org.actor_role = "PROVIDER_ADMIN";
  with_org.outcome = "TOKEN_DISABLED";
  with_org.client_addr = "2001:db8::1";
  with_org.token_fp = "";
  with_org.detail = "free text, 'quoted'";
  AuditRecord without_org = MakeAudit(kT0 + 1, "system", std::nullopt, "LOGIN");
  without_org.actor_role = "";

  std::vector<int64_t> ids;
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK(InWrite(store(), [&](Tx& tx) -> Status {
      for (const AuditRecord* r : {&with_org, &without_org}) {
        auto id = tx.AppendAudit(*r);
        if (!id.ok()) return id.status();
        ids.push_back(*id);
      }
      return Status::Ok();
    }));
  }
  ASSERT_EQ(ids.size(), 4u);
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_GT(ids[i], ids[i - 1]);

  auto all = InRead(store(), [](Tx& tx) { return tx.ListAudit(AuditFilter{}); });
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 4u);
  with_org.id = ids[2];
  without_org.id = ids[3];
  EXPECT_EQ(Fields((*all)[0]), Fields(without_org));  // newest first
  EXPECT_EQ(Fields((*all)[1]), Fields(with_org));
}

// Twelve records: org 1/2/none, actors alice/bob, actions LOGIN/TOKEN_ADD, ts T0+0..T0+11000.
class AuditFixture {
 public:
  static Result<std::vector<int64_t>> Fill(Store& store) {
    std::vector<int64_t> ids;
    Status st = store.Write([&](Tx& tx) -> Status {
      for (int i = 0; i < 12; ++i) {
        std::optional<OrgId> org;
        if (i % 3 != 2) org = i % 3 + 1;
        auto id = tx.AppendAudit(MakeAudit(kT0 + 1000 * i, i % 2 ? "bob" : "alice", org,
                                           i % 4 < 2 ? "LOGIN" : "TOKEN_ADD"));
        if (!id.ok()) return id.status();
        ids.push_back(*id);
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return ids;
  }
  // Ids of records i (newest first) for which pred(i) holds.
  template <typename Pred>
  static std::vector<int64_t> Expect(const std::vector<int64_t>& ids, Pred pred) {
    std::vector<int64_t> out;
    for (int i = 11; i >= 0; --i)
      if (pred(i)) out.push_back(ids[i]);
    return out;
  }
};

TEST_P(StoreSuite, ListAuditFiltersCombine) {
  auto ids_r = AuditFixture::Fill(store());
  ASSERT_OK(ids_r);
  const std::vector<int64_t>& ids = *ids_r;
  auto list = [&](const AuditFilter& f) {
    auto r = InRead(store(), [&](Tx& tx) { return tx.ListAudit(f); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? Ids(*r) : std::vector<int64_t>{};
  };
  auto org_of = [](int i) -> std::optional<OrgId> {
    if (i % 3 == 2) return std::nullopt;
    return i % 3 + 1;
  };
  auto actor_of = [](int i) { return std::string(i % 2 ? "bob" : "alice"); };
  auto action_of = [](int i) { return std::string(i % 4 < 2 ? "LOGIN" : "TOKEN_ADD"); };

  EXPECT_EQ(list({}), AuditFixture::Expect(ids, [](int) { return true; }));

  AuditFilter f;
  f.org_id = 2;
  EXPECT_EQ(list(f), AuditFixture::Expect(ids, [&](int i) { return org_of(i) == OrgId{2}; }));

  f = {};
  f.actor = "bob";
  EXPECT_EQ(list(f), AuditFixture::Expect(ids, [&](int i) { return actor_of(i) == "bob"; }));

  f = {};
  f.action = "TOKEN_ADD";
  EXPECT_EQ(list(f), AuditFixture::Expect(ids, [&](int i) { return action_of(i) == "TOKEN_ADD"; }));

  // from is inclusive, to exclusive.
  f = {};
  f.from = kT0 + 3000;
  f.to = kT0 + 7000;
  EXPECT_EQ(list(f), AuditFixture::Expect(ids, [](int i) { return i >= 3 && i < 7; }));
  f = {};
  f.from = kT0 + 10'000;
  EXPECT_EQ(list(f), AuditFixture::Expect(ids, [](int i) { return i >= 10; }));
  f = {};
  f.to = kT0 + 2000;
  EXPECT_EQ(list(f), AuditFixture::Expect(ids, [](int i) { return i < 2; }));

  f = {};
  f.before_id = ids[5];
  EXPECT_EQ(list(f), AuditFixture::Expect(ids, [](int i) { return i < 5; }));

  // All at once.
  f = {};
  f.org_id = 1;
  f.actor = "alice";
  f.action = "LOGIN";
  f.from = kT0;
  f.to = kT0 + 12'000;
  f.before_id = ids[11] + 1;
  EXPECT_EQ(list(f), AuditFixture::Expect(ids, [&](int i) {
              return org_of(i) == OrgId{1} && actor_of(i) == "alice" && action_of(i) == "LOGIN";
            }));
  ASSERT_FALSE(list(f).empty());

  f.actor = "carol";
  EXPECT_TRUE(list(f).empty());
}

TEST_P(StoreSuite, ListAuditPagesWithBeforeId) {
  auto ids = AuditFixture::Fill(store());
  ASSERT_OK(ids);
  std::vector<int64_t> seen;
  AuditFilter f;
  f.limit = 5;
  for (int page = 0; page < 10; ++page) {
    auto r = InRead(store(), [&](Tx& tx) { return tx.ListAudit(f); });
    ASSERT_OK(r);
    EXPECT_LE(r->size(), 5u);
    if (r->empty()) break;
    for (const auto& rec : *r) seen.push_back(rec.id);
    f.before_id = r->back().id;
  }
  EXPECT_EQ(seen, AuditFixture::Expect(*ids, [](int) { return true; }));
}

TEST_P(StoreSuite, ListAuditClampsLimitTo1Through1000) {
  ASSERT_OK(InWrite(store(), [](Tx& tx) -> Status {
    for (int i = 0; i < 1005; ++i) {
      auto id = tx.AppendAudit(MakeAudit(kT0 + i, "system", std::nullopt, "SWEEP"));
      if (!id.ok()) return id.status();
    }
    return Status::Ok();
  }));
  auto count = [&](int limit) -> size_t {
    AuditFilter f;
    f.limit = limit;
    auto r = InRead(store(), [&](Tx& tx) { return tx.ListAudit(f); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->size() : 0;
  };
  EXPECT_EQ(count(100), 100u);
  EXPECT_EQ(count(5000), 1000u);
  EXPECT_EQ(count(1000), 1000u);
  EXPECT_EQ(count(0), 1u);
  EXPECT_EQ(count(-7), 1u);
}

// ---------------------------------------------------------------------------------------------
// Usage

TEST_P(StoreSuite, MissingUsageReadsAsZeros) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  auto u = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
  ASSERT_OK(u);
  UsageRecord want;
  want.org_id = *org;
  want.day = kDay;
  EXPECT_EQ(Fields(*u), Fields(want));
  // Also for an organization that does not exist.
  auto none = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org + 100, kDay); });
  ASSERT_OK(none);
  EXPECT_EQ(none->org_id, *org + 100);
  EXPECT_EQ(none->day, kDay);
  EXPECT_EQ(none->used, 0);
  EXPECT_EQ(none->over_quota, 0);
  EXPECT_FALSE(none->last_used_at.has_value());
}

TEST_P(StoreSuite, AddUsageAccumulatesPerDay) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay, 1, 0, kT0); }));
  ASSERT_OK(InWrite(store(), [&](Tx& tx) -> Status {
    if (Status st = tx.AddUsage(*org, kDay, 2, 3, kT0 + 10); !st.ok()) return st;
    // Seen within the same transaction.
    auto u = tx.GetUsage(*org, kDay);
    if (!u.ok()) return u.status();
    EXPECT_EQ(u->used, 3);
    EXPECT_EQ(u->over_quota, 3);
    return tx.AddUsage(*org, kDay, 0, 1, std::nullopt);
  }));
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay + 1, 5, 0, kT0 + 99); }));
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay - 1, 0, 7, kT0 - 5); }));

  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto d0 = tx.GetUsage(*org, kDay);
    EXPECT_TRUE(d0.ok());
    if (d0.ok()) {
      EXPECT_EQ(Fields(*d0), std::make_tuple(*org, kDay, int64_t{3}, int64_t{4},
                                             std::optional<TimeMs>(kT0 + 10)));
    }
    auto d1 = tx.GetUsage(*org, kDay + 1);
    EXPECT_TRUE(d1.ok());
    if (d1.ok()) {
      EXPECT_EQ(Fields(*d1), std::make_tuple(*org, kDay + 1, int64_t{5}, int64_t{0},
                                             std::optional<TimeMs>(kT0 + 99)));
    }
    auto dm = tx.GetUsage(*org, kDay - 1);
    EXPECT_TRUE(dm.ok());
    if (dm.ok()) {
      EXPECT_EQ(Fields(*dm), std::make_tuple(*org, kDay - 1, int64_t{0}, int64_t{7},
                                             std::optional<TimeMs>(kT0 - 5)));
    }
    auto d2 = tx.GetUsage(*org, kDay + 2);  // untouched day
    EXPECT_TRUE(d2.ok() && d2->used == 0 && d2->over_quota == 0 && !d2->last_used_at);
    return Status::Ok();
  }));
}

TEST_P(StoreSuite, AddUsageIsPerOrganization) {
  auto a = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("A")); });
  auto b = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("B")); });
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*a, kDay, 4, 1, kT0); }));
  auto ub = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*b, kDay); });
  ASSERT_OK(ub);
  EXPECT_EQ(ub->used, 0);
  EXPECT_EQ(ub->over_quota, 0);
  auto lb = InRead(store(), [&](Tx& tx) { return tx.LastUsed(*b); });
  ASSERT_OK(lb);
  EXPECT_FALSE(lb->has_value());
}

TEST_P(StoreSuite, AddUsageReplacesLastUsedAtOnlyWhenGiven) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  auto last_used_at = [&]() -> std::optional<TimeMs> {
    auto u = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
    EXPECT_TRUE(u.ok()) << u.status().ToString();
    return u.ok() ? u->last_used_at : std::nullopt;
  };
  // A row created without a time has none.
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay, 0, 1, std::nullopt); }));
  EXPECT_EQ(last_used_at(), std::nullopt);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay, 1, 0, kT0 + 50); }));
  EXPECT_EQ(last_used_at(), std::optional<TimeMs>(kT0 + 50));
  // Not given: kept.
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay, 0, 1, std::nullopt); }));
  EXPECT_EQ(last_used_at(), std::optional<TimeMs>(kT0 + 50));
  // Given: replaced, even by an earlier time.
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay, 1, 0, kT0 + 20); }));
  EXPECT_EQ(last_used_at(), std::optional<TimeMs>(kT0 + 20));
}

TEST_P(StoreSuite, LastUsedIsTheLatestOverAllDays) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  auto last = [&] { return InRead(store(), [&](Tx& tx) { return tx.LastUsed(*org); }); };
  auto none = last();
  ASSERT_OK(none);
  EXPECT_EQ(*none, std::nullopt);
  // Rows without a time do not count.
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay, 0, 3, std::nullopt); }));
  none = last();
  ASSERT_OK(none);
  EXPECT_EQ(*none, std::nullopt);

  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    if (Status st = tx.AddUsage(*org, kDay, 1, 0, kT0 + 500); !st.ok()) return st;
    // The latest time may sit on an earlier day (the times are the caller's).
    if (Status st = tx.AddUsage(*org, kDay - 3, 1, 0, kT0 + 900); !st.ok()) return st;
    return tx.AddUsage(*org, kDay + 1, 1, 0, kT0 + 700);
  }));
  auto got = last();
  ASSERT_OK(got);
  EXPECT_EQ(*got, std::optional<TimeMs>(kT0 + 900));
  auto missing = InRead(store(), [&](Tx& tx) { return tx.LastUsed(*org + 100); });
  ASSERT_OK(missing);
  EXPECT_EQ(*missing, std::nullopt);
}

TEST_P(StoreSuite, UsageForMissingOrgIsNotFound) {
  EXPECT_STATUS(InWrite(store(), [](Tx& tx) { return tx.AddUsage(424242, kDay, 1, 0, kT0); }), 404,
                "NOT_FOUND");
  // The refusal leaves the transaction usable.
  ASSERT_OK(store().Write([](Tx& tx) -> Status {
    EXPECT_EQ(tx.AddUsage(424242, kDay, 1, 0, kT0).http_status(), 404);
    auto id = tx.InsertOrg(MakeOrg("Acme"));
    if (!id.ok()) return id.status();
    return tx.AddUsage(*id, kDay, 1, 0, kT0);
  }));
}

TEST_P(StoreSuite, UsageAndReportsRollBackWhenFnFails) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    if (Status st = tx.AddUsage(*org, kDay, 2, 1, kT0); !st.ok()) return st;
    return tx.PutReport(MakeReport(*org, "AAAA", 1));
  }));
  Status st = store().Write([&](Tx& tx) -> Status {
    if (Status s = tx.AddUsage(*org, kDay, 10, 10, kT0 + 10); !s.ok()) return s;
    if (Status s = tx.AddUsage(*org, kDay + 1, 10, 0, kT0 + 20); !s.ok()) return s;
    if (Status s = tx.PutReport(MakeReport(*org, "AAAA", 2)); !s.ok()) return s;
    if (Status s = tx.PutReport(MakeReport(*org, "BBBB", 3)); !s.ok()) return s;
    return Status::Invalid("CHANGED_MIND", "the caller gives up");
  });
  EXPECT_EQ(st.code(), "CHANGED_MIND");

  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto u = tx.GetUsage(*org, kDay);
    EXPECT_TRUE(u.ok());
    if (u.ok()) {
      EXPECT_EQ(Fields(*u),
                std::make_tuple(*org, kDay, int64_t{2}, int64_t{1}, std::optional<TimeMs>(kT0)));
    }
    auto next = tx.GetUsage(*org, kDay + 1);
    EXPECT_TRUE(next.ok() && next->used == 0 && !next->last_used_at);
    auto last = tx.LastUsed(*org);
    EXPECT_TRUE(last.ok() && *last == std::optional<TimeMs>(kT0));
    auto a = tx.GetReport(*org, "AAAA");
    EXPECT_TRUE(a.ok() && a->has_value());
    if (a.ok() && a->has_value()) {
      EXPECT_EQ(Fields(**a), Fields(MakeReport(*org, "AAAA", 1)));
    }
    auto b = tx.GetReport(*org, "BBBB");
    EXPECT_TRUE(b.ok() && !b->has_value());
    return Status::Ok();
  }));
}

TEST_P(StoreSuite, SupportContactIsNoneUntilPutThenReplacedAndDeleted) {
  auto none = InRead(store(), [](Tx& tx) { return tx.GetSupportContact(); });
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  // Deleting when there is none is no error.
  ASSERT_OK(store().Write([](Tx& tx) { return tx.DeleteSupportContact(); }));

  const SupportContactRecord first{"Example Support", "help@example.com", "", "", kT0, "prov"};
  ASSERT_OK(store().Write([&](Tx& tx) { return tx.PutSupportContact(first); }));
  auto got = InRead(store(), [](Tx& tx) { return tx.GetSupportContact(); });
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->name, "Example Support");
  EXPECT_EQ((*got)->email, "help@example.com");
  EXPECT_EQ((*got)->url, "");
  EXPECT_EQ((*got)->phone, "");
  EXPECT_EQ((*got)->updated_at, kT0);
  EXPECT_EQ((*got)->updated_by, "prov");

  // Put replaces every part (one row, never two).
  const SupportContactRecord second{
      "", "", "https://support.example.com/a?b=c&d", "+44 20 7946 0000", kT0 + 5, "other"};
  ASSERT_OK(store().Write([&](Tx& tx) { return tx.PutSupportContact(second); }));
  got = InRead(store(), [](Tx& tx) { return tx.GetSupportContact(); });
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->name, "");
  EXPECT_EQ((*got)->email, "");
  EXPECT_EQ((*got)->url, "https://support.example.com/a?b=c&d");
  EXPECT_EQ((*got)->phone, "+44 20 7946 0000");
  EXPECT_EQ((*got)->updated_at, kT0 + 5);
  EXPECT_EQ((*got)->updated_by, "other");

  // A rolled-back Put changes nothing.
  EXPECT_EQ(store()
                .Write([&](Tx& tx) -> Status {
                  if (Status s = tx.PutSupportContact(first); !s.ok()) return s;
                  return Status::Invalid("CHANGED_MIND", "roll back");
                })
                .code(),
            "CHANGED_MIND");
  got = InRead(store(), [](Tx& tx) { return tx.GetSupportContact(); });
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->updated_by, "other");

  ASSERT_OK(store().Write([](Tx& tx) { return tx.DeleteSupportContact(); }));
  got = InRead(store(), [](Tx& tx) { return tx.GetSupportContact(); });
  ASSERT_OK(got);
  EXPECT_FALSE(got->has_value());
}

TEST_P(StoreSuite, ConcurrentAddUsageLosesNoUpdate) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Counter")); });
  ASSERT_OK(org);
  constexpr int kThreads = 8, kIncrements = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrements; ++i) {
        Status st = store().Write(
            [&](Tx& tx) { return tx.AddUsage(*org, kDay, 1, 0, kT0 + t * kIncrements + i); });
        if (!st.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
  ASSERT_OK(got);
  EXPECT_EQ(got->used, kThreads * kIncrements);
  EXPECT_EQ(got->over_quota, 0);
  EXPECT_TRUE(got->last_used_at.has_value());
}

// ---------------------------------------------------------------------------------------------
// Reports

TEST_P(StoreSuite, ReportPutGetAndReplace) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  const std::string md5 = "0123456789ABCDEF0123456789ABCDEF";
  auto missing = InRead(store(), [&](Tx& tx) { return tx.GetReport(*org, md5); });
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());

  ReportRecord first = MakeReport(*org, md5, 1);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.PutReport(first); }));
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetReport(*org, md5); });
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Fields(**got), Fields(first));

  // Replacing changes every field; other reports are untouched.
  ReportRecord other = MakeReport(*org, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", 7);
  ReportRecord second = MakeReport(*org, md5, 4);
  second.report_json = std::string(100'000, 'x');  // large documents round-trip
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    if (Status st = tx.PutReport(other); !st.ok()) return st;
    if (Status st = tx.PutReport(second); !st.ok()) return st;
    auto in_tx = tx.GetReport(*org, md5);  // own uncommitted write
    if (!in_tx.ok()) return in_tx.status();
    EXPECT_TRUE(in_tx->has_value() && (*in_tx)->status == second.status);
    return Status::Ok();
  }));
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto r = tx.GetReport(*org, md5);
    EXPECT_TRUE(r.ok() && r->has_value());
    if (r.ok() && r->has_value()) {
      EXPECT_EQ(Fields(**r), Fields(second));
    }
    auto o = tx.GetReport(*org, other.md5);
    EXPECT_TRUE(o.ok() && o->has_value());
    if (o.ok() && o->has_value()) {
      EXPECT_EQ(Fields(**o), Fields(other));
    }
    return Status::Ok();
  }));
}

TEST_P(StoreSuite, ReportsOfAnotherOrgAreInvisible) {
  auto a = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("A")); });
  auto b = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("B")); });
  ASSERT_OK(a);
  ASSERT_OK(b);
  const std::string md5 = "D41D8CD98F00B204E9800998ECF8427E";
  ReportRecord ra = MakeReport(*a, md5, 1);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.PutReport(ra); }));
  auto seen_by_b = InRead(store(), [&](Tx& tx) { return tx.GetReport(*b, md5); });
  ASSERT_OK(seen_by_b);
  EXPECT_FALSE(seen_by_b->has_value());

  // The same file for B is a separate report; A's stays as it was.
  ReportRecord rb = MakeReport(*b, md5, 2);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.PutReport(rb); }));
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto ga = tx.GetReport(*a, md5);
    auto gb = tx.GetReport(*b, md5);
    EXPECT_TRUE(ga.ok() && ga->has_value() && gb.ok() && gb->has_value());
    if (ga.ok() && ga->has_value() && gb.ok() && gb->has_value()) {
      EXPECT_EQ(Fields(**ga), Fields(ra));
      EXPECT_EQ(Fields(**gb), Fields(rb));
    }
    return Status::Ok();
  }));
}

// PutReportWithUsage (PostgreSQL: one statement; SQLite: the default, two calls) does what
// PutReport and then AddUsage would.
TEST_P(StoreSuite, PutReportWithUsageStoresTheReportAndAddsTheUsage) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay, 2, 1, kT0); }));
  ASSERT_OK(InWrite(store(), [&](Tx& tx) {
    return tx.PutReportWithUsage(MakeReport(*org, "AAAA", 1), kDay, 1, kT0 + 50);
  }));
  ASSERT_OK(InWrite(store(), [&](Tx& tx) {
    return tx.PutReportWithUsage(MakeReport(*org, "BBBB", 2), kDay, 0, std::nullopt);
  }));
  ASSERT_OK(InWrite(store(), [&](Tx& tx) {
    return tx.PutReportWithUsage(MakeReport(*org, "AAAA", 3), kDay + 1, 0, kT0 + 90);
  }));
  auto u = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
  ASSERT_OK(u);
  EXPECT_EQ(Fields(*u),
            std::make_tuple(*org, kDay, int64_t{3}, int64_t{1}, std::optional<TimeMs>(kT0 + 50)));
  auto next = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay + 1); });
  ASSERT_OK(next);
  EXPECT_EQ(Fields(*next), std::make_tuple(*org, kDay + 1, int64_t{0}, int64_t{0},
                                           std::optional<TimeMs>(kT0 + 90)));
  for (const char* md5 : {"AAAA", "BBBB"}) {
    auto got = InRead(store(), [&](Tx& tx) { return tx.GetReport(*org, md5); });
    ASSERT_OK(got);
    ASSERT_TRUE(got->has_value()) << md5;
  }
  auto replaced = InRead(store(), [&](Tx& tx) { return tx.GetReport(*org, "AAAA"); });
  ASSERT_OK(replaced);
  EXPECT_EQ(Fields(**replaced), Fields(MakeReport(*org, "AAAA", 3)));
  // A missing organization: 404, nothing stored, and the transaction stays usable.
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    EXPECT_EQ(tx.PutReportWithUsage(MakeReport(424242, "CCCC", 4), kDay, 1, kT0).http_status(),
              404);
    return tx.AddUsage(*org, kDay, 0, 1, kT0);
  }));
  auto ghost = InRead(store(), [&](Tx& tx) { return tx.GetReport(424242, "CCCC"); });
  ASSERT_OK(ghost);
  EXPECT_FALSE(ghost->has_value());
}

TEST_P(StoreSuite, ReportForMissingOrgIsNotFound) {
  EXPECT_STATUS(InWrite(store(), [](Tx& tx) { return tx.PutReport(MakeReport(424242, "AB", 1)); }),
                404, "NOT_FOUND");
  // The refusal leaves the transaction usable, and stores nothing.
  auto org = InWrite(store(), [](Tx& tx) -> Result<OrgId> {
    EXPECT_EQ(tx.PutReport(MakeReport(424242, "AB", 1)).http_status(), 404);
    auto id = tx.InsertOrg(MakeOrg("Acme"));
    if (!id.ok()) return id.status();
    if (Status st = tx.PutReport(MakeReport(*id, "AB", 2)); !st.ok()) return st;
    return *id;
  });
  ASSERT_OK(org);
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetReport(*org, "AB"); });
  ASSERT_OK(got);
  EXPECT_TRUE(got->has_value());
  auto ghost = InRead(store(), [&](Tx& tx) { return tx.GetReport(424242, "AB"); });
  ASSERT_OK(ghost);
  EXPECT_FALSE(ghost->has_value());
}

// ---------------------------------------------------------------------------------------------
// Transactions

TEST_P(StoreSuite, WriteRollsBackWhenFnFails) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Keep")); });
  ASSERT_OK(org);
  Status st = store().Write([&](Tx& tx) -> Status {
    auto id = tx.InsertOrg(MakeOrg("Discard"));
    if (!id.ok()) return id.status();
    if (Status s = tx.InsertToken(MakeToken(*id, 1)); !s.ok()) return s;
    OrgRecord renamed = MakeOrg("Renamed");
    renamed.id = *org;
    if (Status s = tx.UpdateOrg(renamed); !s.ok()) return s;
    auto uid = tx.InsertUser(MakeUser("alice", Role::kOrgAdmin, *id));
    if (!uid.ok()) return uid.status();
    auto aid = tx.AppendAudit(MakeAudit(kT0, "alice", *id, "TOKEN_ADD"));
    if (!aid.ok()) return aid.status();
    return Status::Invalid("CHANGED_MIND", "the caller gives up");
  });
  EXPECT_EQ(st.http_status(), 400);
  EXPECT_EQ(st.code(), "CHANGED_MIND");  // fn's own status comes back
  EXPECT_EQ(st.message(), "the caller gives up");

  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto page = tx.ListOrgs("", 0, 100);
    EXPECT_TRUE(page.ok());
    if (page.ok()) {
      EXPECT_EQ(page->total, 1);
      EXPECT_EQ(Ids(page->items), std::vector<OrgId>{*org});
      if (!page->items.empty()) {
        EXPECT_EQ(page->items[0].name, "Keep");
      }
    }
    EXPECT_EQ(tx.GetOrgByName("Discard").status().http_status(), 404);
    auto users = tx.CountUsers();
    EXPECT_TRUE(users.ok() && *users == 0);
    auto audit = tx.ListAudit({});
    EXPECT_TRUE(audit.ok() && audit->empty());
    int tokens = 0;
    EXPECT_TRUE(tx.ForEachToken([&](const TokenRecord&, const OrgRecord&) { ++tokens; }).ok());
    EXPECT_EQ(tokens, 0);
    return Status::Ok();
  }));
}

TEST_P(StoreSuite, WriteSeesItsOwnChangesAndReadSeesCommittedData) {
  ASSERT_OK(store().Write([](Tx& tx) -> Status {
    auto id = tx.InsertOrg(MakeOrg("Acme"));
    if (!id.ok()) return id.status();
    auto got = tx.GetOrg(*id);  // own uncommitted insert
    if (!got.ok()) return got.status();
    EXPECT_EQ(got->name, "Acme");
    return tx.InsertToken(MakeToken(*id, 1));
  }));
  auto got = InRead(store(), [](Tx& tx) { return tx.GetOrgByName("Acme"); });
  ASSERT_OK(got);
  auto token = InRead(store(), [&](Tx& tx) { return tx.GetToken(got->id); });
  ASSERT_OK(token);
  EXPECT_TRUE(token->has_value());
}

TEST_P(StoreSuite, ReadWorksOnOneSnapshot) {
  ASSERT_OK(InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("First")); }));
  std::promise<void> first_read_done;
  std::promise<void> write_done;
  std::shared_future<void> write_done_f = write_done.get_future().share();
  int64_t before = -1, after = -1;
  bool second_visible = true;
  Status read_status;
  std::thread reader([&] {
    read_status = store().Read([&](Tx& tx) -> Status {
      auto p1 = tx.ListOrgs("", 0, 100);
      first_read_done.set_value();
      write_done_f.wait();
      if (!p1.ok()) return p1.status();
      before = p1->total;
      auto p2 = tx.ListOrgs("", 0, 100);
      if (!p2.ok()) return p2.status();
      after = p2->total;
      second_visible = tx.GetOrgByName("Second").ok();
      return Status::Ok();
    });
  });
  first_read_done.get_future().wait();
  Status write_status =
      InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Second")); }).status();
  write_done.set_value();
  reader.join();
  ASSERT_OK(write_status);  // a reader never blocks a writer
  ASSERT_OK(read_status);
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after, 1);
  EXPECT_FALSE(second_visible);
  auto now = InRead(store(), [](Tx& tx) { return tx.ListOrgs("", 0, 100); });
  ASSERT_OK(now);
  EXPECT_EQ(now->total, 2);
}

TEST_P(StoreSuite, MutatingInReadFailsWithInternal) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Acme")); });
  ASSERT_OK(org);
  auto user = InWrite(
      store(), [&](Tx& tx) { return tx.InsertUser(MakeUser("alice", Role::kOrgAdmin, *org)); });
  ASSERT_OK(user);
  OrgRecord o = MakeOrg("Renamed");
  o.id = *org;
  UserRecord u = MakeUser("bob", Role::kOrgAdmin, *org);
  u.id = *user;
  SessionRecord s = MakeSession(1, *user, kT0);

  const std::vector<std::pair<const char*, std::function<Status(Tx&)>>> calls = {
      {"InsertOrg", [](Tx& tx) { return tx.InsertOrg(MakeOrg("New")).status(); }},
      {"UpdateOrg", [&](Tx& tx) { return tx.UpdateOrg(o); }},
      {"InsertToken", [&](Tx& tx) { return tx.InsertToken(MakeToken(*org, 1)); }},
      {"ReplaceToken", [&](Tx& tx) { return tx.ReplaceToken(MakeToken(*org, 1)); }},
      {"DeleteToken", [&](Tx& tx) { return tx.DeleteToken(*org); }},
      {"InsertUser",
       [&](Tx& tx) { return tx.InsertUser(MakeUser("carol", Role::kOrgAdmin, *org)).status(); }},
      {"UpdateUser", [&](Tx& tx) { return tx.UpdateUser(u); }},
      {"DeleteUser", [&](Tx& tx) { return tx.DeleteUser(*user); }},
      {"InsertSession", [&](Tx& tx) { return tx.InsertSession(s); }},
      {"TouchSession", [&](Tx& tx) { return tx.TouchSession(s.id_hash, kT0); }},
      {"DeleteSession", [&](Tx& tx) { return tx.DeleteSession(s.id_hash); }},
      {"DeleteSessionsOfUser", [&](Tx& tx) { return tx.DeleteSessionsOfUser(*user); }},
      {"DeleteSessionsBefore", [&](Tx& tx) { return tx.DeleteSessionsBefore(kT0 + 1); }},
      {"AddUsage", [&](Tx& tx) { return tx.AddUsage(*org, kDay, 1, 1, kT0); }},
      {"PutReport", [&](Tx& tx) { return tx.PutReport(MakeReport(*org, "AB", 1)); }},
      {"AppendAudit",
       [](Tx& tx) { return tx.AppendAudit(MakeAudit(kT0, "x", std::nullopt, "Y")).status(); }},
  };
  for (const auto& entry : calls) {  // not a structured binding: clang 14 cannot capture one
    const auto& name = entry.first;
    const auto& call = entry.second;
    Status inner;
    Status outer = store().Read([&](Tx& tx) {
      inner = call(tx);
      return Status::Ok();  // even when fn ignores the error, Read reports it
    });
    EXPECT_EQ(inner.http_status(), 500) << name << ": " << inner.ToString();
    EXPECT_EQ(inner.code(), "INTERNAL") << name;
    EXPECT_FALSE(outer.ok()) << name;
  }

  // Nothing changed.
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto got = tx.GetOrg(*org);
    EXPECT_TRUE(got.ok() && got->name == "Acme");
    auto n = tx.CountUsers();
    EXPECT_TRUE(n.ok() && *n == 1);
    auto t = tx.GetToken(*org);
    EXPECT_TRUE(t.ok() && !t->has_value());
    auto a = tx.ListAudit({});
    EXPECT_TRUE(a.ok() && a->empty());
    auto usage = tx.GetUsage(*org, kDay);
    EXPECT_TRUE(usage.ok() && usage->used == 0 && usage->over_quota == 0);
    auto last = tx.LastUsed(*org);
    EXPECT_TRUE(last.ok() && !last->has_value());
    auto report = tx.GetReport(*org, "AB");
    EXPECT_TRUE(report.ok() && !report->has_value());
    return Status::Ok();
  }));
}

TEST_P(StoreSuite, ConcurrentWritesLoseNoUpdate) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Counter")); });
  ASSERT_OK(org);
  constexpr int kThreads = 8, kIncrements = 50;
  const int64_t start = MakeOrg("x").daily_allowance;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        Status st = store().Write([&](Tx& tx) -> Status {
          auto o = tx.GetOrg(*org);
          if (!o.ok()) return o.status();
          o->daily_allowance += 1;
          return tx.UpdateOrg(*o);
        });
        if (!st.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetOrg(*org); });
  ASSERT_OK(got);
  EXPECT_EQ(got->daily_allowance, start + kThreads * kIncrements);
}

TEST_P(StoreSuite, ConcurrentReadersSeeConsistentStateDuringWrites) {
  // Invariant kept by every Write: each organization has exactly one token.
  constexpr int kWriters = 2, kWritesEach = 20, kReaders = 4;
  std::atomic<bool> done{false};
  std::atomic<int> write_failures{0}, read_failures{0}, inconsistent{0}, reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kWritesEach; ++i) {
        int n = w * 1000 + i;
        Status st = store().Write([&](Tx& tx) -> Status {
          auto id = tx.InsertOrg(MakeOrg("org" + std::to_string(n)));
          if (!id.ok()) return id.status();
          return tx.InsertToken(MakeToken(*id, n));
        });
        if (!st.ok()) write_failures++;
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      while (!done.load()) {
        Status st = store().Read([&](Tx& tx) -> Status {
          auto page = tx.ListOrgs("", 0, 1);
          if (!page.ok()) return page.status();
          int64_t tokens = 0;
          if (Status s = tx.ForEachToken([&](const TokenRecord&, const OrgRecord&) { ++tokens; });
              !s.ok())
            return s;
          if (tokens != page->total) inconsistent++;
          return Status::Ok();
        });
        if (!st.ok()) read_failures++;
        reads++;
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done = true;
  for (size_t i = kWriters; i < threads.size(); ++i) threads[i].join();
  EXPECT_EQ(write_failures.load(), 0);
  EXPECT_EQ(read_failures.load(), 0);
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_GT(reads.load(), 0);
  auto page = InRead(store(), [](Tx& tx) { return tx.ListOrgs("", 0, 1); });
  ASSERT_OK(page);
  EXPECT_EQ(page->total, kWriters * kWritesEach);
}

TEST_P(StoreSuite, DataSurvivesCloseAndReopen) {
  OrgRecord org = MakeFullOrg("Durable");
  TokenRecord token;
  UserRecord user = MakeUser("alice", Role::kOrgAdmin, std::nullopt);
  SessionRecord session;
  AuditRecord audit = MakeAudit(kT0, "alice", std::nullopt, "LOGIN");
  ReportRecord report;
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    auto id = tx.InsertOrg(org);
    if (!id.ok()) return id.status();
    org.id = *id;
    token = MakeToken(org.id, 1);
    if (Status st = tx.InsertToken(token); !st.ok()) return st;
    user.org_id = org.id;
    auto uid = tx.InsertUser(user);
    if (!uid.ok()) return uid.status();
    user.id = *uid;
    session = MakeSession(1, user.id, kT0);
    if (Status st = tx.InsertSession(session); !st.ok()) return st;
    audit.org_id = org.id;
    auto aid = tx.AppendAudit(audit);
    if (!aid.ok()) return aid.status();
    audit.id = *aid;
    if (Status st = tx.AddUsage(org.id, kDay, 6, 2, kT0 + 3); !st.ok()) return st;
    report = MakeReport(org.id, "ABCDEF", 5);
    return tx.PutReport(report);
  }));

  Reopen();
  ASSERT_OK(store().Ping());
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto o = tx.GetOrg(org.id);
    EXPECT_TRUE(o.ok());
    if (o.ok()) {
      EXPECT_EQ(Fields(*o), Fields(org));
    }
    auto t = tx.GetToken(org.id);
    EXPECT_TRUE(t.ok() && t->has_value());
    if (t.ok() && t->has_value()) {
      EXPECT_EQ(Fields(**t), Fields(token));
    }
    auto u = tx.GetUser(user.id);
    EXPECT_TRUE(u.ok());
    if (u.ok()) {
      EXPECT_EQ(Fields(*u), Fields(user));
    }
    auto s = tx.GetSession(session.id_hash);
    EXPECT_TRUE(s.ok());
    if (s.ok()) {
      EXPECT_EQ(Fields(*s), Fields(session));
    }
    auto a = tx.ListAudit({});
    EXPECT_TRUE(a.ok() && a->size() == 1);
    if (a.ok() && a->size() == 1) {
      EXPECT_EQ(Fields((*a)[0]), Fields(audit));
    }
    auto usage = tx.GetUsage(org.id, kDay);
    EXPECT_TRUE(usage.ok());
    if (usage.ok()) {
      EXPECT_EQ(Fields(*usage), std::make_tuple(org.id, kDay, int64_t{6}, int64_t{2},
                                                std::optional<TimeMs>(kT0 + 3)));
    }
    auto r = tx.GetReport(org.id, report.md5);
    EXPECT_TRUE(r.ok() && r->has_value());
    if (r.ok() && r->has_value()) {
      EXPECT_EQ(Fields(**r), Fields(report));
    }
    return Status::Ok();
  }));

  // Ids keep increasing after a reopen.
  auto next = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("After")); });
  ASSERT_OK(next);
  EXPECT_GT(*next, org.id);
  auto next_audit = InWrite(
      store(), [](Tx& tx) { return tx.AppendAudit(MakeAudit(kT0, "x", std::nullopt, "Y")); });
  ASSERT_OK(next_audit);
  EXPECT_GT(*next_audit, audit.id);
}

TEST_P(StoreSuite, ConsumeUsageCountsUpToTheLimitAndNoFurther) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Quota")); });
  ASSERT_OK(org);
  for (int64_t i = 1; i <= 3; ++i) {
    auto r = InWrite(store(), [&](Tx& tx) { return tx.ConsumeUsage(*org, kDay, 3); });
    ASSERT_OK(r);
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ(**r, i);
  }
  auto full = InWrite(store(), [&](Tx& tx) { return tx.ConsumeUsage(*org, kDay, 3); });
  ASSERT_OK(full);
  EXPECT_FALSE(full->has_value());
  auto zero = InWrite(store(), [&](Tx& tx) { return tx.ConsumeUsage(*org, kDay + 1, 0); });
  ASSERT_OK(zero);
  EXPECT_FALSE(zero->has_value());
  auto u = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
  ASSERT_OK(u);
  EXPECT_EQ(u->used, 3);
  auto u2 = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay + 1); });
  ASSERT_OK(u2);
  EXPECT_EQ(u2->used, 0);
  // Other columns are kept; the other day is separate.
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.AddUsage(*org, kDay, 0, 2, kT0); }));
  auto u3 = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
  ASSERT_OK(u3);
  EXPECT_EQ(Fields(*u3),
            std::make_tuple(*org, kDay, int64_t{3}, int64_t{2}, std::optional<TimeMs>(kT0)));
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.ConsumeUsage(*org + 99, kDay, 3); }), 404,
                "NOT_FOUND");
  // The refusal leaves the transaction usable (no usage is kept for the missing organization).
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    EXPECT_EQ(tx.ConsumeUsage(*org + 99, kDay, 3).status().http_status(), 404);
    return tx.AddUsage(*org, kDay, 0, 1, kT0);
  }));
  auto u4 = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
  ASSERT_OK(u4);
  EXPECT_EQ(u4->over_quota, 3);
  auto ghost = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org + 99, kDay); });
  ASSERT_OK(ghost);
  EXPECT_EQ(ghost->used, 0);
}

// ConsumeAdmission (PostgreSQL: one statement; SQLite: the default, three calls) answers as
// ConsumeUsage then ConsumeRate would, and a rate refusal gives its count back.
TEST_P(StoreSuite, ConsumeAdmissionCountsTheDayAndTheRateOrGivesTheCountBack) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Admit")); });
  ASSERT_OK(org);
  const TimeMs now = SystemClock()->now();
  auto admit = [&](int64_t day, int64_t limit, int64_t per_second) {
    return InWrite(store(), [&](Tx& tx) {
      return tx.ConsumeAdmission(*org, day, limit, per_second, 1'000'000, now);
    });
  };
  for (int64_t i = 1; i <= 3; ++i) {
    auto a = admit(kDay, 3, 1'000'000);
    ASSERT_OK(a);
    ASSERT_TRUE(a->used.has_value());
    EXPECT_EQ(*a->used, i);
    EXPECT_TRUE(a->rate.admitted);
  }
  auto full = admit(kDay, 3, 1'000'000);
  ASSERT_OK(full);
  EXPECT_FALSE(full->used.has_value()) << "the allowance is full";
  auto zero = admit(kDay + 5, 0, 1'000'000);
  ASSERT_OK(zero);
  EXPECT_FALSE(zero->used.has_value()) << "a zero allowance admits nothing";
  auto u = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
  ASSERT_OK(u);
  EXPECT_EQ(u->used, 3);

  // 2 per second: admitted until the window is full; the refusal keeps nothing.
  int64_t admitted = 0;
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    auto a = admit(kDay + 1, 100, 2);
    ASSERT_OK(a);
    ASSERT_TRUE(a->used.has_value());
    if (a->rate.admitted) {
      ++admitted;
      EXPECT_EQ(*a->used, admitted);
    } else {
      refused = true;
      EXPECT_FALSE(a->rate.hour);
      EXPECT_GT(a->rate.reset_ms, 0);
      EXPECT_LE(a->rate.reset_ms, 1000);
    }
  }
  EXPECT_TRUE(refused);
  auto day2 = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay + 1); });
  ASSERT_OK(day2);
  EXPECT_EQ(day2->used, admitted) << "a refused admission gave its count back";
  auto no_rate = admit(kDay + 2, 100, 0);
  ASSERT_OK(no_rate);
  EXPECT_FALSE(no_rate->rate.admitted) << "a zero rate admits nothing";
  auto day3 = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay + 2); });
  ASSERT_OK(day3);
  EXPECT_EQ(day3->used, 0);

  // A missing organization: 404, and the transaction stays usable.
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    EXPECT_EQ(tx.ConsumeAdmission(*org + 99, kDay, 3, 5, 1000, now).status().http_status(), 404);
    return tx.AddUsage(*org, kDay, 0, 1, kT0);
  }));
}

// Pipelined calls (Tx::Send*, GroupCommitter's StagedWrite; PostgreSQL: one round trip for all
// of them; SQLite: the plain calls at once): each answer is the plain call's, in the order sent,
// and a rate refusal among them changes nothing that a later call could see.
TEST_P(StoreSuite, PipelinedCallsAnswerAsThePlainCallsWouldInTheOrderSent) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Piped")); });
  ASSERT_OK(org);
  auto other = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Hourly")); });
  ASSERT_OK(other);
  const TimeMs now = SystemClock()->now();
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    const Tx::Ticket a1 = tx.SendAdmission(*org, kDay, 2, 1'000'000, 1'000'000, now);
    const Tx::Ticket r1 = tx.SendReportWithUsage(MakeReport(*org, "AAAA", 1), kDay, 0, kT0 + 5);
    const Tx::Ticket a2 = tx.SendAdmission(*org, kDay, 2, 1'000'000, 1'000'000, now);
    const Tx::Ticket a3 = tx.SendAdmission(*org, kDay, 2, 1'000'000, 1'000'000, now);
    const Tx::Ticket ghost = tx.SendAdmission(*org + 99, kDay, 2, 1'000'000, 1'000'000, now);
    const Tx::Ticket ghost_report =
        tx.SendReportWithUsage(MakeReport(*org + 99, "BBBB", 2), kDay, 1, kT0);
    // One an hour: the second is refused and changes nothing, so the third (a higher allowance
    // would not matter) is refused as well, and the fourth, on a full day, is not asked.
    const Tx::Ticket h1 = tx.SendAdmission(*other, kDay, 2, 1'000'000, 1, now);
    const Tx::Ticket h2 = tx.SendAdmission(*other, kDay, 2, 1'000'000, 1, now);
    const Tx::Ticket h3 = tx.SendAdmission(*other, kDay, 3, 1'000'000, 1, now);
    const Tx::Ticket h4 = tx.SendAdmission(*other, kDay, 1, 1'000'000, 1, now);
    const Tx::Ticket zero = tx.SendAdmission(*other, kDay + 1, 0, 1'000'000, 1, now);
    auto first = tx.TakeAdmission(a1);
    if (!first.ok()) return first.status();
    EXPECT_EQ(first->used, std::optional<int64_t>(1));
    EXPECT_TRUE(first->rate.admitted);
    if (Status st = tx.TakeReportWithUsage(r1); !st.ok()) return st;
    auto second = tx.TakeAdmission(a2);
    if (!second.ok()) return second.status();
    EXPECT_EQ(second->used, std::optional<int64_t>(2));
    auto third = tx.TakeAdmission(a3);
    if (!third.ok()) return third.status();
    EXPECT_FALSE(third->used.has_value()) << "the allowance was full";
    EXPECT_EQ(tx.TakeAdmission(ghost).status().http_status(), 404);
    EXPECT_EQ(tx.TakeReportWithUsage(ghost_report).http_status(), 404);
    auto hourly = tx.TakeAdmission(h1);
    if (!hourly.ok()) return hourly.status();
    EXPECT_EQ(hourly->used, std::optional<int64_t>(1));
    EXPECT_TRUE(hourly->rate.admitted);
    for (Tx::Ticket t : {h2, h3}) {
      auto refused = tx.TakeAdmission(t);
      if (!refused.ok()) return refused.status();
      EXPECT_EQ(refused->used, std::optional<int64_t>(2)) << "the count it would have had";
      EXPECT_FALSE(refused->rate.admitted);
      EXPECT_TRUE(refused->rate.hour);
    }
    auto full = tx.TakeAdmission(h4);
    if (!full.ok()) return full.status();
    EXPECT_FALSE(full->used.has_value());
    auto none = tx.TakeAdmission(zero);
    if (!none.ok()) return none.status();
    EXPECT_FALSE(none->used.has_value()) << "a zero allowance admits nothing";
    // The transaction stays usable after the 404s.
    return tx.AddUsage(*org, kDay, 0, 1, std::nullopt);
  }));
  auto u = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
  ASSERT_OK(u);
  EXPECT_EQ(Fields(*u),
            std::make_tuple(*org, kDay, int64_t{2}, int64_t{1}, std::optional<TimeMs>(kT0 + 5)));
  auto h = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*other, kDay); });
  ASSERT_OK(h);
  EXPECT_EQ(h->used, 1) << "the refused admissions kept nothing";
  auto rep = InRead(store(), [&](Tx& tx) { return tx.GetReport(*org, "AAAA"); });
  ASSERT_OK(rep);
  ASSERT_TRUE(rep->has_value());
  EXPECT_EQ(Fields(**rep), Fields(MakeReport(*org, "AAAA", 1)));
}

// PostgreSQL merges a pipeline's admissions of one organization into one statement, and its
// reports of one file; the answers and the stored state are still those of the calls one after
// the other: a report that changes the count between two admissions is seen by the second, the
// per-second window admits exactly its room, and the last report of a file is the one stored,
// with the last use given last.
TEST_P(StoreSuite, PipelinedCallsOfOneOrganizationCountAsIfOneAfterAnother) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Busy")); });
  ASSERT_OK(org);
  auto second = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Bursty")); });
  ASSERT_OK(second);
  const TimeMs now = SystemClock()->now();
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    std::vector<Tx::Ticket> t;
    t.push_back(tx.SendAdmission(*org, kDay, 3, 1'000'000, 1'000'000, now));
    const Tx::Ticket counted =
        tx.SendReportWithUsage(MakeReport(*org, "CCCC", 1), kDay, 1, kT0 + 1);
    t.push_back(tx.SendAdmission(*org, kDay, 3, 1'000'000, 1'000'000, now));
    t.push_back(tx.SendAdmission(*org, kDay, 3, 1'000'000, 1'000'000, now));
    std::vector<std::optional<int64_t>> used;
    for (Tx::Ticket x : t) {
      auto a = tx.TakeAdmission(x);
      if (!a.ok()) return a.status();
      used.push_back(a->used);
    }
    EXPECT_EQ(used, (std::vector<std::optional<int64_t>>{1, 3, std::nullopt}))
        << "the report's count came between the first and the second";
    return tx.TakeReportWithUsage(counted);
  }));
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    // Three a second: the first three of five are admitted, the other two refused by the second.
    std::vector<Tx::Ticket> t;
    for (int i = 0; i < 5; ++i)
      t.push_back(tx.SendAdmission(*second, kDay, 100, 3, 1'000'000, now));
    const Tx::Ticket first =
        tx.SendReportWithUsage(MakeReport(*second, "DDDD", 1), kDay, 0, kT0 + 7);
    const Tx::Ticket last =
        tx.SendReportWithUsage(MakeReport(*second, "DDDD", 2), kDay, 0, std::nullopt);
    // The same file's report with another day's usage, then one with no usage (a rule worker's):
    // the one sent last is the one stored.
    const Tx::Ticket next_day =
        tx.SendReportWithUsage(MakeReport(*second, "DDDD", 4), kDay + 1, 0, kT0 + 9);
    const Tx::Ticket rules = tx.SendReport(MakeReport(*second, "DDDD", 3));
    const Tx::Ticket ghost = tx.SendReport(MakeReport(*second + 99, "DDDD", 3));
    for (int i = 0; i < 5; ++i) {
      auto a = tx.TakeAdmission(t[i]);
      if (!a.ok()) return a.status();
      EXPECT_EQ(a->rate.admitted, i < 3) << i;
      EXPECT_EQ(a->used, std::optional<int64_t>(std::min(i, 3) + 1)) << i;
      if (i >= 3) {
        EXPECT_FALSE(a->rate.hour);
        EXPECT_GT(a->rate.reset_ms, 0);
        EXPECT_LE(a->rate.reset_ms, 1000);
      }
    }
    if (Status st = tx.TakeReportWithUsage(first); !st.ok()) return st;
    if (Status st = tx.TakeReportWithUsage(next_day); !st.ok()) return st;
    if (Status st = tx.TakeReport(rules); !st.ok()) return st;
    EXPECT_EQ(tx.TakeReport(ghost).http_status(), 404);
    return tx.TakeReportWithUsage(last);
  }));
  auto b2 = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*second, kDay + 1); });
  ASSERT_OK(b2);
  EXPECT_EQ(Fields(*b2), std::make_tuple(*second, kDay + 1, int64_t{0}, int64_t{0},
                                         std::optional<TimeMs>(kT0 + 9)));
  auto u = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*org, kDay); });
  ASSERT_OK(u);
  EXPECT_EQ(u->used, 3);
  auto b = InRead(store(), [&](Tx& tx) { return tx.GetUsage(*second, kDay); });
  ASSERT_OK(b);
  EXPECT_EQ(Fields(*b),
            std::make_tuple(*second, kDay, int64_t{3}, int64_t{0}, std::optional<TimeMs>(kT0 + 7)));
  auto rep = InRead(store(), [&](Tx& tx) { return tx.GetReport(*second, "DDDD"); });
  ASSERT_OK(rep);
  ASSERT_TRUE(rep->has_value());
  EXPECT_EQ(Fields(**rep), Fields(MakeReport(*second, "DDDD", 3)));
}

TEST_P(StoreSuite, ConsumeRateForMissingOrgIsNotFoundAndLeavesTheTransactionUsable) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Rate")); });
  ASSERT_OK(org);
  const TimeMs now = SystemClock()->now();
  ASSERT_OK(store().Write([&](Tx& tx) -> Status {
    EXPECT_EQ(tx.ConsumeRate(*org + 99, 5, 1000, now).status().http_status(), 404);
    auto r = tx.ConsumeRate(*org, 5, 1000, now);
    if (!r.ok()) return r.status();
    EXPECT_TRUE(r->admitted);
    return Status::Ok();
  }));
}

TEST_P(StoreSuite, ConcurrentConsumeUsageNeverExceedsTheLimit) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Race")); });
  ASSERT_OK(org);
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto r = InWrite(store(), [&](Tx& tx) { return tx.ConsumeUsage(*org, kDay, 50); });
        if (r.ok() && r->has_value()) accepted++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 50);
}

// Cluster-wide rates (quota/cluster_limits.h). PostgreSQL counts in windows of its own clock, so
// on it calls may straddle window boundaries (a loaded machine may cross several): the check calls
// until the first refusal, which must come from the per-second window.
TEST_P(StoreSuite, ConsumeRateAdmitsUpToEachWindowsLimitAndRefusalsChangeNothing) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Rate")); });
  ASSERT_OK(org);
  const TimeMs now = SystemClock()->now();
  const bool own_clock = GetParam().name == "Postgres";
  int admitted = 0;
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    auto r = InWrite(store(), [&](Tx& tx) { return tx.ConsumeRate(*org, 2, 1000, now); });
    ASSERT_OK(r);
    if (r->admitted) {
      admitted++;
    } else {
      refused = true;
      EXPECT_FALSE(r->hour);
      EXPECT_GT(r->reset_ms, 0);
      EXPECT_LE(r->reset_ms, 1000);
    }
  }
  EXPECT_TRUE(refused);
  if (own_clock) {
    EXPECT_GE(admitted, 2);
  } else {
    EXPECT_EQ(admitted, 2) << "one window: the caller's clock";
  }
  // The per-hour window: the admissions above count in it too; refusals did not.
  auto other = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Hourly")); });
  ASSERT_OK(other);
  for (int i = 0; i < 3; ++i) {
    auto r = InWrite(store(), [&](Tx& tx) { return tx.ConsumeRate(*other, 1000, 3, now); });
    ASSERT_OK(r);
    EXPECT_TRUE(r->admitted) << i;
  }
  auto r = InWrite(store(), [&](Tx& tx) { return tx.ConsumeRate(*other, 1000, 3, now); });
  ASSERT_OK(r);
  EXPECT_FALSE(r->admitted);
  EXPECT_TRUE(r->hour);
  EXPECT_GT(r->reset_ms, 0);
  EXPECT_LE(r->reset_ms, 3'600'000);
  auto zero = InWrite(store(), [&](Tx& tx) { return tx.ConsumeRate(*other, 0, 3, now); });
  ASSERT_OK(zero);
  EXPECT_FALSE(zero->admitted);
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.ConsumeRate(*org + 99, 5, 5, now); }), 404,
                "NOT_FOUND");
}

TEST_P(StoreSuite, ExchangeThrottleAddsCountsResetsStaleOnesAndReadsTheLargest) {
  const TimeMs t = kT0;
  auto ex = [&](std::vector<ThrottleCount> d, TimeMs now, int max_rows = 10) {
    return InWrite(
        store(), [&](Tx& tx) { return tx.ExchangeThrottle("scope-a", d, now, 60'000, max_rows); });
  };
  auto r = ex({{"10.0.0.1", 3, t}, {"10.0.0.2", 1, t}}, t);
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].key, "10.0.0.1");
  EXPECT_EQ((*r)[0].count, 3);
  // Another node adds its counts; the latest attempt wins.
  r = ex({{"10.0.0.1", 2, t + 10}}, t + 20);
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].count, 5);
  EXPECT_EQ((*r)[0].last, t + 10);
  // Another scope is separate.
  auto b = InWrite(store(), [&](Tx& tx) {
    return tx.ExchangeThrottle("scope-b", {{"10.0.0.1", 1, t}}, t, 60'000, 10);
  });
  ASSERT_OK(b);
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*b)[0].count, 1);
  // The largest first, at most max_rows.
  r = ex({}, t + 30, 1);
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].key, "10.0.0.1");
  // A window later: 10.0.0.2 expired; 10.0.0.1 starts again from the delta.
  r = ex({{"10.0.0.1", 1, t + 60'015}}, t + 60'012);
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].key, "10.0.0.1");
  EXPECT_EQ((*r)[0].count, 1);
  auto n = InRead(store(), [&](Tx& tx) { return tx.LiveNodes(); });
  ASSERT_OK(n);
  EXPECT_GE(*n, 0);
}

TEST_P(StoreSuite, RecordChangeCommitsWithTheWriteAndIsRefusedInRead) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Changed")); });
  ASSERT_OK(org);
  auto a = InWrite(store(), [&](Tx& tx) { return tx.RecordChange(*org); });
  ASSERT_OK(a);
  auto b = InWrite(store(), [&](Tx& tx) { return tx.RecordChange(*org); });
  ASSERT_OK(b);
  EXPECT_GT(*a, 0);
  EXPECT_GT(*b, *a);  // changes are ordered
  auto horizon = store().ChangeHorizon();
  ASSERT_OK(horizon);
  EXPECT_EQ(*horizon, *b);
  EXPECT_STATUS(InRead(store(), [&](Tx& tx) { return tx.RecordChange(*org); }), 500, "INTERNAL");
}

// Issue 20: the leak policy and last report per organization; a missing row is the default.
TEST_P(StoreSuite, LeakRecordDefaultsRoundTripsAndGoesWithItsOrg) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Leaky")); });
  ASSERT_OK(org);
  auto none = InRead(store(), [&](Tx& tx) { return tx.GetLeak(*org); });
  ASSERT_OK(none);
  LeakRecord def;
  def.org_id = *org;
  EXPECT_EQ(Fields(*none), Fields(def));
  EXPECT_EQ(none->policy, domain::LeakPolicy::kRevoke);

  LeakRecord full;
  full.org_id = *org;
  full.policy = domain::LeakPolicy::kNotify;
  full.reported_at = kT0 + 7;
  full.url = "https://github.com/acme/app/blob/abc/config.py#L3 \xe2\x80\x94 'x' \"y\"";
  full.source = "commit";
  full.action = "NOTIFIED";
  full.token_last4 = "Ab9Z";
  ASSERT_OK(store().Write([&](Tx& tx) { return tx.PutLeak(full); }));
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetLeak(*org); });
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(full));

  // Replaced in place; a cleared report reads back as cleared.
  LeakRecord cleared;
  cleared.org_id = *org;
  cleared.policy = domain::LeakPolicy::kNotify;
  ASSERT_OK(store().Write([&](Tx& tx) { return tx.PutLeak(cleared); }));
  got = InRead(store(), [&](Tx& tx) { return tx.GetLeak(*org); });
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(cleared));

  // A write that fails rolls the row back with it.
  EXPECT_FALSE(store()
                   .Write([&](Tx& tx) -> Status {
                     if (Status s = tx.PutLeak(full); !s.ok()) return s;
                     return Status::Conflict("NO", "roll back");
                   })
                   .ok());
  got = InRead(store(), [&](Tx& tx) { return tx.GetLeak(*org); });
  ASSERT_OK(got);
  EXPECT_EQ(Fields(*got), Fields(cleared));

  // No row for an organization that does not exist.
  LeakRecord ghost;
  ghost.org_id = 424242;
  EXPECT_STATUS(store().Write([&](Tx& tx) { return tx.PutLeak(ghost); }), 404, "NOT_FOUND");
  int rows = 0;
  ASSERT_OK(store().Read([&](Tx& tx) {
    return tx.ForEachLeak([&](const LeakRecord&) {
      ++rows;
      return Status::Ok();
    });
  }));
  EXPECT_EQ(rows, 1);
}

// Fills a store with every kind of row, including values that stress encodings.
void FillForCopy(Store& s) {
  ASSERT_OK(s.Write([&](Tx& tx) -> Status {
    for (int i = 0; i < 30; ++i) {
      OrgRecord o =
          i % 2 ? MakeFullOrg("Full " + std::to_string(i)) : MakeOrg("Org " + std::to_string(i));
      auto id = tx.InsertOrg(o);
      if (!id.ok()) return id.status();
      if (i % 3 != 0) {
        if (Status st = tx.InsertToken(MakeToken(*id, i)); !st.ok()) return st;
      }
      UserRecord u = MakeUser("user" + std::to_string(i), Role::kOrgAdmin, *id);
      auto uid = tx.InsertUser(u);
      if (!uid.ok()) return uid.status();
      if (i % 4 == 0) {
        if (Status st = tx.InsertSession(MakeSession(i, *uid, kT0 + i)); !st.ok()) return st;
      }
      if (Status st = tx.AddUsage(*id, kDay, i, i / 2,
                                  i % 5 ? std::optional<TimeMs>(kT0 + i) : std::nullopt);
          !st.ok())
        return st;
      if (i % 5 == 0) {
        if (Status st = tx.PutReport(MakeReport(*id, "MD5X" + std::to_string(i), i)); !st.ok())
          return st;
      }
      if (i % 4 == 0) {
        LeakRecord l;
        l.org_id = *id;
        l.policy = i % 8 ? domain::LeakPolicy::kNotify : domain::LeakPolicy::kRevoke;
        if (i % 8 == 0) {
          l.reported_at = kT0 + i;
          l.url = "https://github.com/o/r/blob/main/\xc3\xa9'" + std::to_string(i);
          l.source = "commit";
          l.action = "REVOKED";
          l.token_last4 = "ab" + std::to_string(10 + i);
        }
        if (Status st = tx.PutLeak(l); !st.ok()) return st;
      }
      auto aid = tx.AppendAudit(MakeAudit(kT0 + i, "user" + std::to_string(i),
                                          i % 2 ? std::optional<OrgId>(*id) : std::nullopt,
                                          "ACTION" + std::to_string(i)));
      if (!aid.ok()) return aid.status();
    }
    auto admin = tx.InsertUser(MakeUser("provider", Role::kProviderAdmin, std::nullopt));
    if (!admin.ok()) return admin.status();
    // Webhooks (issue 20): an organization's endpoint (rotated) and a provider-wide one, with
    // messages in every state; one is claimed (a claim is not copied).
    auto orgs = tx.ListOrgs("", 0, 1);
    if (!orgs.ok()) return orgs.status();
    for (int i = 0; i < 2; ++i) {
      WebhookEndpoint e;
      if (i == 0) e.org_id = orgs->items.front().id;
      e.url = "https://hooks.example.com/" + std::to_string(i) + "?q=\xc3\xa9";
      e.events = "token.added,quota.warning";
      e.description = "d\xc3\xa9" + std::to_string(i);
      e.seed = Hash(100 + i);
      if (i == 0) {
        e.old_seed = Hash(200);
        e.old_until = kT0 + 7;
      }
      e.created_at = kT0 + i;
      if (i == 1) e.failing_since = kT0 + 9;
      auto id = tx.InsertWebhookEndpoint(e);
      if (!id.ok()) return id.status();
      for (int k = 0; k < 3; ++k) {
        OutboxMessage m;
        m.endpoint_id = *id;
        m.msg_id = "msg_" + std::to_string(i) + std::to_string(k);
        m.event = "quota.warning";
        m.payload = "{\"k\":" + std::to_string(k) + "}";
        m.dedupe_key = k ? "quota.warning:1:" + std::to_string(k) : "";
        m.created_at = kT0 + k;
        m.next_attempt_at = kT0 + k;
        if (Status st = tx.InsertOutbox(m).status(); !st.ok()) return st;
      }
    }
    auto claimed = tx.ClaimOutbox(kT0 + 5, kT0 + 60000, 10);
    if (!claimed.ok()) return claimed.status();
    for (OutboxMessage m : *claimed) {
      if (m.msg_id != "msg_00") continue;  // msg_10 stays claimed
      m.state = "delivered";
      m.attempts = 2;
      m.last_status = 204;
      m.last_latency_ms = 12;
      m.delivered_at = kT0 + 8;
      m.claimed_until = 0;
      if (Status st = tx.UpdateOutbox(m); !st.ok()) return st;
    }
    return tx.PutSupportContact({"Support \u00e9quipe", "help@example.com",
                                 "https://help.example.com/x?y=1", "+1 555 0100", kT0 + 99,
                                 "provider"});
  }));
  // Gaps in the ids (a rolled-back insert, a deleted row) must survive a copy.
  EXPECT_FALSE(s.Write([&](Tx& tx) -> Status {
                  (void)tx.InsertOrg(MakeOrg("rolled back"));
                  return Status::Conflict("NO", "roll back");
                }).ok());
}

// Every row of a store, in a comparable form.
struct Dump {
  std::vector<decltype(Fields(OrgRecord{}))> orgs;
  std::vector<decltype(Fields(TokenRecord{}))> tokens;
  std::vector<decltype(Fields(UserRecord{}))> users;
  std::vector<decltype(Fields(SessionRecord{}))> sessions;
  std::vector<decltype(Fields(UsageRecord{}))> usage;
  std::vector<decltype(Fields(ReportRecord{}))> reports;
  std::vector<decltype(Fields(AuditRecord{}))> audit;
  std::vector<decltype(Fields(LeakRecord{}))> leaks;
  std::vector<decltype(Fields(WebhookEndpoint{}))> endpoints;
  std::vector<decltype(Fields(OutboxMessage{}))> outbox;
  std::optional<std::tuple<std::string, std::string, std::string, std::string, TimeMs, std::string>>
      support_contact;
  bool operator==(const Dump&) const = default;
};

Dump DumpAll(Store& s) {
  Dump d;
  EXPECT_OK(s.Read([&](Tx& tx) -> Status {
    EXPECT_OK(tx.ForEachOrg([&](const OrgRecord& o) {
      d.orgs.push_back(Fields(o));
      return Status::Ok();
    }));
    EXPECT_OK(tx.ForEachToken(
        [&](const TokenRecord& t, const OrgRecord&) { d.tokens.push_back(Fields(t)); }));
    EXPECT_OK(tx.ForEachUser([&](const UserRecord& u) {
      d.users.push_back(Fields(u));
      return Status::Ok();
    }));
    EXPECT_OK(tx.ForEachSession([&](const SessionRecord& x) {
      d.sessions.push_back(Fields(x));
      return Status::Ok();
    }));
    EXPECT_OK(tx.ForEachUsage([&](const UsageRecord& x) {
      d.usage.push_back(Fields(x));
      return Status::Ok();
    }));
    EXPECT_OK(tx.ForEachReport([&](const ReportRecord& x) {
      d.reports.push_back(Fields(x));
      return Status::Ok();
    }));
    EXPECT_OK(tx.ForEachAudit([&](const AuditRecord& x) {
      d.audit.push_back(Fields(x));
      return Status::Ok();
    }));
    EXPECT_OK(tx.ForEachLeak([&](const LeakRecord& x) {
      d.leaks.push_back(Fields(x));
      return Status::Ok();
    }));
    EXPECT_OK(tx.ForEachWebhookEndpoint([&](const WebhookEndpoint& x) {
      d.endpoints.push_back(Fields(x));
      return Status::Ok();
    }));
    EXPECT_OK(tx.ForEachOutbox([&](const OutboxMessage& x) {
      d.outbox.push_back(Fields(x));
      return Status::Ok();
    }));
    auto c = tx.GetSupportContact();
    EXPECT_OK(c);
    if (c.ok() && c->has_value()) {
      const SupportContactRecord& r = **c;
      d.support_contact =
          std::make_tuple(r.name, r.email, r.url, r.phone, r.updated_at, r.updated_by);
    }
    return Status::Ok();
  }));
  return d;
}

TEST_P(StoreSuite, CopyStoreCopiesEveryRowAndRefusesANonEmptyTarget) {
  FillForCopy(store());
  const std::string other_dir = scratch_dir_ + "/copy";
  std::filesystem::create_directories(other_dir);
  auto other = GetParam().open(other_dir);
  ASSERT_NE(other, nullptr);
  std::vector<std::string> tables;
  ASSERT_OK(
      CopyStore(store(), *other, [&](const std::string& t, int64_t) { tables.push_back(t); }));
  EXPECT_EQ(tables.size(), 11u);
  Dump a = DumpAll(store()), b = DumpAll(*other);
  EXPECT_EQ(a.endpoints.size(), 2u);
  ASSERT_EQ(a.outbox.size(), 6u);
  // A claim is not copied (nobody delivers on the target yet); everything else is.
  int claimed = 0;
  for (auto& m : a.outbox) {
    if (std::get<10>(m) != 0) ++claimed;
    std::get<10>(m) = 0;
  }
  EXPECT_EQ(claimed, 1);
  EXPECT_TRUE(a.endpoints == b.endpoints);
  EXPECT_TRUE(a.outbox == b.outbox);
  ASSERT_TRUE(a.support_contact.has_value());
  EXPECT_EQ(std::get<1>(*a.support_contact), "help@example.com");
  EXPECT_EQ(a.orgs.size(), 30u);
  EXPECT_EQ(a.tokens.size(), 20u);
  EXPECT_EQ(a.users.size(), 31u);
  EXPECT_EQ(a.sessions.size(), 8u);
  EXPECT_EQ(a.reports.size(), 6u);
  EXPECT_EQ(a.audit.size(), 30u);
  EXPECT_EQ(a.leaks.size(), 8u);
  EXPECT_TRUE(a == b) << "the copy differs from the original";
  // The audit chain is copied as it is, so the copy verifies too.
  auto chain = VerifyAuditChain(*other, "");
  ASSERT_OK(chain);
  EXPECT_EQ(chain->records, 30);
  EXPECT_TRUE(chain->problems.empty()) << chain->problems.front();

  // New ids in the copy continue after the copied ones.
  auto next = InWrite(*other, [](Tx& tx) { return tx.InsertOrg(MakeOrg("After copy")); });
  ASSERT_OK(next);
  EXPECT_GT(*next, std::get<0>(a.orgs.back()));
  auto next_user = InWrite(*other, [](Tx& tx) {
    return tx.InsertUser(MakeUser("after", Role::kProviderAdmin, std::nullopt));
  });
  ASSERT_OK(next_user);
  EXPECT_GT(*next_user, std::get<0>(a.users.back()));
  WebhookEndpoint later;
  later.url = "https://hooks.example.com/later";
  later.events = "token.added";
  later.seed = Hash(300);
  later.created_at = kT0;
  auto next_ep = InWrite(*other, [&](Tx& tx) { return tx.InsertWebhookEndpoint(later); });
  ASSERT_OK(next_ep);
  EXPECT_GT(*next_ep, std::get<0>(a.endpoints.back()));

  // A second copy into the now non-empty target is refused and changes nothing.
  EXPECT_STATUS(CopyStore(store(), *other, nullptr), 409, "STORE_NOT_EMPTY");
  other.reset();
  if (GetParam().cleanup) GetParam().cleanup(other_dir);
}

TEST_P(StoreSuite, AuditRecordsFormAKeyedChainThatVerifies) {
  store().SetAuditKey(std::string(32, 'k'));
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    auto id = InWrite(store(), [&](Tx& tx) {
      return tx.AppendAudit(MakeAudit(kT0 + i, "alice", std::nullopt, "A" + std::to_string(i)));
    });
    ASSERT_OK(id);
    ids.push_back(*id);
  }
  // A rolled-back append leaves the chain as it was.
  EXPECT_FALSE(store()
                   .Write([&](Tx& tx) -> Status {
                     (void)tx.AppendAudit(MakeAudit(kT0, "x", std::nullopt, "ROLLED_BACK"));
                     return Status::Conflict("NO", "roll back");
                   })
                   .ok());
  auto all = InRead(store(), [](Tx& tx) {
    AuditFilter f;
    f.limit = 100;
    return tx.ListAudit(f);
  });
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 5u);
  std::string prev = AuditChainGenesis();
  for (auto it = all->rbegin(); it != all->rend(); ++it) {  // oldest first
    EXPECT_EQ(it->prev_chain, prev) << "record " << it->id;
    EXPECT_EQ(it->chain.size(), kAuditChainBytes);
    EXPECT_EQ(it->chain, AuditChainHash(std::string(32, 'k'), prev, *it));
    prev = it->chain;
  }
  auto ok = VerifyAuditChain(store(), std::string(32, 'k'));
  ASSERT_OK(ok);
  EXPECT_EQ(ok->records, 5);
  EXPECT_TRUE(ok->problems.empty()) << ok->problems.front();
  EXPECT_EQ(ok->head_id, ids.back());
  // Another key (a forger without the key file) matches nothing.
  auto wrong = VerifyAuditChain(store(), std::string(32, 'x'));
  ASSERT_OK(wrong);
  EXPECT_EQ(wrong->problems.size(), 5u);
}

TEST_P(StoreSuite, PingAnswers) { EXPECT_OK(store().Ping()); }

// The contract read caches rely on (store/stamped_cache.h): the stamp moves with every commit,
// whoever makes it, and reads leave it. A backend may instead answer nullopt (nothing is cached).
TEST_P(StoreSuite, ChangeStampMovesWithEveryCommitFromAnyConnection) {
  const std::optional<uint64_t> s0 = store().ChangeStamp();
  if (!s0) GTEST_SKIP() << "this backend offers no change stamp (nothing is cached)";
  EXPECT_EQ(store().ChangeStamp(), s0);
  ASSERT_OK(InRead(store(), [](Tx& tx) { return tx.CountUsers(); }));
  EXPECT_EQ(store().ChangeStamp(), s0) << "a read is not a change";
  ASSERT_OK(InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Mine")); }));
  const std::optional<uint64_t> s1 = store().ChangeStamp();
  ASSERT_TRUE(s1);
  EXPECT_GT(*s1, *s0) << "this store's own commit";

  // Another handle on the same data: the CLI next to a running server, or another node.
  std::unique_ptr<Store> other = GetParam().open(scratch_dir_);
  ASSERT_NE(other, nullptr);
  const std::optional<uint64_t> opened = store().ChangeStamp();  // opening may migrate
  ASSERT_TRUE(opened);
  EXPECT_EQ(store().ChangeStamp(), opened);
  ASSERT_OK(InWrite(*other, [](Tx& tx) { return tx.InsertOrg(MakeOrg("Theirs")); }));
  const std::optional<uint64_t> s2 = store().ChangeStamp();
  ASSERT_TRUE(s2);
  EXPECT_GT(*s2, *opened) << "another connection's commit";
  EXPECT_EQ(store().ChangeStamp(), s2);
}

}  // namespace
}  // namespace sandgate::store

// ---------------------------------------------------------------------------------------------
// Webhooks (issue 20): endpoints and the outbox.

namespace sandgate::store {
namespace {

TEST_P(StoreSuite, WebhookOutboxClaimsTheOldestDueMessagePerEndpoint) {
  auto org = InWrite(store(), [](Tx& tx) { return tx.InsertOrg(MakeOrg("Hooked")); });
  ASSERT_OK(org);
  WebhookEndpoint e;
  e.org_id = *org;
  e.url = "https://hooks.example.com/a";
  e.events = "token.added,token.deleted";
  e.description = "first";
  e.seed = std::string("\x00\x01\xff", 3) + std::string(29, 'x');
  e.created_at = kT0;
  auto a = InWrite(store(), [&](Tx& tx) { return tx.InsertWebhookEndpoint(e); });
  ASSERT_OK(a);
  WebhookEndpoint wide = e;
  wide.org_id = std::nullopt;
  wide.url = "https://hooks.example.com/b";
  auto b = InWrite(store(), [&](Tx& tx) { return tx.InsertWebhookEndpoint(wide); });
  ASSERT_OK(b);
  auto got = InRead(store(), [&](Tx& tx) { return tx.GetWebhookEndpoint(*a); });
  ASSERT_OK(got);
  EXPECT_EQ(got->seed, e.seed);
  EXPECT_EQ(got->old_seed, "");
  EXPECT_EQ(got->org_id, *org);
  EXPECT_EQ(got->events, e.events);
  auto mine = InRead(store(), [&](Tx& tx) { return tx.ListWebhookEndpoints(*org); });
  ASSERT_OK(mine);
  ASSERT_EQ(mine->size(), 1u);
  auto provider = InRead(store(), [&](Tx& tx) { return tx.ListWebhookEndpoints(std::nullopt); });
  ASSERT_OK(provider);
  ASSERT_EQ(provider->size(), 1u);
  EXPECT_EQ(provider->front().id, *b);

  auto msg = [&](int64_t ep, const std::string& id, const std::string& dedupe = "") {
    OutboxMessage m;
    m.endpoint_id = ep;
    m.msg_id = id;
    m.event = "token.added";
    m.payload = "{}";
    m.dedupe_key = dedupe;
    m.created_at = kT0;
    m.next_attempt_at = kT0;
    return m;
  };
  for (const char* id : {"a1", "a2"})
    ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertOutbox(msg(*a, id)); }));
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.InsertOutbox(msg(*b, "b1", "k")); }));
  auto again = InWrite(store(), [&](Tx& tx) { return tx.InsertOutbox(msg(*b, "b2", "k")); });
  ASSERT_OK(again);
  EXPECT_FALSE(*again);  // the dedupe key fires once per endpoint
  auto due = InRead(store(), [&](Tx& tx) { return tx.OutboxDue(kT0); });
  ASSERT_OK(due);
  EXPECT_TRUE(*due);

  // One message per endpoint, the oldest; claimed ones are not claimed twice.
  auto first = InWrite(store(), [&](Tx& tx) { return tx.ClaimOutbox(kT0, kT0 + 60000, 10); });
  ASSERT_OK(first);
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].msg_id, "a1");
  EXPECT_EQ((*first)[1].msg_id, "b1");
  auto none = InWrite(store(), [&](Tx& tx) { return tx.ClaimOutbox(kT0 + 1, kT0 + 60000, 10); });
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
  // a1 fails and is retried later: a2 still waits behind it (order per endpoint).
  OutboxMessage a1 = (*first)[0];
  a1.attempts = 1;
  a1.claimed_until = 0;
  a1.next_attempt_at = kT0 + 5000;
  a1.last_error = "refused";
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.UpdateOutbox(a1); }));
  auto waiting =
      InWrite(store(), [&](Tx& tx) { return tx.ClaimOutbox(kT0 + 10, kT0 + 60000, 10); });
  ASSERT_OK(waiting);
  EXPECT_TRUE(waiting->empty());
  // Nothing is due while a2 waits behind a1's retry and b1 is being delivered.
  auto idle = InRead(store(), [&](Tx& tx) { return tx.OutboxDue(kT0 + 10); });
  ASSERT_OK(idle);
  EXPECT_FALSE(*idle);
  auto retry_due = InRead(store(), [&](Tx& tx) { return tx.OutboxDue(kT0 + 5000); });
  ASSERT_OK(retry_due);
  EXPECT_TRUE(*retry_due);
  auto retry =
      InWrite(store(), [&](Tx& tx) { return tx.ClaimOutbox(kT0 + 5000, kT0 + 65000, 10); });
  ASSERT_OK(retry);
  ASSERT_EQ(retry->size(), 1u);
  EXPECT_EQ((*retry)[0].msg_id, "a1");
  EXPECT_EQ((*retry)[0].attempts, 1);
  EXPECT_EQ((*retry)[0].last_error, "refused");
  a1 = (*retry)[0];
  a1.state = "delivered";
  a1.delivered_at = kT0 + 5001;
  a1.claimed_until = 0;
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.UpdateOutbox(a1); }));
  auto next = InWrite(store(), [&](Tx& tx) { return tx.ClaimOutbox(kT0 + 5002, kT0 + 65000, 10); });
  ASSERT_OK(next);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].msg_id, "a2");
  // A restart of the only node releases its claims.
  auto released = InWrite(store(), [&](Tx& tx) { return tx.ReleaseOutboxClaims(); });
  ASSERT_OK(released);
  EXPECT_EQ(*released, 2);  // a2 and b1
  auto list = InRead(store(), [&](Tx& tx) { return tx.ListOutbox(*a, 10); });
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].msg_id, "a2");  // newest first
  EXPECT_EQ((*list)[1].state, "delivered");
  // Rotation keeps the previous seed; deleting takes the messages along.
  got->old_seed = got->seed;
  got->old_until = kT0 + 1;
  got->seed = std::string(32, 'n');
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.UpdateWebhookEndpoint(*got); }));
  auto rotated = InRead(store(), [&](Tx& tx) { return tx.GetWebhookEndpoint(*a); });
  ASSERT_OK(rotated);
  EXPECT_EQ(rotated->old_seed, e.seed);
  EXPECT_EQ(rotated->old_until, kT0 + 1);
  ASSERT_OK(InWrite(store(), [&](Tx& tx) { return tx.DeleteWebhookEndpoint(*a); }));
  EXPECT_STATUS(InRead(store(), [&](Tx& tx) { return tx.GetWebhookEndpoint(*a); }), 404,
                "NOT_FOUND");
  EXPECT_STATUS(InWrite(store(), [&](Tx& tx) { return tx.DeleteWebhookEndpoint(*a); }), 404,
                "NOT_FOUND");
  auto gone = InRead(store(), [&](Tx& tx) { return tx.ListOutbox(*a, 10); });
  ASSERT_OK(gone);
  EXPECT_TRUE(gone->empty());
}

}  // namespace
}  // namespace sandgate::store
