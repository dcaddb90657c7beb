#include "service/services.h"
#include "service/services_internal.h"

// Services: the provider's organizations (create, list, query, overview, patch), subscriptions
// and disable/enable.
namespace sandgate::service {

using domain::Action;
using domain::Role;
using internal::NotFound;
using internal::ValidNameText;
using store::AuditRecord;
using store::OrgRecord;
using store::TokenRecord;
using store::Tx;

namespace {

constexpr int64_t kMaxNameLength = 200;

bool ValidName(const std::string& name) {
  if (name.empty() || static_cast<int64_t>(name.size()) > kMaxNameLength) return false;
  if (!ValidNameText(name)) return false;
  return name.front() != ' ' && name.back() != ' ';
}

}  // namespace

Result<TokenView> Services::CreateOrg(const Actor& a, const std::string& name) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  if (!ValidName(name))
    return Status::Invalid("INVALID_NAME",
                           "An organization name is 1 to 200 bytes of printable UTF-8 text, "
                           "without leading or trailing spaces, control or bidirectional "
                           "formatting characters.");
  std::lock_guard<std::mutex> lock(write_mu_);
  const TimeMs now = clock_->now();
  TokenView view;
  OrgRecord org;
  Status st = store_->Write([&](Tx& tx) -> Status {
    org.name = name;
    org.created_at = now;
    auto id = tx.InsertOrg(org);
    if (!id.ok()) return id.status();
    org.id = *id;
    AuditRecord rec = AuditBase(a, org.id, "ORG_CREATE", now);
    rec.detail = name;
    auto aid = tx.AppendAudit(rec);
    if (!aid.ok()) return aid.status();
    return BuildView(tx, org, std::nullopt, a.caller, now, &view);
  });
  if (!st.ok()) return st;
  index_.PutOrg(StateOf(org, false));
  return view;
}

