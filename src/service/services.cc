#include "service/services.h"

#include <sodium.h>

#include <cassert>
#include <optional>

#include "common/utf8.h"
#include "domain/audit_actions.h"
#include "metrics/sandgate_metrics.h"
#include "notify/webhook.h"
#include "service/services_internal.h"
#include "token/token_format.h"

// The core of Services: the token index, audit records, views, and Mutate (load, decide, apply and
// audit in one transaction, then the index). The operations live in services_*.cc by concern.
namespace sandgate::service {

using domain::Action;
using domain::Role;
using store::AuditRecord;
using store::OrgRecord;
using store::TokenRecord;
using store::Tx;

namespace internal {
namespace {

// Code points a name may not carry: C0/C1 controls and DEL, and the invisible formatting
// characters that reorder or hide text where the name is shown (bidirectional embeddings,
// overrides and isolates such as U+202E, marks, zero-width characters, the BOM).
bool ForbiddenInName(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
         (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

}  // namespace

bool ValidNameText(const std::string& s) { return ValidUtf8Without(s, ForbiddenInName); }

Status NotFound() { return Status::NotFound("NOT_FOUND", "No such organization or resource."); }

}  // namespace internal

using internal::NotFound;

Actor Actor::Cli() {
  return Actor{"cli", domain::Caller{Role::kProviderAdmin, std::nullopt}, "", false};
}

Services::Services(std::shared_ptr<store::Store> store, std::shared_ptr<token::Keyring> keys,
                   std::shared_ptr<Clock> clock, Settings settings)
    : store_(std::move(store)),
      keys_(std::move(keys)),
      clock_(std::move(clock)),
      settings_(std::move(settings)),
      index_(keys_) {}

domain::OrgState Services::StateOf(const OrgRecord& org, bool has_token) {
  return domain::OrgState{org.id,    org.subscription,      org.ends_at,
                          has_token, org.provider_disabled, org.disable_reason};
}

Status Services::LoadIndex() {
  std::lock_guard<std::mutex> lock(write_mu_);
  index_.Clear();
  // One pass over the tokens with their organizations. Organizations without a token need no
  // entry: every change that gives one a token also sets its state (see Mutate).
  return store_->Read([&](Tx& tx) {
    return tx.ForEachToken([&](const TokenRecord& t, const OrgRecord& o) {
      index_.PutOrg(StateOf(o, true));
      index_.PutToken(t.org_id, t.lookup_hash, t.last4);
    });
  });
}

Status Services::RefreshIndex(const std::vector<OrgId>& orgs) {
  std::lock_guard<std::mutex> lock(write_mu_);  // orders refreshes with this node's own changes
  struct Entry {
    OrgId id;
    std::optional<OrgRecord> org;
    std::optional<TokenRecord> token;
  };
  std::vector<Entry> entries;
  Status st = store_->Read([&](Tx& tx) -> Status {
    for (OrgId id : orgs) {
      Entry e{id, std::nullopt, std::nullopt};
      auto o = tx.GetOrg(id);
      if (!o.ok() && !o.status().IsNotFound()) return o.status();
      if (o.ok()) {
        e.org = *o;
        auto t = tx.GetToken(id);
        if (!t.ok()) return t.status();
        e.token = *t;
      }
      entries.push_back(std::move(e));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;  // nothing applied: the follower retries from the same point
  for (const Entry& e : entries) {
    if (!e.org) {
      index_.RemoveToken(e.id);
      continue;
    }
    index_.PutOrg(StateOf(*e.org, e.token.has_value()));
    if (e.token) {
      index_.PutToken(e.id, e.token->lookup_hash, e.token->last4);
    } else {
      index_.RemoveToken(e.id);
    }
  }
  return Status::Ok();
}

AuditRecord Services::AuditBase(const Actor& a, std::optional<OrgId> org, const std::string& action,
                                TimeMs now) const {
  // Every action is in the one table the portal reads (domain/audit_actions.h).
  assert(domain::FindAuditAction(action) != nullptr);
  AuditRecord r;
  r.ts = now;
  r.actor = a.name;
  // "system" and "secret-scanning" (issue 20) are reserved usernames: what no user did.
  r.actor_role = a.anonymous ? ""
                 : a.name == "system" || a.name == "secret-scanning"
                     ? "SYSTEM"
                     : std::string(domain::ToString(a.caller.role));
  r.org_id = org;
  r.action = action;
  r.outcome = "ALLOWED";
  r.client_addr = a.client_addr;
  r.request_id = a.request_id;
  return r;
}

Status Services::Audit(const Actor& a, std::optional<OrgId> org, const std::string& action,
                       const std::string& outcome, const std::string& detail) {
  AuditRecord r = AuditBase(a, org, action, clock_->now());
  r.outcome = outcome;
  r.detail = detail;
  return store_->Write([&](Tx& tx) { return tx.AppendAudit(r).status(); });
}

Status Services::BuildView(Tx& tx, const OrgRecord& org, const std::optional<TokenRecord>& tok,
                           const domain::Caller& caller, TimeMs now, TokenView* out) const {
  auto last = tx.LastUsed(org.id);
  if (!last.ok()) return last.status();
  auto leak = tx.GetLeak(org.id);
  if (!leak.ok()) return leak.status();
  FillView(OrgSnapshot{org, tok, *last, std::move(leak).value()}, caller, now, out);
  return Status::Ok();
}

void Services::FillView(const OrgSnapshot& snap, const domain::Caller& caller, TimeMs now,
                        TokenView* out) {
  TokenView& v = *out;
  v.last_used = snap.last_used;
  v.leak = snap.leak;
  v.org = snap.org;
  v.token = snap.token;
  v.now = now;
  domain::OrgState state = StateOf(snap.org, snap.token.has_value());
  v.subscription = domain::EffectiveSubscription(state, now);
  v.status = domain::TokenStatusAt(state, now);
  v.allowed = domain::AllowedActions(state, caller, now);
}

TokenRecord Services::NewToken(OrgId org, const std::string& by, TimeMs now) const {
  std::string text = token::Generate();
  TokenRecord t;
  t.org_id = org;
  t.lookup_hash = keys_->LookupHash(text);
  t.sealed = keys_->Seal(text, &t.key_id);
  t.last4 = token::Last4(text);
  t.created_at = now;
  t.last_modified_by = by;
  t.last_modified_on = now;
  sodium_memzero(text.data(), text.size());  // only the hash and the sealed copy leave
  return t;
}

void Services::IndexUpdate::PutToken(const TokenRecord& t) {
  token_op = TokenOp::kPut;
  lookup_hash = t.lookup_hash;
  last4 = t.last4;
}

void Services::ApplyIndex(OrgId org, const IndexUpdate& u) {
  if (before_index_update_for_test) before_index_update_for_test(org);
  if (u.state) index_.PutOrg(*u.state);
  switch (u.token_op) {
    case IndexUpdate::TokenOp::kPut:
      index_.PutToken(org, u.lookup_hash, u.last4);
      break;
    case IndexUpdate::TokenOp::kRemove:
      index_.RemoveToken(org);
      break;
    case IndexUpdate::TokenOp::kNone:
      break;
  }
}

Result<TokenView> Services::Mutate(const Actor& a, OrgId org_id, Action action,
                                   const std::string& audit_action, const ApplyFn& apply,
                                   bool audit_refusal) {
  std::unique_lock<std::mutex> lock(write_mu_);
  const TimeMs now = clock_->now();
  Status refusal;
  bool org_exists = false;
  int64_t change_seq = 0;
  std::string refused_fp;
  IndexUpdate update;
  TokenView view;
  Status st = store_->Write([&](Tx& tx) -> Status {
    auto org = tx.GetOrg(org_id);
    if (!org.ok()) {
      if (org.status().IsNotFound()) refusal = NotFound();
      return org.status().IsNotFound() ? NotFound() : org.status();
    }
    org_exists = true;
    auto tok = tx.GetToken(org_id);
    if (!tok.ok()) return tok.status();
    domain::OrgState state = StateOf(*org, tok->has_value());
    if (action == Action::kReportLeak) {  // the only rule that reads the leak policy
      auto leak = tx.GetLeak(org_id);
      if (!leak.ok()) return leak.status();
      state.leak_policy = leak->policy;
    }
    domain::Decision d = domain::Decide(state, a.caller, action, now);
    if (!d.allowed()) {
      refusal = d.status;
      if (tok->has_value()) refused_fp = (*tok)->last4;
      return d.status;
    }
    AuditRecord rec = AuditBase(a, org_id, audit_action, now);
    if (tok->has_value()) rec.token_fp = (*tok)->last4;
    Status s = apply(tx, *org, *tok, d, rec, update);
    if (!s.ok()) return s;
    // The index always learns the organization's state with any change, so it needs to hold only
    // organizations that have a token (LoadIndex) and stays right for the others.
    if (!update.state) update.state = StateOf(*org, tok->has_value());
    auto id = tx.AppendAudit(rec);
    if (!id.ok()) return id.status();
    // Webhooks: the event goes to the outbox in this transaction (issue 20).
    if (Status ev = notify::EnqueueForAudit(tx, *org, rec, now); !ev.ok()) return ev;
    // Other nodes (several on one database) refresh this organization from the change log.
    auto seq = tx.RecordChange(org_id);
    if (!seq.ok()) return seq.status();
    change_seq = *seq;
    return BuildView(tx, *org, *tok, a.caller, now, &view);
  });
  if (st.ok()) {
    ApplyIndex(org_id, update);
    lock.unlock();
    metrics::CountTokenAction(action);
    // The change is in this node's index; return only once every other node has it too (or has
    // stopped trusting its index), so the old token is refused everywhere from now on.
    metrics::ScopedTimer waited(store_->Shared() ? metrics::PropagationTimer() : nullptr);
    if (Status p = store_->AwaitPropagation(change_seq, settings_.node_id); !p.ok()) return p;
    return view;
  }
  if (!refusal.ok() && audit_refusal) {
    // A refused authorization is audited; the refusal stands even if that write fails.
    AuditRecord rec =
        AuditBase(a, org_exists ? std::optional<OrgId>(org_id) : std::nullopt, audit_action, now);
    rec.outcome = refusal.code();
    rec.token_fp = refused_fp;
    if (!org_exists) rec.detail = "org " + std::to_string(org_id);
    store_->Write([&](Tx& tx) { return tx.AppendAudit(rec).status(); }).IgnoreError();
  }
  return st;
}

Result<std::vector<AuditRecord>> Services::ListAudit(const Actor& a, store::AuditFilter f) {
  const bool provider = a.caller.role == Role::kProviderAdmin;
  if (!provider) {
    if (!a.caller.org_id) return NotFound();
    f.org_id = a.caller.org_id;  // organization users see their own organization only
    // Read-only users may not read it (domain rule); the refusal is audited like the others.
    domain::OrgState st;
    st.org_id = *a.caller.org_id;
    domain::Decision d = domain::Decide(st, a.caller, domain::Action::kReadAudit, clock_->now());
    if (!d.allowed()) {
      Audit(a, a.caller.org_id, "AUDIT_READ", d.status.code()).IgnoreError();
      return d.status;
    }
  }
  std::vector<AuditRecord> out;
  Status st = store_->Read([&](Tx& tx) -> Status {
    auto r = tx.ListAudit(f);
    if (!r.ok()) return r.status();
    out = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  // What the organization sees of the provider's side matches its token page, which says that
  // and why the provider disabled the token but not who or from where: provider records (a
  // provider admin, the CLI, the system's threshold) show the actor "provider", no address.
  if (!provider) {
    for (AuditRecord& r : out) {
      if (r.actor == "secret-scanning" && r.actor_role == "SYSTEM") {
        r.client_addr.clear();  // a leak report (issue 20): the organization sees who acted
        continue;
      }
      if (r.actor_role == "PROVIDER_ADMIN" || r.actor_role == "SYSTEM") {
        r.actor = "provider";
        r.actor_role = "PROVIDER";
        r.client_addr.clear();
      }
    }
  }
  return out;
}

}  // namespace sandgate::service
