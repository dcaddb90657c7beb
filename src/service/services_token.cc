#include <sodium.h>

#include <optional>

#include "notify/webhook.h"
#include "service/services.h"
#include "service/services_internal.h"
#include "token/token_format.h"

// Services: an organization's token (read, reveal, add, regenerate, delete) and reports of leaked
// tokens (issue 20).
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

// A new token replaces the one a leak report was about: the token page's notice goes (the policy
// stays).
Status ClearLeakReport(Tx& tx, OrgId org) {
  auto leak = tx.GetLeak(org);
  if (!leak.ok()) return leak.status();
  if (!leak->reported_at) return Status::Ok();
  store::LeakRecord cleared;
  cleared.org_id = org;
  cleared.policy = leak->policy;
  return tx.PutLeak(cleared);
}

// Printable text (ValidNameText) of at most `max` bytes.
bool ValidReportText(const std::string& s, size_t max) {
  return s.size() <= max && ValidNameText(s);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The organization's token.

Result<std::shared_ptr<const Services::CachedOrg>> Services::ReadOrg(OrgId org_id) {
  return read_cache_.GetOrRead(store_->ChangeStamp(), org_id,
                               [&] { return ReadOrgFromStore(org_id); });
}

Result<std::shared_ptr<const Services::CachedOrg>> Services::ReadOrgFromStore(OrgId org_id) {
  auto fresh = std::make_shared<CachedOrg>();
  OrgSnapshot& snap = fresh->snap;
  Status st = store_->Read([&](Tx& tx) -> Status {
    auto org = tx.GetOrg(org_id);
    if (!org.ok()) return org.status().IsNotFound() ? NotFound() : org.status();
    auto tok = tx.GetToken(org_id);
    if (!tok.ok()) return tok.status();
    auto last = tx.LastUsed(org_id);
    if (!last.ok()) return last.status();
    auto leak = tx.GetLeak(org_id);
    if (!leak.ok()) return leak.status();
    snap.leak = std::move(leak).value();
    snap.org = std::move(org).value();
    snap.token = std::move(tok).value();
    snap.last_used = *last;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (snap.token) snap.token->sealed.clear();
  return std::shared_ptr<const CachedOrg>(std::move(fresh));
}

Status Services::AuthorizeRead(const Actor& a, const OrgSnapshot& snap, TimeMs now) {
  domain::Decision d =
      domain::Decide(StateOf(snap.org, snap.token.has_value()), a.caller, Action::kRead, now);
  if (!d.allowed())
    Audit(a, std::nullopt, "TOKEN_READ", d.status.code(), "org " + std::to_string(snap.org.id))
        .IgnoreError();
  return d.status;
}

Result<TokenView> Services::ReadToken(const Actor& a, OrgId org_id) {
  const TimeMs now = clock_->now();
  auto cached = ReadOrg(org_id);
  if (!cached.ok()) return cached.status();
  const OrgSnapshot& read = (*cached)->snap;
  if (Status st = AuthorizeRead(a, read, now); !st.ok()) return st;
  TokenView view;
  FillView(read, a.caller, now, &view);
  return view;
}

Result<std::shared_ptr<const DrawnTokenPage>> Services::ReadTokenPage(const Actor& a, OrgId org_id,
                                                                      TokenPageDraw draw) {
  const TimeMs now = clock_->now();
  auto cached = ReadOrg(org_id);
  if (!cached.ok()) return cached.status();
  const CachedOrg& entry = **cached;
  if (Status st = AuthorizeRead(a, entry.snap, now); !st.ok()) return st;
  // With the read authorized, an organization user's caller is (role, this organization): the
  // role and the subscription in effect are all that can make two views of `snap` differ.
  const domain::Subscription sub =
      domain::EffectiveSubscription(StateOf(entry.snap.org, entry.snap.token.has_value()), now);
  {
    MutexLock lock(entry.drawn_mu);
    if (auto kept = entry.KeptPage(draw, a.caller.role, sub)) return kept;
  }
  auto page = std::make_shared<DrawnTokenPage>();
  FillView(entry.snap, a.caller, now, &page->view);
  page->text = draw(page->view, a.caller.role, settings_);
  std::shared_ptr<const DrawnTokenPage> shared = std::move(page);
  MutexLock lock(entry.drawn_mu);
  // Two readers may draw the same page at once; the first one kept is the one every reader gets.
  if (auto kept = entry.KeptPage(draw, a.caller.role, sub)) return kept;
  entry.drawn.push_back(CachedOrg::Drawn{draw, a.caller.role, sub, shared});
  return shared;
}

std::shared_ptr<const DrawnTokenPage> Services::CachedOrg::KeptPage(
    TokenPageDraw draw, domain::Role role, domain::Subscription sub) const {
  for (const Drawn& d : drawn)
    if (d.draw == draw && d.role == role && d.subscription == sub) return d.page;
  return nullptr;
}

Result<std::string> Services::RevealToken(const Actor& a, OrgId org) {
  std::string plaintext;
  auto r = Mutate(a, org, Action::kReveal, "TOKEN_REVEAL",
                  [&](Tx&, OrgRecord&, std::optional<TokenRecord>& tok, const domain::Decision&,
                      AuditRecord&, IndexUpdate&) -> Status {
                    auto text = keys_->Unseal(tok->sealed, tok->key_id);
                    if (!text.ok()) return text.status();
                    plaintext = std::move(text.value());
                    return Status::Ok();
                  });
  if (!r.ok()) return r.status();
  return plaintext;
}

Result<TokenView> Services::AddToken(const Actor& a, OrgId org) {
  return Mutate(a, org, Action::kAdd, "TOKEN_ADD",
                [&](Tx& tx, OrgRecord&, std::optional<TokenRecord>& tok, const domain::Decision&,
                    AuditRecord& rec, IndexUpdate& u) -> Status {
                  TokenRecord t = NewToken(org, a.name, clock_->now());
                  Status s = tx.InsertToken(t);
                  if (!s.ok()) return s;
                  if (s = ClearLeakReport(tx, org); !s.ok()) return s;
                  rec.token_fp = t.last4;
                  u.PutToken(t);
                  tok = std::move(t);
                  return Status::Ok();
                });
}

Result<TokenView> Services::RegenerateToken(const Actor& a, OrgId org) {
  return Mutate(a, org, Action::kRegenerate, "TOKEN_REGENERATE",
                [&](Tx& tx, OrgRecord&, std::optional<TokenRecord>& tok, const domain::Decision&,
                    AuditRecord& rec, IndexUpdate& u) -> Status {
                  TokenRecord t = NewToken(org, a.name, clock_->now());
                  t.created_at = tok->created_at;
                  Status s = tx.ReplaceToken(t);
                  if (!s.ok()) return s;
                  if (s = ClearLeakReport(tx, org); !s.ok()) return s;
                  rec.detail = "previous " + tok->last4;
                  rec.token_fp = t.last4;
                  u.PutToken(t);
                  tok = std::move(t);
                  return Status::Ok();
                });
}

Result<TokenView> Services::DeleteToken(const Actor& a, OrgId org) {
  return Mutate(a, org, Action::kDelete, "TOKEN_DELETE",
                [&](Tx& tx, OrgRecord&, std::optional<TokenRecord>& tok, const domain::Decision&,
                    AuditRecord&, IndexUpdate& u) -> Status {
                  Status s = tx.DeleteToken(org);
                  if (!s.ok()) return s;
                  u.token_op = IndexUpdate::TokenOp::kRemove;
                  tok.reset();
                  return Status::Ok();
                });
}

// ---------------------------------------------------------------------------------------------
// Leaked tokens (issue 20).

Actor Services::SecretScanning(std::string client_addr, std::string request_id) {
  Actor a{"secret-scanning", domain::Caller{Role::kProviderAdmin, std::nullopt},
          std::move(client_addr), false};
  a.request_id = std::move(request_id);
  return a;
}

Status Services::CheckLeakReport(const LeakReport& r) {
  if (!ValidReportText(r.url, 2000) || !ValidReportText(r.source, 200))
    return Status::Invalid("INVALID_LEAK_REPORT",
                           "The URL is at most 2000 and the source at most 200 bytes of printable "
                           "UTF-8 text.");
  return Status::Ok();
}

Result<LeakOutcome> Services::ReportLeak(const Actor& a, std::string_view token,
                                         const LeakReport& r) {
  if (Status st = CheckLeakReport(r); !st.ok()) return st;
  LeakOutcome out;
  // Malformed: no Sandgate token at all (nothing to look up).
  if (!token::Parse(token).ok()) return out;
  // A change another process committed (the CLI beside a server on SQLite) reaches the index
  // first, as it does before a submission.
  if (Status c = store_->CatchUp(); !c.ok()) return c;
  const TimeMs now = clock_->now();
  token::Verification v = index_.Verify(token, now);
  if (!v.org) return out;  // unknown, or already revoked
  const std::string hash = keys_->LookupHash(token);
  std::string action;
  std::string last4;
  auto res = Mutate(
      a, *v.org, Action::kReportLeak, "TOKEN_LEAKED",
      [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>& tok, const domain::Decision& d,
          AuditRecord& rec, IndexUpdate& u) -> Status {
        // The index said this organization; the store decides: the token must still be its.
        if (!tok || tok->lookup_hash.size() != hash.size() ||
            sodium_memcmp(tok->lookup_hash.data(), hash.data(), hash.size()) != 0)
          return Status::NotFound("TOKEN_NOT_FOUND", "The token is not live.");
        action = d.revoke_token ? "REVOKED" : "NOTIFIED";
        last4 = tok->last4;
        if (d.revoke_token) {
          if (Status s = tx.DeleteToken(org.id); !s.ok()) return s;
          u.token_op = IndexUpdate::TokenOp::kRemove;
          tok.reset();
        }
        auto leak = tx.GetLeak(org.id);
        if (!leak.ok()) return leak.status();
        store::LeakRecord l = std::move(leak).value();
        l.reported_at = now;
        l.url = r.url;
        l.source = r.source;
        l.action = action;
        l.token_last4 = last4;
        if (Status s = tx.PutLeak(l); !s.ok()) return s;
        rec.detail = action + "; url " + r.url + "; source " + r.source;
        return notify::EnqueueLeak(tx, org, rec.actor, l, now);
      },
      /*audit_refusal=*/false);
  if (!res.ok()) {
    // Gone between the index lookup and the transaction: the same as unknown.
    if (res.status().code() == "TOKEN_NOT_FOUND") return out;
    return res.status();
  }
  out.live = true;
  out.action = action;
  out.org = v.org;
  out.last4 = last4;
  return out;
}

}  // namespace sandgate::service