Result<store::OrgPage> Services::ListOrgs(const Actor& a, const std::string& search, int64_t offset,
                                          int64_t limit) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  store::OrgPage page;
  Status st = store_->Read([&](Tx& tx) -> Status {
    auto r = tx.ListOrgs(search, offset, limit);
    if (!r.ok()) return r.status();
    page = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return page;
}

Result<store::OrgRowPage> Services::QueryOrgs(const Actor& a, const store::OrgQuery& q) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  store::OrgRowPage page;
  Status st = store_->Read([&](Tx& tx) -> Status {
    auto r = tx.QueryOrgs(q);
    if (!r.ok()) return r.status();
    page = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return page;
}

Result<store::OrgOverviewRecord> Services::OrgOverview(const Actor& a, TimeMs now, int64_t day,
                                                       TimeMs expiring_before, int days,
                                                       int top_n) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  store::OrgOverviewRecord out;
  Status st = store_->Read([&](Tx& tx) -> Status {
    auto r = tx.OrgOverview(now, day, expiring_before, days, top_n);
    if (!r.ok()) return r.status();
    out = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::map<OrgId, std::string>> Services::OrgNames(const Actor& a,
                                                        const std::vector<OrgId>& ids) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  std::map<OrgId, std::string> out;
  Status st = store_->Read([&](Tx& tx) -> Status {
    for (OrgId id : ids) {
      if (out.count(id)) continue;
      auto org = tx.GetOrg(id);
      if (org.ok())
        out[id] = org->name;
      else if (!org.status().IsNotFound())
        return org.status();
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<TokenView> Services::PatchOrg(const Actor& a, OrgId org_id, const OrgPatch& p) {
  if (p.name && !ValidName(*p.name))
    return Status::Invalid("INVALID_NAME",
                           "An organization name is 1 to 200 bytes of printable UTF-8 text, "
                           "without leading or trailing spaces, control or bidirectional "
                           "formatting characters.");
  for (const auto* v :
       {&p.daily_allowance, &p.rate_per_second, &p.rate_per_hour, &p.disable_threshold}) {
    if (*v && (**v < 0 || **v > 1'000'000'000))
      return Status::Invalid("INVALID_SETTING",
                             "Quota settings are whole numbers from 0 to 1000000000.");
  }
  return Mutate(a, org_id, Action::kManageOrg, "ORG_UPDATE",
                [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>&, const domain::Decision&,
                    AuditRecord& rec, IndexUpdate&) -> Status {
                  // Each change as "key: old → new", separated by "; " (the console shows it).
                  std::string detail;
                  auto add = [&](const char* n, const std::string& from, const std::string& to) {
                    if (!detail.empty()) detail += "; ";
                    detail += std::string(n) + ": " + from + " \u2192 " + to;
                  };
                  if (p.name) {
                    if (*p.name != org.name) add("name", org.name, *p.name);
                    org.name = *p.name;
                  }
                  auto set = [&](const std::optional<int64_t>& v, int64_t& field, const char* n) {
                    if (!v) return;
                    if (*v != field) add(n, std::to_string(field), std::to_string(*v));
                    field = *v;
                  };
                  set(p.daily_allowance, org.daily_allowance, "dailyAllowance");
                  set(p.rate_per_second, org.rate_per_second, "ratePerSecond");
                  set(p.rate_per_hour, org.rate_per_hour, "ratePerHour");
                  set(p.disable_threshold, org.disable_threshold, "disableThreshold");
                  if (p.leak_policy) {
                    auto leak = tx.GetLeak(org.id);
                    if (!leak.ok()) return leak.status();
                    if (leak->policy != *p.leak_policy) {
                      add("leakPolicy", std::string(domain::ToString(leak->policy)),
                          std::string(domain::ToString(*p.leak_policy)));
                      leak->policy = *p.leak_policy;
                      if (Status s = tx.PutLeak(*leak); !s.ok()) return s;
                    }
                  }
                  rec.detail = detail;
                  return tx.UpdateOrg(org);
                });
}

Result<TokenView> Services::ChangeSubscription(const Actor& a, OrgId org_id, Action action,
                                               std::optional<TimeMs> ends_at) {
  const TimeMs now = clock_->now();
  if (action != Action::kActivate && action != Action::kExpire && action != Action::kRenew)
    return Status::Invalid("INVALID_ACTION", "The action is one of activate, expire, renew.");
  if (action == Action::kExpire && ends_at)
    return Status::Invalid("INVALID_END_DATE", "Expire takes no end date.");
  if (ends_at && *ends_at <= now)
    return Status::Invalid("INVALID_END_DATE", "The end date must be in the future.");
  const char* audit = action == Action::kActivate ? "SUBSCRIPTION_ACTIVATE"
                      : action == Action::kExpire ? "SUBSCRIPTION_EXPIRE"
                                                  : "SUBSCRIPTION_RENEW";
  return Mutate(a, org_id, action, audit,
                [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>& tok,
                    const domain::Decision& d, AuditRecord& rec, IndexUpdate& u) -> Status {
                  if (action == Action::kExpire) {
                    org.subscription = domain::Subscription::kExpired;
                    org.ends_at = std::nullopt;
                  } else {
                    org.subscription = domain::Subscription::kActive;
                    org.ends_at = ends_at;
                  }
                  rec.detail = ends_at ? "endsAt=" + FormatIso8601(*ends_at) : "";
                  Status s = tx.UpdateOrg(org);
                  if (!s.ok()) return s;
                  if (d.provision_token) {
                    // Rule 2: the first activation provisions an enabled token, modified by
                    // "system".
                    TokenRecord t = NewToken(org.id, "system", now);
                    s = tx.InsertToken(t);
                    if (!s.ok()) return s;
                    AuditRecord prov =
                        AuditBase(Actor{"system", {Role::kProviderAdmin, std::nullopt}, "", false},
                                  org.id, "TOKEN_PROVISION", now);
                    prov.token_fp = t.last4;
                    auto pid = tx.AppendAudit(prov);
                    if (!pid.ok()) return pid.status();
                    u.PutToken(t);
                    tok = std::move(t);
                  }
                  u.state = StateOf(org, tok.has_value());
                  return Status::Ok();
                });
}

Result<TokenView> Services::DisableToken(const Actor& a, OrgId org_id, domain::DisableReason reason,
                                         const std::string& note) {
  if (note.size() > 1000)
    return Status::Invalid("INVALID_NOTE", "The note is at most 1000 characters.");
  return Mutate(a, org_id, Action::kDisable, "TOKEN_DISABLE",
                [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>& tok,
                    const domain::Decision&, AuditRecord& rec, IndexUpdate& u) -> Status {
                  org.provider_disabled = true;
                  org.disable_reason = reason;
                  org.disable_note = note;
                  org.disabled_at = clock_->now();
                  org.disabled_by = a.name;
                  rec.detail = std::string(domain::ToString(reason));
                  Status s = tx.UpdateOrg(org);
                  if (!s.ok()) return s;
                  u.state = StateOf(org, tok.has_value());
                  return Status::Ok();
                });
}

Result<TokenView> Services::EnableToken(const Actor& a, OrgId org_id) {
  return Mutate(a, org_id, Action::kEnable, "TOKEN_ENABLE",
                [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>& tok,
                    const domain::Decision&, AuditRecord&, IndexUpdate& u) -> Status {
                  org.provider_disabled = false;
                  org.disable_reason = domain::DisableReason::kOther;
                  org.disable_note.clear();
                  org.disabled_at = std::nullopt;
                  org.disabled_by.clear();
                  Status s = tx.UpdateOrg(org);
                  if (!s.ok()) return s;
                  u.state = StateOf(org, tok.has_value());
                  return Status::Ok();
                });
}

}  // namespace sandgate::service
